//! The OpenAPI document at `/openapi.json`: it names every route the router serves, every route
//! it names is served, and real responses of every JSON route match the schemas it gives
//! (event streams too, event by event). `/docs` renders it from vendored files.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_shared::dto::DEVICE_GRANT_TYPE;
use sluice_testkit::TestApp;

/// Router-building calls that add a route without its description. Every route is registered
/// with `utoipa_axum::routes!`, which adds it to the document in the same call.
const UNDOCUMENTED_ROUTING: [&str; 4] = [".route(", ".route_service(", ".nest(", ".nest_service("];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the API's sources") {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn the_api_adds_routes_only_with_their_description() {
    let api_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/src");
    let mut files = Vec::new();
    rust_files(&api_src, &mut files);
    assert!(files.len() > 30, "found the API's sources: {files:?}");
    let mut undocumented = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if UNDOCUMENTED_ROUTING.iter().any(|call| line.contains(call)) {
                undocumented.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes added without `routes!` are missing from /openapi.json:\n{}",
        undocumented.join("\n")
    );
}

async fn document(app: &TestApp) -> Value {
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

/// Every (method, path) the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                found.insert((method.to_string(), path.clone()));
            }
        }
    }
    found
}

/// A concrete URL for a documented path: a path parameter takes a value the route accepts.
fn concrete(path: &str) -> String {
    path.replace("{provider}", "github")
        .replace("{decision}", "approve")
        .replace("{version}", "v0")
        .replace("{name}", "app.js")
        .replace("{id}", "0196b1f4-0000-7000-8000-000000000000")
}

#[tokio::test]
async fn the_document_describes_every_route_and_each_is_served() {
    let app = TestApp::spawn_configured(|c| {
        c.auth_rate_per_minute = 10_000;
        c.auth_burst = 10_000;
    })
    .await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let ops = operations(&doc);
    // Each part of the API is there, streams as event streams with their event schema.
    for (method, path) in [
        ("post", "/api/auth/device/code"),
        ("get", "/api/conversations/{id}/events"),
        ("get", "/api/messages/{id}/stream"),
        ("post", "/api/keys"),
        ("put", "/api/admin/users/{id}/roles"),
        ("post", "/v1/chat/completions"),
        ("get", "/v1/models"),
        ("get", "/api/models"),
        ("get", "/openapi.json"),
        ("get", "/healthz"),
    ] {
        assert!(
            ops.contains(&(method.into(), path.into())),
            "{method} {path} documented"
        );
    }
    let stream = &doc["paths"]["/api/messages/{id}/stream"]["get"]["responses"]["200"];
    let events = &stream["content"]["text/event-stream"]["schema"];
    let data = &events["properties"]["data"]["anyOf"][0];
    assert_eq!(
        data["contentSchema"]["$ref"], "#/components/schemas/StreamEvent",
        "{stream}"
    );
    assert_eq!(data["contentMediaType"], "application/json", "{stream}");
    let kinds = doc["components"]["schemas"]["StreamEvent"].to_string();
    for kind in ["start", "token", "reset", "done", "error", "cancelled"] {
        assert!(kinds.contains(&format!("\"{kind}\"")), "{kind} in {kinds}");
    }

    // Every documented operation is one the router serves: nothing answers "route not found"
    // or "method not allowed".
    for (method, path) in &ops {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = app
            .http
            .request(method.clone(), app.url(&concrete(path)))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !body.contains("route not found"),
            "{method} {path} is documented but not routed: {status} {body}"
        );
    }

    docs_render_the_document(&app).await;
}

/// The docs page renders the document with files served from the API itself.
async fn docs_render_the_document(app: &TestApp) {
    let r = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(
        !page.contains("https://"),
        "no file comes from elsewhere: {page}"
    );
    let init = app
        .http
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}

const EVENT_STREAM: &str = "text/event-stream";

