//! Import: Sluice's own export comes back whole (an account zip or one conversation's JSON:
//! export → import → export is the same but for ids), ChatGPT's data export is read as its
//! app shows it (the branch last shown, messages without metadata, a zip of several files),
//! and a bad record is a 422 naming it with nothing imported.

use std::collections::HashMap;

use async_zip::{
    Compression, ZipEntryBuilder, base::read::mem::ZipFileReader, base::write::ZipFileWriter,
};
use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::TestApp;

/// `POST /api/import` with `body` as `content_type`.
async fn import_raw(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.http
        .post(app.url("/api/import"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// `POST /api/import` as a browser's form sends it: multipart field `file`.
async fn import_form(app: &TestApp, token: &str, name: &str, file: &[u8]) -> reqwest::Response {
    let boundary = "sluice-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    import_raw(
        app,
        token,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await
}

async fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut zip = ZipFileWriter::new(Vec::new());
    for (name, bytes) in files {
        let entry = ZipEntryBuilder::new((*name).to_string().into(), Compression::Deflate);
        zip.write_entry_whole(entry, bytes).await.unwrap();
    }
    zip.close().await.unwrap()
}

async fn unzip(bytes: Vec<u8>) -> HashMap<String, Value> {
    let zip = ZipFileReader::new(bytes).await.expect("a whole zip");
    let mut files = HashMap::new();
    for i in 0..zip.file().entries().len() {
        let name = zip.file().entries()[i]
            .filename()
            .as_str()
            .unwrap()
            .to_string();
        let mut text = String::new();
        let mut reader = zip.reader_with_entry(i).await.unwrap();
        reader.read_to_string_checked(&mut text).await.unwrap();
        // The files questions carry, as their text (the tests' are text).
        let value = match name.ends_with(".json") {
            true => serde_json::from_str(&text).unwrap(),
            false => Value::String(text),
        };
        files.insert(name, value);
    }
    files
}

/// A conversation document with its ids replaced by positions: what must survive a round trip.
fn without_ids(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let messages = doc["messages"].as_array().unwrap().clone();
    let position: HashMap<&str, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m["id"].as_str().unwrap(), i))
        .collect();
    doc["conversation"].as_object_mut().unwrap().remove("id");
    let renumbered: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut m = m.clone();
            let fields = m.as_object_mut().unwrap();
            fields.remove("id");
            fields.remove("conversation_id");
            for link in ["reply_to", "edit_of"] {
                if let Some(id) = fields[link].as_str() {
                    fields.insert(link.into(), json!(position[id]));
                }
            }
            for file in fields
                .get_mut("attachments")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let file = file.as_object_mut().unwrap();
                file.remove("id");
                file.remove("message_id");
            }
            m
        })
        .collect();
    doc["messages"] = json!(renumbered);
    doc
}

