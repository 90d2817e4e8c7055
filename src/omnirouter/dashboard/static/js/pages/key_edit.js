// A key's edit form on the Keys page: move it to another user and change every limit (PATCH /admin/keys/{id}
// with only the fields changed: an emptied field sends null, which removes that limit or restriction).
import { api } from '../api.js';
import { clear, h, numberOrNull, splitList } from '../dom.js';

// [field, label, input attributes, value of the key -> text, text -> value sent]
const FIELDS = [
  ['name', 'Name', { required: true }, (k) => k.name, (t) => t.trim()],
  ['quota_usd', 'Quota (USD, empty: unlimited)', { type: 'number', step: 'any', min: '0' },
    (k) => (k.quota_usd === null ? '' : String(k.quota_usd)), numberOrNull],
  ['rpm', 'Requests per minute', { type: 'number', min: '1' }, (k) => text(k.rpm), numberOrNull],
  ['tpm', 'Tokens per minute', { type: 'number', min: '1' }, (k) => text(k.tpm), numberOrNull],
  ['max_concurrent', 'Concurrent requests', { type: 'number', min: '1' }, (k) => text(k.max_concurrent), numberOrNull],
  ['models', 'Models (comma-separated patterns)', {}, (k) => (k.models || []).join(', '), splitList],
  ['ip_allow', 'IP allow-list (comma-separated)', {}, (k) => (k.ip_allow || []).join(', '), splitList],
  ['group', 'Group', {}, (k) => k.group ?? '', (t) => t.trim() || null],
  ['expires_at', 'Expires at (UTC)', { type: 'datetime-local' }, (k) => localTime(k.expires_at),
    (t) => (t ? new Date(t + 'Z').toISOString() : null)],
];

const text = (v) => (v === null || v === undefined ? '' : String(v));
// An ISO time as a datetime-local value in UTC (the form says so), to the minute.
const localTime = (v) => (v ? new Date(v).toISOString().slice(0, 16) : '');

export function editKeyPanel(panel, key, users, changed) {
  const error = h('p', { class: 'error', role: 'alert' });
  const owner = h('select', { name: 'user_id' }, h('option', { value: '', text: '— none —' }),
    users.filter((u) => u.status === 'active' || u.id === key.user_id)
      .map((u) => h('option', { value: String(u.id), selected: u.id === key.user_id, text: u.name })));
  const status = h('select', { name: 'status' },
    ['active', 'disabled'].map((s) => h('option', { value: s, selected: s === key.status, text: s })));
  const form = h('form', { class: 'grid', id: 'edit-key', 'data-key-id': String(key.id) },
    FIELDS.map(([name, label, attrs, shown]) => h('label', {}, label, h('input', { name, ...attrs, value: shown(key) }))),
    h('label', {}, 'User', owner),
    h('label', {}, 'Status', status),
    h('button', { type: 'submit', text: 'Save' }),
    h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => clear(panel) }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const body = {};
    for (const [name, , , shown, parse] of FIELDS) {
      const value = form.elements[name].value;
      if (value !== shown(key)) body[name] = parse(value);
    }
    const userId = owner.value ? Number(owner.value) : null;
    if (userId !== key.user_id) body.user_id = userId;
    if (status.value !== key.status) body.status = status.value;
    try {
      if (Object.keys(body).length) await api('PATCH', `/admin/keys/${key.id}`, body);
      clear(panel);
      await changed();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  clear(panel).append(h('div', { class: 'panel' }, h('h2', { text: `Edit "${key.name}"` }), form, error));
  form.scrollIntoView({ block: 'nearest' });
}
