// Cases for the web app's markdown renderer (api/web/render.js), run in Chromium by
// tests/web_app/markdown.rs. `html` is the expected innerHTML of `renderMarkdown(markdown)`.
// The Rust test runs this file as a script after removing `export ` at line starts, so it
// has no imports: `runCases` is handed the renderer's module.

const a = (href, text) => `<a href="${href}" target="_blank" rel="noopener noreferrer nofollow">${text}</a>`;
const box = (checked) => `<input type="checkbox" disabled=""${checked ? ' checked=""' : ''}>`;
const code = (lang, text) => '<div class="code"><div class="code-bar">'
  + `<span>${lang}</span><button class="copy" type="button" aria-label="Copy code">Copy</button>`
  + `</div><pre><code>${text}</code></pre></div>`;

export const cases = [
  // Nested lists
  {
    name: 'nested unordered, 3 levels, 2-space indents',
    markdown: '- a\n  - b\n    - c\n- d',
    html: '<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li><li>d</li></ul>',
  },
  {
    name: 'nested unordered, 4-space indents',
    markdown: '- a\n    - b\n        - c',
    html: '<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li></ul>',
  },
  {
    name: 'nested by a tab',
    markdown: '- a\n\t- b\n- c',
    html: '<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>',
  },
  {
    name: 'ordered inside unordered',
    markdown: '- fruit\n  1. apple\n  2. pear\n- vegetables',
    html: '<ul><li>fruit<ol><li>apple</li><li>pear</li></ol></li><li>vegetables</li></ul>',
  },
  {
    name: 'unordered inside ordered, under the text column',
    markdown: '1. Install\n   - the tool\n   - its config\n2. Run',
    html: '<ol><li>Install<ul><li>the tool</li><li>its config</li></ul></li><li>Run</li></ol>',
  },
  {
    name: 'unordered inside ordered, 2-space indents',
    markdown: '1. x\n  - y\n    - z\n2. w',
    html: '<ol><li>x<ul><li>y<ul><li>z</li></ul></li></ul></li><li>w</li></ol>',
  },
  {
    name: 'back out two levels',
    markdown: '- a\n  - b\n    - c\n- d\n  - e',
    html: '<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li><li>d<ul><li>e</li></ul></li></ul>',
  },
  {
    name: 'ordered list keeps its start number',
    markdown: '3. three\n4. four',
    html: '<ol start="3"><li>three</li><li>four</li></ol>',
  },
  {
    name: 'nested ordered list keeps its start number',
    markdown: '- a\n  7. seven\n  8. eight',
    html: '<ul><li>a<ol start="7"><li>seven</li><li>eight</li></ol></li></ul>',
  },
  {
    name: 'continuation lines join their item',
    markdown: '- first line\n  continued\nlazily too\n- second\n  - nested\n    goes on',
    html: '<ul><li>first line continued lazily too</li><li>second<ul><li>nested goes on</li></ul></li></ul>',
  },
  {
    name: 'a loose list is one list',
    markdown: '- a\n\n- b\n\n- c',
    html: '<ul><li><p>a</p></li><li><p>b</p></li><li><p>c</p></li></ul>',
  },
  {
    name: 'an item with a second paragraph',
    markdown: '1. a\n\n   more about a\n2. b',
    html: '<ol><li><p>a</p><p>more about a</p></li><li><p>b</p></li></ol>',
  },
  {
    name: 'a blank line inside a nested list leaves the outer list tight',
    markdown: '- a\n  - b\n\n  - c\n- d',
    html: '<ul><li>a<ul><li><p>b</p></li><li><p>c</p></li></ul></li><li>d</li></ul>',
  },
  {
    name: 'a list right under a paragraph',
    markdown: 'Steps:\n1. a\n2. b',
    html: '<p>Steps:</p><ol><li>a</li><li>b</li></ol>',
  },
  {
    name: 'a number other than 1 under text stays text',
    markdown: 'It was founded in\n1999. That year it grew.',
    html: '<p>It was founded in<br>1999. That year it grew.</p>',
  },
  {
    name: 'bullets then numbers are two lists',
    markdown: '- a\n1. b',
    html: '<ul><li>a</li></ul><ol><li>b</li></ol>',
  },
  {
    name: 'an unindented paragraph after a blank line ends the list',
    markdown: '- a\n\nafter',
    html: '<ul><li>a</li></ul><p>after</p>',
  },
  {
    name: 'a code fence inside an item',
    markdown: '1. Run:\n   ```sh\n   make\n\n   make test\n   ```\n2. Done',
    html: `<ol><li>Run:${code('sh', 'make\n\nmake test')}</li><li>Done</li></ol>`,
  },
  {
    name: 'an unindented code fence ends the list',
    markdown: '1. Step\n```\nx\n```',
    html: `<ol><li>Step</li></ol>${code('text', 'x')}`,
  },
  {
    name: 'a thematic break is not a list',
    markdown: '* * *\n- - -',
    html: '<p>* * *<br>- - -</p>',
  },
  {
    name: 'markdown inside list items',
    markdown: '* **bold** and `code`\n* [link](https://example.com)',
    html: `<ul><li><strong>bold</strong> and <code>code</code></li><li>${a('https://example.com/', 'link')}</li></ul>`,
  },
  // Strikethrough
  {
    name: 'strikethrough',
    markdown: '~~gone~~ and ~~**bold** too~~',
    html: '<p><del>gone</del> and <del><strong>bold</strong> too</del></p>',
  },
  {
    name: 'single tildes and spaced tildes stay text',
    markdown: 'about ~5 min, ~10 tries; ~~ not this ~~',
    html: '<p>about ~5 min, ~10 tries; ~~ not this ~~</p>',
  },
  // Bare URLs
  {
    name: 'bare URL without its trailing period',
    markdown: 'See https://example.com/docs.',
    html: `<p>See ${a('https://example.com/docs', 'https://example.com/docs')}.</p>`,
  },
  {
    name: 'bare URL inside parentheses',
    markdown: '(see https://example.com/a)',
    html: `<p>(see ${a('https://example.com/a', 'https://example.com/a')})</p>`,
  },
  {
    name: 'bare URL keeps its balanced parentheses',
    markdown: 'https://en.wikipedia.org/wiki/Rust_(programming_language), a page',
    html: `<p>${a('https://en.wikipedia.org/wiki/Rust_(programming_language)', 'https://en.wikipedia.org/wiki/Rust_(programming_language)')}, a page</p>`,
  },
  {
    name: 'www. URL is an http link',
    markdown: 'Visit www.example.com/x?y=1!',
    html: `<p>Visit ${a('http://www.example.com/x?y=1', 'www.example.com/x?y=1')}!</p>`,
  },
  {
    name: 'bare URL in quotes, and http',
    markdown: 'Open "https://example.com" or \'http://localhost:8080/a\'?',
    html: `<p>Open "${a('https://example.com/', 'https://example.com')}" or '${a('http://localhost:8080/a', 'http://localhost:8080/a')}'?</p>`,
  },
  {
    name: 'URL with underscores, next to snake_case',
    markdown: 'snake_case_name at https://example.org/a_b_c',
    html: `<p>snake_case_name at ${a('https://example.org/a_b_c', 'https://example.org/a_b_c')}</p>`,
  },
  {
    name: 'URL in angle brackets',
    markdown: 'Docs: <https://example.com/docs>',
    html: `<p>Docs: ${a('https://example.com/docs', 'https://example.com/docs')}</p>`,
  },
  {
    name: 'bare URL in bold and in a list item',
    markdown: '- **https://example.com/a**',
    html: `<ul><li><strong>${a('https://example.com/a', 'https://example.com/a')}</strong></li></ul>`,
  },
  {
    name: 'URL inside inline code stays text',
    markdown: 'Run `curl https://example.com/api` now',
    html: '<p>Run <code>curl https://example.com/api</code> now</p>',
  },
  {
    name: 'URL inside a code block stays text',
    markdown: '```\nhttps://example.com\n```',
    html: code('text', 'https://example.com'),
  },
  {
    name: 'javascript: stays text, bare or as a link',
    markdown: 'javascript:alert(1) and [x](javascript:alert(2)) and <javascript:alert(3)>',
    html: '<p>javascript:alert(1) and [x](javascript:alert(2)) and &lt;javascript:alert(3)&gt;</p>',
  },
  {
    name: 'a URL glued to a word is not linked',
    markdown: 'xhttps://example.com and www. alone',
    html: '<p>xhttps://example.com and www. alone</p>',
  },
  // Task lists
  {
    name: 'task list, unchecked and checked',
    markdown: '- [ ] todo\n- [x] done\n- [X] also done',
    html: `<ul><li class="task">${box(false)}todo</li><li class="task">${box(true)}done</li><li class="task">${box(true)}also done</li></ul>`,
  },
  {
    name: 'nested task list',
    markdown: '- [ ] parent\n  - [x] child\n  - plain child',
    html: `<ul><li class="task">${box(false)}parent<ul><li class="task">${box(true)}child</li><li>plain child</li></ul></li></ul>`,
  },
  {
    name: 'task in an ordered list',
    markdown: '1. [x] first',
    html: `<ol><li class="task">${box(true)}first</li></ol>`,
  },
  {
    name: 'loose task list',
    markdown: '- [x] a\n\n- [ ] b',
    html: `<ul><li class="task"><p>${box(true)}a</p></li><li class="task"><p>${box(false)}b</p></li></ul>`,
  },
  {
    name: 'brackets without a space are not a task',
    markdown: '- [x]no space\n- [link](https://example.com)',
    html: `<ul><li>[x]no space</li><li>${a('https://example.com/', 'link')}</li></ul>`,
  },
  // What rendered before, renders the same
  {
    name: 'bold, emphasis, code, link',
    markdown: '**b** __B__ *e* _u_ `c` [l](https://example.com)',
    html: `<p><strong>b</strong> <strong>B</strong> <em>e</em> <em>u</em> <code>c</code> ${a('https://example.com/', 'l')}</p>`,
  },
  {
    name: 'an image is a link, never loaded',
    markdown: '![pic](https://example.com/p.png)',
    html: `<p>${a('https://example.com/p.png', 'image: pic')}</p>`,
  },
  {
    name: 'table',
    markdown: '| a | b |\n| --- | :---: |\n| **x** | y |\n| 1 | 2 |',
    html: '<div class="table-wrap"><table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>'
      + '<tr><td><strong>x</strong></td><td>y</td></tr><tr><td>1</td><td>2</td></tr></tbody></table></div>',
  },
  {
    name: 'quote',
    markdown: '> quoted *text*\n> more',
    html: '<blockquote>quoted <em>text</em>\nmore</blockquote>',
  },
  {
    name: 'headings',
    markdown: '# Title\n### Small',
    html: '<h3>Title</h3><h5>Small</h5>',
  },
  {
    name: 'code fence',
    markdown: '```js\nlet a = \'<b>\';\n  indented();\n```',
    html: code('js', 'let a = \'&lt;b&gt;\';\n  indented();'),
  },
  {
    name: 'paragraphs keep their line breaks',
    markdown: 'one\ntwo\n\nthree',
    html: '<p>one<br>two</p><p>three</p>',
  },
  {
    name: 'a heading, a quote and a table under text end the paragraph',
    markdown: 'text\n# Head\ntext\n> q\ntext\n| a |\n| --- |\n| b |',
    html: '<p>text</p><h3>Head</h3><p>text</p><blockquote>q</blockquote><p>text</p>'
      + '<div class="table-wrap"><table><thead><tr><th>a</th></tr></thead><tbody><tr><td>b</td></tr></tbody></table></div>',
  },
  {
    name: 'markup is text',
    markdown: '<script>alert(1)</script> <img src=x onerror=alert(2)>\n- <b>item</b>',
    html: '<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;</p><ul><li>&lt;b&gt;item&lt;/b&gt;</li></ul>',
  },
];

