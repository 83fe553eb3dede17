//! The web app in a person's steps, for the browser tests: sign up, send, read the answer on
//! screen, open the settings. Every wait has a deadline (`Chrome::wait_until`).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{TestApp, webdriver::Chrome};

/// The password every browser test signs up with.
pub const WEB_PASSWORD: &str = "a long enough password";

/// Enter, as WebDriver types it.
pub const ENTER: &str = "\u{E007}";

pub struct ChatPage<'a> {
    pub chrome: &'a Chrome,
}

impl ChatPage<'_> {
    /// Opens the app and creates an account; returns once the chat is ready.
    pub async fn sign_up(&self, app: &TestApp, email: &str) {
        self.chrome.goto(&app.url("/")).await;
        self.chrome.click("#signin-toggle").await;
        self.sign_in(email).await;
    }

    /// Fills in the sign-in form on screen.
    pub async fn sign_in(&self, email: &str) {
        self.chrome.type_into("#email", email).await;
        self.chrome.type_into("#password", WEB_PASSWORD).await;
        self.chrome.click("#signin-submit").await;
        self.chrome.wait_for_element("#composer").await;
    }

    /// Types `text` and presses Enter; returns once its answer is on screen.
    pub async fn send(&self, text: &str) {
        let before = self.count(".msg.assistant").await;
        self.chrome
            .type_into("#composer", &format!("{text}{ENTER}"))
            .await;
        // Its own answer, not one already on screen.
        self.chrome
            .wait_until("the answer to appear", || async {
                self.count(".msg.assistant").await > before
            })
            .await;
    }

    /// The text of the newest answer, as shown.
    pub async fn answer_text(&self) -> String {
        let script = "const all = document.querySelectorAll('.msg.assistant .text'); \
                      return all.length ? all[all.length - 1].textContent : '';";
        self.string(script).await
    }

    /// `queued`, `streaming`, `done`, `cancelled` or `error`, for the newest answer.
    pub async fn answer_status(&self) -> String {
        let script = "const all = document.querySelectorAll('.msg.assistant'); \
                      return all.length ? all[all.length - 1].dataset.status : '';";
        self.string(script).await
    }

    pub async fn wait_answer_starts(&self) {
        self.chrome
            .wait_until("the answer to start", || async {
                !self.answer_text().await.is_empty()
            })
            .await;
    }

    pub async fn wait_answer_ends(&self) {
        self.chrome
            .wait_until("the answer to end", || async {
                ["done", "cancelled", "error"].contains(&self.answer_status().await.as_str())
            })
            .await;
    }

    /// The conversation the page shows (from its `/c/{id}` URL).
    pub async fn conversation_id(&self) -> Uuid {
        let path = self.string("return location.pathname;").await;
        path.trim_start_matches("/c/").parse().expect("/c/{id}")
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> u64 {
        let script = "return document.querySelectorAll(arguments[0]).length;";
        self.chrome
            .js(script, vec![json!(css)])
            .await
            .as_u64()
            .unwrap_or(0)
    }

    pub async fn open_settings(&self) {
        self.chrome.click("#settings-link").await;
        self.chrome.wait_for_element("#settings").await;
    }

    /// Content-Security-Policy violations the page saw (the app records them).
    pub async fn csp_violations(&self) -> Value {
        self.chrome
            .js("return window.sluiceCspViolations;", vec![])
            .await
    }

    /// Uncaught errors and rejected promises the page saw (the app records them).
    pub async fn uncaught_errors(&self) -> Value {
        self.chrome.js("return window.sluiceErrors;", vec![]).await
    }

    async fn string(&self, script: &str) -> String {
        let value = self.chrome.js(script, vec![]).await;
        value.as_str().unwrap_or_default().to_string()
    }
}

/// Compares text on screen with stored text word by word (layout adds and folds white space).
pub fn assert_same_words(shown: &str, stored: &str, what: &str) {
    let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(shown), words(stored), "{what}");
}

/// The stored answers of a conversation, oldest first: (content, status).
pub async fn stored_answers(app: &TestApp, conversation: Uuid) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT content, status FROM messages WHERE conversation_id = $1 AND role = 'assistant'
         ORDER BY created_at",
    )
    .bind(conversation)
    .fetch_all(&app.pool)
    .await
    .expect("stored answers")
}
