//! The admin HTTP port (ZooKeeper's AdminServer, default 8080).
//!
//! - `/commands` and `/commands/<name>`: AdminServer JSON ([`commands`]).
//! - `/metrics`: Prometheus text exposition of the node's metrics.
//! - `/healthz`: 200 while the process runs (liveness).
//! - `/readyz`: 200 while the node serves clients: standalone and listening,
//!   or in a quorum and synced (readiness); 503 otherwise.

pub mod commands;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::ServerConfig;
use crate::messages::Inbound;
use crate::stats::ServerStats;
use crate::status::NodeStatus;

/// Content type of the Prometheus text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct AdminState {
    stats: Arc<ServerStats>,
    config: Arc<ServerConfig>,
    /// For `watches`: only the processor knows who watches what.
    processor: mpsc::Sender<Inbound>,
}

pub(crate) fn router(
    stats: Arc<ServerStats>,
    config: Arc<ServerConfig>,
    processor: mpsc::Sender<Inbound>,
) -> Router {
    Router::new()
        .route("/commands", get(list_commands))
        .route("/commands/{name}", get(command))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(AdminState { stats, config, processor })
}

/// Serves the admin port on `socket` until `shutdown` flips.
pub(crate) async fn serve(
    socket: tokio::net::TcpListener,
    stats: Arc<ServerStats>,
    config: Arc<ServerConfig>,
    processor: mpsc::Sender<Inbound>,
    mut shutdown: watch::Receiver<bool>,
) {
    let address = socket.local_addr().ok();
    let served = axum::serve(socket, router(stats, config, processor))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await;
    if let Err(error) = served {
        tracing::warn!(?address, %error, "admin server stopped");
    }
}

async fn list_commands() -> Json<serde_json::Value> {
    let names: Vec<&str> = commands::COMMANDS.iter().map(|(name, _)| *name).collect();
    Json(json!({ "commands": names, "error": null }))
}

async fn command(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    let Some(canonical) = commands::canonical(&name) else {
        let body = json!({ "command": name, "error": format!("Unknown command: {name}") });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let mut node = NodeStatus::read(&state.stats, &state.config);
    if canonical == "watches" {
        let (reply, answer) = oneshot::channel();
        if state.processor.send(Inbound::WatchesBySession { reply }).await.is_ok()
            && let Ok(watches) = answer.await
        {
            node.session_watches =
                Some(watches.into_iter().map(|(session, paths)| (session.0, paths)).collect());
        }
    }
    // Reads the data directory's size for some commands: off the async threads.
    let config = state.config.clone();
    let outcome =
        tokio::task::spawn_blocking(move || commands::run(canonical, &node, &config)).await;
    match outcome {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(body)) => (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("command failed: {error}\n"))
            .into_response(),
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], state.stats.prometheus_text())
        .into_response()
}

async fn ready(State(state): State<AdminState>) -> Response {
    if state.stats.is_ready() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        let mode = state.stats.mode().as_str();
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {mode}\n")).into_response()
    }
}
