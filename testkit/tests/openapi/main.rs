//! The OpenAPI document at `/openapi.json`: it names every route the router serves, every route
//! it names is served, and real responses of every JSON route match the schemas it gives
//! (event streams too, event by event). `/docs` renders it from vendored files.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sluice_testkit::TestApp;

mod accounts;
mod checker;
mod conversations;
mod durable_streams;
mod limits_and_usage;
mod openai_and_admin;

use accounts::{accounts_and_sessions, api_keys, device_flow, health_and_providers, provider_keys};
use checker::Checker;
use conversations::{chat_and_deletion, conversations, edits_and_lists, messages_and_streams};
use durable_streams::durable_streams;
use limits_and_usage::limits_and_usage;
use openai_and_admin::{admin, openai_completions, openai_models, sign_out};

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
        .replace("{path}", "some/stream")
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

#[tokio::test]
async fn real_responses_of_every_json_route_match_their_schemas() {
    let app = TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        c.auth_rate_per_minute = 10_000;
        c.auth_burst = 10_000;
    })
    .await;
    let mut c = Checker::new(document(&app).await);

    health_and_providers(&app, &mut c).await;
    let token = accounts_and_sessions(&app, &mut c).await;
    let token = token.as_str();
    device_flow(&app, &mut c, token).await;
    api_keys(&app, &mut c, token).await;
    provider_keys(&app, &mut c, token).await;
    let one = conversations(&app, &mut c, token).await;
    let sent = messages_and_streams(&app, &mut c, token, &one).await;
    edits_and_lists(&app, &mut c, token, &one, &sent).await;
    chat_and_deletion(&app, &mut c, token, &one).await;
    openai_models(&app, &mut c, token).await;
    openai_completions(&app, &mut c, token).await;
    admin(&app, &mut c, token).await;
    limits_and_usage(&app, &mut c, token).await;
    durable_streams(&app, &mut c, token).await;
    sign_out(&app, &mut c, token).await;

    let missing = c.unchecked_json_operations();
    assert!(
        missing.is_empty(),
        "JSON routes whose real responses no test checked against the document: {missing:?}"
    );
}
