//! The NATS connection and the one JetStream stream all token events live in.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::Duration,
};

use async_nats::jetstream::{self, stream};
use tokio::sync::watch;

use crate::{Config, subjects::Subjects};

/// The longest wait between two attempts to reconnect. The client library's default backoff
/// doubles up to 4 s, so a 1 s outage could leave a process disconnected for 2 s more after the
/// server is back; the servers here are few, and an attempt against a down server costs a
/// refused connection.
const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(250);

/// Connects to NATS, retrying the initial connect for a few seconds (start-up order).
pub async fn connect(config: &Config) -> anyhow::Result<async_nats::Client> {
    Ok(connect_watching(config, metrics::Counter::noop()).await?.0)
}

/// `connect`, counting each connection made again after a loss in `reconnects`, with a
/// receiver of that count. Its owners act on a reconnect at once, where the client library
/// takes seconds to notice: the live feed's consumer (in the server's memory, gone if it
/// restarted) is reopened, and acks of publishes sent on the lost connection are not waited
/// for (they never come).
pub async fn connect_watching(
    config: &Config,
    reconnects: metrics::Counter,
) -> anyhow::Result<(async_nats::Client, watch::Receiver<u64>)> {
    let (reconnected, watch) = watch::channel(0u64);
    // The client says `Connected` at its first connection too.
    let first = Arc::new(AtomicBool::new(true));
    let client = async_nats::ConnectOptions::new()
        .name("sluice")
        .event_callback(move |event| {
            let (first, reconnects, reconnected) =
                (first.clone(), reconnects.clone(), reconnected.clone());
            async move {
                if matches!(event, async_nats::Event::Connected) && !first.swap(false, Relaxed) {
                    reconnects.increment(1);
                    reconnected.send_modify(|n| *n += 1);
                }
            }
        })
        .reconnect_delay_callback(reconnect_delay)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .custom_inbox_prefix(Subjects::new(&config.nats_prefix).inbox_prefix())
        .connect(&config.nats_url)
        .await?;
    Ok((client, watch))
}

/// Runs a NATS request, and runs it again whenever the connection is made again while it
/// waits. A request sent on a connection that is then lost, or while there is none, is never
/// answered: the client library waits out its whole timeout (5 s for JetStream's API, 10 s for
/// a plain request), and whatever waits on it (a stream's replay, the API's live feed) stalls
/// that long after a NATS restart. `reconnected` is `connect_watching`'s receiver.
pub async fn asked_again_on_reconnect<T, Fut>(
    reconnected: &watch::Receiver<u64>,
    mut request: impl FnMut() -> Fut,
) -> T
where
    Fut: std::future::Future<Output = T>,
{
    let mut reconnected = reconnected.clone();
    loop {
        reconnected.borrow_and_update();
        tokio::select! {
            answer = request() => return answer,
            Ok(()) = reconnected.changed() => continue,
        }
    }
}

/// At once, then 50 ms more per failed attempt, up to `MAX_RECONNECT_DELAY`.
fn reconnect_delay(attempts: usize) -> Duration {
    let step = Duration::from_millis(50) * attempts.saturating_sub(1).min(1000) as u32;
    step.min(MAX_RECONNECT_DELAY)
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
        Err(_) => create(js, config).await,
    }
}

/// Creates the stream. The API and workers start together, so another process may win the
/// race; then its stream is ours too.
async fn create(
    js: &jetstream::Context,
    config: stream::Config,
) -> anyhow::Result<jetstream::stream::Stream> {
    match js.create_stream(config.clone()).await {
        Ok(stream) => Ok(stream),
        Err(create_error) => match js.get_stream(&config.name).await {
            Ok(stream) => Ok(stream),
            Err(_) => Err(create_error.into()),
        },
    }
}

/// The JetStream stream of durable streams (`/v1/stream/…`), created if missing: nothing
/// expires by age — a durable stream's data lives until the stream is deleted or expires
/// (then the API purges its subject).
pub async fn ensure_durable_stream(
    js: &jetstream::Context,
    subjects: &Subjects,
) -> anyhow::Result<jetstream::stream::Stream> {
    let config = stream::Config {
        name: subjects.durable_stream_name(),
        subjects: vec![subjects.durable_filter()],
        storage: stream::StorageType::File,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    };
    match js.get_stream(&config.name).await {
        Ok(stream) => Ok(stream),
        Err(_) => create(js, config).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_are_tried_at_once_then_at_most_a_quarter_second_apart() {
        let delays: Vec<_> = (1..=8).map(|a| reconnect_delay(a).as_millis()).collect();
        assert_eq!(delays, [0, 50, 100, 150, 200, 250, 250, 250]);
        assert_eq!(reconnect_delay(usize::MAX), MAX_RECONNECT_DELAY);
    }
}
