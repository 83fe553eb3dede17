//! JetStream: each stream's appends, one message per append on its own subject of the
//! `{PREFIX}_DURABLE` stream. Publishing says which message it expects last on the subject,
//! so an append whose API died before its row was updated (a message no reader can see,
//! above the row's tail) is found by the next append, which adopts it (`append.rs`) — never
//! shown before it is recorded, never doubled. Reads are Direct Gets, capped at the tail the
//! row gives.

use async_nats::{
    header::{HeaderMap, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE},
    jetstream::{
        self,
        context::PublishErrorKind,
        stream::{DirectGetErrorKind, Stream},
    },
};
use std::sync::Arc;

use bytes::Bytes;
use sluice_shared::subjects::Subjects;
use tokio::sync::watch;
use uuid::Uuid;

use super::{offset::Seq, producer::Producer, recent::Recent};

#[derive(Clone)]
pub struct Log {
    js: jetstream::Context,
    stream: Stream,
    subjects: Subjects,
    reconnected: watch::Receiver<u64>,
    recent: Arc<Recent>,
}

/// What an append changed besides the data, kept in its message's headers: if its request
/// dies between publishing and committing, the next append adopts it from these
/// (`append.rs`), as if it had committed — its producer's retry is then a duplicate.
pub struct Meta<'a> {
    pub producer: Option<&'a Producer>,
    pub stream_seq: Option<&'a [u8]>,
    pub close: bool,
}

const PRODUCER: &str = "Sluice-Producer";
const STREAM_SEQ: &str = "Sluice-Stream-Seq";
const CLOSE: &str = "Sluice-Close";

impl Meta<'_> {
    fn write(&self, headers: &mut HeaderMap) {
        if let Some(p) = self.producer {
            headers.insert(PRODUCER, format!("{} {} {}", p.epoch, p.seq, p.id).as_str());
        }
        if let Some(seq) = self.stream_seq {
            headers.insert(STREAM_SEQ, hex::encode(seq).as_str());
        }
        if self.close {
            headers.insert(CLOSE, "1");
        }
    }
}

/// An append published by a request that never committed it.
#[derive(Debug, Clone)]
pub struct Orphan {
    pub seq: Seq,
    pub producer: Option<Producer>,
    pub stream_seq: Option<Vec<u8>>,
    pub close: bool,
}

impl Orphan {
    fn read(seq: Seq, headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).map(|v| v.as_str().to_string());
        let producer = text(PRODUCER).and_then(|v| {
            let mut parts = v.splitn(3, ' ');
            Some(Producer {
                epoch: parts.next()?.parse().ok()?,
                seq: parts.next()?.parse().ok()?,
                id: parts.next()?.to_string(),
            })
        });
        Self {
            seq,
            producer,
            stream_seq: text(STREAM_SEQ).and_then(|v| hex::decode(v).ok()),
            close: text(CLOSE).is_some(),
        }
    }
}

/// Most appends one read returns (each is a Direct Get of its own).
const MAX_APPENDS_PER_READ: usize = 1000;

/// One append as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub seq: Seq,
    pub data: Bytes,
}

/// A run of one stream's own appends to read: sequences in `(after, up_to]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub stream: Uuid,
    pub after: Seq,
    pub up_to: Seq,
}

impl Log {
    pub fn new(
        js: jetstream::Context,
        stream: Stream,
        subjects: Subjects,
        reconnected: watch::Receiver<u64>,
    ) -> Self {
        Self {
            js,
            stream,
            subjects,
            reconnected,
            recent: Arc::default(),
        }
    }

