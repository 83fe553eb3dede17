//! Bring your own key: a user's own provider key answers their chats (and only theirs), is
//! stored sealed and shown only by its last 4 characters, fails the answer by name when the
//! provider refuses it (the server's key stands in only if the user allowed it), and survives
//! a master key rotation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::{config::SecretsConfig, envelope::MasterKeys, provider_keys};
use sluice_testkit::{
    TestApp,
    fake_openai::{FakeOpenAi, Fault},
    processes, with_fake_openai,
};

const OWN_KEY: &str = "sk-ada-own-key-0123456789-wxyz";

async fn stack() -> (FakeOpenAi, TestApp) {
    let fake = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    (fake, app)
}

async fn add_key(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(token, Method::POST, "/api/provider-keys", Some(body))
        .await
}

/// The bearer key of the fake's last request.
fn last_key_used(fake: &FakeOpenAi) -> String {
    let headers = fake.headers();
    let auth = headers.last().expect("a request")["authorization"]
        .to_str()
        .unwrap();
    auth.trim_start_matches("Bearer ").to_string()
}

/// Sends `content` and reads its stream to the end: the last event.
async fn ask(app: &TestApp, token: &str, content: &str) -> sluice_testkit::SseEvent {
    let conversation = app.create_conversation(token).await;
    let sent = app.send(token, conversation, content).await;
    let events = app.read_to_end(token, &sent.stream_url).await;
    events.last().expect("a terminal event").clone()
}

