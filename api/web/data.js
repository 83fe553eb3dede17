// Settings → Your data: download everything (the account zip from GET /api/export) and import
// an export — Sluice's own or ChatGPT's — with upload progress. The sidebar reloads on the
// account feed's `imported` event, in this tab and every other.

import { h, guarded } from './dom.js';
import { upload, download } from './api.js';

export function dataSection() {
  const exportLink = h('a.button.secondary', { href: '/api/export', download: '', id: 'export-all' },
    'Download all conversations (.zip)');
  exportLink.addEventListener('click', (e) => {
    e.preventDefault();
    download('/api/export').catch(() => {});
  });
  const file = h('input', { type: 'file', id: 'import-file', accept: '.zip,.json,application/zip,application/json', required: true });
  const progress = h('progress', { id: 'import-progress', max: 100, value: 0, hidden: true });
  const said = h('p.form-error', { role: 'alert', id: 'import-error' });
  const done = h('p.muted', { role: 'status', id: 'import-done' });
  const button = h('button.secondary', { type: 'submit', id: 'import-button' }, 'Import');
  const form = h('form.stack', { id: 'import' },
    h('label', { for: 'import-file' }, 'Import an export: Sluice’s (.zip or .json) or ChatGPT’s (its .zip or conversations.json)'),
    file, progress, said, done, button);
  form.addEventListener('submit', guarded(said, async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    done.textContent = '';
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    try {
      const out = await upload('/api/import', chosen, (sent, total) => {
        progress.value = total ? Math.round((sent / total) * 100) : 0;
      });
      const n = out.conversation_ids.length;
      done.textContent = `Imported ${n} conversation${n === 1 ? '' : 's'} (${out.messages} messages`
        + `${out.folders_created ? `, ${out.folders_created} new folder${out.folders_created === 1 ? '' : 's'}` : ''}).`;
      form.reset();
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  }));
  return h('div.section', { id: 'your-data' }, h('h2', {}, 'Your data'),
    h('p', {}, 'Everything you wrote and every answer, as a zip of JSON files you can import here or elsewhere.'),
    h('div.inline', {}, exportLink), form);
}
