//! Another site's page, for tests of what a browser lets a page on another origin do: served
//! on a port of its own (`http://127.0.0.1:{port}` and `http://localhost:{port}` are two
//! origins), to hand URLs in its query (`crate::urlencode`).

use axum::{Router, response::Html, routing::get};

/// Serves `page` at `/` on a free port; returns the port.
pub async fn serve(page: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route("/", get(move || async move { Html(page) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}
