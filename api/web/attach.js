// Files for the next message: the composer's attach button (a paperclip) and drag-and-drop onto the
// chat pick them; each uploads at once (POST /api/files) with its progress shown in a chip,
// and goes with the next send (`attachments`). A chip's × deletes an unsent file. Sent
// questions show their files as download links (fileLinks).

import { h } from './dom.js';
import { upload, del, download } from './api.js';

/** A paperclip, drawn (an emoji may have no font). Feather's `paperclip` (MIT). */
function paperclip() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: 20, height: 20, fill: 'none',
    stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round', 'aria-hidden': 'true' })) {
    svg.setAttribute(k, v);
  }
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48');
  svg.append(path);
  return svg;
}

/** "1.2 MB", "830 kB", "12 bytes". */
export function size(bytes) {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} bytes`;
}

/** A sent question's files, as downloads. */
export function fileLinks(files) {
  return h('ul.files', { 'aria-label': 'Attached files' }, files.map((f) => {
    const link = h('a.file-link', { href: `/api/files/${f.id}`, download: f.name }, f.name);
    link.addEventListener('click', (e) => {
      e.preventDefault();
      download(link.getAttribute('href')).catch(() => {});
    });
    return h('li', {}, link, h('span.muted', {}, ` ${size(f.bytes)}`));
  }));
}

export class Attachments {
  /** `dropTarget`: the element files may be dropped on; `say(text)` shows a problem. */
  constructor(dropTarget, say) {
    this.say = say;
    this.pending = [];
    this.picker = h('input', { type: 'file', id: 'attach-input', multiple: true, hidden: true,
      accept: '.txt,.md,.csv,.json,.pdf,.png,.jpg,.jpeg,.gif,.webp,text/*,application/pdf,image/*' });
    this.picker.addEventListener('change', () => {
      this.add([...this.picker.files]);
      this.picker.value = '';
    });
    this.button = h('button.icon.attach', { type: 'button', id: 'attach', 'aria-label': 'Attach files', title: 'Attach files (or drop them here)' }, paperclip());
    this.button.addEventListener('click', () => this.picker.click());
    this.tray = h('ul.attachments', { id: 'attachments', 'aria-label': 'Files to send', hidden: true });
    dropTarget.addEventListener('dragover', (e) => {
      if (![...e.dataTransfer.types].includes('Files')) return;
      e.preventDefault();
      dropTarget.classList.add('dropping');
    });
    dropTarget.addEventListener('dragleave', (e) => {
      if (!dropTarget.contains(e.relatedTarget)) dropTarget.classList.remove('dropping');
    });
    dropTarget.addEventListener('drop', (e) => {
      dropTarget.classList.remove('dropping');
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      this.add([...e.dataTransfer.files]);
    });
  }

  /** Uploads each file, showing a chip with its progress. */
  add(files) {
    for (const file of files) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${file.name}` });
      const remove = h('button.icon', { type: 'button', 'aria-label': `Remove ${file.name}` }, '×');
      const chip = h('li.file-chip', { dataset: { state: 'uploading' } },
        h('span.name', {}, file.name), h('span.muted', {}, size(file.size)), bar, remove);
      const entry = { chip, id: null, done: null, stop: new AbortController() };
      entry.done = upload('/api/files', file, (sent, total) => {
        bar.value = total ? Math.round((sent / total) * 100) : 0;
      }, entry.stop.signal).then((out) => {
        entry.id = out.id;
        chip.dataset.state = 'ready';
        chip.dataset.id = out.id;
        bar.remove();
      }).catch((err) => {
        if (err.code === 'aborted') return;
        chip.dataset.state = 'failed';
        bar.remove();
        chip.append(h('span.form-error', {}, err.message));
      });
      remove.addEventListener('click', () => {
        this.pending = this.pending.filter((p) => p !== entry);
        chip.remove();
        this.tray.hidden = this.pending.length === 0;
        // Not sent: nothing keeps it (an upload under way stops).
        entry.stop.abort();
        if (entry.id) del(`/api/files/${entry.id}`).catch(() => {});
      });
      this.pending.push(entry);
      this.tray.append(chip);
    }
    this.tray.hidden = this.pending.length === 0;
  }

  uploading() {
    return this.pending.some((p) => p.chip.dataset.state === 'uploading');
  }

  /** The uploaded files' ids (failed ones left out). */
  ids() {
    return this.pending.filter((p) => p.id).map((p) => p.id);
  }

  /** After a send: the tray empties (the files went with the message). */
  sent() {
    this.pending = [];
    this.tray.replaceChildren();
    this.tray.hidden = true;
  }
}
