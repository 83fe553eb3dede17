// The sign-in screen: email + password (sign in or create an account), or continue as a
// guest; GitHub / Google buttons when the server has them configured.

import { h } from './dom.js';
import { post, get, ApiError } from './api.js';

export async function signInView(root, { notice, onSignedIn }) {
  const providers = await get('/api/auth/providers').catch(() => ({ items: [] }));
  const error = h('p.form-error', { role: 'alert' }, notice ?? '');
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true, minlength: 8 });
  let mode = 'login';
  const submit = h('button.primary', { type: 'submit', id: 'signin-submit' }, 'Sign in');
  const toggle = h('button.link', { type: 'button', id: 'signin-toggle' }, 'Create an account instead');
  toggle.addEventListener('click', () => {
    mode = mode === 'login' ? 'register' : 'login';
    submit.textContent = mode === 'login' ? 'Sign in' : 'Create account';
    toggle.textContent = mode === 'login' ? 'Create an account instead' : 'I already have an account';
    password.autocomplete = mode === 'login' ? 'current-password' : 'new-password';
  });
  const form = h('form.card', { id: 'signin-form' },
    h('h1', {}, 'Sluice'),
    h('p.muted', {}, 'Sign in to chat. Answers keep streaming even if you close the tab.'),
    error,
    h('label', { for: 'email' }, 'Email'), email,
    h('label', { for: 'password' }, 'Password'), password,
    submit, toggle);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    try {
      await post(`/api/auth/${mode}`, { email: email.value, password: password.value });
      onSignedIn();
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : 'Could not reach Sluice.';
    } finally {
      submit.disabled = false;
    }
  });
  const guest = h('button.secondary', { type: 'button', id: 'guest' }, 'Continue as guest');
  guest.addEventListener('click', async () => {
    guest.disabled = true;
    try {
      await post('/api/auth/guest');
      onSignedIn();
    } catch (err) {
      error.textContent = err.message;
      guest.disabled = false;
    }
  });
  const next = encodeURIComponent(location.pathname);
  const external = (providers.items ?? []).map((p) =>
    h('a.button.secondary', { href: `/api/auth/${p.id}?next=${next}` }, `Continue with ${p.name}`));
  root.replaceChildren(h('main.signin', {}, form, h('div.card.alt', {}, guest, ...external)));
  email.focus();
}
