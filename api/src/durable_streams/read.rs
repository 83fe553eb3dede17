//! `GET /v1/stream/{path}?offset=…` (`PROTOCOL.md` §5.6–5.7): what follows the offset, at
//! once (catch-up) or, with `live=long-poll`, as soon as something is appended (204 if
//! nothing is within `long_poll_timeout_ms`). `live=sse` is `sse.rs`. And `HEAD` (§5.5).

use std::time::Duration;

use axum::http::{StatusCode, header, request::Parts};
use bytes::{Bytes, BytesMut};
use uuid::Uuid;

use super::{
    Answer, Caller, Failure, Reply, create, json,
    live::{self, Tail},
    log::{self, Stored},
    offset::{self, Seq, Start},
    request::{
        self, Live, ReadQuery, STREAM_CLOSED, STREAM_CURSOR, STREAM_NEXT_OFFSET, STREAM_UP_TO_DATE,
    },
    sse,
    store::{self, Found, Row},
};
use crate::state::AppState;

/// The stream `caller` may read at `path`: 404 (nothing, or expired), 410 (deleted while
/// forks read it). Reads and writes restart a TTL stream's time; HEAD does not.
pub async fn readable(
    state: &AppState,
    caller: &Caller,
    path: &str,
    touch: bool,
) -> Result<Row, Failure> {
    let row = match store::classify(store::find(&state.pool, caller.owner, path).await?) {
        Found::Live(row) => row,
        Found::Gone(row) => {
            caller.may_read(row.id)?;
            return Err(Failure::gone());
        }
        Found::Absent(expired) => {
            if let Some(expired) = expired {
                super::sweep::expire(state, caller.owner, path, expired.id).await;
            }
            return Err(Failure::not_found());
        }
    };
    caller.may_read(row.id)?;
    if touch && row.touch_due {
        store::touch(&state.pool, row.id).await?;
    }
    Ok(row)
}

pub async fn head(state: &AppState, caller: Caller, path: &str) -> Answer {
    let row = readable(state, &caller, path, false).await?;
    let reply = create::described(StatusCode::OK, &row, row.tail(), row.closed)
        .header(header::CACHE_CONTROL, "no-store");
    match row.expiry() {
        request::Expiry::Ttl(secs) => reply.header(request::STREAM_TTL, secs),
        request::Expiry::At(at) => reply.header(
            request::STREAM_EXPIRES_AT,
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ),
        request::Expiry::Never => reply,
    }
    .done()
}

pub async fn get(state: &AppState, caller: Caller, path: &str, parts: &Parts) -> Answer {
    let row = readable(state, &caller, path, true).await?;
    let query = request::read_query(parts.uri.query())?;
    let after = match query.offset.unwrap_or(Start::Beginning) {
        Start::Beginning => 0,
        Start::Now => row.tail(),
        Start::At(seq) if seq > row.tail() => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "offset_out_of_range",
                "the offset is past the stream's end",
            ));
        }
        Start::At(seq) => seq,
    };
    // A browser's `EventSource` reconnects to the same URL, saying in `Last-Event-ID` the
    // offset of the last control event it saw (`sse.rs` gives each its offset as id).
    let resumed = (query.live == Live::Sse)
        .then(|| {
            parts
                .headers
                .get("last-event-id")?
                .to_str()
                .ok()
                .and_then(offset::parse)
        })
        .flatten()
        .filter(|&seq| seq <= row.tail());
    let after = resumed.map_or(after, |seq| seq.max(after));
    let chain = chain(state, &row).await?;
    match query.live {
        Live::No => catch_up(state, &row, &chain, after, &query, parts).await,
        Live::LongPoll => long_poll(state, &row, &chain, after, &query).await,
        Live::Sse => sse::respond(state, caller, row, chain, after, query),
    }
}

/// The stream, then the streams it forked from (nearest first), each with its fork offset.
pub async fn chain(state: &AppState, row: &Row) -> Result<Vec<(Uuid, Option<Seq>)>, Failure> {
    let mut chain = vec![(row.id, row.fork_offset.map(|o| o as Seq))];
    if let Some(source) = row.forked_from {
        let links = store::ancestors(&state.pool, source).await?;
        chain.extend(
            links
                .iter()
                .map(|l| (l.id, l.fork_offset.map(|o| o as Seq))),
        );
    }
    Ok(chain)
}

/// What a read returns of `stored`: the bytes, or for JSON one array of their values.
pub fn body_of(row: &Row, stored: &[Stored]) -> Bytes {
    if request::is_json(&row.content_type) {
        return json::array(stored.iter().map(|s| &s.data[..]));
    }
    let mut out = BytesMut::with_capacity(stored.iter().map(|s| s.data.len()).sum());
    for s in stored {
        out.extend_from_slice(&s.data);
    }
    out.freeze()
}

