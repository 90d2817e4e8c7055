// Overview: totals, charts over time (GET /admin/usage/series), top models and spenders, tasks by state; all of it
// for one model, channel, key or user when asked (the admin API's usage filters).
import { api, query } from '../api.js';
import { lineChart } from '../chart.js';
import { card, h, int, ms, table, usd } from '../dom.js';

const SPANS = { hour: 24 * 3600 * 1000, day: 30 * 24 * 3600 * 1000 };

const FILTERS = [['model', 'Model'], ['channel', 'Channel'], ['key_id', 'Key id'], ['user_id', 'User id']];

export async function overviewPage(page, args) {
  const bucket = args[0] === 'day' ? 'day' : 'hour';
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const filters = Object.fromEntries(FILTERS.map(([name]) => [name, params.get(name)]));
  const form = h('form', { class: 'toolbar', id: 'overview-filters' },
    h('label', {}, 'Per',
      h('select', { name: 'bucket' },
        h('option', { value: 'hour', selected: bucket === 'hour', text: 'hour (last 24 hours)' }),
        h('option', { value: 'day', selected: bucket === 'day', text: 'day (last 30 days)' }))),
    FILTERS.map(([name, label]) => h('label', {}, label, h('input', { name, value: filters[name] || '', size: 14 }))),
    h('button', { type: 'submit', text: 'Show' }));
  const apply = (event) => {
    event?.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name] of FILTERS) if (form.elements[name].value.trim()) chosen.set(name, form.elements[name].value.trim());
    location.hash = `#/overview/${form.elements.bucket.value}` + (chosen.toString() ? '?' + chosen : '');
  };
  form.addEventListener('submit', apply);
  form.elements.bucket.addEventListener('change', apply);
  page.append(h('h1', { text: 'Overview' }), form);
  const from = new Date(Date.now() - SPANS[bucket]).toISOString();
  const [series, byModel, byKey] = await Promise.all([
    api('GET', '/admin/usage/series' + query({ bucket, ...filters })),
    api('GET', '/admin/usage' + query({ by: 'model', from, ...filters })),
    api('GET', '/admin/usage' + query({ by: 'key', from, ...filters })),
  ]);
  const t = byModel.totals;
  const errorRate = t.requests ? ((100 * t.errors) / t.requests).toFixed(1) + '%' : '—';
  page.append(h('div', { class: 'cards' },
    card('Requests', int(t.requests), 'total-requests'),
    card('Tokens', int(t.total_tokens), 'total-tokens'),
    card('Cost', usd(t.cost_usd), 'total-cost'),
    card('Error rate', errorRate, 'error-rate')));

  const points = series.data;
  const xs = points.map((p) => Date.parse(p.time) / 1000);
  const col = (name) => points.map((p) => p[name]);
  const charts = h('div', { class: 'charts', id: 'charts' });
  page.append(h('h2', { text: 'Over time' }), charts);
  lineChart(charts, 'Requests and errors', xs, [
    { label: 'requests', values: col('requests') },
    { label: 'errors', values: col('errors'), color: '#c92a2a' },
  ], (v) => int(v));
  lineChart(charts, 'Tokens', xs, [
    { label: 'input', values: col('input_tokens') },
    { label: 'output', values: col('output_tokens') },
  ], (v) => int(v));
  lineChart(charts, 'Cost (USD)', xs, [{ label: 'cost', values: col('cost_usd') }], (v) => usd(v));
  lineChart(charts, 'Latency', xs, [
    { label: 'p50', values: col('latency_p50_ms') },
    { label: 'p95', values: col('latency_p95_ms') },
    { label: 'p99', values: col('latency_p99_ms') },
  ], (v) => ms(v));

  page.append(h('h2', { text: 'By model' }), table([
    ['Model', (r) => r.group, { mono: true }],
    ['Requests', (r) => int(r.requests), { num: true }],
    ['Errors', (r) => int(r.errors), { num: true }],
    ['Tokens', (r) => int(r.total_tokens), { num: true }],
    ['Cost', (r) => usd(r.cost_usd), { num: true }],
  ], byModel.data));
  page.append(h('h2', { text: 'Top spenders (keys)' }), table([
    ['Key', (r) => r.label ?? (r.group === null ? '(none)' : `#${r.group}`)],
    ['Requests', (r) => int(r.requests), { num: true }],
    ['Tokens', (r) => int(r.total_tokens), { num: true }],
    ['Cost', (r) => usd(r.cost_usd), { num: true }],
  ], byKey.data.slice(0, 10)));
  const tasks = Object.entries(byModel.tasks || {});
  page.append(h('h2', { text: 'Tasks by state' }), tasks.length
    ? table([['State', (r) => r[0]], ['Tasks', (r) => int(r[1]), { num: true }]], tasks)
    : h('p', { class: 'muted', text: 'No asynchronous tasks in this window.' }));
}