/// The events of an SSE body, each as the object the document's event schema describes: its
/// `event`, `id` and `data` fields as strings (several `data` lines joined by newlines), only
/// those present. Comments are skipped, and so are blocks without `data` (such as the `retry:`
/// hint that opens Sluice's streams), which SSE does not dispatch as events.
fn sse_events(text: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut fields = serde_json::Map::new();
    for line in text.lines().chain([""]) {
        if line.is_empty() {
            let block = std::mem::take(&mut fields);
            if block.contains_key("data") {
                events.push(Value::Object(block));
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match (name, fields.get_mut(name)) {
            ("data", Some(Value::String(data))) => {
                data.push('\n');
                data.push_str(value);
            }
            ("data" | "event" | "id", _) => {
                fields.insert(name.to_string(), value.into());
            }
            _ => {}
        }
    }
    events
}

/// Asserts that `body` matches `schema`, compiled as `validator`; `what` names the response.
fn assert_valid(validator: &jsonschema::Validator, what: &str, schema: &Value, body: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}\nbody: {body}\nschema: {schema}",
        errors.join("\n")
    );
}

/// Checks real responses against the document and remembers which operations it saw.
struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
}

impl Checker {
    /// Reads `r` (a response to `method path`) and checks it against its documented schema;
    /// returns the status and the JSON body (event streams: the `data` of each event).
    async fn check(&mut self, method: &str, path: &str, r: reqwest::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        let response = &self.doc["paths"][path][method]["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document does not list: {text}"
        );
        if text.is_empty() {
            return (status, Value::Null);
        }
        let schema = &response["content"][&content_type]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} answered {content_type}, undocumented: {response}"
        );
        let what = format!("{method} {path} {status}");
        let body = if content_type == EVENT_STREAM {
            self.check_events(&what, schema, &text)
        } else {
            let body = serde_json::from_str(&text).expect("a JSON body");
            assert_valid(&self.validator(&what, schema), &what, schema, &body);
            body
        };
        if content_type == "application/json" {
            self.seen.insert((method.to_string(), path.to_string()));
        }
        (status, body)
    }

    /// Checks each event of the stream `text` against the event schema `schema`, and the JSON
    /// in its `data` against the payload schema the event names; returns the payloads in order
    /// (without `/v1`'s closing `[DONE]`).
    fn check_events(&self, what: &str, schema: &Value, text: &str) -> Value {
        let payload_schema = &schema["properties"]["data"]["anyOf"][0]["contentSchema"];
        assert!(
            payload_schema.is_object(),
            "{what}: the event's data names its payload's schema: {schema}"
        );
        let event_validator = self.validator(what, schema);
        let payload_validator = self.validator(what, payload_schema);
        let mut payloads = Vec::new();
        for event in sse_events(text) {
            assert_valid(&event_validator, what, schema, &event);
            let data = event["data"].as_str().unwrap().trim();
            if data == "[DONE]" {
                continue;
            }
            let payload = serde_json::from_str(data).expect("event data is JSON");
            assert_valid(&payload_validator, what, payload_schema, &payload);
            payloads.push(payload);
        }
        Value::Array(payloads)
    }

    /// `schema` compiled with the document's components, which its `$ref`s name.
    fn validator(&self, what: &str, schema: &Value) -> jsonschema::Validator {
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: a usable schema: {e}"))
    }

    /// Operations whose success answer is JSON with a schema.
    fn json_operations(&self) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (method, path) in operations(&self.doc) {
            let responses = &self.doc["paths"][&path][&method]["responses"];
            let json_success = responses.as_object().unwrap().iter().any(|(status, r)| {
                status.starts_with('2') && r["content"]["application/json"]["schema"].is_object()
            });
            if json_success {
                found.insert((method, path));
            }
        }
        found
    }
}

