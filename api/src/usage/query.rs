//! What a usage request asks for: the time range, its buckets, and the filters.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// The width of a time series' buckets, and of the range shown by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
pub enum Interval {
    /// 15-minute buckets; the last day by default.
    #[serde(rename = "15M")]
    Quarter,
    /// Hourly; the last 7 days.
    #[serde(rename = "1H")]
    Hour,
    /// Daily; the last 30 days.
    #[default]
    #[serde(rename = "1D")]
    Day,
    /// Weekly (from Mondays); the last 26 weeks.
    #[serde(rename = "7D")]
    Week,
}

impl Interval {
    pub fn width(self) -> Duration {
        match self {
            Self::Quarter => Duration::minutes(15),
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
            Self::Week => Duration::days(7),
        }
    }

    /// For Postgres' `date_bin`.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Quarter => "15 minutes",
            Self::Hour => "1 hour",
            Self::Day => "1 day",
            Self::Week => "7 days",
        }
    }

    fn default_span(self) -> Duration {
        match self {
            Self::Quarter => Duration::days(1),
            Self::Hour => Duration::days(7),
            Self::Day => Duration::days(30),
            Self::Week => Duration::weeks(26),
        }
    }
}

/// The most buckets one time series may have.
const MAX_BUCKETS: i64 = 1000;

/// `?interval=&from=&to=&model=&provider=&key=` (and `user=` for admins).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Bucket width: `15M`, `1H`, `1D` (default) or `7D`.
    pub interval: Option<Interval>,
    /// Start (RFC 3339); default: a span before `to` fitting the interval (1 day of 15M,
    /// 7 days of 1H, 30 days of 1D, 26 weeks of 7D).
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive (RFC 3339); default: now.
    pub to: Option<DateTime<Utc>>,
    /// Only this model.
    pub model: Option<String>,
    /// Only this provider (`openai`, `anthropic`, `gemini`, `demo`).
    pub provider: Option<String>,
    /// Only answers asked through this API key.
    pub key: Option<Uuid>,
}

/// `?user=`, which admins' usage routes take beside `UsageQuery`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only this user.
    pub user: Option<Uuid>,
}

/// An admin's usage query: `user=` read apart from the rest, so each part still refuses names
/// it does not know (and the callers' own routes do not document a filter they refuse).
#[derive(Debug)]
pub struct AdminUsageQuery {
    pub query: UsageQuery,
    pub user: Option<Uuid>,
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUsageQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let bad = |e: serde_urlencoded::de::Error| {
            ApiError::bad_request("invalid_request", format!("invalid query: {e}"))
        };
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).map_err(bad)?;
        let (user, rest): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| k == "user");
        let user = serde_urlencoded::to_string(user).unwrap_or_default();
        let rest = serde_urlencoded::to_string(rest).unwrap_or_default();
        Ok(Self {
            query: serde_urlencoded::from_str(&rest).map_err(bad)?,
            user: serde_urlencoded::from_str::<UserFilter>(&user)
                .map_err(bad)?
                .user,
        })
    }
}

/// A checked request: range aligned to the rollup's 15 minutes, and filters.
#[derive(Debug, Clone)]
pub struct Range {
    pub interval: Interval,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub user: Option<Uuid>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub key: Option<Uuid>,
}

impl UsageQuery {
    /// The range it names, for `user` (`None`: everyone, for admins).
    pub fn range(self, user: Option<Uuid>) -> Result<Range, ApiError> {
        let interval = self.interval.unwrap_or_default();
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or(to - interval.default_span());
        let quarter = Duration::minutes(15);
        let (Ok(from), Ok(to_floor)) = (from.duration_trunc(quarter), to.duration_trunc(quarter))
        else {
            return Err(invalid("from and to must be real times"));
        };
        // A partial last quarter counts whole: its answers are in its bucket.
        let to = if to_floor == to {
            to
        } else {
            to_floor + quarter
        };
        if from >= to {
            return Err(invalid("from must be before to"));
        }
        if (to - from).num_seconds() / interval.width().num_seconds() > MAX_BUCKETS {
            return Err(invalid(
                "a range of at most 1000 buckets of the interval: widen the interval or narrow the range",
            ));
        }
        Ok(Range {
            interval,
            from,
            to,
            user,
            model: self.model,
            provider: self.provider,
            key: self.key,
        })
    }
}

impl Range {
    /// The whole UTC days inside the range (`from..to` of day starts); an empty range at
    /// `from` when there are none.
    pub fn whole_days(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let day = Duration::days(1);
        let floor = |t: DateTime<Utc>| t.duration_trunc(day).unwrap_or(t);
        let from = floor(self.from);
        let first = if from == self.from { from } else { from + day };
        let last = floor(self.to);
        if first < last {
            (first, last)
        } else {
            (self.from, self.from)
        }
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::unfit("invalid_range", message)
}
