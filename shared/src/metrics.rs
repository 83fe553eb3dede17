//! Prometheus metrics: `GET /metrics` in the text format, on a listen address of its own
//! (`metrics_listen` for the API, `worker.metrics_listen` for each worker; off unless set, so
//! the public port never shows them).
//!
//! Each API or worker has its own `Metrics` rather than the `metrics` crate's global recorder:
//! tests run an API and a worker (and many stacks) in one process, and each must count only
//! its own. Handles for fixed label sets are registered once (`counter` etc. return cheap
//! atomics); label sets known only at run time register on use.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Histogram buckets in seconds: from a millisecond (relay and queue overheads) to two minutes
/// (a long answer).
const SECONDS_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

/// What the process samples just before each scrape (the API reads queue depth from Postgres).
pub type Sampler = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&SECONDS_BUCKETS)
            .expect("histogram buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            inner: Arc::new(Inner { recorder, handle }),
        }
    }

    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.inner
            .recorder
            .register_counter(&key(name, labels), &meta())
    }

    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.inner
            .recorder
            .register_gauge(&key(name, labels), &meta())
    }

    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.inner
            .recorder
            .register_histogram(&key(name, labels), &meta())
    }

    /// The `# HELP` line of a metric.
    pub fn describe(&self, name: &'static str, help: &'static str) {
        // The kind only picks where the recorder files the text; every kind shares it.
        self.inner.recorder.describe_counter(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
    }

    /// Every metric in Prometheus' text format.
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }

    /// `GET /metrics`, running `sample` first.
    pub fn router(&self, sample: Option<Sampler>) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || async move {
                if let Some(sample) = sample {
                    sample().await;
                }
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics.render(),
                )
                    .into_response()
            }),
        )
    }

    /// Binds `addr` (failing at start, not later, when it is taken) and serves `/metrics`
    /// there until `shutdown`.
    pub async fn serve(
        &self,
        addr: SocketAddr,
        sample: Option<Sampler>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let listener = TcpListener::bind(addr).await?;
        tracing::info!(addr = %listener.local_addr()?, "metrics listening");
        let app = self.router(sample);
        Ok(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "metrics server stopped");
            }
        }))
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect();
    Key::from_parts(name, labels)
}

fn meta() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_count_apart_and_render_prometheus_text() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.describe("sluice_things_total", "Things.");
        a.counter("sluice_things_total", &[("kind", "x")])
            .increment(2);
        a.counter("sluice_things_total", &[("kind", "x")])
            .increment(1);
        a.histogram("sluice_wait_seconds", &[]).record(0.003);
        let text = a.render();
        assert!(
            text.contains("# HELP sluice_things_total Things."),
            "{text}"
        );
        assert!(text.contains("sluice_things_total{kind=\"x\"} 3"), "{text}");
        assert!(
            text.contains("sluice_wait_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(!b.render().contains("sluice_things_total"));
    }
}