/// `GET path` with `token` as the bearer.
async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn real_responses_of_every_json_route_match_their_schemas() {
    let app = TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        c.auth_rate_per_minute = 10_000;
        c.auth_burst = 10_000;
    })
    .await;
    let mut c = Checker {
        doc: document(&app).await,
        seen: BTreeSet::new(),
    };

    health_and_providers(&app, &mut c).await;
    let token = accounts_and_sessions(&app, &mut c).await;
    let token = token.as_str();
    device_flow(&app, &mut c, token).await;
    api_keys(&app, &mut c, token).await;
    let one = conversations(&app, &mut c, token).await;
    let sent = messages_and_streams(&app, &mut c, token, &one).await;
    edits_and_lists(&app, &mut c, token, &one, &sent).await;
    chat_and_deletion(&app, &mut c, token, &one).await;
    openai_models(&app, &mut c, token).await;
    openai_completions(&app, &mut c, token).await;
    admin(&app, &mut c, token).await;
    sign_out(&app, &mut c, token).await;

    let missing: Vec<_> = c.json_operations().difference(&c.seen).cloned().collect();
    assert!(
        missing.is_empty(),
        "JSON routes whose real responses no test checked against the document: {missing:?}"
    );
}

/// Health, readiness and the sign-in providers, without a session.
async fn health_and_providers(app: &TestApp, c: &mut Checker) {
    c.check(
        "get",
        "/healthz",
        app.http.get(app.url("/healthz")).send().await.unwrap(),
    )
    .await;
    c.check(
        "get",
        "/readyz",
        app.http.get(app.url("/readyz")).send().await.unwrap(),
    )
    .await;
    let providers = app
        .http
        .get(app.url("/api/auth/providers"))
        .send()
        .await
        .unwrap();
    c.check("get", "/api/auth/providers", providers).await;
}

/// A guest who sets a password, the admin's registration, sign-in and refresh; returns the
/// admin's access token.
async fn accounts_and_sessions(app: &TestApp, c: &mut Checker) -> String {
    let r = app
        .http
        .post(app.url("/api/auth/guest"))
        .send()
        .await
        .unwrap();
    let (_, guest) = c.check("post", "/api/auth/guest", r).await;
    let guest_token = guest["access_token"].as_str().unwrap().to_string();
    let r = app
        .http
        .post(app.url("/api/auth/password"))
        .bearer_auth(&guest_token)
        .json(&json!({ "email": "guest@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/auth/password", r).await.0, 200);
    let r = app
        .http
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": "root@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    // The admin; signing in again below replaces this session (the same device).
    assert_eq!(c.check("post", "/api/auth/register", r).await.0, 201);
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "wrong wrong wrong" }))
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("post", "/api/auth/login", r).await.0, 401);
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    let (_, login) = c.check("post", "/api/auth/login", r).await;
    let r = app
        .http
        .post(app.url("/api/auth/refresh"))
        .json(&json!({ "refresh_token": login["refresh_token"] }))
        .send()
        .await
        .unwrap();
    let (_, refreshed) = c.check("post", "/api/auth/refresh", r).await;
    let token = refreshed["access_token"].as_str().unwrap().to_string();
    sessions(app, c, &token).await;
    token
}

/// The signed-in user, their session and sessions, and the answer without one.
async fn sessions(app: &TestApp, c: &mut Checker, token: &str) {
    let me = get(app, "/api/auth/me", token).await;
    c.check("get", "/api/auth/me", me).await;
    let session = get(app, "/api/auth/session", token).await;
    c.check("get", "/api/auth/session", session).await;
    let sessions = get(app, "/api/auth/sessions", token).await;
    c.check("get", "/api/auth/sessions", sessions).await;
    let unauthenticated = app.http.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(c.check("get", "/api/auth/me", unauthenticated).await.0, 401);
}

