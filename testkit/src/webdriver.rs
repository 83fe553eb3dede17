//! A headless Chromium driven over W3C WebDriver (Debian's `chromium` + `chromium-driver`),
//! spoken directly with reqwest: the handful of commands the web app's tests need, and
//! `wait_until` for conditions with a deadline. Screenshots go to `target/screenshots/`.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use base64::Engine;
use serde_json::{Value, json};

use crate::services::free_port;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Chrome {
    http: reqwest::Client,
    base: String,
    driver: Child,
    /// The browser's own profile folder, removed when it closes.
    profile: PathBuf,
}

impl Chrome {
    /// Starts chromedriver and a headless Chromium window of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver; scripts/test does)");
        let http = reqwest::Client::new();
        let server = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while http.get(format!("{server}/status")).send().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("sluice-chrome-{port}"));
        // The flags a closed-network, root-run CI needs (see STACK-NOTES, "Browsers").
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = json!({ "binary": "/usr/bin/chromium", "args": args });
        // Headless windows are at least 500 px wide; narrower screens are emulated, as a phone.
        if width < 500 {
            options["mobileEmulation"] = json!({ "deviceMetrics": {
                "width": width, "height": height, "pixelRatio": 1.0, "touch": true,
            }});
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // The page's console, for tests that a page logs no errors.
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let r: Value = http
            .post(format!("{server}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"));
        Self {
            http,
            base: format!("{server}/session/{session}"),
            driver,
            profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r: Value = request
            .send()
            .await
            .expect("WebDriver")
            .json()
            .await
            .expect("JSON");
        r["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn reload(&self) {
        self.command(reqwest::Method::POST, "/refresh", Some(json!({})))
            .await;
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        let body = json!({ "script": script, "args": args });
        self.command(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    async fn element(&self, css: &str) -> Option<String> {
        let body = json!({ "using": "css selector", "value": css });
        let found = self
            .command(reqwest::Method::POST, "/element", Some(body))
            .await;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Waits for `css` to match, then clicks it.
    pub async fn click(&self, css: &str) {
        let id = self.wait_for_element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types into `css` as a person would (`\u{E007}` is Enter).
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_for_element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn wait_for_element(&self, css: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(id) = self.element(css).await {
                return id;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 30 s for {css} to appear"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text content of the first match of `css` ("" if none).
    pub async fn text(&self, css: &str) -> String {
        let script =
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
        self.js(script, vec![json!(css)])
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Opens a second tab of the same browser (same cookies) and switches to it; returns the
    /// handle of the tab it left.
    pub async fn open_tab(&self) -> String {
        let left = self.command(reqwest::Method::GET, "/window", None).await;
        let opened = self
            .command(
                reqwest::Method::POST,
                "/window/new",
                Some(json!({ "type": "tab" })),
            )
            .await;
        self.switch_to(opened["handle"].as_str().expect("a new tab"))
            .await;
        left.as_str().expect("a window handle").to_string()
    }

    pub async fn current_tab(&self) -> String {
        let handle = self.command(reqwest::Method::GET, "/window", None).await;
        handle.as_str().expect("a window handle").to_string()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.command(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": handle })),
        )
        .await;
    }

    /// Presses Tab and returns what has the focus then (`#id`, or the tag and text).
    pub async fn tab(&self) -> String {
        let key = |kind| json!({ "type": kind, "value": "\u{E004}" });
        let actions = json!({ "actions": [{
            "type": "key", "id": "keyboard",
            "actions": [key("keyDown"), key("keyUp")],
        }]});
        self.command(reqwest::Method::POST, "/actions", Some(actions))
            .await;
        let focused = "const e = document.activeElement; \
                       return e.id ? '#' + e.id : e.tagName.toLowerCase() + ':' + e.textContent;";
        self.js(focused, vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Makes the page see `prefers-color-scheme: dark` (Chrome DevTools, through chromedriver).
    pub async fn prefer_dark(&self) {
        let body = json!({
            "cmd": "Emulation.setEmulatedMedia",
            "params": { "features": [{ "name": "prefers-color-scheme", "value": "dark" }] },
        });
        self.command(reqwest::Method::POST, "/goog/cdp/execute", Some(body))
            .await;
    }

    /// Accepts the open `confirm`/`prompt` dialog.
    pub async fn accept_dialog(&self) {
        self.command(reqwest::Method::POST, "/alert/accept", Some(json!({})))
            .await;
    }

    /// The console's error lines since the last call (failed loads included).
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Dismisses the open dialog (Cancel).
    pub async fn dismiss_dialog(&self) {
        self.command(reqwest::Method::POST, "/alert/dismiss", Some(json!({})))
            .await;
    }

    /// Types `text` into the open `prompt` dialog and accepts it.
    pub async fn answer_prompt(&self, text: &str) {
        self.command(
            reqwest::Method::POST,
            "/alert/text",
            Some(json!({ "text": text })),
        )
        .await;
        self.accept_dialog().await;
    }

    /// The open `alert`/`confirm` dialog's text, if any.
    pub async fn dialog(&self) -> Option<String> {
        let v = self
            .command(reqwest::Method::GET, "/alert/text", None)
            .await;
        v.as_str().map(str::to_owned)
    }

    /// Polls `check` until it holds, for up to 30 s.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 30 s for {what}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a PNG of the window to `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64"))
            .expect("a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Chrome {
    /// Closes the browser (its session), then the driver.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // Ending the driver ends its browser.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
