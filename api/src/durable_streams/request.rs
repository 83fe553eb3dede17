//! What a request says, checked: the protocol's headers and query, each refused with 400
//! naming what is wrong (`PROTOCOL.md` §5). Nothing here touches storage.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};

use super::{
    Failure,
    offset::{self, Seq, Start},
    producer::Producer,
};

pub const STREAM_TTL: &str = "stream-ttl";
pub const STREAM_EXPIRES_AT: &str = "stream-expires-at";
pub const STREAM_CLOSED: &str = "stream-closed";
pub const STREAM_SEQ: &str = "stream-seq";
pub const STREAM_NEXT_OFFSET: &str = "stream-next-offset";
pub const STREAM_UP_TO_DATE: &str = "stream-up-to-date";
pub const STREAM_CURSOR: &str = "stream-cursor";
pub const STREAM_FORKED_FROM: &str = "stream-forked-from";
pub const STREAM_FORK_OFFSET: &str = "stream-fork-offset";
pub const STREAM_FORK_SUB_OFFSET: &str = "stream-fork-sub-offset";
pub const SSE_DATA_ENCODING: &str = "stream-sse-data-encoding";
pub const PRODUCER_ID: &str = "producer-id";
pub const PRODUCER_EPOCH: &str = "producer-epoch";
pub const PRODUCER_SEQ: &str = "producer-seq";
pub const PRODUCER_EXPECTED_SEQ: &str = "producer-expected-seq";
pub const PRODUCER_RECEIVED_SEQ: &str = "producer-received-seq";

/// Where every stream's path starts.
pub const PREFIX: &str = "/v1/stream/";

/// Media type when a creator sends none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Integers the protocol's clients (JavaScript) hold exactly: up to 2^53 − 1.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn bad(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Failure> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| bad(format!("{name} must be visible ASCII"))),
    }
}

/// A stream's path (after `/v1/stream/`), as the URL has it: `None` if it names none.
pub fn stream_path(uri_path: &str) -> Option<&str> {
    let path = uri_path.strip_prefix(PREFIX)?;
    (!path.is_empty()).then_some(path)
}

/// Longest path a stream may have.
pub const MAX_PATH_BYTES: usize = 1024;

/// `Content-Type` as sent (trimmed), if any.
pub fn content_type(headers: &HeaderMap) -> Result<Option<String>, Failure> {
    Ok(text(headers, "content-type")?
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// The media type two content types are compared by: lowercase, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn is_json(content_type: &str) -> bool {
    media_type(content_type) == "application/json"
}

/// A creator's content type: what it sent when it looks like `type/subtype`, else the
/// default (as the reference server does).
pub fn creation_content_type(sent: Option<String>) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.+".contains(&b))
    };
    match sent {
        Some(ct)
            if media_type(&ct)
                .split_once('/')
                .is_some_and(|(a, b)| token(a) && token(b)) =>
        {
            ct
        }
        _ => DEFAULT_CONTENT_TYPE.into(),
    }
}

