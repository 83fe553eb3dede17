//! Idempotent producers (`PROTOCOL.md` §5.2.1): a writer that numbers its appends
//! (`Producer-Id`, `-Epoch`, `-Seq`) gets each stored exactly once, however often it retries.
//! The stream keeps, per producer, its epoch and the highest sequence accepted — in the same
//! transaction as the append, so a crash never separates the two.

/// The three headers of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub id: String,
    pub epoch: u64,
    pub seq: u64,
}

/// What the stream remembers of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub epoch: u64,
    pub last_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New: store it (then remember `(epoch, seq)`).
    Accept,
    /// Already stored: 204, saying the highest sequence accepted.
    Duplicate { epoch: u64, highest: u64 },
    /// An older epoch: a zombie writer, fenced off (403).
    StaleEpoch { current: u64 },
    /// A sequence skipped (409): the producer lost something.
    Gap { expected: u64, received: u64 },
    /// A new epoch must start at sequence 0 (400).
    NewEpochNotAtZero,
}

pub fn judge(known: Option<Known>, asked: &Producer) -> Verdict {
    let Some(known) = known else {
        return match asked.seq {
            0 => Verdict::Accept,
            received => Verdict::Gap {
                expected: 0,
                received,
            },
        };
    };
    if asked.epoch < known.epoch {
        return Verdict::StaleEpoch {
            current: known.epoch,
        };
    }
    if asked.epoch > known.epoch {
        return match asked.seq {
            0 => Verdict::Accept,
            _ => Verdict::NewEpochNotAtZero,
        };
    }
    if asked.seq <= known.last_seq {
        Verdict::Duplicate {
            epoch: known.epoch,
            highest: known.last_seq,
        }
    } else if asked.seq == known.last_seq + 1 {
        Verdict::Accept
    } else {
        Verdict::Gap {
            expected: known.last_seq + 1,
            received: asked.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(epoch: u64, seq: u64) -> Producer {
        Producer {
            id: "w".into(),
            epoch,
            seq,
        }
    }

    #[test]
    fn each_case_of_the_protocols_table() {
        let known = Some(Known {
            epoch: 2,
            last_seq: 5,
        });
        assert_eq!(judge(None, &p(7, 0)), Verdict::Accept);
        assert_eq!(
            judge(None, &p(0, 3)),
            Verdict::Gap {
                expected: 0,
                received: 3
            }
        );
        assert_eq!(judge(known, &p(1, 9)), Verdict::StaleEpoch { current: 2 });
        assert_eq!(judge(known, &p(3, 0)), Verdict::Accept);
        assert_eq!(judge(known, &p(3, 1)), Verdict::NewEpochNotAtZero);
        assert_eq!(
            judge(known, &p(2, 4)),
            Verdict::Duplicate {
                epoch: 2,
                highest: 5
            }
        );
        assert_eq!(judge(known, &p(2, 6)), Verdict::Accept);
        assert_eq!(
            judge(known, &p(2, 8)),
            Verdict::Gap {
                expected: 6,
                received: 8
            }
        );
    }
}
