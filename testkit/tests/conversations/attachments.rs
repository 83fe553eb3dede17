//! Attachments sent with a question: they reach the prompt in each vendor's own format (text
//! before the question, cut with a notice when long; images as images, refused for a model
//! that cannot see or past its provider's size); a file goes once and only its owner's, a
//! refused send gives it back, and its tokens count toward the budget. A 20 MB PDF is
//! uploaded, read and answered about.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sluice_shared::config::ProviderKind;
use sluice_testkit::{
    TestApp, fake_openai::FakeOpenAi, uploads::PNG, with_fake_openai, with_fake_provider,
};

/// `POST /api/files` as a form: the raw answer.
async fn upload(app: &TestApp, token: &str, name: &str, bytes: &[u8]) -> reqwest::Response {
    app.post_form(token, "/api/files", name, bytes).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_files_reach_the_prompt_in_each_vendor_s_format() {
    for vendor in [
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
    ] {
        let fake = FakeOpenAi::start(3, Duration::ZERO).await;
        let app = TestApp::spawn_with(with_fake_provider(&fake, vendor)).await;
        let ada = app.guest().await;
        let notes = app
            .uploaded(&ada, "notes.txt", b"The launch code is PELICAN-42.")
            .await;
        let cat = app.uploaded(&ada, "cat.png", PNG).await;
        let conv = app.create_conversation(&ada).await;
        let r = app
            .send_with_files(&ada, conv, "What do they show?", &[&notes, &cat])
            .await;
        assert_eq!(r.status(), 202);
        let sent: Value = r.json().await.unwrap();
        let attached: Vec<&str> = sent["user_message"]["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(attached, ["notes.txt", "cat.png"]);
        let events = app
            .read_to_end(&ada, sent["stream_url"].as_str().unwrap())
            .await;
        assert_eq!(events.last().unwrap().event, "done", "{vendor:?}");

        let text = "<file name=\"notes.txt\">\nThe launch code is PELICAN-42.\n</file>\n\nWhat do they show?";
        let png = base64::engine::general_purpose::STANDARD.encode(PNG);
        let asked = fake.prompts().pop().unwrap();
        match vendor {
            ProviderKind::Openai => {
                let content = &asked["messages"].as_array().unwrap().last().unwrap()["content"];
                assert_eq!(
                    content,
                    &json!([
                        { "type": "text", "text": text },
                        { "type": "image_url", "image_url": { "url": format!("data:image/png;base64,{png}") } }
                    ])
                );
            }
            ProviderKind::Anthropic => {
                let content = &asked["messages"].as_array().unwrap().last().unwrap()["content"];
                assert_eq!(
                    content,
                    &json!([
                        { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": png } },
                        { "type": "text", "text": text }
                    ])
                );
            }
            _ => {
                let parts = &asked["contents"].as_array().unwrap().last().unwrap()["parts"];
                assert_eq!(
                    parts,
                    &json!([
                        { "text": text },
                        { "inline_data": { "mime_type": "image/png", "data": png } }
                    ])
                );
            }
        }
        if vendor != ProviderKind::Openai {
            continue;
        }
        // The question shows its files; the next question's prompt still has them in history.
        let page = app
            .get_json(&ada, &format!("/api/conversations/{conv}/messages"))
            .await;
        assert_eq!(page["items"][0]["attachments"].as_array().unwrap().len(), 2);
        assert!(
            page["items"][1].get("attachments").is_none(),
            "answers carry none"
        );
        app.send_answered(&ada, conv, "And again?").await;
        let asked = fake.prompts().pop().unwrap();
        let history = serde_json::to_string(&asked["messages"]).unwrap();
        assert!(history.contains("PELICAN-42"), "{history}");
        // A file goes with one question only, and only its owner's; nothing is stored then.
        let r = app
            .send_with_files(&ada, conv, "Once more", &[&notes])
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "unknown_file"
        );
        let bob = app.guest().await;
        let bobs = app.create_conversation(&bob).await;
        let fresh = app.uploaded(&ada, "fresh.txt", b"fresh").await;
        assert_eq!(
            app.send_with_files(&bob, bobs, "Mine?", &[&fresh])
                .await
                .status(),
            422
        );
        let messages = app
            .get_json(&ada, &format!("/api/conversations/{conv}/messages"))
            .await;
        assert_eq!(messages["items"].as_array().unwrap().len(), 4);
        // Too many at once.
        let mut many = Vec::new();
        for i in 0..11 {
            many.push(
                app.uploaded(&ada, "n.txt", format!("note {i}").as_bytes())
                    .await,
            );
        }
        let r = app
            .send_with_files(&ada, conv, "All of them", &many.iter().collect::<Vec<_>>())
            .await;
        assert_eq!(r.status(), 422);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "too_many_files"
        );
        // Refused sends left the files unsent: they go with the next question.
        let r = app.send_with_files(&ada, conv, "Fresh?", &[&fresh]).await;
        assert_eq!(r.status(), 202);
        let sent: Value = r.json().await.unwrap();
        app.read_to_end(&ada, sent["stream_url"].as_str().unwrap())
            .await;
        // An edited question keeps its files.
        let question = sent["user_message"]["id"].as_str().unwrap();
        let body = json!({ "content": "Fresh, edited?" });
        let r = app
            .call(
                &ada,
                Method::POST,
                &format!("/api/messages/{question}/edit"),
                Some(body),
            )
            .await;
        assert_eq!(r.status(), 202);
        let edited: Value = r.json().await.unwrap();
        app.read_to_end(&ada, edited["stream_url"].as_str().unwrap())
            .await;
        let asked = fake.prompts().pop().unwrap();
        let last = asked["messages"].as_array().unwrap().last().unwrap()["content"].clone();
        assert_eq!(
            last,
            "<file name=\"fresh.txt\">\nfresh\n</file>\n\nFresh, edited?"
        );
        let page = app
            .get_json(
                &ada,
                &format!("/api/conversations/{conv}/messages?order=newest"),
            )
            .await;
        assert_eq!(
            page["items"][1]["attachments"][0]["name"], "fresh.txt",
            "{page:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_refused_by_a_model_that_cannot_see_and_long_text_is_cut_with_a_notice() {
    let fake = FakeOpenAi::start(3, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake).and(|c| {
        c.models.get_mut("fake-gpt").unwrap().vision = false;
    }))
    .await;
    let ada = app.guest().await;
    let conv = app.create_conversation(&ada).await;
    let cat = app.uploaded(&ada, "cat.png", PNG).await;
    let r = app
        .send_with_files(&ada, conv, "What is this?", &[&cat])
        .await;
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_cannot_see");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot read images")
    );

    // 60,000 characters into a 4,096-token context: what fits, and a notice of the cut.
    let long: String = (0..6_000).map(|i| format!("line {i:04}\n")).collect();
    let file = app.uploaded(&ada, "long.txt", long.as_bytes()).await;
    assert_eq!(file["text_chars"], 60_000);
    let r = app
        .send_with_files(&ada, conv, "Summarise it", &[&file])
        .await;
    assert_eq!(r.status(), 202);
    let sent: Value = r.json().await.unwrap();
    app.read_to_end(&ada, sent["stream_url"].as_str().unwrap())
        .await;
    let asked = fake.prompts().pop().unwrap();
    let question = asked["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        question.starts_with("<file name=\"long.txt\">\nline 0000\n"),
        "{}",
        &question[..100]
    );
    assert!(
        question.contains("\"long.txt\" was cut to fit the model's context: the first"),
        "{question}"
    );
    assert!(question.contains("of its 60000 characters are above"));
    assert!(question.ends_with("Summarise it"));
    let tokens = sluice_shared::estimate::tokens(&question);
    assert!(
        tokens <= 4_096 - 256,
        "within the context beside the answer: {tokens}"
    );
}

