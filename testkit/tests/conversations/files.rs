//! Files: uploaded (multipart or a bare body), their type told by content, served back only
//! to their owner as a download; limits on size and quota, and nothing kept of a refused
//! upload; deleted (and with their conversation), storage cleaned by the job — on a local
//! directory and on a real S3-compatible server (moto). What a sent file does in the prompt:
//! `attachments.rs`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::config::FileStoreKind;
use sluice_testkit::{
    TestApp,
    s3::S3Server,
    uploads::{PNG, files_under},
};

/// `POST /api/files` as a form: the raw answer.
async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> reqwest::Response {
    app.post_form(token, "/api/files", name, bytes).await
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 20 s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_told_by_content_served_only_to_their_owner_and_limited() {
    let app = TestApp::spawn_configured(|c| {
        c.files.max_file_bytes = 4_000;
        c.files.max_user_bytes = 6_000;
    })
    .await;
    let dir = app.config.files.dir.clone();
    let ada = app.guest().await;

    let notes = app
        .uploaded(&ada, "notes.txt", "Ünïcode notes\n".as_bytes())
        .await;
    assert_eq!(notes["content_type"], "text/plain; charset=utf-8");
    assert_eq!(
        (notes["bytes"].as_i64(), notes["text_chars"].as_i64()),
        (Some(16), Some(14))
    );
    assert_eq!(notes["message_id"], Value::Null);
    let r = app
        .get(
            &ada,
            &format!("/api/files/{}", notes["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        "Ünïcode notes\n".as_bytes()
    );

    // The content decides, not the name: a page is served as text, an image named .txt is an
    // image, and a program is refused whatever it is called.
    let page = app
        .uploaded(&ada, "page.html", b"<script>alert(1)</script>")
        .await;
    assert_eq!(page["content_type"], "text/plain; charset=utf-8");
    let image = app.uploaded(&ada, "notes.txt", PNG).await;
    assert_eq!(
        (image["content_type"].as_str(), image["text_chars"].as_i64()),
        (Some("image/png"), None)
    );
    let r = upload(&app, &ada, "readme.txt", b"\x7fELF\x02\x01\x01\0\0\0\0\0").await;
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_file_type"
    );
    let r = upload(&app, &ada, "empty.txt", b"").await;
    assert_eq!(r.status(), 422);
    // A bare body names its file as a download does.
    let r = app
        .http
        .post(app.url("/api/files"))
        .bearer_auth(&ada)
        .header(
            "content-disposition",
            "attachment; filename=\"../../plan.md\"",
        )
        .body("# Plan")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let plan: Value = r.json().await.unwrap();
    assert_eq!(
        (plan["name"].as_str(), plan["content_type"].as_str()),
        (Some("plan.md"), Some("text/markdown; charset=utf-8"))
    );

    // Nobody else's.
    let bob = app.guest().await;
    let one = format!("/api/files/{}", notes["id"].as_str().unwrap());
    assert_eq!(app.get(&bob, &one).await.status(), 404);
    assert_eq!(
        app.call(&bob, Method::DELETE, &one, None).await.status(),
        404
    );
    assert_eq!(app.get_json(&bob, "/api/files").await["items"], json!([]));

    // Size and quota (4,000 bytes a file, 6,000 in all); refused uploads leave nothing behind.
    let r = upload(&app, &ada, "big.txt", &vec![b'a'; 5_000]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "file_too_large"
    );
    app.uploaded(&ada, "a.txt", &vec![b'a'; 3_000]).await;
    let r = upload(&app, &ada, "b.txt", &vec![b'b'; 3_000]).await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "file_quota_exceeded"
    );
    let mine = app.get_json(&ada, "/api/files").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 5);
    assert_eq!(mine["max_bytes"], 6_000);
    assert_eq!(
        files_under(std::path::Path::new(&dir)),
        5,
        "nothing of the refused ones is kept"
    );

    // Deleted: gone at once, and from storage by the clean-up job.
    assert_eq!(
        app.call(&ada, Method::DELETE, &one, None).await.status(),
        204
    );
    assert_eq!(app.get(&ada, &one).await.status(), 404);
    eventually("the object to be deleted", async || {
        files_under(std::path::Path::new(&dir)) == 4
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_files_stream_in_and_go_with_their_conversation() {
    let s3 = S3Server::start().await;
    let (endpoint, bucket) = (s3.endpoint.clone(), s3.bucket.clone());
    let app = TestApp::spawn_configured(move |c| {
        c.files.store = FileStoreKind::S3;
        c.files.s3_endpoint = Some(endpoint);
        c.files.s3_bucket = bucket;
        c.files.s3_access_key_id = Some("testing".into());
        c.files.s3_secret_access_key = Some("testing".to_string().into());
        c.files.unattached_ttl_secs = 2;
    })
    .await;
    let ada = app.guest().await;
    let user: Value = app.get_json(&ada, "/api/auth/me").await;
    // 12 MB: past the writer's buffer, so it goes up as a multipart upload.
    let big: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let file = app.uploaded(&ada, "big.txt", &big).await;
    let key = format!(
        "files/{}/{}",
        user["id"].as_str().unwrap(),
        file["id"].as_str().unwrap()
    );
    assert_eq!(s3.keys().await, [key]);
    let r = app
        .get(
            &ada,
            &format!("/api/files/{}", file["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), big.len());

    let conv = app.create_conversation(&ada).await;
    let r = app
        .send_with_files(&ada, conv, "How long is it?", &[&file])
        .await;
    assert_eq!(r.status(), 202);
    let sent: Value = r.json().await.unwrap();
    app.read_to_end(&ada, sent["stream_url"].as_str().unwrap())
        .await;
    // Uploaded, never sent, past its time: deleted by the next round too.
    let unsent = app.uploaded(&ada, "unsent.txt", b"never sent").await;
    assert_eq!(s3.keys().await.len(), 2);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let r = app
        .call(
            &ada,
            Method::DELETE,
            &format!("/api/conversations/{conv}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    for f in [&file, &unsent] {
        eventually("the row to go", async || {
            app.get(&ada, &format!("/api/files/{}", f["id"].as_str().unwrap()))
                .await
                .status()
                == 404
        })
        .await;
    }
    eventually("the bucket to be empty", async || {
        s3.keys().await.is_empty()
    })
    .await;
}
