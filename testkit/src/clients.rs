//! The real-client matrix: unmodified third-party clients (the OpenAI SDKs, LangChain, LiteLLM,
//! the Vercel AI SDK, python-socketio), pinned in `testkit/clients/` and installed under
//! `target/clients/` by `scripts/test` (`scripts/lib/clients.sh`), run as subprocesses against a
//! live stack. Each script prints one JSON object.

use std::{path::PathBuf, time::Duration};

use serde_json::Value;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the repository")
        .to_path_buf()
}

const NOT_INSTALLED: &str = "the client matrix is not installed: run scripts/test, which installs \
    it, or: bash -c '. scripts/lib/setup.sh; . scripts/lib/clients.sh; ensure_clients'";

/// Runs `testkit/clients/python/{script}` with the pinned venv's Python.
pub async fn python(script: &str, args: &[&str], env: &[(&str, String)]) -> Value {
    let python = root().join("target/clients/venv/bin/python");
    assert!(python.exists(), "{NOT_INSTALLED}");
    let script = root().join("testkit/clients/python").join(script);
    run(python, script, args, env).await
}

/// Runs `{script}` (from `testkit/clients/node/`, copied beside its `node_modules`) with node.
pub async fn node(script: &str, args: &[&str], env: &[(&str, String)]) -> Value {
    let dir = root().join("target/clients/node");
    assert!(dir.join("node_modules").exists(), "{NOT_INSTALLED}");
    run(PathBuf::from("node"), dir.join(script), args, env).await
}

async fn run(program: PathBuf, script: PathBuf, args: &[&str], env: &[(&str, String)]) -> Value {
    let mut command = tokio::process::Command::new(&program);
    command
        .arg(&script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} ran over 120 s", script.display()))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        script.display(),
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{} {args:?} printed no JSON object ({e}):\nstdout: {stdout}\nstderr: {stderr}",
            script.display()
        )
    })
}
