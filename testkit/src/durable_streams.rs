//! Durable streams (`/v1/stream/…`) as a test calls them: a client that signs each request
//! with a bearer credential, and reads a whole stream by the protocol's catch-up loop.

use reqwest::{Method, RequestBuilder, Response};

/// One caller's view of the streams at `base` (an API, a proxy or a balancer).
#[derive(Clone)]
pub struct Streams {
    pub base: String,
    pub credential: String,
    pub http: reqwest::Client,
}

impl Streams {
    pub fn new(base: &str, credential: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            credential: credential.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/stream/{path}", self.base)
    }

    /// A request to stream `path`, signed in.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.credential)
    }

    /// Creates `path` as `content_type`; asserts 201.
    pub async fn create(&self, path: &str, content_type: &str) {
        let r = self
            .request(Method::PUT, path)
            .header("content-type", content_type)
            .send()
            .await
            .expect("PUT");
        assert_eq!(
            r.status(),
            201,
            "create {path}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    pub async fn append(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.request(Method::POST, path)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// Everything in `path` from the start, by catch-up reads until `Stream-Up-To-Date`.
    pub async fn read_all(&self, path: &str) -> Vec<u8> {
        read_all(&self.http, &self.url(path), Some(&self.credential)).await
    }
}

/// Everything in the stream at `url` (which may carry `?token=`), read from the start.
pub async fn read_all(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = "-1".to_string();
    let join = if url.contains('?') { '&' } else { '?' };
    loop {
        let mut req = http.get(format!("{url}{join}offset={offset}"));
        if let Some(bearer) = bearer {
            req = req.bearer_auth(bearer);
        }
        let r = req.send().await.expect("GET");
        assert_eq!(r.status(), 200, "read {url}");
        let up_to_date = r.headers().contains_key("stream-up-to-date");
        offset = header(&r, "stream-next-offset").expect("Stream-Next-Offset");
        out.extend_from_slice(&r.bytes().await.expect("body"));
        if up_to_date {
            return out;
        }
    }
}

/// A response header as text.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name)?.to_str().ok().map(str::to_string)
}
