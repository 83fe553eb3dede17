//! Opaque pagination cursors: `{microseconds}.{uuid}` of the last item of a page.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

/// The largest page (`limit`); the document says it in `#[param(maximum)]`, a test holds them equal.
const MAX_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,17}\.[0-9a-f]{32}$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl PageQuery {
    /// The page size, 1..=100 (default 20).
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(20),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                "invalid_limit",
                "limit must be between 1 and 100",
            )),
        }
    }

    pub fn after(&self) -> Result<Option<(DateTime<Utc>, Uuid)>, ApiError> {
        self.cursor.as_deref().map(decode).transpose()
    }
}

pub fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{}", at.timestamp_micros(), id.simple())
}

fn decode(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued");
    let (micros, id) = cursor.split_once('.').ok_or_else(bad)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    // Cursors this API issues hold times it stored; anything outside years 1..=9999 would only
    // reach Postgres to be refused ("timestamp out of range").
    if !(1..=9999).contains(&chrono::Datelike::year(&at)) {
        return Err(bad());
    }
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// The cursor for the next page, or `None` when this page is the last.
pub fn next<T>(
    items: &[T],
    limit: i64,
    key: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> Option<String> {
    if (items.len() as i64) < limit {
        return None;
    }
    items.last().map(|last| {
        let (at, id) = key(last);
        encode(at, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_states_the_page_bounds_the_code_checks() {
        use utoipa::IntoParams;
        let params = PageQuery::into_params(|| None);
        let limit = params.iter().find(|p| p.name == "limit").expect("limit");
        let schema = serde_json::to_value(&limit.schema).unwrap();
        assert_eq!(schema["minimum"], 1);
        assert_eq!(schema["maximum"], MAX_LIMIT);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        let q = PageQuery {
            cursor: Some(encode(at, id)),
            limit: None,
        };
        assert_eq!(q.after().unwrap(), Some((at, id)));
        let bad = PageQuery {
            cursor: Some("nope".into()),
            limit: Some(0),
        };
        assert!(bad.after().is_err());
        assert!(bad.limit().is_err());
        let ancient = PageQuery {
            cursor: Some(format!("-1000000000000000000.{}", id.simple())),
            limit: None,
        };
        assert!(ancient.after().is_err());
    }
}
