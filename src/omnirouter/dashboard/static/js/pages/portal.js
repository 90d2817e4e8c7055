// The key holder's portal: spend and remaining USD, redeem a code, daily cost chart, recent requests, models and
// prices. It reads only the key holder's own routes (GET /v1/key, /v1/dashboard/billing/usage, /v1/key/requests,
// /v1/key/models, POST /v1/key/redeem); a user's session names which of its keys with ?key_id= (account.js).
import { api, query } from '../api.js';
import { lineChart } from '../chart.js';
import { card, clear, h, int, ms, statusBadge, table, usd, when } from '../dom.js';

export async function portalPage(page) {
  await keyPortal(page, null);
}

export async function keyPortal(page, keyId) {
  const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
  const q = (params) => query({ ...params, key_id: keyId });
  const [key, usage, recent, models] = await Promise.all([
    api('GET', '/v1/key' + q({})),
    api('GET', '/v1/dashboard/billing/usage' + q({ start_date: day(-29), end_date: day(1) })),
    api('GET', '/v1/key/requests' + q({ limit: 50 })),
    api('GET', '/v1/key/models' + q({})),
  ]);
  const cards = h('div', { class: 'cards', id: 'balance-cards' });
  const showBalance = (k) => clear(cards).append(
    card('Spent', usd(k.used_usd), 'spent'),
    card('Reserved', usd(k.reserved_usd), 'reserved'),
    card('Remaining', k.remaining_usd === null ? 'unlimited' : usd(k.remaining_usd), 'remaining'),
    card('Quota', k.quota_usd === null ? 'unlimited' : usd(k.quota_usd), 'quota'),
    card('Expires', when(k.expires_at), 'expires'));
  showBalance(key);
  page.append(h('h1', { text: `Key "${key.name}"` }), cards, redeemForm(q, showBalance));

  const costs = new Map(usage.daily_costs.map((d) => [d.timestamp,
    d.line_items.reduce((sum, item) => sum + item.cost, 0) / 100]));
  const xs = [];
  const start = Date.parse(day(-29) + 'T00:00:00Z') / 1000;
  for (let i = 0; i < 30; i++) xs.push(start + i * 86400);
  const charts = h('div', { class: 'charts', id: 'charts' });
  page.append(h('h2', { text: 'Daily cost (last 30 days)' }), charts);
  lineChart(charts, 'Cost (USD)', xs, [{ label: 'cost', values: xs.map((x) => costs.get(x) ?? 0) }], (v) => usd(v));

  page.append(h('h2', { text: 'Recent requests' }), recent.data.length ? h('div', { id: 'recent' }, table([
    ['Time', (r) => when(r.created_at)],
    ['Request id', (r) => r.request_id, { mono: true }],
    ['Model', (r) => r.model],
    ['Status', (r) => statusBadge(r.status_code)],
    ['In', (r) => int(r.input_tokens), { num: true }],
    ['Out', (r) => int(r.output_tokens), { num: true }],
    ['Cost', (r) => usd(r.cost_usd), { num: true }],
    ['Latency', (r) => ms(r.latency_ms), { num: true }],
  ], recent.data)) : h('p', { class: 'muted', text: 'No requests yet.' }));

  const price = (v) => (v === null ? '—' : '$' + Number(v).toFixed(4));
  page.append(h('h2', { text: 'Models and prices' }), h('p', { class: 'muted',
    text: 'Token prices are USD per 1M tokens; media per image, second, 1,000 characters or call.' }),
  h('div', { id: 'models' }, table([
    ['Model', (m) => m.id, { mono: true }],
    ['Input', (m) => price(m.input), { num: true }],
    ['Output', (m) => price(m.output), { num: true }],
    ['Cached input', (m) => price(m.cached_input), { num: true }],
    ['Per image', (m) => price(m.per_image), { num: true }],
    ['Per second', (m) => price(m.per_second), { num: true }],
    ['Per call', (m) => price(m.per_call), { num: true }],
  ], models.data)));
}

// Redeem a code: its worth goes to this key's quota; the new balance is shown at once.
function redeemForm(q, showBalance) {
  const result = h('p', { id: 'redeem-result', role: 'status' });
  const form = h('form', { class: 'toolbar', id: 'redeem' },
    h('label', {}, 'Redemption code', h('input', { name: 'code', required: true, autocomplete: 'off',
      placeholder: 'rc-…', size: '40' })),
    h('button', { type: 'submit', text: 'Redeem' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = form.elements.code.value.trim();
    form.elements.code.value = '';
    result.className = '';
    result.textContent = '';
    try {
      const done = await api('POST', '/v1/key/redeem' + q({}), { code });
      showBalance(await api('GET', '/v1/key' + q({})));
      result.textContent = `Added ${usd(done.amount_usd)}: the quota is now ${usd(done.quota_usd)}, ` +
        `${usd(done.remaining_usd)} remaining.`;
    } catch (e) {
      result.className = 'error';
      result.textContent = e.message;
    }
  });
  return h('div', {}, h('h2', { text: 'Redeem a code' }), form, result);
}
