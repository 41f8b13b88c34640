//! Herald's REST gateway: a ZooKeeper client of the ensemble (Herald's or Apache
//! ZooKeeper's) that offers leases, raw znodes and coordination recipes as JSON over HTTP.
//!
//! Module map:
//! - [`config`]: the one configuration struct and its limits.
//! - [`state`]: `AppState`, the state every handler (and every recipe router) shares.
//! - [`error`]: `ApiError`, the single `application/problem+json` error response.
//! - [`problems`]: turns axum's and tower's own error responses into problem documents.
//! - [`auth`]: bearer tokens → ZooKeeper digest identities.
//! - [`sessions`]: the shared per-identity ZooKeeper sessions.
//! - [`leases`]: leases = ZooKeeper sessions, resumable from their id anywhere.
//! - [`grants`]: the contender node of each lock grant made here, so a release deletes it
//!   directly instead of searching the lock for the token (bounded; a miss searches).
//! - [`metrics`]: the per-recipe and HTTP metrics; [`metrics_labels`] bounds their
//!   label values; [`metrics_http`] counts requests and serves `GET /metrics`.
//! - [`trace_context`]: request spans that join the caller's W3C trace.
//! - [`lease_marker`]: a lease's deadline and keeper, shared by all gateway replicas;
//!   [`lease_handover`] moves a lease between replicas without their clients fighting
//!   over its session's connection, one take-over at a time per lease ([`keyed_lock`]).
//! - [`services`]: the route groups (`leases`, `znodes`, `lock`, …) a process may serve
//!   itself (`only`) or forward (`routes`); [`forward`] is that reverse proxy.
//! - [`routes`]: one module per resource, each with its own `router()`, mounted in
//!   [`routes::api_router`].
//! - [`app`] wires routes, OpenAPI (`/openapi.json`, docs at `/docs`) and the tower layers
//!   (request ids, body limit, timeout, auth).
//! - [`serve`] serves it over plain HTTP; [`https`] over TLS (`serve_tls`).

pub mod auth;
pub mod config;
pub mod error;
pub mod forward;
pub mod grants;
pub mod https;
pub mod keyed_lock;
pub mod lease_handover;
pub mod lease_marker;
pub mod leases;
pub mod metrics;
pub mod metrics_http;
pub mod metrics_labels;
pub mod problems;
pub mod routes;
pub mod services;
pub mod sessions;
pub mod state;
pub mod trace_context;

use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

pub use config::{DigestIdentity, GatewayConfig};
pub use error::{ApiError, Problem};
pub use https::serve_tls;
pub use state::AppState;

/// Header carrying the request id (set if the caller did not send one, echoed back).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The whole gateway as a router: tests drive it with `oneshot`, binaries serve it.
pub fn app(state: AppState) -> Router {
    let (api, mut openapi) = routes::api_router(&state).split_for_parts();
    routes::document_wildcards(&mut openapi);
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let body_bytes_max = state.config().body_bytes_max;
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .route(metrics_http::METRICS_PATH, axum::routing::get(metrics_http::metrics))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no-route", "no such endpoint").into_response()
        })
        .layer(axum::middleware::map_response(problems::problems_only))
        .layer(axum::extract::DefaultBodyLimit::max(body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics_http::track_requests))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(trace_context::request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
