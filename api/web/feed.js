// The account feed (`GET /api/events`): conversations and folders made, changed or deleted in
// another tab or on another device, as they happen. Nothing is replayed, so after a dropped
// connection `onReopen` is the cue to reload what the page shows.

import { get, SignedOut } from './api.js';

/**
 * Calls onCreated(conversation), onUpdated(conversation), onDeleted(id), onFoldersChanged()
 * (a folder made, renamed or deleted), onImported() (an import: everything may have changed) and, when the feed opens again after a drop, onReopen(). Returns a function that stops following.
 */
export function followAccount({ onCreated, onUpdated, onDeleted, onFoldersChanged, onImported, onReopen }) {
  let source = null;
  let opened = false;
  let stopped = false;
  let failures = 0;
  const connect = () => {
    if (stopped) return;
    source = new EventSource('/api/events');
    const on = (kind, handle) => source.addEventListener(kind, (e) => handle(JSON.parse(e.data)));
    on('conversation_created', (e) => onCreated(e.conversation));
    on('conversation_updated', (e) => onUpdated(e.conversation));
    on('conversation_deleted', (e) => onDeleted(e.conversation_id));
    for (const kind of ['group_created', 'group_updated', 'group_deleted']) on(kind, () => onFoldersChanged());
    on('imported', () => onImported());
    source.addEventListener('open', () => {
      failures = 0;
      if (opened) onReopen();
      opened = true;
    });
    source.addEventListener('error', () => {
      // The browser retries by itself unless the answer was an error status (the feed ends
      // with its access cookie: `get` refreshes it, then the feed opens again).
      if (source.readyState !== EventSource.CLOSED) return;
      get('/api/auth/me')
        .then(() => setTimeout(connect, 0))
        .catch((err) => {
          if (err instanceof SignedOut) {
            window.dispatchEvent(new CustomEvent('sluice:signed-out'));
            return;
          }
          // The API is down or restarting: try again, less and less often (at most every 30 s).
          setTimeout(connect, Math.min(30, 2 ** failures++) * 1000);
        });
    });
  };
  connect();
  return () => {
    stopped = true;
    source.close();
  };
}
