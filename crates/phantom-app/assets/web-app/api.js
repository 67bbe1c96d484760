// The JSON API client: fetch with the JWTs, the access token refreshed before it expires and
// once more on a 401; when the refresh token is refused too, the user is signed out.

const STORAGE_KEY = 'phantom.tokens';
/** Refresh when the access token has less than this left (ms). */
const MARGIN = 30_000;

let tokens = load();
let signedOutHandler = () => {};
let refreshing = null;

/** An answer other than 2xx; `body` is the API's JSON (DRF-shaped), if any. */
export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

/** The API's words for an error body: its `detail`, or every field's messages. */
export function describe(body) {
  if (!body || typeof body !== 'object') return '';
  if (typeof body.detail === 'string') return body.detail;
  return Object.values(body).flat().join(' ');
}

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE_KEY));
  } catch {
    return null;
  }
}

function save(next) {
  tokens = next;
  if (next) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** When a JWT expires (ms since the epoch); 0 when unreadable. */
function expiresAt(jwt) {
  try {
    const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return 0;
  }
}

/** Reads the tokens again: another page of this tab may have signed out meanwhile. */
export function reloadTokens() {
  tokens = load();
}

export function isSignedIn() {
  return tokens !== null;
}

/** `handler(reason)` runs when the session ends without the user asking. */
export function onSignedOut(handler) {
  signedOutHandler = handler;
}

function endSession(reason) {
  save(null);
  signedOutHandler(reason);
}

/** One refresh at a time, however many requests need it. */
function refresh() {
  refreshing ??= (async () => {
    const answer = await send('POST', '/api/auth/token/refresh/', { refresh: tokens?.refresh });
    if (!answer.ok) {
      endSession('Your session has ended. Please sign in again.');
      throw new ApiError(401, { detail: 'Your session has ended. Please sign in again.' });
    }
    const body = await answer.json();
    save({ access: body.access, refresh: body.refresh ?? tokens.refresh });
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function send(method, path, body, access) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (access) headers.Authorization = `Bearer ${access}`;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function parse(answer) {
  const text = await answer.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: `The server answered ${answer.status}.` };
  }
  if (!answer.ok) throw new ApiError(answer.status, body);
  return body;
}

/** A call to the API as the signed-in user. */
export async function api(method, path, body) {
  if (!tokens) throw new ApiError(401, { detail: 'Please sign in.' });
  if (expiresAt(tokens.access) - Date.now() < MARGIN) await refresh();
  let answer = await send(method, path, body, tokens.access);
  if (answer.status === 401) {
    await refresh();
    answer = await send(method, path, body, tokens.access);
    if (answer.status === 401) endSession('Your session has ended. Please sign in again.');
  }
  return parse(answer);
}

/** A public call (register, sign in). */
export async function publicApi(method, path, body) {
  return parse(await send(method, path, body));
}

export async function signIn(username, password) {
  save(await publicApi('POST', '/api/auth/login/', { username, password }));
}

/** Blacklists the refresh token (best effort) and forgets both tokens. */
export async function signOut() {
  if (tokens) {
    try {
      await api('POST', '/api/auth/logout/', { refresh: tokens.refresh });
    } catch {
      // The tokens are forgotten anyway.
    }
  }
  save(null);
}
