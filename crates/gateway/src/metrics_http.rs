//! The HTTP side of the gateway's metrics: the middleware that counts every
//! request by route template (never the raw path, whose names are unbounded),
//! and the `GET /metrics` handler.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The `route` label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Where the Prometheus text is served.
pub const METRICS_PATH: &str = "/metrics";

/// Counts the request and its latency to the response head.
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| route_label(matched.as_str()))
        .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    state.metrics().http_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// A route template as a label value: `{name}` becomes `:name` and `{*rest}`
/// becomes `*rest`, because some Prometheus text parsers cannot read braces
/// inside label values.
pub fn route_label(template: &str) -> String {
    template.replace("{*", "*").replace('{', ":").replace('}', "")
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], state.metrics().prometheus_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_become_brace_free_labels() {
        assert_eq!(route_label("/v1/znodes/{*path}"), "/v1/znodes/*path");
        assert_eq!(
            route_label("/v1/queues/{name}/claims/{receipt}/ack"),
            "/v1/queues/:name/claims/:receipt/ack"
        );
        assert_eq!(route_label("/metrics"), "/metrics");
    }
}
