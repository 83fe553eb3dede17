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
    assert_eq!(
        events["$ref"], "#/components/schemas/StreamEvent",
        "{stream}"
    );
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

    // The docs page renders the document with files served from the API itself.
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
        let bodies: Vec<Value> = if content_type == "text/event-stream" {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .filter(|d| *d != "[DONE]")
                .map(|d| serde_json::from_str(d).expect("event data is JSON"))
                .collect()
        } else {
            vec![serde_json::from_str(&text).expect("a JSON body")]
        };
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: a usable schema: {e}"));
        for body in &bodies {
            let errors: Vec<String> = validator
                .iter_errors(body)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} {status} does not match its schema:\n{}\nbody: {body}\nschema: {schema}",
                errors.join("\n")
            );
        }
        if content_type == "application/json" {
            self.seen.insert((method.to_string(), path.to_string()));
        }
        let body = if content_type == "text/event-stream" {
            Value::Array(bodies)
        } else {
            bodies.into_iter().next().unwrap()
        };
        (status, body)
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
    let get = |path: &str, token: &str| app.http.get(app.url(path)).bearer_auth(token).send();

    // Health and models.
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

    // Accounts and sessions.
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
    let token = token.as_str();
    c.check(
        "get",
        "/api/auth/me",
        get("/api/auth/me", token).await.unwrap(),
    )
    .await;
    c.check(
        "get",
        "/api/auth/session",
        get("/api/auth/session", token).await.unwrap(),
    )
    .await;
    c.check(
        "get",
        "/api/auth/sessions",
        get("/api/auth/sessions", token).await.unwrap(),
    )
    .await;
    let unauthenticated = app.http.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(c.check("get", "/api/auth/me", unauthenticated).await.0, 401);

    // The device flow.
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

    // API keys.
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
    c.check("get", "/api/keys", get("/api/keys", token).await.unwrap())
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

    // Conversations and messages.
    c.check(
        "get",
        "/api/models",
        get("/api/models", token).await.unwrap(),
    )
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
    c.check(
        "get",
        "/api/conversations/{id}",
        get(&one, token).await.unwrap(),
    )
    .await;
    let r = app
        .call(
            token,
            Method::POST,
            &format!("{one}/messages"),
            Some(json!({ "content": "hello" })),
        )
        .await;
    let (_, sent) = c.check("post", "/api/conversations/{id}/messages", r).await;
    let answer = sent["assistant_message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stream = get(&format!("/api/messages/{answer}/stream"), token)
        .await
        .unwrap();
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
    c.check(
        "get",
        "/api/messages/{id}",
        get(&format!("/api/messages/{answer}"), token)
            .await
            .unwrap(),
    )
    .await;
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
    let stream = get(&format!("/api/messages/{again}/stream"), token)
        .await
        .unwrap();
    c.check("get", "/api/messages/{id}/stream", stream).await;
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
    let stream = get(&format!("/api/messages/{edited_answer}/stream"), token)
        .await
        .unwrap();
    c.check("get", "/api/messages/{id}/stream", stream).await;
    let again = c
        .check("post", "/api/messages/{id}/edit", edit("once more").await)
        .await;
    assert_eq!(again.0, 409, "replaced already");
    let r = get(&format!("{one}/messages?order=newest"), token)
        .await
        .unwrap();
    c.check("get", "/api/conversations/{id}/messages", r).await;
    c.check(
        "get",
        "/api/conversations",
        get("/api/conversations", token).await.unwrap(),
    )
    .await;
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
    let r = app.call(token, Method::DELETE, &one, None).await;
    assert_eq!(c.check("delete", "/api/conversations/{id}", r).await.0, 204);
    let r = get(&one, token).await.unwrap();
    assert_eq!(c.check("get", "/api/conversations/{id}", r).await.0, 404);

    // The OpenAI door.
    c.check("get", "/v1/models", get("/v1/models", token).await.unwrap())
        .await;
    c.check(
        "get",
        "/v1/models/{id}",
        get("/v1/models/demo", token).await.unwrap(),
    )
    .await;
    let r = get("/v1/models/nope", token).await.unwrap();
    assert_eq!(c.check("get", "/v1/models/{id}", r).await.0, 404);
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
    c.check(
        "get",
        "/v1/chat/completions/{id}",
        get(&stored, token).await.unwrap(),
    )
    .await;

    // Admin.
    let admin_token = token;
    let (_, users) = c
        .check(
            "get",
            "/api/admin/users",
            get("/api/admin/users", admin_token).await.unwrap(),
        )
        .await;
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
    let r = get("/api/admin/users", &app.guest().await).await.unwrap();
    assert_eq!(c.check("get", "/api/admin/users", r).await.0, 403);

    // Sign out last: the session list, one device, then this one.
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

    let missing: Vec<_> = c.json_operations().difference(&c.seen).cloned().collect();
    assert!(
        missing.is_empty(),
        "JSON routes whose real responses no test checked against the document: {missing:?}"
    );
}
