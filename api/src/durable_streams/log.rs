//! JetStream: each stream's appends, one message per append on its own subject of the
//! `{PREFIX}_DURABLE` stream. Publishing says which message it expects last on the subject,
//! so an append whose API died before its row was updated (a message no reader can see,
//! above the row's tail) is found and deleted by the next append — never shown, never
//! doubled. Reads are Direct Gets, capped at the tail the row gives.

use async_nats::{
    header::{HeaderMap, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE},
    jetstream::{
        self,
        context::PublishErrorKind,
        stream::{DirectGetErrorKind, Stream},
    },
};
use bytes::Bytes;
use sluice_shared::subjects::Subjects;
use tokio::sync::watch;
use uuid::Uuid;

use super::offset::Seq;

#[derive(Clone)]
pub struct Log {
    js: jetstream::Context,
    stream: Stream,
    subjects: Subjects,
    reconnected: watch::Receiver<u64>,
}

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
        }
    }

    /// Appends `data` after `own_last` (the row's last own message); returns its sequence.
    pub async fn append(&self, stream: Uuid, own_last: Seq, data: Bytes) -> anyhow::Result<Seq> {
        let subject = self.subjects.durable(stream);
        for _ in 0..3 {
            let mut headers = HeaderMap::new();
            headers.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, own_last.to_string().as_str());
            let sent = self
                .js
                .publish_with_headers(subject.clone(), headers, data.clone())
                .await?
                .await;
            match sent {
                Ok(ack) => return Ok(ack.sequence),
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    self.delete_uncommitted(&subject, own_last).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!("durable stream {stream}: its subject kept changing under the row lock")
    }

    /// Deletes messages above `own_last`: published by appends that never committed.
    async fn delete_uncommitted(&self, subject: &str, own_last: Seq) -> anyhow::Result<()> {
        loop {
            let last = match self.stream.direct_get_last_for_subject(subject).await {
                Ok(m) => m.sequence,
                Err(e) if e.kind() == DirectGetErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            if last <= own_last {
                return Ok(());
            }
            tracing::info!(subject, seq = last, "deleting an append that never committed");
            self.stream.delete_message(last).await?;
        }
    }

    /// Up to `max_bytes` (at least one append) of `segments`, in order.
    pub async fn read(&self, segments: &[Segment], max_bytes: usize) -> anyhow::Result<Vec<Stored>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for segment in segments {
            let subject = self.subjects.durable(segment.stream);
            let mut after = segment.after;
            while after < segment.up_to {
                if !out.is_empty() && bytes >= max_bytes {
                    return Ok(out);
                }
                let Some(stored) = self.next(&subject, after + 1).await? else {
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

    /// The first append of `subject` at or after `from`.
    async fn next(&self, subject: &str, from: Seq) -> anyhow::Result<Option<Stored>> {
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
            Err(e) => Err(e.into()),
        }
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
                Segment { stream: a, after: 0, up_to: 10 },
                Segment { stream: b, after: 10, up_to: 20 },
                Segment { stream: c, after: 20, up_to: 40 },
            ]
        );
        assert_eq!(
            segments(&chain, 15, 40),
            [
                Segment { stream: b, after: 15, up_to: 20 },
                Segment { stream: c, after: 20, up_to: 40 },
            ]
        );
        assert_eq!(segments(&chain, 40, 40), []);
        assert_eq!(segments(&[(a, None)], 3, 9), [Segment { stream: a, after: 3, up_to: 9 }]);
        // A fork with nothing of its own yet reads up to its fork point.
        assert_eq!(segments(&[(b, Some(10)), (a, None)], 0, 10), [Segment { stream: a, after: 0, up_to: 10 }]);
    }
}
