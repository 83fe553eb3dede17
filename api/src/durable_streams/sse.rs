//! `GET /v1/stream/{path}?offset=…&live=sse` (`PROTOCOL.md` §5.8): what follows the offset,
//! then each append as it commits, as Server-Sent Events — `data` events (the bytes; base64
//! for binary streams; one JSON array per event for JSON streams) each followed by a
//! `control` event with the offset to resume from. After `sse_max_secs` the response ends and
//! the client reconnects from its last offset; a closed stream's last event says so.
//!
//! Written by hand, not with axum's `Event`: the protocol's clients read `data:` without a
//! space, and a text payload's CR, LF and CRLF must each start a new `data:` line (so no
//! payload can forge an event). Each control event also carries the offset as its `id`, so a
//! browser's `EventSource` resumes where it was (`Last-Event-ID`).

use std::time::Duration;

use axum::{
    body::Body,
    http::{StatusCode, header},
};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    Answer, Caller, Reply,
    live::{self, Tail},
    offset::{self, Seq},
    read::{body_of, chunk, current},
    request::{self, ReadQuery},
    store::{self, Row},
};
use crate::state::AppState;

pub fn respond(
    state: &AppState,
    caller: Caller,
    row: Row,
    chain: Vec<(Uuid, Option<Seq>)>,
    after: Seq,
    query: ReadQuery,
) -> Answer {
    let base64 = !is_text(&row.content_type);
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let mut lifetime = Duration::from_secs(state.config.durable_streams.sse_max_secs);
    if let Some(left) = crate::stream::tokens::time_left(caller.expires_at) {
        lifetime = lifetime.min(left);
    }
    let writer = Writer {
        state: state.clone(),
        row,
        chain,
        base64,
        cursor: offset::cursor(query.cursor.as_deref()),
        tx,
        deadline: tokio::time::Instant::now() + lifetime,
    };
    tokio::spawn(writer.run(after));
    let events = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body = Body::from_stream(futures::StreamExt::map(
        events,
        Ok::<_, std::convert::Infallible>,
    ));
    Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .header_if(base64, request::SSE_DATA_ENCODING, "base64")
        .body(body)
        .done()
}

/// Text and JSON go as text; everything else as base64.
fn is_text(content_type: &str) -> bool {
    let media = request::media_type(content_type);
    media.starts_with("text/") || media == "application/json"
}

struct Writer {
    state: AppState,
    row: Row,
    chain: Vec<(Uuid, Option<Seq>)>,
    base64: bool,
    cursor: String,
    tx: mpsc::Sender<Bytes>,
    /// When the response ends (`sse_max_secs`, or the stream token's expiry).
    deadline: tokio::time::Instant,
}

/// The client went away: stop.
struct Gone;

impl Writer {
    async fn run(self, after: Seq) {
        let _ = self.serve(after).await;
    }

