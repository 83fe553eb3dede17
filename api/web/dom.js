// Building DOM safely: text only ever goes in through textContent, never innerHTML, so nothing
// a model or a user writes can become markup or script.

/** h('button.primary', {type: 'submit', onclick}, 'Send', child, ...) */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Tells screen readers something once (the polite live region in index.html). */
export function announce(text) {
  const region = document.getElementById('announcer');
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = text; });
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    flash(button, 'Copied');
  } catch {
    flash(button, 'Copy failed');
  }
}

function flash(button, label) {
  const before = button.textContent;
  button.textContent = label;
  setTimeout(() => { button.textContent = before; }, 1200);
}

/** A click handler whose failure is said in `problem` (a sentence), never left uncaught. */
export function guarded(problem, action) {
  return async (e) => {
    problem.textContent = '';
    try {
      await action(e);
    } catch (err) {
      problem.textContent = err.message;
    }
  };
}

/** Inserts `li` among `list`'s entries, newest first (before `end` if none is older). */
export function insertByDate(list, li, end) {
  const created = li.dataset.created;
  const older = [...list.querySelectorAll('li[data-id]')].find((o) => o.dataset.created < created);
  if (older) older.before(li);
  else if (end) end.before(li);
  else list.append(li);
}
