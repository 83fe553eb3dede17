// Limits (admins): each role's limits — the defaults of everyone with it — and one user's own
// overrides, opened from the Users list. An empty field is no limit (for a user: their roles').

import { h, guarded } from './dom.js';
import { get, put } from './api.js';

const FIELDS = [
  ['requests_per_minute', 'Requests / minute', '1'],
  ['tokens_per_day', 'Tokens / day', '1'],
  ['cost_per_day_usd', '$ / day', '0.01'],
  ['cost_per_month_usd', '$ / month', '0.01'],
  ['concurrent_answers', 'Answers at once', '1'],
];

/** A form of the five limits, saved with `save(limits)`; `id` prefixes its fields' ids. */
export function limitsForm(id, limits, save, placeholders = {}) {
  const inputs = FIELDS.map(([key, label, step]) => {
    const input = h('input', {
      id: `${id}-${key}`, type: 'number', min: '0', step, inputmode: 'decimal',
      value: limits[key] ?? '', placeholder: placeholders[key] ?? 'none',
    });
    return [key, h('label.limit', { for: input.id }, h('span', {}, label), input), input];
  });
  const problem = h('p.form-error', { role: 'alert' });
  const said = h('p.muted', { role: 'status' });
  const form = h('form.limits', { id }, ...inputs.map(([, label]) => label),
    h('button.secondary', { type: 'submit' }, 'Save limits'), problem, said);
  form.addEventListener('submit', guarded(problem, async (e) => {
    e.preventDefault();
    said.textContent = '';
    const body = {};
    for (const [key, , input] of inputs) body[key] = input.value === '' ? null : Number(input.value);
    await save(body);
    said.textContent = 'Saved.';
  }));
  return form;
}

/** Settings → Limits: one form per role. */
export async function roleLimitsSection() {
  const { items } = await get('/api/admin/limits');
  const forms = items.map(({ role, limits }) => h('div', {},
    h('h3', {}, `Role “${role}”`),
    limitsForm(`limits-role-${role}`, limits, (body) => put(`/api/admin/limits/roles/${encodeURIComponent(role)}`, body))));
  return h('div.section', { id: 'role-limits' }, h('h2', {}, 'Limits'),
    h('p.muted', {}, 'Per role: everyone with the role, unless their own limits say otherwise (with several roles, the most generous). Empty: no limit. Days and months are UTC.'),
    ...forms);
}

/** One user's overrides, their limits in force, and what they have used. */
export async function userLimits(user) {
  const path = `/api/admin/users/${user.id}/limits`;
  const { overrides, effective, used } = await get(path);
  const inForce = {};
  for (const [key] of FIELDS) inForce[key] = effective[key] === null ? 'none' : `role: ${effective[key]}`;
  const usage = h('p.muted', { id: `usage-${user.id}` }, describe(used));
  const form = limitsForm(`limits-user-${user.id}`, overrides, async (body) => {
    const now = await put(path, body);
    usage.textContent = describe(now.used);
  }, inForce);
  return h('div.user-limits', {}, usage, form);
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function describe(used) {
  return `Used: ${plural(used.requests_this_minute, 'request', 'requests')} this minute, `
    + `${plural(used.tokens_today, 'token', 'tokens')} and `
    + `$${used.cost_today_usd.toFixed(2)} today, $${used.cost_this_month_usd.toFixed(2)} this month, `
    + `${used.answers_in_flight} answering now.`;
}
