//! `sluice folders` and `sluice conversations mv|star`: folders by name (made when a move names
//! a new one), a conversation moved in and out, starred and unstarred — as the server stores
//! them — and a folder that is not there named with the ones that are.

use crate::support::{Home, run, stack};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn conversations_are_moved_between_folders_by_name_and_starred() {
    let app = stack(1, 4).await;
    let home = Home::new();
    let tokens = app.register("cli-folders@example.com").await;
    home.sign_in(&app.base, &tokens);
    let token = tokens["access_token"].as_str().unwrap();
    let id = app.create_conversation(token).await.to_string();
    let sluice = |args: &[&str]| {
        let mut cmd = home.tokio_command(&app.base);
        cmd.args(args);
        run(cmd, None)
    };
    let stored = || async {
        app.get_json(token, &format!("/api/conversations/{id}"))
            .await
    };

    // A move naming a folder there is not makes it.
    let ran = sluice(&["conversations", "mv", &id, "Research"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("Made folder “Research”"),
        "{}",
        ran.stdout
    );
    let folders = app.get_json(token, "/api/groups").await;
    assert_eq!(folders["items"][0]["name"], "Research");
    assert_eq!(stored().await["group_id"], folders["items"][0]["id"]);
    let ran = sluice(&["folders", "list"]).await;
    assert!(
        ran.stdout.contains("Research  (1 conversation)"),
        "{}",
        ran.stdout
    );

    let ran = sluice(&["conversations", "star", &id]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(stored().await["favorite"], true);
    let ran = sluice(&["conversations", "list"]).await;
    assert!(
        ran.stdout.contains("★") && ran.stdout.contains("[Research]"),
        "{}",
        ran.stdout
    );
    sluice(&["conversations", "star", &id, "--off"]).await;
    assert_eq!(stored().await["favorite"], false);

    let ran = sluice(&["conversations", "mv", &id, "--out"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(stored().await["group_id"], Value::Null);

    let ran = sluice(&["folders", "rename", "research", "Reading"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let ran = sluice(&["folders", "rm", "Nowhere"]).await;
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("no folder named “Nowhere”") && ran.stderr.contains("“Reading”"),
        "{}",
        ran.stderr
    );
    let ran = sluice(&["folders", "rm", "Reading"]).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        app.get_json(token, "/api/groups").await["items"],
        serde_json::json!([])
    );
    let ran = sluice(&["conversations", "mv", &id]).await;
    assert_eq!(ran.code, 2, "a folder or --out is needed: a usage error");
}