/** Answers fed to `LiveMarkdown` one character at a time, as a stream would. */
export const liveCases = [
  {
    name: 'a nested list growing character by character',
    markdown: 'Intro:\n\n- a\n  - b\n    1. c\n    2. d\n- [x] e\n\n- f\n  continued\n\nDone, see https://example.com.\n',
  },
  {
    name: 'a document growing character by character',
    markdown: '# Plan\n\nFirst *this*.\nThen that.\n\n```rust\nfn main() {\n\n    println!("- not a list");\n}\n```\n\n'
      + '| a | b |\n| --- | --- |\n| 1 | 2 |\n\n1. one\n\n   more\n2. two\n   - [ ] sub\n\n> quote\n\n- last\n',
  },
];

/**
 * Runs every case against `render` (the renderer's module): `cases` through `renderMarkdown`;
 * `liveCases` through `LiveMarkdown`, which after every character must show what
 * `renderMarkdown` shows for the text so far, and must never take away a finished block.
 */
export function runCases(render) {
  const failures = [];
  for (const c of cases) {
    const actual = render.renderMarkdown(c.markdown).innerHTML;
    if (actual !== c.html) failures.push({ name: c.name, expected: c.html, actual });
  }
  for (const c of liveCases) {
    const failure = runLive(render, c.markdown);
    if (failure) failures.push({ name: c.name, ...failure });
  }
  return { count: cases.length + liveCases.length, failures };
}

