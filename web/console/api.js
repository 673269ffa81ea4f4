// The console's calls to the API: the session's token (kept in sessionStorage: closing the
// tab ends nothing on the server, but nothing outlives the browser session either), JSON in
// and out, and errors that carry the server's bilingual message.

const TOKEN_KEY = 'parole.console.token';

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || body?.error || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export const getToken = () => {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; }
};

export const setToken = (token) => {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) { /* storage refused: the session lasts as long as the page */ }
};

/** Called with the error when the server refuses the session (401 on a signed-in call). */
let onSessionEnded = () => {};
export const whenSessionEnds = (f) => { onSessionEnded = f; };

/** `method path` with an optional body (JSON, or a file sent as `contentType`); resolves to
 * the JSON answer (null for 204). */
export async function api(method, path, body, contentType = null) {
  const headers = {};
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType || 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : contentType ? body : JSON.stringify(body),
    cache: 'no-store',
  });
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = { error: text }; }
  if (!res.ok) {
    const err = new ApiError(res.status, json, Number(res.headers.get('retry-after')) || null);
    if (res.status === 401 && token) {
      setToken(null);
      onSessionEnded(err);
    }
    throw err;
  }
  return json;
}
