// Calls to the gateway's JSON routes with the session cookie; state changes send the session's CSRF token.
// The CSRF token lives in this module's memory only (never in storage); the key is never kept at all.

let csrfToken = null;
let onSignedOut = () => {};

export function setSession(session) {
  csrfToken = session ? session.csrf_token : null;
}

export function whenSignedOut(handler) {
  onSignedOut = handler;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && !path.startsWith('/dashboard/api/session')) onSignedOut(error);
    throw error;
  }
  return parsed;
}

// A state-changing call whose answer the page reads itself (a stream): the session's CSRF token added.
export function post(path, body, headers = {}) {
  return fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken || '', ...headers },
    body: JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== '');
  return pairs.length ? '?' + new URLSearchParams(pairs).toString() : '';
}
