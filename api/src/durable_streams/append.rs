//! `POST /v1/stream/{path}`: appends the body (`PROTOCOL.md` §5.2), closes the stream with
//! `Stream-Closed: true` (§5.3, with or without a body). Appends to one stream take turns on
//! its row lock, whichever API process serves them: each is checked (closed? content type?
//! the producer's sequence? `Stream-Seq`?), published, and recorded in one transaction.
//!
//! A request that dies between publishing and committing leaves an append in JetStream that
//! no reader sees (reads stop at the row's tail). The next append finds it (JetStream refuses
//! a publish that does not follow the row's last message) and adopts it, with the producer
//! state and closing it carried, before judging its own request again: so an interrupted
//! producer's retry is a duplicate, and every append is stored exactly once.

use std::num::NonZeroU32;

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode},
};
use bytes::Bytes;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Answer, Failure, Reply, json,
    live::Tail,
    log::{Meta, Orphan},
    offset,
    producer::{self, Known, Producer, Verdict},
    read_body,
    request::{self, PRODUCER_EPOCH, PRODUCER_SEQ, STREAM_CLOSED, STREAM_NEXT_OFFSET},
    store::{self, Appended, Found, Row},
};
use crate::state::AppState;

/// What the request asks, checked before the stream is looked at.
struct Asked {
    producer: Option<Producer>,
    close: bool,
    stream_seq: Option<Vec<u8>>,
    sent_type: Option<String>,
    body: Bytes,
}

pub type Limiter = std::sync::Arc<governor::DefaultKeyedRateLimiter<Uuid>>;

/// `appends_per_second` per user, in bursts of up to `append_burst`.
pub fn limiter(config: &sluice_shared::config::DurableStreamsConfig) -> Limiter {
    let rate = NonZeroU32::new(config.appends_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.append_burst).unwrap_or(NonZeroU32::MIN);
    std::sync::Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    ))
}

/// 429 with `Retry-After` once `owner` has spent this second's appends (creates count too).
pub fn within_rate(limiter: &Limiter, owner: Uuid) -> Result<(), Failure> {
    use governor::clock::{Clock, DefaultClock};
    if limiter.len() > 10_000 {
        limiter.retain_recent();
    }
    limiter.check_key(&owner).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let seconds = crate::auth::rate_limit::whole_seconds(wait);
        crate::error::ApiError::RateLimited {
            retry_after_secs: seconds,
            message: "too many appends; slow down (or batch items in one JSON append)".into(),
        }
        .into()
    })
}

pub async fn post(
    state: &AppState,
    owner: Uuid,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Answer {
    let producer = request::producer(headers)?;
    let close = request::closes(headers)?;
    let stream_seq = request::stream_seq(headers)?;
    let body = read_body(body, state.config.durable_streams.max_append_bytes).await?;
    within_rate(&state.durable.appends, owner)?;
    let sent_type = request::content_type(headers)?;
    if body.is_empty() && !close {
        return Err(bad(
            "an append needs a body (or Stream-Closed: true to close)",
        ));
    }
    if !body.is_empty() && sent_type.is_none() {
        return Err(bad("an append needs a Content-Type"));
    }
    let asked = Asked {
        producer,
        close,
        stream_seq,
        sent_type,
        body,
    };
    let producer_id = asked.producer.as_ref().map(|p| p.id.as_str());

    // One append per stream at a time on this process: the others wait here, not holding a
    // pooled connection while they queue for the row's lock.
    let _turn = state.durable.turns.take(owner, path).await;
    let mut tx = state.pool.begin().await?;
    // Each round adopts what died uncommitted; a second round is already rare.
    for _ in 0..4 {
        let found = store::lock_with_producer(&mut tx, owner, path, producer_id).await?;
        let (row, known) = match found.map(|(row, known)| (store::classify(Some(row)), known)) {
            Some((Found::Live(row), known)) => (row, known),
            Some((Found::Gone(_), _)) => return Err(Failure::gone()),
            Some((Found::Absent(expired), _)) => {
                drop(tx);
                if let Some(expired) = expired {
                    super::sweep::expire(state, owner, path, expired.id).await;
                }
                return Err(Failure::not_found());
            }
            None => return Err(Failure::not_found()),
        };
        let data = match judge(&row, known, &asked)? {
            Judged::Answered(reply) => return reply.done(),
            Judged::Write(data) => data,
        };
        let seq = match data {
            None => None,
            Some(data) => {
                let meta = Meta {
                    producer: asked.producer.as_ref(),
                    stream_seq: asked.stream_seq.as_deref(),
                    close: asked.close,
                };
                let published = (state.durable.log)
                    .append(row.id, row.own_last_seq as u64, data, &meta)
                    .await
                    .map_err(super::log_down)?;
                match published {
                    Ok(seq) => Some(seq),
                    Err(orphans) => {
                        // Committed at once: whatever this request turns out to be, they
                        // were stored.
                        adopt(&mut tx, row.id, &orphans).await?;
                        tx.commit().await?;
                        let last = orphans.last().expect("adopt only what exists");
                        let closed = orphans.iter().any(|o| o.close);
                        let told = Tail {
                            seq: last.seq,
                            closed,
                        };
                        state.durable.tails.announce(row.id, told);
                        tx = state.pool.begin().await?;
                        continue;
                    }
                }
            }
        };
        let appended = Appended {
            id: row.id,
            seq,
            close: asked.close,
            stream_seq: asked.stream_seq.as_deref(),
            producer: asked.producer.as_ref(),
        };
        store::record(&mut tx, &appended).await?;
        tx.commit().await?;
        let tail = seq.unwrap_or(row.tail());
        let told = Tail {
            seq: tail,
            closed: asked.close,
        };
        state.durable.tails.announce(row.id, told);
        // A producer's accepted append is 200 (its close-only request 204); others 204.
        let status = if asked.producer.is_some() && seq.is_some() {
            StatusCode::OK
        } else {
            StatusCode::NO_CONTENT
        };
        let reply = Reply::new(status)
            .header(STREAM_NEXT_OFFSET, offset::format(tail))
            .header_if(asked.close, STREAM_CLOSED, "true");
        return with_producer(reply, asked.producer.as_ref()).done();
    }
    Err(Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "stream_busy",
        "the stream's storage kept changing; try again",
    ))
}

