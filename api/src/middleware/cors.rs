//! CORS for pages on the origins listed in `cors.allowed_origins` (exact origins, none by
//! default): they may call the API with credentials and stream with `EventSource` (a scoped
//! stream token in `?token=` lets them do so without cookies). No list, no layer: a browser
//! then refuses every cross-origin read, as it does today. Never `*`: credentials are allowed,
//! and a wildcard would hand them to every site.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use sluice_shared::config::CorsConfig;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub fn layer(config: &CorsConfig) -> Option<CorsLayer> {
    if config.allowed_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        // Checked at start-up (`CorsConfig::validate`): every origin is a valid header value.
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("last-event-id"),
                HeaderName::from_static("x-csrf-token"),
            ])
            .expose_headers([
                HeaderName::from_static("x-sluice-message-id"),
                HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
            ])
            .max_age(Duration::from_secs(config.max_age_secs)),
    )
}
