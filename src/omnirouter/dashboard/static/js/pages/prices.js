// Prices: the price table by model with every unit, edited inline (PATCH), added (POST), deleted (DELETE),
// exported as one JSON download and imported from a file (GET / POST /admin/price-table).
import { api } from '../api.js';
import { clear, h } from '../dom.js';

// [field, column title, kind]: amount (USD, optional), required (USD, never empty), tokens, json.
const FIELDS = [
  ['input', 'Input /1M', 'required'],
  ['output', 'Output /1M', 'required'],
  ['cached_input', 'Cached input /1M', 'amount'],
  ['cache_write', 'Cache write 5m /1M', 'amount'],
  ['cache_write_1h', 'Cache write 1h /1M', 'amount'],
  ['reasoning', 'Reasoning /1M', 'amount'],
  ['image_input', 'Image in /1M', 'amount'],
  ['image_output', 'Image out /1M', 'amount'],
  ['audio_input', 'Audio in /1M', 'amount'],
  ['audio_output', 'Audio out /1M', 'amount'],
  ['above_tokens', 'Long context above (tokens)', 'tokens'],
  ['above', 'Long-context prices (JSON)', 'json'],
  ['per_image', 'Per image', 'amount'],
  ['per_image_tiers', 'Per image tiers (JSON)', 'json'],
  ['per_second', 'Per second', 'amount'],
  ['per_1k_characters', 'Per 1k characters', 'amount'],
  ['per_call', 'Per call', 'amount'],
];

