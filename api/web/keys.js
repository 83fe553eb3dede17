// Settings → API keys: create (the secret shown once), disable / enable, rotate, delete.

import { h, copyText, guarded } from './dom.js';
import { get, post, patch, del } from './api.js';

export async function keysSection() {
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
