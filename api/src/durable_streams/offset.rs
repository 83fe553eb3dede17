//! Offsets and cursors, as `PROTOCOL.md` §8 and §10.1 define them.
//!
//! An offset is `EEEEEEEEEEEEEEEE_SSSSSSSSSSSSSSSS`: `S` the JetStream sequence of the last
//! append at or before the position (0: before everything), `E` reserved (0) for a renumbered
//! JetStream stream. Every stream's appends share one JetStream stream, whose sequences only
//! grow, so a stream's offsets increase and sort as strings; a fork's own appends come after
//! its creation, so they sort after everything it inherits, and inherited data keeps its
//! source's offsets (as the protocol asks).

use std::time::{SystemTime, UNIX_EPOCH};

/// A position in a stream: the sequence of the last append before it.
pub type Seq = u64;

/// What `?offset=` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `-1` or no offset: the beginning.
    Beginning,
    /// `now`: the current tail.
    Now,
    At(Seq),
}

/// `Stream-Next-Offset` and friends for position `seq`.
pub fn format(seq: Seq) -> String {
    format!("{:016}_{:016}", 0, seq)
}

/// An offset the server gave out (`E_S`, digits only), or `None`.
pub fn parse(text: &str) -> Option<Seq> {
    let (epoch, seq) = text.split_once('_')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(epoch) || !digits(seq) || epoch.parse::<u64>().ok()? != 0 {
        return None;
    }
    seq.parse().ok()
}

/// `?offset=`: `-1`, `now`, or an offset.
pub fn parse_start(text: &str) -> Option<Start> {
    match text {
        "-1" => Some(Start::Beginning),
        "now" => Some(Start::Now),
        _ => parse(text).map(Start::At),
    }
}

/// Seconds from the Unix epoch to 2024-10-09T00:00:00Z, where cursor intervals count from.
const CURSOR_EPOCH: u64 = 1_728_432_000;
/// One cursor interval.
const CURSOR_INTERVAL_SECS: u64 = 20;

/// `Stream-Cursor` for a live response: the current 20-second interval, or — when the client
/// already sent that interval (or later) — a later one, so a CDN that collapses identical
/// requests never hands the client the response it already had (§10.1).
pub fn cursor(client: Option<&str>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(CURSOR_EPOCH);
    next_cursor(now, client).to_string()
}

fn next_cursor(now_secs: u64, client: Option<&str>) -> u64 {
    let interval = now_secs.saturating_sub(CURSOR_EPOCH) / CURSOR_INTERVAL_SECS;
    match client.and_then(|c| c.parse::<u64>().ok()) {
        Some(sent) if sent >= interval => {
            // 1 to 180 intervals (up to an hour) ahead, so clients spread out.
            let jitter = 1 + rand::random::<u64>() % 180;
            sent.saturating_add(jitter)
        }
        _ => interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_sort_as_their_sequences_do() {
        let mut seqs = [0u64, 1, 9, 10, 99, 100, 12_345_678_901];
        let mut texts: Vec<_> = seqs.iter().map(|&s| format(s)).collect();
        texts.sort();
        seqs.sort();
        assert_eq!(texts, seqs.map(format));
        assert_eq!(format(0), "0000000000000000_0000000000000000");
        assert_eq!(parse(&format(42)), Some(42));
    }

    #[test]
    fn only_offsets_the_server_could_give_parse() {
        assert_eq!(
            parse("0000000000000000_9999999999999999"),
            Some(9999999999999999)
        );
        // An epoch this server never gave.
        assert_eq!(parse("9999999999999999_9999999999999999"), None);
        for bad in [
            "", "_", "0_", "_0", "0,1", "0 1", "../", "0_1_2", "a_1", "1_0", "0_-1", "0_\n1",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse_start("-1"), Some(Start::Beginning));
        assert_eq!(parse_start("now"), Some(Start::Now));
        assert_eq!(parse_start("-2"), None);
    }

    #[test]
    fn a_cursor_is_the_interval_or_ahead_of_the_clients() {
        let now = CURSOR_EPOCH + 20 * 1000 + 5;
        assert_eq!(next_cursor(now, None), 1000);
        assert_eq!(next_cursor(now, Some("7")), 1000);
        assert_eq!(next_cursor(now, Some("junk")), 1000);
        let ahead = next_cursor(now, Some("1000"));
        assert!((1001..=1180).contains(&ahead), "{ahead}");
    }
}
