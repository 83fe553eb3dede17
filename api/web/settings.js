// Settings: the account (add a password to a guest, link GitHub / Google), every signed-in
// device (CLI sessions from the device flow too) with revoke, API keys (create → shown once,
// disable, rotate, delete) and, for admins, the users (roles, disable / enable).

import { h, copyText } from './dom.js';
import { get, post, put, patch, del } from './api.js';

export async function settingsView(main, { me, signOut, refreshMe }) {
  // A guest has no way back in: signing out loses its conversations, so it asks first.
  const leave = me.is_guest
    ? async () => {
      const sure = confirm('You are signed in as a guest: signing out loses these conversations for good. '
        + 'Add an email and password first to keep them. Sign out anyway?');
      if (sure) await signOut();
    }
    : signOut;
  const sections = [account(me, leave, refreshMe), await sessions(leave), await keys()];
  if (me.roles.includes('admin')) sections.push(await users());
  main.replaceChildren(h('section.settings', { id: 'settings' }, h('h1', {}, 'Settings'), ...sections));
}

function account(me, signOut, refreshMe) {
  const out = h('div.section', {}, h('h2', {}, 'Account'));
  out.append(h('p', { id: 'account-who' }, me.is_guest
    ? `Guest account (${me.display_name}). Add an email and password to sign in again later: your conversations stay.`
    : `Signed in as ${me.email ?? me.display_name}.`));
  if (me.is_guest) {
    const email = h('input', { id: 'upgrade-email', type: 'email', autocomplete: 'email', required: true });
    const password = h('input', { id: 'upgrade-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
    const problem = h('p.form-error', { role: 'alert' });
    const form = h('form.stack', { id: 'upgrade' },
      h('label', { for: 'upgrade-email' }, 'Email'), email,
      h('label', { for: 'upgrade-password' }, 'Password'), password, problem,
      h('button.primary', { type: 'submit' }, 'Add password'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await post('/api/auth/password', { email: email.value, password: password.value });
        await refreshMe();
      } catch (err) {
        problem.textContent = err.message;
      }
    });
    out.append(form);
  }
  const providers = h('div.inline', { id: 'link-providers' });
  get('/api/auth/providers').then(({ items }) => {
    for (const p of items) {
      providers.append(h('a.button.secondary', { href: `/api/auth/${p.id}?next=/settings` }, `Link ${p.name}`));
    }
  }).catch(() => {});
  const signOutButton = h('button.secondary', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOutButton.addEventListener('click', signOut);
  out.append(providers, signOutButton);
  return out;
}

async function sessions(signOut) {
  const list = h('ul.rows', { id: 'sessions' });
  const problem = h('p.form-error', { role: 'alert' });
  const load = async () => {
    const { items } = await get('/api/auth/sessions');
    list.replaceChildren(...items.map((s) => {
      const device = deviceName(s.user_agent);
      const revoke = h('button.secondary', { type: 'button', 'aria-label': s.current ? 'Sign out of this browser' : `Sign out ${device}` },
        s.current ? 'Sign out' : 'Sign out device');
      revoke.addEventListener('click', guarded(problem, async () => {
        if (s.current) return signOut();
        await del(`/api/auth/sessions/${s.id}`);
        await load();
      }));
      // The whole User-Agent on hover, for the curious; the name is what people read.
      return h('li', { dataset: { id: s.id } },
        h('span', { title: s.user_agent ?? '' }, `${device}${s.current ? ' — this browser' : ''}`),
        h('span.muted', {}, [s.ip, s.current ? 'active now' : `last active ${ago(s.last_used_at)}`].filter(Boolean).join(' · ')),
        revoke);
    }));
  };
  await load();
  return h('div.section', {}, h('h2', {}, 'Signed-in devices'), problem, list);
}

/** "Chrome on Linux", "Sluice CLI 0.1.0", "curl": a User-Agent as people name their devices. */
export function deviceName(userAgent) {
  if (!userAgent) return 'Unknown device';
  const cli = userAgent.match(/^sluice-cli\/(\S+)/);
  if (cli) return `Sluice CLI ${cli[1]}`;
  const first = (pairs) => pairs.find(([pattern]) => pattern.test(userAgent))?.[1];
  // Order matters: Edge and Opera also say Chrome, Chrome also says Safari, iPhones say Mac OS X
  // and Android says Linux.
  const browser = first([[/Edg(A|iOS)?\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\/|FxiOS\//, 'Firefox'],
    [/Chrome\/|CriOS\//, 'Chrome'], [/Version\/[\d.]+.*Safari\//, 'Safari']]);
  const system = first([[/iPhone/, 'iPhone'], [/iPad/, 'iPad'], [/Android/, 'Android'], [/CrOS/, 'ChromeOS'],
    [/Windows/, 'Windows'], [/Macintosh|Mac OS X/, 'macOS'], [/Linux/, 'Linux']]);
  if (browser) return system ? `${browser} on ${system}` : browser;
  return userAgent.split(/[\s/]/)[0] || 'Unknown device';
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago", or the date. */
function ago(iso) {
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  const count = (n, unit) => `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  if (seconds < 90) return 'just now';
  if (seconds < 3600) return count(Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return count(Math.round(seconds / 3600), 'hour');
  if (seconds < 30 * 86400) return count(Math.round(seconds / 86400), 'day');
  return `on ${new Date(iso).toLocaleDateString()}`;
}

/** A click handler whose failure is said in `problem` (a sentence), never left uncaught. */
function guarded(problem, action) {
  return async (e) => {
    problem.textContent = '';
    try {
      await action(e);
    } catch (err) {
      problem.textContent = err.message;
    }
  };
}

async function keys() {
  const list = h('ul.rows', { id: 'keys' });
  const fresh = h('div', { id: 'new-key', role: 'status' });
  const showOnce = (key) => {
    const copy = h('button.secondary', { type: 'button', id: 'copy-key' }, 'Copy');
    copy.addEventListener('click', () => copyText(key.key, copy));
    fresh.dataset.keyId = key.id;
    fresh.replaceChildren(h('p', {}, `Copy “${key.name}” now: it is shown only once.`),
      h('div.inline', {}, h('code.secret', { id: 'fresh-key' }, key.key), copy));
  };
  const problem = h('p.form-error', { role: 'alert' });
  const load = async () => {
    const { items } = await get('/api/keys');
    list.replaceChildren(...items.map((k) => {
      const toggle = h('button.secondary', { type: 'button' }, k.enabled ? 'Disable' : 'Enable');
      toggle.addEventListener('click', guarded(problem, async () => {
        await patch(`/api/keys/${k.id}`, { enabled: !k.enabled });
        await load();
      }));
      const rotate = h('button.secondary', { type: 'button' }, 'Rotate');
      rotate.addEventListener('click', guarded(problem, async () => {
        if (!confirm(`Rotate “${k.name}”? The old key stops working at once.`)) return;
        showOnce(await post(`/api/keys/${k.id}/rotate`));
        await load();
      }));
      const remove = h('button.secondary', { type: 'button', 'aria-label': `Delete key ${k.name}` }, 'Delete');
      remove.addEventListener('click', guarded(problem, async () => {
        if (!confirm(`Delete “${k.name}”? Apps using it stop working.`)) return;
        await del(`/api/keys/${k.id}`);
        // Its secret, if still shown, is dead now: it goes too.
        if (fresh.dataset.keyId === k.id) {
          fresh.replaceChildren();
          delete fresh.dataset.keyId;
        }
        await load();
      }));
      const used = k.last_used_at ? `used ${new Date(k.last_used_at).toLocaleString()}` : 'never used';
      return h('li', { dataset: { id: k.id } }, h('span', {}, k.name), h('code', {}, `${k.prefix}…`),
        h('span.muted', {}, k.enabled ? used : 'disabled'), toggle, rotate, remove);
    }));
  };
  const name = h('input', { id: 'key-name', 'aria-label': 'New key name', placeholder: 'Key name', required: true, maxlength: 100 });
  const create = h('form.inline', { id: 'create-key' }, name, h('button.primary', { type: 'submit' }, 'Create key'));
  create.addEventListener('submit', guarded(problem, async (e) => {
    e.preventDefault();
    showOnce(await post('/api/keys', { name: name.value }));
    name.value = '';
    await load();
  }));
  await load();
  return h('div.section', {}, h('h2', {}, 'API keys'),
    h('p.muted', {}, 'Use a key as “Authorization: Bearer …” from scripts and apps.'), create, problem, fresh, list);
}

async function users() {
  const list = h('ul.rows', { id: 'users' });
  const problem = h('p.form-error', { role: 'alert' });
  const { items } = await get('/api/admin/users?limit=100');
  list.replaceChildren(...items.map((u) => {
    const disabled = Boolean(u.disabled_at);
    const toggle = h('button.secondary', { type: 'button' }, disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', guarded(problem, async () => {
      await post(`/api/admin/users/${u.id}/${disabled ? 'enable' : 'disable'}`);
      toggle.replaceWith(h('span.muted', {}, disabled ? 'enabled' : 'disabled'));
    }));
    const admin = u.roles.includes('admin');
    const roles = h('span.muted', {}, u.roles.join(', '));
    const promote = h('button.secondary', { type: 'button' }, admin ? 'Remove admin' : 'Make admin');
    promote.addEventListener('click', async () => {
      const next = admin ? u.roles.filter((r) => r !== 'admin') : [...u.roles, 'admin'];
      try {
        const updated = await put(`/api/admin/users/${u.id}/roles`, { roles: next });
        roles.textContent = (updated.roles ?? next).join(', ');
        promote.disabled = true;
      } catch (err) {
        roles.textContent = err.message;
      }
    });
    return h('li', {}, h('span', {}, u.email ?? u.display_name), roles, promote, toggle);
  }));
  return h('div.section', {}, h('h2', {}, 'Users'), problem, list);
}