/// `Stream-Closed: true`.
pub fn closes(headers: &HeaderMap) -> Result<bool, Failure> {
    Ok(text(headers, STREAM_CLOSED)?.is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

/// How a stream expires: a sliding TTL, an instant, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    #[default]
    Never,
    Ttl(u64),
    At(DateTime<Utc>),
}

/// Longest TTL, and latest expiry, accepted: a century.
const MAX_TTL_SECS: u64 = 100 * 365 * 24 * 3600;

/// `Stream-TTL` or `Stream-Expires-At` (never both).
pub fn expiry(headers: &HeaderMap) -> Result<Expiry, Failure> {
    let ttl = text(headers, STREAM_TTL)?;
    let at = text(headers, STREAM_EXPIRES_AT)?;
    match (ttl, at) {
        (Some(_), Some(_)) => Err(bad("send Stream-TTL or Stream-Expires-At, not both")),
        (Some(ttl), None) => {
            let canonical = ttl == "0" || (!ttl.starts_with('0') && !ttl.is_empty());
            match ttl.parse::<u64>() {
                Ok(secs)
                    if canonical
                        && ttl.bytes().all(|b| b.is_ascii_digit())
                        && secs <= MAX_TTL_SECS =>
                {
                    Ok(Expiry::Ttl(secs))
                }
                _ => Err(bad(
                    "Stream-TTL must be whole seconds (digits, no leading zero)",
                )),
            }
        }
        (None, Some(at)) => {
            let at = DateTime::parse_from_rfc3339(at)
                .map_err(|_| bad("Stream-Expires-At must be an RFC 3339 timestamp"))?
                .with_timezone(&Utc);
            if at.timestamp() > Utc::now().timestamp() + MAX_TTL_SECS as i64 {
                return Err(bad("Stream-Expires-At is more than a century away"));
            }
            Ok(Expiry::At(at))
        }
        (None, None) => Ok(Expiry::Never),
    }
}

/// Longest `Stream-Seq` and `Producer-Id` kept.
const MAX_TOKEN_BYTES: usize = 256;

/// `Stream-Seq`: opaque bytes that must increase (byte-wise) from append to append.
pub fn stream_seq(headers: &HeaderMap) -> Result<Option<Vec<u8>>, Failure> {
    match headers.get(STREAM_SEQ) {
        None => Ok(None),
        Some(v) if v.is_empty() || v.len() > MAX_TOKEN_BYTES => {
            Err(bad("Stream-Seq must be 1 to 256 bytes"))
        }
        Some(v) => Ok(Some(v.as_bytes().to_vec())),
    }
}

/// The producer headers: all three or none.
pub fn producer(headers: &HeaderMap) -> Result<Option<Producer>, Failure> {
    let id = text(headers, PRODUCER_ID)?;
    let epoch = text(headers, PRODUCER_EPOCH)?;
    let seq = text(headers, PRODUCER_SEQ)?;
    let number = |name: &str, v: &str| -> Result<u64, Failure> {
        match v.parse::<u64>() {
            Ok(n) if v.bytes().all(|b| b.is_ascii_digit()) && n <= MAX_SAFE_INTEGER => Ok(n),
            _ => Err(bad(format!("{name} must be an integer from 0 to 2^53-1"))),
        }
    };
    match (id, epoch, seq) {
        (None, None, None) => Ok(None),
        (Some(id), Some(epoch), Some(seq)) => {
            if id.is_empty() || id.len() > MAX_TOKEN_BYTES {
                return Err(bad("Producer-Id must be 1 to 256 bytes"));
            }
            Ok(Some(Producer {
                id: id.to_string(),
                epoch: number("Producer-Epoch", epoch)?,
                seq: number("Producer-Seq", seq)?,
            }))
        }
        _ => Err(bad(
            "send all three of Producer-Id, Producer-Epoch and Producer-Seq, or none",
        )),
    }
}

/// A fork's headers: the source's path (after `/v1/stream/`), the offset to fork at (the
/// source's tail when unset) and how far into the next append (0 when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    pub source: String,
    pub offset: Option<Seq>,
    pub sub_offset: u64,
}

pub fn fork(headers: &HeaderMap) -> Result<Option<Fork>, Failure> {
    let from = text(headers, STREAM_FORKED_FROM)?;
    let offset = text(headers, STREAM_FORK_OFFSET)?;
    let sub = text(headers, STREAM_FORK_SUB_OFFSET)?;
    let sub_offset = match sub {
        None => 0,
        Some(s)
            if s == "0"
                || (!s.starts_with('0')
                    && !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())) =>
        {
            s.parse::<u64>()
                .map_err(|_| bad("Stream-Fork-Sub-Offset is too large"))?
        }
        Some(_) => return Err(bad("Stream-Fork-Sub-Offset must be a whole number")),
    };
    let offset = offset
        .map(|o| offset::parse(o).ok_or_else(|| bad("Stream-Fork-Offset is not an offset")))
        .transpose()?;
    let Some(from) = from else {
        if sub.is_some() || offset.is_some() {
            return Err(bad(
                "Stream-Fork-Offset and -Sub-Offset need Stream-Forked-From",
            ));
        }
        return Ok(None);
    };
    let source = stream_path(from)
        .ok_or_else(|| bad("Stream-Forked-From must be a stream's path, /v1/stream/…"))?;
    Ok(Some(Fork {
        source: source.to_string(),
        offset,
        sub_offset,
    }))
}

/// A read's query: `offset`, `live`, `cursor` (others are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadQuery {
    /// `None`: no `offset` at all (the same as `-1`, but live reads need one).
    pub offset: Option<Start>,
    pub offset_text: String,
    pub live: Live,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    No,
    LongPoll,
    Sse,
}

