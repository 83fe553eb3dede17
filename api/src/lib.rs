//! sluice-api: the HTTP API. It never calls a model: it enqueues chat jobs and relays the
//! workers' NATS events to clients as Server-Sent Events.
#![forbid(unsafe_code)]

mod admin;
pub mod auth;
pub mod cli;
mod client_ip;
pub mod conversations;
mod cursor;
pub mod durable_streams;
pub mod error;
mod export;
mod extract;
pub mod files;
pub mod groups;
mod health;
mod html;
mod import;
pub mod limits;
pub mod messages;
mod metrics;
mod middleware;
mod models;
mod openapi;
pub mod provider_keys;
mod search;
mod socket_io;
pub mod state;
pub mod stream;
mod upload;
mod usage;
mod v1;
mod validate;
pub mod web;
mod ws;

use std::{sync::Arc, time::Duration};

use async_nats::jetstream;
use axum::serve::ListenerExt;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Request, header},
};
use sluice_shared::{
    Config, batch::Batcher, db, nats, subjects::Subjects, telemetry::REQUEST_ID_HEADER,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{auth::tokens::JwtKeys, state::AppState, stream::hub::Hub};

/// Connects to Postgres and NATS and builds the state (the stream is created if missing).
pub async fn connect(config: Arc<Config>, shutdown: CancellationToken) -> anyhow::Result<AppState> {
    let metrics = metrics::ApiMetrics::new();
    let opened = (metrics.registry).counter("sluice_postgres_connections_opened_total", &[]);
    let pool = db::connect_counting(&config, opened).await?;
    let reconnects = (metrics.registry).counter("sluice_nats_reconnects_total", &[]);
    let (nats_client, reconnected) = nats::connect_watching(&config, reconnects).await?;
    let js = jetstream::new(nats_client.clone());
    let subjects = Subjects::new(&config.nats_prefix);
    let events = nats::ensure_stream(
        &js,
        &subjects,
        Duration::from_secs(config.stream_max_age_secs),
    )
    .await?;
    auth::roles::grant_configured_admins(&pool, &config.admin_emails).await?;
    let hub = Hub::start(
        events.clone(),
        subjects.stream_filter(),
        reconnected.clone(),
        shutdown.clone(),
    )
    .await?;
    let durable = durable_streams::DurableStreams::start(
        &config,
        &nats_client,
        &subjects,
        &reconnected,
        &shutdown,
    )
    .await?;
    Ok(AppState {
        hub,
        nats_reconnected: reconnected,
        auth_limiter: auth::rate_limit::limiter(config.auth_rate_per_minute, config.auth_burst),
        login_limiter: auth::rate_limit::account_limiter(config.login_attempts_per_account),
        enqueues: Batcher::start(messages::enqueue::InsertPairs(db::dedicated(&pool))),
        live_sessions: Batcher::start(auth::extractor::LiveSessions(db::dedicated(&pool))),
        pool,
        nats: nats_client,
        js,
        events,
        subjects,
        jwt: Arc::new(JwtKeys::new(&config)),
        // Talks to GitHub/Google; no redirects, so a token endpoint cannot bounce us elsewhere.
        oauth_http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()?,
        metrics,
        saturation: Default::default(),
        master_keys: sluice_shared::envelope::MasterKeys::from_config(&config.secrets)?
            .map(Arc::new),
        files: sluice_shared::files::store(&config.files)?,
        durable: Arc::new(durable),
        file_cleanup: Default::default(),
        config,
        shutdown,
    })
}

/// Every route, merged in one place, with the request-wide layers.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    // Browsers that reached Sluice over https never try plain http again.
    let hsts = state.config.public_url.starts_with("https://").then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        )
    });
    let routes = openapi::collector()
        .merge(health::router())
        .merge(auth::router(&state))
        .merge(admin::router(&state))
        .merge(chat_routes(&state))
        .merge(durable_streams::router())
        .merge(web::router());
    openapi::finish(routes)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track_requests,
        ))
        .fallback(web::fallback)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::body::guard,
        ))
        .layer(axum::middleware::from_fn(middleware::error_shape::json_errors))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower::util::option_layer(hsts))
        // Socket.IO speaks its own protocol (and errors) on /socket.io/, inside the request id
        // and trace layers; every other request passes on.
        .layer(socket_io::layer(state.clone()))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
            let id = header(REQUEST_ID_HEADER).unwrap_or("-");
            let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id);
            // A client that sends its own `traceparent` gets the answer in its trace.
            sluice_shared::telemetry::continue_trace(&span, header("traceparent"));
            span
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        // Outermost: a preflight is answered before any other layer sees it.
        .layer(tower::util::option_layer(middleware::cors::layer(
            &state.config.cors,
        )))
        // Before it: durable streams' own CORS, for every origin (no credentials).
        .layer(axum::middleware::from_fn(durable_streams::cors::layer))
        .with_state(state)
}

/// The routes that chat, read or change conversations: each needs the `chat` permission.
fn chat_routes(state: &AppState) -> utoipa_axum::router::OpenApiRouter<AppState> {
    let mut routes = utoipa_axum::router::OpenApiRouter::new()
        .merge(auth::keys::router())
        .merge(provider_keys::router())
        .merge(limits::router())
        .merge(usage::router())
        .merge(conversations::router())
        .merge(groups::router())
        .merge(search::router())
        .merge(export::router())
        .merge(import::router())
        .merge(files::router())
        .merge(messages::router())
        .merge(stream::router())
        .merge(ws::router())
        .merge(models::router())
        .merge(v1::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::roles::require_chat,
        ));
    openapi::common_responses::add_needs_chat(routes.get_openapi_mut());
    routes
}

/// Serves on `listener` until `shutdown` fires; open SSE responses then end cleanly.
pub async fn run(
    config: Arc<Config>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let state = connect(config, shutdown.clone()).await?;
    files::cleanup::spawn(state.clone());
    durable_streams::sweep::spawn(state.clone());
    if let Some(addr) = state.config.metrics_listen {
        let sample = state.metrics.sampler(state.pool.clone());
        state
            .metrics
            .registry
            .serve(addr, Some(sample), shutdown.clone())
            .await?;
    }
    tracing::info!(addr = %listener.local_addr()?, "api listening");
    // Tokens are tiny writes: without TCP_NODELAY, Nagle + delayed ACK hold each ~40 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Connect info: the client address shown in the session list.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    tracing::info!("api stopped");
    Ok(())
}
