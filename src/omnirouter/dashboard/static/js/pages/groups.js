// Groups: price multipliers a key's group applies to its whole cost (GET/POST /admin/groups,
// PATCH/DELETE /admin/groups/{name}). Config-file groups are read-only.
import { api } from '../api.js';
import { clear, h, table } from '../dom.js';

export async function groupsPage(page) {
  const error = h('p', { class: 'error', role: 'alert' });
  const listing = h('div', { id: 'group-list' });
  const form = h('form', { class: 'grid', id: 'create-group' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true })),
    h('label', {}, 'Multiplier', h('input', { name: 'multiplier', type: 'number', step: 'any', min: '0', value: '1',
      required: true })),
    h('label', {}, 'Description', h('input', { name: 'description' })),
    h('button', { type: 'submit', text: 'Create group' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value.trim();
    const body = { name: v('name'), multiplier: Number(v('multiplier')) };
    if (v('description')) body.description = v('description');
    try {
      await api('POST', '/admin/groups', body);
      form.reset();
      await refresh(listing, error);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  page.append(h('h1', { text: 'Groups' }), h('p', { class: 'muted', text: 'A key in a group pays its prices times ' +
    'the multiplier (0.8: 20% off; 0: free). Keys without a group pay ×1.' }),
  h('h2', { text: 'New group' }), form, error, h('h2', { text: 'All groups' }), listing);
  await refresh(listing, error);
}

async function refresh(listing, error) {
  const groups = (await api('GET', '/admin/groups')).data;
  const act = async (work) => {
    error.textContent = '';
    try {
      await work();
      await refresh(listing, error);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const multiplier = (g) => {
    if (g.source !== 'api') return String(g.multiplier);
    const input = h('input', { type: 'number', step: 'any', min: '0', value: String(g.multiplier),
      name: 'multiplier', 'aria-label': `Multiplier of ${g.name}`, class: 'narrow' });
    return h('span', { class: 'actions' }, input, h('button', { type: 'button', class: 'secondary', text: 'Save',
      onclick: () => act(() => api('PATCH', `/admin/groups/${encodeURIComponent(g.name)}`,
        { multiplier: Number(input.value) })) }));
  };
  const actions = (g) => (g.source !== 'api'
    ? h('span', { class: 'muted', text: 'config file' })
    : h('button', { type: 'button', class: 'danger', text: 'Delete', onclick: () => act(async () => {
      if (!confirm(`Delete the group "${g.name}"?`)) return;
      await api('DELETE', `/admin/groups/${encodeURIComponent(g.name)}`);
    }) }));
  clear(listing).append(table([
    ['Name', (g) => g.name],
    ['Multiplier', multiplier],
    ['Description', (g) => g.description ?? ''],
    ['Source', (g) => g.source],
    ['', actions],
  ], groups));
  listing.dataset.count = String(groups.length);
}
