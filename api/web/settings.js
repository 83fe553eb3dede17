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
  const load = async () => {
    const { items } = await get('/api/auth/sessions');
    list.replaceChildren(...items.map((s) => {
      const revoke = h('button.secondary', { type: 'button', 'aria-label': s.current ? 'Sign out of this browser' : `Revoke ${s.user_agent ?? 'device'}` },
        s.current ? 'Sign out' : 'Revoke');
      revoke.addEventListener('click', async () => {
        if (s.current) return signOut();
        await del(`/api/auth/sessions/${s.id}`);
        load();
      });
      return h('li', { dataset: { id: s.id } },
        h('span', {}, `${s.user_agent ?? 'unknown device'}${s.current ? ' — this browser' : ''}`),
        h('span.muted', {}, `${s.ip ?? ''} · last used ${new Date(s.last_used_at).toLocaleString()}`),
        revoke);
    }));
  };
  await load();
  return h('div.section', {}, h('h2', {}, 'Signed-in devices'), list);
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
  const load = async () => {
    const { items } = await get('/api/keys');
    list.replaceChildren(...items.map((k) => {
      const toggle = h('button.secondary', { type: 'button' }, k.enabled ? 'Disable' : 'Enable');
      toggle.addEventListener('click', async () => {
        await patch(`/api/keys/${k.id}`, { enabled: !k.enabled });
        load();
      });
      const rotate = h('button.secondary', { type: 'button' }, 'Rotate');
      rotate.addEventListener('click', async () => {
        if (!confirm(`Rotate “${k.name}”? The old key stops working at once.`)) return;
        showOnce(await post(`/api/keys/${k.id}/rotate`));
        load();
      });
      const remove = h('button.secondary', { type: 'button', 'aria-label': `Delete key ${k.name}` }, 'Delete');
      remove.addEventListener('click', async () => {
        if (!confirm(`Delete “${k.name}”? Apps using it stop working.`)) return;
        await del(`/api/keys/${k.id}`);
        // Its secret, if still shown, is dead now: it goes too.
        if (fresh.dataset.keyId === k.id) {
          fresh.replaceChildren();
          delete fresh.dataset.keyId;
        }
        load();
      });
      const used = k.last_used_at ? `used ${new Date(k.last_used_at).toLocaleString()}` : 'never used';
      return h('li', { dataset: { id: k.id } }, h('span', {}, k.name), h('code', {}, `${k.prefix}…`),
        h('span.muted', {}, k.enabled ? used : 'disabled'), toggle, rotate, remove);
    }));
  };
  const name = h('input', { id: 'key-name', 'aria-label': 'New key name', placeholder: 'Key name', required: true, maxlength: 100 });
  const create = h('form.inline', { id: 'create-key' }, name, h('button.primary', { type: 'submit' }, 'Create key'));
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    showOnce(await post('/api/keys', { name: name.value }));
    name.value = '';
    load();
  });
  await load();
  return h('div.section', {}, h('h2', {}, 'API keys'),
    h('p.muted', {}, 'Use a key as “Authorization: Bearer …” from scripts and apps.'), create, fresh, list);
}

async function users() {
  const list = h('ul.rows', { id: 'users' });
  const { items } = await get('/api/admin/users?limit=100');
  list.replaceChildren(...items.map((u) => {
    const disabled = Boolean(u.disabled_at);
    const toggle = h('button.secondary', { type: 'button' }, disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', async () => {
      await post(`/api/admin/users/${u.id}/${disabled ? 'enable' : 'disable'}`);
      toggle.replaceWith(h('span.muted', {}, disabled ? 'enabled' : 'disabled'));
    });
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
  return h('div.section', {}, h('h2', {}, 'Users'), list);
}
