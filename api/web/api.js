// The JSON API with the browser's cookies. Writes send the CSRF token the server gave this
// session (the readable `sluice_csrf` cookie). An expired access cookie is refreshed once,
// silently; a session that cannot be refreshed raises SignedOut. Failures are ApiErrors whose
// message is a sentence a person can act on (not "Failed to fetch").

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
  try {
    return await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'Sluice could not be reached: check your connection, then try again.');
  }
}

/** The API's answer to a failed request, as a sentence. */
function sentence(status, code, message) {
  if (code === 'not_found') {
    const what = (message ?? '').replace(/ not found$/, '') || 'it';
    return `This ${what} no longer exists: it may have been deleted in another tab or on another device.`;
  }
  // A limit of the user's own names itself and when it resets; other 429s are the server's.
  const ownLimit = code === 'rate_limit_exceeded' || code === 'insufficient_quota';
  if (status === 429 && !ownLimit) return 'Too many requests just now: wait a moment, then try again.';
  if (status >= 500 || !message) return 'Sluice could not do that just now: try again in a moment.';
  const text = message[0].toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
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
      sentence(response.status, error.code, error.message));
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

/**
 * Sends `file` as the multipart field `file` to `path`, calling onProgress(sent, total) as
 * it goes up (fetch cannot report upload progress; XMLHttpRequest can). Resolves with the
 * JSON answer; fails as `api` does, or with code `aborted` when `signal` stops it.
 */
export async function upload(path, file, onProgress = () => {}, signal = undefined) {
  const once = () => new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    if (signal?.aborted) {
      reject(new ApiError(0, 'aborted', 'The upload was stopped.'));
      return;
    }
    signal?.addEventListener('abort', () => request.abort());
    request.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was stopped.')));
    request.addEventListener('timeout', () => reject(new ApiError(0, 'unreachable',
      'The upload took too long: check your connection, then try again.')));
    request.open('POST', path);
    request.setRequestHeader('Accept', 'application/json');
    request.setRequestHeader('X-CSRF-Token', csrfToken());
    request.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    request.addEventListener('load', () => {
      let data = null;
      try { data = JSON.parse(request.responseText); } catch { /* not JSON */ }
      resolve({ status: request.status, data });
    });
    request.addEventListener('error', () => reject(new ApiError(0, 'unreachable',
      'Sluice could not be reached: check your connection, then try again.')));
    const form = new FormData();
    form.append('file', file, file.name);
    request.send(form);
  });
  let answer = await once();
  if (answer.status === 401) {
    if (!(await refresh())) throw new SignedOut('Your session has ended. Please sign in again.');
    answer = await once();
  }
  if (answer.status < 200 || answer.status >= 300) {
    const error = answer.data?.error ?? {};
    throw new ApiError(answer.status, error.code ?? 'error', sentence(answer.status, error.code, error.message));
  }
  return answer.data;
}

/**
 * Starts a download of `path` (a route answering with Content-Disposition: attachment). The
 * browser fetches it by itself, so an expired access cookie is refreshed first (else the
 * download would be the 401's JSON).
 */
export async function download(path) {
  await get('/api/auth/me');
  const link = document.createElement('a');
  link.href = path;
  link.download = '';
  document.body.append(link);
  link.click();
  link.remove();
}
