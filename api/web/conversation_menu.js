// The chat header's menu (⋯) for the conversation on screen: its system prompt, rename,
// star, move to a folder, download (Markdown or JSON), delete. A menu button with arrow keys and Escape, as WAI-ARIA's
// menu button pattern has it;
// the system prompt is edited in a modal <dialog>.

import { h, announce, guarded } from './dom.js';
import { get, patch, download } from './api.js';

export class ConversationMenu {
  /** `chat`: the ChatView (its conversationId, title and sidebar). */
  constructor(chat) {
    this.chat = chat;
    this.button = h('button.icon.menu-toggle', {
      type: 'button', id: 'conversation-menu-button', 'aria-label': 'Conversation menu',
      'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'conversation-menu', hidden: true,
    }, '⋯');
    const item = (id, label, action) => {
      const b = h('button', { type: 'button', role: 'menuitem', id, tabindex: '-1' }, label);
      b.addEventListener('click', () => {
        this.close();
        action();
      });
      return b;
    };
    const title = () => chat.title.textContent;
    this.menu = h('div.menu', { id: 'conversation-menu', role: 'menu', 'aria-label': 'Conversation', hidden: true },
      item('menu-system-prompt', 'System prompt…', () => this.editSystemPrompt()),
      item('menu-rename', 'Rename…', () => chat.sidebar.rename(chat.conversationId, title())),
      item('menu-star', 'Star', () => this.toggleStar()),
      item('menu-move', 'Move to folder…', () => this.moveToFolder()),
      item('menu-export-md', 'Download as Markdown', () => download(`/api/conversations/${chat.conversationId}/export?format=md`).catch(() => {})),
      item('menu-export-json', 'Download as JSON', () => download(`/api/conversations/${chat.conversationId}/export?format=json`).catch(() => {})),
      item('menu-delete', 'Delete…', () => chat.sidebar.delete(chat.conversationId, title())));
    this.button.addEventListener('click', () => (this.menu.hidden ? this.open() : this.close()));
    this.menu.addEventListener('keydown', (e) => this.key(e));
    this.el = h('div.menu-wrap', {}, this.button, this.menu);
    // A click anywhere else closes it.
    this.outside = (e) => { if (!this.el.contains(e.target)) this.close(); };
    document.addEventListener('click', this.outside);
  }

  /** Offered once there is a conversation (not on a new chat's empty page). */
  show(visible) {
    this.button.hidden = !visible;
  }

  /** Stars or unstars, as the server has it (the sidebar may not show the conversation). */
  async toggleStar() {
    const id = this.chat.conversationId;
    try {
      const conversation = await get(`/api/conversations/${id}`);
      await this.chat.sidebar.star(id, !conversation.favorite);
    } catch (err) {
      alert(`The conversation was not starred: ${err.message}`);
    }
  }

  /** Whether the conversation on screen is starred, as the sidebar shows it (the label). */
  starred() {
    return Boolean(this.chat.sidebar.entry(this.chat.conversationId)?.classList.contains('starred'));
  }

  open() {
    this.menu.querySelector('#menu-star').textContent = this.starred() ? 'Unstar' : 'Star';
    this.menu.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.items()[0].focus();
  }

  close() {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
  }

  items() {
    return [...this.menu.querySelectorAll('[role=menuitem]')];
  }

  key(e) {
    const items = this.items();
    const at = items.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      items[(moves[e.key] + items.length) % items.length].focus();
    } else if (e.key === 'Escape' || e.key === 'Tab') {
      this.close();
      if (e.key === 'Escape') this.button.focus();
    }
  }

  async editSystemPrompt() {
    const id = this.chat.conversationId;
    const said = h('p.form-error', { role: 'alert' });
    // Nothing to edit (or save) until the stored prompt is in: saving an empty box would
    // clear it.
    const text = h('textarea', { id: 'system-prompt', rows: 8, maxlength: 20000, disabled: true });
    const save = h('button.primary', { type: 'submit', disabled: true }, 'Save');
    const cancel = h('button.secondary', { type: 'button' }, 'Cancel');
    const form = h('form.stack.dialog-form', {},
      h('h2', { id: 'system-prompt-heading' }, 'System prompt'),
      h('p.muted', {}, 'Instructions the model follows throughout this conversation. Leave it empty for the server’s default.'),
      text, said, h('div.inline', {}, save, cancel));
    const dialog = h('dialog', { id: 'system-prompt-dialog', 'aria-labelledby': 'system-prompt-heading' }, form);
    this.dialog = dialog;
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      this.dialog = null;
      if (this.button.isConnected) this.button.focus();
    });
    form.addEventListener('submit', guarded(said, async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        await patch(`/api/conversations/${id}`, { system_prompt: text.value.trim() });
      } finally {
        save.disabled = false;
      }
      dialog.close();
      announce('System prompt saved.');
    }));
    document.body.append(dialog);
    dialog.showModal();
    try {
      text.value = (await get(`/api/conversations/${id}`)).system_prompt ?? '';
      text.disabled = false;
      save.disabled = false;
      text.focus();
    } catch (err) {
      said.textContent = err.message;
      cancel.focus();
    }
  }

  /** A dialog choosing the conversation's folder, or none. */
  async moveToFolder() {
    const id = this.chat.conversationId;
    const said = h('p.form-error', { role: 'alert' });
    const choice = h('select', { id: 'move-folder', disabled: true }, h('option', { value: '' }, 'No folder'));
    const move = h('button.primary', { type: 'submit', disabled: true }, 'Move');
    const cancel = h('button.secondary', { type: 'button' }, 'Cancel');
    const form = h('form.stack.dialog-form', {},
      h('h2', { id: 'move-heading' }, 'Move to folder'),
      h('label', { for: 'move-folder' }, 'Folder'), choice,
      h('p.muted', {}, 'Make folders with + beside “Folders” in the sidebar.'),
      said, h('div.inline', {}, move, cancel));
    const dialog = h('dialog', { id: 'move-dialog', 'aria-labelledby': 'move-heading' }, form);
    this.dialog = dialog;
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      this.dialog = null;
      if (this.button.isConnected) this.button.focus();
    });
    form.addEventListener('submit', guarded(said, async (e) => {
      e.preventDefault();
      move.disabled = true;
      try {
        this.chat.sidebar.update(await patch(`/api/conversations/${id}`, { group_id: choice.value || null }));
      } finally {
        move.disabled = false;
      }
      dialog.close();
      announce('Moved.');
    }));
    document.body.append(dialog);
    dialog.showModal();
    try {
      const [conversation, folders] = await Promise.all([get(`/api/conversations/${id}`), get('/api/groups')]);
      choice.append(...folders.items.map((g) => h('option', { value: g.id }, g.name)));
      choice.value = conversation.group_id ?? '';
      choice.disabled = false;
      move.disabled = false;
      choice.focus();
    } catch (err) {
      said.textContent = err.message;
      cancel.focus();
    }
  }

  /** The view is going (another page, the conversation deleted elsewhere). */
  destroy() {
    document.removeEventListener('click', this.outside);
    this.dialog?.close();
  }
}