export async function pricesPage(page) {
  const error = h('p', { class: 'error', role: 'alert', id: 'price-error' });
  const status = h('p', { class: 'muted', role: 'status', id: 'price-status' });
  const listing = h('div', { id: 'price-list', class: 'wide' });
  const importErrors = h('ul', { id: 'import-errors', class: 'error' });
  const refresh = () => load(listing, error, status);

  const add = h('form', { class: 'grid', id: 'add-price' },
    h('label', {}, 'Model', h('input', { name: 'model', required: true })),
    h('label', {}, 'Channel (empty: the model\'s own price)', h('input', { name: 'channel' })),
    h('label', {}, 'Input USD /1M tokens', h('input', { name: 'input', type: 'number', step: 'any', min: '0', value: '0' })),
    h('label', {}, 'Output USD /1M tokens', h('input', { name: 'output', type: 'number', step: 'any', min: '0', value: '0' })),
    h('button', { type: 'submit', text: 'Add price' }));
  add.addEventListener('submit', async (event) => {
    event.preventDefault();
    const v = (name) => add.elements[name].value.trim();
    await act(error, status, async () => {
      await api('POST', '/admin/prices', { model: v('model'), channel: v('channel'), input: Number(v('input') || 0),
        output: Number(v('output') || 0) });
      add.reset();
      await refresh();
      return `Added ${v('model') || 'the price'}.`;
    });
  });

  const file = h('input', { type: 'file', id: 'import-file', accept: 'application/json,.json' });
  const replace = h('input', { type: 'checkbox', id: 'import-replace' });
  const importButton = h('button', { type: 'button', id: 'import-prices', class: 'secondary', text: 'Import JSON' });
  importButton.addEventListener('click', async () => {
    clear(importErrors);
    await act(error, status, async () => {
      if (!file.files.length) throw new Error('Choose a JSON file to import.');
      let doc;
      try {
        doc = JSON.parse(await file.files[0].text());
      } catch {
        throw new Error('The file is not valid JSON.');
      }
      const prices = Array.isArray(doc) ? doc : doc?.prices;
      try {
        const done = await api('POST', '/admin/price-table', { prices, replace: replace.checked });
        await refresh();
        return `Imported: ${done.created} added, ${done.updated} replaced, ${done.skipped} skipped (config file), ` +
          `${done.deleted} deleted.`;
      } catch (e) {
        for (const row of e.body?.error?.rows || []) {
          const what = [row.model, row.channel].filter(Boolean).join(' on ') || 'no model';
          importErrors.append(h('li', { text: `Row ${row.row + 1} (${what})${row.param ? ', ' + row.param : ''}: ${row.message}` }));
        }
        throw e;
      }
    });
  });
  const exportButton = h('button', { type: 'button', id: 'export-prices', class: 'secondary', text: 'Export JSON' });
  exportButton.addEventListener('click', () => act(error, status, async () => {
    const table = await api('GET', '/admin/price-table');
    const blob = new Blob([JSON.stringify(table, null, 2) + '\n'], { type: 'application/json' });
    const link = h('a', { href: URL.createObjectURL(blob), download: 'omnirouter-prices.json' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    return `Exported ${table.prices.length} prices.`;
  }));

  page.append(h('h1', { text: 'Prices' }),
    h('p', { class: 'muted', text: 'USD per 1M tokens, and per image, second, 1,000 characters or call. ' +
      'Edit a row and press Save; config-file rows are read-only.' }),
    h('div', { class: 'toolbar' }, exportButton, h('label', {}, 'Price table file', file),
      h('label', { class: 'inline' }, replace, 'delete API prices the file does not list'), importButton),
    importErrors, error, status, listing, h('h2', { text: 'Add a price' }), add);
  await refresh();
}

async function act(error, status, work) {
  error.textContent = '';
  status.textContent = '';
  try {
    status.textContent = (await work()) || '';
  } catch (e) {
    error.textContent = e.message;
  }
}

function cellValue(price, field, kind) {
  const value = price[field];
  if (kind === 'json') {
    if (value === null || value === undefined || (typeof value === 'object' && !Object.keys(value).length)) return '';
    return JSON.stringify(value);
  }
  return value === null || value === undefined ? '' : String(value);
}

function readCell(input, field, kind) {
  const text = input.value.trim();
  if (kind === 'json') {
    if (!text) return field === 'per_image_tiers' ? {} : null;
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${field}: not valid JSON.`);
    }
  }
  if (!text) return kind === 'required' ? 0 : null;
  const number = Number(text);
  if (!Number.isFinite(number)) throw new Error(`${field}: not a number.`);
  return number;
}

async function load(listing, error, status) {
  const prices = (await api('GET', '/admin/prices')).data;
  const head = h('tr', {}, h('th', { text: 'Model' }), h('th', { text: 'Channel' }), h('th', { text: 'Source' }),
    FIELDS.map(([, title]) => h('th', { text: title })), h('th', { text: '' }));
  const rows = prices.map((price) => {
    const readOnly = price.source === 'config';
    const inputs = FIELDS.map(([field, , kind]) => h('input', {
      name: field, value: cellValue(price, field, kind), disabled: readOnly, 'aria-label': `${price.model} ${field}`,
      class: kind === 'json' ? 'cell json' : 'cell', inputmode: kind === 'json' ? null : 'decimal',
    }));
    const query = price.channel ? `?channel=${encodeURIComponent(price.channel)}` : '';
    const path = `/admin/prices/${encodeURIComponent(price.model)}${query}`;
    const save = h('button', { type: 'button', text: 'Save', onclick: () => act(error, status, async () => {
      const patch = {};
      FIELDS.forEach(([field, , kind], i) => { patch[field] = readCell(inputs[i], field, kind); });
      await api('PATCH', path, patch);
      await load(listing, error, status);
      return `Saved ${price.model}.`;
    }) });
    const remove = h('button', { type: 'button', class: 'danger', text: 'Delete', onclick: () => act(error, status, async () => {
      if (!confirm(`Delete the price of ${price.model}${price.channel ? ' on ' + price.channel : ''}?`)) return '';
      await api('DELETE', path);
      await load(listing, error, status);
      return `Deleted ${price.model}.`;
    }) });
    return h('tr', { 'data-model': price.model, 'data-channel': price.channel },
      h('td', { class: 'mono', text: price.model }), h('td', { text: price.channel || '—' }),
      h('td', { text: price.source }), inputs.map((input) => h('td', {}, input)),
      h('td', {}, readOnly ? h('span', { class: 'muted', text: 'config file' }) : h('span', { class: 'actions' }, save, remove)));
  });
  clear(listing).append(prices.length ? h('table', { class: 'prices' }, h('thead', {}, head), h('tbody', {}, rows))
    : h('p', { class: 'muted', text: 'No prices yet.' }));
  listing.dataset.count = String(prices.length);
}
