//! Running the real `sluice` binary against a test stack: each test gets its own home and
//! config directory, the file credential store, and no display (so no browser opens).

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use sluice_testkit::{Options, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// How long any one `sluice` run may take before the test fails, showing what it printed.
const DEADLINE: Duration = Duration::from_secs(60);

pub const SLUICE: &str = env!("CARGO_BIN_EXE_sluice");

pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("sluice-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp home");
        Self { dir }
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join("config/sluice/credentials.json")
    }

    /// `sluice` with this home, talking to `server`.
    pub fn command(&self, server: &str) -> std::process::Command {
        let mut c = std::process::Command::new(SLUICE);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("SLUICE_SERVER", server)
            .env("SLUICE_CREDENTIAL_STORE", "file")
            .env("TERM", "xterm");
        c
    }

    /// The same, for tokio (tests share their runtime with the API they run).
    pub fn tokio_command(&self, server: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::from(self.command(server));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.kill_on_drop(true);
        c
    }

    /// Saves a sign-in the way `sluice login` would.
    pub fn sign_in(&self, server: &str, tokens: &Value) {
        let path = self.credentials_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let creds = json!({ server: {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "user": tokens["user"],
        }});
        std::fs::write(path, creds.to_string()).unwrap();
    }

    pub fn saved(&self, server: &str) -> Option<Value> {
        let text = std::fs::read_to_string(self.credentials_path()).ok()?;
        let all: Value = serde_json::from_str(&text).ok()?;
        all.get(server).cloned()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stack with the demo model streaming `tokens` tokens `pacing_ms` apart.
pub async fn stack(pacing_ms: u64, tokens: u32) -> TestApp {
    TestApp::spawn_with(Options {
        configure: Box::new(move |c| {
            c.demo.pacing_ms = pacing_ms;
            c.demo.reply_tokens = tokens;
            c.device.poll_interval_secs = 1;
        }),
        ..Options::default()
    })
    .await
}

/// The demo model's answer to `prompt` with `tokens` tokens.
pub fn demo_answer(prompt: &str, tokens: usize) -> String {
    let words: Vec<&str> = prompt.split_whitespace().collect();
    (0..tokens)
        .map(|i| format!("{}#{i}", words[i % words.len()]))
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Everything a pipe carries, collected as it arrives (so a hung process can still show it).
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn from(
        mut pipe: impl AsyncRead + Unpin + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let collected = Self::default();
        let sink = collected.clone();
        let reading = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                sink.0.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        (collected, reading)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `sluice` to its end (feeding it `stdin`). A run that outlasts `DEADLINE` is killed
/// and fails the test with what it printed so far.
pub async fn run(mut command: tokio::process::Command, stdin: Option<&str>) -> Ran {
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("run sluice");
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut pipe = child.stdin.take().unwrap();
        // A run refused on its arguments exits without reading its input: a broken pipe
        // here is its answer, not the test's failure.
        if let Err(e) = pipe.write_all(text.as_bytes()).await {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        drop(pipe);
    }
    let (stdout, out_done) = Collected::from(child.stdout.take().unwrap());
    let (stderr, err_done) = Collected::from(child.stderr.take().unwrap());
    let Ok(status) = tokio::time::timeout(DEADLINE, child.wait()).await else {
        let _ = child.kill().await;
        panic!(
            "sluice did not finish within {DEADLINE:?}\n--- stdout so far:\n{}\n--- stderr so far:\n{}",
            stdout.text(),
            stderr.text()
        );
    };
    let status = status.unwrap();
    let _ = tokio::join!(out_done, err_done);
    let ran = Ran {
        code: status.code().unwrap_or(-1),
        stdout: stdout.text(),
        stderr: stderr.text(),
    };
    assert!(
        !ran.stderr.contains("panicked") && !ran.stderr.contains("RUST_BACKTRACE"),
        "{}",
        ran.stderr
    );
    ran
}

/// Starts `sluice login`, returns the process and the user code it printed.
pub async fn start_login(
    home: &Home,
    server: &str,
) -> (
    tokio::process::Child,
    String,
    BufReader<tokio::process::ChildStdout>,
) {
    let mut cmd = home.tokio_command(server);
    cmd.arg("login").arg("--no-browser");
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let code = tokio::time::timeout(DEADLINE, async {
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).await.unwrap() == 0 {
                return None;
            }
            printed.push_str(&line);
            if let Some(code) = line.trim().strip_prefix("and enter the code") {
                return Some(code.trim().to_string());
            }
        }
    })
    .await;
    match code {
        Ok(Some(code)) => (child, code, out),
        Ok(None) => panic!("login ended without printing a code; it printed:\n{printed}"),
        Err(_) => panic!("login printed no code within {DEADLINE:?}; it printed:\n{printed}"),
    }
}

/// Everything the process prints after what was read already, until it closes its output
/// (within `DEADLINE`, or the test fails showing what came).
pub async fn rest(mut out: BufReader<tokio::process::ChildStdout>) -> String {
    let mut text = String::new();
    let read = tokio::time::timeout(DEADLINE, async {
        while out.read_line(&mut text).await.unwrap() > 0 {}
    })
    .await;
    assert!(
        read.is_ok(),
        "output still open after {DEADLINE:?}; so far:\n{text}"
    );
    text
}

/// Waits (30 s at most) for a started `sluice login` to exit: its status and what it printed.
pub async fn finish_login(
    mut child: tokio::process::Child,
    out: BufReader<tokio::process::ChildStdout>,
) -> (std::process::ExitStatus, String) {
    let Ok(status) = tokio::time::timeout(DEADLINE, child.wait()).await else {
        let _ = child.kill().await;
        panic!(
            "login did not finish within {DEADLINE:?}; it printed:\n{}",
            rest(out).await
        );
    };
    (status.unwrap(), rest(out).await)
}
