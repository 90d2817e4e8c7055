// A key's balance on the Keys page: quota, used and remaining, a top-up form (keys with a quota), and its credits
// (every change of its quota: top-ups, redeemed codes, quotas set) with their exact total.
import { api } from '../api.js';
import { card, clear, h, table, usd, when } from '../dom.js';

const SOURCES = { top_up: 'top-up', redemption: 'redeemed code', quota: 'quota set', opening: 'opening balance' };

export async function balancePanel(panel, key, changed) {
  const fresh = await api('GET', `/admin/keys/${key.id}`);
  const credits = await api('GET', `/admin/keys/${key.id}/credits`);
  const error = h('p', { class: 'error', role: 'alert' });
  const box = h('div', { class: 'panel', id: 'balance', 'data-key-id': String(fresh.id) },
    h('h2', { text: `Balance of "${fresh.name}"` }),
    h('div', { class: 'cards' },
      card('Quota', fresh.quota_usd === null ? 'unlimited' : usd(fresh.quota_usd), 'balance-quota'),
      card('Used', usd(fresh.used_usd), 'balance-used'),
      card('Reserved', usd(fresh.reserved_usd), 'balance-reserved'),
      card('Remaining', fresh.remaining_usd === null ? 'unlimited' : usd(fresh.remaining_usd), 'balance-remaining')));
  if (fresh.source !== 'api') {
    box.append(h('p', { class: 'muted', text: 'A config-file key: the file sets its quota (read-only here).' }));
  } else if (fresh.status === 'revoked') {
    box.append(h('p', { class: 'muted', text: 'A revoked key cannot be topped up.' }));
  } else if (fresh.quota_usd === null) {
    box.append(h('p', { class: 'muted', text: 'An unlimited key has nothing to top up; give it a quota first.' }));
  } else {
    const form = h('form', { class: 'grid', id: 'top-up' },
      h('label', {}, 'Add (USD)', h('input', { name: 'usd', type: 'number', step: 'any', min: '0', required: true })),
      h('label', {}, 'Note', h('input', { name: 'note', placeholder: 'invoice 7' })),
      h('button', { type: 'submit', text: 'Top up' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const body = { usd: form.elements.usd.value.trim() };
      if (form.elements.note.value.trim()) body.note = form.elements.note.value.trim();
      try {
        await api('POST', `/admin/keys/${fresh.id}/top-up`, body);
        await changed();
        await balancePanel(panel, fresh, changed);
      } catch (e) {
        error.textContent = e.message;
      }
    });
    box.append(form);
  }
  box.append(error, h('h3', { text: 'Credits' }), credits.data.length ? h('div', { id: 'credits' }, table([
    ['Time', (c) => when(c.created_at)],
    ['What', (c) => SOURCES[c.source] ?? c.source],
    ['By', (c) => c.actor],
    ['Amount', (c) => usd(c.amount_usd), { num: true }],
    ['Quota after', (c) => (c.quota_after_usd === null ? '—' : usd(c.quota_after_usd)), { num: true }],
    ['Note', (c) => c.note ?? (c.redemption_id ? `code #${c.redemption_id}` : '')],
  ], credits.data)) : h('p', { class: 'muted', id: 'credits', text: 'No credits.' }),
  h('p', { id: 'credits-total', text: `Total credited: ${usd(credits.total_usd)}` }),
  h('button', { type: 'button', class: 'secondary', text: 'Close', onclick: () => clear(panel) }));
  clear(panel).append(box);
  box.scrollIntoView({ block: 'nearest' });
}
