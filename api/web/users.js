// Settings → Users (admins only): every account, make or remove admins, disable / enable.

import { h, guarded } from './dom.js';
import { get, post, put } from './api.js';

export async function usersSection() {
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
