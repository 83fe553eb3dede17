// The sidebar's Folders: collapsible, each loading its conversations when first opened, with
// how many it holds; new folder, rename, delete (its conversations go back to Chats — the
// server keeps them, out of any folder). Each folder, and the Chats heading, takes a
// conversation dragged onto it.

import { h, insertByDate } from './dom.js';
import { get, post, patch, del } from './api.js';

const DRAGGED = 'application/x-sluice-conversation';

export class Folders {
  constructor(sidebar) {
    this.sidebar = sidebar;
    this.list = h('ul.folders', { id: 'folders', 'aria-label': 'Folders' });
    const add = h('button.icon.new-folder', {
      type: 'button', id: 'new-folder', 'aria-label': 'New folder', title: 'New folder',
    }, '+');
    add.addEventListener('click', () => this.create());
    this.el = h('section.sidebar-section', { id: 'folders-section' },
      h('div.section-head', {}, h('h2.section-title', {}, 'Folders'), add), this.list);
    /** The folders as last read: `[{id, name, conversations}]` (the header menu's choices). */
    this.groups = [];
  }

  async reload() {
    const { items } = await get('/api/groups');
    this.groups = items;
    this.list.replaceChildren(...items.map((g) => this.folder(g)));
  }

  /**
   * Names and counts read again — after a move, or a folder made, renamed or deleted in
   * another tab — keeping which folders are open and what they show.
   */
  async recount() {
    const { items } = await get('/api/groups');
    this.groups = items;
    const shown = new Map([...this.list.children].map((li) => [li.dataset.groupId, li]));
    const next = items.map((g) => {
      const li = shown.get(g.id);
      if (!li) return this.folder(g);
      li.querySelector('.folder-name').textContent = g.name;
      li.querySelector('.count').textContent = String(g.conversations);
      li.querySelector('ul.conversations').setAttribute('aria-label', g.name);
      return li;
    });
    let unseen = false;
    for (const [id, li] of shown) {
      if (items.some((g) => g.id === id)) continue;
      this.dissolve(li);
      // Its conversations this tab never loaded are now in Chats, perhaps on pages shown.
      if (!li.dataset.loaded) unseen = true;
    }
    this.list.replaceChildren(...next);
    if (unseen) await this.sidebar.reload();
  }

  /** The list a folder shows its conversations in, once it has loaded them (else null). */
  listOf(groupId) {
    const li = this.list.querySelector(`li.folder[data-group-id="${groupId}"]`);
    return li?.dataset.loaded === 'true' ? li.querySelector('ul.conversations') : null;
  }

  folder(g) {
    const conversations = h('ul.conversations.in-folder', { 'aria-label': g.name });
    const rename = h('button.icon', { type: 'button', title: 'Rename folder', 'aria-label': `Rename folder ${g.name}` }, '✎');
    const remove = h('button.icon', { type: 'button', title: 'Delete folder', 'aria-label': `Delete folder ${g.name}` }, '×');
    const summary = h('summary', {},
      h('span.folder-name', {}, g.name), h('span.count', { 'aria-label': 'conversations' }, String(g.conversations)),
      rename, remove);
    const details = h('details', {}, summary, conversations);
    const li = h('li.folder', { dataset: { groupId: g.id } }, details);
    // Buttons in a <summary> would also open or close the folder.
    rename.addEventListener('click', (e) => { e.preventDefault(); this.rename(g.id, li); });
    remove.addEventListener('click', (e) => { e.preventDefault(); this.delete(g.id, li); });
    details.addEventListener('toggle', () => {
      if (details.open && !li.dataset.loaded) this.load(g.id, li);
    });
    this.dropTarget(summary, g.id);
    return li;
  }

  /** A folder's conversations (starred ones are under Favorites), every page. */
  async load(groupId, li) {
    li.dataset.loaded = 'true';
    const list = li.querySelector('ul.conversations');
    let cursor = null;
    do {
      const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const page = await get(`/api/conversations?group=${groupId}&favorite=false&limit=100${more}`);
      for (const c of page.items) {
        if (!this.sidebar.entry(c.id)) list.append(this.sidebar.item(c));
      }
      cursor = page.next_cursor;
    } while (cursor);
    this.sidebar.highlight(this.sidebar.activeId);
  }

  /** A folder deleted: the conversations it showed go back to Chats. */
  dissolve(li) {
    for (const entry of li.querySelectorAll('li[data-id]')) {
      entry.dataset.group = '';
      insertByDate(this.sidebar.list, entry, this.sidebar.sentinel);
    }
    this.sidebar.regroup();
  }

  async create() {
    const name = prompt('New folder name');
    if (name === null || !name.trim()) return;
    try {
      await post('/api/groups', { name: name.trim() });
      await this.recount();
    } catch (err) {
      alert(`The folder was not made: ${err.message}`);
    }
  }

  async rename(groupId, li) {
    const before = li.querySelector('.folder-name').textContent;
    const name = prompt('Rename folder', before);
    if (name === null || !name.trim()) return;
    try {
      await patch(`/api/groups/${groupId}`, { name: name.trim() });
      await this.recount();
    } catch (err) {
      alert(`The folder was not renamed: ${err.message}`);
    }
  }

  async delete(groupId, li) {
    const name = li.querySelector('.folder-name').textContent;
    if (!confirm(`Delete the folder “${name}”? Its conversations are kept, in no folder.`)) return;
    try {
      await del(`/api/groups/${groupId}`);
    } catch (err) {
      alert(`The folder was not deleted: ${err.message}`);
      return;
    }
    await this.recount();
  }

  /** `el` takes a conversation dragged onto it into folder `groupId` (`null`: none). */
  dropTarget(el, groupId) {
    el.addEventListener('dragover', (e) => {
      if (!e.dataTransfer.types.includes(DRAGGED)) return;
      e.preventDefault();
      el.classList.add('drop-here');
    });
    el.addEventListener('dragleave', () => el.classList.remove('drop-here'));
    el.addEventListener('drop', (e) => {
      el.classList.remove('drop-here');
      const id = e.dataTransfer.getData(DRAGGED);
      if (!id) return;
      e.preventDefault();
      this.sidebar.move(id, groupId);
    });
  }
}
