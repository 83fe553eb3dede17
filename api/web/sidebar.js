// The conversations sidebar: newest first under date headings (Today, Yesterday, Previous 7
// days…), more pages as it scrolls, new chat, rename, delete (confirmed), the open one
// highlighted; kept current by the account feed (changes made in other tabs and on other
// devices).

import { h } from './dom.js';
import { get, patch, del, ApiError } from './api.js';

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
    // Deletions this tab asked for: the feed's echo of them is no news.
    this.deleting = new Set();
    const newChat = h('a.button.primary.new-chat', { href: '/', id: 'new-chat' }, '+ New chat');
    newChat.addEventListener('click', (e) => { e.preventDefault(); this.navigate('/'); });
    this.el = h('nav.sidebar', { id: 'sidebar', 'aria-label': 'Sidebar' },
      newChat, this.list,
      h('div.sidebar-links', {},
        h('a.settings-link', { href: '/usage', id: 'usage-link' }, 'Usage'),
        h('a.settings-link', { href: '/settings', id: 'settings-link' }, 'Settings')));
    for (const [id, path] of [['#usage-link', '/usage'], ['#settings-link', '/settings']]) {
      this.el.querySelector(id).addEventListener('click', (e) => {
        e.preventDefault();
        this.navigate(path);
      });
    }
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
    this.regroup();
    this.highlight(this.activeId);
  }

  /** Date headings above the first conversation of each period (lists are newest first). */
  regroup() {
    for (const heading of this.list.querySelectorAll('li.period')) heading.remove();
    let shown = null;
    for (const li of this.list.querySelectorAll('li[data-id]')) {
      const period = periodOf(new Date(li.dataset.created));
      if (period === shown) continue;
      shown = period;
      li.before(h('li.period', { role: 'presentation' }, period));
    }
  }

  /** Puts a conversation at the top (a new one, or one just used). */
  upsert(conversation) {
    this.list.querySelector(`[data-id="${conversation.id}"]`)?.remove();
    this.list.prepend(this.item(conversation));
    this.regroup();
    this.highlight(this.activeId);
  }

  /** A conversation changed (renamed here or elsewhere): its entry shows it, in place. */
  update(conversation) {
    this.onRenamed(conversation.id, conversation.title);
    const old = this.list.querySelector(`[data-id="${conversation.id}"]`);
    if (!old) return; // on a page not loaded yet
    old.replaceWith(this.item(conversation));
    this.regroup();
    this.highlight(this.activeId);
  }

  /** A conversation deleted in another tab or on another device. */
  deletedElsewhere(id) {
    if (this.deleting.has(id)) return;
    this.remove(id);
    this.onDeleted(id, { elsewhere: true });
  }

  remove(id) {
    this.list.querySelector(`[data-id="${id}"]`)?.remove();
    this.regroup();
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
    rename.addEventListener('click', () => this.rename(c.id, link.textContent));
    const remove = h('button.icon', { type: 'button', 'aria-label': `Delete ${title}`, title: 'Delete' }, '×');
    remove.addEventListener('click', () => this.delete(c.id, link.textContent));
    return h('li', { dataset: { id: c.id, created: c.created_at ?? new Date().toISOString() } }, link, rename, remove);
  }

  /** Asks for a new title (also the chat header's menu). */
  async rename(id, title) {
    const next = prompt('Rename conversation', title);
    if (next === null || !next.trim()) return;
    try {
      this.update(await patch(`/api/conversations/${id}`, { title: next.trim() }));
    } catch (err) {
      // Said, not swallowed: a title over 200 characters, a conversation deleted meanwhile.
      alert(`The conversation was not renamed: ${err.message}`);
    }
  }

  /** Deletes after a confirmation (also the chat header's menu). */
  async delete(id, title) {
    if (!confirm(`Delete “${title}”? This cannot be undone.`)) return;
    this.deleting.add(id);
    try {
      await del(`/api/conversations/${id}`);
    } catch (err) {
      // Deleted meanwhile (another tab) is what was asked for; anything else is said.
      if (!(err instanceof ApiError && err.status === 404)) {
        this.deleting.delete(id);
        alert(`The conversation was not deleted: ${err.message}`);
        return;
      }
    }
    this.remove(id);
    this.onDeleted(id, { elsewhere: false });
  }
}

/** "Today", "Yesterday", "Previous 7 days", "Previous 30 days", then "November 2026"… */
export function periodOf(date, now = new Date()) {
  const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
  if (days <= 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days <= 7) return 'Previous 7 days';
  if (days <= 30) return 'Previous 30 days';
  return date.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
}
