//! A user's provider key never leaves in anything but the call to its provider: not in a
//! response body, a log line (text or JSON) or a span of a test that stores, uses, refuses,
//! replaces and removes it. Logs and spans are collected in process, from the API and the
//! worker alike (the test runtime has one thread, where the stack's tasks run).

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use reqwest::Method;
use serde_json::json;
use sluice_shared::{config::LogFormat, telemetry};
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, with_fake_openai};

const SECRET: &str = "sk-proj-Zq9SecretProviderKey7Xw2-last";
/// What may be shown of it.
const LAST4: &str = "last";

/// Log output, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything the key's life produces, with logs in `format`: response bodies, log text, spans.
async fn the_keys_life(format: LogFormat) -> (String, String, String) {
    let logs = Captured::default();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let writer = logs.clone();
    let subscriber = telemetry::subscriber(
        format,
        move || writer.clone(),
        Some(provider.tracer("test")),
    );
    let _collecting = tracing::subscriber::set_default(subscriber);

    let fake = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let bodies = std::cell::RefCell::new(String::new());
    let call = async |method: Method, path: &str, body: Option<serde_json::Value>| {
        let r = app.call(&token, method, path, body).await;
        let text = r.text().await.unwrap();
        bodies.borrow_mut().push_str(&text);
    };
    let add = json!({ "provider": "openai", "api_key": SECRET });
    call(Method::POST, "/api/provider-keys", Some(add.clone())).await;
    call(Method::POST, "/api/provider-keys", Some(add.clone())).await;
    call(Method::GET, "/api/provider-keys", None).await;
    // Bad input around it: errors must not echo it either.
    let extra = json!({ "provider": "openai", "api_key": SECRET, "extra": 1 });
    call(Method::POST, "/api/provider-keys", Some(extra)).await;
    let unknown = json!({ "provider": "nope", "api_key": SECRET });
    call(Method::POST, "/api/provider-keys", Some(unknown)).await;

    // Used, then refused (an error naming the key), then replaced and removed.
    let conversation = app.create_conversation(&token).await;
    let sent = app.send(&token, conversation, "use it").await;
    for event in app.read_to_end(&token, &sent.stream_url).await {
        bodies.borrow_mut().push_str(&event.data.to_string());
    }
    fake.refuse_key(SECRET);
    let sent = app.send(&token, conversation, "refuse it").await;
    for event in app.read_to_end(&token, &sent.stream_url).await {
        bodies.borrow_mut().push_str(&event.data.to_string());
    }
    let path = format!("/api/conversations/{conversation}/messages");
    call(Method::GET, &path, None).await;
    call(
        Method::PATCH,
        "/api/provider-keys/openai",
        Some(json!({ "enabled": false })),
    )
    .await;
    call(Method::DELETE, "/api/provider-keys/openai", None).await;

    // The scenario reached the provider with the key: a leak would have had its chance.
    let sent_upstream = fake
        .headers()
        .iter()
        .any(|h| h["authorization"].to_str().unwrap() == format!("Bearer {SECRET}"));
    assert!(sent_upstream, "the key was used");
    let bodies = bodies.into_inner();
    assert!(bodies.contains(LAST4), "the key is named by its last 4");
    // The job's span ends after its answer is stored.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = format!("{:?}", exporter.get_finished_spans().unwrap());
    assert!(spans.contains("provider_call"), "spans were collected");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("answer stored"), "logs were collected");
    (bodies, logs, spans)
}

fn assert_never_holds_the_key(what: &str, text: &str) {
    // The key, and any long piece of it (a truncated or escaped copy).
    let hidden = &SECRET[..SECRET.len() - LAST4.len()];
    for piece in hidden.as_bytes().windows(12) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(!text.contains(piece), "{what} holds {piece:?} of the key");
    }
}

#[tokio::test]
async fn the_key_is_in_no_response_text_log_or_span() {
    let (bodies, logs, spans) = the_keys_life(LogFormat::Text).await;
    assert_never_holds_the_key("a response body", &bodies);
    assert_never_holds_the_key("the text log", &logs);
    assert_never_holds_the_key("a span", &spans);
}

#[tokio::test]
async fn the_key_is_in_no_json_log_line() {
    let (bodies, logs, spans) = the_keys_life(LogFormat::Json).await;
    assert!(logs.trim_start().starts_with('{'), "JSON lines");
    assert_never_holds_the_key("a response body", &bodies);
    assert_never_holds_the_key("the JSON log", &logs);
    assert_never_holds_the_key("a span", &spans);
}
