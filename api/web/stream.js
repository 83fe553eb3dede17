// Following one answer with EventSource. The browser resumes a dropped stream with
// Last-Event-ID by itself; the server's ids never repeat text (README, "Streams"). Text
// changes are delivered at most once per animation frame, however fast tokens arrive.

import { ApiError, SignedOut, get } from './api.js';

const TERMINAL = ['done', 'error', 'cancelled'];

/**
 * Streams answer `messageId`. Callbacks: onText(text) per frame, onState('live' |
 * 'reconnecting' | 'signed-out'), onEnd(kind, data, text) once. Returns a function that stops
 * following.
 */
export function followAnswer(messageId, { onText, onState, onEnd }) {
  let source = null;
  let text = '';
  let frame = 0;
  let failures = 0;
  let ended = false;
  const flush = () => {
    frame = 0;
    onText(text);
  };
  const schedule = () => {
    frame ||= requestAnimationFrame(flush);
  };
  const connect = () => {
    source = new EventSource(`/api/messages/${messageId}/stream`);
    source.addEventListener('token', (e) => {
      text += JSON.parse(e.data).delta;
      schedule();
    });
    source.addEventListener('reset', () => {
      text = '';
      schedule();
    });
    for (const kind of TERMINAL) {
      source.addEventListener(kind, (e) => {
        // `error` is also the name of the connection's own events, which carry no data.
        if (!(e instanceof MessageEvent)) return;
        ended = true;
        performance.mark('sluice-answer-end');
        source.close();
        if (frame) cancelAnimationFrame(frame);
        flush();
        onEnd(kind, JSON.parse(e.data), text);
      });
    }
    source.addEventListener('open', () => {
      failures = 0;
      onState('live');
    });
    source.addEventListener('error', (e) => {
      // The answer's own `error` event (a MessageEvent) is handled above; this is about the
      // connection, and only while the answer is still running.
      if (e instanceof MessageEvent || ended) return;
      if (source.readyState !== EventSource.CLOSED) {
        onState('reconnecting'); // the browser retries after `retry:`, with Last-Event-ID
        return;
      }
      // The browser gave up on an error status it does not show us: ask the API why.
      onState('reconnecting');
      recover();
    });
  };
  // 401 (an expired access cookie): `get` refreshes it; then follow again from the start
  // (the text is rebuilt in full). 404: the answer is gone (its conversation was deleted).
  // Ended meanwhile: show the stored answer. A session over for good: signed out.
  const recover = async () => {
    try {
      const row = await get(`/api/messages/${messageId}`);
      if (['queued', 'streaming'].includes(row.status)) {
        text = '';
        // At once the first time; a stream that keeps failing (NATS down: 503) is retried
        // every second.
        setTimeout(connect, failures++ ? 1000 : 0);
        return;
      }
      ended = true;
      text = row.content;
      flush();
      onEnd(row.status, { message: row.error_code }, text);
    } catch (err) {
      if (err instanceof SignedOut) return onState('signed-out');
      if (err instanceof ApiError && err.status === 404) {
        ended = true;
        return onEnd('gone', {}, text);
      }
      setTimeout(recover, 1000); // the API is down: try again shortly
    }
  };
  connect();
  return () => {
    source.close();
    if (frame) cancelAnimationFrame(frame);
  };
}

/**
 * Every event of a conversation (answers started in another tab, its title). onStart(messageId)
 * for each answer started, onTitle(title) when the model names it. Returns a function that
 * stops listening.
 */
export function followConversation(conversationId, onStart, onTitle) {
  let source = null;
  const connect = () => {
    source = new EventSource(`/api/conversations/${conversationId}/events`);
    source.addEventListener('start', (e) => onStart(JSON.parse(e.data).message_id));
    // Named by its model after the first answer (the title job).
    source.addEventListener('title', (e) => onTitle(JSON.parse(e.data).title));
    source.addEventListener('error', (e) => {
      // Given up on an error status: an expired access cookie (`get` refreshes it) or a
      // conversation deleted meanwhile (then stop). An answer's own `error` event is a
      // MessageEvent, not about the connection.
      if (e instanceof MessageEvent || source.readyState !== EventSource.CLOSED) return;
      get(`/api/conversations/${conversationId}`)
        .then(() => setTimeout(connect, 1000))
        .catch(() => {});
    });
  };
  connect();
  return () => source.close();
}
