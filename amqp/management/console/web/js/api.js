// api.js: the console's only way to the broker, the management API under
// /api, with the credentials the user logged in with (session storage:
// they last as long as the tab).

const KEY = 'warren.auth';

export class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

function b64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function setCredentials(user, pass) {
  sessionStorage.setItem(KEY, b64(user + ':' + pass));
}

export function clearCredentials() {
  sessionStorage.removeItem(KEY);
}

export function hasCredentials() {
  return sessionStorage.getItem(KEY) !== null;
}

// enc is one path segment: the vhost "/" is "%2F", as the API wants.
export const enc = encodeURIComponent;

// api sends one request and returns the decoded JSON (null when empty).
// A non-2xx answer throws an ApiError with the API's reason. signal (an
// AbortSignal) cancels the request: it then throws an ApiError with
// aborted set.
export async function api(method, path, body, headers = {}, signal) {
  const h = { 'X-Requested-With': 'warren-console', ...headers };
  const auth = sessionStorage.getItem(KEY);
  if (auth) h.Authorization = 'Basic ' + auth;
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api' + path, { method, headers: h, body: payload, cache: 'no-store', signal });
  } catch (e) {
    throw aborted(e, signal) || new ApiError(0, 'The broker did not answer: ' + e.message);
  }
  let text;
  try {
    text = await res.text();
  } catch (e) {
    throw aborted(e, signal) || new ApiError(0, 'The broker did not answer: ' + e.message);
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    let reason = res.statusText || 'HTTP ' + res.status;
    if (data && typeof data === 'object') reason = data.reason || data.error || reason;
    else if (typeof data === 'string' && data) reason = data;
    if (typeof reason !== 'string') reason = JSON.stringify(reason);
    const err = new ApiError(res.status, reason);
    if (res.status === 401 && reason === 'Login failed') window.dispatchEvent(new CustomEvent('warren:logout'));
    throw err;
  }
  return data;
}

// aborted is the ApiError of a request its signal cancelled, else null.
function aborted(e, signal) {
  if (!signal || !signal.aborted) return null;
  const err = new ApiError(0, 'Request cancelled');
  err.aborted = true;
  return err;
}

// get is a GET; signal cancels it (api).
export const get = (path, signal) => api('GET', path, undefined, {}, signal);
