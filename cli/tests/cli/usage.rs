//! `sluice usage`: the totals, the busy buckets and each model's latency, as the server counts
//! them; a bad interval is a usage error.

use crate::support::{Home, run, stack};

#[tokio::test(flavor = "multi_thread")]
async fn usage_prints_the_totals_the_buckets_and_each_models_latency() {
    let app = stack(1, 4).await;
    let home = Home::new();
    let tokens = app.register("cli-usage@example.com").await;
    home.sign_in(&app.base, &tokens);
    let token = tokens["access_token"].as_str().unwrap();
    for text in ["one", "two"] {
        app.send_answered(token, app.create_conversation(token).await, text)
            .await;
    }
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["usage", "--interval", "15m"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let requests = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("requests"))
        .unwrap();
    assert!(requests.contains("requests  2 "), "{}", ran.stdout);
    assert!(ran.stdout.contains("demo:demo"), "{}", ran.stdout);
    let buckets = ran.stdout.lines().filter(|l| l.starts_with("20")).count();
    // One busy quarter hour (two, if the answers fell either side of one's end).
    assert!((1..=2).contains(&buckets), "{}", ran.stdout);
    let mut cmd = home.tokio_command(&app.base);
    cmd.args(["usage", "--interval", "2h"]);
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 2, "a usage error");
}