/// One chunk from `after`: what was read, and the offset after it.
pub async fn chunk(
    state: &AppState,
    chain: &[(Uuid, Option<Seq>)],
    after: Seq,
    tail: Seq,
) -> Result<(Vec<Stored>, Seq), Failure> {
    let segments = log::segments(chain, after, tail);
    let max_bytes = state.config.durable_streams.max_read_bytes;
    let stored = (state.durable.log.read(&segments, max_bytes).await).map_err(super::log_down)?;
    // Nothing below the tail could be read (purged underneath): the reader is at the end.
    let next = stored.last().map_or(tail, |s| s.seq);
    Ok((stored, next))
}

async fn catch_up(
    state: &AppState,
    row: &Row,
    chain: &[(Uuid, Option<Seq>)],
    after: Seq,
    query: &ReadQuery,
    parts: &Parts,
) -> Answer {
    let tail = row.tail();
    let etag = format!(
        "\"{}:{}:{}{}\"",
        row.id,
        after,
        tail,
        if row.closed { ":c" } else { "" }
    );
    let at_now = query.offset == Some(Start::Now);
    if !at_now
        && parts
            .headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Reply::new(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .done();
    }
    let (stored, next) = chunk(state, chain, after, tail).await?;
    let up_to_date = next >= tail;
    let cache = if stored.is_empty() {
        "no-store"
    } else {
        "private, max-age=60, stale-while-revalidate=300"
    };
    Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, &row.content_type)
        .header(STREAM_NEXT_OFFSET, offset::format(next))
        .header_if(up_to_date, STREAM_UP_TO_DATE, "true")
        .header_if(up_to_date && row.closed, STREAM_CLOSED, "true")
        .header_if(!at_now, header::ETAG, etag)
        .header(header::CACHE_CONTROL, cache)
        .body(body_of(row, &stored))
        .done()
}

async fn long_poll(
    state: &AppState,
    row: &Row,
    chain: &[(Uuid, Option<Seq>)],
    after: Seq,
    query: &ReadQuery,
) -> Answer {
    let mut tail = Tail {
        seq: row.tail(),
        closed: row.closed,
    };
    if after >= tail.seq && !tail.closed {
        tail = wait(
            state,
            row.id,
            tail,
            Duration::from_millis(state.config.durable_streams.long_poll_timeout_ms),
        )
        .await?;
    }
    let cursor = offset::cursor(query.cursor.as_deref());
    if after >= tail.seq {
        // Nothing new: at the end, closed or timed out.
        return Reply::new(StatusCode::NO_CONTENT)
            .header(STREAM_NEXT_OFFSET, offset::format(tail.seq))
            .header(STREAM_UP_TO_DATE, "true")
            .header_if(!tail.closed, STREAM_CURSOR, cursor)
            .header_if(tail.closed, STREAM_CLOSED, "true")
            .header(header::CACHE_CONTROL, "no-store")
            .done();
    }
    let (stored, next) = chunk(state, chain, after, tail.seq).await?;
    let up_to_date = next >= tail.seq;
    Reply::new(StatusCode::OK)
        .header(header::CONTENT_TYPE, &row.content_type)
        .header(STREAM_NEXT_OFFSET, offset::format(next))
        .header_if(up_to_date, STREAM_UP_TO_DATE, "true")
        .header_if(up_to_date && tail.closed, STREAM_CLOSED, "true")
        .header_if(!(up_to_date && tail.closed), STREAM_CURSOR, cursor)
        .header(header::CACHE_CONTROL, "no-store")
        .body(body_of(row, &stored))
        .done()
}

/// Waits up to `timeout` for `stream` to move past `seen`; returns its tail then (`seen`
/// if nothing happened). Subscribes first, then reads the row again, so an append that
/// committed since the caller read it is not missed.
pub async fn wait(
    state: &AppState,
    stream: Uuid,
    seen: Tail,
    timeout: Duration,
) -> Result<Tail, Failure> {
    let mut notices = state.durable.tails.watch(stream);
    let mut reconnected = state.nats_reconnected.clone();
    let mut now = current(state, stream).await?.unwrap_or(seen);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if now.is_after(seen) {
            return Ok(now);
        }
        tokio::select! {
            woke = live::changed_after(&mut notices, seen) => {
                if !woke {
                    return Ok(seen);
                }
                let told = *notices.borrow();
                now = now.merge(told);
            }
            // Notices sent while NATS was away are lost: the row knows.
            _ = reconnected.changed() => now = current(state, stream).await?.unwrap_or(now),
            () = tokio::time::sleep_until(deadline) => return Ok(now),
            () = state.shutdown.cancelled() => return Ok(now),
        }
    }
}

/// The stream's committed tail, read from its row (`None`: deleted meanwhile).
pub async fn current(state: &AppState, stream: Uuid) -> Result<Option<Tail>, Failure> {
    let tail = store::tail_of(&state.pool, stream).await?;
    Ok(tail.map(|(seq, closed)| Tail { seq, closed }))
}
