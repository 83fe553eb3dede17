// Markdown to DOM, safely: every piece of text becomes a text node; the only attributes set
// are `href`s that pass `safeUrl` (http, https, mailto). Images are shown as links, so a
// reply cannot make the browser fetch anything. Streaming answers render incrementally:
// finished blocks are rendered once, only the block still being written is redone.

import { h, copyText } from './dom.js';

/** Renders `text` into `container` as the answer grows (call `set` at most once per frame). */
export class LiveMarkdown {
  constructor(container) {
    this.container = container;
    this.clear();
  }

  clear() {
    this.container.replaceChildren();
    this.text = '';
    this.stableEnd = 0;
    this.live = null;
  }

  set(text) {
    if (!text.startsWith(this.text.slice(0, this.stableEnd))) this.clear();
    this.text = text;
    const rest = text.slice(this.stableEnd);
    const { blocks, consumed } = completeBlocks(rest);
    if (blocks.length) {
      this.live?.remove();
      this.live = null;
      for (const block of blocks) this.container.append(renderBlock(block));
      this.stableEnd += consumed;
    }
    const tail = text.slice(this.stableEnd);
    const fresh = tail.trim() ? renderBlocks(tail) : null;
    if (this.live) this.live.remove();
    this.live = fresh;
    if (fresh) this.container.append(fresh);
  }
}

/** The whole of `text`, rendered at once (finished messages). */
export function renderMarkdown(text) {
  return renderBlocks(text);
}

function renderBlocks(text) {
  const frag = h('div.md-blocks');
  for (const block of splitBlocks(text.split('\n'))) frag.append(renderBlock(block));
  return frag;
}

/** Blocks of `text` that can no longer change: each ended by a blank line outside a fence. */
function completeBlocks(text) {
  const lines = text.split('\n');
  let inFence = false;
  let lastBoundary = -1;
  let offset = 0;
  let boundaryOffset = 0;
  for (let i = 0; i < lines.length - 1; i++) {
    offset += lines[i].length + 1;
    if (/^\s*```/.test(lines[i])) inFence = !inFence;
    if (!inFence && lines[i].trim() === '') {
      lastBoundary = i;
      boundaryOffset = offset;
    }
  }
  if (lastBoundary < 0) return { blocks: [], consumed: 0 };
  return { blocks: splitBlocks(lines.slice(0, lastBoundary + 1)), consumed: boundaryOffset };
}

/** Groups lines into blocks: fenced code, headings, tables, lists, quotes, paragraphs. */
function splitBlocks(lines) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }
    const fence = line.match(/^\s*```\s*([\w+-]*)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i++]);
      i++;
      blocks.push({ type: 'code', lang: fence[1], text: body.join('\n') });
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1].length, text: heading[2] });
      i++;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(lines[i + 1])) {
      const rows = [line];
      i += 2;
      while (i < lines.length && lines[i].includes('|') && lines[i].trim()) rows.push(lines[i++]);
      blocks.push({ type: 'table', rows });
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items = [];
      while (i < lines.length && lines[i].trim()) {
        if (item.test(lines[i])) items.push(lines[i].replace(item, ''));
        else items[items.length - 1] += ' ' + lines[i].trim();
        i++;
      }
      blocks.push({ type: 'list', ordered, items });
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ''));
      blocks.push({ type: 'quote', text: quoted.join('\n') });
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*```/.test(lines[i]) && !/^#{1,6}\s/.test(lines[i])) {
      para.push(lines[i++]);
    }
    blocks.push({ type: 'paragraph', lines: para });
  }
  return blocks;
}

function renderBlock(block) {
  switch (block.type) {
    case 'code': {
      const copy = h('button.copy', { type: 'button', 'aria-label': 'Copy code' }, 'Copy');
      copy.addEventListener('click', () => copyText(block.text, copy));
      return h('div.code', {},
        h('div.code-bar', {}, h('span', {}, block.lang || 'text'), copy),
        h('pre', {}, h('code', {}, block.text)));
    }
    case 'heading':
      return h(`h${Math.min(block.level + 2, 6)}`, {}, inline(block.text));
    case 'list':
      return h(block.ordered ? 'ol' : 'ul', {}, block.items.map((t) => h('li', {}, inline(t))));
    case 'quote':
      return h('blockquote', {}, inline(block.text));
    case 'table': {
      const cells = (row) => row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
      const [head, ...body] = block.rows;
      return h('div.table-wrap', {}, h('table', {},
        h('thead', {}, h('tr', {}, cells(head).map((c) => h('th', {}, inline(c))))),
        h('tbody', {}, body.map((r) => h('tr', {}, cells(r).map((c) => h('td', {}, inline(c))))))));
    }
    default: {
      const p = h('p');
      block.lines.forEach((line, n) => {
        if (n) p.append(h('br'));
        p.append(...inline(line));
      });
      return p;
    }
  }
}

/** Inline markdown: `code`, **bold**, *em*, [links](https://…), ![images](…) as links. */
function inline(text) {
  const out = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|!?\[([^\]]*)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1] !== undefined) out.push(h('code', {}, m[1]));
    else if (m[2] !== undefined || m[3] !== undefined) out.push(h('strong', {}, inline(m[2] ?? m[3])));
    else if (m[4] !== undefined || m[5] !== undefined) out.push(h('em', {}, inline(m[4] ?? m[5])));
    else out.push(link(m[6], m[7], m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function link(label, url, source) {
  const href = safeUrl(url);
  // Not a link we make (javascript:, data:, relative…): shown exactly as written.
  if (!href) return source;
  const text = source.startsWith('!') ? `image: ${label || url}` : label || url;
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, text);
}

/** Only absolute http(s) and mailto URLs become links; `javascript:` and the rest stay text. */
function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}
