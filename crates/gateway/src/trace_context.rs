//! W3C trace context: a request's span (and so every span of the recipe
//! work under it) joins the caller's trace when the request carries
//! `traceparent` (and optionally `tracestate`). Without an OpenTelemetry
//! layer installed, the parent is simply not recorded.

use axum::http::{HeaderMap, Request};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of one HTTP request (debug level, target `gateway`), child of the
/// caller's trace if it sent one.
pub fn request_span<B>(request: &Request<B>) -> Span {
    let span = tracing::debug_span!(
        target: "gateway",
        "http_request",
        method = %request.method(),
        uri = %request.uri(),
    );
    if !span.is_disabled() && request.headers().contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
        // Fails only when no OpenTelemetry layer is installed: nothing to link then.
        let _ = span.set_parent(parent);
    }
    span
}

/// The span of one recipe operation (e.g. `lock.acquire` on lock `name`);
/// opened inside a request, it is a child of the request span.
pub fn recipe_span(operation: &'static str, name: &str) -> Span {
    tracing::debug_span!(target: "gateway", "recipe", operation, name)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
