// The conversations sidebar, top to bottom: the search box (`search.js`), Favorites (starred), Folders (collapsible, each
// loading its conversations when first opened), then Chats — the rest, newest first under date
// headings (Today, Yesterday, Previous 7 days…), more pages as it scrolls. A conversation is
// shown in one place: starred ones under Favorites, else in their folder, else under Chats.
// New chat, star, rename, delete (confirmed), drag onto a folder to move; the open one
// highlighted; kept current by the account feed (changes made in other tabs and on other
// devices).

import { h, insertByDate } from './dom.js';
import { get, patch, del, ApiError } from './api.js';
import { Folders } from './folders.js';
import { Search } from './search.js';

export class Sidebar {
  constructor({ navigate, onDeleted, onRenamed }) {
    this.navigate = navigate;
    this.onDeleted = onDeleted;
    this.onRenamed = onRenamed;
    this.favorites = h('ul.conversations', { id: 'favorites', 'aria-label': 'Favorites' });
    this.favoritesSection = h('section.sidebar-section', { id: 'favorites-section', hidden: true },
      h('h2.section-title', {}, 'Favorites'), this.favorites);
    this.folders = new Folders(this);
    this.list = h('ul.conversations', { id: 'conversations', 'aria-label': 'Chats' });
    this.sentinel = h('li.sentinel', { 'aria-hidden': 'true' });
    this.chatsTitle = h('h2.section-title', {}, 'Chats');
    // Dropping a conversation on "Chats" takes it out of its folder.
    this.folders.dropTarget(this.chatsTitle, null);
    this.scroller = h('div.sidebar-scroll', {},
      this.favoritesSection, this.folders.el,
      h('section.sidebar-section', {}, this.chatsTitle, this.list));
    this.cursor = undefined;
    this.loading = false;
    this.activeId = null;
    // Deletions this tab asked for: the feed's echo of them is no news.
    this.deleting = new Set();
    const newChat = h('a.button.primary.new-chat', { href: '/', id: 'new-chat' }, '+ New chat');
    newChat.addEventListener('click', (e) => { e.preventDefault(); this.navigate('/'); });
    this.search = new Search({ navigate: (path) => this.navigate(path), lists: this.scroller });
    this.search.panel.classList.add('sidebar-scroll');
    this.el = h('nav.sidebar', { id: 'sidebar', 'aria-label': 'Sidebar' },
      newChat, this.search.input, this.search.panel, this.scroller,
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
    }, { root: this.scroller }).observe(this.sentinel);
  }

  async reload() {
    this.list.replaceChildren(this.sentinel);
    this.cursor = undefined;
    this.favorites.replaceChildren();
    await Promise.all([this.loadFavorites(), this.folders.reload()]);
    this.favoritesSection.hidden = !this.favorites.querySelector('li[data-id]');
    await this.more();
  }

  /** Every starred conversation, a page at a time. */
  async loadFavorites() {
    let cursor = null;
    do {
      const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await get(`/api/conversations?favorite=true&limit=100${more}`);
      this.favorites.append(...page.items.map((c) => this.item(c)));
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** The next page of Chats: conversations in no folder and not starred. */
  async more() {
    if (this.loading || this.cursor === null) return;
    this.loading = true;
    try {
      const query = this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : '';
      const page = await get(`/api/conversations?group=none&favorite=false&limit=30${query}`);
      for (const c of page.items) {
        // Moved here by the feed before its page came: shown once.
        if (!this.entry(c.id)) this.sentinel.before(this.item(c));
      }
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

  entry(id) {
    return this.el.querySelector(`li[data-id="${id}"]`);
  }

  /** Puts a new conversation at the top of Chats. */
  upsert(conversation) {
    this.entry(conversation.id)?.remove();
    this.list.prepend(this.item(conversation));
    this.regroup();
    this.highlight(this.activeId);
  }

  /**
   * A conversation changed (renamed, starred or moved, here or elsewhere): it is shown where
   * it now belongs, in date order.
   */
  update(conversation) {
    this.onRenamed(conversation.id, conversation.title);
    const old = this.entry(conversation.id);
    const movedFolder = old && (old.dataset.group || '') !== (conversation.group_id || '');
    old?.remove();
    const list = this.listFor(conversation);
    // A list not loaded yet (a closed folder, a later page of Chats) shows it when it loads.
    if (list) insertByDate(list, this.item(conversation), list === this.list ? this.sentinel : null);
    this.favoritesSection.hidden = !this.favorites.querySelector('li[data-id]');
    this.regroup();
    this.highlight(this.activeId);
    if (movedFolder || !old) this.folders.recount();
  }

  listFor(c) {
    if (c.favorite) return this.favorites;
    if (c.group_id) return this.folders.listOf(c.group_id);
    return this.list;
  }

  /** A conversation deleted in another tab or on another device. */
  deletedElsewhere(id) {
    if (this.deleting.has(id)) return;
    this.remove(id);
    this.onDeleted(id, { elsewhere: true });
  }

  remove(id) {
    const gone = this.entry(id);
    gone?.remove();
    this.favoritesSection.hidden = !this.favorites.querySelector('li[data-id]');
    this.regroup();
    if (gone?.dataset.group) this.folders.recount();
  }

  highlight(id) {
    this.activeId = id;
    for (const li of this.el.querySelectorAll('li[data-id]')) {
      const active = li.dataset.id === id;
      li.classList.toggle('active', active);
      li.querySelector('a').toggleAttribute('aria-current', active);
    }
  }

  item(c) {
    const title = c.title || 'New chat';
    const link = h('a.title', { href: `/c/${c.id}` }, title);
    link.addEventListener('click', (e) => { e.preventDefault(); this.navigate(`/c/${c.id}`); });
    const star = h('button.icon.star', {
      type: 'button', 'aria-pressed': String(Boolean(c.favorite)),
      'aria-label': `${c.favorite ? 'Unstar' : 'Star'} ${title}`, title: c.favorite ? 'Unstar' : 'Star',
    }, c.favorite ? '★' : '☆');
    star.addEventListener('click', () => this.star(c.id, !c.favorite));
    const rename = h('button.icon', { type: 'button', 'aria-label': `Rename ${title}`, title: 'Rename' }, '✎');
    rename.addEventListener('click', () => this.rename(c.id, link.textContent));
    const remove = h('button.icon', { type: 'button', 'aria-label': `Delete ${title}`, title: 'Delete' }, '×');
    remove.addEventListener('click', () => this.delete(c.id, link.textContent));
    const li = h('li', {
      draggable: 'true',
      dataset: { id: c.id, created: c.created_at ?? new Date().toISOString(), group: c.group_id ?? '' },
    }, link, star, rename, remove);
    if (c.favorite) li.classList.add('starred');
    li.addEventListener('dragstart', (e) => {
      e.dataTransfer.setData('application/x-sluice-conversation', c.id);
      e.dataTransfer.effectAllowed = 'move';
    });
    return li;
  }

  /** Stars or unstars (also the chat header's menu). */
  async star(id, favorite) {
    await this.change(id, { favorite }, favorite ? 'starred' : 'unstarred');
  }

  /** Puts a conversation in a folder, or in none (`null`): drag and drop, and the header's menu. */
  async move(id, groupId) {
    await this.change(id, { group_id: groupId }, 'moved');
  }

  async change(id, body, done) {
    try {
      this.update(await patch(`/api/conversations/${id}`, body));
    } catch (err) {
      // Said, not swallowed: a folder or conversation deleted meanwhile.
      alert(`The conversation was not ${done}: ${err.message}`);
    }
  }

  /** Asks for a new title (also the chat header's menu). */
  async rename(id, title) {
    const next = prompt('Rename conversation', title);
    if (next === null || !next.trim()) return;
    await this.change(id, { title: next.trim() }, 'renamed');
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
