// Following one answer with EventSource. The browser resumes a dropped stream with
// Last-Event-ID by itself; the server's ids never repeat text (README, "Streams"). Text
// changes are delivered at most once per animation frame, however fast tokens arrive.

const TERMINAL = ['done', 'error', 'cancelled'];

/**
 * Streams answer `messageId`. Callbacks: onText(text) per frame, onState('live' |
 * 'reconnecting'), onEnd(kind, data) once. Returns a function that stops following.
 */
export function followAnswer(messageId, { onText, onState, onEnd }) {
  const source = new EventSource(`/api/messages/${messageId}/stream`);
  let text = '';
  let frame = 0;
  const flush = () => {
    frame = 0;
    onText(text);
  };
  const schedule = () => {
    frame ||= requestAnimationFrame(flush);
  };
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
      performance.mark('sluice-answer-end');
      source.close();
      if (frame) cancelAnimationFrame(frame);
      flush();
      onEnd(kind, JSON.parse(e.data), text);
    });
  }
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('error', () => {
    // CONNECTING: the browser is retrying (after `retry:`); CLOSED: it gave up.
    onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
  });
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
  const source = new EventSource(`/api/conversations/${conversationId}/events`);
  source.addEventListener('start', (e) => onStart(JSON.parse(e.data).message_id));
  return () => source.close();
}
