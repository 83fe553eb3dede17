//! Another site's page, for tests of what a browser lets a page on another origin do: served
//! on a port of its own (`http://127.0.0.1:{port}` and `http://localhost:{port}` are two
//! origins), and URLs to hand it in its query.

use axum::{Router, response::Html, routing::get};

/// Serves `page` at `/` on a free port; returns the port.
pub async fn serve(page: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// `text` percent-encoded for a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