#[tokio::test]
async fn a_users_own_key_answers_their_chats_and_is_only_ever_shown_by_its_last_4() {
    let (fake, app) = stack().await;
    let ada = app.register("ada@example.com").await;
    let ada = ada["access_token"].as_str().unwrap();
    let bob = app.guest().await;

    let r = add_key(
        &app,
        ada,
        json!({ "provider": "openai", "api_key": OWN_KEY }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("0123456789"),
        "the key is never shown: {text}"
    );
    let row: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(row["last4"], "wxyz");
    assert_eq!(row["enabled"], true);
    assert_eq!(row["allow_server_fallback"], false);
    let listed = app
        .get(ada, "/api/provider-keys")
        .await
        .text()
        .await
        .unwrap();
    assert!(!listed.contains("0123456789"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["items"][0]["provider"], "openai");

    // Stored sealed: the table holds no trace of the key.
    let (ciphertext, wrapped, master): (Vec<u8>, Vec<u8>, String) =
        sqlx::query_as("SELECT ciphertext, wrapped_key, master_key_id FROM provider_keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(master, "test-1");
    for bytes in [&ciphertext, &wrapped] {
        assert!(!bytes.windows(10).any(|w| w == &OWN_KEY.as_bytes()[..10]));
    }

    assert_eq!(ask(&app, ada, "with my key").await.event, "done");
    assert_eq!(last_key_used(&fake), OWN_KEY, "Ada's answer used her key");
    assert_eq!(ask(&app, &bob, "with the server's").await.event, "done");
    assert_eq!(last_key_used(&fake), "fake-key", "Bob's used the server's");

    // Replaced: 200, the new key from now on.
    let newer = "sk-ada-newer-key-9876543210-abcd";
    let r = add_key(&app, ada, json!({ "provider": "openai", "api_key": newer })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["last4"], "abcd");
    assert_eq!(ask(&app, ada, "again").await.event, "done");
    assert_eq!(last_key_used(&fake), newer);

    // Disabled: the server's key again; enabled: hers.
    let patch = |enabled: bool| json!({ "enabled": enabled });
    let path = "/api/provider-keys/openai";
    let r = app.call(ada, Method::PATCH, path, Some(patch(false))).await;
    assert_eq!(r.json::<Value>().await.unwrap()["enabled"], false);
    assert_eq!(ask(&app, ada, "disabled").await.event, "done");
    assert_eq!(last_key_used(&fake), "fake-key");
    app.call(ada, Method::PATCH, path, Some(patch(true))).await;
    assert_eq!(ask(&app, ada, "enabled").await.event, "done");
    assert_eq!(last_key_used(&fake), newer);

    // The key's owner is told which providers have a key of theirs; the key verifier too.
    let api_key = app.create_key(ada, "verify me").await;
    let verified: Value = app
        .http
        .post(app.url("/api/keys/verify"))
        .json(&json!({ "key": api_key["key"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["providers"], json!(["openai"]));

    // Removed: gone, and the server's key answers.
    assert_eq!(
        app.call(ada, Method::DELETE, path, None).await.status(),
        204
    );
    assert_eq!(
        app.call(ada, Method::DELETE, path, None).await.status(),
        404
    );
    assert_eq!(ask(&app, ada, "removed").await.event, "done");
    assert_eq!(last_key_used(&fake), "fake-key");
}

#[tokio::test]
async fn a_refused_own_key_fails_the_answer_by_name_unless_the_server_key_may_stand_in() {
    let (fake, app) = stack().await;
    let token = app.guest().await;
    add_key(
        &app,
        &token,
        json!({ "provider": "openai", "api_key": OWN_KEY }),
    )
    .await;
    fake.refuse_key(OWN_KEY);

    let end = ask(&app, &token, "refused").await;
    assert_eq!(end.event, "error", "{:?}", end.data);
    assert_eq!(end.data["code"], "provider_auth");
    let message = end.data["message"].as_str().unwrap();
    assert!(
        message.contains("…wxyz") && message.contains("openai"),
        "{message}"
    );
    assert!(!message.contains("0123456789"), "{message}");
    assert_eq!(end.data["retryable"], false);
    assert_eq!(
        fake.requests(),
        1,
        "no silent second try with the server's key"
    );

    let r = app
        .call(
            &token,
            Method::PATCH,
            "/api/provider-keys/openai",
            Some(json!({ "allow_server_fallback": true })),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["allow_server_fallback"],
        true
    );
    let end = ask(&app, &token, "allowed").await;
    assert_eq!(end.event, "done", "{:?}", end.data);
    assert_eq!(
        last_key_used(&fake),
        "fake-key",
        "the server's key stood in"
    );
    assert_eq!(fake.requests(), 3, "refused once more, then the server's");
}

#[tokio::test]
async fn bad_provider_keys_get_clear_errors_and_nothing_is_stored() {
    let (_fake, app) = stack().await;
    let token = app.guest().await;
    let cases = [
        (
            json!({ "provider": "mistral", "api_key": OWN_KEY }),
            422,
            "unknown_provider",
        ),
        (
            json!({ "provider": "openai", "api_key": "short" }),
            400,
            "invalid_api_key",
        ),
        (
            json!({ "provider": "openai", "api_key": "sk-with a-space-123" }),
            400,
            "invalid_api_key",
        ),
        (
            json!({ "provider": "openai", "api_key": "sk-\u{202e}reversed-1234" }),
            400,
            "invalid_api_key",
        ),
        (
            json!({ "provider": "openai", "api_key": "x".repeat(513) }),
            400,
            "invalid_api_key",
        ),
        (json!({ "provider": "openai" }), 400, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let r = add_key(&app, &token, body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(code), "{body}: {text}");
        assert!(
            !text.contains("reversed-1234") && !text.contains("a-space"),
            "{text}"
        );
    }
    for path in ["/api/provider-keys/mistral", "/api/provider-keys/openai"] {
        let r = app.call(&token, Method::DELETE, path, None).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    // An API key acts for its user but does not manage what their answers are billed to.
    let api_key = app.create_key(&token, "ci").await;
    let api_key = api_key["key"].as_str().unwrap();
    let r = add_key(
        &app,
        api_key,
        json!({ "provider": "openai", "api_key": OWN_KEY }),
    )
    .await;
    assert_eq!(r.status(), 403);
    let listed = app.get_json(&token, "/api/provider-keys").await;
    assert_eq!(listed["items"], json!([]));

    // A server with no master key says so, and stores nothing.
    let bare = TestApp::spawn_configured(|c| c.secrets.master_key = None).await;
    let token = bare.guest().await;
    let r = add_key(
        &bare,
        &token,
        json!({ "provider": "openai", "api_key": OWN_KEY }),
    )
    .await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "byok_not_configured"
    );
}

fn master_keys(current: (&str, &str), retired: &[&str]) -> SecretsConfig {
    SecretsConfig {
        master_key: Some(current.1.to_string().into()),
        master_key_id: current.0.into(),
        retired_master_keys: retired.iter().map(|k| k.to_string().into()).collect(),
        ..SecretsConfig::default()
    }
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_every_key_while_answers_go_on() {
    let old = ("old", "b2xkLW1hc3Rlci1rZXktb2xkLW1hc3Rlci1rZXktISE=");
    let new = ("new", "bmV3LW1hc3Rlci1rZXktbmV3LW1hc3Rlci1rZXktISE=");
    let fake = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let retired = format!("{}:{}", old.0, old.1);
    let secrets = master_keys(new, &[&retired]);
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(move |c| c.secrets = secrets)).await;
    let token = app.guest().await;
    add_key(
        &app,
        &token,
        json!({ "provider": "openai", "api_key": OWN_KEY }),
    )
    .await;
    // As if stored before the rotation began: sealed under the old master key.
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM provider_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let before = MasterKeys::from_config(&master_keys(old, &[]))
        .unwrap()
        .unwrap();
    let context = provider_keys::sealing_context(user_id, "openai");
    let sealed = before.seal(OWN_KEY.as_bytes(), &context);
    sqlx::query("UPDATE provider_keys SET ciphertext = $1, wrapped_key = $2, master_key_id = $3")
        .bind(&sealed.ciphertext)
        .bind(&sealed.wrapped_key)
        .bind(&sealed.master_key_id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(ask(&app, &token, "before").await.event, "done");
    assert_eq!(last_key_used(&fake), OWN_KEY, "opened with the retired key");

    let rotate = || {
        let output = processes::command(&app.config, env!("CARGO_BIN_EXE_sluice-test-api"))
            .arg("rotate-master-key")
            .output()
            .expect("run sluice-api rotate-master-key");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(rotate().starts_with("1 provider keys re-wrapped"));
    assert!(
        rotate().starts_with("0 provider keys re-wrapped"),
        "run again: nothing left"
    );

    let row: (Vec<u8>, Vec<u8>, String) =
        sqlx::query_as("SELECT ciphertext, wrapped_key, master_key_id FROM provider_keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(row.2, "new");
    assert_eq!(row.0, sealed.ciphertext, "only the data key was re-wrapped");
    let rotated = sluice_shared::envelope::Sealed {
        ciphertext: row.0,
        wrapped_key: row.1,
        master_key_id: row.2,
    };
    // The old key can now go: the new one alone opens it.
    let after = MasterKeys::from_config(&master_keys(new, &[]))
        .unwrap()
        .unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        after.open(&rotated, &context).unwrap().expose_secret(),
        OWN_KEY
    );
    assert_eq!(ask(&app, &token, "after").await.event, "done");
    assert_eq!(last_key_used(&fake), OWN_KEY);
}

/// A user's key goes only to the provider's own endpoint: never to a fallback deployment with
/// a server of its own; and a failure of the user's key other than a refusal never makes the
/// server pay for it on the same deployment, even where the user allowed the server's key.
#[tokio::test]
async fn own_keys_go_only_to_the_providers_endpoint_and_only_a_refusal_falls_back() {
    let fake = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let elsewhere = FakeOpenAi::start(3, Duration::from_millis(1)).await;
    let other_server = elsewhere.base_url.clone();
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(move |c| {
        let model = c.models.get_mut("fake-gpt").unwrap();
        model.fallbacks = vec![sluice_shared::config::Deployment {
            provider: sluice_shared::config::ProviderKind::Openai,
            upstream_model: Some("gpt-elsewhere".into()),
            base_url: Some(other_server),
            api_key_env: None,
        }];
    }))
    .await;
    let token = app.guest().await;
    let body = json!({ "provider": "openai", "api_key": OWN_KEY, "allow_server_fallback": true });
    assert_eq!(add_key(&app, &token, body).await.status(), 201);

    // The provider's endpoint fails (its retries too): the fallback answers, with the
    // server's key, and the user's key never reached it.
    for _ in 0..3 {
        fake.push_fault(Fault::ServerError);
    }
    assert_eq!(ask(&app, &token, "fail over").await.event, "done");
    assert_eq!(
        fake.requests(),
        3,
        "no second round on the same endpoint with the server's key"
    );
    assert!(
        fake.headers()
            .iter()
            .all(|h| h["authorization"] == format!("Bearer {OWN_KEY}"))
    );
    assert_eq!(elsewhere.requests(), 1);
    assert_eq!(last_key_used(&elsewhere), "fake-key");
}
