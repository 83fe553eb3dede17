// Settings → Provider keys: the user's own OpenAI / Anthropic / Gemini keys, used for their
// answers before the server's. Shown by their last 4 characters only (the server never sends
// more); add or replace, disable / enable, let the server's key stand in when one is refused,
// remove.

import { h, guarded } from './dom.js';
import { get, post, patch, del } from './api.js';

const PROVIDERS = [['openai', 'OpenAI'], ['anthropic', 'Anthropic'], ['gemini', 'Google Gemini']];
const nameOf = (id) => (PROVIDERS.find(([p]) => p === id) ?? [id, id])[1];

export async function providerKeysSection() {
  const list = h('ul.rows', { id: 'provider-keys' });
  const problem = h('p.form-error', { role: 'alert' });
  const said = h('p.muted', { role: 'status', id: 'provider-key-saved' });
  const load = async () => {
    const { items } = await get('/api/provider-keys');
    list.replaceChildren(...items.map((k) => {
      const toggle = h('button.secondary', { type: 'button' }, k.enabled ? 'Disable' : 'Enable');
      toggle.addEventListener('click', guarded(problem, async () => {
        await patch(`/api/provider-keys/${k.provider}`, { enabled: !k.enabled });
        await load();
      }));
      const fallbackId = `fallback-${k.provider}`;
      const fallback = h('input', { type: 'checkbox', id: fallbackId, checked: k.allow_server_fallback });
      fallback.addEventListener('change', guarded(problem, async () => {
        await patch(`/api/provider-keys/${k.provider}`, { allow_server_fallback: fallback.checked });
        await load();
      }));
      const remove = h('button.secondary', { type: 'button', 'aria-label': `Remove ${nameOf(k.provider)} key` }, 'Remove');
      remove.addEventListener('click', guarded(problem, async () => {
        if (!confirm(`Remove your ${nameOf(k.provider)} key? Your answers use the server's key again.`)) return;
        await del(`/api/provider-keys/${k.provider}`);
        await load();
      }));
      return h('li', { dataset: { provider: k.provider } },
        h('span', {}, nameOf(k.provider)), h('code', {}, `…${k.last4}`),
        h('span.muted', {}, k.enabled ? 'in use' : 'disabled'),
        h('label.check', { for: fallbackId }, fallback, 'Server key if refused'),
        toggle, remove);
    }));
  };
  const provider = h('select', { id: 'provider-key-provider', 'aria-label': 'Provider' },
    ...PROVIDERS.map(([id, name]) => h('option', { value: id }, name)));
  const key = h('input', {
    id: 'provider-key-value', type: 'password', autocomplete: 'off', 'aria-label': 'Your API key',
    placeholder: 'Your API key', required: true, minlength: 8, maxlength: 512,
  });
  const add = h('form.inline', { id: 'add-provider-key' }, provider, key,
    h('button.primary', { type: 'submit' }, 'Save key'));
  add.addEventListener('submit', guarded(problem, async (e) => {
    e.preventDefault();
    said.textContent = '';
    const saved = await post('/api/provider-keys', { provider: provider.value, api_key: key.value });
    key.value = '';
    said.textContent = `Saved your ${nameOf(saved.provider)} key …${saved.last4}.`;
    await load();
  }));
  await load();
  return h('div.section', { id: 'provider-keys-section' }, h('h2', {}, 'Provider keys'),
    h('p.muted', {}, 'Your own keys answer your chats before the server’s. They are stored encrypted and never shown again.'),
    add, problem, said, list);
}
