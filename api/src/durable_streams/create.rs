//! `PUT /v1/stream/{path}`: creates a stream (`PROTOCOL.md` §5.1) — or forks one (§4.2) —
//! with its first data if the body has any. Creating what exists with the same settings is
//! 200 (its body ignored); with other settings, 409.

use axum::{
    body::Body,
    http::{StatusCode, header, request::Parts},
};
use bytes::Bytes;
use uuid::Uuid;

use super::{
    Answer, Failure, Reply, json,
    log::{self, Meta, Stored},
    offset::{self, Seq},
    read_body, removal,
    request::{self, Expiry},
    store::{self, Found, NewFork, NewStream, Row},
};
use crate::state::AppState;

pub async fn put(state: &AppState, owner: Uuid, path: &str, parts: &Parts, body: Body) -> Answer {
    let expiry = request::expiry(&parts.headers)?;
    let fork = request::fork(&parts.headers)?;
    let sent_type = request::content_type(&parts.headers)?;
    let closed = request::closes(&parts.headers)?;
    let body = read_body(body, state.config.durable_streams.max_append_bytes).await?;
    let asked = Asked {
        path,
        owner,
        sent_type,
        expiry,
        closed,
        fork,
    };
    // Two creators of one new path: the second finds the first's row on its next try.
    for _ in 0..3 {
        if let Some(answer) = try_create(state, &asked, &body).await? {
            return answer.done();
        }
    }
    Err(Failure::new(
        StatusCode::CONFLICT,
        "stream_busy",
        "the stream is being created and deleted concurrently; try again",
    ))
}

struct Asked<'a> {
    path: &'a str,
    owner: Uuid,
    sent_type: Option<String>,
    expiry: Expiry,
    closed: bool,
    fork: Option<request::Fork>,
}

/// `None`: the path was created by another request meanwhile.
async fn try_create(
    state: &AppState,
    asked: &Asked<'_>,
    body: &Bytes,
) -> Result<Option<Reply>, Failure> {
    let mut tx = state.pool.begin().await?;
    match store::classify(store::lock(&mut tx, asked.owner, asked.path).await?) {
        Found::Live(row) => {
            return same_settings(asked, &row)
                .map(|()| Some(described(StatusCode::OK, &row, row.tail(), row.closed)));
        }
        Found::Gone(_) => {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "stream_deleted",
                "a deleted stream still read by its forks holds this path",
            ));
        }
        Found::Absent(Some(expired)) => {
            // Deleted in a transaction of its own (it locks its sources, child first), then
            // created afresh on the next try.
            drop(tx);
            super::sweep::expire(state, asked.owner, asked.path, expired.id).await;
            return Ok(None);
        }
        Found::Absent(None) => {}
    }
    let id = Uuid::now_v7();
    let mut content_type = request::creation_content_type(asked.sent_type.clone());
    let mut expiry = asked.expiry;
    let mut appends: Vec<Bytes> = Vec::new();
    let mut new_fork = None;
    if let Some(fork) = &asked.fork {
        let source = match store::classify(store::lock(&mut tx, asked.owner, &fork.source).await?) {
            Found::Live(source) => source,
            Found::Gone(_) => {
                return Err(Failure::new(
                    StatusCode::CONFLICT,
                    "source_deleted",
                    "the stream to fork was deleted",
                ));
            }
            Found::Absent(_) => {
                return Err(Failure::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no stream to fork at Stream-Forked-From",
                ));
            }
        };
        if let Some(sent) = &asked.sent_type
            && request::media_type(sent) != request::media_type(&source.content_type)
        {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "content_type_mismatch",
                "a fork has its source's content type",
            ));
        }
        content_type = source.content_type.clone();
        if expiry == Expiry::Never {
            expiry = source.expiry();
        }
        let at = fork.offset.unwrap_or(source.tail());
        if at > source.tail() {
            return Err(bad("Stream-Fork-Offset is past the source's end"));
        }
        if fork.sub_offset > 0 {
            if fork.offset.is_none() {
                return Err(bad("Stream-Fork-Sub-Offset needs Stream-Fork-Offset"));
            }
            appends.push(prefix_of_next(state, &source, at, fork.sub_offset, &content_type).await?);
        }
        new_fork = Some((source.id, at));
    }
    if !body.is_empty() {
        if request::is_json(&content_type) {
            match json::values(body, true) {
                Ok(Some(values)) => appends.push(values),
                Ok(None) => {}
                Err(_) => return Err(bad("the body is not valid JSON")),
            }
        } else {
            appends.push(body.clone());
        }
    }
    let fork_source_path = asked.fork.as_ref().map(|f| f.source.as_str());
    let new = NewStream {
        id,
        owner: asked.owner,
        path: asked.path,
        content_type: &content_type,
        expiry,
        closed: asked.closed,
        fork: new_fork.map(|(source, offset)| NewFork {
            source,
            source_path: fork_source_path.unwrap_or_default(),
            offset,
            sub_offset: asked.fork.as_ref().map_or(0, |f| f.sub_offset),
        }),
    };
    if !store::insert(&mut tx, &new).await? {
        return Ok(None);
    }
    let mut tail = new_fork.map_or(0, |(_, at)| at);
    let mut own_last = 0;
    if !appends.is_empty() {
        // If this transaction never commits, what it published is purged in ten minutes.
        removal::purge_later(&state.pool, id, 600.0).await?;
        removal::cancel_purge(&mut tx, id).await?;
    }
    for data in appends {
        let meta = Meta {
            producer: None,
            stream_seq: None,
            close: false,
        };
        let published = state.durable.log.append(id, own_last, data, &meta).await;
        // A new stream's subject is its own: nothing can precede its first append.
        let seq = published
            .map_err(super::log_down)?
            .map_err(|_| anyhow::anyhow!("a new stream's subject held appends"))?;
        (tail, own_last) = (seq, seq);
    }
    if own_last > 0 {
        store::set_tail(&mut tx, id, tail).await?;
    }
    tx.commit().await?;
    let location = format!(
        "{}{}{}",
        state.config.public_url.trim_end_matches('/'),
        request::PREFIX,
        asked.path
    );
    let row_type = content_type;
    Ok(Some(
        Reply::new(StatusCode::CREATED)
            .header(header::LOCATION, location)
            .header(header::CONTENT_TYPE, row_type)
            .header(request::STREAM_NEXT_OFFSET, offset::format(tail))
            .header_if(asked.closed, request::STREAM_CLOSED, "true"),
    ))
}

