//! Postgres: who owns which stream, and everything an append changes (its tail, closure,
//! `Stream-Seq`, producers). Data lives in JetStream (`log.rs`).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{offset::Seq, producer::Known, request::Expiry};

/// One stream's row, with what `now()` says of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub content_type: String,
    pub ttl_secs: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub tail_seq: i64,
    pub own_last_seq: i64,
    pub closed: bool,
    pub closed_by_producer: Option<String>,
    pub closed_by_epoch: Option<i64>,
    pub closed_by_seq: Option<i64>,
    pub last_stream_seq: Option<Vec<u8>>,
    pub forked_from: Option<Uuid>,
    pub forked_from_path: Option<String>,
    pub fork_offset: Option<i64>,
    pub fork_sub_offset: i64,
    pub ref_count: i32,
    pub soft_deleted: bool,
    /// Past its `Stream-Expires-At`, or its TTL since the last read or write.
    pub expired: bool,
    /// A TTL stream last touched long enough ago that a read should touch it again (reads
    /// touch at most every quarter TTL, or 30 s, to keep writes off the read path).
    pub touch_due: bool,
}

/// Whether stream `s` is past its time: its `Stream-Expires-At`, or its TTL since the last
/// read or write (by the database's clock, the one clock every API process shares).
macro_rules! expired {
    () => {
        "(coalesce(s.expires_at <= now(), false)
          OR coalesce(s.last_access_at + make_interval(secs => s.ttl_secs::float8) <= now(), false))"
    };
}
pub(super) use expired;

macro_rules! columns {
    () => {
        concat!(
            "s.id, s.content_type, s.ttl_secs, s.expires_at, s.tail_seq, s.own_last_seq,
    s.closed, s.closed_by_producer, s.closed_by_epoch, s.closed_by_seq, s.last_stream_seq,
    s.forked_from, s.forked_from_path, s.fork_offset, s.fork_sub_offset, s.ref_count,
    s.soft_deleted, ",
            expired!(),
            " AS expired,
    coalesce(s.last_access_at
      < now() - make_interval(secs => least(s.ttl_secs::float8 / 4, 30)), false) AS touch_due"
        )
    };
}

/// What a path holds, as a request sees it.
#[derive(Debug)]
pub enum Found {
    Live(Row),
    /// Deleted (or expired) while forks still read it: 410 (409 to a create).
    Gone(Row),
    /// Nothing, or expired with nothing reading it.
    Absent(Option<Row>),
}

pub fn classify(row: Option<Row>) -> Found {
    match row {
        None => Found::Absent(None),
        Some(row) if row.soft_deleted => Found::Gone(row),
        Some(row) if row.expired && row.ref_count > 0 => Found::Gone(row),
        Some(row) if row.expired => Found::Absent(Some(row)),
        Some(row) => Found::Live(row),
    }
}

impl Row {
    pub fn tail(&self) -> Seq {
        self.tail_seq as Seq
    }

    pub fn expiry(&self) -> Expiry {
        match (self.ttl_secs, self.expires_at) {
            (Some(ttl), _) => Expiry::Ttl(ttl as u64),
            (None, Some(at)) => Expiry::At(at),
            (None, None) => Expiry::Never,
        }
    }
}

pub async fn find(pool: &PgPool, owner: Uuid, path: &str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM durable_streams s WHERE s.owner_id = $1 AND s.path = $2"
    ))
    .bind(owner)
    .bind(path)
    .fetch_optional(pool)
    .await
}

/// The row, locked until the transaction ends: appends, closes, deletes and forks of one
/// stream take their turns here, whichever API process serves them.
pub async fn lock(tx: &mut PgConnection, owner: Uuid, path: &str) -> sqlx::Result<Option<Row>> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM durable_streams s WHERE s.owner_id = $1 AND s.path = $2 FOR UPDATE"
    ))
    .bind(owner)
    .bind(path)
    .fetch_optional(tx)
    .await
}

/// The row and what it knows of `producer`, locked.
pub async fn lock_with_producer(
    tx: &mut PgConnection,
    owner: Uuid,
    path: &str,
    producer: Option<&str>,
) -> sqlx::Result<Option<(Row, Option<Known>)>> {
    #[derive(sqlx::FromRow)]
    struct WithProducer {
        #[sqlx(flatten)]
        row: Row,
        producer_epoch: Option<i64>,
        producer_last_seq: Option<i64>,
    }
    let found: Option<WithProducer> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        ", p.epoch AS producer_epoch, p.last_seq AS producer_last_seq
         FROM durable_streams s
         LEFT JOIN durable_stream_producers p ON p.stream_id = s.id AND p.producer_id = $3
         WHERE s.owner_id = $1 AND s.path = $2
         FOR UPDATE OF s"
    ))
    .bind(owner)
    .bind(path)
    .bind(producer)
    .fetch_optional(tx)
    .await?;
    Ok(found.map(|f| {
        let known = f
            .producer_epoch
            .zip(f.producer_last_seq)
            .map(|(e, s)| Known {
                epoch: e as u64,
                last_seq: s as u64,
            });
        (f.row, known)
    }))
}

/// A stream and the streams it reads through (its source, the source's source, …), nearest
/// first: what a read needs to stitch a fork's data together.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Link {
    pub id: Uuid,
    pub fork_offset: Option<i64>,
}

