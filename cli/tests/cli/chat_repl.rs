//! `sluice chat` driven through a pseudo-terminal, as a person would: type a prompt, watch the
//! answer stream, press Ctrl-C mid-answer and see it stored as cancelled, use the commands,
//! quit with Ctrl-D.

use crate::support::{Home, demo_answer, stack};
use rexpect::session::spawn_command;

#[tokio::test(flavor = "multi_thread")]
async fn a_repl_session_streams_cancels_with_ctrl_c_and_names_the_conversation() {
    // Slow enough to press Ctrl-C in the middle: 200 tokens, 40 ms apart.
    let app = stack(40, 200).await;
    let home = Home::new();
    let tokens = app.register("repl@example.com").await;
    home.sign_in(&app.base, &tokens);
    let mut command = home.command(&app.base);
    command.arg("chat");

    let pool = app.pool.clone();
    let session = tokio::task::spawn_blocking(move || {
        let mut p = spawn_command(command, Some(20_000)).expect("start sluice chat in a pty");
        p.exp_string("you> ").unwrap();
        p.send_line("tell me more").unwrap();
        // Streamed text appears before the answer is complete.
        p.exp_string("tell#0 me#1 more#2 tell#3").unwrap();
        p.send_control('c').unwrap();
        p.exp_string("[cancelled]").unwrap();
        p.exp_string("you> ").unwrap();
        p.send_line("/title Pty chat").unwrap();
        p.exp_string("(title: Pty chat)").unwrap();
        p.send_line("/model nope").unwrap();
        p.exp_string("model \"nope\" is not available").unwrap();
        p.send_line("/help").unwrap();
        p.exp_string("/new").unwrap();
        // Ctrl-C right after Enter (as soon as a person could: once the line editor has handed
        // the terminal back), maybe before the answer has an id: it is still stopped.
        p.send_line("again please").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        p.send_control('c').unwrap();
        p.exp_string("[cancelled]").unwrap();
        p.send_control('d').unwrap();
        p.exp_eof().unwrap();
    });
    session
        .await
        .expect("the pty session went as a person would expect");

    let answers: Vec<(String, String)> = sqlx::query_as(
        "SELECT status, content FROM messages WHERE role = 'assistant' ORDER BY created_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers[1].0, "cancelled",
        "the second answer was stopped too"
    );
    let (status, content) = answers[0].clone();
    assert_eq!(status, "cancelled");
    assert!(
        content.starts_with("tell#0 me#1 more#2 tell#3"),
        "{content}"
    );
    assert!(
        content.len() < demo_answer("tell me more", 200).len(),
        "stopped early"
    );
    let title: Option<String> = sqlx::query_scalar("SELECT title FROM conversations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(title.as_deref(), Some("Pty chat"));
}