/// The device flow: codes, a pending poll, approval by the signed-in user, then tokens.
async fn device_flow(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .http
        .post(app.url("/api/auth/device/code"))
        .header("user-agent", "sluice-cli")
        .form(&[("client_id", "sluice-cli")])
        .send()
        .await
        .unwrap();
    let (_, codes) = c.check("post", "/api/auth/device/code", r).await;
    let poll = || {
        app.http
            .post(app.url("/api/auth/device/token"))
            .header("user-agent", "sluice-cli")
            .form(&[
                ("grant_type", DEVICE_GRANT_TYPE),
                ("device_code", codes["device_code"].as_str().unwrap()),
                ("client_id", "sluice-cli"),
            ])
    };
    let (status, pending) = c
        .check(
            "post",
            "/api/auth/device/token",
            poll().send().await.unwrap(),
        )
        .await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let r = app
        .http
        .post(app.url("/api/auth/device/approve"))
        .bearer_auth(token)
        .json(&json!({ "user_code": codes["user_code"] }))
        .send()
        .await
        .unwrap();
    c.check("post", "/api/auth/device/{decision}", r).await;
    // The next poll may come too soon (`slow_down`); both answers are documented.
    let mut status = 400;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        status = c
            .check(
                "post",
                "/api/auth/device/token",
                poll().send().await.unwrap(),
            )
            .await
            .0;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "the approved device got its tokens");
}

/// API keys: created, listed, disabled, rotated, verified (a real and a wrong one), listed.
async fn api_keys(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .call(
            token,
            Method::POST,
            "/api/keys",
            Some(json!({ "name": "ci" })),
        )
        .await;
    let (_, key) = c.check("post", "/api/keys", r).await;
    let key_id = key["id"].as_str().unwrap();
    c.check("get", "/api/keys", get(app, "/api/keys", token).await)
        .await;
    let path = format!("/api/keys/{key_id}");
    let r = app
        .call(
            token,
            Method::PATCH,
            &path,
            Some(json!({ "enabled": false })),
        )
        .await;
    c.check("patch", "/api/keys/{id}", r).await;
    let r = app
        .call(token, Method::POST, &format!("{path}/rotate"), None)
        .await;
    let (_, rotated) = c.check("post", "/api/keys/{id}/rotate", r).await;
    for candidate in [rotated["key"].as_str().unwrap(), "sk-sluice-nope"] {
        let r = app
            .http
            .post(app.url("/api/keys/verify"))
            .json(&json!({ "key": candidate }))
            .send()
            .await
            .unwrap();
        c.check("post", "/api/keys/verify", r).await;
    }
    let r = app.call(token, Method::GET, "/api/keys", None).await;
    c.check("get", "/api/keys", r).await;
}

/// The models, then a conversation created (and one refused), renamed and read; returns its
/// path.
async fn conversations(app: &TestApp, c: &mut Checker, token: &str) -> String {
    c.check("get", "/api/models", get(app, "/api/models", token).await)
        .await;
    let r = app
        .call(
            token,
            Method::POST,
            "/api/conversations",
            Some(json!({ "title": "t" })),
        )
        .await;
    let (_, conversation) = c.check("post", "/api/conversations", r).await;
    let conversation = conversation["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            token,
            Method::POST,
            "/api/conversations",
            Some(json!({ "model": "nope" })),
        )
        .await;
    assert_eq!(c.check("post", "/api/conversations", r).await.0, 422);
    let one = format!("/api/conversations/{conversation}");
    let r = app
        .call(
            token,
            Method::PATCH,
            &one,
            Some(json!({ "title": "renamed" })),
        )
        .await;
    c.check("patch", "/api/conversations/{id}", r).await;
    let r = get(app, &one, token).await;
    c.check("get", "/api/conversations/{id}", r).await;
    one
}

