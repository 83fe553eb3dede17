//! `sluice ask` for scripts: stdin joins the prompt, stdout holds only the answer, `--json`
//! the final message, failures one line on stderr and a non-zero exit; a connection cut
//! mid-answer is resumed without losing or repeating text. Plus `sluice conversations`.

use crate::support::{Home, demo_answer, run, stack};
use serde_json::Value;
use sluice_testkit::proxy::CuttableProxy;

async fn signed_in(app: &sluice_testkit::TestApp, server: &str, email: &str) -> (Home, Value) {
    let home = Home::new();
    let tokens = app.register(email).await;
    home.sign_in(server, &tokens);
    (home, tokens)
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_joins_stdin_to_the_prompt_and_prints_only_the_answer() {
    let app = stack(1, 12).await;
    let (home, tokens) = signed_in(&app, &app.base, "ask@example.com").await;
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["ask", "summarize"]);
    let ran = run(cmd, Some("notes line\n")).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let prompt = "summarize\n\nnotes line";
    assert_eq!(ran.stdout, format!("{}\n", demo_answer(prompt, 12)));

    // It really is what the server stored, under the user's own conversation.
    let token = tokens["access_token"].as_str().unwrap();
    let list = app.get_json(token, "/api/conversations").await;
    let conversation = list["items"][0]["id"].as_str().unwrap();
    let messages = app
        .get_json(
            token,
            &format!("/api/conversations/{conversation}/messages"),
        )
        .await;
    assert_eq!(messages["items"][0]["content"], prompt);
    assert_eq!(messages["items"][1]["content"], demo_answer(prompt, 12));

    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["ask", "--json", "one two"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let message: Value = serde_json::from_str(&ran.stdout).expect("JSON on stdout");
    assert_eq!(message["status"], "done");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], demo_answer("one two", 12));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_cut_mid_answer_resumes_without_losing_or_repeating_text() {
    let app = stack(25, 60).await;
    let proxy = CuttableProxy::start(&app.base).await;
    let (home, _) = signed_in(&app, &proxy.base, "resume@example.com").await;
    let mut cmd = home.tokio_command(&proxy.base);
    cmd.args(["ask", "keep going"]);
    let child = tokio::spawn(run(cmd, None));
    // Once the answer is streaming, cut every connection (twice, to be sure of a resume).
    for _ in 0..2 {
        let _ = sluice_testkit::wait::until(
            "the answer to stream",
            std::time::Duration::from_secs(30),
            || {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'streaming'",
                )
                .fetch_one(&app.pool)
            },
            |streaming| matches!(streaming, Ok(1)),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        proxy.cut_all();
    }
    let ran = child.await.unwrap();
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("resuming"),
        "the cut happened mid-answer: {}",
        ran.stderr
    );
    assert_eq!(ran.stdout, format!("{}\n", demo_answer("keep going", 60)));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_a_user_can_cause_are_one_clear_line() {
    let app = stack(1, 4).await;
    let (home, _) = signed_in(&app, &app.base, "oops@example.com").await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["ask", "--model", "nope", "hi"],
            "model \"nope\" is not available",
        ),
        (
            vec![
                "conversations",
                "show",
                "0190b5a0-0000-7000-8000-000000000000",
            ],
            "conversation not found",
        ),
        (
            vec!["whoami", "--server", "http://127.0.0.1:9"],
            "not signed in",
        ),
        (vec!["ask"], "nothing to ask"),
    ];
    for (args, expected) in cases {
        let mut cmd = home.tokio_command(&app.base);
        cmd.args(&args);
        let ran = run(cmd, None).await;
        assert_ne!(ran.code, 0, "{args:?}");
        assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
        assert_eq!(
            ran.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            ran.stderr
        );
        assert!(ran.stderr.contains(expected), "{args:?}: {}", ran.stderr);
    }
    // A server that is down, and a URL that is not a Sluice server.
    let down = Home::new();
    down.sign_in("http://127.0.0.1:9", &serde_json::json!({ "access_token": "x", "refresh_token": "y", "user": { "id": uuid::Uuid::nil(), "display_name": "x", "email": null, "is_guest": true, "roles": [], "created_at": "2026-01-01T00:00:00Z" } }));
    let mut cmd = down.tokio_command("http://127.0.0.1:9");
    cmd.args(["ask", "hi"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{}",
        ran.stderr
    );
    let fake = sluice_testkit::fake_openai::FakeOpenAi::start(1, std::time::Duration::ZERO).await;
    let not_sluice = fake.base_url.trim_end_matches("/v1").to_string();
    let mut cmd = home.tokio_command(&not_sluice);
    cmd.args(["login", "--no-browser"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("does not look like a Sluice server"),
        "{}",
        ran.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conversations_list_show_export_and_remove() {
    let app = stack(1, 4).await;
    let (home, tokens) = signed_in(&app, &app.base, "conv@example.com").await;
    let token = tokens["access_token"].as_str().unwrap();
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["ask", "first question"]);
    assert_eq!(run(cmd, None).await.code, 0);
    let list = app.get_json(token, "/api/conversations").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_string();

    let cli = |args: Vec<String>| {
        let mut cmd = home.tokio_command(&app.base);
        cmd.args(args);
        run(cmd, None)
    };
    let listed = cli(vec!["conversations".into(), "list".into()]).await;
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    let md = cli(vec![
        "conversations".into(),
        "export".into(),
        id.clone(),
        "--format".into(),
        "md".into(),
    ])
    .await;
    assert!(
        md.stdout.contains("**You**\n\nfirst question"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains(&demo_answer("first question", 4)),
        "{}",
        md.stdout
    );
    let json = cli(vec![
        "conversations".into(),
        "export".into(),
        id.clone(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["conversation"]["id"], id.as_str());
    assert_eq!(doc["messages"].as_array().unwrap().len(), 2);
    let shown = cli(vec!["conversations".into(), "show".into(), id.clone()]).await;
    assert_eq!(shown.stdout, md.stdout);
    let removed = cli(vec!["conversations".into(), "rm".into(), id.clone()]).await;
    assert_eq!(removed.code, 0);
    assert_eq!(
        app.get(token, &format!("/api/conversations/{id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_with_files_sends_them_with_the_question() {
    let app = stack(1, 12).await;
    let (home, tokens) = signed_in(&app, &app.base, "files@example.com").await;
    let notes = home.dir.join("nötes.txt");
    std::fs::write(&notes, "The launch code is PELICAN-42.").unwrap();
    let image = home.dir.join("pixel.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let mut cmd = home.tokio_command(&app.base);
    cmd.arg("ask")
        .arg("-f")
        .arg(&notes)
        .arg("--file")
        .arg(&image)
        .arg("what is the code?");
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // The demo echoes the words of what it was given: the file's text came before the question.
    assert!(
        ran.stdout
            .starts_with("<file#0 name=\"nötes.txt\">#1 The#2 launch#3 code#4 is#5 PELICAN-42.#6"),
        "{}",
        ran.stdout
    );
    let token = tokens["access_token"].as_str().unwrap();
    let list = app.get_json(token, "/api/conversations").await;
    let conversation = list["items"][0]["id"].as_str().unwrap();
    let messages = app
        .get_json(
            token,
            &format!("/api/conversations/{conversation}/messages"),
        )
        .await;
    let names: Vec<&str> = messages["items"][0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["nötes.txt", "pixel.png"],
        "the name as it is, sent as RFC 8187 UTF-8"
    );

    // A file the server does not take: one clear line, nothing sent.
    let program = home.dir.join("tool.bin");
    std::fs::write(&program, b"\x7fELF\x02\x01\x01\0").unwrap();
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["ask", "-f"]).arg(&program).arg("run it?");
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("can be attached"), "{}", ran.stderr);
    let list = app.get_json(token, "/api/conversations").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}
