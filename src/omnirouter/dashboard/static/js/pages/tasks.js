// Tasks: asynchronous tasks of every key (GET /admin/tasks) with filters and counts by state; one task's
// detail with its stored results (signed gateway URLs), force-poll and cancel-and-refund.
import { api, query } from '../api.js';
import { card, clear, h, table, usd } from '../dom.js';

const STATES = ['pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];
const FILTERS = [['model', 'Model'], ['channel', 'Channel'], ['key_id', 'Key id']];
const unix = (v) => (v === null || v === undefined ? '—' : new Date(v * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z');

function stateBadge(status) {
  const kind = status === 'succeeded' ? 'ok' : ['failed', 'cancelled'].includes(status) ? 'bad' : '';
  return h('span', { class: `badge ${kind}`, text: status });
}

function progress(task) {
  return task.progress === null || task.progress === undefined ? '—' : `${task.progress}%`;
}

export async function tasksPage(page, args) {
  if (args[0]) return detail(page, args[0]);
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const form = h('form', { class: 'toolbar', id: 'task-filters' },
    h('label', {}, 'State', h('select', { name: 'status' },
      [['', 'any'], ['pending,queued,running', 'unfinished'], ...STATES.map((s) => [s, s])].map(([value, text]) =>
        h('option', { value, text, selected: (params.get('status') || '') === value })))),
    FILTERS.map(([name, label]) => h('label', {}, label, h('input', { name, value: params.get(name) || '' }))),
    h('button', { type: 'submit', text: 'Filter' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const element of form.elements) if (element.name && element.value) chosen.set(element.name, element.value);
    location.hash = '#/tasks' + (chosen.toString() ? '?' + chosen : '');
  });
  const filters = { status: params.get('status') };
  for (const [name] of FILTERS) filters[name] = params.get(name);
  const counts = await api('GET', '/admin/tasks/summary' + query({ ...filters, status: null }));
  const rows = h('div', { id: 'task-list' });
  const more = h('button', { type: 'button', class: 'secondary', text: 'Older', hidden: true });
  page.append(h('h1', { text: 'Tasks' }),
    h('div', { class: 'cards', id: 'task-counts' },
      card('Unfinished', String(counts.live), 'tasks-live'),
      STATES.map((state) => card(state, String(counts.counts[state] ?? 0), `tasks-${state}`)),
      card(`Overdue (> ${counts.overdue_after} s)`, String(counts.overdue), 'tasks-overdue')),
    form, rows, h('p', {}, more));
  const tasks = [];
  const load = async (after) => {
    const found = await api('GET', '/admin/tasks' + query({ ...filters, after, limit: 50 }));
    tasks.push(...found.data);
    clear(rows).append(tasks.length ? table([
      ['Created', (t) => unix(t.created_at)],
      ['Task id', (t) => t.id, { mono: true }],
      ['State', (t) => stateBadge(t.status)],
      ['Progress', progress, { num: true }],
      ['Model', (t) => t.model],
      ['Vendor', (t) => `${t.channel} · ${t.upstream_model}`],
      ['Key', (t) => t.key_id, { num: true }],
      ['Reserved', (t) => usd(t.reserved_usd), { num: true }],
      ['Cost', (t) => usd(t.cost_usd), { num: true }],
    ], tasks, (t) => { location.hash = `#/tasks/${encodeURIComponent(t.id)}`; }) : h('p', { class: 'muted', text: 'No tasks.' }));
    rows.dataset.count = String(tasks.length);
    more.hidden = !found.next_after;
    more.onclick = () => load(found.next_after);
  };
  await load(null);
}

async function detail(page, id) {
  const path = `/admin/tasks/${encodeURIComponent(id)}`;
  const error = h('p', { class: 'error', role: 'alert', id: 'task-error' });
  const body = h('div', { id: 'task-detail' });
  const show = (task) => {
    const finished = ['succeeded', 'failed', 'cancelled'].includes(task.status);
    const poll = h('button', { type: 'button', id: 'force-poll', text: 'Poll now', disabled: finished });
    const cancel = h('button', { type: 'button', id: 'cancel-task', class: 'danger', text: 'Cancel and refund',
      disabled: finished });
    const act = async (work) => {
      error.textContent = '';
      try {
        show(await work());
      } catch (e) {
        error.textContent = e.message;
      }
    };
    poll.addEventListener('click', () => act(() => api('POST', `${path}/poll`)));
    cancel.addEventListener('click', () => act(async () => {
      if (!confirm(`Cancel task ${task.id} and refund its reservation?`)) return task;
      return api('POST', `${path}/cancel`);
    }));
    const refresh = h('button', { type: 'button', class: 'secondary', id: 'refresh-task', text: 'Refresh',
      onclick: () => act(() => api('GET', path)) });
    const outputs = task.outputs.length
      ? h('ul', { id: 'task-results' }, task.outputs.map((o) => h('li', {},
        o.url ? h('a', { href: o.url, target: '_blank', rel: 'noopener noreferrer', text: `${o.kind} (${o.mime || 'file'})` })
          : h('span', { text: o.kind }), ' ', h('span', { class: 'muted mono', text: o.name }))))
      : h('p', { class: 'muted', id: 'task-results', text: finished ? 'No stored results.' : 'No results yet.' });
    const fields = Object.entries(task).filter(([name]) => name !== 'outputs').map(([name, value]) =>
      [name, name.endsWith('_at') || name === 'lease_until' ? unix(value) : value]);
    clear(body).append(
      h('div', { class: 'cards' }, h('div', { class: 'card' }, h('div', { class: 'label', text: 'State' }),
        h('div', { class: 'value', id: 'task-state' }, stateBadge(task.status))),
      card('Progress', progress(task), 'task-progress'), card('Polls', String(task.poll_attempts), 'task-polls'),
      card('Reserved', usd(task.reserved_usd), 'task-reserved'), card('Cost', usd(task.cost_usd), 'task-cost')),
      h('p', { class: 'actions' }, poll, cancel, refresh),
      h('h2', { text: 'Results' }), outputs,
      h('h2', { text: 'Fields' }),
      table([['Field', (r) => r[0]], ['Value', (r) => (r[1] === null ? '—' : String(r[1])), { mono: true }]], fields));
    body.dataset.status = task.status;
  };
  page.append(h('p', {}, h('a', { href: '#/tasks', text: '← all tasks' })), h('h1', { text: `Task ${id}` }), error, body);
  show(await api('GET', path));
}