/// The account export's conversations, ids aside, in order of when they were made, and its
/// folders.
async fn account(app: &TestApp, token: &str) -> (Vec<Value>, Value) {
    let r = app.get(token, "/api/export").await;
    assert_eq!(r.status(), 200);
    let files = unzip(r.bytes().await.unwrap().to_vec()).await;
    let mut docs: Vec<Value> = files
        .iter()
        .filter(|(name, _)| name.starts_with("conversations/"))
        .map(|(_, doc)| without_ids(doc))
        .collect();
    docs.sort_by_key(|d| {
        d["conversation"]["created_at"]
            .as_str()
            .unwrap()
            .to_string()
    });
    let folders = files["manifest.json"]["folders"].clone();
    (docs, folders)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_export_imports_back_the_same_but_for_ids() {
    let app = TestApp::spawn().await;
    let ada = app.guest().await;
    let call = |token: String, method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move {
            let r = app.call(&token, method, &path, body).await;
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<Value>().await.unwrap_or(Value::Null)
        }
    };
    let work = call(
        ada.clone(),
        Method::POST,
        "/api/groups".into(),
        Some(json!({ "name": "Work" })),
    )
    .await;
    call(
        ada.clone(),
        Method::POST,
        "/api/groups".into(),
        Some(json!({ "name": "Empty" })),
    )
    .await;
    // A conversation with a regenerated answer and an edited question (both branches kept).
    let plan = app.create_conversation(&ada).await;
    let first = app.send_answered(&ada, plan, "plan the quarter").await;
    let again = call(
        ada.clone(),
        Method::POST,
        format!("/api/messages/{}/regenerate", first.assistant_message.id),
        None,
    )
    .await;
    app.read_to_end(&ada, again["stream_url"].as_str().unwrap())
        .await;
    let second = app.send_answered(&ada, plan, "and the budget").await;
    let edited = call(
        ada.clone(),
        Method::POST,
        format!("/api/messages/{}/edit", second.user_message.id),
        Some(json!({ "content": "and the hiring" })),
    )
    .await;
    app.read_to_end(&ada, edited["stream_url"].as_str().unwrap())
        .await;
    call(
        ada.clone(),
        Method::PATCH,
        format!("/api/conversations/{plan}"),
        Some(json!({ "title": "Quarter", "group_id": work["id"], "favorite": true })),
    )
    .await;
    // A question with a file: the account zip carries it.
    let other = app.create_conversation(&ada).await;
    let file = app
        .upload_file(&ada, "minutes.md", "# Minutes\nWe chose the blue logo.")
        .await;
    let body = json!({ "content": "a second chat", "attachments": [file["id"]] });
    let sent = call(
        ada.clone(),
        Method::POST,
        format!("/api/conversations/{other}/messages"),
        Some(body),
    )
    .await;
    app.read_to_end(&ada, sent["stream_url"].as_str().unwrap())
        .await;
    let (before, folders_before) = account(&app, &ada).await;
    assert_eq!(before.len(), 2);
    assert_eq!(
        before[0]["messages"].as_array().unwrap().len(),
        7,
        "{:#}",
        before[0]
    );

    // Into another account, as the zip the export gave.
    let zip = app
        .get(&ada, "/api/export")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let bob = app.guest().await;
    let r = import_form(&app, &bob, "sluice-export.zip", &zip).await;
    assert_eq!(r.status(), 201);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["conversation_ids"].as_array().unwrap().len(), 2);
    assert_eq!(
        (out["messages"].as_u64(), out["folders_created"].as_u64()),
        (Some(9), Some(2))
    );
    let (after, folders_after) = account(&app, &bob).await;
    assert_eq!(
        after, before,
        "export → import → export changes nothing but ids"
    );
    // The file came too: bob's own now, its text in his next prompts, downloadable.
    let bobs_files = app.get_json(&bob, "/api/files").await;
    let carried = &bobs_files["items"][0];
    assert_eq!(
        (carried["name"].as_str(), carried["text_chars"].as_i64()),
        (Some("minutes.md"), Some(33))
    );
    let r = app
        .get(
            &bob,
            &format!("/api/files/{}", carried["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        r.text().await.unwrap(),
        "# Minutes\nWe chose the blue logo."
    );
    assert_eq!(
        folders_after, folders_before,
        "the folders, empty ones too, with their dates"
    );
    // The list shows them as they were: the star, the folder, newest first.
    let list = app.get_json(&bob, "/api/conversations?favorite=true").await;
    assert_eq!(list["items"][0]["title"], "Quarter");
    // Imported answers are history, not this account's spending.
    let usage = app.get_json(&bob, "/api/usage/overview").await;
    assert_eq!(usage["requests"], 0, "{usage:#}");
    // They are found by search like any other.
    let hits = app.get_json(&bob, "/api/search?q=hiring").await;
    let found = hits["items"].as_array().unwrap().len();
    assert!(found > 0, "{hits:#}");
    assert_eq!(
        found,
        app.get_json(&ada, "/api/search?q=hiring").await["items"]
            .as_array()
            .unwrap()
            .len()
    );
    // And the conversation carries on: a new question is answered after the imported ones.
    let imported: uuid::Uuid = list["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let next = app.send_answered(&bob, imported, "one more").await;
    assert_eq!(
        app.message(&bob, next.assistant_message.id).await["status"],
        "done"
    );

    // A second import into the same account reuses its folders (names match case aside).
    call(
        bob.clone(),
        Method::PATCH,
        format!("/api/groups/{}", folder_id(&app, &bob, "Work").await),
        Some(json!({ "name": "WORK" })),
    )
    .await;
    let r = import_raw(&app, &bob, "application/zip", zip).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["folders_created"], 0);
    let groups = app.get_json(&bob, "/api/groups").await;
    assert_eq!(groups["items"].as_array().unwrap().len(), 2, "{groups:#}");

    // One conversation's JSON, sent as the body.
    let doc = app
        .get(&ada, &format!("/api/conversations/{other}/export"))
        .await
        .bytes()
        .await
        .unwrap();
    let carol = app.guest().await;
    let r = import_raw(&app, &carol, "application/json", doc.to_vec()).await;
    assert_eq!(r.status(), 201);
    let (carols, _) = account(&app, &carol).await;
    // A conversation's JSON names its files but does not carry them.
    let mut expected = before[1].clone();
    for m in expected["messages"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("attachments");
    }
    assert_eq!(carols, vec![expected]);
}

async fn folder_id(app: &TestApp, token: &str, name: &str) -> String {
    let groups = app.get_json(token, "/api/groups").await;
    groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .map(|g| g["id"].as_str().unwrap().to_string())
        .expect("the folder")
}

/// Files under `dir`, however deep.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

/// A ChatGPT message node.
fn node(id: &str, parent: Option<&str>, children: &[&str], message: Value) -> (String, Value) {
    let mut message = message;
    if message.is_object() {
        message["id"] = json!(id);
    }
    (
        id.to_string(),
        json!({ "id": id, "parent": parent, "children": children, "message": message }),
    )
}

fn said(role: &str, text: &str, at: Option<f64>) -> Value {
    json!({ "author": { "role": role }, "create_time": at,
            "content": { "content_type": "text", "parts": [text] } })
}

/// A ChatGPT conversation the way its export writes one: a root without a message, a hidden
/// system message, a question answered twice (regenerated: the first answer is another
/// branch), an answer written around a tool call, a message without metadata or time, and
/// an image part among text.
fn chatgpt_conversation(title: &str, start: f64) -> Value {
    let mut hidden = said("system", "", Some(start));
    hidden["metadata"] = json!({ "is_visually_hidden_from_conversation": true });
    let mut answer = said("assistant", "Rome, in spring.", Some(start + 3.0));
    answer["metadata"] = json!({ "model_slug": "gpt-4o", "finish_details": { "type": "stop" } });
    let tool = json!({ "author": { "role": "tool", "name": "browser" }, "create_time": start + 5.0,
                       "content": { "content_type": "text", "parts": ["search results"] } });
    let code = json!({ "author": { "role": "assistant" }, "create_time": start + 4.5,
                       "content": { "content_type": "code", "text": "search('rome flights')" } });
    let mut with_image = said("user", "", Some(start + 6.0));
    with_image["content"] = json!({ "content_type": "multimodal_text",
        "parts": [{ "content_type": "image_asset_pointer", "asset_pointer": "file-service://x" }, "And this photo?"] });
    let mapping: serde_json::Map<String, Value> = [
        node("root", None, &["sys"], Value::Null),
        node("sys", Some("root"), &["q1"], hidden),
        node(
            "q1",
            Some("sys"),
            &["a-old", "a1"],
            said("user", "Where should I travel?", Some(start + 1.0)),
        ),
        node(
            "a-old",
            Some("q1"),
            &[],
            said("assistant", "Paris (an answer replaced)", Some(start + 2.0)),
        ),
        node("a1", Some("q1"), &["c1"], answer),
        node("c1", Some("a1"), &["t1"], code),
        node("t1", Some("c1"), &["a2"], tool),
        // No metadata, no time.
        node(
            "a2",
            Some("t1"),
            &["q2"],
            said("assistant", "Flights are cheap in April.", None),
        ),
        node("q2", Some("a2"), &["a3"], with_image),
        node(
            "a3",
            Some("q2"),
            &[],
            said("assistant", "A lovely photo.", Some(start + 7.0)),
        ),
    ]
    .into_iter()
    .collect();
    json!({ "title": title, "create_time": start, "update_time": start + 7.0,
            "mapping": mapping, "current_node": "a3", "conversation_id": "c-1",
            "default_model_slug": "gpt-4o" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatgpt_export_imports_the_branch_its_app_showed() {
    let app = TestApp::spawn().await;
    let ada = app.guest().await;
    // The newer export: a zip of several conversation files beside files that are not ones.
    let first = json!([chatgpt_conversation("Travel", 1_700_000_000.0)]);
    let second = json!([
        chatgpt_conversation("Travel again", 1_700_100_000.0),
        chatgpt_conversation("Third", 1_700_200_000.0)
    ]);
    let zip = zip_of(&[
        (
            "conversations-000.json",
            serde_json::to_vec(&first).unwrap(),
        ),
        (
            "conversations-001.json",
            serde_json::to_vec(&second).unwrap(),
        ),
        (
            "user.json",
            br#"{"id": "user-1", "email": "ada@example.com"}"#.to_vec(),
        ),
        (
            "shared_conversations.json",
            br#"[{"id": "s1", "conversation_id": "c-1"}]"#.to_vec(),
        ),
        ("chat.html", b"<html></html>".to_vec()),
    ])
    .await;
    let r = import_form(&app, &ada, "chatgpt.zip", &zip).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let out: Value = r.json().await.unwrap();
    let ids = out["conversation_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);
    let id = ids[0].as_str().unwrap();
    let doc = app
        .get_json(&ada, &format!("/api/conversations/{id}/export"))
        .await;
    assert_eq!(doc["conversation"]["title"], "Travel");
    assert_eq!(doc["conversation"]["created_at"], "2023-11-14T22:13:20Z");
    let shown: Vec<(&str, &str)> = doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("user", "Where should I travel?"),
            (
                "assistant",
                "Rome, in spring.\n\nFlights are cheap in April."
            ),
            ("user", "And this photo?"),
            ("assistant", "A lovely photo."),
        ],
        "the branch last shown; hidden, system, tool and code messages left out"
    );
    let answer = &doc["messages"][1];
    assert_eq!(
        (answer["model"].as_str(), answer["status"].as_str()),
        (Some("gpt-4o"), Some("done"))
    );
    assert_eq!(answer["reply_to"], doc["messages"][0]["id"]);
    // The message without a time takes the one before it: order holds.
    assert!(doc["messages"][2]["created_at"].as_str() >= answer["created_at"].as_str());
    // The conversation is on this server's model, and goes on.
    assert_eq!(doc["conversation"]["model"], "demo");
    let next = app.send_answered(&ada, id.parse().unwrap(), "thanks").await;
    assert_eq!(
        app.message(&ada, next.assistant_message.id).await["status"],
        "done"
    );

    // The older export: conversations.json alone.
    let bob = app.guest().await;
    let r = import_raw(
        &app,
        &bob,
        "application/json",
        serde_json::to_vec(&second).unwrap(),
    )
    .await;
    assert_eq!(r.status(), 201);
    let list = app.get_json(&bob, "/api/conversations").await;
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Third", "Travel again"],
        "newest first, by their own dates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_record_is_named_and_nothing_is_imported() {
    let app = TestApp::spawn_configured(|c| c.import_limit_bytes = 64 * 1024).await;
    let ada = app.guest().await;
    let count = |token: String| {
        let app = &app;
        async move {
            app.get_json(&token, "/api/conversations").await["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };

    // The third conversation's current node is not in its mapping.
    let mut broken = chatgpt_conversation("Broken one", 1_700_000_000.0);
    broken["current_node"] = json!("gone");
    let mut in_folder = chatgpt_conversation("Fine", 1_700_000_000.0);
    in_folder["title"] = json!("Fine");
    let file = json!([in_folder, chatgpt_conversation("Also fine", 1.0), broken]);
    let r = import_raw(
        &app,
        &ada,
        "application/json",
        serde_json::to_vec(&file).unwrap(),
    )
    .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "invalid_import");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("conversation 3 (\"Broken one\")") && message.contains("\"gone\""),
        "{message}"
    );
    assert_eq!(count(ada.clone()).await, 0, "nothing half-imported");

    // A Sluice document whose answer names a question that is not there; its folder is not
    // made either.
    let plan = app.create_conversation(&ada).await;
    app.send_answered(&ada, plan, "hello").await;
    let mut doc = app
        .get_json(&ada, &format!("/api/conversations/{plan}/export"))
        .await;
    doc["conversation"]["folder"] = json!("Never made");
    doc["messages"][1]["reply_to"] = json!(uuid::Uuid::now_v7());
    let r = import_raw(
        &app,
        &ada,
        "application/json",
        serde_json::to_vec(&doc).unwrap(),
    )
    .await;
    assert_eq!(r.status(), 422);
    let message = r.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("message 2") && message.contains("reply_to"),
        "{message}"
    );
    doc["messages"][1]["reply_to"] = doc["messages"][0]["id"].clone();
    // Values the database could not hold: named too, never a 500.
    for (field, value, said) in [
        ("finish_reason", json!("st\u{0}op"), "NUL"),
        ("created_at", json!("+20000-01-01T00:00:00Z"), "years"),
        ("cost_usd", json!(5_000_000.0), "cost_usd"),
    ] {
        let mut bad = doc.clone();
        bad["messages"][1][field] = value;
        let r = import_raw(
            &app,
            &ada,
            "application/json",
            serde_json::to_vec(&bad).unwrap(),
        )
        .await;
        assert_eq!(r.status(), 422, "{field}");
        let message = r.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.contains("message 2") && message.contains(said),
            "{message}"
        );
    }
    doc["messages"][0]["role"] = json!("tool");
    let r = import_raw(
        &app,
        &ada,
        "application/json",
        serde_json::to_vec(&doc).unwrap(),
    )
    .await;
    let message = r.json::<Value>().await.unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("message 1") && message.contains("\"tool\""),
        "{message}"
    );
    assert_eq!(app.get_json(&ada, "/api/groups").await["items"], json!([]));
    // A carried file that is no file Sluice takes: refused, and nothing of the import stays
    // in storage.
    let mut with_file = doc.clone();
    with_file["messages"][0]["role"] = json!("user");
    let carried = uuid::Uuid::now_v7();
    with_file["messages"][0]["attachments"] = json!([{ "id": carried, "name": "tool.bin",
        "content_type": "text/plain", "bytes": 8, "created_at": "2026-12-01T00:00:00Z",
        "message_id": null, "text_chars": null }]);
    let zip = zip_of(&[
        (
            "conversations/one.json",
            serde_json::to_vec(&with_file).unwrap(),
        ),
        (
            &format!("files/{carried}"),
            b"\x7fELF\x02\x01\x01\0".to_vec(),
        ),
    ])
    .await;
    let r = import_raw(&app, &ada, "application/zip", zip).await;
    assert_eq!(r.status(), 415);
    let dir = std::path::PathBuf::from(&app.config.files.dir);
    let kept = walk(&dir);
    assert_eq!(kept, 0, "no object left behind");
    assert_eq!(count(ada.clone()).await, 1);

    // Not an export; not JSON; a form without its file; past the size limits.
    let r = import_raw(
        &app,
        &ada,
        "application/json",
        br#"{"hello": "world"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = import_form(&app, &ada, "notes.txt", b"just some notes").await;
    assert_eq!(r.status(), 422);
    let r = import_raw(
        &app,
        &ada,
        "multipart/form-data; boundary=x",
        b"--x--\r\n".to_vec(),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = import_raw(&app, &ada, "application/json", vec![b' '; 65 * 1024]).await;
    assert_eq!(r.status(), 413);
    // A zip that unpacks past four times the limit (zeros compress to almost nothing).
    let bomb = zip_of(&[("conversations.json", vec![b' '; 300 * 1024])]).await;
    assert!(bomb.len() < 64 * 1024);
    let r = import_raw(&app, &ada, "application/zip", bomb).await;
    assert_eq!(r.status(), 413, "{}", r.text().await.unwrap());
    let r = import_raw(
        &app,
        &ada,
        "application/zip",
        b"PK\x03\x04 not really a zip".to_vec(),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(count(ada).await, 1);
}
