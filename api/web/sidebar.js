// The conversations sidebar: newest first, more pages as it scrolls, new chat, rename,
// delete (confirmed), the open one highlighted.

import { h } from './dom.js';
import { get, patch, del } from './api.js';

export class Sidebar {
  constructor({ navigate, onDeleted, onRenamed }) {
    this.navigate = navigate;
    this.onDeleted = onDeleted;
    this.onRenamed = onRenamed;
    this.list = h('ul.conversations', { id: 'conversations', 'aria-label': 'Conversations' });
    this.sentinel = h('li.sentinel', { 'aria-hidden': 'true' });
    this.cursor = undefined;
    this.loading = false;
    this.activeId = null;
    const newChat = h('a.button.primary.new-chat', { href: '/', id: 'new-chat' }, '+ New chat');
    newChat.addEventListener('click', (e) => { e.preventDefault(); this.navigate('/'); });
    this.el = h('nav.sidebar', { id: 'sidebar', 'aria-label': 'Sidebar' },
      newChat, this.list,
      h('a.settings-link', { href: '/settings', id: 'settings-link' }, 'Settings'));
    this.el.querySelector('#settings-link').addEventListener('click', (e) => {
      e.preventDefault();
      this.navigate('/settings');
    });
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    }, { root: this.list }).observe(this.sentinel);
  }

  async reload() {
    this.list.replaceChildren(this.sentinel);
    this.cursor = undefined;
    await this.more();
  }

  async more() {
    if (this.loading || this.cursor === null) return;
    this.loading = true;
    try {
      const query = this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : '';
      const page = await get(`/api/conversations?limit=30${query}`);
      for (const c of page.items) this.sentinel.before(this.item(c));
      this.cursor = page.next_cursor ?? null;
    } finally {
      this.loading = false;
    }
    this.highlight(this.activeId);
  }

  /** Puts a conversation at the top (a new one, or one just used). */
  upsert(conversation) {
    this.list.querySelector(`[data-id="${conversation.id}"]`)?.remove();
    this.list.prepend(this.item(conversation));
    this.highlight(this.activeId);
  }

  remove(id) {
    this.list.querySelector(`[data-id="${id}"]`)?.remove();
  }

  highlight(id) {
    this.activeId = id;
    for (const li of this.list.querySelectorAll('li[data-id]')) {
      const active = li.dataset.id === id;
      li.classList.toggle('active', active);
      li.querySelector('a').toggleAttribute('aria-current', active);
    }
  }

  item(c) {
    const title = c.title || 'New chat';
    const link = h('a.title', { href: `/c/${c.id}` }, title);
    link.addEventListener('click', (e) => { e.preventDefault(); this.navigate(`/c/${c.id}`); });
    const rename = h('button.icon', { type: 'button', 'aria-label': `Rename ${title}`, title: 'Rename' }, '✎');
    rename.addEventListener('click', async () => {
      const next = prompt('Rename conversation', link.textContent);
      if (next === null || !next.trim()) return;
      try {
        const updated = await patch(`/api/conversations/${c.id}`, { title: next.trim() });
        link.textContent = updated.title;
        this.onRenamed(c.id, updated.title);
      } catch (err) {
        // Said, not swallowed: a title over 200 characters, a conversation deleted meanwhile.
        alert(`The conversation was not renamed: ${err.message}`);
      }
    });
    const remove = h('button.icon', { type: 'button', 'aria-label': `Delete ${title}`, title: 'Delete' }, '×');
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete “${link.textContent}”? This cannot be undone.`)) return;
      await del(`/api/conversations/${c.id}`);
      li.remove();
      this.onDeleted(c.id);
    });
    const li = h('li', { dataset: { id: c.id } }, link, rename, remove);
    return li;
  }
}
