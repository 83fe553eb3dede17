// The chat view: the conversation's messages, answers rendering as they stream, the composer
// (Enter sends, Shift+Enter breaks the line), a model picker and Stop.

import { h, announce, copyText } from './dom.js';
import { get, post, patch, del, ApiError } from './api.js';
import { LiveMarkdown, renderMarkdown } from './render.js';
import { followAnswer, followConversation } from './stream.js';
import { ConversationMenu } from './conversation_menu.js';
import { Attachments, fileLinks } from './attach.js';

const RUNNING = ['queued', 'streaming'];
const TITLE_CHARS = 60;
const CONVERSATION_GONE = 'This conversation was deleted (perhaps in another tab). Start a new chat to keep going.';
// Within this of the end, the reader is at the end (and the view follows new text).
const NEAR_END_PX = 48;

/**
 * A conversation's first title: the first line as plain words (no markdown marks), cut at a
 * word, at most 60 characters. The same rule as the API's (`conversations/title.rs`).
 */
export function titleFrom(message) {
  const line = (message.split('\n').map((l) => l.trim()).find((l) => l) ?? '')
    .replace(/^[#> ]+/, '').replace(/^[-*+] /, '');
  // Without the characters a name may not hold (`validate::is_unsafe_in_name` on the server).
  const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;
  const words = line.split(/\s+/)
    .map((w) => w.replace(/[*`~]/g, '').replace(/__/g, '').replace(unsafe, ''))
    .filter((w) => w);
  let title = '';
  for (const word of words) {
    const next = (title ? 1 : 0) + [...word].length;
    if ([...title].length + next > TITLE_CHARS - 1) {
      if (!title) title = [...word].slice(0, TITLE_CHARS - 1).join('');
      return `${title}…`;
    }
    title += (title ? ' ' : '') + word;
  }
  return title;
}

export class ChatView {
  constructor({ conversationId, models, sidebar }) {
    this.conversationId = conversationId;
    this.models = models;
    this.sidebar = sidebar;
    this.known = new Set();
    this.running = new Map();
    // Answers to the same question (regenerate), oldest first: reply_to → [article]; and the
    // one the reader chose to see (the newest unless they browsed): reply_to → index.
    this.alternates = new Map();
    this.shownAnswer = new Map();
    // Versions of an edited question, oldest first: first version's id → [article] (see
    // `layout`); the one chosen (with the branch after it); what each replaced: id → edit_of.
    this.versions = new Map();
    this.shownVersion = new Map();
    this.editOf = new Map();
    // User messages' text by id, for Retry.
    this.questions = new Map();
    this.stopConversation = null;
    this.sending = false;

    this.messages = h('div.messages', { id: 'messages', role: 'log', 'aria-label': 'Messages' });
    // Streaming text follows the end only while the reader is there: scrolled up to read, the
    // view stays put and "Jump to latest" offers the way back.
    this.atEnd = true;
    this.jumpButton = h('button.jump-latest', { type: 'button', id: 'jump-latest', hidden: true }, 'Jump to latest ↓');
    this.jumpButton.addEventListener('click', () => {
      this.scrollToEnd();
      this.input.focus();
    });
    this.messages.addEventListener('scroll', () => {
      const { scrollHeight, scrollTop, clientHeight } = this.messages;
      this.atEnd = scrollHeight - scrollTop - clientHeight < NEAR_END_PX;
      if (this.atEnd) this.jumpButton.hidden = true;
    }, { passive: true });
    this.picker = h('select', { id: 'model', 'aria-label': 'Model' },
      models.map((m) => h('option', { value: m.id, selected: m.default }, `${m.display_name} · ${Math.round(m.context_tokens / 1024)}k`)));
    this.picker.addEventListener('change', () => {
      if (this.conversationId) patch(`/api/conversations/${this.conversationId}`, { model: this.picker.value }).catch(() => {});
    });
    this.title = h('h1.chat-title', {}, 'New chat');
    this.menu = new ConversationMenu(this);
    this.indicator = h('span.indicator', { id: 'connection', role: 'status' });
    this.input = h('textarea', { id: 'composer', rows: 1, placeholder: 'Ask anything', 'aria-label': 'Message' });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    // What is typed survives a reload (or a refused send) until it is sent: a draft per
    // conversation, in this tab's session storage.
    this.input.value = sessionStorage.getItem(this.draftKey()) ?? '';
    this.input.addEventListener('input', () => {
      this.grow();
      this.saveDraft();
    });
    this.sendButton = h('button.primary', { type: 'submit', id: 'send' }, 'Send');
    this.stopButton = h('button.secondary', { type: 'button', id: 'stop', hidden: true }, 'Stop');
    this.stopButton.addEventListener('click', async () => {
      await this.stop();
      // Stop hides itself: the composer takes the focus, not the page.
      this.input.focus();
    });
    this.composerError = h('p.form-error', { id: 'composer-error', role: 'alert' });
    this.el = h('section.chat', { 'aria-label': 'Chat' });
    // Files are dropped anywhere on the chat.
    this.attachments = new Attachments(this.el, (text) => { this.composerError.textContent = text; });
    const composer = h('form.composer', { id: 'composer-form' },
      this.composerError, this.attachments.tray,
      h('div.composer-row', {}, this.attachments.button, this.attachments.picker, this.input, this.stopButton, this.sendButton));
    composer.addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    this.el.append(
      h('header.chat-header', {}, this.title, this.indicator, this.picker, this.menu.el),
      h('div.messages-frame', {}, this.messages, this.jumpButton), composer);
  }

  draftKey() {
    return `sluice.draft.${this.conversationId ?? 'new'}`;
  }

  saveDraft() {
    if (this.input.value) sessionStorage.setItem(this.draftKey(), this.input.value);
    else sessionStorage.removeItem(this.draftKey());
  }

  /** The conversation's title in the header and the browser tab. */
  showTitle(title) {
    this.title.textContent = title || 'New chat';
    document.title = title ? `${title} · Sluice` : 'Sluice';
  }

  async load() {
    this.grow(); // a restored draft
    if (!this.conversationId) {
      this.showTitle(null);
      this.messages.append(h('p.empty', {}, 'Start a conversation: type below and press Enter.'));
      return true;
    }
    let conversation;
    try {
      conversation = await get(`/api/conversations/${this.conversationId}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return false;
      throw err;
    }
    this.showTitle(conversation.title);
    this.picker.value = conversation.model;
    this.menu.show(true);
    await this.refreshMessages();
    this.listenForOtherTabs();
    return true;
  }

  /** False when the conversation is gone (deleted while this page was not listening). */
  async stillThere() {
    return get(`/api/conversations/${this.conversationId}`)
      .then(() => true, (err) => !(err instanceof ApiError && err.status === 404));
  }

  /** Answers started elsewhere (another tab, the CLI) appear here as they stream; the title the
   *  model gives shows at once. */
  listenForOtherTabs() {
    this.stopConversation = followConversation(this.conversationId, (messageId) => {
      if (!this.known.has(messageId)) this.refreshMessages();
    }, (title) => this.showTitle(title));
  }

  /** Adds the newest messages this page does not show yet (the latest page the first time). */
  async refreshMessages() {
    const page = await get(`/api/conversations/${this.conversationId}/messages?order=newest&limit=30`);
    if (this.olderCursor === undefined) this.olderCursor = page.next_cursor;
    for (const m of page.items.reverse()) {
      if (!this.known.has(m.id)) this.addMessage(m);
    }
    this.scrollToEnd();
    this.watchTop();
  }

  /** Older pages load as the reader scrolls up, keeping what is on screen in place. */
  watchTop() {
    if (this.topSentinel || !this.olderCursor) return;
    this.topSentinel = h('div.sentinel', { 'aria-hidden': 'true' });
    this.messages.prepend(this.topSentinel);
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadOlder();
    }, { root: this.messages }).observe(this.topSentinel);
  }

  /** The page of messages before the oldest shown, keeping what is on screen in place. */
  async loadOlder() {
    if (this.loadingOlder || !this.olderCursor) return;
    this.loadingOlder = true;
    try {
      const cursor = encodeURIComponent(this.olderCursor);
      const page = await get(`/api/conversations/${this.conversationId}/messages?order=newest&limit=30&cursor=${cursor}`);
      this.olderCursor = page.next_cursor;
      const before = this.messages.scrollHeight - this.messages.scrollTop;
      // Newest first, each placed above the ones shown: the page ends up in order.
      for (const m of page.items) {
        if (!this.known.has(m.id)) this.addMessage(m, this.topSentinel.nextSibling);
      }
      this.messages.scrollTop = this.messages.scrollHeight - before;
      if (!this.olderCursor) this.topSentinel.remove();
    } finally {
      this.loadingOlder = false;
    }
  }

  /** Scrolls to message `id` (a search hit), loading older pages until it is there. */
  async showMessage(id) {
    const find = () => this.messages.querySelector(`article.msg[data-id="${id}"]`);
    while (!find() && this.olderCursor) await this.loadOlder();
    const article = find();
    if (!article) return;
    article.scrollIntoView({ block: 'center' });
    article.classList.add('found');
  }

  /** Shows a message at the end, or before `anchor` (older pages). */
  addMessage(m, anchor = null) {
    this.known.add(m.id);
    const place = (el) => this.messages.insertBefore(el, anchor);
    if (m.role === 'user') {
      const text = h('div.text', {}, m.content);
      const copy = h('button.copy', { type: 'button', 'aria-label': 'Copy message' }, 'Copy');
      copy.addEventListener('click', () => copyText(m.content, copy));
      const files = m.attachments?.length ? [fileLinks(m.attachments)] : [];
      const article = h('article.msg.user', { dataset: { id: m.id, superseded: m.superseded } },
        text, ...files, h('footer', {}, h('span.alternates'), h('span.actions'), copy));
      if (!m.superseded) this.offerEdit(article, m);
      place(article);
      this.questions.set(m.id, m.content);
      this.addVersion(m, anchor !== null);
      return;
    }
    const body = h('div.text.markdown');
    const status = h('span.status');
    const copy = h('button.copy', { type: 'button', 'aria-label': 'Copy answer' }, 'Copy');
    const browse = h('span.alternates');
    const actions = h('span.actions');
    const article = h('article.msg.assistant', { dataset: { id: m.id, status: m.status, superseded: m.superseded } },
      body, h('footer', {}, browse, status, actions, copy));
    let text = m.content;
    copy.addEventListener('click', () => copyText(text, copy));
    article.dataset.replyTo = m.reply_to ?? m.id;
    place(article);
    this.addAlternate(article, anchor !== null);
    // Looked up when needed: on older pages an answer is placed before its question.
    const question = () => this.questions.get(m.reply_to);
    const show = (kind, detail) => this.showEnd(article, status, kind, detail, question);
    if (RUNNING.includes(m.status)) {
      const live = new LiveMarkdown(body);
      article.setAttribute('aria-busy', 'true');
      status.textContent = 'Answering…';
      const stop = followAnswer(m.id, {
        onText: (t) => {
          text = t;
          live.set(t);
          this.followEnd();
        },
        onState: (state) => this.showConnection(state),
        onEnd: (kind, data, finalText) => {
          // For the web benchmark: the frame after the final text was drawn.
          requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('sluice-answer-painted')));
          text = finalText;
          this.running.delete(m.id);
          this.updateStop();
          article.removeAttribute('aria-busy');
          article.dataset.status = kind;
          show(kind, data.message);
          this.offerRegenerate();
          if (kind === 'done') announce(finalText);
        },
      });
      this.running.set(m.id, stop);
      this.updateStop();
    } else {
      body.append(renderMarkdown(m.content));
      show(m.status === 'done' ? 'done' : m.status, m.error_code);
    }
    this.offerRegenerate();
  }

  /** One more answer to its question (regenerate): the newest is shown, ‹ n/m › browses. */
  addAlternate(article, older) {
    const key = article.dataset.replyTo;
    const group = this.alternates.get(key) ?? [];
    if (older) group.unshift(article);
    else {
      group.push(article);
      this.shownAnswer.delete(key);
    }
    this.alternates.set(key, group);
    this.layout();
  }

  /** One more version of a question (an edit): the newest is shown with its branch. */
  addVersion(m, older) {
    this.editOf.set(m.id, m.edit_of ?? null);
    if (!older && m.edit_of) this.shownVersion.delete(this.rootOf(m.id));
    this.layout();
  }

  /** The first version of question `id`, as far as the loaded pages go. */
  rootOf(id) {
    let root = id;
    while (this.editOf.get(root)) root = this.editOf.get(root);
    return root;
  }

  /**
   * Which messages show. Of an edited question, the chosen version and the branch after it (up
   * to the next version, which began the branch after); of a question's answers, the chosen
   * one. Then ‹ n/m › on every question and answer that has others.
   */
  layout() {
    const all = [...this.messages.querySelectorAll('article.msg')];
    const at = new Map(all.map((a, i) => [a, i]));
    // Grouped afresh each time: an older page may bring the first version of a group.
    this.versions = new Map();
    for (const a of all) {
      if (!a.classList.contains('user')) continue;
      a.dataset.root = this.rootOf(a.dataset.id);
      this.versions.set(a.dataset.root, [...(this.versions.get(a.dataset.root) ?? []), a]);
    }
    const shown = new Set();
    // `old`: inside a branch left behind that the reader chose; elsewhere a message replaced
    // by an edit (whose first version is on a page not loaded yet) is not shown.
    const walk = (from, to, old) => {
      for (let i = from; i < to; i++) {
        const a = all[i];
        const versions = a.classList.contains('user') ? this.versions.get(a.dataset.root) : null;
        if (versions && versions.length > 1) {
          if (versions[0] !== a) continue;
          const k = this.shownVersion.get(a.dataset.root) ?? versions.length - 1;
          const next = versions[k + 1];
          shown.add(versions[k]);
          walk(at.get(versions[k]) + 1, next ? at.get(next) : to, old || Boolean(next));
          return;
        }
        const answers = this.alternates.get(a.dataset.replyTo);
        if (answers && answers.length > 1) {
          const k = this.shownAnswer.get(a.dataset.replyTo) ?? answers.length - 1;
          if (answers[k] === a) shown.add(a);
        } else if (old || a.dataset.superseded !== 'true') {
          shown.add(a);
        }
      }
    };
    walk(0, all.length, false);
    for (const a of all) a.hidden = !shown.has(a);
    for (const [key, group] of this.alternates) {
      this.drawBrowse(group, 'answer', (i, focus) => this.choose(this.shownAnswer, key, group, i, focus));
    }
    for (const [key, group] of this.versions) {
      this.drawBrowse(group, 'version', (i, focus) => this.choose(this.shownVersion, key, group, i, focus));
    }
  }

  /** ‹ n/m › on each of `group` that is shown, if it has others. */
  drawBrowse(group, what, choose) {
    group.forEach((a, i) => {
      const browse = a.querySelector('.alternates');
      browse.replaceChildren();
      if (group.length < 2 || a.hidden) return;
      const previous = h('button.icon.previous', { type: 'button', 'aria-label': `Previous ${what}`, disabled: i === 0 }, '‹');
      const next = h('button.icon.next', { type: 'button', 'aria-label': `Next ${what}`, disabled: i === group.length - 1 }, '›');
      previous.addEventListener('click', () => choose(i - 1, '.previous'));
      next.addEventListener('click', () => choose(i + 1, '.next'));
      browse.append(previous, h('span.position', {}, `${i + 1}/${group.length}`), next);
    });
  }

  /** The reader browsed to `group[index]`. The buttons are drawn anew: the focus goes to the
   * same one in the message now shown (or the other, if that one is disabled there). */
  choose(shown, key, group, index, focus) {
    shown.set(key, index);
    this.layout();
    const browse = group[index].querySelector('.alternates');
    const button = browse.querySelector(focus);
    (button.disabled ? browse.querySelector('button:not([disabled])') : button)?.focus();
  }

  /** "Edit" on a question of the current branch: it is sent again, edited, as a new version. */
  offerEdit(article, m) {
    const button = h('button.link.edit', { type: 'button', 'aria-label': 'Edit message' }, 'Edit');
    button.addEventListener('click', () => this.startEdit(article, m));
    article.querySelector('.actions').append(button);
  }

  startEdit(article, m) {
    const text = article.querySelector('.text');
    const box = h('textarea.edit-box', { 'aria-label': 'Edited message', rows: 3 });
    box.value = text.textContent;
    const said = h('p.form-error', { role: 'alert' });
    const cancel = h('button.secondary', { type: 'button' }, 'Cancel');
    const send = h('button.primary', { type: 'submit' }, 'Send');
    const form = h('form.edit-form', {}, box, said, h('div.inline', {}, send, cancel));
    const close = () => {
      form.replaceWith(text);
      article.querySelector('footer').hidden = false;
    };
    cancel.addEventListener('click', () => {
      close();
      article.querySelector('.edit')?.focus();
    });
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') cancel.click();
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (this.running.size > 0) {
        said.textContent = 'An answer is still being written: wait for it, or Stop it, then edit.';
        return;
      }
      if (send.disabled) return; // sent already (Enter twice)
      send.disabled = true;
      try {
        const sent = await post(`/api/messages/${m.id}/edit`, { content: box.value, model: this.picker.value });
        close();
        this.leaveBranchFrom(article);
        this.addMessage(sent.user_message);
        this.addMessage(sent.assistant_message);
        this.scrollToEnd();
      } catch (err) {
        said.textContent = err.message;
      } finally {
        send.disabled = false;
      }
    });
    article.querySelector('footer').hidden = true;
    text.replaceWith(form);
    box.focus();
  }

  /** An edit replaced `article`: it and everything after it are a branch left behind. */
  leaveBranchFrom(article) {
    for (let at = article; at; at = at.nextElementSibling) {
      if (!at.matches('article.msg')) continue;
      at.dataset.superseded = 'true';
      at.querySelector('.edit')?.remove();
    }
  }

  /** "Regenerate" on the conversation's last answer, once it has ended. */
  offerRegenerate() {
    for (const b of this.messages.querySelectorAll('.regenerate')) b.remove();
    const articles = this.messages.querySelectorAll('article.msg');
    const last = articles[articles.length - 1];
    if (!last?.classList.contains('assistant') || RUNNING.includes(last.dataset.status)) return;
    const button = h('button.link.regenerate', { type: 'button', id: 'regenerate' }, 'Regenerate');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const { assistant_message: answer } = await post(`/api/messages/${last.dataset.id}/regenerate`);
        this.addMessage(answer);
        this.scrollToEnd();
      } catch (err) {
        this.composerError.textContent = err.message;
        button.disabled = false;
      }
    });
    last.querySelector('.actions').append(button);
  }

  showEnd(article, status, kind, detail, question) {
    status.replaceChildren();
    if (kind === 'cancelled') status.textContent = 'Stopped';
    if (kind === 'gone') status.textContent = 'This conversation was deleted.';
    if (kind === 'error') {
      const retry = h('button.link', { type: 'button' }, 'Retry');
      retry.addEventListener('click', () => { this.input.value = question() ?? ''; this.send(); });
      status.append(h('span.error-text', {}, `Error: ${detail || 'the answer failed'}`), ' ', retry);
    }
  }

  showConnection(state) {
    if (state === 'signed-out') {
      window.dispatchEvent(new CustomEvent('sluice:signed-out'));
      return;
    }
    this.indicator.textContent = state === 'reconnecting' ? 'reconnecting…' : '';
  }

  updateStop() {
    this.stopButton.hidden = this.running.size === 0;
  }

  async send() {
    const content = this.input.value;
    if (this.sending || !content.trim()) return;
    if (this.running.size > 0) {
      // One answer at a time: a second would be written beside the first, out of turn. (Unless
      // the conversation is gone, which is the thing to say then.)
      const gone = !(await this.stillThere());
      this.composerError.textContent = gone
        ? CONVERSATION_GONE
        : 'An answer is still being written: wait for it, or Stop it, then send.';
      return;
    }
    if (this.attachments.uploading()) {
      this.composerError.textContent = 'A file is still uploading: send once it is done.';
      return;
    }
    this.sending = true;
    this.sendButton.disabled = true;
    this.composerError.textContent = '';
    const attachments = this.attachments.ids();
    // Kept until the send succeeds: a refused one leaves it for after a reload too.
    const draft = this.draftKey();
    this.saveDraft();
    try {
      // A first message starts its conversation in the same request: refused (too long, say),
      // it leaves nothing behind, and the typed text stays in the composer.
      const sent = this.conversationId
        ? await post(`/api/conversations/${this.conversationId}/messages`, { content, model: this.picker.value, attachments })
        : await post('/api/messages', { message: content, model: this.picker.value, attachments });
      this.attachments.sent();
      if (!this.conversationId) this.started(sent.user_message.conversation_id, titleFrom(content));
      this.input.value = '';
      this.grow();
      sessionStorage.removeItem(draft);
      // It went on the current branch: that is what shows now, whatever was browsed.
      this.shownVersion.clear();
      this.addMessage(sent.user_message);
      this.addMessage(sent.assistant_message);
      this.scrollToEnd();
    } catch (err) {
      this.composerError.textContent = err instanceof ApiError && err.status === 404
        ? CONVERSATION_GONE
        : err.message || 'Sending failed; try again.';
    } finally {
      this.sending = false;
      this.sendButton.disabled = false;
    }
  }

  /** The page now shows the conversation its first message started (titled as the API did). */
  started(id, title) {
    this.conversationId = id;
    this.showTitle(title);
    history.replaceState(null, '', `/c/${id}`);
    this.sidebar.upsert({ id, title });
    this.sidebar.highlight(id);
    this.messages.replaceChildren();
    this.menu.show(true);
    this.listenForOtherTabs();
  }

  async stop() {
    await Promise.all([...this.running.keys()].map((id) => post(`/api/messages/${id}/cancel`).catch(() => {})));
  }

  grow() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
    this.input.style.overflowY = this.input.scrollHeight > 240 ? 'auto' : 'hidden';
  }

  scrollToEnd() {
    this.messages.scrollTop = this.messages.scrollHeight;
    this.atEnd = true;
    this.jumpButton.hidden = true;
  }

  /** New text of a streaming answer: keep the end in view if the reader is at it. */
  followEnd() {
    if (this.atEnd) this.scrollToEnd();
    else this.jumpButton.hidden = false;
  }

  destroy() {
    this.menu.destroy();
    for (const stop of this.running.values()) stop();
    this.running.clear();
    this.stopConversation?.();
  }
}
