// Settings: the account (add a password to a guest, change it, link GitHub / Google, sign out
// here or everywhere, delete the account), then the signed-in devices (devices.js), API keys
// (keys.js), the user's own provider keys (provider_keys.js), export and import (data.js) and,
// for admins, the users (users.js).

import { h, guarded } from './dom.js';
import { api, get, post, put, del } from './api.js';
import { devicesSection } from './devices.js';
import { keysSection } from './keys.js';
import { providerKeysSection } from './provider_keys.js';
import { usersSection } from './users.js';
import { roleLimitsSection } from './limits.js';
import { dataSection } from './data.js';

/** `signedOut(notice)` shows the sign-in screen once the session is over (app.js). */
export async function settingsView(main, { me, signOut, refreshMe, signedOut }) {
  // A guest has no way back in: signing out loses its conversations, so it asks first.
  const leave = me.is_guest
    ? async () => {
      const sure = confirm('You are signed in as a guest: signing out loses these conversations for good. '
        + 'Add an email and password first to keep them. Sign out anyway?');
      if (sure) await signOut();
    }
    : signOut;
  const sections = [account(me, leave, refreshMe, signedOut), await devicesSection(leave), await keysSection(),
    await providerKeysSection(), dataSection()];
  if (me.roles.includes('admin')) sections.push(await usersSection(), await roleLimitsSection());
  sections.push(leaving(me, signedOut));
  main.replaceChildren(h('section.settings', { id: 'settings' }, h('h1', {}, 'Settings'), ...sections));
}

function account(me, signOut, refreshMe, signedOut) {
  const out = h('div.section', {}, h('h2', {}, 'Account'));
  out.append(h('p', { id: 'account-who' }, me.is_guest
    ? `Guest account (${me.display_name}). Add an email and password to sign in again later: your conversations stay.`
    : `Signed in as ${me.email ?? me.display_name}.`));
  if (me.is_guest) {
    const email = h('input', { id: 'upgrade-email', type: 'email', autocomplete: 'email', required: true });
    const password = h('input', { id: 'upgrade-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
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
  if (me.has_password) out.append(changePassword());
  const signOutButton = h('button.secondary', { type: 'button', id: 'sign-out' }, 'Sign out');
  signOutButton.addEventListener('click', signOut);
  out.append(providers, h('div.inline', {}, signOutButton, everywhere(me, signedOut)));
  return out;
}

/** The current password proves it is the owner; other devices are signed out. */
function changePassword() {
  const current = h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10 });
  const said = h('p.form-error', { role: 'alert' });
  const done = h('p.muted', { role: 'status', id: 'password-changed' });
  const form = h('form.stack', { id: 'change-password' },
    h('h3', {}, 'Change password'),
    h('label', { for: 'current-password' }, 'Current password'), current,
    h('label', { for: 'new-password' }, 'New password (10 characters or more)'), next, said, done,
    h('button.secondary', { type: 'submit' }, 'Change password'));
  form.addEventListener('submit', guarded(said, async (e) => {
    e.preventDefault();
    done.textContent = '';
    await put('/api/auth/password', { current_password: current.value, new_password: next.value });
    form.reset();
    done.textContent = 'Password changed. Every other device was signed out.';
  }));
  return form;
}

/** Signs every device out, this one too: for a lost phone or a shared computer. */
function everywhere(me, signedOut) {
  const button = h('button.secondary', { type: 'button', id: 'sign-out-everywhere' }, 'Sign out everywhere');
  const said = h('p.form-error', { role: 'alert' });
  button.addEventListener('click', guarded(said, async () => {
    const warning = me.is_guest
      ? 'You are a guest: signing out everywhere loses these conversations for good. Sign out everywhere anyway?'
      : 'Sign out of every browser and device, this one too? API keys keep working.';
    if (!confirm(warning)) return;
    await del('/api/auth/sessions');
    await signedOut('You were signed out everywhere.');
  }));
  return h('span', {}, button, said);
}

/** Deleting the account: everything in it goes, so it is confirmed twice (password, dialog). */
function leaving(me, signedOut) {
  // Accounts without a password (guests, GitHub or Google only) confirm with the dialog alone.
  const password = !me.has_password ? null
    : h('input', { id: 'delete-password', type: 'password', autocomplete: 'current-password', required: true });
  const said = h('p.form-error', { role: 'alert' });
  const form = h('form.stack.danger', { id: 'delete-account' },
    h('h2', {}, 'Delete account'),
    h('p', {}, 'Deletes the account and everything in it: conversations, API keys, devices. This cannot be undone.'),
    password && h('label', { for: 'delete-password' }, 'Your password, to confirm'), password, said,
    h('button.danger', { type: 'submit' }, 'Delete my account'));
  form.addEventListener('submit', guarded(said, async (e) => {
    e.preventDefault();
    if (!confirm('Delete your account and every conversation in it, for good?')) return;
    await api('DELETE', '/api/auth/me', password ? { password: password.value } : {});
    await signedOut('Your account was deleted.');
  }));
  return form;
}

