// Keys: every client key (config-file keys read-only), create with limits and an owner (the secret shown once),
// edit any key's limits or move it to another user, rotate, revoke; a key's balance: top up and its credits history (POST /admin/keys/{id}/top-up, GET .../credits).
import { api } from '../api.js';
import { clear, h, list, numberOrNull, splitList, table, usd, when } from '../dom.js';
import { balancePanel } from './balance.js';
import { editKeyPanel } from './key_edit.js';

export async function keysPage(page) {
  const secretBox = h('div', { id: 'secret-box' });
  const listing = h('div', { id: 'key-list' });
  const panel = h('div', { id: 'key-panel' });
  const error = h('p', { class: 'error', role: 'alert' });
  const users = (await api('GET', '/admin/users')).data;
  const owner = h('select', { name: 'user_id' }, h('option', { value: '', text: '— none —' }),
    users.filter((u) => u.status === 'active').map((u) => h('option', { value: String(u.id), text: u.name })));
  const names = new Map(users.map((u) => [u.id, u.name]));
  const form = h('form', { class: 'grid', id: 'create-key' },
    field('Name', 'name', { required: true }),
    h('label', {}, 'User', owner),
    field('Quota (USD, empty: unlimited)', 'quota_usd', { type: 'number', step: 'any', min: '0' }),
    field('Requests per minute', 'rpm', { type: 'number', min: '1' }),
    field('Tokens per minute', 'tpm', { type: 'number', min: '1' }),
    field('Concurrent requests', 'max_concurrent', { type: 'number', min: '1' }),
    field('Models (comma-separated patterns)', 'models'),
    field('IP allow-list (comma-separated)', 'ip_allow'),
    field('Group', 'group'),
    field('Expires at', 'expires_at', { type: 'datetime-local' }),
    h('button', { type: 'submit', id: 'create-key-button', text: 'Create key' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value;
    const body = { name: v('name').trim() };
    for (const name of ['quota_usd', 'rpm', 'tpm', 'max_concurrent']) {
      const n = numberOrNull(v(name));
      if (n !== null) body[name] = n;
    }
    for (const name of ['models', 'ip_allow']) {
      const items = splitList(v(name));
      if (items) body[name] = items;
    }
    if (v('group').trim()) body.group = v('group').trim();
    if (v('user_id')) body.user_id = Number(v('user_id'));
    if (v('expires_at')) body.expires_at = new Date(v('expires_at')).toISOString();
    try {
      const created = await api('POST', '/admin/keys', body);
      form.reset();
      showSecret(secretBox, 'created', created);
      await refresh(listing, secretBox, error, panel, names, users);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  page.append(h('h1', { text: 'Keys' }), h('h2', { text: 'New key' }), form, error, secretBox,
    h('h2', { text: 'All keys' }), listing, panel);
  await refresh(listing, secretBox, error, panel, names, users);
}

function field(label, name, attrs = {}) {
  return h('label', {}, label, h('input', { name, ...attrs }));
}

function showSecret(box, what, key) {
  clear(box).append(h('div', { class: 'secret', role: 'status' },
    h('strong', { text: `Key "${key.name}" ${what}. Copy its secret now: it is shown this once.` }),
    h('p', {}, h('code', { id: 'new-key-secret', text: key.key })),
    h('p', { class: 'muted', text:
      `Quota ${key.quota_usd === null ? 'unlimited' : usd(key.quota_usd)} · RPM ${key.rpm ?? '—'} · ` +
      `TPM ${key.tpm ?? '—'} · concurrency ${key.max_concurrent ?? '—'} · models ${list(key.models)} · ` +
      `IPs ${list(key.ip_allow)} · group ${key.group ?? '—'} · expires ${when(key.expires_at)}` }),
    h('button', { type: 'button', class: 'secondary', text: 'Done', onclick: () => clear(box) })));
}

async function refresh(listing, secretBox, error, panel, names, users) {
  const keys = (await api('GET', '/admin/keys')).data;
  const act = async (work) => {
    error.textContent = '';
    try {
      await work();
      await refresh(listing, secretBox, error, panel, names, users);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const again = () => refresh(listing, secretBox, error, panel, names, users);
  const actions = (key) => {
    const balance = h('button', { type: 'button', class: 'secondary', text: 'Balance', onclick: () =>
      balancePanel(panel, key, again) });
    if (key.source !== 'api') return h('span', { class: 'actions' }, balance, h('span', { class: 'muted', text: 'config file' }));
    if (key.status === 'revoked') return h('span', { class: 'actions' }, balance, h('span', { class: 'muted', text: 'revoked' }));
    return h('span', { class: 'actions' }, balance,
      h('button', { type: 'button', class: 'secondary', text: 'Edit', onclick: () => editKeyPanel(panel, key, users, again) }),
      h('button', { type: 'button', class: 'secondary', text: 'Rotate', onclick: () => act(async () => {
        if (!confirm(`Give "${key.name}" a new secret? The old one stops working.`)) return;
        showSecret(secretBox, 'rotated', await api('POST', `/admin/keys/${key.id}/rotate`));
      }) }),
      h('button', { type: 'button', class: 'danger', text: 'Revoke', onclick: () => act(async () => {
        if (!confirm(`Revoke "${key.name}" for good?`)) return;
        await api('DELETE', `/admin/keys/${key.id}`);
      }) }));
  };
  clear(listing).append(table([
    ['ID', (k) => k.id, { num: true }],
    ['Name', (k) => k.name],
    ['Prefix', (k) => k.prefix, { mono: true }],
    ['Status', (k) => k.status],
    ['User', (k) => (k.user_id === null ? '—' : names.get(k.user_id) ?? `#${k.user_id}`)],
    ['Quota', (k) => (k.quota_usd === null ? 'unlimited' : usd(k.quota_usd)), { num: true }],
    ['Used', (k) => usd(k.used_usd), { num: true }],
    ['Remaining', (k) => (k.remaining_usd === null ? '—' : usd(k.remaining_usd)), { num: true }],
    ['RPM / TPM / conc.', (k) => `${k.rpm ?? '—'} / ${k.tpm ?? '—'} / ${k.max_concurrent ?? '—'}`],
    ['Models', (k) => list(k.models)],
    ['IPs', (k) => list(k.ip_allow)],
    ['Group', (k) => k.group ?? '—'],
    ['Expires', (k) => when(k.expires_at)],
    ['', actions],
  ], keys));
  listing.dataset.count = String(keys.length);
}
