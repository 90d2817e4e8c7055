// Playground: chat with any model through any of the four client protocols, on the gateway's own public
// routes, with the admin session (no key in the browser): the request names the key it is billed to in
// X-Omnirouter-Console-Key and carries the session's CSRF token. The raw wire events are shown beside the
// rendered answer.
import { api, post } from '../api.js';
import { clear, h } from '../dom.js';

// Each protocol: how to ask (path, body, headers) and how to read text from an answer or a stream event.
const PROTOCOLS = {
  openai_chat: {
    title: 'OpenAI Chat Completions',
    request: (model, text, stream, max) => ({
      path: '/v1/chat/completions',
      body: { model, messages: [{ role: 'user', content: text }], max_tokens: max, stream,
        ...(stream ? { stream_options: { include_usage: true } } : {}) },
    }),
    answer: (body) => (body.choices || []).map((c) => c.message?.content || '').join(''),
    delta: (event) => (event.data?.choices || []).map((c) => c.delta?.content || '').join(''),
  },
  openai_responses: {
    title: 'OpenAI Responses',
    request: (model, text, stream, max) => ({
      path: '/v1/responses', body: { model, input: text, max_output_tokens: max, stream },
    }),
    answer: (body) => (body.output || []).filter((item) => item.type === 'message')
      .flatMap((item) => item.content || []).filter((part) => part.type === 'output_text')
      .map((part) => part.text).join(''),
    delta: (event) => (event.data?.type === 'response.output_text.delta' ? event.data.delta || '' : ''),
  },
  anthropic: {
    title: 'Anthropic Messages',
    request: (model, text, stream, max) => ({
      path: '/v1/messages', headers: { 'anthropic-version': '2023-06-01' },
      body: { model, max_tokens: max, messages: [{ role: 'user', content: text }], stream },
    }),
    answer: (body) => (body.content || []).filter((b) => b.type === 'text').map((b) => b.text).join(''),
    delta: (event) => (event.data?.type === 'content_block_delta' && event.data.delta?.type === 'text_delta'
      ? event.data.delta.text : ''),
  },
  gemini: {
    title: 'Gemini generateContent',
    request: (model, text, stream, max) => ({
      path: `/v1beta/models/${encodeURIComponent(model)}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
      body: { contents: [{ role: 'user', parts: [{ text }] }], generationConfig: { maxOutputTokens: max } },
    }),
    answer: (body) => geminiText(body),
    delta: (event) => geminiText(event.data),
  },
};

function geminiText(body) {
  return (body?.candidates || []).flatMap((c) => c.content?.parts || []).filter((p) => !p.thought)
    .map((p) => p.text || '').join('');
}

export async function playgroundPage(page) {
  const [keys, channels] = await Promise.all([api('GET', '/admin/keys'), api('GET', '/admin/channels')]);
  const active = keys.data.filter((k) => k.status === 'active');
  const models = [...new Set(channels.flatMap((c) => c.models).filter((m) => !m.includes('*')))].sort();
  const form = h('form', { class: 'grid', id: 'playground' },
    h('label', {}, 'Bill to key', h('select', { name: 'key_id', required: true },
      active.map((k) => h('option', { value: String(k.id), text: `${k.name} (#${k.id})` })))),
    h('label', {}, 'Protocol', h('select', { name: 'protocol' },
      Object.entries(PROTOCOLS).map(([value, p]) => h('option', { value, text: p.title })))),
    h('label', {}, 'Model', h('input', { name: 'model', list: 'play-models', required: true, value: models[0] || '' })),
    h('datalist', { id: 'play-models' }, models.map((m) => h('option', { value: m }))),
    h('label', {}, 'Max output tokens', h('input', { name: 'max_tokens', type: 'number', min: '1', value: '256' })),
    h('label', { class: 'inline' }, h('input', { name: 'stream', type: 'checkbox', checked: true }), 'Stream'),
    h('label', { class: 'span' }, 'Message', h('textarea', { name: 'message', rows: '3', required: true })),
    h('button', { type: 'submit', id: 'play-send', text: 'Send' }));
  const error = h('p', { class: 'error', role: 'alert', id: 'play-error' });
  const status = h('p', { class: 'muted', role: 'status', id: 'play-status' });
  const answer = h('div', { class: 'answer', id: 'play-answer' });
  const raw = h('div', { class: 'raw', id: 'play-raw' });
  page.append(h('h1', { text: 'Playground' }),
    h('p', { class: 'muted', text: 'Requests go to the gateway\'s public routes with this session (no key in the ' +
      'browser) and are billed to the chosen key, like any of its requests.' }),
    active.length ? form : h('p', { class: 'error', text: 'No active key to bill: create one on the Keys page.' }),
    error, status,
    h('div', { class: 'split' },
      h('section', {}, h('h2', { text: 'Answer' }), answer),
      h('section', {}, h('h2', { text: 'Raw wire events' }), raw)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const v = (name) => form.elements[name].value;
    const protocol = PROTOCOLS[v('protocol')];
    const stream = form.elements.stream.checked;
    const ask = protocol.request(v('model').trim(), v('message'), stream, Number(v('max_tokens')) || 256);
    error.textContent = '';
    status.textContent = 'Waiting…';
    clear(answer);
    clear(raw);
    answer.dataset.done = 'false';
    raw.dataset.count = '0';
    const button = form.querySelector('#play-send');
    button.disabled = true;
    try {
      const response = await post(ask.path, ask.body, { ...(ask.headers || {}), 'x-omnirouter-console-key': v('key_id') });
      const requestId = response.headers.get('x-request-id');
      const isStream = (response.headers.get('content-type') || '').startsWith('text/event-stream');
      if (!response.ok || !isStream) {
        const text = await response.text();
        addRaw(raw, text);
        let body = null;
        try {
          body = JSON.parse(text);
        } catch {
          body = null;
        }
        if (!response.ok) throw new Error(errorMessage(body) || `HTTP ${response.status}`);
        answer.textContent = protocol.answer(body || {});
      } else {
        await readEvents(response, (ev) => {
          addRaw(raw, ev.raw);
          const piece = ev.data ? protocol.delta(ev) : '';
          if (piece) answer.textContent += piece;
        });
      }
      clear(status).append(`HTTP ${response.status}`);
      if (requestId) {
        status.append(' · request ', h('a', { href: `#/logs?request_id=${encodeURIComponent(requestId)}`,
          id: 'play-request', text: requestId }));
      }
      answer.dataset.done = 'true';
    } catch (e) {
      error.textContent = e.message;
      status.textContent = '';
    } finally {
      button.disabled = false;
    }
  });
}

function errorMessage(body) {
  return body?.error?.message || (Array.isArray(body) ? body[0]?.error?.message : null);
}

function addRaw(raw, text) {
  raw.append(h('pre', { class: 'raw-event', text }));
  raw.dataset.count = String(raw.childElementCount);
  raw.scrollTop = raw.scrollHeight;
}

// Server-sent events as they arrive: each event's raw text and its data parsed as JSON (null if it is not).
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const flush = (block) => {
    if (!block.trim()) return;
    const lines = block.split('\n');
    const name = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() || null;
    const dataText = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    let data = null;
    try {
      data = dataText && dataText !== '[DONE]' ? JSON.parse(dataText) : null;
    } catch {
      data = null;
    }
    onEvent({ raw: block, event: name, data });
  };
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    buffer = buffer.replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      flush(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
    if (done) break;
  }
  flush(buffer);
}
