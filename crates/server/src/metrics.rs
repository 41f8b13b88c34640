//! The node's OpenTelemetry instruments and their Prometheus exposition.
//!
//! Gauges and counters are observable: their callbacks read [`ServerStats`]
//! only when `/metrics` is scraped, so the request path pays nothing for
//! them. Histograms (latency, fsync, election) are recorded as they happen.
//! Names are ZooKeeper's (its Prometheus provider's), unprefixed, so
//! existing dashboards keep working.

use std::sync::Weak;
use std::sync::atomic::Ordering;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, TextEncoder};

use crate::stats::{Mode, ServerStats};

/// Histogram bucket bounds in milliseconds for request latency and fsync time.
pub const LATENCY_BUCKETS_MS: [f64; 14] =
    [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 5_000.0];
/// Histogram bucket bounds in milliseconds for leader elections.
pub const ELECTION_BUCKETS_MS: [f64; 10] =
    [10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0, 30_000.0];

pub(crate) struct Metrics {
    /// Kept alive: dropping it would stop collection.
    _provider: SdkMeterProvider,
    registry: prometheus::Registry,
    pub(crate) request_latency_ms: Histogram<f64>,
    pub(crate) fsync_time_ms: Histogram<f64>,
    pub(crate) election_time_ms: Histogram<f64>,
}

type Read = fn(&ServerStats) -> u64;

/// Counters: (name, description, reader).
const COUNTERS: [(&str, &str, Read); 3] = [
    ("packets_received", "Packets received from clients", |s| {
        s.packets_received.load(Ordering::Relaxed)
    }),
    ("packets_sent", "Packets sent to clients", |s| s.packets_sent.load(Ordering::Relaxed)),
    ("connection_rejected", "Connections refused at the connection limit", |s| {
        s.connections_rejected.load(Ordering::Relaxed)
    }),
];

/// Gauges: (name, description, reader).
const GAUGES: [(&str, &str, Read); 15] = [
    ("znode_count", "Znodes in the tree", |s| s.tree.znode_count.load(Ordering::Relaxed)),
    ("watch_count", "Watches registered", |s| s.tree.watch_count.load(Ordering::Relaxed)),
    ("ephemerals_count", "Ephemeral znodes", |s| s.tree.ephemerals_count.load(Ordering::Relaxed)),
    ("approximate_data_size", "Bytes of znode data and paths", |s| {
        s.tree.approximate_data_size.load(Ordering::Relaxed)
    }),
    ("global_sessions", "Live sessions", |s| s.tree.global_sessions.load(Ordering::Relaxed)),
    ("outstanding_requests", "Requests received and not yet answered", |s| {
        s.outstanding_requests.load(Ordering::Relaxed).max(0) as u64
    }),
    ("num_alive_connections", "Open client connections", |s| s.alive_connections()),
    ("min_latency", "Smallest request latency in ms", |s| s.latency.min_ms()),
    ("max_latency", "Largest request latency in ms", |s| s.latency.max_ms()),
    ("quorum_size", "Voting members of the ensemble", |s| s.quorum_size.load(Ordering::Relaxed)),
    ("synced_followers", "Followers in sync with this leader", |s| {
        s.synced_followers.load(Ordering::Relaxed)
    }),
    ("pending_syncs", "Followers still syncing with this leader", |s| {
        s.pending_syncs.load(Ordering::Relaxed)
    }),
    ("uptime", "Milliseconds since the node started", |s| s.uptime().as_millis() as u64),
    ("last_zxid", "Zxid of the last applied txn", |s| {
        s.tree.last_zxid.load(Ordering::Relaxed) as u64
    }),
    ("ready", "1 when the node serves clients (standalone, or in a synced quorum)", |s| {
        s.is_ready() as u64
    }),
];

impl Metrics {
    pub(crate) fn new(stats: Weak<ServerStats>) -> Metrics {
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
        let meter = provider.meter("herald");
        register_observables(&meter, &stats);
        let histogram = |name: &'static str, description: &'static str, bounds: &[f64]| {
            meter
                .f64_histogram(name)
                .with_description(description)
                .with_boundaries(bounds.to_vec())
                .build()
        };
        Metrics {
            request_latency_ms: histogram(
                "request_latency",
                "Milliseconds from a request's arrival to its reply being written",
                &LATENCY_BUCKETS_MS,
            ),
            fsync_time_ms: histogram(
                "fsynctime",
                "Milliseconds per txn log fsync",
                &LATENCY_BUCKETS_MS,
            ),
            election_time_ms: histogram(
                "election_time",
                "Milliseconds from losing a leader to following or leading one",
                &ELECTION_BUCKETS_MS,
            ),
            _provider: provider,
            registry,
        }
    }

    pub(crate) fn prometheus_text(&self) -> String {
        let mut text = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

fn register_observables(meter: &Meter, stats: &Weak<ServerStats>) {
    for (name, description, read) in COUNTERS {
        let stats = stats.clone();
        meter
            .u64_observable_counter(name)
            .with_description(description)
            .with_callback(move |observer| {
                if let Some(stats) = stats.upgrade() {
                    observer.observe(read(&stats), &[]);
                }
            })
            .build();
    }
    for (name, description, read) in GAUGES {
        let stats = stats.clone();
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| {
                if let Some(stats) = stats.upgrade() {
                    observer.observe(read(&stats), &[]);
                }
            })
            .build();
    }
    let for_latency = stats.clone();
    meter
        .f64_observable_gauge("avg_latency")
        .with_description("Mean request latency in ms")
        .with_callback(move |observer| {
            if let Some(stats) = for_latency.upgrade() {
                observer.observe(stats.latency.avg_ms(), &[]);
            }
        })
        .build();
    let for_state = stats.clone();
    meter
        .u64_observable_gauge("server_state")
        .with_description("1 for the node's current state, 0 for the others")
        .with_callback(move |observer| {
            if let Some(stats) = for_state.upgrade() {
                let current = stats.mode();
                for mode in Mode::ALL {
                    observer.observe(
                        (mode == current) as u64,
                        &[KeyValue::new("state", mode.as_str())],
                    );
                }
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_exposition_names_zookeepers_metrics_and_follows_the_counters() {
        let stats = ServerStats::new();
        stats.set_mode(Mode::Leader);
        stats.packets_received.fetch_add(7, Ordering::Relaxed);
        stats.record_fsync(Duration::from_millis(3));
        let text = stats.prometheus_text();
        for name in ["znode_count", "num_alive_connections", "avg_latency", "fsynctime_bucket"] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.contains("packets_received 7"), "{text}");
        assert!(text.contains("server_state{state=\"leader\"} 1"), "{text}");
        assert!(text.contains("server_state{state=\"follower\"} 0"), "{text}");
        assert!(text.contains("fsynctime_count 1"), "{text}");
    }
}
