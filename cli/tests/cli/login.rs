//! `sluice login` end to end (the test approves the code through the API as a signed-in
//! user), denial, expiry, refresh on its own, whoami and logout.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Home, finish_login, run, stack, start_login};
use serde_json::{Value, json};

async fn decide(app: &sluice_testkit::TestApp, token: &str, decision: &str, code: &str) {
    let r = app
        .http
        .post(app.url(&format!("/api/auth/device/{decision}")))
        .bearer_auth(token)
        .json(&json!({ "user_code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn login_whoami_and_logout_end_to_end() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let (child, code, out) = start_login(&home, &app.base).await;
    assert_eq!(code.len(), 9, "{code}");
    let approver = app.register("cli@example.com").await;
    decide(
        &app,
        approver["access_token"].as_str().unwrap(),
        "approve",
        &code,
    )
    .await;
    let (status, printed) = finish_login(child, out).await;
    assert!(status.success(), "{printed}");
    assert!(printed.contains("Signed in to"), "{printed}");
    assert!(printed.contains("cli@example.com"), "{printed}");
    let path = home.credentials_path();
    assert!(
        printed.contains(&path.display().to_string()),
        "says where: {printed}"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let mut whoami = home.tokio_command(&app.base);
    whoami.arg("whoami");
    let ran = run(whoami, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("cli <cli@example.com>"),
        "{}",
        ran.stdout
    );

    let saved = home.saved(&app.base).unwrap();
    let mut logout = home.tokio_command(&app.base);
    logout.arg("logout");
    let ran = run(logout, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("Signed out"), "{}", ran.stdout);
    assert!(home.saved(&app.base).is_none(), "credentials removed");
    // The session is over on the server too: its token no longer works.
    let r = app
        .get(saved["access_token"].as_str().unwrap(), "/api/auth/me")
        .await;
    assert_eq!(r.status(), 401);

    let mut whoami = home.tokio_command(&app.base);
    whoami.arg("whoami");
    let ran = run(whoami, None).await;
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stderr.trim().lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("not signed in"), "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_login_exits_non_zero_with_a_clear_message() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let (mut child, code, _out) = start_login(&home, &app.base).await;
    let approver = app.register("no@example.com").await;
    decide(
        &app,
        approver["access_token"].as_str().unwrap(),
        "deny",
        &code,
    )
    .await;
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert!(err.contains("sign-in was denied"), "{err}");
    assert!(home.saved(&app.base).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_login_exits_non_zero_with_a_clear_message() {
    let app = sluice_testkit::TestApp::spawn_with(sluice_testkit::Options {
        configure: Box::new(|c| {
            c.device.code_ttl_secs = 1;
            c.device.poll_interval_secs = 2;
        }),
        ..Default::default()
    })
    .await;
    let home = Home::new();
    let mut cmd = home.tokio_command(&app.base);
    cmd.arg("login").arg("--no-browser");
    let ran = run(cmd, None).await;
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("the code expired"), "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_refreshed_on_its_own_and_a_revoked_session_says_so() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let mut tokens = app.register("refresh@example.com").await;
    let first_refresh = tokens["refresh_token"].clone();
    // An access token that no longer works (as after 15 minutes).
    tokens["access_token"] = Value::from("expired.token.here");
    home.sign_in(&app.base, &tokens);

    let mut whoami = home.tokio_command(&app.base);
    whoami.arg("whoami");
    let ran = run(whoami, None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("refresh@example.com"));
    let saved = home.saved(&app.base).unwrap();
    assert_ne!(
        saved["refresh_token"], first_refresh,
        "the rotated token was saved"
    );

    // Revoke every session on the server: the CLI says what to do, in one line.
    sqlx::query("UPDATE sessions SET revoked_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let mut whoami = home.tokio_command(&app.base);
    whoami.arg("whoami");
    let ran = run(whoami, None).await;
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stderr.trim().lines().count(), 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("session has ended") && ran.stderr.contains("sluice login"),
        "{}",
        ran.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_comes_from_the_flag_the_environment_or_the_config_file() {
    let app = stack(2, 8).await;
    let home = Home::new();
    let tokens = app.register("where@example.com").await;
    home.sign_in(&app.base, &tokens);
    let config = home.dir.join("config/sluice/config.toml");
    std::fs::write(&config, format!("server = \"{}\"\n", app.base)).unwrap();
    let whoami = |setup: &dyn Fn(&mut tokio::process::Command)| {
        let mut cmd = home.tokio_command("http://127.0.0.1:9");
        setup(&mut cmd);
        cmd.arg("whoami");
        run(cmd, None)
    };
    // The config file, when neither flag nor environment names a server.
    let ran = whoami(&|c| {
        c.env_remove("SLUICE_SERVER");
    })
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // The environment beats the file; the flag beats both.
    let ran = whoami(&|_| {}).await;
    assert!(ran.stderr.contains("http://127.0.0.1:9"), "{}", ran.stderr);
    let ran = whoami(&|c| {
        c.args(["--server", &app.base]);
    })
    .await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // A broken file is named in the error.
    std::fs::write(&config, "server = [").unwrap();
    let ran = whoami(&|_| {}).await;
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("config.toml"), "{}", ran.stderr);
}
