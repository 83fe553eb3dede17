//! The NATS connection and the one JetStream stream all token events live in.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::Duration,
};

use async_nats::jetstream::{self, stream};

use crate::{Config, subjects::Subjects};

/// Connects to NATS, retrying the initial connect for a few seconds (start-up order).
pub async fn connect(config: &Config) -> anyhow::Result<async_nats::Client> {
    connect_counting(config, metrics::Counter::noop()).await
}

/// `connect`, counting each connection made again after a loss in `reconnects`.
pub async fn connect_counting(
    config: &Config,
    reconnects: metrics::Counter,
) -> anyhow::Result<async_nats::Client> {
    // The client says `Connected` at its first connection too.
    let first = Arc::new(AtomicBool::new(true));
    let client = async_nats::ConnectOptions::new()
        .name("sluice")
        .event_callback(move |event| {
            let (first, reconnects) = (first.clone(), reconnects.clone());
            async move {
                if matches!(event, async_nats::Event::Connected) && !first.swap(false, Relaxed) {
                    reconnects.increment(1);
                }
            }
        })
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .custom_inbox_prefix(Subjects::new(&config.nats_prefix).inbox_prefix())
        .connect(&config.nats_url)
        .await?;
    Ok(client)
}

/// Creates (or updates) the events stream. `allow_direct` makes Direct Get available, which is
/// how finished messages are replayed without creating consumers; `duplicate_window` lets a
/// retried publish with the same `Nats-Msg-Id` be dropped by the server.
pub async fn ensure_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
    max_age: Duration,
) -> anyhow::Result<jetstream::stream::Stream> {
    let config = stream::Config {
        name: subjects.stream_name(),
        subjects: vec![subjects.stream_filter()],
        max_age,
        storage: stream::StorageType::File,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    match js.get_stream(&config.name).await {
        Ok(mut existing) => {
            let info = existing.info().await?;
            if info.config.max_age != max_age || !info.config.allow_direct {
                js.update_stream(config.clone()).await?;
            }
            Ok(js.get_stream(&config.name).await?)
        }
        // Absent: create it. The API and workers start together, so another process may win
        // the race; then its stream is ours too.
        Err(_) => match js.create_stream(config.clone()).await {
            Ok(stream) => Ok(stream),
            Err(create_error) => match js.get_stream(&config.name).await {
                Ok(stream) => Ok(stream),
                Err(_) => Err(create_error.into()),
            },
        },
    }
}
