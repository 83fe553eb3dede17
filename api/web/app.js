// The entry module: who is signed in, which view the URL names (`/`, `/c/{id}`, `/settings`),
// and moving between them with the History API so back/forward and links work.

import { h } from './dom.js';
import { get, post, del, SignedOut } from './api.js';
import { signInView } from './signin.js';
import { Sidebar } from './sidebar.js';
import { ChatView } from './chat.js';

const root = document.getElementById('app');

// Kept for the browser tests: any Content-Security-Policy violation would be a bug.
window.sluiceCspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.sluiceCspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
});
let me = null;
let models = [];
let sidebar = null;
let view = null;
let main = null;

async function boot(notice) {
  try {
    me = await get('/api/auth/me');
  } catch (err) {
    if (!(err instanceof SignedOut)) throw err;
    return showSignIn(notice);
  }
  models = (await get('/api/models')).items;
  sidebar = new Sidebar({
    navigate,
    onDeleted: (id) => { if (view?.conversationId === id) navigate('/', { replace: true }); },
  });
  main = h('main.main', { id: 'main' });
  root.replaceChildren(h('div.layout', {}, sidebar.el, main));
  await sidebar.reload();
  await route();
}

function showSignIn(notice) {
  if (location.pathname !== '/signin') {
    sessionStorage.setItem('sluice.next', location.pathname);
  }
  return signInView(root, {
    notice,
    onSignedIn: () => {
      const next = sessionStorage.getItem('sluice.next') || '/';
      sessionStorage.removeItem('sluice.next');
      history.replaceState(null, '', next === '/signin' ? '/' : next);
      boot();
    },
  });
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

async function route() {
  view?.destroy?.();
  view = null;
  const path = location.pathname;
  const match = path.match(/^\/c\/([0-9a-f-]{36})$/);
  try {
    if (path === '/settings') {
      sidebar.highlight(null);
      view = await settingsView();
    } else if (match || path === '/' || path === '/signin') {
      if (path === '/signin') history.replaceState(null, '', '/');
      const id = match ? match[1] : null;
      sidebar.highlight(id);
      const chat = new ChatView({ conversationId: id, models, sidebar, navigate });
      main.replaceChildren(chat.el);
      view = chat;
      if (!(await chat.load())) notFound('This conversation does not exist, or it was deleted.');
      else chat.input.focus();
    } else {
      notFound('There is nothing at this address.');
    }
  } catch (err) {
    if (err instanceof SignedOut) return boot(err.message);
    main.replaceChildren(h('div.notice', { role: 'alert' }, err.message));
  }
}

function notFound(text) {
  view?.destroy?.();
  const home = h('a.button.primary', { href: '/' }, 'Start a new chat');
  home.addEventListener('click', (e) => { e.preventDefault(); navigate('/'); });
  main.replaceChildren(h('div.notice.not-found', { id: 'not-found' }, h('h1', {}, 'Not found'), h('p', {}, text), home));
}

async function settingsView() {
  const sessions = h('ul.rows', { id: 'sessions' });
  const keys = h('ul.rows', { id: 'keys' });
  const fresh = h('div', { id: 'new-key', role: 'status' });
  const loadSessions = async () => {
    const { items } = await get('/api/auth/sessions');
    sessions.replaceChildren(...items.map((s) => {
      const revoke = h('button.secondary', { type: 'button' }, s.current ? 'Sign out' : 'Revoke');
      revoke.addEventListener('click', async () => {
        if (s.current) return signOut();
        await del(`/api/auth/sessions/${s.id}`);
        loadSessions();
      });
      return h('li', {}, h('span', {}, `${s.client ?? s.user_agent ?? 'device'}${s.current ? ' (this browser)' : ''}`),
        h('span.muted', {}, new Date(s.created_at).toLocaleString()), revoke);
    }));
  };
  const loadKeys = async () => {
    const { items } = await get('/api/keys');
    keys.replaceChildren(...items.map((k) => {
      const remove = h('button.secondary', { type: 'button', 'aria-label': `Delete key ${k.name}` }, 'Delete');
      remove.addEventListener('click', async () => {
        if (!confirm(`Delete key “${k.name}”?`)) return;
        await del(`/api/keys/${k.id}`);
        loadKeys();
      });
      return h('li', { dataset: { id: k.id } }, h('span', {}, k.name), h('code', {}, `${k.prefix}…`),
        h('span.muted', {}, k.last_used_at ? `used ${new Date(k.last_used_at).toLocaleString()}` : 'never used'), remove);
    }));
  };
  const name = h('input', { id: 'key-name', 'aria-label': 'Key name', placeholder: 'Key name', required: true, maxlength: 100 });
  const create = h('form.inline', { id: 'create-key' }, name, h('button.primary', { type: 'submit' }, 'Create key'));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = await post('/api/keys', { name: name.value });
    name.value = '';
    fresh.replaceChildren(h('p', {}, 'Copy this key now: it is shown only once.'), h('code.secret', { id: 'fresh-key' }, key.key));
    loadKeys();
  });
  const signOutButton = h('button.secondary', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOutButton.addEventListener('click', signOut);
  main.replaceChildren(h('section.settings', {},
    h('h1', {}, 'Settings'),
    h('h2', {}, 'Account'), h('p', {}, me.email ? `Signed in as ${me.email}` : `Guest account (${me.display_name})`), signOutButton,
    h('h2', {}, 'Signed-in devices'), sessions,
    h('h2', {}, 'API keys'), create, fresh, keys));
  await Promise.all([loadSessions(), loadKeys()]);
  return null;
}

async function signOut() {
  await post('/api/auth/logout').catch(() => {});
  history.replaceState(null, '', '/');
  boot();
}

window.addEventListener('popstate', () => { if (main) route(); });
boot().catch((err) => root.replaceChildren(h('p.notice', { role: 'alert' }, err.message)));
