//! Every failure a user can cause ends as one clear line on stderr and a non-zero exit code —
//! never a panic or a backtrace.

use std::fmt;

/// A failure, in words for the person at the terminal.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    /// 1 for failures; 2 for usage errors; 130 when interrupted.
    pub exit_code: i32,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Network failures, said the way a user can act on them.
impl From<reqwest::Error> for CliError {
    fn from(e: reqwest::Error) -> Self {
        let what = match e.url() {
            Some(url) => format!("{}://{}", url.scheme(), url.authority()),
            None => "the server".into(),
        };
        if e.is_connect() {
            Self::new(format!(
                "cannot reach {what}: is the server running, and is --server / SLUICE_SERVER right?"
            ))
        } else if e.is_timeout() {
            Self::new(format!("{what} did not answer in time"))
        } else if e.is_decode() {
            Self::new(format!(
                "{what} answered with something that is not the Sluice API: check the server URL"
            ))
        } else {
            Self::new(format!("talking to {what} failed: {}", root_cause(&e)))
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::new(format!("I/O error: {e}"))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
