//! `sluice provider-keys`: a key piped in is saved and shown by its last 4 characters only,
//! listed, disabled, enabled and removed; a bad key or provider is one clear line and a
//! non-zero exit, and the key is never printed.

use crate::support::{Home, run, stack};

const KEY: &str = "sk-cli-own-key-0123456789-LMNO";

#[tokio::test(flavor = "multi_thread")]
async fn provider_keys_are_added_from_stdin_listed_toggled_and_removed() {
    let app = stack(1, 4).await;
    let home = Home::new();
    let tokens = app.register("cli-byok@example.com").await;
    home.sign_in(&app.base, &tokens);
    let sluice = |args: &[&str]| {
        let mut cmd = home.tokio_command(&app.base);
        cmd.arg("provider-keys").args(args);
        cmd
    };

    let ran = run(sluice(&["list"]), None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("No provider keys"), "{}", ran.stdout);

    let ran = run(sluice(&["add", "openai"]), Some(&format!("{KEY}\n"))).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout.contains("openai") && ran.stdout.contains("…LMNO"),
        "{}",
        ran.stdout
    );
    assert!(!format!("{}{}", ran.stdout, ran.stderr).contains("0123456789"));
    let token = tokens["access_token"].as_str().unwrap();
    let stored = app.get_json(token, "/api/provider-keys").await;
    assert_eq!(stored["items"][0]["last4"], "LMNO");

    let ran = run(sluice(&["disable", "openai"]), None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("disabled"), "{}", ran.stdout);
    let ran = run(sluice(&["enable", "openai"]), None).await;
    assert!(ran.stdout.contains("in use"), "{}", ran.stdout);
    let ran = run(sluice(&["list"]), None).await;
    assert!(
        ran.stdout.starts_with("openai") && ran.stdout.contains("fails if refused"),
        "{}",
        ran.stdout
    );

    let ran = run(sluice(&["rm", "openai"]), None).await;
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let stored = app.get_json(token, "/api/provider-keys").await;
    assert_eq!(stored["items"], serde_json::json!([]));
    let ran = run(sluice(&["rm", "openai"]), None).await;
    assert_eq!(ran.code, 1);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);

    // Bad input: one line each, nothing stored, the key never echoed.
    let ran = run(sluice(&["add", "openai"]), Some("has a space 12345\n")).await;
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("visible ASCII") && !ran.stderr.contains("12345"),
        "{}",
        ran.stderr
    );
    let ran = run(sluice(&["add", "openai"]), Some("")).await;
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("no key given"), "{}", ran.stderr);
    let ran = run(sluice(&["add", "mistral"]), Some(&format!("{KEY}\n"))).await;
    assert_eq!(ran.code, 2, "a usage error");
    assert!(
        ran.stderr.contains("openai"),
        "names the choices: {}",
        ran.stderr
    );
    let stored = app.get_json(token, "/api/provider-keys").await;
    assert_eq!(stored["items"], serde_json::json!([]));
}
