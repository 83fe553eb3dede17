//! What a worker counts, served on `worker.metrics_listen` (`sluice_shared::metrics`): answers
//! in flight, attempts by outcome, `reset`s, offers taken and declined, provider requests,
//! errors, retries and fail-overs, tokens generated, and reconnects to NATS and Postgres.

use std::sync::Arc;

use metrics::{Counter, Gauge};
use sluice_shared::metrics::Metrics;

pub struct WorkerMetrics {
    pub registry: Metrics,
    in_flight: Gauge,
    pub resets: Counter,
    pub offers_taken: Counter,
    pub offers_declined: Counter,
    pub failovers: Counter,
    pub nats_reconnects: Counter,
    pub postgres_connections: Counter,
}

impl WorkerMetrics {
    pub fn new() -> Arc<Self> {
        let registry = Metrics::new();
        for (name, help) in [
            (
                "sluice_answers_in_flight",
                "Answers this worker is generating now.",
            ),
            (
                "sluice_attempts_total",
                "Attempts this worker ran, by how they ended.",
            ),
            (
                "sluice_resets_total",
                "`reset` events: an answer started over.",
            ),
            (
                "sluice_offers_total",
                "Offers of new jobs, by whether this worker took them.",
            ),
            (
                "sluice_provider_requests_total",
                "Calls to a provider (retries not counted).",
            ),
            (
                "sluice_provider_errors_total",
                "Failed provider calls, by provider and code.",
            ),
            (
                "sluice_provider_retries_total",
                "Provider calls retried before their first token.",
            ),
            (
                "sluice_failovers_total",
                "Answers handed to a model's next deployment.",
            ),
            (
                "sluice_output_tokens_total",
                "Tokens generated, as providers report them.",
            ),
            (
                "sluice_nats_reconnects_total",
                "Connections to NATS made again after a loss.",
            ),
            (
                "sluice_postgres_connections_opened_total",
                "Connections to Postgres opened (the pool's first, then reconnects).",
            ),
        ] {
            registry.describe(name, help);
        }
        Arc::new(Self {
            in_flight: registry.gauge("sluice_answers_in_flight", &[]),
            resets: registry.counter("sluice_resets_total", &[]),
            offers_taken: registry.counter("sluice_offers_total", &[("decision", "taken")]),
            offers_declined: registry.counter("sluice_offers_total", &[("decision", "declined")]),
            failovers: registry.counter("sluice_failovers_total", &[]),
            nats_reconnects: registry.counter("sluice_nats_reconnects_total", &[]),
            postgres_connections: registry.counter("sluice_postgres_connections_opened_total", &[]),
            registry,
        })
    }

    /// Counts an answer in flight for as long as the returned guard lives.
    pub fn answer_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.increment(1.0);
        InFlight(self.clone())
    }

    /// `outcome`: `done`, `cancelled` or `error`.
    pub fn attempt_ended(&self, outcome: &str) {
        self.registry
            .counter("sluice_attempts_total", &[("outcome", outcome)])
            .increment(1);
    }

    pub fn provider_called(&self, provider: &str) {
        self.registry
            .counter("sluice_provider_requests_total", &[("provider", provider)])
            .increment(1);
    }

    pub fn provider_failed(&self, provider: &str, code: &str) {
        self.registry
            .counter(
                "sluice_provider_errors_total",
                &[("provider", provider), ("code", code)],
            )
            .increment(1);
    }

    pub fn provider_retries(&self, provider: &str) -> Counter {
        self.registry
            .counter("sluice_provider_retries_total", &[("provider", provider)])
    }

    pub fn tokens_generated(&self, provider: &str, tokens: u32) {
        self.registry
            .counter("sluice_output_tokens_total", &[("provider", provider)])
            .increment(u64::from(tokens));
    }
}

/// One answer in flight, counted until dropped.
pub struct InFlight(Arc<WorkerMetrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.decrement(1.0);
    }
}
