//! Exports: one conversation as JSON (every field, its folder by name and its star) or
//! Markdown, and the whole account as a zip whose files are those same documents plus a
//! manifest with the folders — nobody else's conversation, and unknown formats refused.

use async_zip::base::read::mem::ZipFileReader;
use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::TestApp;

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let r = app.call(token, Method::POST, path, Some(body)).await;
    assert!(r.status().is_success(), "{path}");
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_and_the_whole_account_export_with_everything_they_hold() {
    let app = TestApp::spawn().await;
    let ada = app.guest().await;
    let work = post(&app, &ada, "/api/groups", json!({ "name": "Work" })).await;
    post(&app, &ada, "/api/groups", json!({ "name": "Empty" })).await;
    let plan = app.create_conversation(&ada).await;
    app.send_answered(&ada, plan, "plan the quarter").await;
    app.send_answered(&ada, plan, "and the budget").await;
    let body = json!({ "title": "Quarter", "group_id": work["id"], "favorite": true });
    let r = app
        .call(
            &ada,
            Method::PATCH,
            &format!("/api/conversations/{plan}"),
            Some(body),
        )
        .await;
    assert_eq!(r.status(), 200);
    let other = post(
        &app,
        &ada,
        "/api/conversations",
        json!({ "title": "Nothing yet" }),
    )
    .await;

    // JSON: the conversation, its folder by name, its star, and every message in order.
    let r = app
        .get(
            &ada,
            &format!("/api/conversations/{plan}/export?format=json"),
        )
        .await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"conversation-{plan}.json\"")
    );
    let doc: Value = r.json().await.unwrap();
    assert_eq!(
        (doc["format"].as_str(), doc["version"].as_u64()),
        (Some("sluice.conversation"), Some(1))
    );
    let c = &doc["conversation"];
    assert_eq!(
        (c["title"].as_str(), c["folder"].as_str(), &c["favorite"]),
        (Some("Quarter"), Some("Work"), &json!(true))
    );
    let said: Vec<(&str, &str)> = doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        said,
        [
            ("user", "complete"),
            ("assistant", "done"),
            ("user", "complete"),
            ("assistant", "done")
        ]
    );
    assert_eq!(doc["messages"][0]["content"], "plan the quarter");
    assert!(
        doc["messages"][1]["usage"]["output_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Markdown, for reading.
    let r = app
        .get(&ada, &format!("/api/conversations/{plan}/export?format=md"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = r.text().await.unwrap();
    assert!(md.starts_with("# Quarter\n"), "{md}");
    assert!(
        md.contains("**You**\n\nplan the quarter") && md.contains("**Assistant**"),
        "{md}"
    );

    // The account: each conversation's document, and the folders.
    let r = app.get(&ada, "/api/export").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap().to_vec();
    let zip = ZipFileReader::new(bytes).await.expect("a whole zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.file().entries().len() {
        let name = zip.file().entries()[i]
            .filename()
            .as_str()
            .unwrap()
            .to_string();
        let mut reader = zip.reader_with_entry(i).await.unwrap();
        let mut text = String::new();
        reader.read_to_string_checked(&mut text).await.unwrap();
        files.insert(name, serde_json::from_str::<Value>(&text).unwrap());
    }
    assert_eq!(files.len(), 3, "{:?}", files.keys());
    let manifest = &files["manifest.json"];
    assert_eq!(manifest["format"], "sluice.account");
    assert_eq!(manifest["conversations"], 2);
    let folders: Vec<&str> = manifest["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(folders, ["Empty", "Work"]);
    let in_zip = files
        .iter()
        .find(|(name, _)| name.ends_with(&format!("{plan}.json")))
        .map(|(_, doc)| doc)
        .expect("the conversation's file");
    assert_eq!(
        in_zip, &doc,
        "the same document as the conversation's own export"
    );
    assert!(
        files
            .keys()
            .any(|n| n.ends_with(&format!("{}.json", other["id"].as_str().unwrap())))
    );

    // Nobody else's; no unknown format.
    let bob = app.guest().await;
    assert_eq!(
        app.get(&bob, &format!("/api/conversations/{plan}/export"))
            .await
            .status(),
        404
    );
    let r = app.get(&bob, "/api/export").await;
    let bytes = r.bytes().await.unwrap().to_vec();
    let zip = ZipFileReader::new(bytes).await.unwrap();
    assert_eq!(zip.file().entries().len(), 1, "only the manifest");
    assert_eq!(
        app.get(
            &ada,
            &format!("/api/conversations/{plan}/export?format=xml")
        )
        .await
        .status(),
        400
    );
}
