//! Server-rendered pages (the device approval page, OAuth outcomes): askama templates in
//! `api/templates/` on one layout (the web app's stylesheet), every value escaped by the
//! template engine, and headers that keep the pages out of frames and caches — an approval
//! page that can be framed can be clickjacked.

use askama::Template;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use crate::error::ApiError;

/// An HTML page (rendered from a template in `api/templates/`), with the cookies it sets.
pub struct Page {
    pub status: StatusCode,
    html: String,
    /// For pages that only explain a problem: the explanation, as text (a form shown again
    /// can repeat it).
    pub message: String,
    pub cookies: Vec<HeaderValue>,
}

/// The version of the web app's stylesheet the pages link (the layout needs it).
pub fn assets_version() -> &'static str {
    &crate::web::assets().version
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    version: &'a str,
    message: &'a str,
}

impl Page {
    /// Renders `template` (which extends `layout.html`); templates escape every value.
    pub fn render(template: &impl Template) -> Self {
        let html = template.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "a page template failed to render");
            "<!doctype html><title>Sluice</title><p>Something went wrong.</p>".into()
        });
        Self {
            status: StatusCode::OK,
            html,
            message: String::new(),
            cookies: Vec::new(),
        }
    }

    /// A page that only explains what went wrong.
    pub fn message(status: StatusCode, title: &str, message: &str) -> Self {
        let page = MessagePage {
            title,
            version: assets_version(),
            message,
        };
        Self {
            status,
            message: message.to_string(),
            ..Self::render(&page)
        }
    }

    pub fn with_status(self, status: StatusCode) -> Self {
        Self { status, ..self }
    }

    pub fn with_cookies(mut self, cookies: impl IntoIterator<Item = HeaderValue>) -> Self {
        self.cookies.extend(cookies);
        self
    }
}

/// API errors become pages with the same status and message; internal ones are logged once
/// here and shown as a bare apology.
impl From<ApiError> for Page {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Client {
                status, message, ..
            } => Self::message(status, "Something is not right", &message),
            ApiError::RateLimited { message, .. } => {
                Self::message(StatusCode::TOO_MANY_REQUESTS, "Slow down", &message)
            }
            ApiError::OverLimit(refusal) => Self::message(
                StatusCode::TOO_MANY_REQUESTS,
                "Limit reached",
                &refusal.message(),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error on a page");
                Self::message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Sluice could not finish this; please try again.",
                )
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut response = (self.status, Html(self.html)).into_response();
        crate::auth::cookies::attach(&mut response, self.cookies);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
}

/// Percent-encodes a query-string value.
pub fn query_value(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s[1..].to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_values_are_query_encoded() {
        let page = Page::message(
            StatusCode::OK,
            "<b>t</b>",
            "<script>alert('x') & \"y\"</script>",
        );
        assert!(
            page.html
                .contains("&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
                || page.html.contains("&#60;script&#62;"),
            "{}",
            page.html
        );
        assert!(!page.html.contains("<script>"));
        assert!(!page.html.contains("<b>t</b>"));
        assert_eq!(
            query_value("/device?user_code=AB CD&x"),
            "%2Fdevice%3Fuser_code%3DAB+CD%26x"
        );
    }
}
