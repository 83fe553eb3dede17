// The JSON API with the browser's cookies. Writes send the CSRF token the server gave this
// session (the readable `sluice_csrf` cookie). An expired access cookie is refreshed once,
// silently; a session that cannot be refreshed raises SignedOut.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class SignedOut extends Error {}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)sluice_csrf=([^;]+)/);
  return match ? match[1] : '';
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

let refreshing = null;

/** Spends the refresh cookie for new cookies; concurrent callers share one refresh. */
function refresh() {
  refreshing ??= send('POST', '/api/auth/refresh').then((r) => r.ok).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

export async function api(method, path, body) {
  let response = await send(method, path, body);
  if (response.status === 401 && !path.startsWith('/api/auth/login')
      && !path.startsWith('/api/auth/register')) {
    if (!(await refresh())) throw new SignedOut('Your session has ended. Please sign in again.');
    response = await send(method, path, body);
    if (response.status === 401) throw new SignedOut('Your session has ended. Please sign in again.');
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiError(response.status, error.code ?? 'error',
      error.message ?? `The server answered ${response.status}.`);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);
