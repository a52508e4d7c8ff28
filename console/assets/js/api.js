// The console's only way to Berth: the public command and query APIs, on this origin under
// /api. The session token is in an HttpOnly cookie this code never sees; writes carry the
// CSRF token from the readable cookie, and an Idempotency-Key so a repeated click appends once.

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.title = body.title || '';
    this.detail = body.detail || '';
    this.field = body.field || null;
    this.type = body.type || '';
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

/** 'tenant', 'operator' or null: which kind of session this browser holds. */
export const side = () => cookie('berth_side');

let onSignedOut = () => {};
export function whenSignedOut(handler) { onSignedOut = handler; }

async function send(base, method, path, body, options = {}) {
  const headers = { Accept: options.raw ? '*/*' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const csrf = cookie('berth_csrf');
    if (csrf) headers['X-CSRF-Token'] = csrf;
    if (method === 'POST') headers['Idempotency-Key'] = crypto.randomUUID();
  }
  if (options.ifMatch) headers['If-Match'] = options.ifMatch;
  let response;
  for (let attempt = 0; ; attempt += 1) {
    try {
      response = await fetch(base + path, {
        method, headers, credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new Problem(0, { title: 'Network', detail: String(error.message || error) });
    }
    // Over the per-token allowance: wait as told and ask again (a write again with the same
    // Idempotency-Key, so it still happens once).
    const wait = Number(response.headers.get('retry-after'));
    if (response.status !== 429 || attempt >= 3 || !(wait <= 30)) break;
    await new Promise((resolve) => { setTimeout(resolve, Math.max(wait, 1) * 1000); });
  }
  const type = response.headers.get('content-type') || '';
  if (!response.ok) {
    const problem = type.includes('json')
      ? await response.json().catch(() => ({}))
      : { title: response.statusText, detail: await response.text().catch(() => '') };
    const error = new Problem(response.status, problem);
    if (response.status === 401 && !path.startsWith('/v1/auth/')) onSignedOut(error);
    throw error;
  }
  if (response.status === 204) return null;
  if (options.raw) return response;
  if (type.includes('json')) return response.json();
  return response.text();
}

export const command = (method, path, body, options) => send('/api/command', method, path, body, options);
export const query = (path, options) => send('/api/query', 'GET', path, undefined, options);

/** Adds query parameters, leaving out empty ones. */
export function withParams(path, params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, value);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

export async function operatorSignIn(token) {
  return send('', 'POST', '/console/session/operator', { token });
}

export async function signOut() {
  try { await send('', 'POST', '/console/session/end'); } catch (_) { /* the cookies are cleared anyway */ }
}

/** Downloads a document the query API serves (a PDF, an XML) as the browser's own download. */
export async function download(path, filename) {
  const response = await send('/api/query', 'GET', path, undefined, { raw: true });
  const blob = await response.blob();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
