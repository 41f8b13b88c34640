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

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::routing::any;

use axum::http::StatusCode;
use axum::middleware;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::forward::Upstream;
use crate::services::Service;
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

/// Every API route with its OpenAPI description. Services this process does not serve
/// are still documented (the API is the same whichever process answers); routed ones
/// are forwarded to their gateway, the rest answer 404.
pub fn api_router(state: &AppState) -> OpenApiRouter<AppState> {
    let timeout = state.config().request_timeout;
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi());
    for service in Service::ALL {
        let routes = service_router(service, timeout);
        if state.config().serves(service) {
            api = api.merge(routes);
        } else {
            api.get_openapi_mut().merge(routes.into_openapi());
            if let Some(route) = state.config().route_of(service) {
                api = api.merge(forwarding_router(service, Upstream::new(&route.upstream)));
            }
        }
    }
    api.layer(middleware::from_fn_with_state(state.clone(), crate::auth::authenticate))
        .merge(health::router())
}

/// The routes of one service. Plain requests get the per-request timeout; long-polls and
/// streams bound themselves (`wait_ms` ≤ WAIT_MS_MAX, SSE until closed).
fn service_router(service: Service, timeout: Duration) -> OpenApiRouter<AppState> {
    match service {
        Service::Leases => leases::router().layer(timeout_layer(timeout)),
        Service::Znodes => znodes::router().layer(timeout_layer(timeout)).merge(watch::router()),
        Service::Lock => locks::router(),
        Service::Election => elections::router(),
        Service::Queue => {
            queue::router().layer(timeout_layer(timeout)).merge(queue::long_poll_router())
        }
        Service::Config => {
            config::router().layer(timeout_layer(timeout)).merge(config::stream_router())
        }
    }
}

/// Every path under the service's prefixes, forwarded to `upstream`.
fn forwarding_router(service: Service, upstream: Arc<Upstream>) -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new();
    for prefix in service.path_prefixes() {
        for path in [prefix.to_string(), format!("{prefix}/{{*rest}}")] {
            let upstream = upstream.clone();
            router = router.route(
                &path,
                any(move |request: Request| async move { upstream.forward(request).await }),
            );
        }
    }
    router
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
