//! JSON mode (`PROTOCOL.md` §9.1), for streams whose media type is `application/json`: an
//! append's body must be JSON; a top-level array appends its items (one level), anything
//! else appends itself; a read answers one array of everything read. An append is stored as
//! its values joined by commas, so a read is `[` + the appends joined by commas + `]`, and
//! every value keeps the bytes its writer sent.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::value::RawValue;

/// Why a body is not a JSON append.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Invalid,
    /// `[]` appends nothing (allowed when creating: an empty stream).
    EmptyArray,
}

/// `body`'s values, joined by commas, as stored; `Ok(None)` for `[]` when `empty_ok`.
pub fn values(body: &[u8], empty_ok: bool) -> Result<Option<Bytes>, Refused> {
    let whole: Box<RawValue> = serde_json::from_slice(body).map_err(|_| Refused::Invalid)?;
    let text = whole.get().trim();
    if !text.starts_with('[') {
        return Ok(Some(Bytes::copy_from_slice(text.as_bytes())));
    }
    let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(|_| Refused::Invalid)?;
    if items.is_empty() {
        return if empty_ok {
            Ok(None)
        } else {
            Err(Refused::EmptyArray)
        };
    }
    Ok(Some(join(items.iter().map(|v| v.get().as_bytes()), b"")))
}

/// A stored append's values (for a fork's sub-offset, which counts values).
pub fn split(stored: &[u8]) -> Vec<Bytes> {
    let array = join(std::iter::once(stored), b"[");
    let mut framed = BytesMut::from(&array[..]);
    framed.put_u8(b']');
    serde_json::from_slice::<Vec<Box<RawValue>>>(&framed)
        .map(|items| {
            items
                .iter()
                .map(|v| Bytes::copy_from_slice(v.get().as_bytes()))
                .collect()
        })
        .unwrap_or_default()
}

/// What a read answers: the appends' values as one array.
pub fn array<'a>(stored: impl Iterator<Item = &'a [u8]>) -> Bytes {
    let mut out = BytesMut::from(&join(stored, b"[")[..]);
    out.put_u8(b']');
    out.freeze()
}

/// `first` then `parts` joined by commas (empty parts left out).
fn join<'a>(parts: impl Iterator<Item = &'a [u8]>, first: &[u8]) -> Bytes {
    let mut out = BytesMut::from(first);
    let mut any = false;
    for part in parts.filter(|p| !p.is_empty()) {
        if any {
            out.put_u8(b',');
        }
        out.put_slice(part);
        any = true;
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str) -> String {
        String::from_utf8(values(body.as_bytes(), false).unwrap().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn an_array_appends_its_items_one_level_deep() {
        assert_eq!(stored(r#"[{"a":1}, {"b":2}]"#), r#"{"a":1},{"b":2}"#);
        assert_eq!(stored("[[1,2],[3,4]]"), "[1,2],[3,4]");
        assert_eq!(stored("[[[1,2,3]]]"), "[[1,2,3]]");
        assert_eq!(stored(r#" {"x": 1.50} "#), r#"{"x": 1.50}"#);
        assert_eq!(split(b"[1,2],{\"a\":\"b,c\"}").len(), 2);
    }

    #[test]
    fn empty_arrays_and_bad_json_are_refused() {
        assert_eq!(values(b"[]", false), Err(Refused::EmptyArray));
        assert_eq!(values(b" [ ] ", true), Ok(None));
        assert_eq!(values(b"{", false), Err(Refused::Invalid));
        assert_eq!(values(b"", false), Err(Refused::Invalid));
        assert_eq!(values(b"1 2", false), Err(Refused::Invalid));
    }

    #[test]
    fn reads_are_one_array() {
        let parts: [&[u8]; 3] = [b"1,2", b"", b"{\"a\":3}"];
        assert_eq!(&array(parts.into_iter())[..], b"[1,2,{\"a\":3}]");
        assert_eq!(&array(std::iter::empty())[..], b"[]");
    }
}
