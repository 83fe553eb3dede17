// The account feed (`GET /api/events`): conversations started, changed or deleted in another
// tab or on another device, as they happen. Nothing is replayed, so after a dropped connection
// `onReopen` is the cue to reload what the page shows.

import { get } from './api.js';

/**
 * Calls onCreated(conversation), onUpdated(conversation), onDeleted(id) and, when the feed
 * opens again after a drop, onReopen(). Returns a function that stops following.
 */
export function followAccount({ onCreated, onUpdated, onDeleted, onReopen }) {
  let source = null;
  let opened = false;
  let stopped = false;
  const connect = () => {
    source = new EventSource('/api/events');
    const on = (kind, handle) => source.addEventListener(kind, (e) => handle(JSON.parse(e.data)));
    on('conversation_created', (e) => onCreated(e.conversation));
    on('conversation_updated', (e) => onUpdated(e.conversation));
    on('conversation_deleted', (e) => onDeleted(e.conversation_id));
    source.addEventListener('open', () => {
      if (opened) onReopen();
      opened = true;
    });
    source.addEventListener('error', () => {
      // The browser retries by itself unless the answer was an error status (an expired
      // access cookie: `get` refreshes it, then the feed opens again).
      if (source.readyState !== EventSource.CLOSED) return;
      get('/api/auth/me')
        .then(() => { if (!stopped) setTimeout(connect, 1000); })
        .catch(() => {});
    });
  };
  connect();
  return () => {
    stopped = true;
    source.close();
  };
}
