//! The Durable Streams protocol (`/v1/stream/…`) against its own conformance suite,
//! unmodified: `@durable-streams/server-conformance-tests` (pinned in
//! `testkit/clients/durable-streams/`, installed by `scripts/test`) run by vitest against the
//! real stack. The suite sends no credentials, so it talks to Sluice through a proxy that
//! signs each request in with an API key, as an app's backend would; Sluice itself has no
//! unauthenticated mode. Every test of the suite's default run must pass.

use std::{path::PathBuf, time::Duration};

use serde_json::Value;
use sluice_testkit::{TestApp, auth_proxy};

/// The suite's default run: every test but the six opt-in subscription tests.
const DEFAULT_RUN: u64 = 332;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_durable_streams_conformance_suite_passes() {
    // The suite waits for a long-poll timeout inside its 5 s test timeout.
    let app = TestApp::spawn_configured(|c| c.durable_streams.long_poll_timeout_ms = 500).await;
    let token = app.guest().await;
    let key = app.create_key(&token, "conformance").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let base = auth_proxy::start(&app.url(""), &key).await;

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/clients/durable-streams");
    assert!(
        dir.join("node_modules").exists(),
        "the conformance suite is not installed: run scripts/test (scripts/lib/clients.sh)"
    );
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let run = tokio::process::Command::new(dir.join("node_modules/.bin/vitest"))
        .args([
            "run",
            "--config",
            "vitest.config.mjs",
            "--reporter=default",
            "--reporter=json",
        ])
        .arg(format!("--outputFile.json={}", report.display()))
        .current_dir(&dir)
        .env("CONFORMANCE_TEST_URL", &base)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .expect("the suite ran over 10 minutes")
        .expect("vitest runs");
    let log = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap_or_else(|e| {
        panic!(
            "no report from vitest ({e}):\n{log}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    }))
    .expect("a JSON report");
    let failed: Vec<String> = report["testResults"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|file| {
            file["assertionResults"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|t| t["status"] == "failed")
        .map(|t| {
            let why = t["failureMessages"][0]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            format!("{} — {why}", t["fullName"].as_str().unwrap_or("?"))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of the suite's tests failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert_eq!(report["numPassedTests"], DEFAULT_RUN, "{log}");
    assert!(output.status.success(), "{log}");
}