    async fn serve(&self, mut at: Seq) -> Result<(), Gone> {
        let state = &self.state;
        let deadline = self.deadline;
        let mut notices = state.durable.tails.watch(self.row.id);
        let mut reconnected = state.nats_reconnected.clone();
        let read = Tail {
            seq: self.row.tail(),
            closed: self.row.closed,
        };
        let mut tail = current(state, self.row.id)
            .await
            .ok()
            .flatten()
            .unwrap_or(read);
        let keepalive = state.config.keepalive();
        let mut first = true;
        loop {
            let sent = self.catch_up(&mut at, tail).await?;
            if !sent && (first || tail.closed) {
                // Nothing to send: still say where the reader is, and that it is up to date.
                self.send(control(at, !tail.closed, true, tail.closed, &self.cursor))
                    .await?;
            }
            first = false;
            if tail.closed && at >= tail.seq {
                return Ok(());
            }
            let seen = tail;
            tokio::select! {
                woke = live::changed_after(&mut notices, seen) => {
                    if !woke {
                        return Ok(());
                    }
                    let told = *notices.borrow();
                    tail = tail.merge(told);
                }
                _ = reconnected.changed() => {
                    if let Ok(Some(now)) = current(state, self.row.id).await {
                        tail = now;
                    }
                }
                () = tokio::time::sleep(keepalive) => {
                    match current(state, self.row.id).await {
                        // Deleted meanwhile: end; the reader's next request is told (404/410).
                        Ok(None) => return Ok(()),
                        // A notice lost on its way: the row knows.
                        Ok(Some(now)) if now.is_after(tail) => {
                            tail = tail.merge(now);
                            continue;
                        }
                        _ => {}
                    }
                    self.send(Bytes::from_static(b": keep-alive\n\n")).await?;
                    // A live reader keeps a TTL stream alive.
                    if self.row.ttl_secs.is_some() {
                        let _ = store::touch(&state.pool, self.row.id).await;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                () = state.shutdown.cancelled() => return Ok(()),
                () = self.tx.closed() => return Err(Gone),
            }
        }
    }

    /// Sends what lies between `at` and `tail`, a chunk at a time, each chunk a data event
    /// and a control event; returns whether it sent any.
    async fn catch_up(&self, at: &mut Seq, tail: Tail) -> Result<bool, Gone> {
        let mut sent = false;
        while *at < tail.seq {
            if self.tx.is_closed() {
                return Err(Gone);
            }
            let Ok((stored, next)) = chunk(&self.state, &self.chain, *at, tail.seq).await else {
                // Storage failed mid-stream: end; the client resumes from its last offset.
                return Err(Gone);
            };
            *at = next;
            let up_to_date = next >= tail.seq;
            let closed = up_to_date && tail.closed;
            // The data and its control event in one write: a reader never sees one without
            // the other.
            let mut events = BytesMut::new();
            if !stored.is_empty() {
                events.put(data(&body_of(&self.row, &stored), self.base64));
            }
            events.put(control(next, !closed, up_to_date, closed, &self.cursor));
            self.send(events.freeze()).await?;
            sent = true;
        }
        Ok(sent)
    }

    /// Sends `event`, waiting for room at most until the response's end: a client that stops
    /// reading does not keep this task.
    async fn send(&self, event: Bytes) -> Result<(), Gone> {
        tokio::select! {
            sent = self.tx.send(event) => sent.map_err(|_| Gone),
            () = tokio::time::sleep_until(self.deadline) => Err(Gone),
            () = self.state.shutdown.cancelled() => Err(Gone),
        }
    }
}

/// `event: data` with `payload`: base64 on one line, or text split into `data:` lines at
/// every CRLF, CR and LF.
fn data(payload: &[u8], base64: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 32);
    out.put_slice(b"event: data\n");
    if base64 {
        out.put_slice(b"data:");
        out.put_slice(
            base64::engine::general_purpose::STANDARD
                .encode(payload)
                .as_bytes(),
        );
        out.put_u8(b'\n');
    } else {
        let text = String::from_utf8_lossy(payload);
        for line in lines(&text) {
            out.put_slice(b"data:");
            out.put_slice(line.as_bytes());
            out.put_u8(b'\n');
        }
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// `text` split at CRLF, CR and LF (an empty text is one empty line).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        out.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    out.push(rest);
    out
}

/// `event: control`: the offset to resume from (also as the event's id), the cursor while
/// open, whether the reader is up to date, whether the stream is closed and all sent.
fn control(next: Seq, with_cursor: bool, up_to_date: bool, closed: bool, cursor: &str) -> Bytes {
    let next = offset::format(next);
    let mut json = format!(r#"{{"streamNextOffset":"{next}""#);
    if with_cursor {
        json.push_str(&format!(r#","streamCursor":"{cursor}""#));
    }
    if up_to_date {
        json.push_str(r#","upToDate":true"#);
    }
    if closed {
        json.push_str(r#","streamClosed":true"#);
    }
    Bytes::from(format!("event: control\ndata:{json}}}\nid:{next}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_break_starts_a_data_line_so_payloads_cannot_forge_events() {
        let event = data(b"a\r\n\r\nevent: control\rb\nc", false);
        assert_eq!(
            std::str::from_utf8(&event).unwrap(),
            "event: data\ndata:a\ndata:\ndata:event: control\ndata:b\ndata:c\n\n"
        );
        assert_eq!(&data(b"", false)[..], b"event: data\ndata:\n\n");
        assert_eq!(&data(b"Hello", true)[..], b"event: data\ndata:SGVsbG8=\n\n");
    }

    #[test]
    fn control_events_are_one_line_of_json_with_the_offset_as_id() {
        let c = control(7, true, true, false, "42");
        assert_eq!(
            std::str::from_utf8(&c).unwrap(),
            "event: control\ndata:{\"streamNextOffset\":\"0000000000000000_0000000000000007\",\"streamCursor\":\"42\",\"upToDate\":true}\nid:0000000000000000_0000000000000007\n\n"
        );
        let closed = control(7, false, true, true, "42");
        assert!(
            std::str::from_utf8(&closed)
                .unwrap()
                .contains(r#""upToDate":true,"streamClosed":true}"#)
        );
    }
}
