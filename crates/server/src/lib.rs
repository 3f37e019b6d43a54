//! # hush-server
//!
//! The Axum server of Hush. Map of the crate:
//! - [`config`]: the one configuration struct (flags and `HUSH_*` variables).
//! - [`state`]: [`AppState`], built from the configuration: stores, SMS, tokens, clock.
//! - [`api`]: HTTP handlers, one module per endpoint family, and typed-error extractors.
//! - [`service`]: the rules — sign-in, friendships, devices, links, delivery.
//! - [`tokens`]: access and refresh tokens and sign-in codes; [`secret`]: the server key.
//! - [`store`]: one trait per aggregate and the embedded SQLite backend.
//! - [`sms`]: the console and Twilio providers.
//! - [`error`]: [`AppError`], rendered as the stable JSON error body.
//! - [`open_sockets`]: the WebSockets being served, which shutdown waits for.
//! - [`ws`]: the WebSocket endpoint — connection tasks; [`hub`]: reaching users' live
//!   connections (on this node, or on every node through Redis).
//! - [`check_config`]: `--check-config`, the configuration and backends checked without serving.
//! - [`web`]: static serving of the web app.
//! - [`http_policy`]: CORS and HSTS; [`metrics`]: the counters (`api::metrics` serves them); [`backup`]: `--backup-to`.
//!
//! [`app`] builds the router, so tests run the whole server in-process on a real socket;
//! `main.rs` only parses the configuration and calls [`run`].

pub mod api;
pub mod backup;
pub mod check_config;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod error;
pub mod http_policy;
pub mod hub;
pub mod id_text;
pub mod maps;
pub mod metrics;
pub mod open_sockets;
pub mod push;
pub mod secret;
pub mod service;
pub mod sms;
pub mod state;
pub mod store;
pub mod tokens;
pub mod web;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::middleware;
use axum::response::IntoResponse;
use hush_shared::ErrorCode;
use hush_shared::limits::MAX_JSON_BODY_BYTES;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use state::AppState;

use crate::error::AppError;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    let mut router = Router::new()
        .nest("/api/v1", api::v1().merge(ws::router()))
        .merge(api::health::router())
        .merge(api::metrics::router())
        .method_not_allowed_fallback(api::method_not_allowed);
    router = match web::WebSource::from_config(&state.config) {
        Some(source) => router.merge(web::router(source)),
        None => router.fallback(api::not_found),
    };
    router
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), api::metrics::observe_http))
        .layer(http_policy::cors(&state.config))
        .layer(middleware::from_fn_with_state(state.clone(), http_policy::hsts))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    // One log line per answered request (method, route, request id, status,
                    // latency): the route's template, not the path, so no user, device or
                    // link id lands in the log, nor the query string (it may carry a phone
                    // number).
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request<_>| {
                            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                            let route = logged_route(request);
                            tracing::info_span!("request", method = %request.method(), route = %route, request_id = %id)
                        })
                        .on_response(
                            DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Micros),
                        ),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
                    AppError::internal("handler panicked").into_response()
                }))
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    AppError::new(ErrorCode::Timeout, "the request took too long")
                }))
                .timeout(timeout),
        )
        .with_state(state)
}

/// What a request log line names: the matched route's template (`/api/v1/users/{user_id}`);
/// for an API path no route matched, only that; for the web app's files, the path.
fn logged_route<B>(request: &Request<B>) -> String {
    match request.extensions().get::<axum::extract::MatchedPath>() {
        Some(matched) => matched.as_str().to_owned(),
        None if request.uri().path().starts_with("/api/") => "(no API route)".to_owned(),
        None => request.uri().path().to_owned(),
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let flusher = tokio::spawn(flush_forever(state.stores.mailbox.clone()));
    let pinger = tokio::spawn(ping_forever(state.hub.clone(), state.config.ws_ping_secs));
    let pusher = state.push.take_jobs().map(|jobs| tokio::spawn(service::notify::run(state.clone(), jobs)));
    let mailbox = state.stores.mailbox.clone();
    let hub = state.hub.clone();
    let sockets = state.sockets.clone();
    // No Nagle: frames are small and latency matters (with Nagle and delayed ACKs, a reply
    // could wait ~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Upgraded WebSockets are not tracked by axum: tell them to close (1001).
            hub.close_all();
        })
        .await;
    // Let the sockets finish their close handshakes (bounded: each waits at most 2 s for
    // its client's close frame).
    if tokio::time::timeout(SOCKETS_CLOSE_GRACE, sockets.all_closed()).await.is_err() {
        tracing::warn!(open = sockets.count(), "shutting down with WebSockets still closing");
    }
    sweeper.abort();
    flusher.abort();
    pinger.abort();
    if let Some(pusher) = pusher {
        pusher.abort();
    }
    if let Err(e) = mailbox.flush().await {
        tracing::warn!(error = %e, "writing deferred acks failed; those messages and receipts come again");
    }
    result
}

