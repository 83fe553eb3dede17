// Markdown to DOM, safely: every piece of text becomes a text node; the only attributes set
// are `href`s that pass `safeUrl` (http, https, mailto), an ordered list's `start` and a task's
// disabled checkbox. Images are shown as links, so a reply cannot make the browser fetch
// anything. GitHub-flavoured: nested and task lists, tables, ~~strikethrough~~, bare URLs.
// Streaming answers render incrementally: finished blocks are rendered once, only the block
// still being written is redone.

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

/**
 * The blocks at the start of `text` that can no longer change, and the length they span. A
 * block is finished once the next one has begun on a finished line (the last line may still
 * grow): where a block ends is decided by the lines up to there, so later text cannot move
 * it. A blank line alone is not enough: a list goes on after one.
 */
function completeBlocks(text) {
  const lines = text.split('\n');
  const blocks = splitBlocks(lines.slice(0, -1));
  const open = blocks.pop();
  if (!blocks.length) return { blocks, consumed: 0 };
  const consumed = lines.slice(0, open.firstLine).reduce((n, line) => n + line.length + 1, 0);
  return { blocks, consumed };
}

const FENCE = /^\s*```\s*([\w+-]*)/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const QUOTE = /^\s*>/;
const TABLE_RULE = /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/;
// A bullet or a number, then white space or the end of the line.
const MARKER = /^([ \t]*)([-*+]|(\d{1,9})[.)])(?:([ \t]+)(.*))?$/;
const TASK = /^\[([ xX])\][ \t]+/;
// "* * *" or "- - -": a thematic break in GFM (not drawn here), never a list nested three deep.
const THEMATIC = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;

/**
 * Groups lines into blocks (fenced code, headings, tables, lists, quotes, paragraphs), each
 * with the lines it spans: from `firstLine` to just before `endLine`. `inItem`: the lines are
 * a list item's.
 */
function splitBlocks(lines, inItem = false) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i].trim() === '') { i++; continue; }
    const { block, next } = readBlock(lines, i, inItem);
    blocks.push(Object.assign(block, { firstLine: i, endLine: next }));
    i = next;
  }
  return blocks;
}

function readBlock(lines, i, inItem) {
  const line = lines[i];
  const fence = line.match(FENCE);
  if (fence) return readFence(lines, i, fence[1]);
  const heading = line.match(HEADING);
  if (heading) return { block: { type: 'heading', level: heading[1].length, text: heading[2] }, next: i + 1 };
  if (isTableStart(lines, i)) return readTable(lines, i);
  if (listMarker(line)) return readList(lines, i);
  if (QUOTE.test(line)) return readQuote(lines, i);
  return readParagraph(lines, i, inItem);
}

function readFence(lines, i, lang) {
  let close = i + 1;
  while (close < lines.length && !FENCE.test(lines[close])) close++;
  const text = lines.slice(i + 1, close).join('\n');
  return { block: { type: 'code', lang, text }, next: Math.min(close + 1, lines.length) };
}

function isTableStart(lines, i) {
  return lines[i].includes('|') && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]);
}

function readTable(lines, i) {
  let next = i + 2;
  while (next < lines.length && lines[next].includes('|') && lines[next].trim()) next++;
  return { block: { type: 'table', rows: [lines[i], ...lines.slice(i + 2, next)] }, next };
}

function readQuote(lines, i) {
  let next = i;
  while (next < lines.length && QUOTE.test(lines[next])) next++;
  const text = lines.slice(i, next).map((line) => line.replace(/^\s*>\s?/, '')).join('\n');
  return { block: { type: 'quote', text }, next };
}

function readParagraph(lines, i, inItem) {
  let next = i + 1;
  while (next < lines.length && lines[next].trim() && !interruptsParagraph(lines, next, inItem)) next++;
  return { block: { type: 'paragraph', lines: lines.slice(i, next) }, next };
}

/** Whether line `i` starts a block that ends the paragraph above it (GFM's rules). */
function interruptsParagraph(lines, i, inItem = false) {
  const line = lines[i];
  if (FENCE.test(line) || HEADING.test(line) || QUOTE.test(line) || isTableStart(lines, i)) return true;
  // A list may start right under text, but not with an empty item, nor with a number other
  // than 1 ("…was founded in\n1999. That year…" stays one paragraph) unless it is indented
  // under an item's text: then it is a nested list, whatever its number.
  const marker = listMarker(line);
  return Boolean(marker?.content) && (!marker.ordered || marker.start === 1 || inItem);
}

/** A list item's first line: its marker's indent, kind and number, and the text after it. */
function listMarker(line) {
  const m = line.match(MARKER);
  if (!m || THEMATIC.test(line)) return null;
  const indent = indentOf(m[1]);
  const content = m[5] ?? '';
  const gap = content ? indentOf(m[4]) : 1;
  return {
    indent,
    ordered: m[3] !== undefined,
    start: m[3] === undefined ? 1 : Number(m[3]),
    content,
    // Where the item's text starts: lines indented this far continue it (CommonMark).
    contentIndent: indent + m[2].length + (gap <= 4 ? gap : 1),
  };
}

/**
 * Items of one kind (bullets, or numbers: a switch starts a new list), from line `i`. A blank
 * line between items makes the list loose: its items' text is wrapped in paragraphs.
 */
function readList(lines, i) {
  const first = listMarker(lines[i]);
  const list = { type: 'list', ordered: first.ordered, start: first.start, loose: false, items: [] };
  let end = i;
  let marker = first;
  while (marker && marker.ordered === list.ordered) {
    if (i > end) list.loose = true;
    const item = readItem(lines, i, marker);
    list.items.push(item);
    list.loose ||= item.loose;
    end = item.end;
    i = end;
    while (i < lines.length && lines[i].trim() === '') i++;
    marker = i < lines.length ? listMarker(lines[i]) : null;
  }
  return { block: list, next: end };
}

/**
 * One item: its first line and the lines that belong under it: those indented past its
 * marker (by 2 or more columns, so 2-, 3- and 4-space and tab indents all nest), blank lines
 * followed by such a line, unindented lines carrying on its text, and the whole of a code
 * fence opened in it. Those lines, unindented, are read as blocks: a list in an item nests.
 */
function readItem(lines, i, marker) {
  const nested = marker.indent + 2;
  let end = i + 1;
  let inFence = FENCE.test(marker.content);
  let carriesOn = marker.content !== '' && !inFence; // may an unindented line join its text?
  for (let j = i + 1; j < lines.length; j++) {
    const line = lines[j];
    if (inFence) {
      inFence = !FENCE.test(line);
      end = j + 1;
      continue;
    }
    if (line.trim() === '') continue;
    if (indentOf(line) < nested && (j > end || !carriesOn || listMarker(line) || interruptsParagraph(lines, j))) break;
    inFence = FENCE.test(line);
    carriesOn = !inFence;
    end = j + 1;
  }
  const under = lines.slice(i + 1, end);
  // Unindented by the item's text column, or less when its lines are indented less (a
  // 2-space nested list under "1. "), so that their indents relative to each other stay.
  const indents = under.filter((line) => line.trim() && indentOf(line) >= nested).map(indentOf);
  const base = Math.min(marker.contentIndent, ...indents);
  const body = [marker.content, ...under.map((line) => dedent(line, base))];
  const task = body[0].match(TASK);
  if (task) body[0] = body[0].slice(task[0].length);
  const blocks = splitBlocks(body, true);
  // Loose too when a blank line separates two of its blocks (CommonMark).
  const loose = blocks.some((block, n) => n > 0 && block.firstLine > blocks[n - 1].endLine);
  return { task: task ? task[1] !== ' ' : null, blocks, loose, end };
}

/** Columns of white space `line` starts with (a tab goes to the next multiple of 4). */
function indentOf(line) {
  let col = 0;
  for (const c of line) {
    if (c === ' ') col++;
    else if (c === '\t') col += 4 - (col % 4);
    else break;
  }
  return col;
}

/** `line` without up to `n` columns of its indent (a tab split in two leaves spaces). */
function dedent(line, n) {
  let col = 0;
  let i = 0;
  while (i < line.length && col < n && (line[i] === ' ' || line[i] === '\t')) {
    col += line[i] === '\t' ? 4 - (col % 4) : 1;
    i++;
  }
  return ' '.repeat(Math.max(0, col - n)) + line.slice(i);
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
    case 'list': {
      const start = block.ordered && block.start !== 1 ? block.start : null;
      return h(block.ordered ? 'ol' : 'ul', { start }, block.items.map((item) => renderItem(item, block.loose)));
    }
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

/** A list item; as on GitHub, text in a tight list is not wrapped in a paragraph. */
function renderItem(item, loose) {
  const li = h(item.task === null ? 'li' : 'li.task');
  for (const block of item.blocks) {
    if (block.type !== 'paragraph') {
      li.append(renderBlock(block));
      continue;
    }
    // The lines of an item's text join with a space (outside lists, a paragraph keeps its breaks).
    const text = inline(block.lines.map((line) => line.trim()).join(' '));
    if (loose) li.append(h('p', {}, text));
    else li.append(...text);
  }
  if (item.task !== null) {
    const box = h('input', { type: 'checkbox', disabled: true, checked: item.task });
    const first = li.firstChild;
    (first?.nodeName === 'P' ? first : li).prepend(box);
  }
  return li;
}

/**
 * Inline markdown: `code`, **bold**, *em*, ~~strikethrough~~, [links](https://…), ![images](…)
 * as links, <https://…> and bare https://… or www.… URLs. The leftmost match wins, so nothing
 * in `code` is read further. `_` marks only outside words (snake_case stays as written), and
 * `~` alone does not strike through ("~5 min" is common in answers).
 */
const INLINE = new RegExp([
  /`(?<code>[^`]+)`/,
  /\*\*(?<strong>[^*]+)\*\*|(?<!\w)__(?<strongU>[^_]+)__(?!\w)/,
  /~~(?<del>[^~\s](?:[^~]*[^~\s])?)~~/,
  /\*(?<em>[^*\s][^*]*)\*|(?<!\w)_(?<emU>[^_\s][^_]*)_(?!\w)/,
  /!?\[(?<label>[^\]]*)\]\((?<href>[^)\s]+)\)/,
  /<(?<autolink>(?:https?|mailto):[^\s<>]+)>/,
  /(?<![\w@.\/-])(?<url>(?:https?:\/\/|www\.)[^\s<>]+)/,
].map((r) => r.source).join('|'), 'g');