enum Judged {
    /// Nothing to write: a duplicate, a repeated close.
    Answered(Reply),
    /// Accepted: the data to publish (none for a close-only request).
    Write(Option<Bytes>),
}

/// The request against the stream as it is, in the protocol's order: closed, content type,
/// producer, `Stream-Seq`, the body itself.
fn judge(row: &Row, known: Option<Known>, asked: &Asked) -> Result<Judged, Failure> {
    let tail = row.tail();
    let producer = asked.producer.as_ref();
    if row.closed {
        let closer = (
            row.closed_by_producer.as_deref(),
            row.closed_by_epoch,
            row.closed_by_seq,
        );
        let same_closer = producer.is_some_and(|p| {
            closer
                == (
                    Some(p.id.as_str()),
                    Some(p.epoch as i64),
                    Some(p.seq as i64),
                )
        });
        if same_closer || (producer.is_none() && asked.body.is_empty()) {
            // The close (or its retry) again: done already.
            let reply = Reply::new(StatusCode::NO_CONTENT)
                .header(STREAM_NEXT_OFFSET, offset::format(tail))
                .header(STREAM_CLOSED, "true");
            return Ok(Judged::Answered(with_producer(reply, producer)));
        }
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "stream_closed",
            "the stream is closed",
        )
        .header(STREAM_CLOSED, "true")
        .header(STREAM_NEXT_OFFSET, offset::format(tail)));
    }
    if let Some(sent) = &asked.sent_type
        && !asked.body.is_empty()
        && request::media_type(sent) != request::media_type(&row.content_type)
    {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "content_type_mismatch",
            format!("the stream's content type is {}", row.content_type),
        ));
    }
    if let Some(p) = producer {
        match producer::judge(known, p) {
            Verdict::Accept => {}
            Verdict::Duplicate { epoch, highest } => {
                return Ok(Judged::Answered(
                    Reply::new(StatusCode::NO_CONTENT)
                        .header(PRODUCER_EPOCH, epoch)
                        .header(PRODUCER_SEQ, highest)
                        .header(STREAM_NEXT_OFFSET, offset::format(tail)),
                ));
            }
            Verdict::StaleEpoch { current } => {
                return Err(Failure::new(
                    StatusCode::FORBIDDEN,
                    "stale_producer_epoch",
                    "a newer epoch of this producer has written since",
                )
                .header(PRODUCER_EPOCH, current));
            }
            Verdict::Gap { expected, received } => {
                return Err(Failure::new(
                    StatusCode::CONFLICT,
                    "producer_sequence_gap",
                    format!("expected Producer-Seq {expected}, got {received}"),
                )
                .header(request::PRODUCER_EXPECTED_SEQ, expected)
                .header(request::PRODUCER_RECEIVED_SEQ, received));
            }
            Verdict::NewEpochNotAtZero => {
                return Err(bad("a new Producer-Epoch starts at Producer-Seq 0"));
            }
        }
    }
    if let (Some(seq), Some(last)) = (&asked.stream_seq, &row.last_stream_seq)
        && seq <= last
    {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "stream_seq_regression",
            "Stream-Seq must increase (compared byte by byte) from append to append",
        ));
    }
    if asked.body.is_empty() {
        return Ok(Judged::Write(None));
    }
    if !request::is_json(&row.content_type) {
        return Ok(Judged::Write(Some(asked.body.clone())));
    }
    match json::values(&asked.body, false) {
        Ok(values) => Ok(Judged::Write(values)),
        Err(json::Refused::EmptyArray) => Err(bad("an empty JSON array appends nothing")),
        Err(json::Refused::Invalid) => Err(bad("the body is not valid JSON")),
    }
}

/// Records appends whose requests died before committing, as their commits would have.
async fn adopt(tx: &mut PgConnection, stream: Uuid, orphans: &[Orphan]) -> sqlx::Result<()> {
    for orphan in orphans {
        let appended = Appended {
            id: stream,
            seq: Some(orphan.seq),
            close: orphan.close,
            stream_seq: orphan.stream_seq.as_deref(),
            producer: orphan.producer.as_ref(),
        };
        store::record(tx, &appended).await?;
    }
    Ok(())
}

fn with_producer(reply: Reply, producer: Option<&Producer>) -> Reply {
    match producer {
        Some(p) => reply
            .header(PRODUCER_EPOCH, p.epoch)
            .header(PRODUCER_SEQ, p.seq),
        None => reply,
    }
}

fn bad(message: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "bad_request", message)
}
