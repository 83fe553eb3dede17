//! Responses that come from layers and extractors rather than from a handler, added to every
//! operation they apply to (where its own description does not name them already), so the
//! document lists every status a route really answers with.

use serde_json::json;
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
    path::{Operation, ParameterIn, PathItem},
};

/// The routes that store an answer (each a POST): admitted against the caller's limits
/// (`crate::limits`), so they may answer 429.
const STORES_AN_ANSWER: &[&str] = &[
    "/api/conversations/{id}/messages",
    "/api/messages",
    "/api/chat",
    "/api/messages/{id}/regenerate",
    "/api/messages/{id}/edit",
    "/v1/chat/completions",
];

/// Adds the common responses to every operation of `doc`.
pub fn add(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let errors = ErrorShape::of(path);
        if let Some(post) = item
            .post
            .as_mut()
            .filter(|_| STORES_AN_ANSWER.contains(&path.as_str()))
        {
            let over = "`rate_limit_exceeded` (requests per minute, tokens per day, answers at \
                        once) or `insufficient_quota` (a cost budget) of the caller's or their \
                        API key's: nothing was stored; `Retry-After`, `x-ratelimit-*`";
            errors.add(post, "429", over);
        }
        for operation in operations(item) {
            if is_secured(operation) {
                let unauthorized =
                    "`unauthorized`: no credentials, or bad, expired or revoked ones";
                errors.add(operation, "401", unauthorized);
            }
            if operation.request_body.is_some() {
                errors.add(operation, "400", "A malformed body or parameter");
                errors.add(operation, "413", "`body_too_large`");
                errors.add(
                    operation,
                    "415",
                    "`unsupported_media_type`: not a body type listed",
                );
            }
            // (A malformed path id names nothing: 404, like an unknown one.)
            let query_or_header = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| !matches!(p.parameter_in, ParameterIn::Path));
            if query_or_header {
                errors.add(operation, "400", "A malformed parameter");
            }
        }
    }
}

/// Adds `403 forbidden` to every operation of `doc`: for the routes that need the `chat`
/// permission (`auth::roles::require_chat`).
pub fn add_needs_chat(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let errors = ErrorShape::of(path);
        for operation in operations(item) {
            errors.add(
                operation,
                "403",
                "`forbidden`: the caller holds no role with the `chat` permission",
            );
        }
    }
}

/// Adds `429 rate_limited` (with `Retry-After`) to every operation of `doc`: for routes behind
/// a per-address limit.
pub fn add_rate_limited(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let errors = ErrorShape::of(path);
        for operation in operations(item) {
            errors.add(
                operation,
                "429",
                "`rate_limited` (per address), with `Retry-After`",
            );
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// An operation without its own `security` takes the document's (a caller is needed); one
/// with `security(())` lists an empty requirement: anyone may call it.
fn is_secured(operation: &Operation) -> bool {
    match &operation.security {
        None => true,
        Some(requirements) => requirements
            .iter()
            .all(|r| serde_json::to_value(r).ok() != Some(json!({}))),
    }
}

/// The body errors have on a path: OpenAI's under `/v1`, RFC 6749's on the OAuth endpoints,
/// the API's own elsewhere (`middleware/error_shape.rs` makes it so).
struct ErrorShape(&'static str);

impl ErrorShape {
    fn of(path: &str) -> Self {
        if path.starts_with("/v1/") {
            Self("ErrorResponse")
        } else if crate::middleware::is_oauth_endpoint(path) {
            Self("OAuthErrorBody")
        } else {
            Self("ErrorBody")
        }
    }

    fn add(&self, operation: &mut Operation, status: &str, description: &str) {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(self.0)))
            .build();
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build();
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    }
}