/// A PDF of `pages` pages of text (one line each) and an image of about `image_bytes` bytes
/// (photos are what make PDFs large), written as PDF 1.4 with a cross-reference table.
fn pdf(pages: &[&str], image_bytes: usize) -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let n = pages.len();
    let mut object = |out: &mut Vec<u8>, body: Vec<u8>| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\nendobj\n");
    };
    // 1 catalog, 2 pages, 3 font, 4 image, then a page and its contents per page.
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 5 + 2 * i)).collect();
    object(
        &mut out,
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")).into_bytes(),
    );
    object(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    );
    let (width, height) = (2048, image_bytes / (2048 * 3));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let pixels: Vec<u8> = (0..width * height * 3)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>\nstream\n",
        pixels.len()
    )
    .into_bytes();
    image.extend_from_slice(&pixels);
    image.extend_from_slice(b"\nendstream");
    object(&mut out, image);
    for (i, text) in pages.iter().enumerate() {
        let draw = if i == 0 {
            "q 200 0 0 150 72 500 cm /Im1 Do Q\n"
        } else {
            ""
        };
        let content = format!("{draw}BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
        object(
            &mut out,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 4 0 R >> >> >>",
                6 + 2 * i
            )
            .into_bytes(),
        );
        object(
            &mut out,
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            )
            .into_bytes(),
        );
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for at in &offsets {
        out.extend_from_slice(format!("{at:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mb_pdf_is_uploaded_read_and_answered_about() {
    let fake = FakeOpenAi::start(5, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let ada = app.guest().await;
    let pages = [
        "Annual report 2026",
        "The quarterly revenue was 4.2 million euros.",
        "Thank you for reading.",
    ];
    let file = pdf(&pages, 20 * 1024 * 1024);
    assert!(file.len() > 20_000_000, "{}", file.len());
    let started = std::time::Instant::now();
    let report = app.uploaded(&ada, "report.pdf", &file).await;
    println!("20 MB PDF uploaded and read in {:?}", started.elapsed());
    assert_eq!(report["content_type"], "application/pdf");
    assert_eq!(report["bytes"].as_u64(), Some(file.len() as u64));
    let conv = app.create_conversation(&ada).await;
    let r = app
        .send_with_files(&ada, conv, "What was the revenue?", &[&report])
        .await;
    assert_eq!(r.status(), 202);
    let sent: Value = r.json().await.unwrap();
    let events = app
        .read_to_end(&ada, sent["stream_url"].as_str().unwrap())
        .await;
    assert_eq!(events.last().unwrap().event, "done");
    let asked = fake.prompts().pop().unwrap();
    let question = asked["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        question.starts_with("<file name=\"report.pdf\">"),
        "{question}"
    );
    for page in pages {
        assert!(question.contains(page), "{page:?} in {question}");
    }
    // A file that says it is a PDF but is not one is refused, and not kept.
    let r = upload(
        &app,
        &ada,
        "broken.pdf",
        b"%PDF-1.4\nthis is not a PDF at all",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unreadable_pdf"
    );
    assert_eq!(
        app.get_json(&ada, "/api/files").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_larger_than_the_provider_takes_is_refused_and_a_lost_claim_is_given_back() {
    let fake = FakeOpenAi::start(3, Duration::ZERO).await;
    let app = TestApp::spawn_with(with_fake_provider(&fake, ProviderKind::Anthropic)).await;
    let ada = app.guest().await;
    let conv = app.create_conversation(&ada).await;
    // Anthropic takes images of 5 MB at most.
    let mut photo = PNG.to_vec();
    photo.resize(6 * 1024 * 1024, 0);
    let photo = app.uploaded(&ada, "photo.png", &photo).await;
    let r = app
        .send_with_files(&ada, conv, "What is it?", &[&photo])
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "image_too_large"
    );
    let mine = app.get_json(&ada, "/api/files").await;
    assert_eq!(mine["items"][0]["message_id"], Value::Null, "still unsent");

    // A send that claimed a file and died before writing its question: the clean-up job gives
    // the file back after ten minutes, and it can be sent.
    let notes = app.uploaded(&ada, "notes.txt", b"notes").await;
    sqlx::query("UPDATE files SET message_id = $1, claimed_at = now() - interval '11 minutes' WHERE id = $2")
        .bind(uuid::Uuid::now_v7())
        .bind(notes["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.send_with_files(&ada, conv, "Notes?", &[&notes])
            .await
            .status(),
        422,
        "claimed"
    );
    let store = sluice_shared::files::store(&app.config.files).unwrap();
    sluice_api::files::cleanup::round(&app.pool, store.as_ref(), 86_400)
        .await
        .unwrap();
    let r = app.send_with_files(&ada, conv, "Notes?", &[&notes]).await;
    assert_eq!(r.status(), 202, "given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_counts_toward_the_answer_s_token_budget() {
    // Answers slow enough that the first is still being written when the second is sent.
    let app = TestApp::spawn_configured(|c| {
        c.admin_emails = vec!["root@example.com".into()];
        c.demo.pacing_ms = 100;
    })
    .await;
    let root = app.register("root@example.com").await;
    let ada = app.register("ada@example.com").await;
    let (root, ada_id) = (
        root["access_token"].as_str().unwrap().to_string(),
        ada["user"]["id"].as_str().unwrap().to_string(),
    );
    let ada = ada["access_token"].as_str().unwrap().to_string();
    let path = format!("/api/admin/users/{ada_id}/limits");
    let body = json!({ "tokens_per_day": 3_000 });
    assert_eq!(
        app.call(&root, Method::PUT, &path, Some(body))
            .await
            .status(),
        200
    );
    let conv = app.create_conversation(&ada).await;
    let other = app.create_conversation(&ada).await;
    // 20,000 characters, about 5,000 tokens: the answer reserves them while it is written, so
    // the day's 3,000 are spent until it settles (a budget admits while anything is left).
    let long = app.uploaded(&ada, "long.txt", &vec![b'a'; 20_000]).await;
    assert_eq!(
        app.send_with_files(&ada, conv, "Summarise", &[&long])
            .await
            .status(),
        202
    );
    let r = app.send_with_files(&ada, other, "And this?", &[]).await;
    assert_eq!(r.status(), 429, "{}", r.text().await.unwrap());
}
