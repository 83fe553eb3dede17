//! An HTTP proxy in front of the API that signs every request in: it adds
//! `Authorization: Bearer {key}` and passes bodies through as they stream, both ways. For
//! clients that cannot send credentials — the Durable Streams conformance suite sends none —
//! as an app's own backend would sit between its users and Sluice.

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use tokio::net::TcpListener;

#[derive(Clone)]
struct Upstream {
    base: String,
    bearer: HeaderValue,
    http: reqwest::Client,
}

/// Serves on a free port; returns its base URL (`http://127.0.0.1:{port}`).
pub async fn start(target_base: &str, key: &str) -> String {
    let upstream = Upstream {
        base: target_base.trim_end_matches('/').to_string(),
        bearer: HeaderValue::from_str(&format!("Bearer {key}")).expect("a header value"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = Router::new().fallback(forward).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let url = format!(
        "{}{}",
        up.base,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut headers = parts.headers.clone();
    for hop in [header::HOST, header::CONNECTION, header::TRANSFER_ENCODING] {
        headers.remove(hop);
    }
    headers.insert(header::AUTHORIZATION, up.bearer.clone());
    let sent = up
        .http
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let Ok(answer) = sent else {
        let mut failed = Response::new(Body::from("upstream unreachable"));
        *failed.status_mut() = StatusCode::BAD_GATEWAY;
        return failed;
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .expect("a response")
}
