//! The OpenAI-compatible door, driven by a real OpenAI client library (async-openai) as an app
//! would: streaming and not, usage, errors in OpenAI's shape, and an answer that outlives its
//! connection and resumes on Sluice's own stream.

use std::time::Duration;

use async_openai::{
    Client,
    config::OpenAIConfig,
    error::OpenAIError,
    types::chat::{
        ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
        ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequest,
        FinishReason,
    },
};
use futures::StreamExt;
use serde_json::{Value, json};
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, sse::answer_text, with_fake_openai};

/// The demo model's echo answer to `prompt` (24 tokens in tests).
fn echo(prompt: &str) -> String {
    let words: Vec<&str> = prompt.split_whitespace().collect();
    (0..24)
        .map(|i| format!("{}#{i}", words[i % words.len()]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An OpenAI client pointed at the app's `/v1`, signed in with a fresh API key; and the
/// guest's access token.
async fn openai_client(app: &TestApp) -> (Client<OpenAIConfig>, String) {
    let (client, token, _) = openai_client_and_key(app).await;
    (client, token)
}

async fn openai_client_and_key(app: &TestApp) -> (Client<OpenAIConfig>, String, String) {
    let token = app.guest().await;
    let key = app.create_key(&token, "sdk").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let config = OpenAIConfig::new()
        .with_api_base(app.url("/v1"))
        .with_api_key(&key);
    (Client::with_config(config), token, key)
}

fn request(model: &str, question: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: model.into(),
        messages: vec![
            ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(
                "Answer briefly.",
            )),
            ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(question)),
        ],
        ..Default::default()
    }
}

fn api_error(e: OpenAIError) -> (u16, async_openai::error::ApiError) {
    match e {
        OpenAIError::ApiError(e) => (e.status_code.as_u16(), e.api_error),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn an_openai_client_streams_an_answer_chunk_by_chunk_with_usage() {
    let app = TestApp::spawn().await;
    let (client, token) = openai_client(&app).await;
    let mut asked = request("demo", "stream this please");
    asked.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });
    let mut stream = client.chat().create_stream(asked).await.unwrap();
    let (mut text, mut roles, mut finish, mut usage, mut ids) =
        (String::new(), Vec::new(), None, None, Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        ids.push(chunk.id.clone());
        for choice in &chunk.choices {
            if let Some(role) = &choice.delta.role {
                roles.push(format!("{role:?}"));
            }
            text.push_str(choice.delta.content.as_deref().unwrap_or_default());
            finish = finish.or(choice.finish_reason);
        }
        usage = usage.or(chunk.usage);
    }
    assert_eq!(text, echo("stream this please"));
    assert_eq!(roles, ["Assistant"], "the role comes once, first");
    assert_eq!(finish, Some(FinishReason::Stop));
    let usage = usage.expect("a usage chunk");
    assert_eq!(usage.completion_tokens, 24);
    assert!(usage.prompt_tokens > 0);
    assert!(
        ids.iter()
            .all(|id| *id == ids[0] && id.starts_with("chatcmpl-"))
    );

    // Stored like any answer, in a conversation of its own that the app does not list.
    let stored = client.chat().retrieve(&ids[0]).await.unwrap();
    assert_eq!(
        stored.choices[0].message.content.as_deref(),
        Some(text.as_str())
    );
    let listed = app.get_json(&token, "/api/conversations").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    let api = app.get_json(&token, "/api/conversations?origin=api").await;
    assert_eq!(api["items"][0]["system_prompt"], "Answer briefly.");
}

#[tokio::test]
async fn a_plain_request_gets_one_completion_and_earlier_turns_reach_the_model() {
    let fake = FakeOpenAi::start(5, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let (client, _) = openai_client(&app).await;
    let asked: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "fake-gpt",
        "messages": [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]}
        ],
        "temperature": 0.25,
        "top_p": 0.5,
        "stop": ["END"],
        "max_completion_tokens": 50
    }))
    .unwrap();
    let answer = client.chat().create(asked).await.unwrap();
    assert!(answer.id.starts_with("chatcmpl-"));
    assert_eq!(answer.choices.len(), 1);
    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some(FakeOpenAi::reply(5).as_str())
    );
    assert_eq!(answer.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = answer.usage.expect("usage");
    assert_eq!(usage.completion_tokens, 5);

    // The provider got the whole conversation and every sampling setting, as asked.
    let sent = fake.prompts().pop().unwrap();
    let turns: Vec<(&str, &str)> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        turns,
        [
            ("system", "Be exact."),
            ("user", "What is 2+2?"),
            ("assistant", "4"),
            ("user", "And 3+3?")
        ]
    );
    assert_eq!(sent["temperature"], 0.25);
    assert_eq!(sent["top_p"], 0.5);
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["max_tokens"], 50);
}

