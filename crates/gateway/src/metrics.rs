//! The gateway's metrics: OpenTelemetry instruments exposed as Prometheus
//! text at `GET /metrics`, the same way a node exposes its own.
//!
//! Per-recipe families are labelled by recipe name, bounded by
//! [`crate::metrics_labels::NAMED_LABELS_MAX`] names per kind. What the
//! gateway can see is what it measures:
//! - lock wait: from an acquire request to its grant (granted requests only);
//! - lock hold: from a grant to its release, when both go through this gateway
//!   (a grant ended by its lease, or released elsewhere, is not observed);
//! - queue depth and in-flight claims: set whenever this gateway reads a
//!   queue's statistics (`GET /v1/queues/{name}/stats`), so they are as fresh
//!   as the last stats call;
//! - dead letters: items this gateway dead-lettered (a nack on the last attempt);
//! - SSE subscribers: streams open now, by kind (`watch`, `config`, `election`);
//! - HTTP requests and latency by route template, method and status.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, MeterProvider, UpDownCounter};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, TextEncoder};

use crate::metrics_labels::BoundedLabels;

/// Histogram bounds (seconds) for lock wait and hold times.
pub const LOCK_BUCKETS_SECONDS: [f64; 15] =
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 3_600.0];
/// Histogram bounds (seconds) for HTTP request latency.
pub const HTTP_BUCKETS_SECONDS: [f64; 13] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0];
/// Grants whose start is remembered for the hold-time histogram; past this
/// the oldest is forgotten (grants whose lease ended are never released here).
pub const TRACKED_GRANTS_MAX: usize = 10_000;

/// Every metric family the gateway exports (the docs list each).
pub const FAMILIES: [&str; 8] = [
    "herald_gateway_lock_wait_seconds",
    "herald_gateway_lock_hold_seconds",
    "herald_gateway_queue_depth",
    "herald_gateway_queue_inflight_claims",
    "herald_gateway_queue_dead_letters_total",
    "herald_gateway_sse_subscribers",
    "herald_gateway_http_requests_total",
    "herald_gateway_http_request_duration_seconds",
];

/// The kinds of Server-Sent Event streams, the `kind` label of `herald_gateway_sse_subscribers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseKind {
    Watch,
    Config,
    Election,
}

impl SseKind {
    pub const ALL: [SseKind; 3] = [SseKind::Watch, SseKind::Config, SseKind::Election];

    pub fn as_str(self) -> &'static str {
        match self {
            SseKind::Watch => "watch",
            SseKind::Config => "config",
            SseKind::Election => "election",
        }
    }
}

pub struct GatewayMetrics {
    /// Kept alive: dropping it would stop collection.
    _provider: SdkMeterProvider,
    registry: prometheus::Registry,
    lock_wait: Histogram<f64>,
    lock_hold: Histogram<f64>,
    queue_depth: Gauge<u64>,
    queue_inflight_claims: Gauge<u64>,
    queue_dead_letters: Counter<u64>,
    sse_subscribers: UpDownCounter<i64>,
    http_requests: Counter<u64>,
    http_duration: Histogram<f64>,
    locks: BoundedLabels,
    queues: BoundedLabels,
    /// (lock name, fencing token) → when this gateway granted it.
    grants: Mutex<HashMap<(String, i64), Instant>>,
}

impl std::fmt::Debug for GatewayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayMetrics").finish_non_exhaustive()
    }
}

impl Default for GatewayMetrics {
    fn default() -> GatewayMetrics {
        GatewayMetrics::new()
    }
}

impl GatewayMetrics {
    pub fn new() -> GatewayMetrics {
        let registry = prometheus::Registry::new();
        let builder = SdkMeterProvider::builder();
        let builder = match opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .without_counter_suffixes()
            .without_target_info()
            .scope_info_enabled(false)
            .build()
        {
            Ok(exporter) => builder.with_reader(exporter),
            Err(error) => {
                tracing::warn!(%error, "prometheus exporter unavailable; /metrics will be empty");
                builder
            }
        };
        let provider = builder.build();
        let meter = provider.meter("herald-gateway");
        let histogram = |name: &'static str, description: &'static str, bounds: &[f64]| {
            meter
                .f64_histogram(name)
                .with_description(description)
                .with_boundaries(bounds.to_vec())
                .build()
        };
        let sse_subscribers = meter
            .i64_up_down_counter("herald_gateway_sse_subscribers")
            .with_description("Server-Sent Event streams open now, by kind")
            .build();
        // Every kind shows up at 0 from the start, so dashboards see the series.
        for kind in SseKind::ALL {
            sse_subscribers.add(0, &[KeyValue::new("kind", kind.as_str())]);
        }
        GatewayMetrics {
            lock_wait: histogram(
                "herald_gateway_lock_wait_seconds",
                "Seconds from a lock acquire request to its grant",
                &LOCK_BUCKETS_SECONDS,
            ),
            lock_hold: histogram(
                "herald_gateway_lock_hold_seconds",
                "Seconds from a lock grant to its release through this gateway",
                &LOCK_BUCKETS_SECONDS,
            ),
            queue_depth: meter
                .u64_gauge("herald_gateway_queue_depth")
                .with_description("Live items of a queue (claimed or not) at its last stats read")
                .build(),
            queue_inflight_claims: meter
                .u64_gauge("herald_gateway_queue_inflight_claims")
                .with_description("Claimed, unsettled items of a queue at its last stats read")
                .build(),
            queue_dead_letters: meter
                .u64_counter("herald_gateway_queue_dead_letters_total")
                .with_description("Items this gateway moved to a queue's dead letters")
                .build(),
            sse_subscribers,
            http_requests: meter
                .u64_counter("herald_gateway_http_requests_total")
                .with_description("HTTP requests answered, by route, method and status")
                .build(),
            http_duration: histogram(
                "herald_gateway_http_request_duration_seconds",
                "Seconds from a request's arrival to its response head",
                &HTTP_BUCKETS_SECONDS,
            ),
            locks: BoundedLabels::default(),
            queues: BoundedLabels::default(),
            grants: Mutex::new(HashMap::new()),
            _provider: provider,
            registry,
        }
    }

