//! Search (`GET /api/search`): the caller's titles and messages, found by any form of a word
//! (full text) and by parts of identifiers and names (trigrams), the matched words marked, in
//! pages that neither repeat nor skip — and never another user's.

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::TestApp;

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let r = (app.http.get(app.url("/api/search")))
        .query(&[("q", query)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.unwrap()
}

/// The highlighted words of each hit.
fn marked(page: &Value) -> Vec<Vec<String>> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            hit["snippet"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["highlight"] == true)
                .map(|p| p["text"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

async fn say(app: &TestApp, token: &str, text: &str) -> String {
    let conversation = app.create_conversation(token).await;
    let sent = app.send(token, conversation, text).await;
    sent.user_message.id.to_string()
}

#[tokio::test]
async fn words_in_any_form_and_parts_of_identifiers_are_found_and_marked() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    let bob = app.guest().await;
    let titled = app
        .call(
            &ada,
            Method::POST,
            "/api/conversations",
            Some(json!({ "title": "Garden plans" })),
        )
        .await;
    let titled: Value = titled.json().await.unwrap();
    let planning = say(&app, &ada, "We are planning the vegetable beds for spring").await;
    let code = say(&app, &ada, "Call parse_config_v2 before the server starts").await;
    say(&app, &bob, "Bob's planning notes, and parse_config_v2 too").await;

    // "plan" finds "plans" (a title) and "planning" (a message): full text stems.
    let page = search(&app, &ada, "plan").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let found: Vec<&Value> = items.iter().map(|h| &h["message_id"]).collect();
    assert!(found.contains(&&Value::Null), "the title: {page}");
    assert!(found.contains(&&json!(planning)), "the message: {page}");
    let title_hit = items.iter().find(|h| h["message_id"].is_null()).unwrap();
    assert_eq!(title_hit["conversation_id"], titled["id"]);
    let words = marked(&page);
    assert!(words.iter().flatten().any(|w| w == "planning"), "{words:?}");
    assert!(words.iter().flatten().any(|w| w == "plans"), "{words:?}");
    let message_hit = items
        .iter()
        .find(|h| h["message_id"] == json!(planning))
        .unwrap();
    assert_eq!(message_hit["role"], "user");
    let text: String = (message_hit["snippet"].as_array().unwrap().iter())
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert!(text.contains("vegetable beds"), "{text}");

    // An identifier (full text splits it into its words), and part of a word (the trigram
    // fallback): found, and what matched is marked — pieces of the query, nothing else.
    for query in ["parse_config_v2", "config_v2", "onfig"] {
        let page = search(&app, &ada, query).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{query}: {page}");
        assert_eq!(items[0]["message_id"], json!(code), "{query}");
        let words = &marked(&page)[0];
        assert!(!words.is_empty(), "{query}: nothing marked");
        for word in words {
            assert!(query.contains(&word.to_lowercase()), "{query}: {words:?}");
        }
    }

    // Websearch syntax: a phrase, an exclusion.
    assert_eq!(
        search(&app, &ada, "\"vegetable beds\"").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // "planning" without "vegetable": the title "Garden plans" alone.
    let without = search(&app, &ada, "planning -vegetable").await;
    let without = without["items"].as_array().unwrap();
    assert_eq!(without.len(), 1, "{without:?}");
    assert_eq!(without[0]["message_id"], Value::Null);
    // Nothing of Bob's, ever; nothing at all for what nobody wrote.
    assert_eq!(search(&app, &ada, "notes").await["items"], json!([]));
    assert_eq!(search(&app, &ada, "xylophone").await["items"], json!([]));
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_and_bad_queries_are_refused_in_words() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    for n in 0..25 {
        let body = json!({ "title": format!("Zebra crossing {n}") });
        let r = app
            .call(&ada, Method::POST, "/api/conversations", Some(body))
            .await;
        assert_eq!(r.status(), 201);
    }
    let mut seen = std::collections::HashSet::new();
    let mut path = "/api/search?q=zebra&limit=10".to_string();
    let mut pages = 0;
    loop {
        let page = app.get_json(&ada, &path).await;
        pages += 1;
        for hit in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(hit["conversation_id"].to_string()),
                "repeated: {hit}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/search?q=zebra&limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (25, 3));

    for (query, code) in [
        ("q=", "invalid_query"),
        ("q=%20%20", "invalid_query"),
        (&format!("q={}", "x".repeat(201)) as &str, "invalid_query"),
        ("q=-zebra", "invalid_query"),
        ("q=zebra&limit=0", "invalid_limit"),
        ("q=zebra&limit=51", "invalid_limit"),
        ("q=zebra&cursor=abc", "invalid_cursor"),
        ("q=zebra&cursor=999999", "invalid_cursor"),
        ("", "invalid_request"),
    ] {
        let r = app.get(&ada, &format!("/api/search?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }
}
