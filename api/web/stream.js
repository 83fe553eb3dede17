// Following one answer with EventSource. The browser resumes a dropped stream with
// Last-Event-ID by itself; the server's ids never repeat text (README, "Streams"). Text
// changes are delivered at most once per animation frame, however fast tokens arrive.

import { refresh } from './api.js';

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
  let refreshes = 0;
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
        ended = true;
        performance.mark('sluice-answer-end');
        source.close();
        if (frame) cancelAnimationFrame(frame);
        flush();
        onEnd(kind, JSON.parse(e.data), text);
      });
    }
    source.addEventListener('open', () => {
      refreshes = 0;
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
      // The browser gave up: an error status, most likely 401 because the access cookie
      // expired. Refresh it and follow again from the start (the text is rebuilt in full).
      onState('reconnecting');
      if (refreshes++ >= 3) return onState('signed-out');
      refresh().then((ok) => {
        if (!ok) return onState('signed-out');
        text = '';
        connect();
      });
    });
  };
  connect();
  return () => {
    source.close();
    if (frame) cancelAnimationFrame(frame);
  };
}

/**
 * Every event of a conversation (answers started in another tab). onStart(messageId) for
 * answers this page does not know yet. Returns a function that stops listening.
 */
export function followConversation(conversationId, onStart) {
  let source = null;
  const connect = () => {
    source = new EventSource(`/api/conversations/${conversationId}/events`);
    source.addEventListener('start', (e) => onStart(JSON.parse(e.data).message_id));
    source.addEventListener('error', (e) => {
      // Given up (an expired access cookie): refresh it and listen again. (An answer's own
      // `error` event is a MessageEvent, not about the connection.)
      if (e instanceof MessageEvent || source.readyState !== EventSource.CLOSED) return;
      refresh().then((ok) => ok && connect());
    });
  };
  connect();
  return () => source.close();
}
