//! `sluice search`: hits with their conversation, the matched words marked (`**word**` when
//! piped), and a clear line when nothing matches.

use crate::support::{Home, run, stack};

#[tokio::test(flavor = "multi_thread")]
async fn search_prints_each_hit_with_its_conversation_and_the_words_marked() {
    let app = stack(1, 4).await;
    let home = Home::new();
    let tokens = app.register("cli-search@example.com").await;
    home.sign_in(&app.base, &tokens);
    let token = tokens["access_token"].as_str().unwrap();
    let conversation = app.create_conversation(token).await;
    app.send_answered(token, conversation, "notes on the migration plan")
        .await;
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["search", "migrations"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains(&conversation.to_string()),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("you: notes on the **migration** plan"),
        "{}",
        ran.stdout
    );
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["search", "xylophone"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 0);
    assert!(
        ran.stdout.contains("Nothing found for “xylophone”."),
        "{}",
        ran.stdout
    );
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["search", "x", "--limit", "0"]);
    assert_eq!(run(cmd, None).await.code, 2, "a usage error");
}