function runLive({ renderMarkdown, LiveMarkdown }, markdown) {
  const container = document.createElement('div');
  const live = new LiveMarkdown(container);
  const finished = new Set();
  for (let n = 1; n <= markdown.length; n++) {
    const prefix = markdown.slice(0, n);
    live.set(prefix);
    const expected = renderMarkdown(prefix).innerHTML;
    const actual = shown(container);
    if (actual !== expected) return { expected, actual: `${actual}\n(after ${JSON.stringify(prefix)})` };
    for (const child of container.children) {
      if (!child.matches('div.md-blocks')) finished.add(child);
    }
    const gone = [...finished].find((node) => node.parentNode !== container);
    if (gone) return { expected: 'finished blocks stay', actual: `${gone.outerHTML} was taken away at ${JSON.stringify(prefix)}` };
  }
  // Some blocks must have been finished on the way, or nothing above was tested.
  if (finished.size < 2) return { expected: 'at least 2 finished blocks', actual: `${finished.size}` };
  return null;
}

/**
 * What a LiveMarkdown container shows, in renderMarkdown's terms: finished blocks are its
 * children, the block still being written sits in a `div.md-blocks` of its own.
 */
function shown(container) {
  const copy = container.cloneNode(true);
  for (const wrapper of copy.querySelectorAll(':scope > div.md-blocks')) wrapper.replaceWith(...wrapper.childNodes);
  return copy.innerHTML;
}
