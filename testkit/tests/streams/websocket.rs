//! One socket for everything: `GET /api/ws` (JSON frames) and Socket.IO's `/chat` namespace
//! (driven by the unmodified python-socketio client). The same answer arrives identically over
//! SSE, WebSocket and Socket.IO; clients dropped every few events reassemble the stored answer
//! exactly by resubscribing with their last id; send and cancel work over the socket; a stream
//! token's socket reads only its stream; and the socket closes with a code saying why.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_testkit::{
    TestApp,
    clients::{node, python},
    fake_openai::FakeOpenAi,
    nginx,
    sse::answer_text,
    with_fake_openai,
    ws::{Received, WsClient},
};
use uuid::Uuid;

/// A stack whose model answers `tokens` tokens, one every `pacing`: long enough to join late.
async fn paced(tokens: u32, pacing: Duration) -> (TestApp, FakeOpenAi) {
    let fake = FakeOpenAi::start(tokens, pacing).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    (app, fake)
}

fn ws_url(app: &TestApp, query: &str) -> String {
    format!(
        "{}{query}",
        app.url("/api/ws").replacen("http://", "ws://", 1)
    )
}

/// The text a subscriber holds after these event frames (a `reset` clears it).
fn reassemble(text: &mut String, frame: &Value) {
    match frame["event"].as_str() {
        Some("token") => text.push_str(frame["data"]["delta"].as_str().unwrap()),
        Some("reset") => text.clear(),
        _ => {}
    }
}

/// What the Socket.IO client scripts read: where, who, which conversation (and answer: else the
/// first that starts), and after how many token events to drop the connection (0: never).
fn socket_io_env(
    app: &TestApp,
    key: &str,
    conversation: Uuid,
    answer: Option<Uuid>,
    drop_every: u32,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("SLUICE_URL", app.base.clone()),
        ("SLUICE_KEY", key.to_string()),
        ("SLUICE_CONVERSATION", conversation.to_string()),
        ("SLUICE_DROP_EVERY", drop_every.to_string()),
    ];
    env.extend(answer.map(|id| ("SLUICE_MESSAGE", id.to_string())));
    env
}

/// A subscription's text, read to its `ended` frame.
async fn read_to_end(ws: &mut WsClient) -> String {
    let mut text = String::new();
    loop {
        let frame = ws.frame().await;
        reassemble(&mut text, &frame);
        if frame["type"] == "ended" {
            return text;
        }
    }
}

