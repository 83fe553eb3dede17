//! What the API counts, served on `metrics_listen` (`sluice_shared::metrics`): requests by
//! route and status with their latency, open event streams, token events relayed, time to first
//! token and to the whole answer as clients receive them, and the queue's depth, read from
//! Postgres at each scrape.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use metrics::{Counter, Gauge, Histogram};
use sluice_shared::{
    metrics::{Metrics, Sampler},
    queue,
};
use sqlx::PgPool;

use crate::{state::AppState, stream::Relayed};

pub struct ApiMetrics {
    pub registry: Metrics,
    sse_streams_open: Gauge,
    token_events_relayed: Counter,
    first_token: Histogram,
    whole_answer: Histogram,
}

impl ApiMetrics {
    pub fn new() -> Arc<Self> {
        let registry = Metrics::new();
        for (name, help) in [
            (
                "sluice_http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            (
                "sluice_http_request_duration_seconds",
                "Time to the response's headers (for event streams, to the stream's start).",
            ),
            (
                "sluice_sse_streams_open",
                "Server-Sent Event responses open now.",
            ),
            (
                "sluice_token_events_relayed_total",
                "Token events relayed to clients.",
            ),
            (
                "sluice_time_to_first_token_seconds",
                "From a new answer's enqueue to its first token relayed to a client.",
            ),
            (
                "sluice_answer_duration_seconds",
                "From a new answer's enqueue to its end relayed to a client.",
            ),
            (
                "sluice_queue_due_jobs",
                "Jobs due in the queue that no worker has taken.",
            ),
            (
                "sluice_nats_reconnects_total",
                "Connections to NATS made again after a loss.",
            ),
            (
                "sluice_postgres_connections_opened_total",
                "Connections to Postgres opened (the pool's first, then reconnects).",
            ),
            (
                "sluice_queue_oldest_due_age_seconds",
                "How long the oldest due job has waited for a worker.",
            ),
        ] {
            registry.describe(name, help);
        }
        Arc::new(Self {
            sse_streams_open: registry.gauge("sluice_sse_streams_open", &[]),
            token_events_relayed: registry.counter("sluice_token_events_relayed_total", &[]),
            first_token: registry.histogram("sluice_time_to_first_token_seconds", &[]),
            whole_answer: registry.histogram("sluice_answer_duration_seconds", &[]),
            registry,
        })
    }

    /// Counts a stream open for as long as the returned guard lives.
    pub fn stream_opened(self: &Arc<Self>) -> OpenStream {
        self.sse_streams_open.increment(1.0);
        OpenStream(self.clone())
    }

    /// Counts an answer's relayed token events; for an answer relayed from before its first
    /// token (`fresh`), also times its first token and its end from `enqueued`.
    pub fn observe_answer(
        self: &Arc<Self>,
        events: impl Stream<Item = Relayed> + Send + 'static,
        fresh: bool,
        enqueued: DateTime<Utc>,
    ) -> impl Stream<Item = Relayed> + Send + 'static {
        let metrics = self.clone();
        let mut first_token_seen = false;
        events.inspect(move |relayed| {
            let since_enqueue = || (Utc::now() - enqueued).as_seconds_f64().max(0.0);
            if relayed.kind() == "token" {
                metrics.token_events_relayed.increment(1);
                if fresh && !first_token_seen {
                    first_token_seen = true;
                    metrics.first_token.record(since_enqueue());
                }
            } else if fresh && relayed.is_terminal() {
                metrics.whole_answer.record(since_enqueue());
            }
        })
    }

    /// Before each scrape: the queue's depth, from Postgres (a second at most).
    pub fn sampler(self: &Arc<Self>, pool: PgPool) -> Sampler {
        let due = self.registry.gauge("sluice_queue_due_jobs", &[]);
        let oldest = self
            .registry
            .gauge("sluice_queue_oldest_due_age_seconds", &[]);
        Arc::new(move || {
            let (pool, due, oldest) = (pool.clone(), due.clone(), oldest.clone());
            Box::pin(async move {
                let read =
                    tokio::time::timeout(std::time::Duration::from_secs(1), queue::depth(&pool))
                        .await;
                if let Ok(Ok((jobs, age))) = read {
                    due.set(jobs as f64);
                    oldest.set(age);
                }
            })
        })
    }
}

/// One open event stream, counted until dropped.
pub struct OpenStream(Arc<ApiMetrics>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.sse_streams_open.decrement(1.0);
    }
}

/// Counts and times every request by its route (the pattern, never the raw path: ids would
/// make a series per conversation).
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_string();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let registry = &state.metrics.registry;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route.as_str()), ("method", method.as_str())];
    registry
        .histogram("sluice_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    registry
        .counter(
            "sluice_http_requests_total",
            &[labels[0], labels[1], ("status", status.as_str())],
        )
        .increment(1);
    response
}
