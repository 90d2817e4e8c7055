// Redemption codes: create a batch (its codes shown this once, to copy or download), list codes by batch and state
// (prefixes only), page back, disable a code or a batch's unused codes (POST/GET/DELETE /admin/redemptions).
import { api, query } from '../api.js';
import { clear, h, table, usd, when } from '../dom.js';

const STATES = ['unused', 'used', 'disabled', 'expired'];
const PAGE = 50;

export async function codesPage(page) {
  const error = h('p', { class: 'error', role: 'alert' });
  const created = h('div', { id: 'codes-box' });
  const listing = h('div', { id: 'code-list' });
  const form = h('form', { class: 'grid', id: 'create-codes' },
    h('label', {}, 'Batch name', h('input', { name: 'name', required: true })),
    h('label', {}, 'How many (1–1000)', h('input', { name: 'count', type: 'number', min: '1', max: '1000', value: '10',
      required: true })),
    h('label', {}, 'Worth (USD each)', h('input', { name: 'usd', type: 'number', step: 'any', min: '0', required: true })),
    h('label', {}, 'Expires at (optional)', h('input', { name: 'expires_at', type: 'datetime-local' })),
    h('button', { type: 'submit', text: 'Create codes' }));
  const filters = h('form', { class: 'toolbar', id: 'code-filters' },
    h('label', {}, 'Batch', h('input', { name: 'batch' })),
    h('label', {}, 'State', h('select', { name: 'state' }, h('option', { value: '', text: 'any' }),
      STATES.map((s) => h('option', { value: s, text: s })))),
    h('button', { type: 'submit', text: 'Show' }),
    h('button', { type: 'button', class: 'danger', id: 'disable-batch', text: 'Disable the batch\'s unused codes' }));
  const show = (before) => refresh(listing, filters, error, before);
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    show(null);
  });
  filters.querySelector('#disable-batch').addEventListener('click', async () => {
    error.textContent = '';
    const batch = filters.elements.batch.value.trim();
    if (!batch) {
      error.textContent = 'Name the batch to disable in the Batch filter.';
      return;
    }
    if (!confirm(`Disable every unused code of "${batch}"?`)) return;
    try {
      const done = await api('DELETE', '/admin/redemptions' + query({ batch }));
      clear(created).append(h('p', { role: 'status', id: 'batch-disabled', text: `${done.disabled} codes of "${batch}" disabled.` }));
      await show(null);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value.trim();
    const body = { name: v('name'), count: Number(v('count')), usd: v('usd') };
    if (v('expires_at')) body.expires_at = new Date(v('expires_at')).toISOString();
    try {
      const batch = await api('POST', '/admin/redemptions', body);
      form.reset();
      showCodes(created, batch);
      filters.elements.batch.value = batch.name;
      await show(null);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  page.append(h('h1', { text: 'Redemption codes' }), h('p', { class: 'muted', text: 'A code adds its worth to the ' +
    'quota of the key that redeems it, once. Codes are shown only when created; the list shows their prefixes.' }),
  h('h2', { text: 'New batch' }), form, error, created, h('h2', { text: 'Codes' }), filters, listing);
  await show(null);
}

function showCodes(box, batch) {
  const text = batch.codes.map((c) => c.code).join('\n') + '\n';
  const status = h('span', { class: 'muted', role: 'status' });
  const download = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })),
    download: `${batch.name}-codes.txt`, id: 'download-codes', text: 'Download (.txt)' });
  clear(box).append(h('div', { class: 'secret', role: 'status' },
    h('strong', { text: `${batch.count} codes of "${batch.name}", ${usd(batch.usd)} each` +
      `${batch.expires_at ? `, until ${when(batch.expires_at)}` : ''}. Copy them now: they are shown this once.` }),
    h('div', { class: 'codes', id: 'new-codes' }, batch.codes.map((c) => h('code', { text: c.code }))),
    h('p', { class: 'actions' },
      h('button', { type: 'button', id: 'copy-codes', text: 'Copy all', onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          status.textContent = 'Copied.';
        } catch (e) {
          status.textContent = `Copy failed (${e.message}); select the codes or download them.`;
        }
      } }),
      download, status,
      h('button', { type: 'button', class: 'secondary', text: 'Done', onclick: () => {
        URL.revokeObjectURL(download.href);
        clear(box);
      } }))));
}

async function refresh(listing, filters, error, before) {
  const batch = filters.elements.batch.value.trim();
  const state = filters.elements.state.value;
  const found = (await api('GET', '/admin/redemptions' + query({ batch, state, limit: PAGE, before }))).data;
  const actions = (c) => (c.state !== 'unused' && c.state !== 'expired' ? '' : h('button', { type: 'button',
    class: 'danger', text: 'Disable', onclick: async () => {
      error.textContent = '';
      try {
        await api('DELETE', `/admin/redemptions/${c.id}`);
        await refresh(listing, filters, error, before);
      } catch (e) {
        error.textContent = e.message;
      }
    } }));
  const badge = (s) => h('span', { class: 'badge ' + (s === 'unused' ? 'ok' : s === 'used' ? '' : 'bad'), text: s });
  clear(listing).append(found.length ? table([
    ['ID', (c) => c.id, { num: true }],
    ['Batch', (c) => c.batch],
    ['Prefix', (c) => c.prefix, { mono: true }],
    ['Worth', (c) => usd(c.usd), { num: true }],
    ['State', (c) => badge(c.state)],
    ['Expires', (c) => when(c.expires_at)],
    ['Created', (c) => when(c.created_at)],
    ['Used', (c) => when(c.used_at)],
    ['By key', (c) => c.used_by_key_id ?? '—', { num: true }],
    ['', actions],
  ], found) : h('p', { class: 'muted', text: 'No codes.' }),
  found.length === PAGE ? h('button', { type: 'button', class: 'secondary', text: 'Older', onclick: () =>
    refresh(listing, filters, error, found[found.length - 1].id) }) : '');
  listing.dataset.count = String(found.length);
}
