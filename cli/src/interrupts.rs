//! Ctrl-C, listened for from start-up rather than per answer: a press between sending a
//! message and its first event is not lost, and no press ever kills the CLI mid-answer (the
//! answer is cancelled on the server instead). At the REPL prompt the terminal is in raw mode,
//! so Ctrl-C there is a key for the line editor, not a signal.

use futures::FutureExt;

use crate::error::{CliError, CliResult};

pub struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(windows)]
    signal: tokio::signal::windows::CtrlC,
}

impl Interrupts {
    pub fn listen() -> CliResult<Self> {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_c();
        let signal = signal.map_err(|e| CliError::new(format!("cannot watch Ctrl-C: {e}")))?;
        Ok(Self { signal })
    }

    /// Forgets presses from before now (they belonged to an earlier answer).
    pub fn clear(&mut self) {
        while let Some(Some(())) = self.signal.recv().now_or_never() {}
    }

    /// The next press.
    pub async fn pressed(&mut self) {
        self.signal.recv().await;
    }
}
