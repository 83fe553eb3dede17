//! Import: Sluice's own export comes back whole (an account zip or one conversation's JSON:
//! export → import → export is the same but for ids, files included), and a bad record is a
//! 422 naming it with nothing imported. ChatGPT's export: `import_chatgpt.rs`.

use std::collections::HashMap;

use async_zip::base::read::mem::ZipFileReader;
use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{
    TestApp,
    chatgpt_export::chatgpt_conversation,
    uploads::{files_under, zip_of},
};

/// `POST /api/import` with `body` as `content_type`.
async fn import_raw(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.post_body(token, "/api/import", content_type, body)
        .await
}

/// `POST /api/import` of `doc` as a JSON body.
async fn import_json(app: &TestApp, token: &str, doc: &Value) -> reqwest::Response {
    import_raw(
        app,
        token,
        "application/json",
        serde_json::to_vec(doc).unwrap(),
    )
    .await
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
    let r = app
        .post_form(&bob, "/api/import", "sluice-export.zip", &zip)
        .await;
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
    let fine = chatgpt_conversation("Fine", 1_700_000_000.0);
    let file = json!([fine, chatgpt_conversation("Also fine", 1.0), broken]);
    let r = import_json(&app, &ada, &file).await;
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
    let r = import_json(&app, &ada, &doc).await;
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
        let r = import_json(&app, &ada, &bad).await;
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
    let r = import_json(&app, &ada, &doc).await;
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
    let kept = files_under(&dir);
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
    let r = app
        .post_form(&ada, "/api/import", "notes.txt", b"just some notes")
        .await;
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