/// Follows one answer over a WebSocket to its `ended` frame: its text and the event ids seen.
async fn ws_follow(app: &TestApp, token: &str, answer: Uuid) -> (String, Vec<u64>) {
    let mut ws = WsClient::connect(&ws_url(app, ""), Some(token))
        .await
        .unwrap();
    ws.send(json!({"type": "subscribe", "message_id": answer}))
        .await;
    let (mut text, mut ids) = (String::new(), Vec::new());
    loop {
        let frame = ws.frame().await;
        match frame["type"].as_str().unwrap() {
            "subscribed" => assert_eq!(frame["message_id"], answer.to_string()),
            "event" => {
                ids.extend(frame["id"].as_u64());
                reassemble(&mut text, &frame);
            }
            "ended" => {
                assert_eq!(frame["reason"], "done");
                return (text, ids);
            }
            other => panic!("unexpected {other}: {frame}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_websocket_and_socket_io_clients_receive_the_same_answer() {
    let (app, _fake) = paced(60, Duration::from_millis(50)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    // Socket.IO joins the conversation first and follows the first answer that starts in it.
    let env = socket_io_env(&app, &token, conversation, None, 0);
    let socket_io = tokio::spawn(async move { python("socketio_follow.py", &[], &env).await });
    let sent = app.send(&token, conversation, "three ways").await;
    let answer = sent.assistant_message.id;
    let (sse, (ws_text, ws_ids), socket_io) = tokio::join!(
        app.read_to_end(&token, &sent.stream_url),
        ws_follow(&app, &token, answer),
        socket_io
    );
    let socket_io = socket_io.unwrap();
    let stored = app.message(&token, answer).await;
    let stored = stored["content"].as_str().unwrap();
    assert_eq!(stored, FakeOpenAi::reply(60));
    assert_eq!(answer_text(&sse), stored, "SSE");
    assert_eq!(ws_text, stored, "WebSocket");
    assert_eq!(socket_io["message_id"], answer.to_string());
    assert_eq!(socket_io["text"], stored, "Socket.IO: {socket_io}");
    assert_eq!(socket_io["status"], "done");
    // The WebSocket's ids are the SSE stream's.
    let sse_ids: Vec<u64> = sse.iter().filter_map(|e| e.id).collect();
    assert_eq!(ws_ids, sse_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_dropped_every_few_events_reassembles_the_answer_exactly() {
    let (app, _fake) = paced(48, Duration::from_millis(20)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send(&token, conversation, "drop me")
        .await
        .assistant_message
        .id;
    let (mut text, mut ids, mut reconnects) = (String::new(), Vec::<u64>::new(), 0);
    'connections: loop {
        let mut ws = WsClient::connect(&ws_url(&app, ""), Some(&token))
            .await
            .unwrap();
        let mut subscribe = json!({"type": "subscribe", "message_id": answer});
        if let Some(last) = ids.last() {
            subscribe["last_event_id"] = json!(last);
        }
        ws.send(subscribe).await;
        let mut seen_here = 0;
        loop {
            let frame = ws.frame().await;
            match frame["type"].as_str().unwrap() {
                "event" => {
                    if let Some(id) = frame["id"].as_u64() {
                        assert!(ids.last().is_none_or(|last| id > *last), "ids increase");
                        ids.push(id);
                    }
                    reassemble(&mut text, &frame);
                    seen_here += 1;
                }
                "ended" => break 'connections,
                _ => {}
            }
            if seen_here == 3 {
                // Gone without a word: the next connection resumes after the last id.
                drop(ws);
                reconnects += 1;
                continue 'connections;
            }
        }
    }
    let stored = app.message(&token, answer).await;
    assert_eq!(text, stored["content"].as_str().unwrap());
    assert!(reconnects >= 5, "dropped {reconnects} times");
}

#[tokio::test]
async fn a_socket_io_client_dropped_every_few_events_rejoins_with_its_last_id() {
    let (app, _fake) = paced(40, Duration::from_millis(25)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send(&token, conversation, "drop socket io")
        .await
        .assistant_message
        .id;
    let env = socket_io_env(&app, &token, conversation, Some(answer), 4);
    let got = python("socketio_follow.py", &[], &env).await;
    let stored = app.message(&token, answer).await;
    assert_eq!(got["text"], stored["content"], "{got}");
    assert!(got["reconnects"].as_u64().unwrap() >= 2, "{got}");
    assert!(
        got["join"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ok"] == true),
        "{got}"
    );
}

#[tokio::test]
async fn socket_io_client_reconnects_by_itself_and_rejoins_with_its_last_id() {
    let (app, _fake) = paced(40, Duration::from_millis(25)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send(&token, conversation, "drop socket.io-client")
        .await
        .assistant_message
        .id;
    let env = socket_io_env(&app, &token, conversation, Some(answer), 5);
    let got = node("socketio_follow.mjs", &[], &env).await;
    let stored = app.message(&token, answer).await;
    assert_eq!(got["text"], stored["content"], "{got}");
    assert_eq!(got["status"], "done");
    assert!(got["reconnects"].as_u64().unwrap() >= 2, "{got}");
    // Every join answered was accepted (one whose transport dropped first has no answer).
    let joins = got["joins"].as_array().unwrap();
    assert!(joins.iter().any(|r| r["ok"] == true), "{got}");
    assert!(
        joins.iter().all(|r| r["ok"] == true || r["lost"] == true),
        "{got}"
    );
}

#[tokio::test]
async fn send_and_cancel_over_the_socket() {
    let (app, _fake) = paced(200, Duration::from_millis(30)).await;
    let token = app.guest().await;
    let mut ws = WsClient::connect(&ws_url(&app, ""), Some(&token))
        .await
        .unwrap();
    let notes = app.upload_file(&token, "notes.txt", "socket notes").await;
    ws.send(
        json!({"type": "send", "ref": "q1", "content": "over the socket",
                   "attachments": [notes["id"]]}),
    )
    .await;
    let sent = ws.frame().await;
    assert_eq!(sent["type"], "sent", "{sent}");
    assert_eq!(sent["ref"], "q1");
    let files = app.get_json(&token, "/api/files").await;
    assert!(
        files["items"][0]["message_id"].is_string(),
        "sent with the question: {files}"
    );
    let answer: Uuid = sent["message_id"].as_str().unwrap().parse().unwrap();
    let mut tokens = 0;
    while tokens < 3 {
        let frame = ws.frame().await;
        if frame["event"] == "token" {
            tokens += 1;
        }
    }
    ws.send(json!({"type": "cancel", "ref": "stop", "message_id": answer}))
        .await;
    let mut events = Vec::new();
    loop {
        let frame = ws.frame().await;
        match frame["type"].as_str().unwrap() {
            "cancelling" => assert_eq!(frame["ref"], "stop"),
            "event" => events.push(frame["event"].as_str().unwrap().to_string()),
            "ended" => break,
            other => panic!("{other}: {frame}"),
        }
    }
    assert_eq!(events.last().map(String::as_str), Some("cancelled"));
    let stored = app.message(&token, answer).await;
    assert_eq!(stored["status"], "cancelled");
    // A bad frame is answered with an error, and the socket goes on.
    ws.send(json!({"type": "fly"})).await;
    assert_eq!(ws.frame().await["code"], "invalid_frame");
    ws.send(json!({"type": "cancel", "message_id": Uuid::now_v7()}))
        .await;
    assert_eq!(ws.frame().await["code"], "not_found");
    ws.send(json!({"type": "send", "content": "nul \u{0} here"}))
        .await;
    assert_eq!(ws.frame().await["code"], "invalid_text");
    ws.send(json!({"type": "send", "content": "x".repeat(40_000)}))
        .await;
    assert_eq!(ws.frame().await["code"], "content_too_large");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.frame().await["type"], "pong");
}

#[tokio::test]
async fn a_stream_token_socket_reads_only_its_stream_and_closes_when_the_token_expires() {
    let app = TestApp::spawn_configured(|c| c.stream_token_ttl_secs = 2).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let answer = app
        .send_answered(&token, conversation, "token socket")
        .await;
    let id = answer.assistant_message.id;
    let stream_token = app.stream_token(&token, json!({"message_id": id})).await;
    let mut ws = WsClient::connect(&ws_url(&app, &format!("?token={stream_token}")), None)
        .await
        .unwrap();
    ws.send(json!({"type": "subscribe", "conversation_id": conversation}))
        .await;
    assert_eq!(ws.frame().await["code"], "wrong_stream");
    ws.send(json!({"type": "send", "content": "sneaky"})).await;
    assert_eq!(ws.frame().await["code"], "read_only");
    ws.send(json!({"type": "subscribe", "message_id": id}))
        .await;
    let text = read_to_end(&mut ws).await;
    let stored = app.message(&token, id).await;
    assert_eq!(text, stored["content"].as_str().unwrap());
    // The token's 2 s run out: the socket is closed saying so.
    match ws.next(Duration::from_secs(5)).await {
        Received::Closed(code, _) => assert_eq!(code, 4401),
        other => panic!("expected close 4401, got {other:?}"),
    }
    // No credential at all: the upgrade is refused.
    assert!(WsClient::connect(&ws_url(&app, ""), None).await.is_err());
}

#[tokio::test]
async fn a_restarting_server_closes_its_sockets_saying_so() {
    let mut app = TestApp::spawn().await;
    let token = app.guest().await;
    let mut ws = WsClient::connect(&ws_url(&app, ""), Some(&token))
        .await
        .unwrap();
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.frame().await["type"], "pong");
    app.restart_api().await;
    match ws.next(Duration::from_secs(10)).await {
        Received::Closed(code, reason) => {
            assert_eq!(code, 1001);
            assert!(reason.contains("shutting down"), "{reason}");
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
}

#[tokio::test]
async fn a_websocket_passes_through_the_shipped_nginx_whose_log_keeps_no_token() {
    let app = TestApp::spawn().await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let (public, log) = nginx::start_logging(&[port, port]);
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let id = app
        .send_answered(&token, conversation, "through nginx")
        .await
        .assistant_message
        .id;
    let stream_token = app.stream_token(&token, json!({"message_id": id})).await;
    let url = format!(
        "{}/api/ws?token={stream_token}",
        public.replacen("http://", "ws://", 1)
    );
    let mut ws = WsClient::connect(&url, None)
        .await
        .expect("upgraded through nginx");
    ws.send(json!({"type": "subscribe", "message_id": id}))
        .await;
    let text = read_to_end(&mut ws).await;
    assert_eq!(
        text,
        app.message(&token, id).await["content"].as_str().unwrap()
    );
    drop(ws);
    // nginx logs the socket when it closes: its path, never the token in its query.
    let logged = sluice_testkit::wait::until(
        "nginx logs the socket",
        Duration::from_secs(10),
        || async { std::fs::read_to_string(&log).unwrap_or_default() },
        |text| text.contains("/api/ws"),
    )
    .await;
    assert!(!logged.contains(&stream_token), "{logged}");
}

#[tokio::test]
async fn a_cookie_signed_socket_opens_only_from_a_page_of_this_site() {
    let app = TestApp::spawn().await;
    let signed_in = app
        .http
        .post(app.url("/api/auth/guest"))
        .send()
        .await
        .unwrap();
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(cookie.contains("sluice_access="), "{cookie}");
    let url = ws_url(&app, "");
    let from = |origin: String| vec![("cookie", cookie.clone()), ("origin", origin)];
    let mut own = WsClient::connect_with(&url, &from(app.config.public_url.clone()))
        .await
        .expect("a page of this site opens it");
    own.send(json!({"type": "ping"})).await;
    assert_eq!(own.frame().await["type"], "pong");
    let refused = WsClient::connect_with(&url, &from("https://evil.example.net".into())).await;
    let error = refused.err().expect("another site's page is refused");
    assert!(error.contains("403"), "{error}");
}

#[tokio::test]
async fn socket_io_refuses_a_connection_without_a_valid_credential() {
    let app = TestApp::spawn().await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let env = socket_io_env(&app, "sk-sluice-not-a-key", conversation, None, 0);
    let got = python("socketio_follow.py", &[], &env).await;
    assert!(got["connect_error"].is_string(), "refused: {got}");
    // The server's reason reaches the client's connect_error handler.
    let reason = got["refusals"][0]["message"].as_str().unwrap_or_default();
    assert!(reason.contains("invalid"), "{got}");
}

#[tokio::test]
async fn a_stream_token_socket_closes_when_its_answer_is_deleted() {
    let (app, _fake) = paced(400, Duration::from_millis(50)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let id = app
        .send(&token, conversation, "delete me midway")
        .await
        .assistant_message
        .id;
    let stream_token = app.stream_token(&token, json!({"message_id": id})).await;
    let mut ws = WsClient::connect(&ws_url(&app, &format!("?token={stream_token}")), None)
        .await
        .unwrap();
    ws.send(json!({"type": "subscribe", "message_id": id}))
        .await;
    while ws.frame().await["event"] != "token" {}
    let deleted = app
        .call(
            &token,
            reqwest::Method::DELETE,
            &format!("/api/conversations/{conversation}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    // Deleting stops the answer (`cancelled`); the socket, which can read nothing else, is
    // closed saying why.
    let closed = loop {
        match ws.next(Duration::from_secs(20)).await {
            Received::Frame(frame) => assert_ne!(frame["reason"], "done", "{frame}"),
            other => break other,
        }
    };
    match closed {
        Received::Closed(code, reason) => {
            assert_eq!(code, 4404);
            assert!(reason.contains("deleted"), "{reason}");
        }
        other => panic!("expected close 4404, got {other:?}"),
    }
}
