//! The web app, served by the API itself: one HTML shell for every app URL (`/`, `/c/{id}`,
//! `/settings`, `/signin`), and its embedded ES modules and CSS (`assets.rs`). Everything it
//! shows comes from the JSON API with the browser's cookies.

mod assets;

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};
pub use assets::assets;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(home))
        .routes(routes!(conversation))
        .routes(routes!(settings))
        .routes(routes!(usage))
        .routes(routes!(sign_in))
        .routes(routes!(asset))
}

// One handler per app URL, so each is its own documented route; the page is the same.

/// The web app.
#[utoipa::path(get, path = "/", tag = "web", security(()),
    responses((status = 200, content_type = "text/html", description = "The app's page")))]
async fn home() -> Response {
    app_page()
}

/// The web app, opened on a conversation.
#[utoipa::path(get, path = "/c/{id}", tag = "web", security(()),
    params(("id" = String, Path, description = "The conversation")),
    responses((status = 200, content_type = "text/html", description = "The app's page")))]
async fn conversation() -> Response {
    app_page()
}

/// The web app's settings: account, sessions, API keys.
#[utoipa::path(get, path = "/settings", tag = "web", security(()),
    responses((status = 200, content_type = "text/html", description = "The app's page")))]
async fn settings() -> Response {
    app_page()
}

/// The web app's usage page: requests, tokens, cost and latency over time.
#[utoipa::path(get, path = "/usage", tag = "web", security(()),
    responses((status = 200, content_type = "text/html", description = "The app's page")))]
async fn usage() -> Response {
    app_page()
}

/// The web app's sign-in page.
#[utoipa::path(get, path = "/signin", tag = "web", security(()),
    responses((status = 200, content_type = "text/html", description = "The app's page")))]
async fn sign_in() -> Response {
    app_page()
}

/// Any other address. A browser asking for a page gets the app's shell (status 404), which
/// shows its own not-found page — or the page meant, for `/settings/` — instead of a JSON
/// error; everything else gets the API's JSON 404.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let api = path == "/api" || path.starts_with("/api/") || path.starts_with("/v1/");
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if method == Method::GET && !api && wants_page {
        let mut page = app_page();
        *page.status_mut() = StatusCode::NOT_FOUND;
        return page;
    }
    ApiError::not_found("route").into_response()
}

/// The app's shell. Never cached: it names the current assets' version.
fn app_page() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        assets().index_html.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    page_security_headers(headers);
    response
}

/// The pages' CSP with `$style_src` as its `style-src`, built at compile time.
macro_rules! csp {
    ($style_src:literal) => {
        concat!(
            "default-src 'self'; script-src 'self'; style-src ",
            $style_src,
            "; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'"
        )
    };
}

/// What the app's page sends: no inline script or handler can run, no site may frame it, and
/// no URL leaks to other sites. (HSTS, when the public URL is https, is on every response:
/// `lib.rs`.)
pub fn page_security_headers(headers: &mut HeaderMap) {
    security_headers(headers, csp!("'self'"));
}

/// The API docs page's: the same, but Swagger UI injects a `<style>` (`openapi/mod.rs`).
pub fn docs_security_headers(headers: &mut HeaderMap) {
    security_headers(headers, csp!("'self' 'unsafe-inline'"));
}

fn security_headers(headers: &mut HeaderMap, csp: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// The app's scripts and styles: gzipped when the browser accepts it; cached for a year when
/// the version is current (an old page asking for an old version gets today's file, uncached).
#[utoipa::path(get, path = "/assets/{version}/{name}", tag = "web", security(()),
    params(
        ("version" = String, Path, description = "The assets' version, as the page names it"),
        ("name" = String, Path, description = "The file: `app.js`, `app.css`, …"),
    ),
    responses(
        (status = 200, description = "The file, with its content type"),
        (status = 404, description = "No such file", body = ErrorBody),
    ))]
async fn asset(
    Path((version, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let assets = assets();
    let asset = assets
        .get(&name)
        .ok_or_else(|| ApiError::not_found("asset"))?;
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let cache = if version == assets.version {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if gzip_ok {
        (StatusCode::OK, asset.gzip.clone()).into_response()
    } else {
        (StatusCode::OK, asset.plain).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip_ok {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// Whether an `Accept-Encoding` value allows gzip (RFC 9110 §12.5.3): named, or covered by
/// `*`, with a weight above zero — `gzip;q=0` refuses it, whatever `*` says.
fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim().eq_ignore_ascii_case("q").then_some(value)
            })
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return weight > 0.0,
            "*" => star = weight > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_is_sent_only_where_it_is_accepted() {
        for yes in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1.0, GZIP;Q=0.5",
            "*",
            "deflate, *;q=0.1",
        ] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in [
            "",
            "identity",
            "gzip;q=0",
            "gzip; Q=0.000",
            "*, gzip;q=0",
            "*;q=0",
            "br",
        ] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }
}