/// A message sent to the conversation at `one`, its answer streamed, a stream token, the
/// answer read, a refused cancel, and a regenerated answer streamed; returns what sending
/// answered.
async fn messages_and_streams(app: &TestApp, c: &mut Checker, token: &str, one: &str) -> Value {
    let r = app
        .call(
            token,
            Method::POST,
            &format!("{one}/messages"),
            Some(json!({ "content": "hello" })),
        )
        .await;
    let (_, sent) = c.check("post", "/api/conversations/{id}/messages", r).await;
    let answer = sent["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{answer}/stream"), token).await;
    let (_, events) = c.check("get", "/api/messages/{id}/stream", stream).await;
    assert_eq!(events.as_array().unwrap().last().unwrap()["type"], "done");
    let r = app
        .call(
            token,
            Method::POST,
            "/api/stream-tokens",
            Some(json!({ "message_id": answer })),
        )
        .await;
    assert_eq!(c.check("post", "/api/stream-tokens", r).await.0, 201);
    let r = app
        .call(token, Method::POST, "/api/stream-tokens", Some(json!({})))
        .await;
    assert_eq!(c.check("post", "/api/stream-tokens", r).await.0, 400);
    let r = get(app, &format!("/api/messages/{answer}"), token).await;
    c.check("get", "/api/messages/{id}", r).await;
    let r = app
        .call(
            token,
            Method::POST,
            &format!("/api/messages/{answer}/cancel"),
            None,
        )
        .await;
    assert_eq!(c.check("post", "/api/messages/{id}/cancel", r).await.0, 409);
    let r = app
        .call(
            token,
            Method::POST,
            &format!("/api/messages/{answer}/regenerate"),
            None,
        )
        .await;
    let (_, regenerated) = c.check("post", "/api/messages/{id}/regenerate", r).await;
    let again = regenerated["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{again}/stream"), token).await;
    c.check("get", "/api/messages/{id}/stream", stream).await;
    sent
}

/// The question of `sent` edited (its new answer streamed) and refused a second edit; then the
/// messages of the conversation at `one`, and the conversations.
async fn edits_and_lists(app: &TestApp, c: &mut Checker, token: &str, one: &str, sent: &Value) {
    let question = sent["user_message"]["id"].as_str().unwrap();
    let edit_path = format!("/api/messages/{question}/edit");
    let edit = |content: &'static str| {
        app.call(
            token,
            Method::POST,
            &edit_path,
            Some(json!({ "content": content })),
        )
    };
    let (status, edited) = c
        .check("post", "/api/messages/{id}/edit", edit("hello again").await)
        .await;
    assert_eq!(status, 202);
    let edited_answer = edited["assistant_message"]["id"].as_str().unwrap();
    let stream = get(app, &format!("/api/messages/{edited_answer}/stream"), token).await;
    c.check("get", "/api/messages/{id}/stream", stream).await;
    let again = c
        .check("post", "/api/messages/{id}/edit", edit("once more").await)
        .await;
    assert_eq!(again.0, 409, "replaced already");
    let r = get(app, &format!("{one}/messages?order=newest"), token).await;
    c.check("get", "/api/conversations/{id}/messages", r).await;
    let r = get(app, "/api/conversations", token).await;
    c.check("get", "/api/conversations", r).await;
}

/// A chat (streamed) and a message that starts a conversation; then the conversation at `one`
/// deleted and gone.
async fn chat_and_deletion(app: &TestApp, c: &mut Checker, token: &str, one: &str) {
    let r = app
        .call(
            token,
            Method::POST,
            "/api/chat",
            Some(json!({ "message": "hi there" })),
        )
        .await;
    let (_, chat) = c.check("post", "/api/chat", r).await;
    assert_eq!(chat[0]["type"], "meta");
    let r = app
        .call(
            token,
            Method::POST,
            "/api/messages",
            Some(json!({ "message": "a new conversation" })),
        )
        .await;
    let (status, sent) = c.check("post", "/api/messages", r).await;
    assert_eq!(status, 202);
    assert_ne!(sent["assistant_message"]["conversation_id"], json!(null));
    let r = app.call(token, Method::DELETE, one, None).await;
    assert_eq!(c.check("delete", "/api/conversations/{id}", r).await.0, 204);
    let r = get(app, one, token).await;
    assert_eq!(c.check("get", "/api/conversations/{id}", r).await.0, 404);
}

