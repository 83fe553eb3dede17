// Settings → Users (admins only): every account, make or remove admins, disable / enable, and
// each one's limits (limits.js).

import { h, guarded } from './dom.js';
import { get, post, put } from './api.js';
import { userLimits } from './limits.js';

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
    const name = u.email ?? u.display_name;
    const limits = h('button.secondary', { type: 'button', 'aria-expanded': 'false', 'aria-label': `Limits of ${name}` }, 'Limits');
    const row = h('li', { dataset: { id: u.id } }, h('span', {}, name), roles, promote, toggle, limits);
    limits.addEventListener('click', guarded(problem, async () => {
      const open = row.querySelector('.user-limits');
      if (open) {
        open.remove();
        limits.setAttribute('aria-expanded', 'false');
        return;
      }
      row.append(await userLimits(u));
      limits.setAttribute('aria-expanded', 'true');
    }));
    return row;
  }));
  return h('div.section', {}, h('h2', {}, 'Users'), problem, list);
}
