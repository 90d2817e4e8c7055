// Logs: the ledger (GET /admin/ledger) with filters, and one request's detail with its attempt log.
import { api, query } from '../api.js';
import { clear, h, int, ms, statusBadge, table, usd, when } from '../dom.js';

const FILTERS = [
  ['request_id', 'Request id'],
  ['key_id', 'Key id'],
  ['model', 'Model'],
  ['channel', 'Channel'],
];

export async function logsPage(page, args) {
  if (args[0]) return detail(page, args[0]);
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const form = h('form', { class: 'toolbar', id: 'log-filters' },
    FILTERS.map(([name, label]) => h('label', {}, label, h('input', { name, value: params.get(name) || '' }))),
    h('label', {}, 'Status', h('select', { name: 'status' },
      [['', 'any'], ['ok', 'ok'], ['error', 'error']].map(([value, text]) =>
        h('option', { value, text, selected: (params.get('status') || '') === value })))),
    h('label', {}, 'From', h('input', { name: 'from', type: 'datetime-local', value: params.get('from') || '' })),
    h('label', {}, 'To', h('input', { name: 'to', type: 'datetime-local', value: params.get('to') || '' })),
    h('button', { type: 'submit', text: 'Filter' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const element of form.elements) if (element.name && element.value) chosen.set(element.name, element.value);
    location.hash = '#/logs' + (chosen.toString() ? '?' + chosen : '');
  });
  const rows = h('div', { id: 'ledger' });
  const more = h('button', { type: 'button', class: 'secondary', text: 'Older', hidden: true });
  page.append(h('h1', { text: 'Logs' }), form, rows, h('p', {}, more));
  const filters = {};
  for (const [name] of FILTERS) filters[name] = params.get(name);
  filters.status = params.get('status');
  for (const name of ['from', 'to']) if (params.get(name)) filters[name] = new Date(params.get(name)).toISOString();
  const entries = [];
  const load = async (before) => {
    const found = await api('GET', '/admin/ledger' + query({ ...filters, before, limit: 50 }));
    entries.push(...found.data);
    clear(rows).append(entries.length ? ledgerTable(entries) : h('p', { class: 'muted', text: 'No requests.' }));
    rows.dataset.count = String(entries.length);
    more.hidden = !found.has_more;
    more.onclick = () => load(found.next_before);
  };
  await load(null);
}

function ledgerTable(entries) {
  return table([
    ['Time', (e) => when(e.created_at)],
    ['Request id', (e) => e.request_id, { mono: true }],
    ['Key', (e) => e.key_name ?? '—'],
    ['Model', (e) => e.model],
    ['Channel', (e) => e.channel ?? '—'],
    ['Status', (e) => statusBadge(e.status_code)],
    ['In', (e) => int(e.input_tokens), { num: true }],
    ['Out', (e) => int(e.output_tokens), { num: true }],
    ['Cost', (e) => usd(e.cost_usd), { num: true }],
    ['Latency', (e) => ms(e.latency_ms), { num: true }],
  ], entries, (e) => { location.hash = `#/logs/${e.id}`; });
}

async function detail(page, id) {
  const entry = await api('GET', `/admin/ledger/${encodeURIComponent(id)}`);
  page.append(h('p', {}, h('a', { href: '#/logs', text: '← all requests' })),
    h('h1', { text: `Request ${entry.request_id}` }));
  const fields = Object.entries(entry).filter(([name]) => name !== 'attempt_log');
  page.append(table([['Field', (r) => r[0]], ['Value', (r) => (r[1] === null ? '—' : String(r[1])), { mono: true }]],
    fields));
  page.append(h('h2', { text: 'Attempts' }));
  const attempts = entry.attempt_log || [];
  if (!attempts.length) {
    page.append(h('p', { class: 'muted', text: 'No attempt log (the request never reached a channel).' }));
    return;
  }
  const names = [...new Set(attempts.flatMap((a) => Object.keys(a)))];
  page.append(h('div', { id: 'attempts' }, table(
    [['#', (a) => attempts.indexOf(a) + 1, { num: true }],
      ...names.map((name) => [name, (a) => (a[name] === undefined ? '' : typeof a[name] === 'object'
        ? JSON.stringify(a[name]) : String(a[name]))])],
    attempts)));
}
