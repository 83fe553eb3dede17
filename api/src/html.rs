//! Server-rendered pages (the device approval page, OAuth outcomes): one plain layout, every
//! interpolated value escaped, and headers that keep the pages out of frames and caches —
//! an approval page that can be framed can be clickjacked.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use crate::error::ApiError;

/// An HTML page, with the cookies it sets.
pub struct Page {
    pub status: StatusCode,
    pub title: String,
    /// Already-escaped HTML for inside `<main>`.
    pub body: String,
    pub cookies: Vec<HeaderValue>,
}

impl Page {
    pub fn new(title: &str, body: String) -> Self {
        Self {
            status: StatusCode::OK,
            title: title.to_string(),
            body,
            cookies: Vec::new(),
        }
    }

    /// A page that only explains what went wrong.
    pub fn message(status: StatusCode, title: &str, message: &str) -> Self {
        Self {
            status,
            ..Self::new(title, format!("<p>{}</p>", escape(message)))
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
        // The web app's stylesheet, so the device and OAuth pages look like the app.
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <title>{title} · Sluice</title>\
             <link rel=\"stylesheet\" href=\"/assets/{version}/style.css\"></head>\
             <body class=\"page\"><main class=\"card\"><h1>{title}</h1>\n{body}\n</main></body></html>\n",
            title = escape(&self.title),
            body = self.body,
            version = crate::web::assets().version,
        );
        let mut response = (self.status, Html(html)).into_response();
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

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
    fn markup_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(
            query_value("/device?user_code=AB CD&x"),
            "%2Fdevice%3Fuser_code%3DAB+CD%26x"
        );
    }
}
