//! Logging on stderr: `RUST_LOG` filters (default `info`); `log_format` picks human lines
//! (`text`) or one JSON object per line (`json`), for log collectors.

use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    // `set_global_default` fails when one is set: tests start many servers in one process, and
    // only the first installs it.
    let _ = tracing::subscriber::set_global_default(subscriber(format, std::io::stderr));
}

/// The subscriber `init` installs, writing to `writer`.
pub fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,async_nats=warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(fmt.finish()),
        // Span fields (message, conversation and request ids) go on every line.
        LogFormat::Json => Box::new(fmt.json().with_current_span(true).finish()),
    }
}

/// The header carrying the request id from the API into the job and NATS messages.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Cancels `token` on Ctrl-C or SIGTERM: the one shutdown signal of API and worker.
pub async fn cancel_on_signal(token: tokio_util::sync::CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
    token.cancel();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_the_span_fields() {
        let lines = Lines::default();
        let out = lines.clone();
        let subscriber = subscriber(LogFormat::Json, move || out.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("chat_job", message_id = "m-1", request_id = "r-9");
            let _entered = span.enter();
            tracing::info!(attempt = 2, "answer stored");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "answer stored");
        assert_eq!(line["fields"]["attempt"], 2);
        assert_eq!(line["span"]["message_id"], "m-1");
        assert_eq!(line["span"]["request_id"], "r-9");
    }
}
