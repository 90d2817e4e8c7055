// Channels: health (GET /admin/channels), settings (GET /admin/channel-settings), probes, and API channels'
// create / edit / disable, and each channel's requests, error rate and mean latency over 24 hours (GET /admin/usage?by=channel).
// Config-file channels are read-only.
import { api, query } from '../api.js';
import { clear, h, int, ms, splitList, table } from '../dom.js';

// The provider kinds of providers/kinds.py.
const PROVIDERS = ['openai', 'anthropic', 'gemini', 'deepseek', 'moonshot', 'zhipu', 'xai', 'qianfan', 'hunyuan', 'spark',
  'dashscope', 'minimax', 'volcengine', 'ark', 'cohere', 'jina', 'voyage', 'elevenlabs', 'bfl', 'kling', 'vidu', 'jimeng',
  'tencent', 'pixverse', 'suno', 'midjourney', 'serper'];

export async function channelsPage(page) {
  const error = h('p', { class: 'error', role: 'alert' });
  const results = h('div', { id: 'probe-results' });
  const listing = h('div', { id: 'channel-list' });
  const editor = h('div', { id: 'channel-editor' });
  const refreshAll = () => refresh(listing, results, error, editor);
  const testAll = h('button', { type: 'button', id: 'test-all', text: 'Test all channels', onclick: () =>
    probe(results, error, undefined, refreshAll) });
  const form = h('form', { class: 'grid', id: 'create-channel' },
    h('label', {}, 'Name', h('input', { name: 'name', required: true })),
    h('label', {}, 'Provider', h('select', { name: 'provider' }, PROVIDERS.map((p) => h('option', { value: p, text: p })))),
    h('label', {}, 'Base URL', h('input', { name: 'base_url', type: 'url', placeholder: 'https://api.example.com/v1' })),
    h('label', {}, 'API key', h('input', { name: 'api_key', type: 'password', autocomplete: 'off' })),
    h('label', {}, 'Models (comma-separated patterns)', h('input', { name: 'models', required: true })),
    h('button', { type: 'submit', text: 'Create channel' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const v = (name) => form.elements[name].value.trim();
    const body = { name: v('name'), provider: v('provider'), models: splitList(v('models')) || [] };
    if (v('base_url')) body.base_url = v('base_url');
    if (v('api_key')) body.api_keys = [v('api_key')];
    try {
      await api('POST', '/admin/channels', body);
      form.reset();
      await refreshAll();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  page.append(h('h1', { text: 'Channels' }), h('div', { class: 'toolbar' }, testAll), error, results,
    h('h2', { text: 'All channels' }), listing, editor,
    h('h2', { text: 'New API channel' }), form);
  await refreshAll();
}

async function probe(results, error, name, after) {
  error.textContent = '';
  clear(results).append(h('p', { class: 'muted', text: 'Testing…' }));
  try {
    const found = await api('POST', '/admin/channels/test', name ? { name } : undefined);
    clear(results).append(h('h2', { text: 'Test results' }), table([
      ['Channel', (r) => r.channel],
      ['Model', (r) => r.model],
      ['Result', (r) => h('span', { class: 'badge ' + (r.ok ? 'ok' : 'bad'), text: r.ok ? 'ok' : 'failed' })],
      ['Status', (r) => r.status ?? '—'],
      ['Latency', (r) => ms(r.latency_ms), { num: true }],
      ['Error', (r) => r.error ?? ''],
    ], found));
    await after();
  } catch (e) {
    clear(results);
    error.textContent = e.message;
  }
}

// The edit form of one API channel: base URL, models, priority, weight, and a new upstream key (empty: keep).
function edit(editor, channel, act) {
  const form = h('form', { class: 'grid', id: 'edit-channel' },
    h('label', {}, 'Base URL', h('input', { name: 'base_url', type: 'url', value: channel.base_url })),
    h('label', {}, 'Models (comma-separated patterns)', h('input', { name: 'models', value: channel.models.join(', ') })),
    h('label', {}, 'Priority', h('input', { name: 'priority', type: 'number', value: String(channel.priority) })),
    h('label', {}, 'Weight', h('input', { name: 'weight', type: 'number', min: '0', value: String(channel.weight) })),
    h('label', {}, 'New API key (empty: keep)', h('input', { name: 'api_key', type: 'password', autocomplete: 'off' })),
    h('span', { class: 'actions' },
      h('button', { type: 'submit', text: 'Save' }),
      h('button', { type: 'button', class: 'secondary', text: 'Cancel', onclick: () => clear(editor) })));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const v = (name) => form.elements[name].value.trim();
    const patch = { base_url: v('base_url'), models: splitList(v('models')) || [], priority: Number(v('priority')),
      weight: Number(v('weight')) };
    if (v('api_key')) patch.api_keys = [v('api_key')];
    act(async () => {
      await api('PATCH', `/admin/channels/${encodeURIComponent(channel.name)}`, patch);
      clear(editor);
    });
  });
  clear(editor).append(h('h2', { text: `Edit ${channel.name}` }), form);
  form.elements.models.focus();
}

async function refresh(listing, results, error, editor) {
  const from = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  const [health, settings, usage] = await Promise.all([
    api('GET', '/admin/channels'),
    api('GET', '/admin/channel-settings'),
    api('GET', '/admin/usage' + query({ by: 'channel', from })),
  ]);
  const byName = new Map(health.map((c) => [c.name, c]));
  const recent = new Map(usage.data.map((g) => [g.group, g]));
  const rows = settings.data.map((s) => ({ ...s, health: byName.get(s.name), recent: recent.get(s.name) }));
  const act = async (work) => {
    error.textContent = '';
    try {
      await work();
      await refresh(listing, results, error, editor);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const actions = (c) => {
    const test = h('button', { type: 'button', class: 'secondary', text: 'Test', disabled: !c.health,
      onclick: () => probe(results, error, c.name, () => refresh(listing, results, error, editor)) });
    if (c.source !== 'api') return h('span', { class: 'actions' }, test, h('span', { class: 'muted', text: 'config file' }));
    const next = c.status === 'disabled' ? 'active' : 'disabled';
    return h('span', { class: 'actions' }, test,
      h('button', { type: 'button', class: 'secondary', text: 'Edit', onclick: () => edit(editor, c, act) }),
      h('button', { type: 'button', class: next === 'disabled' ? 'danger' : 'secondary',
        text: next === 'disabled' ? 'Disable' : 'Enable', onclick: () => act(() =>
          api('PATCH', `/admin/channels/${encodeURIComponent(c.name)}`, { status: next })) }));
  };
  clear(listing).append(table([
    ['Name', (c) => c.name],
    ['Source', (c) => c.source],
    ['Status', (c) => c.status],
    ['Provider', (c) => c.provider],
    ['Breaker', (c) => c.health?.breaker ?? '—'],
    ['In flight', (c) => c.health?.in_flight ?? '—', { num: true }],
    ['Usable keys', (c) => (c.health ? `${c.health.usable_keys} / ${c.health.total_keys}` : '—'), { num: true }],
    ['Requests 24 h', (c) => int(c.recent?.requests ?? 0), { num: true }],
    ['Error rate 24 h', (c) => (c.recent?.requests ? ((100 * c.recent.errors) / c.recent.requests).toFixed(1) + '%' : '—'),
      { num: true }],
    ['Latency 24 h (mean)', (c) => (c.recent?.avg_latency_ms == null ? '—' : ms(c.recent.avg_latency_ms)), { num: true }],
    ['Models', (c) => c.models.join(', ')],
    ['Priority / weight', (c) => `${c.priority} / ${c.weight}`],
    ['', actions],
  ], rows));
  listing.dataset.count = String(rows.length);
}