    /// Appends `data` after `own_last` (the row's last own message); returns its sequence —
    /// or, when the subject holds appends past `own_last` (published by requests that died
    /// before their transaction committed), those appends, for the caller to adopt.
    pub async fn append(
        &self,
        stream: Uuid,
        own_last: Seq,
        data: Bytes,
        meta: &Meta<'_>,
    ) -> anyhow::Result<Result<Seq, Vec<Orphan>>> {
        let subject = self.subjects.durable(stream);
        let mut headers = HeaderMap::new();
        headers.insert(
            NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            own_last.to_string().as_str(),
        );
        meta.write(&mut headers);
        let sent = self
            .js
            .publish_with_headers(subject.clone(), headers, data)
            .await?
            .await;
        match sent {
            Ok(ack) => Ok(Ok(ack.sequence)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                let orphans = self.orphans(&subject, own_last).await?;
                anyhow::ensure!(
                    !orphans.is_empty(),
                    "{subject}: wrong last sequence, yet nothing past {own_last}"
                );
                Ok(Err(orphans))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The appends of `subject` past `own_last`.
    async fn orphans(&self, subject: &str, own_last: Seq) -> anyhow::Result<Vec<Orphan>> {
        let mut out = Vec::new();
        let mut from = own_last + 1;
        loop {
            let m = match self
                .stream
                .direct_get_next_for_subject(subject, Some(from))
                .await
            {
                Ok(m) => m,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            tracing::info!(
                subject,
                seq = m.sequence,
                "adopting an append whose request died before committing"
            );
            from = m.sequence + 1;
            out.push(Orphan::read(m.sequence, &m.headers));
        }
    }

    /// Up to `max_bytes` and `MAX_APPENDS_PER_READ` appends (at least one) of `segments`, in
    /// order: a stream of many tiny appends is read in chunks too.
    pub async fn read(
        &self,
        segments: &[Segment],
        max_bytes: usize,
    ) -> anyhow::Result<Vec<Stored>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for segment in segments {
            let subject = self.subjects.durable(segment.stream);
            let mut after = segment.after;
            while after < segment.up_to {
                if !out.is_empty() && (bytes >= max_bytes || out.len() >= MAX_APPENDS_PER_READ) {
                    return Ok(out);
                }
                let Some(stored) = self.next(segment.stream, &subject, after + 1).await? else {
                    break;
                };
                if stored.seq > segment.up_to {
                    break;
                }
                if !out.is_empty() && bytes + stored.data.len() > max_bytes {
                    return Ok(out);
                }
                after = stored.seq;
                bytes += stored.data.len();
                out.push(stored);
            }
        }
        Ok(out)
    }

    /// The first append of `stream` (on `subject`) at or after `from`: from what this
    /// process read lately, or from JetStream — once, however many readers ask at once.
    async fn next(&self, stream: Uuid, subject: &str, from: Seq) -> anyhow::Result<Option<Stored>> {
        let cell = self.recent.cell((stream, from));
        let got = cell
            .get_or_try_init(|| async {
                let got = sluice_shared::nats::asked_again_on_reconnect(&self.reconnected, || {
                    self.stream.direct_get_next_for_subject(subject, Some(from))
                })
                .await;
                match got {
                    Ok(m) => Ok(Some(Stored {
                        seq: m.sequence,
                        data: m.payload,
                    })),
                    Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok(None),
                    Err(e) => Err(anyhow::Error::from(e)),
                }
            })
            .await
            .cloned();
        self.recent.settle(
            (stream, from),
            &cell,
            got.as_ref().ok().and_then(Option::as_ref),
        );
        got
    }

    /// Drops a deleted stream's data.
    pub async fn purge(&self, stream: Uuid) -> anyhow::Result<()> {
        self.stream
            .purge()
            .filter(self.subjects.durable(stream))
            .await?;
        Ok(())
    }
}

/// The runs of appends a read of a stream from `after` returns: its sources' data up to
/// where each forked (farthest source first), then its own, never past `tail`.
/// `chain` is the stream then its sources, nearest first, each with the offset it forked at.
pub fn segments(chain: &[(Uuid, Option<Seq>)], after: Seq, tail: Seq) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cap = tail;
    for &(stream, fork_offset) in chain {
        let own_from = after.max(fork_offset.unwrap_or(0));
        if cap > own_from {
            out.push(Segment {
                stream,
                after: own_from,
                up_to: cap,
            });
        }
        match fork_offset {
            Some(at) if after < at => cap = cap.min(at),
            _ => break,
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_reads_its_sources_up_to_each_fork_point_then_its_own() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        // c forked from b at 20; b forked from a at 10.
        let chain = [(c, Some(20)), (b, Some(10)), (a, None)];
        assert_eq!(
            segments(&chain, 0, 40),
            [
                Segment {
                    stream: a,
                    after: 0,
                    up_to: 10
                },
                Segment {
                    stream: b,
                    after: 10,
                    up_to: 20
                },
                Segment {
                    stream: c,
                    after: 20,
                    up_to: 40
                },
            ]
        );
        assert_eq!(
            segments(&chain, 15, 40),
            [
                Segment {
                    stream: b,
                    after: 15,
                    up_to: 20
                },
                Segment {
                    stream: c,
                    after: 20,
                    up_to: 40
                },
            ]
        );
        assert_eq!(segments(&chain, 40, 40), []);
        assert_eq!(
            segments(&[(a, None)], 3, 9),
            [Segment {
                stream: a,
                after: 3,
                up_to: 9
            }]
        );
        // A fork with nothing of its own yet reads up to its fork point.
        assert_eq!(
            segments(&[(b, Some(10)), (a, None)], 0, 10),
            [Segment {
                stream: a,
                after: 0,
                up_to: 10
            }]
        );
    }
}