fn bad(message: &str) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// The first `units` of the append after `at` in `source` (bytes, or JSON values): what a
/// fork at a sub-offset starts with, stored as its own first append.
async fn prefix_of_next(
    state: &AppState,
    source: &Row,
    at: Seq,
    units: u64,
    content_type: &str,
) -> Result<Bytes, Failure> {
    let chain = super::read::chain(state, source).await?;
    let segments = log::segments(&chain, at, source.tail());
    let read = state.durable.log.read(&segments, 1).await;
    let next: Option<Stored> = read.map_err(super::log_down)?.into_iter().next();
    let Some(next) = next else {
        return Err(bad(
            "no append follows Stream-Fork-Offset to take a sub-offset of",
        ));
    };
    let units = units as usize;
    if request::is_json(content_type) {
        let values = json::split(&next.data);
        if units > values.len() {
            return Err(bad("Stream-Fork-Sub-Offset is past the append's values"));
        }
        Ok(strip_brackets(json::array(
            values[..units].iter().map(|v| &v[..]),
        )))
    } else {
        if units > next.data.len() {
            return Err(bad("Stream-Fork-Sub-Offset is past the append's bytes"));
        }
        Ok(next.data.slice(..units))
    }
}

/// `[a,b]` → `a,b`: values as an append stores them.
fn strip_brackets(array: Bytes) -> Bytes {
    array.slice(1..array.len() - 1)
}

/// 409 unless the request asks for the settings `row` has.
fn same_settings(asked: &Asked<'_>, row: &Row) -> Result<(), Failure> {
    let differ = |what: &str| {
        Err(Failure::new(
            StatusCode::CONFLICT,
            "stream_exists",
            format!("the stream exists with another {what}"),
        ))
    };
    let is_fork = row.forked_from.is_some();
    let asked_type = match (&asked.sent_type, is_fork) {
        (None, true) => None,
        (sent, _) => Some(request::creation_content_type(sent.clone())),
    };
    if asked_type.is_some_and(|t| request::media_type(&t) != request::media_type(&row.content_type))
    {
        return differ("content type");
    }
    let expiry_differs = match asked.expiry {
        Expiry::Never => !is_fork && row.expiry() != Expiry::Never,
        asked_expiry => asked_expiry != row.expiry(),
    };
    if expiry_differs {
        return differ("TTL or expiry");
    }
    if asked.closed != row.closed {
        return differ("closed state");
    }
    match (&asked.fork, &row.forked_from_path) {
        (None, None) => Ok(()),
        (Some(fork), Some(source))
            if fork.source == *source
                && fork
                    .offset
                    .is_none_or(|o| Some(o as i64) == row.fork_offset)
                && fork.sub_offset as i64 == row.fork_sub_offset =>
        {
            Ok(())
        }
        _ => differ("fork source or offset"),
    }
}

/// The headers describing a stream (PUT's 200/201, HEAD).
pub fn described(status: StatusCode, row: &Row, tail: Seq, closed: bool) -> Reply {
    Reply::new(status)
        .header(header::CONTENT_TYPE, &row.content_type)
        .header(request::STREAM_NEXT_OFFSET, offset::format(tail))
        .header_if(closed, request::STREAM_CLOSED, "true")
}
