//! `GET /api/search?q=`: the caller's conversations and messages that match, best first, each
//! with a snippet whose matched words are marked — to open the conversation at the message.

pub mod store;

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, ErrorBody},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Longest query, in characters.
const MAX_QUERY_CHARS: usize = 200;
/// The deepest a search pages: past it, a narrower query finds more.
const MAX_OFFSET: i64 = 1_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    /// What to find, as search boxes take it: words (any form: "planning" finds "plans"),
    /// `"an exact phrase"`, `-without`, `or`. Words full text does not stem (names, code
    /// identifiers, parts of words) are found as they are written, ranked after.
    #[param(min_length = 1, max_length = 200, pattern = r"\S")]
    q: String,
    /// `next_cursor` of the previous page (how many hits came before: 0 to 1000).
    #[param(pattern = r"^(0|[1-9][0-9]{0,2}|1000)$")]
    cursor: Option<String>,
    /// Hits per page, 1 to 50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<i64>,
}

/// Part of a snippet: matched words are `highlight`.
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SnippetPart {
    text: String,
    highlight: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    conversation_id: Uuid,
    conversation_title: Option<String>,
    /// The message that matched; `null` when the conversation's title did.
    message_id: Option<Uuid>,
    /// `user` or `assistant` (`null` for a title).
    role: Option<String>,
    created_at: DateTime<Utc>,
    snippet: Vec<SnippetPart>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    items: Vec<SearchHit>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// Searches the caller's conversation titles and messages, best match first.
#[utoipa::path(get, path = "/api/search", tag = "conversations", params(SearchQuery),
    responses(
        (status = 200, body = SearchPage),
        (status = 400, description = "`invalid_query` (blank or over 200 characters), `invalid_cursor`, `invalid_limit`", body = ErrorBody),
    ))]
async fn search(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<SearchPage>> {
    let query = q.q.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q must be 1 to {MAX_QUERY_CHARS} characters, not blank"),
        ));
    }
    if query.contains('\0') {
        return Err(ApiError::bad_request("invalid_query", "q may not hold NUL"));
    }
    let limit = match q.limit {
        None => 20,
        Some(n) if (1..=50).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                "limit must be between 1 and 50",
            ));
        }
    };
    let offset = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|o| (0..=MAX_OFFSET).contains(o) && c == o.to_string())
            .ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
            })?,
    };
    // Only exclusions ("-draft") would match nearly everything the user has, slowly.
    let words: Vec<&str> = (query.split_whitespace())
        .filter(|w| !w.eq_ignore_ascii_case("or"))
        .collect();
    if !words.is_empty() && words.iter().all(|w| w.starts_with('-')) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "q needs a word to find, not only words to leave out (-word)",
        ));
    }
    // Trigrams need 3 characters; a query with operators (a phrase, an exclusion, `or`) is
    // full text's alone.
    let operators = query.contains('"')
        || (query.split_whitespace()).any(|w| w.starts_with('-') || w.eq_ignore_ascii_case("or"));
    let needle = (query.chars().count() >= 3 && !operators).then_some(query);
    let rows = store::search(&state.pool, user.user_id, query, needle, offset, limit + 1).await?;
    let more = rows.len() as i64 > limit && offset + limit < MAX_OFFSET;
    let items = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| SearchHit {
            conversation_id: r.conversation_id,
            conversation_title: r.conversation_title,
            message_id: r.message_id,
            role: r.role,
            created_at: r.created_at,
            snippet: parts(&r.snippet),
        })
        .collect();
    Ok(Json(SearchPage {
        items,
        next_cursor: more.then(|| (offset + limit).to_string()),
    }))
}

/// A snippet with `store::START`/`STOP` marks as parts; adjacent marked words join.
fn parts(snippet: &str) -> Vec<SnippetPart> {
    let mut out: Vec<SnippetPart> = Vec::new();
    let mut highlight = false;
    let mut text = String::new();
    let flush = |text: &mut String, highlight: bool, out: &mut Vec<SnippetPart>| {
        if text.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.highlight == highlight => last.text.push_str(text),
            _ => out.push(SnippetPart {
                text: text.clone(),
                highlight,
            }),
        }
        text.clear();
    };
    for c in snippet.chars() {
        match c {
            store::START => {
                flush(&mut text, highlight, &mut out);
                highlight = true;
            }
            store::STOP => {
                flush(&mut text, highlight, &mut out);
                highlight = false;
            }
            c => text.push(c),
        }
    }
    flush(&mut text, highlight, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_become_highlighted_parts() {
        let snippet = "we \u{e000}planned\u{e001} the \u{e000}garden\u{e001}\u{e000}s\u{e001}";
        let text = |t: &str, highlight| SnippetPart {
            text: t.into(),
            highlight,
        };
        assert_eq!(
            parts(snippet),
            [
                text("we ", false),
                text("planned", true),
                text(" the ", false),
                text("gardens", true),
            ]
        );
        assert_eq!(parts("plain"), [text("plain", false)]);
    }
}
