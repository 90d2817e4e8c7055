// Overview: totals, charts over time (GET /admin/usage/series), one figure split by model, channel, key or user on
// one chart (the top N series and "other"), top models and spenders (keys and users), tasks by state; all of it for
// one model, channel, key or user when asked (the admin API's usage filters).
import { api, query } from '../api.js';
import { lineChart, OTHER_COLOR } from '../chart.js';
import { card, h, int, ms, table, usd } from '../dom.js';

const SPANS = { hour: 24 * 3600 * 1000, day: 30 * 24 * 3600 * 1000 };

const FILTERS = [['model', 'Model'], ['channel', 'Channel'], ['key_id', 'Key id'], ['user_id', 'User id']];
const SPLITS = [['model', 'model'], ['channel', 'channel'], ['key', 'key'], ['user', 'user']];
// figure: [label, value of a point, format, what ranks the series (the admin API's rank)]
const FIGURES = {
  requests: ['Requests', (p) => p.requests, int, 'requests'],
  errors: ['Errors', (p) => p.errors, int, 'errors'],
  tokens: ['Tokens', (p) => p.total_tokens, int, 'tokens'],
  cost: ['Cost (USD)', (p) => p.cost_usd, usd, 'cost'],
  latency_p50: ['Latency p50', (p) => p.latency_p50_ms, ms, 'requests'],
  latency_p95: ['Latency p95', (p) => p.latency_p95_ms, ms, 'requests'],
  latency_p99: ['Latency p99', (p) => p.latency_p99_ms, ms, 'requests'],
};
const TOPS = ['3', '5', '10', '20'];