#[tokio::test]
async fn the_answer_ends_where_a_model_would_at_max_tokens() {
    let app = TestApp::spawn().await;
    let (client, _) = openai_client(&app).await;
    let mut asked = request("demo", "count with me");
    asked.max_completion_tokens = Some(3);
    let answer = client.chat().create(asked).await.unwrap();
    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some("count#0 with#1 me#2")
    );
    assert_eq!(answer.choices[0].finish_reason, Some(FinishReason::Length));
}

#[tokio::test]
async fn errors_come_in_openai_s_shape_with_openai_s_status() {
    let app = TestApp::spawn().await;
    let (client, _, key) = openai_client_and_key(&app).await;

    let bad_key = Client::with_config(
        OpenAIConfig::new()
            .with_api_base(app.url("/v1"))
            .with_api_key("sk-sluice-not-a-key"),
    );
    let (status, e) = api_error(
        bad_key
            .chat()
            .create(request("demo", "hi"))
            .await
            .unwrap_err(),
    );
    assert_eq!((status, e.code.as_deref()), (401, Some("invalid_api_key")));
    assert_eq!(e.r#type.as_deref(), Some("invalid_request_error"));

    let (status, e) = api_error(
        client
            .chat()
            .create(request("gpt-9", "hi"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, e.code.as_deref(), e.param.as_deref()),
        (404, Some("model_not_found"), Some("model"))
    );

    let mut two = request("demo", "hi");
    two.n = Some(2);
    let (status, e) = api_error(client.chat().create(two).await.unwrap_err());
    assert_eq!((status, e.param.as_deref()), (400, Some("n")));

    // What an SDK would never send, sent raw: still OpenAI's shape, naming the field.
    let raw = |body: String| {
        let http = app.http.clone();
        let url = app.url("/v1/chat/completions");
        let key = key.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let cases = [
        ("{not json".to_string(), 400, None),
        (
            json!({"model": "demo", "messages": []}).to_string(),
            400,
            Some("messages"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "robot", "content": "x"}]}).to_string(),
            400,
            Some("messages[0].role"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user",
                   "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]})
            .to_string(),
            400,
            Some("messages[0].content[0].type"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user", "content": "x".repeat(40_000)}]})
                .to_string(),
            413,
            Some("messages[0].content"),
        ),
    ];
    for (body, status, param) in cases {
        let (got, error) = raw(body.clone()).await;
        assert_eq!(got, status, "{error}");
        assert!(error["error"]["type"].is_string(), "{error}");
        assert!(error["error"]["message"].is_string(), "{error}");
        assert_eq!(error["error"]["param"].as_str(), param, "{error}");
    }
    // Nothing was stored for any of them.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn models_are_listed_as_openai_lists_them() {
    let app = TestApp::spawn().await;
    let (client, _) = openai_client(&app).await;
    let models = client.models().list().await.unwrap();
    let ids: Vec<&str> = models.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["demo"]);
    assert_eq!(client.models().retrieve("demo").await.unwrap().id, "demo");
    let (status, e) = api_error(client.models().retrieve("gpt-9").await.unwrap_err());
    assert_eq!((status, e.code.as_deref()), (404, Some("model_not_found")));
}

/// A client that loses its connection mid-answer does not cancel it: the answer goes on, and
/// the `x-sluice-message-id` header says where to read it whole.
#[tokio::test]
async fn a_dropped_stream_does_not_cancel_the_answer_which_resumes_on_the_message_stream() {
    let app = TestApp::spawn_configured(|c| c.demo.pacing_ms = 30).await;
    let token = app.guest().await;
    let key = app.create_key(&token, "raw").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "demo", "stream": true,
                      "messages": [{"role": "user", "content": "keep going"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-sluice-message-id"]
        .to_str()
        .unwrap()
        .to_string();
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("#2") {
        seen.push_str(&String::from_utf8_lossy(
            &body.next().await.unwrap().unwrap(),
        ));
    }
    drop(body);

    let events = app
        .read_to_end(&token, &format!("/api/messages/{id}/stream"))
        .await;
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(answer_text(&events), echo("keep going"));
    let stored = app.message(&token, id.parse().unwrap()).await;
    assert_eq!(stored["status"], "done");
}
