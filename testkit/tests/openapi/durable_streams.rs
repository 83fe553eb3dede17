//! Durable streams (`/v1/stream/{path}`): real responses checked — created, appended to,
//! read as JSON, refused, deleted.

use reqwest::Method;
use serde_json::json;
use sluice_testkit::{TestApp, durable_streams::Streams};

use crate::checker::Checker;

pub(crate) async fn durable_streams(app: &TestApp, c: &mut Checker, token: &str) {
    const PATH: &str = "/v1/stream/{path}";
    let s = Streams::new(&app.base, token);
    let put = |path: &str| {
        s.request(Method::PUT, path)
            .header("content-type", "application/json")
            .header("stream-ttl", "3600")
            .body(r#"[{"step":"plan"}]"#)
    };
    assert_eq!(
        c.check("put", PATH, put("agent/run-1").send().await.unwrap())
            .await
            .0,
        201
    );
    assert_eq!(
        c.check("put", PATH, put("agent/run-1").send().await.unwrap())
            .await
            .0,
        200
    );
    let r = s
        .append("agent/run-1", "application/json", r#"{"step":"act"}"#)
        .await;
    assert_eq!(c.check("post", PATH, r).await.0, 204);
    let r = s.request(Method::GET, "agent/run-1").send().await.unwrap();
    let (status, body) = c.check("get", PATH, r).await;
    assert_eq!(
        (status, body),
        (200, json!([{ "step": "plan" }, { "step": "act" }]))
    );
    let r = s
        .append("agent/run-1", "application/json", "not json")
        .await;
    assert_eq!(c.check("post", PATH, r).await.0, 400);
    let r = s.request(Method::GET, "agent/none").send().await.unwrap();
    assert_eq!(c.check("get", PATH, r).await.0, 404);
    let r = s
        .request(Method::DELETE, "agent/run-1")
        .send()
        .await
        .unwrap();
    assert_eq!(c.check("delete", PATH, r).await.0, 204);
}
