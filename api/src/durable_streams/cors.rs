//! CORS for `/v1/stream/…`: any origin may read and write streams from a browser, without
//! credentials — a stream is reached with a bearer token, an API key or a `?token=` in the
//! URL, never by the browser's cookies (`Access-Control-Allow-Origin: *` forbids sending
//! them). Outermost, so it answers these paths' preflights instead of the API-wide layer
//! (`middleware::cors`), which allows credentials and so only its listed origins.

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::request::PREFIX;

const ALLOW_METHODS: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, if-none-match, last-event-id, \
    stream-seq, stream-ttl, stream-expires-at, stream-closed, stream-forked-from, \
    stream-fork-offset, stream-fork-sub-offset, producer-id, producer-epoch, producer-seq";
const EXPOSE_HEADERS: &str = "stream-next-offset, stream-cursor, stream-up-to-date, \
    stream-closed, stream-ttl, stream-expires-at, stream-sse-data-encoding, producer-epoch, \
    producer-seq, producer-expected-seq, producer-received-seq, etag, location, content-type, \
    retry-after, x-request-id";

pub async fn layer(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(PREFIX) {
        return next.run(request).await;
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    let set = |name, value| (name, HeaderValue::from_static(value));
    let mut add = vec![
        set(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        set(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS),
    ];
    if preflight {
        add.push(set(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS));
        add.push(set(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS));
        add.push(set(header::ACCESS_CONTROL_MAX_AGE, "86400"));
    }
    for (name, value) in add {
        headers.insert(name, value);
    }
    response
}
