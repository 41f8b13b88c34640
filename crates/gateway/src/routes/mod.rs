//! Route modules, one per resource, each exposing `router()`. Mounting a module is one
//! line below. Per-request timeouts apply to everything except long-polls and streams,
//! which carry their own bounds.

pub mod config;
pub mod elections;
pub mod health;
pub mod leases;
pub mod locks;
pub mod model;
pub mod queue;
pub mod watch;
pub mod znodes;

use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald gateway",
        description = "Leases, raw znodes, locks with fencing tokens and leader election over HTTP."
    ),
    components(schemas(crate::error::Problem, watch::WatchEvent, elections::LeaderView)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn api_router(state: &AppState) -> OpenApiRouter<AppState> {
    let timeout = state.config().request_timeout;
    let bounded = OpenApiRouter::new()
        .merge(leases::router())
        .merge(znodes::router())
        .merge(queue::router())
        .merge(config::router())
        .layer(timeout_layer(timeout));
    // Long-polls and streams bound themselves (`wait_ms` ≤ WAIT_MS_MAX, SSE until closed).
    let unbounded = OpenApiRouter::new()
        .merge(locks::router())
        .merge(elections::router())
        .merge(watch::router())
        .merge(queue::long_poll_router())
        .merge(config::stream_router());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(bounded)
        .merge(unbounded)
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::authenticate))
        .merge(health::router())
}

fn timeout_layer(timeout: Duration) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout)
}

/// axum spells a catch-all segment `{*path}`; OpenAPI knows only `{path}`.
pub fn document_wildcards(openapi: &mut utoipa::openapi::OpenApi) {
    let paths = std::mem::take(&mut openapi.paths.paths);
    openapi.paths.paths =
        paths.into_iter().map(|(path, item)| (path.replace("{*", "{"), item)).collect();
}