/// How long shutdown waits for WebSockets to finish closing.
const SOCKETS_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Every [`store::SETTLED_FLUSH_INTERVAL`], writes what the mailbox store deferred that
/// waits on nothing any more, so each write stays small and an ack waits well under
/// [`store::MAX_DEFERRAL`] when no other write comes.
async fn flush_forever(mailbox: std::sync::Arc<dyn store::MailboxStore>) {
    let mut tick = tokio::time::interval(store::SETTLED_FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = mailbox.flush_settled().await {
            tracing::warn!(error = %e, "writing deferred acks and pending sends failed; retrying");
        }
    }
}

/// Turns the ping wheel: every second, the connections of the next of `ping_secs` slots
/// (by connection id) are told a ping is due, so each is pinged every `ping_secs` seconds
/// and the pings of many connections are spread over the interval.
async fn ping_forever(hub: std::sync::Arc<dyn hub::Hub>, ping_secs: u64) {
    let slots = ping_secs.max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    for turn in 0u64.. {
        tick.tick().await;
        hub.ping_slot(turn % slots, slots);
    }
}

/// Expires old mailbox messages every `HUSH_SWEEP_INTERVAL_SECS`.
async fn sweep_forever(state: AppState) {
    let every = Duration::from_secs(state.config.sweep_interval_secs.max(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = service::delivery::sweep_expired(&state).await {
            tracing::warn!(error = %e, "mailbox expiry sweep failed");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

/// Asks the server on `bind` (wildcard addresses mean this host) whether it is ready.
pub async fn probe(bind: SocketAddr) -> std::process::ExitCode {
    let host = if bind.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bind.ip().to_string() };
    let url = format!("http://{}/readyz", SocketAddr::new(host.parse().unwrap_or(bind.ip()), bind.port()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(3)).build();
    let ready = match client {
        Ok(client) => client.get(&url).send().await.map(|r| r.status().is_success()).unwrap_or(false),
        Err(_) => false,
    };
    if ready { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}

/// Connections the kernel queues for `accept` (it caps this at `net.core.somaxconn`).
/// Tokio's default of 1,024 overflowed when a thousand clients reconnected at once (after a
/// restart, say): the dropped handshakes were retried a second later (BENCHMARKS.md, storm).
const ACCEPT_BACKLOG: u32 = 8192;

/// Binds the listening socket with [`ACCEPT_BACKLOG`].
fn listen(bind: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if bind.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(bind)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Starts the server from a configuration: opens stores, binds, prints the URL, serves.
pub async fn run(config: config::Config) -> Result<(), Box<dyn std::error::Error>> {
    let bind = config.bind;
    let state = AppState::from_config(config).await?;
    let listener = listen(bind)?;
    let local = listener.local_addr()?;
    let origin = state.config.public_origin.clone().unwrap_or_else(|| format!("http://{local}"));
    let web = web::WebSource::from_config(&state.config);
    let web_app = web.as_ref().map_or_else(|| "none (API only)".to_owned(), web::WebSource::describe);
    tracing::info!(
        address = %local,
        sms = ?state.config.sms_provider,
        data_dir = %state.config.data_dir.display(),
        web_app,
        threads = state.config.serving_threads(),
        "hush-server listening"
    );
    if web.is_some() {
        println!("Hush is running at {origin}  (open it in your browser; Ctrl-C stops it)");
    } else {
        println!(
            "Hush's API is running at {origin}  (no web app: set HUSH_WEB_DIR or build with --features embed-web; Ctrl-C stops it)"
        );
    }
    serve(listener, state, shutdown_signal()).await?;
    Ok(())
}