pub async fn ancestors(pool: &PgPool, forked_from: Uuid) -> sqlx::Result<Vec<Link>> {
    sqlx::query_as(
        "WITH RECURSIVE chain(id, fork_offset, forked_from, depth) AS (
             SELECT id, fork_offset, forked_from, 1 FROM durable_streams WHERE id = $1
             UNION ALL
             SELECT p.id, p.fork_offset, p.forked_from, c.depth + 1
             FROM durable_streams p JOIN chain c ON p.id = c.forked_from
         )
         SELECT id, fork_offset FROM chain ORDER BY depth",
    )
    .bind(forked_from)
    .fetch_all(pool)
    .await
}

/// A new stream's settings.
pub struct NewStream<'a> {
    pub id: Uuid,
    pub owner: Uuid,
    pub path: &'a str,
    pub content_type: &'a str,
    pub expiry: Expiry,
    pub closed: bool,
    pub fork: Option<NewFork<'a>>,
}

pub struct NewFork<'a> {
    pub source: Uuid,
    pub source_path: &'a str,
    pub offset: Seq,
    pub sub_offset: u64,
}

/// Inserts a stream (and takes a reference on a fork's source). `Ok(false)`: another
/// request created the path first.
pub async fn insert(tx: &mut PgConnection, new: &NewStream<'_>) -> sqlx::Result<bool> {
    let (ttl, at) = match new.expiry {
        Expiry::Never => (None, None),
        Expiry::Ttl(secs) => (Some(secs as i64), None),
        Expiry::At(at) => (None, Some(at)),
    };
    let fork = new.fork.as_ref();
    let tail = fork.map_or(0, |f| f.offset as i64);
    let inserted = sqlx::query(
        "INSERT INTO durable_streams (id, owner_id, path, content_type, ttl_secs, expires_at,
             tail_seq, closed, forked_from, forked_from_path, fork_offset, fork_sub_offset)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (owner_id, path) DO NOTHING",
    )
    .bind(new.id)
    .bind(new.owner)
    .bind(new.path)
    .bind(new.content_type)
    .bind(ttl)
    .bind(at)
    .bind(tail)
    .bind(new.closed)
    .bind(fork.map(|f| f.source))
    .bind(fork.map(|f| f.source_path))
    .bind(fork.map(|f| f.offset as i64))
    .bind(fork.map_or(0, |f| f.sub_offset as i64))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if inserted && let Some(fork) = fork {
        sqlx::query("UPDATE durable_streams SET ref_count = ref_count + 1 WHERE id = $1")
            .bind(fork.source)
            .execute(&mut *tx)
            .await?;
    }
    Ok(inserted)
}

/// What an accepted append (or close) changes, written with the producer's new state.
pub struct Appended<'a> {
    pub id: Uuid,
    /// The new tail and own last sequence, when data was appended.
    pub seq: Option<Seq>,
    pub close: bool,
    pub stream_seq: Option<&'a [u8]>,
    pub producer: Option<&'a super::producer::Producer>,
}

pub async fn record(tx: &mut PgConnection, a: &Appended<'_>) -> sqlx::Result<()> {
    let producer = a.producer;
    sqlx::query(
        "WITH s AS (
             UPDATE durable_streams SET
                 tail_seq = coalesce($2, tail_seq),
                 own_last_seq = coalesce($2, own_last_seq),
                 closed = closed OR $3,
                 closed_by_producer = CASE WHEN $3 THEN $5 ELSE closed_by_producer END,
                 closed_by_epoch = CASE WHEN $3 THEN $6 ELSE closed_by_epoch END,
                 closed_by_seq = CASE WHEN $3 THEN $7 ELSE closed_by_seq END,
                 last_stream_seq = coalesce($4, last_stream_seq),
                 last_access_at = now()
             WHERE id = $1
         )
         INSERT INTO durable_stream_producers (stream_id, producer_id, epoch, last_seq)
         SELECT $1, $5, $6, $7 WHERE $5::text IS NOT NULL
         ON CONFLICT (stream_id, producer_id)
         DO UPDATE SET epoch = EXCLUDED.epoch, last_seq = EXCLUDED.last_seq",
    )
    .bind(a.id)
    .bind(a.seq.map(|s| s as i64))
    .bind(a.close)
    .bind(a.stream_seq)
    .bind(producer.map(|p| p.id.as_str()))
    .bind(producer.map(|p| p.epoch as i64))
    .bind(producer.map(|p| p.seq as i64))
    .execute(tx)
    .await?;
    Ok(())
}

/// A creating PUT's own data: the tail moves to its last append.
pub async fn set_tail(tx: &mut PgConnection, id: Uuid, seq: Seq) -> sqlx::Result<()> {
    sqlx::query("UPDATE durable_streams SET tail_seq = $2, own_last_seq = $2 WHERE id = $1")
        .bind(id)
        .bind(seq as i64)
        .execute(tx)
        .await?;
    Ok(())
}

/// A read restarts a TTL stream's time (reads of a fork never touch its source) — written at
/// most every quarter TTL (or 30 s), so readers do not queue on the row behind appends.
pub async fn touch(pool: &PgPool, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE durable_streams SET last_access_at = now()
         WHERE id = $1 AND ttl_secs IS NOT NULL
           AND last_access_at < now() - make_interval(secs => least(ttl_secs::float8 / 4, 30))",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stream's committed tail and whether it is closed (`None`: deleted meanwhile).
pub async fn tail_of(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<(Seq, bool)>> {
    let row: Option<(i64, bool)> =
        sqlx::query_as("SELECT tail_seq, closed FROM durable_streams WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(seq, closed)| (seq as Seq, closed)))
}
