//! Logs and traces. Logs go to stderr: `RUST_LOG` filters (default `info`); `log_format` picks
//! human lines (`text`) or one JSON object per line (`json`), for log collectors.
//!
//! Traces: with `otel_endpoint` set, every span is exported over OTLP (HTTP/protobuf), and one
//! answer is one trace: the API's request span, the worker's `chat_job` and each
//! `provider_call` are linked by the W3C `traceparent`, which travels in the job's payload, in
//! the provider request's headers and in the headers of the answer's NATS messages.

use std::collections::HashMap;

use opentelemetry::{propagation::TextMapPropagator, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Registry, fmt::MakeWriter, layer::SubscriberExt};

use crate::config::LogFormat;

/// Keeps the trace exporter running; dropping it sends the spans not yet exported.
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs logging, and trace export to `otel_endpoint` (an OTLP/HTTP collector such as
/// `http://127.0.0.1:4318/v1/traces`) when set, naming this process `service`.
pub fn init(format: LogFormat, otel_endpoint: Option<&str>, service: &'static str) -> Telemetry {
    let provider = otel_endpoint.and_then(|endpoint| match tracer_provider(endpoint, service) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("{service}: traces are off: {e}");
            None
        }
    });
    let tracer = provider.as_ref().map(|p| p.tracer(service));
    // `set_global_default` fails when one is set: tests start many servers in one process, and
    // only the first installs it.
    let _ = tracing::subscriber::set_global_default(subscriber(format, std::io::stderr, tracer));
    Telemetry(provider)
}

fn tracer_provider(endpoint: &str, service: &'static str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The subscriber `init` installs, writing logs to `writer` and spans to `tracer` if given.
pub fn subscriber<W>(
    format: LogFormat,
    writer: W,
    tracer: Option<opentelemetry_sdk::trace::Tracer>,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,async_nats=warn"));
    let (text, json) = match format {
        LogFormat::Text => (
            Some(tracing_subscriber::fmt::layer().with_writer(writer)),
            None,
        ),
        // Span fields (message, conversation and request ids) go on every line.
        LogFormat::Json => {
            let json = tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(writer);
            (None, Some(json))
        }
    };
    let traces = tracer.map(|t| tracing_opentelemetry::layer().with_tracer(t));
    Box::new(
        Registry::default()
            .with(filter)
            .with(text)
            .with(json)
            .with(traces),
    )
}

/// The current span's place in its trace, as a W3C `traceparent`; `None` when traces are off.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `traceparent` names (from a request, a job or a message).
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let _ = span.set_parent(TraceContextPropagator::new().extract(&carrier));
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
        let subscriber = subscriber(LogFormat::Json, move || out.clone(), None);
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
