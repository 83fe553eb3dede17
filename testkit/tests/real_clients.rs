//! The clients people use, unmodified, against the real stack: the OpenAI Python SDK (sync,
//! async, raw responses, its error classes), LangChain and LiteLLM in Python; the OpenAI Node
//! SDK, the Vercel AI SDK and LangChain JS in Node. Each streamed (or whole) text must equal the
//! answer Sluice stored. Versions: `testkit/clients/requirements.txt`, `package.json`.

use serde_json::Value;
use sluice_testkit::{
    TestApp,
    clients::{node, python},
    fake_openai::{FakeOpenAi, Fault},
    with_fake_openai,
};

/// A guest with an API key, and the environment every client script reads.
async fn client_env(
    app: &TestApp,
    model: &str,
    prompt: &str,
) -> (String, Vec<(&'static str, String)>) {
    let token = app.guest().await;
    let key = app.create_key(&token, "client matrix").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let env = vec![
        ("SLUICE_V1", app.url("/v1")),
        ("SLUICE_KEY", key),
        ("SLUICE_MODEL", model.to_string()),
        ("SLUICE_PROMPT", prompt.to_string()),
    ];
    (token, env)
}

/// The answer Sluice stored for the question `prompt` (each test asks its own).
async fn stored_answer(app: &TestApp, prompt: &str) -> Value {
    let (status, content, input, output): (String, String, Option<i32>, Option<i32>) =
        sqlx::query_as(
            "SELECT a.status, a.content, a.input_tokens, a.output_tokens
             FROM messages q JOIN messages a ON a.reply_to = q.id
             WHERE q.content = $1 AND a.role = 'assistant'",
        )
        .bind(prompt)
        .fetch_one(&app.pool)
        .await
        .expect("one stored answer to the prompt");
    serde_json::json!({"status": status, "content": content,
                       "input_tokens": input, "output_tokens": output})
}

async fn assert_streamed_text_is_stored(app: &TestApp, prompt: &str, got: &Value) {
    let stored = stored_answer(app, prompt).await;
    assert_eq!(stored["status"], "done", "{stored}");
    assert!(!stored["content"].as_str().unwrap().is_empty());
    assert_eq!(got["text"], stored["content"], "client saw {got}");
}

#[tokio::test]
async fn the_python_sdk_streams_with_usage_sync_and_async() {
    let app = TestApp::spawn().await;
    let prompt = "python sdk streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = python("openai_sdk.py", &["stream"], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;
    assert_eq!(got["finish_reason"], "stop");
    assert_eq!(
        got["ids"].as_array().unwrap().len(),
        1,
        "one completion id: {got}"
    );
    let stored = stored_answer(&app, prompt).await;
    assert_eq!(got["usage"]["completion_tokens"], stored["output_tokens"]);
    assert_eq!(got["usage"]["prompt_tokens"], stored["input_tokens"]);

    let prompt = "async python sdk streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = python("openai_sdk.py", &["stream_async"], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;
    assert_eq!(got["finish_reason"], "stop");
}

#[tokio::test]
async fn the_python_sdk_reads_a_whole_completion_and_its_message_id_header() {
    let app = TestApp::spawn().await;
    let prompt = "a whole completion please";
    let (token, env) = client_env(&app, "demo", prompt).await;
    let got = python("openai_sdk.py", &["complete"], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;
    let id = got["message_id"].as_str().expect("x-sluice-message-id");
    let message = app.get_json(&token, &format!("/api/messages/{id}")).await;
    assert_eq!(message["content"], got["text"]);
}

#[tokio::test]
async fn the_python_sdk_raises_its_own_error_classes() {
    let app = TestApp::spawn().await;
    let (_, env) = client_env(&app, "demo", "errors").await;
    let got = python("openai_sdk.py", &["errors"], &env).await;
    assert_eq!(got["bad_key"]["class"], "AuthenticationError", "{got}");
    assert_eq!(got["bad_key"]["status"], 401);
    assert_eq!(got["unknown_model"]["class"], "NotFoundError", "{got}");
    assert_eq!(got["unknown_model"]["code"], "model_not_found");
    assert_eq!(got["unknown_model"]["param"], "model");
    assert!(got["models"].as_array().unwrap().contains(&"demo".into()));
}

#[tokio::test]
async fn a_provider_rate_limit_reaches_the_python_sdk_as_rate_limit_error() {
    let fake = FakeOpenAi::start(8, std::time::Duration::ZERO).await;
    // A Retry-After longer than the worker will wait: the answer fails on the rate limit.
    fake.push_fault(Fault::RateLimit {
        retry_after_secs: 3600,
    });
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (_, env) = client_env(&app, "fake-gpt", "too busy?").await;
    let got = python("openai_sdk.py", &["rate_limited"], &env).await;
    assert_eq!(got["class"], "RateLimitError", "{got}");
    assert_eq!(got["status"], 429);
    assert_eq!(got["code"], "rate_limit_exceeded");
}

/// Sluice's own limits, as the SDK sees them: a rate limit and a used-up budget are both its
/// `RateLimitError`, told apart by OpenAI's codes.
#[tokio::test]
async fn a_sluice_limit_and_budget_reach_the_python_sdk_as_rate_limit_errors() {
    let app = TestApp::spawn().await;
    let (token, env) = client_env(&app, "demo", "limited?").await;
    let key_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let path = format!("/api/keys/{key_id}/limits");
    let limit = |body: Value| app.call(&token, reqwest::Method::PUT, &path, Some(body));
    assert_eq!(
        limit(serde_json::json!({ "requests_per_minute": 0 }))
            .await
            .status(),
        200
    );
    let got = python("openai_sdk.py", &["rate_limited"], &env).await;
    assert_eq!(got["class"], "RateLimitError", "{got}");
    assert_eq!(got["status"], 429);
    assert_eq!(got["code"], "rate_limit_exceeded");
    assert!(
        got["message"]
            .as_str()
            .unwrap()
            .contains("requests per minute"),
        "{got}"
    );

    assert_eq!(
        limit(serde_json::json!({ "cost_per_month_usd": 0 }))
            .await
            .status(),
        200
    );
    let got = python("openai_sdk.py", &["rate_limited"], &env).await;
    assert_eq!(got["class"], "RateLimitError", "{got}");
    assert_eq!(got["code"], "insufficient_quota");
    assert!(
        got["message"].as_str().unwrap().contains("monthly budget"),
        "{got}"
    );
}

#[tokio::test]
async fn a_failure_mid_stream_reaches_the_python_sdk_as_api_error_after_the_text_sent() {
    let fake = FakeOpenAi::start(40, std::time::Duration::from_millis(10)).await;
    // The provider fails mid-stream after 5 tokens, on every try.
    for _ in 0..5 {
        fake.push_fault(Fault::ErrorEventAfter(5));
    }
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let prompt = "fail half way";
    let (_, env) = client_env(&app, "fake-gpt", prompt).await;
    let got = python("openai_sdk.py", &["stream_error"], &env).await;
    assert_eq!(got["class"], "APIError", "{got}");
    let stored = stored_answer(&app, prompt).await;
    assert_eq!(stored["status"], "error", "{stored}");
    let text = got["text"].as_str().unwrap();
    assert!(!text.is_empty(), "text came before the error: {got}");
    assert!(FakeOpenAi::reply(40).starts_with(text), "{got}");
    let code = sqlx::query_scalar::<_, Option<String>>(
        "SELECT a.error_code FROM messages q JOIN messages a ON a.reply_to = q.id WHERE q.content = $1",
    )
    .bind(prompt)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        got["code"].as_str(),
        code.as_deref(),
        "the stored error's code"
    );
}

#[tokio::test]
async fn the_python_sdk_gets_400_naming_the_field_for_every_bad_value() {
    let app = TestApp::spawn().await;
    let (_, env) = client_env(&app, "demo", "bad params").await;
    let got = python("openai_sdk.py", &["bad_params"], &env).await;
    let expected = [
        ("max_tokens=-5", 400, "max_tokens"),
        ("max_tokens=abc", 400, "max_tokens"),
        ("max_completion_tokens=-1", 400, "max_completion_tokens"),
        ("user=12345", 400, "user"),
        ("user={}", 400, "user"),
        ("store=yes", 400, "store"),
        ("parallel_tool_calls=x", 400, "parallel_tool_calls"),
        (
            "stream_options.include_usage=yes",
            400,
            "stream_options.include_usage",
        ),
        ("temperature=5", 400, "temperature"),
        ("top_p=2", 400, "top_p"),
        ("system_25000_chars", 400, "messages[0].content"),
        ("model_4000_chars", 404, "model"),
    ];
    let cases = got["cases"].as_array().unwrap();
    assert_eq!(cases.len(), expected.len());
    for (case, (name, status, param)) in cases.iter().zip(expected) {
        assert_eq!(case["name"], name);
        assert_eq!(case["status"], status, "{case}");
        assert_eq!(case["param"], param, "{case}");
        let class = if status == 404 {
            "NotFoundError"
        } else {
            "BadRequestError"
        };
        assert_eq!(case["class"], class, "{case}");
    }
    let huge_model = &cases[11];
    assert_eq!(huge_model["code"], "model_not_found");
    assert!(
        huge_model["message"].as_str().unwrap().len() < 400,
        "{huge_model}"
    );
    // Nothing was stored for any of them: each was refused before the send.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn langchain_and_litellm_stream_in_python() {
    let app = TestApp::spawn().await;
    let prompt = "langchain python streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = python("langchain_stream.py", &[], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;

    let prompt = "litellm streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = python("litellm_stream.py", &[], &env).await;
    // It streams the question once, then asks it again without streaming: two answers.
    let answers: Vec<String> = sqlx::query_scalar(
        "SELECT a.content FROM messages q JOIN messages a ON a.reply_to = q.id
         WHERE q.content = $1 AND a.role = 'assistant' AND a.status = 'done'
         ORDER BY a.created_at",
    )
    .bind(prompt)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(answers.len(), 2, "{got}");
    assert_eq!(got["text"], answers[0].as_str());
    assert_eq!(got["complete_text"], answers[1].as_str());
}

#[tokio::test]
async fn the_node_sdk_the_vercel_ai_sdk_and_langchain_js_stream() {
    let app = TestApp::spawn().await;
    let prompt = "node sdk streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = node("openai_sdk.mjs", &[], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;
    assert_eq!(got["finish_reason"], "stop");
    let stored = stored_answer(&app, prompt).await;
    assert_eq!(got["usage"]["completion_tokens"], stored["output_tokens"]);

    let prompt = "vercel streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = node("vercel_ai.mjs", &["stream"], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;

    let prompt = "vercel generates this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = node("vercel_ai.mjs", &["generate"], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;

    let prompt = "langchain js streams this";
    let (_, env) = client_env(&app, "demo", prompt).await;
    let got = node("langchain.mjs", &[], &env).await;
    assert_streamed_text_is_stored(&app, prompt, &got).await;
}

#[tokio::test]
async fn a_v1_stream_carries_nothing_but_data_lines_ending_with_done() {
    let app = TestApp::spawn().await;
    let (_, env) = client_env(&app, "demo", "raw bytes").await;
    let key = &env[1].1;
    let body = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&serde_json::json!({"model": "demo", "stream": true,
                                  "messages": [{"role": "user", "content": "raw bytes"}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data: Vec<&str> = body.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        data.iter()
            .all(|l| l.starts_with("data: ") || l.starts_with(':')),
        "only data: lines and comments, as OpenAI sends: {body}"
    );
    assert!(data[0].starts_with("data: {"), "{body}");
    assert_eq!(data.last(), Some(&"data: [DONE]"));
}
