//! The API as a test calls it: sign-in, JSON calls, conversations and messages, SSE streams.

use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::dto::SentOut;
use uuid::Uuid;

use crate::{TestApp, sse};

/// The password `TestApp::register` gives accounts.
pub const PASSWORD: &str = "correct horse battery";

/// A client whose requests come from another loopback address (`127.0.0.{last}`), for tests
/// of per-address limits.
pub fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .expect("client")
}

impl TestApp {
    /// A new guest's access token.
    pub async fn guest(&self) -> String {
        let body: Value = self
            .http
            .post(self.url("/api/auth/guest"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// Registers an account with password `correct horse battery`; returns the sign-in answer.
    pub async fn register(&self, email: &str) -> Value {
        let r = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "register {email}");
        r.json().await.unwrap()
    }

    /// `method path` as `token` (an access token or API key), with an optional JSON body.
    pub async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    /// Creates an API key named `name`: `{id, name, prefix, key, ...}` (the key shown once).
    pub async fn create_key(&self, token: &str, name: &str) -> Value {
        let body = json!({ "name": name });
        let r = self
            .call(token, Method::POST, "/api/keys", Some(body))
            .await;
        assert_eq!(r.status(), 201, "create key");
        r.json().await.expect("a key")
    }

    /// A stream token for `{message_id}` or `{conversation_id}` (`POST /api/stream-tokens`).
    pub async fn stream_token(&self, token: &str, body: Value) -> String {
        let r = self
            .call(token, Method::POST, "/api/stream-tokens", Some(body))
            .await;
        assert_eq!(r.status(), 201, "mint a stream token");
        let out: Value = r.json().await.expect("a token");
        assert!(out["expires_at"].is_string());
        out["token"].as_str().expect("a token").to_string()
    }

    pub async fn create_conversation(&self, token: &str) -> Uuid {
        let r = self
            .call(token, Method::POST, "/api/conversations", Some(json!({})))
            .await;
        assert_eq!(r.status(), 201, "create conversation");
        let body: Value = r.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn send(&self, token: &str, conversation: Uuid, content: &str) -> SentOut {
        let path = format!("/api/conversations/{conversation}/messages");
        let body = json!({ "content": content });
        let r = self.call(token, Method::POST, &path, Some(body)).await;
        assert_eq!(r.status(), 202, "send message");
        r.json().await.unwrap()
    }

    pub async fn message(&self, token: &str, id: Uuid) -> Value {
        self.get_json(token, &format!("/api/messages/{id}")).await
    }

    /// `POST /api/files` of `bytes` named `name` (the body, named by Content-Disposition);
    /// the stored file, expecting 201.
    pub async fn upload_file(
        &self,
        token: &str,
        name: &str,
        bytes: impl Into<reqwest::Body>,
    ) -> Value {
        let r = self
            .http
            .post(self.url("/api/files"))
            .bearer_auth(token)
            .header(
                "content-disposition",
                format!("attachment; filename=\"{name}\""),
            )
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "upload {name}");
        r.json().await.unwrap()
    }

    /// `GET path` as `token`.
    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.call(token, Method::GET, path, None).await
    }

    /// `GET path` as `token`, expecting 200 and JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("a JSON body")
    }

    /// `POST /api/messages/{id}/cancel`.
    pub async fn cancel(&self, token: &str, id: Uuid) -> reqwest::Response {
        let path = format!("/api/messages/{id}/cancel");
        self.call(token, Method::POST, &path, None).await
    }

    /// Sends `content` and reads its answer's stream to the end.
    pub async fn send_answered(&self, token: &str, conversation: Uuid, content: &str) -> SentOut {
        let sent = self.send(token, conversation, content).await;
        self.read_to_end(token, &sent.stream_url).await;
        sent
    }

    /// Every event of an answer's stream, to its end.
    pub async fn read_to_end(&self, token: &str, stream_url: &str) -> Vec<sse::SseEvent> {
        self.sse(token, stream_url, None).await.collect().await
    }

    /// Opens an SSE stream (optionally resuming after `last_event_id`).
    pub async fn sse(&self, token: &str, path: &str, last_event_id: Option<u64>) -> sse::SseStream {
        let mut req = self.http.get(self.url(path)).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 200, "open {path}");
        sse::SseStream::new(response)
    }
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
