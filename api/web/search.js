// The sidebar's search box: as you type (a quarter second after the last key), the hits of
// `GET /api/search` take the place of the conversation lists — titles and messages, best
// first, their matched words marked — and a hit opens its conversation at the message.
// Escape or an empty box brings the lists back.

import { h } from './dom.js';
import { get } from './api.js';

const DEBOUNCE_MS = 250;

export class Search {
  /** `lists`: what the results stand in for while there is a query. */
  constructor({ navigate, lists }) {
    this.navigate = navigate;
    this.lists = lists;
    this.input = h('input.search-box', {
      type: 'search', id: 'search', placeholder: 'Search conversations', maxlength: 200,
      autocomplete: 'off', 'aria-label': 'Search conversations', 'aria-controls': 'search-results',
    });
    this.status = h('p.search-status', { id: 'search-status', role: 'status' });
    this.results = h('ul.search-results', { id: 'search-results', 'aria-label': 'Search results' });
    this.more = h('button.secondary', { type: 'button', id: 'search-more', hidden: true }, 'More results');
    this.more.addEventListener('click', () => this.run({ next: true }));
    this.panel = h('div.search-panel', { id: 'search-panel', hidden: true }, this.status, this.results, this.more);
    // Each query is numbered: an answer to an older one that arrives late is dropped.
    this.asked = 0;
    this.cursor = null;
    let timer = null;
    this.input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        this.input.value = '';
        this.run();
      }
    });
  }

  async run({ next = false } = {}) {
    const q = this.input.value.trim();
    const asked = ++this.asked;
    if (!q) {
      this.panel.hidden = true;
      this.lists.hidden = false;
      return;
    }
    this.panel.hidden = false;
    this.lists.hidden = true;
    if (!next) this.status.textContent = 'Searching…';
    const cursor = next && this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : '';
    let page;
    try {
      page = await get(`/api/search?q=${encodeURIComponent(q)}&limit=20${cursor}`);
    } catch (err) {
      if (asked === this.asked) this.status.textContent = err.message;
      return;
    }
    if (asked !== this.asked) return;
    if (!next) this.results.replaceChildren();
    this.results.append(...page.items.map((hit) => this.hit(hit)));
    this.cursor = page.next_cursor;
    this.more.hidden = !page.next_cursor;
    const shown = this.results.children.length;
    this.status.textContent = shown === 0 ? `Nothing found for “${q}”.`
      : `${shown}${page.next_cursor ? '+' : ''} found`;
  }

  hit(found) {
    const path = `/c/${found.conversation_id}${found.message_id ? `#m-${found.message_id}` : ''}`;
    const who = found.message_id ? (found.role === 'user' ? 'You: ' : 'Answer: ') : 'Title: ';
    const snippet = h('span.hit-snippet', {}, who,
      found.snippet.map((part) => (part.highlight ? h('mark', {}, part.text) : part.text)));
    const link = h('a', { href: path }, h('span.hit-title', {}, found.conversation_title || 'New chat'), snippet);
    link.addEventListener('click', (e) => {
      e.preventDefault();
      this.navigate(path);
    });
    return h('li', { dataset: { conversation: found.conversation_id, message: found.message_id ?? '' } }, link);
  }
}