export async function overviewPage(page, args) {
  const bucket = args[0] === 'day' ? 'day' : 'hour';
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const filters = Object.fromEntries(FILTERS.map(([name]) => [name, params.get(name)]));
  const split = SPLITS.some(([v]) => v === params.get('split')) ? params.get('split') : 'model';
  const figure = params.get('figure') in FIGURES ? params.get('figure') : 'requests';
  const top = TOPS.includes(params.get('top')) ? params.get('top') : '5';
  const form = h('form', { class: 'toolbar', id: 'overview-filters' },
    h('label', {}, 'Per',
      h('select', { name: 'bucket' },
        h('option', { value: 'hour', selected: bucket === 'hour', text: 'hour (last 24 hours)' }),
        h('option', { value: 'day', selected: bucket === 'day', text: 'day (last 30 days)' }))),
    FILTERS.map(([name, label]) => h('label', {}, label, h('input', { name, value: filters[name] || '', size: 14 }))),
    h('button', { type: 'submit', text: 'Show' }));
  const splitForm = h('form', { class: 'toolbar', id: 'split-form' },
    h('label', {}, 'Figure', h('select', { name: 'figure' },
      Object.entries(FIGURES).map(([value, [label]]) => h('option', { value, selected: value === figure, text: label })))),
    h('label', {}, 'Split by', h('select', { name: 'split' },
      SPLITS.map(([value, label]) => h('option', { value, selected: value === split, text: label })))),
    h('label', {}, 'Series', h('select', { name: 'top' },
      TOPS.map((value) => h('option', { value, selected: value === top, text: `top ${value} and other` })))));
  const apply = (event) => {
    event?.preventDefault();
    const chosen = new URLSearchParams();
    for (const [name] of FILTERS) if (form.elements[name].value.trim()) chosen.set(name, form.elements[name].value.trim());
    const how = { split: splitForm.elements.split.value, figure: splitForm.elements.figure.value, top: splitForm.elements.top.value };
    if (how.split !== 'model' || how.figure !== 'requests' || how.top !== '5') for (const [k, v] of Object.entries(how)) chosen.set(k, v);
    location.hash = `#/overview/${form.elements.bucket.value}` + (chosen.toString() ? '?' + chosen : '');
  };
  form.addEventListener('submit', apply);
  form.elements.bucket.addEventListener('change', apply);
  splitForm.addEventListener('change', apply);
  page.append(h('h1', { text: 'Overview' }), form);
  const from = new Date(Date.now() - SPANS[bucket]).toISOString();
  const [series, byModel, byKey, byUser] = await Promise.all([
    api('GET', '/admin/usage/series' + query({ bucket, ...filters, by: split, top, rank: FIGURES[figure][3] })),
    api('GET', '/admin/usage' + query({ by: 'model', from, ...filters })),
    api('GET', '/admin/usage' + query({ by: 'key', from, ...filters })),
    api('GET', '/admin/usage' + query({ by: 'user', from, ...filters })),
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

  page.append(h('h2', { text: `${FIGURES[figure][0]} by ${split}` }), splitForm);
  splitChart(page, series, split, figure, xs);

  page.append(h('h2', { text: 'By model' }), table([
    ['Model', (r) => r.group, { mono: true }],
    ['Requests', (r) => int(r.requests), { num: true }],
    ['Errors', (r) => int(r.errors), { num: true }],
    ['Tokens', (r) => int(r.total_tokens), { num: true }],
    ['Cost', (r) => usd(r.cost_usd), { num: true }],
  ], byModel.data));
  const spenders = (title, id, rows) => h('div', { id }, h('h3', { text: title }), rows.length ? table([
    [title === 'Keys' ? 'Key' : 'User', (r) => r.label ?? (r.group === null ? '(none)' : `#${r.group}`)],
    ['Requests', (r) => int(r.requests), { num: true }],
    ['Tokens', (r) => int(r.total_tokens), { num: true }],
    ['Cost', (r) => usd(r.cost_usd), { num: true }],
  ], rows.slice(0, 10)) : h('p', { class: 'muted', text: 'No requests in this window.' }));
  page.append(h('h2', { text: 'Top spenders' }), h('div', { class: 'columns' },
    spenders('Keys', 'top-keys', byKey.data), spenders('Users', 'top-users', byUser.data)));
  const tasks = Object.entries(byModel.tasks || {});
  page.append(h('h2', { text: 'Tasks by state' }), tasks.length
    ? table([['State', (r) => r[0]], ['Tasks', (r) => int(r[1]), { num: true }]], tasks)
    : h('p', { class: 'muted', text: 'No asynchronous tasks in this window.' }));
}

// One figure split into series (GET /admin/usage/series?by=): a line per group, "other" in grey, uPlot's legend
// (values under the cursor) and a table of each series' totals over the window.
function splitChart(page, series, split, figure, xs) {
  const [label, value, format] = FIGURES[figure];
  const name = (s) => (s.other ? 'other' : s.label ?? (s.group === null ? '(none)' : split === 'key' || split === 'user' ? `#${s.group}` : String(s.group)));
  const lines = series.series.filter((s) => s.requests > 0);
  const box = h('div', { class: 'charts wide' });
  page.append(box);
  if (!lines.length) {
    box.append(h('p', { class: 'muted', id: 'split-chart', text: 'No requests in this window.' }));
    return;
  }
  const chart = lineChart(box, `${label} by ${split}`, xs, lines.map((s) => ({
    label: name(s), values: s.data.map(value), color: s.other ? OTHER_COLOR : undefined,
  })), format, 'split-chart');
  chart.root.parentElement.dataset.split = split;
  chart.root.parentElement.dataset.figure = figure;
  page.append(h('div', { id: 'split-legend' }, table([
    ['Series', (s) => h('span', { class: 'series-name', 'data-group': s.other ? 'other' : String(s.group) }, name(s))],
    ['Requests', (s) => int(s.requests), { num: true }],
    ['Errors', (s) => int(s.errors), { num: true }],
    ['Tokens', (s) => int(s.total_tokens), { num: true }],
    ['Cost', (s) => usd(s.cost_usd), { num: true }],
  ], lines)));
}