    fn lock_label(&self, lock: &str) -> [KeyValue; 1] {
        [KeyValue::new("lock", self.locks.label(lock).to_string())]
    }

    fn queue_label(&self, queue: &str) -> [KeyValue; 1] {
        [KeyValue::new("queue", self.queues.label(queue).to_string())]
    }

    /// `lock` was granted with `token` after waiting `waited`.
    pub fn lock_granted(&self, lock: &str, token: i64, waited: Duration) {
        self.lock_wait.record(waited.as_secs_f64(), &self.lock_label(lock));
        let mut grants = self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if grants.len() >= TRACKED_GRANTS_MAX
            && let Some(oldest) =
                grants.iter().min_by_key(|(_, granted)| **granted).map(|(key, _)| key.clone())
        {
            grants.remove(&oldest);
        }
        grants.insert((lock.to_string(), token), Instant::now());
    }

    /// The grant `token` of `lock` was released through this gateway.
    pub fn lock_released(&self, lock: &str, token: i64) {
        let granted = {
            let mut grants = self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            grants.remove(&(lock.to_string(), token))
        };
        if let Some(granted) = granted {
            self.lock_hold.record(granted.elapsed().as_secs_f64(), &self.lock_label(lock));
        }
    }

    /// Grants whose start this gateway remembers (for tests of the bound).
    pub fn tracked_grants(&self) -> usize {
        self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    /// The gateway read `queue`'s statistics.
    pub fn queue_stats(&self, queue: &str, depth: u64, in_flight: u64) {
        let label = self.queue_label(queue);
        self.queue_depth.record(depth, &label);
        self.queue_inflight_claims.record(in_flight, &label);
    }

    /// A nack through this gateway dead-lettered an item of `queue`.
    pub fn dead_lettered(&self, queue: &str) {
        self.queue_dead_letters.add(1, &self.queue_label(queue));
    }

    /// `stream`, counted in `herald_gateway_sse_subscribers` until it is dropped
    /// (axum drops it when the client goes away).
    pub fn sse_stream<S: Stream>(
        &self,
        kind: SseKind,
        stream: S,
    ) -> impl Stream<Item = S::Item> + use<S> {
        let subscribed = SseSubscribed::new(self.sse_subscribers.clone(), kind);
        stream.map(move |item| {
            let _held = &subscribed;
            item
        })
    }

    /// One answered HTTP request.
    pub fn http_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let labels = [
            KeyValue::new("route", route.to_string()),
            KeyValue::new("method", method.to_string()),
            KeyValue::new("status", i64::from(status)),
        ];
        self.http_requests.add(1, &labels);
        self.http_duration.record(elapsed.as_secs_f64(), &labels);
    }

    /// Everything, in the Prometheus text format.
    pub fn prometheus_text(&self) -> String {
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

/// One open SSE stream: +1 on creation, -1 on drop.
struct SseSubscribed {
    gauge: UpDownCounter<i64>,
    kind: SseKind,
}

impl SseSubscribed {
    fn new(gauge: UpDownCounter<i64>, kind: SseKind) -> SseSubscribed {
        gauge.add(1, &[KeyValue::new("kind", kind.as_str())]);
        SseSubscribed { gauge, kind }
    }
}

impl Drop for SseSubscribed {
    fn drop(&mut self) {
        self.gauge.add(-1, &[KeyValue::new("kind", self.kind.as_str())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_family_is_exported_once_used() {
        let metrics = GatewayMetrics::new();
        metrics.lock_granted("l", 1, Duration::from_millis(2));
        metrics.lock_released("l", 1);
        metrics.queue_stats("q", 3, 1);
        metrics.dead_lettered("q");
        metrics.http_request("/metrics", "GET", 200, Duration::from_millis(1));
        let text = metrics.prometheus_text();
        for family in FAMILIES {
            assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
        }
        assert!(text.contains("herald_gateway_queue_depth{queue=\"q\"} 3"), "{text}");
        assert!(text.contains("herald_gateway_sse_subscribers{kind=\"config\"} 0"), "{text}");
    }

    #[test]
    fn the_oldest_grant_is_forgotten_at_the_tracking_bound() {
        let metrics = GatewayMetrics::new();
        for token in 0..TRACKED_GRANTS_MAX as i64 {
            metrics.lock_granted("busy", token, Duration::ZERO);
        }
        assert_eq!(metrics.tracked_grants(), TRACKED_GRANTS_MAX);
        metrics.lock_granted("busy", TRACKED_GRANTS_MAX as i64, Duration::ZERO);
        assert_eq!(metrics.tracked_grants(), TRACKED_GRANTS_MAX);
        // Releasing the newest grant still observes its hold time.
        metrics.lock_released("busy", TRACKED_GRANTS_MAX as i64);
        assert_eq!(metrics.tracked_grants(), TRACKED_GRANTS_MAX - 1);
        let text = metrics.prometheus_text();
        assert!(text.contains("herald_gateway_lock_hold_seconds_count{lock=\"busy\"} 1"), "{text}");
    }
}