function inline(text) {
  const out = [];
  const pattern = new RegExp(INLINE); // its own lastIndex: inline() recurses
  let last = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const g = m.groups;
    let end = m.index + m[0].length;
    let node;
    if (g.code !== undefined) node = h('code', {}, g.code);
    else if (g.strong !== undefined || g.strongU !== undefined) node = h('strong', {}, inline(g.strong ?? g.strongU));
    else if (g.del !== undefined) node = h('del', {}, inline(g.del));
    else if (g.em !== undefined || g.emU !== undefined) node = h('em', {}, inline(g.em ?? g.emU));
    else if (g.href !== undefined) node = link(g.label, g.href, m[0]);
    else if (g.autolink !== undefined) node = link(g.autolink, g.autolink, m[0]);
    else {
      const url = trimUrl(g.url);
      end = m.index + url.length;
      pattern.lastIndex = end; // what was cut off is read again, as text
      node = bareLink(url);
    }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(node);
    last = end;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function link(label, url, source) {
  const href = safeUrl(url);
  // Not a link we make (javascript:, data:, relative…): shown exactly as written.
  if (!href) return source;
  return anchor(href, source.startsWith('!') ? `image: ${label || url}` : label || url);
}

/** A URL written in the text, shown as written; `www.…` is taken to mean http. */
function bareLink(url) {
  const href = safeUrl(url.startsWith('www.') ? `http://${url}` : url);
  return href ? anchor(href, url) : url;
}

function anchor(href, text) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, text);
}

/**
 * Where a bare URL ends (GFM): punctuation at its end belongs to the sentence, and so does a
 * `)` that closes no `(` in the URL: "(see https://example.com/a_(b))." keeps "a_(b)".
 */
function trimUrl(url) {
  const count = (c) => url.split(c).length - 1;
  for (;;) {
    const last = url.at(-1);
    if (/[?!.,:;*_~'"]/.test(last) || (last === ')' && count('(') < count(')'))) url = url.slice(0, -1);
    else return url;
  }
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