pub fn read_query(query: Option<&str>) -> Result<ReadQuery, Failure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| bad("the query string is malformed"))?;
    let one = |name: &str| -> Result<Option<&str>, Failure> {
        let mut values = pairs.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(bad(format!("`{name}` given more than once")));
        }
        Ok(first)
    };
    let offset = match one("offset")? {
        None => None,
        Some(text) => Some(offset::parse_start(text).ok_or_else(|| {
            bad("offset must be -1, now, or a Stream-Next-Offset this server gave")
        })?),
    };
    let live = match one("live")? {
        None => Live::No,
        Some("long-poll") => Live::LongPoll,
        Some("sse") => Live::Sse,
        Some(_) => return Err(bad("live must be long-poll or sse")),
    };
    if live != Live::No && offset.is_none() {
        return Err(bad("a live read needs an offset (-1 for the beginning)"));
    }
    Ok(ReadQuery {
        offset_text: one("offset")?.unwrap_or("-1").to_string(),
        offset,
        live,
        cursor: one("cursor")?.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn ttls_are_canonical_whole_seconds() {
        assert_eq!(
            expiry(&headers(&[(STREAM_TTL, "60")])).unwrap(),
            Expiry::Ttl(60)
        );
        assert_eq!(
            expiry(&headers(&[(STREAM_TTL, "0")])).unwrap(),
            Expiry::Ttl(0)
        );
        for bad in ["abc", "-1", "00060", "+60", "60.5", "1e3", ""] {
            let h = headers(&[(STREAM_TTL, bad)]);
            assert!(expiry(&h).is_err(), "{bad:?}");
        }
        let both = headers(&[
            (STREAM_TTL, "60"),
            (STREAM_EXPIRES_AT, "2030-01-01T00:00:00Z"),
        ]);
        assert!(expiry(&both).is_err());
        let at = headers(&[(STREAM_EXPIRES_AT, "2030-01-01T01:00:00+01:00")]);
        assert!(
            matches!(expiry(&at).unwrap(), Expiry::At(t) if t.to_rfc3339() == "2030-01-01T00:00:00+00:00")
        );
        assert!(expiry(&headers(&[(STREAM_EXPIRES_AT, "not-a-timestamp")])).is_err());
    }

    #[test]
    fn producer_headers_come_together_as_safe_integers() {
        let full = headers(&[
            (PRODUCER_ID, "w"),
            (PRODUCER_EPOCH, "1"),
            (PRODUCER_SEQ, "0"),
        ]);
        assert_eq!(producer(&full).unwrap().unwrap().epoch, 1);
        assert!(producer(&headers(&[(PRODUCER_ID, "w")])).is_err());
        for bad in ["1abc", "0xyz", "1e3", "-1", "9007199254740992"] {
            let h = headers(&[
                (PRODUCER_ID, "w"),
                (PRODUCER_EPOCH, bad),
                (PRODUCER_SEQ, "0"),
            ]);
            assert!(producer(&h).is_err(), "{bad:?}");
        }
        let empty = headers(&[
            (PRODUCER_ID, ""),
            (PRODUCER_EPOCH, "0"),
            (PRODUCER_SEQ, "0"),
        ]);
        assert!(producer(&empty).is_err());
    }

    #[test]
    fn reads_need_one_wellformed_offset() {
        assert_eq!(read_query(None).unwrap().offset, None);
        assert!(read_query(Some("offset=")).is_err());
        assert!(read_query(Some("offset=-1&offset=-1")).is_err());
        assert!(read_query(Some("live=sse")).is_err());
        assert!(read_query(Some("offset=0%2C1")).is_err());
        let q = read_query(Some("offset=now&live=long-poll&cursor=5&x=y")).unwrap();
        assert_eq!(
            (q.offset, q.live, q.cursor.as_deref()),
            (Some(Start::Now), Live::LongPoll, Some("5"))
        );
    }

    #[test]
    fn content_types_compare_by_media_type() {
        assert_eq!(
            media_type("APPLICATION/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(creation_content_type(None), DEFAULT_CONTENT_TYPE);
        assert_eq!(
            creation_content_type(Some("text/plain".into())),
            "text/plain"
        );
        assert_eq!(
            creation_content_type(Some("nonsense".into())),
            DEFAULT_CONTENT_TYPE
        );
    }

    #[test]
    fn forks_name_a_stream_path() {
        let f = headers(&[
            (STREAM_FORKED_FROM, "/v1/stream/a/b"),
            (STREAM_FORK_SUB_OFFSET, "3"),
        ]);
        assert_eq!(fork(&f).unwrap().unwrap().source, "a/b");
        assert!(fork(&headers(&[(STREAM_FORK_SUB_OFFSET, "0")])).is_err());
        let sub = headers(&[
            (STREAM_FORKED_FROM, "/v1/stream/a"),
            (STREAM_FORK_SUB_OFFSET, "05"),
        ]);
        assert!(fork(&sub).is_err());
    }
}
