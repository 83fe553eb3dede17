//! `POST /v1/stream/{path}`: appends the body (`PROTOCOL.md` §5.2), closes the stream with
//! `Stream-Closed: true` (§5.3, with or without a body). Appends to one stream take turns on
//! its row lock, whichever API process serves them: each is checked (closed? content type?
//! the producer's sequence? `Stream-Seq`?), published, and recorded in one transaction.

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode},
};
use uuid::Uuid;

use super::{
    Answer, Failure, Reply, json,
    live::Tail,
    offset,
    producer::{self, Producer, Verdict},
    read_body,
    request::{self, PRODUCER_EPOCH, PRODUCER_SEQ, STREAM_CLOSED, STREAM_NEXT_OFFSET},
    store::{self, Appended, Found},
};
use crate::state::AppState;

pub async fn post(state: &AppState, owner: Uuid, path: &str, headers: &HeaderMap, body: Body) -> Answer {
    let producer = request::producer(headers)?;
    let close = request::closes(headers)?;
    let stream_seq = request::stream_seq(headers)?;
    let body = read_body(body, state.config.durable_streams.max_append_bytes).await?;
    let sent_type = request::content_type(headers)?;
    if body.is_empty() && !close {
        return Err(bad("an append needs a body (or Stream-Closed: true to close)"));
    }
    if !body.is_empty() && sent_type.is_none() {
        return Err(bad("an append needs a Content-Type"));
    }

    let mut tx = state.pool.begin().await?;
    let found = store::lock_with_producer(&mut tx, owner, path, producer.as_ref().map(|p| p.id.as_str())).await?;
    let (row, known) = match found {
        Some((row, known)) => match store::classify(Some(row)) {
            Found::Live(row) => (row, known),
            Found::Gone(_) => return Err(Failure::gone()),
            Found::Absent(expired) => {
                if let Some(expired) = expired {
                    store::remove(&mut tx, expired.id).await?;
                    tx.commit().await?;
                }
                return Err(Failure::not_found());
            }
        },
        None => return Err(Failure::not_found()),
    };
    let tail = row.tail();

    if row.closed {
        let closer = (row.closed_by_producer.as_deref(), row.closed_by_epoch, row.closed_by_seq);
        let same_closer = producer
            .as_ref()
            .is_some_and(|p| closer == (Some(p.id.as_str()), Some(p.epoch as i64), Some(p.seq as i64)));
        if same_closer || (producer.is_none() && body.is_empty()) {
            // The close (or its retry) again: done already.
            let reply = Reply::new(StatusCode::NO_CONTENT)
                .header(STREAM_NEXT_OFFSET, offset::format(tail))
                .header(STREAM_CLOSED, "true");
            return with_producer(reply, producer.as_ref()).done();
        }
        return Err(Failure::new(StatusCode::CONFLICT, "stream_closed", "the stream is closed")
            .header(STREAM_CLOSED, "true")
            .header(STREAM_NEXT_OFFSET, offset::format(tail)));
    }
    if let Some(sent) = &sent_type
        && !body.is_empty()
        && request::media_type(sent) != request::media_type(&row.content_type)
    {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "content_type_mismatch",
            format!("the stream's content type is {}", row.content_type),
        ));
    }
    if let Some(p) = &producer {
        match producer::judge(known, p) {
            Verdict::Accept => {}
            Verdict::Duplicate { epoch, highest } => {
                return Reply::new(StatusCode::NO_CONTENT)
                    .header(PRODUCER_EPOCH, epoch)
                    .header(PRODUCER_SEQ, highest)
                    .header(STREAM_NEXT_OFFSET, offset::format(tail))
                    .done();
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
    if let (Some(seq), Some(last)) = (&stream_seq, &row.last_stream_seq)
        && seq <= last
    {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "stream_seq_regression",
            "Stream-Seq must increase (compared byte by byte) from append to append",
        ));
    }
    let data = if body.is_empty() {
        None
    } else if request::is_json(&row.content_type) {
        match json::values(&body, false) {
            Ok(values) => values,
            Err(json::Refused::EmptyArray) => return Err(bad("an empty JSON array appends nothing")),
            Err(json::Refused::Invalid) => return Err(bad("the body is not valid JSON")),
        }
    } else {
        Some(body)
    };

    let seq = match data {
        Some(data) => Some(state.durable.log.append(row.id, row.own_last_seq as u64, data).await?),
        None => None,
    };
    store::record(
        &mut tx,
        &Appended {
            id: row.id,
            seq,
            close,
            stream_seq: stream_seq.as_deref(),
            producer: producer.as_ref(),
        },
    )
    .await?;
    tx.commit().await?;
    let tail = seq.unwrap_or(tail);
    state.durable.tails.announce(row.id, Tail { seq: tail, closed: close }).await;

    // A producer's accepted append is 200 (its close-only request 204); others 204.
    let status = if producer.is_some() && seq.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let reply = Reply::new(status)
        .header(STREAM_NEXT_OFFSET, offset::format(tail))
        .header_if(close, STREAM_CLOSED, "true");
    with_producer(reply, producer.as_ref()).done()
}

fn with_producer(reply: Reply, producer: Option<&Producer>) -> Reply {
    match producer {
        Some(p) => reply.header(PRODUCER_EPOCH, p.epoch).header(PRODUCER_SEQ, p.seq),
        None => reply,
    }
}

fn bad(message: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "bad_request", message)
}
