// The entry module: who is signed in, which view the URL names (`/`, `/c/{id}`, `/settings`,
// `/usage`),
// and moving between them with the History API so back/forward and links work.

import { h } from './dom.js';
import { get, post, SignedOut } from './api.js';
import { signInView } from './signin.js';
import { Sidebar } from './sidebar.js';
import { Drawer } from './drawer.js';
import { followAccount } from './feed.js';
import { ChatView } from './chat.js';
import { settingsView } from './settings.js';
import { usageView } from './usage.js';

const root = document.getElementById('app');

// Kept for the browser tests: any Content-Security-Policy violation or uncaught error would
// be a bug.
window.sluiceCspViolations = [];
window.sluiceErrors = [];
window.addEventListener('error', (e) => window.sluiceErrors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.sluiceErrors.push(String(e.reason)));
document.addEventListener('securitypolicyviolation', (e) => {
  window.sluiceCspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
});
let me = null;
let models = [];
let sidebar = null;
let view = null;
let main = null;
let stopFeed = null;

async function boot(notice) {
  // No CSRF cookie, no session (it lives as long as the refresh cookie): ask nothing of the
  // API that can only answer 401.
  if (!document.cookie.split('; ').some((c) => c.startsWith('sluice_csrf='))) {
    return showSignIn(notice);
  }
  try {
    me = await get('/api/auth/me');
  } catch (err) {
    if (!(err instanceof SignedOut)) throw err;
    return showSignIn(notice);
  }
  models = (await get('/api/models')).items;
  let drawer = null;
  sidebar = new Sidebar({
    // Choosing anything in the sidebar closes it where it is a drawer (phones).
    navigate: (path) => {
      drawer.toggle(false);
      navigate(path);
    },
    onDeleted: (id, { elsewhere }) => {
      if (view?.conversationId !== id) return;
      if (elsewhere) deletedElsewhere();
      else navigate('/', { replace: true });
    },
    onRenamed: (id, title) => { if (view?.conversationId === id) view.showTitle(title); },
  });
  main = h('main.main', { id: 'main' });
  // The first Tab stop: straight to the message box, past the conversation list.
  const skip = h('a.button.skip-link', { href: '#composer', id: 'skip-link' }, 'Skip to the message box');
  skip.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('composer')?.focus();
  });
  stopFeed?.();
  stopFeed = followAccount({
    onCreated: (c) => sidebar.upsert(c),
    onUpdated: (c) => sidebar.update(c),
    onDeleted: (id) => sidebar.deletedElsewhere(id),
    onFoldersChanged: () => sidebar.folders.recount(),
    onImported: () => sidebar.reload(),
    // Nothing is replayed: what changed while the feed was down is read again.
    onReopen: async () => {
      await sidebar.reload();
      if (view?.conversationId && !(await view.stillThere())) deletedElsewhere();
    },
  });
  drawer = new Drawer(sidebar.el);
  root.replaceChildren(skip, h('div.layout', {}, drawer.button, sidebar.el, drawer.backdrop, main));
  await sidebar.reload();
  await route();
}

function showSignIn(notice) {
  stopFeed?.();
  stopFeed = null;
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

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

async function route() {
  view?.destroy?.();
  view = null;
  // `/settings/` is `/settings`.
  if (location.pathname.length > 1 && location.pathname.endsWith('/')) {
    history.replaceState(null, '', location.pathname.replace(/\/+$/, '') || '/');
  }
  const path = location.pathname;
  const match = path.match(/^\/c\/([0-9a-f-]{36})$/);
  try {
    if (path === '/settings') {
      sidebar.highlight(null);
      document.title = 'Settings · Sluice';
      view = null;
      await settingsView(main, {
        me,
        signOut,
        // The session is over already (signed out everywhere, account deleted).
        signedOut: (notice) => {
          history.replaceState(null, '', '/');
          return boot(notice);
        },
        refreshMe: async () => {
          me = await get('/api/auth/me');
          route();
        },
      });
    } else if (path === '/usage') {
      sidebar.highlight(null);
      document.title = 'Usage · Sluice';
      await usageView(main, { me });
    } else if (match || path === '/' || path === '/signin') {
      if (path === '/signin') history.replaceState(null, '', '/');
      const id = match ? match[1] : null;
      sidebar.highlight(id);
      const chat = new ChatView({ conversationId: id, models, sidebar });
      main.replaceChildren(chat.el);
      view = chat;
      if (!(await chat.load())) notFound('This conversation does not exist, or it was deleted.');
      else {
        // `#m-{id}`: opened at a message (a search hit).
        const at = location.hash.match(/^#m-([0-9a-f-]{36})$/);
        if (at) await chat.showMessage(at[1]);
        chat.input.focus();
        performance.mark('sluice-interactive');
      }
    } else {
      notFound('There is nothing at this address.');
    }
  } catch (err) {
    if (err instanceof SignedOut) return boot(err.message);
    main.replaceChildren(h('div.notice', { role: 'alert' }, err.message));
  }
}

function notFound(text, heading = 'Not found') {
  view?.destroy?.();
  view = null;
  const home = h('a.button.primary', { href: '/' }, 'Start a new chat');
  home.addEventListener('click', (e) => { e.preventDefault(); navigate('/'); });
  main.replaceChildren(h('div.notice.not-found', { id: 'not-found' }, h('h1', {}, heading), h('p', {}, text), home));
}

/** The conversation on screen was deleted in another tab or on another device. */
function deletedElsewhere() {
  notFound('This conversation was deleted in another tab or on another device.', 'Deleted');
  document.title = 'Sluice';
}

async function signOut() {
  await post('/api/auth/logout').catch(() => {});
  history.replaceState(null, '', '/');
  boot();
}

window.addEventListener('popstate', () => { if (main) route(); });
// A stream found the session over (revoked elsewhere, or past its refresh token's life).
window.addEventListener('sluice:signed-out', () => {
  view?.destroy?.();
  boot('Your session has ended. Please sign in again.');
});
boot().catch((err) => root.replaceChildren(h('p.notice', { role: 'alert' }, err.message)));
