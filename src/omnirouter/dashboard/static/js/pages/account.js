// A user's portal (a user signed in with a name and password): its keys with spend, remaining and requests
// (GET /v1/user/keys); a key's own portal at #/account/<key id> (the key holder's routes with ?key_id=).
import { api } from '../api.js';
import { h, int, table, usd, when } from '../dom.js';
import { keyPortal } from './portal.js';

export async function accountPage(page, rest) {
  const keyId = rest[0] && /^\d+$/.test(rest[0]) ? Number(rest[0]) : null;
  if (keyId !== null) {
    page.append(h('p', {}, h('a', { href: '#/account', text: '← All my keys' })));
    await keyPortal(page, keyId);
    return;
  }
  const mine = await api('GET', '/v1/user/keys');
  page.append(h('h1', { text: `${mine.user.name}'s keys` }), h('div', { class: 'cards' },
    h('div', { class: 'card' }, h('div', { class: 'label', text: 'Spent' }),
      h('div', { class: 'value', id: 'user-spent', text: usd(mine.totals.used_usd) })),
    h('div', { class: 'card' }, h('div', { class: 'label', text: 'Requests' }),
      h('div', { class: 'value', id: 'user-requests', text: int(mine.totals.requests) }))));
  page.append(h('h2', { text: 'Keys' }), mine.data.length ? h('div', { id: 'user-keys' }, table([
    ['Name', (k) => h('a', { href: `#/account/${k.id}`, text: k.name })],
    ['Prefix', (k) => k.prefix, { mono: true }],
    ['Status', (k) => k.status],
    ['Spent', (k) => usd(k.used_usd), { num: true }],
    ['Remaining', (k) => (k.remaining_usd === null ? 'unlimited' : usd(k.remaining_usd)), { num: true }],
    ['Quota', (k) => (k.quota_usd === null ? 'unlimited' : usd(k.quota_usd)), { num: true }],
    ['Requests', (k) => int(k.requests), { num: true }],
    ['Errors', (k) => int(k.errors), { num: true }],
    ['Last request', (k) => when(k.last_request_at)],
    ['Expires', (k) => when(k.expires_at)],
  ], mine.data, (k) => { location.hash = `#/account/${k.id}`; })) : h('p', { class: 'muted', text: 'No keys yet.' }));
}
