// Users: list, create (with an optional password for the console's sign-in), edit, disable / enable.
// Passwords are write-only: a user shows only whether it has one (GET/POST /admin/users, PATCH/DELETE /admin/users/{id}).
import { api } from '../api.js';
import { clear, h, table, when } from '../dom.js';

export async function usersPage(page) {
  const error = h('p', { class: 'error', role: 'alert' });
  const listing = h('div', { id: 'user-list' });
  const editor = h('div', { id: 'user-editor' });
  const refreshAll = () => refresh(listing, editor, error);
  const form = h('form', { class: 'grid', id: 'create-user' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true })),
    h('label', {}, 'Email', h('input', { name: 'email', type: 'email' })),
    h('label', {}, 'Password (empty: no sign-in)', h('input', { name: 'password', type: 'password',
      autocomplete: 'new-password', minlength: '8' })),
    h('button', { type: 'submit', text: 'Create user' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value;
    const body = { name: v('name').trim() };
    if (v('email').trim()) body.email = v('email').trim();
    if (v('password')) body.password = v('password');
    try {
      await api('POST', '/admin/users', body);
      form.reset();
      await refreshAll();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  page.append(h('h1', { text: 'Users' }), h('p', { class: 'muted', text: 'A user owns keys; with a password the ' +
    'user signs in to the console and sees only its own keys. Disabling a user stops all its keys.' }),
  h('h2', { text: 'New user' }), form, error, h('h2', { text: 'All users' }), listing, editor);
  await refreshAll();
}

async function refresh(listing, editor, error) {
  const users = (await api('GET', '/admin/users')).data;
  const act = async (work) => {
    error.textContent = '';
    try {
      await work();
      await refresh(listing, editor, error);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const actions = (user) => h('span', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', text: 'Edit', onclick: () => edit(editor, user, error,
      () => refresh(listing, editor, error)) }),
    user.status === 'active'
      ? h('button', { type: 'button', class: 'danger', text: 'Disable', onclick: () => act(async () => {
        if (!confirm(`Disable "${user.name}"? All of its keys stop working.`)) return;
        await api('DELETE', `/admin/users/${user.id}`);
      }) })
      : h('button', { type: 'button', class: 'secondary', text: 'Enable', onclick: () => act(() =>
        api('PATCH', `/admin/users/${user.id}`, { status: 'active' })) }));
  clear(listing).append(table([
    ['ID', (u) => u.id, { num: true }],
    ['Name', (u) => u.name],
    ['Email', (u) => u.email ?? '—'],
    ['Status', (u) => u.status],
    ['Password', (u) => (u.has_password ? 'set' : 'none')],
    ['Keys', (u) => u.keys, { num: true }],
    ['Created', (u) => when(u.created_at)],
    ['', actions],
  ], users));
  listing.dataset.count = String(users.length);
}

function edit(editor, user, error, done) {
  const form = h('form', { class: 'grid', id: 'edit-user' },
    h('label', {}, 'Name', h('input', { name: 'name', value: user.name, required: true })),
    h('label', {}, 'Email', h('input', { name: 'email', type: 'email', value: user.email ?? '' })),
    h('label', {}, 'New password (empty: unchanged)', h('input', { name: 'password', type: 'password',
      autocomplete: 'new-password', minlength: '8' })),
    h('label', {}, 'Remove the password', h('input', { name: 'remove_password', type: 'checkbox' })),
    h('button', { type: 'submit', text: 'Save' }),
    h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => clear(editor) }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value;
    const body = { name: v('name').trim(), email: v('email').trim() || null };
    if (form.elements.remove_password.checked) body.password = null;
    else if (v('password')) body.password = v('password');
    try {
      await api('PATCH', `/admin/users/${user.id}`, body);
      clear(editor);
      await done();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  clear(editor).append(h('h2', { text: `Edit user "${user.name}"` }), form);
}
