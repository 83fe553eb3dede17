//! `sluice conversations show|export` print the server's export (Markdown, or JSON with every
//! message), `sluice export FILE` saves the whole account's zip, and `sluice import FILE`
//! brings an export into an account.

use crate::support::{Home, run, stack};

#[tokio::test(flavor = "multi_thread")]
async fn conversations_print_as_the_server_exports_them_and_the_account_saves_as_a_zip() {
    let app = stack(1, 4).await;
    let home = Home::new();
    let tokens = app.register("cli-export@example.com").await;
    home.sign_in(&app.base, &tokens);
    let token = tokens["access_token"].as_str().unwrap();
    let id = app.create_conversation(token).await;
    app.send_answered(token, id, "notes on the migration plan")
        .await;
    let sluice = |args: Vec<String>| {
        let mut cmd = home.tokio_command(&app.base);
        cmd.args(args);
        run(cmd, None)
    };

    let ran = sluice(vec!["conversations".into(), "show".into(), id.to_string()]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains("**You**\n\nnotes on the migration plan"),
        "{}",
        ran.stdout
    );

    let args = [
        "conversations",
        "export",
        &id.to_string(),
        "--format",
        "json",
    ];
    let ran = sluice(args.iter().map(|a| a.to_string()).collect()).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let doc: serde_json::Value = serde_json::from_str(&ran.stdout).expect("JSON on stdout");
    assert_eq!(doc["format"], "sluice.conversation");
    assert_eq!(doc["messages"].as_array().unwrap().len(), 2);

    let file = home.dir.join("mine.zip");
    let ran = sluice(vec!["export".into(), file.display().to_string()]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let zip = std::fs::read(&file).unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"), "a zip");
    let end = b"PK\x05\x06";
    assert!(
        zip.windows(4).any(|w| w == end),
        "with its end (central directory)"
    );

    // The zip imports into another account (`sluice import`), as does one conversation's JSON.
    let other = Home::new();
    let bob = app.register("cli-import@example.com").await;
    other.sign_in(&app.base, &bob);
    let import = |file: std::path::PathBuf| {
        let mut cmd = other.tokio_command(&app.base);
        cmd.arg("import").arg(file);
        run(cmd, None)
    };
    let ran = import(file.clone()).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), "Imported 1 conversation (2 messages).");
    let json = home.dir.join("one.json");
    std::fs::write(&json, serde_json::to_vec(&doc).unwrap()).unwrap();
    let ran = import(json).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let bobs = app
        .get_json(bob["access_token"].as_str().unwrap(), "/api/conversations")
        .await;
    assert_eq!(bobs["items"].as_array().unwrap().len(), 2);
    let notes = home.dir.join("notes.txt");
    std::fs::write(&notes, "not an export").unwrap();
    let ran = import(notes).await;
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("not an export Sluice reads"),
        "{}",
        ran.stderr
    );

    let ran = sluice(vec![
        "conversations".into(),
        "show".into(),
        uuid::Uuid::now_v7().to_string(),
    ])
    .await;
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("not found"), "{}", ran.stderr);
}
