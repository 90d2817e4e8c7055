// Small DOM helpers: every text goes in through textContent (never as markup), so no answer can inject HTML.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = String(value);
    else if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A table: columns are [title, value(row) -> text|Node, {num: true}].
export function table(columns, rows, onRow) {
  const head = h('tr', {}, columns.map(([title, , opts]) => h('th', { class: opts?.num ? 'num' : null, text: title })));
  const body = rows.map((row) => {
    const tr = h('tr', { class: onRow ? 'clickable' : null },
      columns.map(([, value, opts]) => {
        const v = value(row);
        return h('td', { class: opts?.num ? 'num' : (opts?.mono ? 'mono' : null) }, v instanceof Node ? v : (v ?? ''));
      }));
    if (onRow) tr.addEventListener('click', () => onRow(row));
    return tr;
  });
  return h('table', {}, h('thead', {}, head), h('tbody', {}, body));
}

export function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'label', text: label }), h('div', { class: 'value', id, text: value }));
}

// USD with cents, and the sub-cent digits (to a millionth) when there are any: 5 → $5.00, 4.99535 → $4.99535.
export function usd(v) {
  if (v === null || v === undefined) return '—';
  const text = Number(v).toFixed(6).replace(/0+$/, '');
  const [whole, fraction = ''] = text.split('.');
  return '$' + whole + '.' + fraction.padEnd(2, '0');
}
export const int = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en-US'));
export const ms = (v) => (v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en-US') + ' ms');
export const when = (v) => (v ? new Date(v).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '—');
export const list = (v) => (v === null || v === undefined ? 'all' : v.join(', '));

export function statusBadge(code) {
  return h('span', { class: 'badge ' + (code < 400 ? 'ok' : 'bad'), text: String(code) });
}

// A comma-separated field as a list, or null when empty.
export function splitList(text) {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : null;
}

export function numberOrNull(text) {
  return text.trim() === '' ? null : Number(text);
}