/// The OpenAI door's models: listed, one found, one not.
async fn openai_models(app: &TestApp, c: &mut Checker, token: &str) {
    c.check("get", "/v1/models", get(app, "/v1/models", token).await)
        .await;
    let r = get(app, "/v1/models/demo", token).await;
    c.check("get", "/v1/models/{id}", r).await;
    let r = get(app, "/v1/models/nope", token).await;
    assert_eq!(c.check("get", "/v1/models/{id}", r).await.0, 404);
}

/// The OpenAI door's completions: whole, streamed, refused (`n`), a wrong key, and one stored.
async fn openai_completions(app: &TestApp, c: &mut Checker, token: &str) {
    let question = json!([{ "role": "user", "content": "hello" }]);
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(json!({ "model": "demo", "messages": question, "max_tokens": 5 })),
        )
        .await;
    let (_, completion) = c.check("post", "/v1/chat/completions", r).await;
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(
                json!({ "model": "demo", "messages": question, "stream": true,
                         "stream_options": { "include_usage": true } }),
            ),
        )
        .await;
    let (_, chunks) = c.check("post", "/v1/chat/completions", r).await;
    assert!(chunks.as_array().unwrap().len() > 3, "{chunks}");
    let r = app
        .call(
            token,
            Method::POST,
            "/v1/chat/completions",
            Some(json!({ "model": "demo", "messages": question, "n": 2 })),
        )
        .await;
    assert_eq!(c.check("post", "/v1/chat/completions", r).await.0, 400);
    let r = app
        .http
        .get(app.url("/v1/models"))
        .bearer_auth("sk-sluice-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("get", "/v1/models", r).await.0, 401);
    let stored = format!(
        "/v1/chat/completions/{}",
        completion["id"].as_str().unwrap()
    );
    let r = get(app, &stored, token).await;
    c.check("get", "/v1/chat/completions/{id}", r).await;
}

/// Admin: the users listed, the former guest's roles set, disabled and enabled again, and
/// another user refused.
async fn admin(app: &TestApp, c: &mut Checker, admin_token: &str) {
    let r = get(app, "/api/admin/users", admin_token).await;
    let (_, users) = c.check("get", "/api/admin/users", r).await;
    let guest_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "guest@example.com")
        .expect("the former guest is listed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let user_path = format!("/api/admin/users/{guest_id}");
    let r = app
        .call(
            admin_token,
            Method::PUT,
            &format!("{user_path}/roles"),
            Some(json!({ "roles": ["user"] })),
        )
        .await;
    c.check("put", "/api/admin/users/{id}/roles", r).await;
    let r = app
        .call(
            admin_token,
            Method::POST,
            &format!("{user_path}/disable"),
            None,
        )
        .await;
    c.check("post", "/api/admin/users/{id}/disable", r).await;
    let r = app
        .call(
            admin_token,
            Method::POST,
            &format!("{user_path}/enable"),
            None,
        )
        .await;
    c.check("post", "/api/admin/users/{id}/enable", r).await;
    // (Disabling ended the former guest's sessions; another user is not an admin either.)
    let r = get(app, "/api/admin/users", &app.guest().await).await;
    assert_eq!(c.check("get", "/api/admin/users", r).await.0, 403);
}

/// Sign out last: the session list, one device, then this one.
async fn sign_out(app: &TestApp, c: &mut Checker, token: &str) {
    let r = app
        .call(
            token,
            Method::DELETE,
            &format!("/api/auth/sessions/{}", uuid::Uuid::nil()),
            None,
        )
        .await;
    assert_eq!(c.check("delete", "/api/auth/sessions/{id}", r).await.0, 404);
    let r = app
        .call(token, Method::POST, "/api/auth/logout", None)
        .await;
    assert_eq!(c.check("post", "/api/auth/logout", r).await.0, 204);
}
