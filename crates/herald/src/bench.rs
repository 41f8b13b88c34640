//! `herald bench`: a ZooKeeper-protocol load generator.
//!
//! It drives any ZooKeeper-compatible server (Herald or Apache ZooKeeper)
//! through the `zookeeper-client` crate, so both are measured with the same
//! client: `connections` sessions, each with `window` requests in flight
//! (pipelined on the session's one TCP connection). Latencies go into HDR
//! histograms; the summary is printed as text or JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use serde::Serialize;
use zookeeper_client::{Acls, Client, CreateMode};

/// Latencies recorded, in microseconds: 1 µs to one minute, 3 significant digits.
const LATENCY_MICROS_MAX: u64 = 60_000_000;

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MICROS_MAX, 3).expect("valid histogram bounds")
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Create new persistent nodes.
    Create,
    /// Overwrite existing nodes' data.
    SetData,
    /// Read existing nodes.
    GetData,
    /// exists() on existing nodes.
    Exists,
    /// `read_percent`% getData, the rest setData.
    Mixed,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated host:port list of the servers to drive.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub servers: String,
    #[arg(long, value_enum, default_value = "create")]
    pub workload: Workload,
    /// Sessions (TCP connections) opened.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Measured run time in seconds (after setup).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Bytes of data written per create/setData.
    #[arg(long, default_value_t = 100)]
    pub value_bytes: usize,
    /// Nodes read or written by get/set/exists/mixed workloads.
    #[arg(long, default_value_t = 1_000)]
    pub keys: usize,
    /// Share of reads in the mixed workload.
    #[arg(long, default_value_t = 90)]
    pub read_percent: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Summary {
    workload: Workload,
    connections: usize,
    window: usize,
    value_bytes: usize,
    duration_secs: f64,
    operations: u64,
    errors: u64,
    ops_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let root = format!("/herald-bench-{:08x}", rand::random::<u32>());
    let value = vec![b'x'; args.value_bytes];
    let setup = connect(&args.servers).await?;
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    setup.create(&root, b"", &persistent).await.context("creating the bench root")?;
    if !matches!(args.workload, Workload::Create) {
        for key in 0..args.keys {
            setup.create(&format!("{root}/k{key}"), &value, &persistent).await?;
        }
    }

    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        clients.push(connect(&args.servers).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let args = Arc::new(args);
    let root = Arc::new(root);
    let value = Arc::new(value);
    let started = Instant::now();
    let mut workers = Vec::new();
    for (connection, client) in clients.iter().enumerate() {
        for slot in 0..args.window {
            let worker = Worker {
                client: client.clone(),
                args: args.clone(),
                root: root.clone(),
                value: value.clone(),
                stop: stop.clone(),
                errors: errors.clone(),
                name: format!("c{connection}-{slot}"),
            };
            workers.push(tokio::spawn(worker.run()));
        }
    }
    tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut histogram = latency_histogram();
    for worker in workers {
        histogram.add(worker.await?).expect("compatible histograms");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let micros_to_ms = |micros: u64| micros as f64 / 1_000.0;
    let summary = Summary {
        workload: args.workload,
        connections: args.connections,
        window: args.window,
        value_bytes: args.value_bytes,
        duration_secs: elapsed,
        operations: histogram.len(),
        errors: errors.load(Ordering::Relaxed),
        ops_per_sec: histogram.len() as f64 / elapsed,
        p50_ms: micros_to_ms(histogram.value_at_quantile(0.50)),
        p99_ms: micros_to_ms(histogram.value_at_quantile(0.99)),
        p999_ms: micros_to_ms(histogram.value_at_quantile(0.999)),
        max_ms: micros_to_ms(histogram.max()),
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{:?} {}x{}: {:.0} ops/s over {:.1}s ({} ops, {} errors)  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
            summary.workload,
            summary.connections,
            summary.window,
            summary.ops_per_sec,
            summary.duration_secs,
            summary.operations,
            summary.errors,
            summary.p50_ms,
            summary.p99_ms,
            summary.p999_ms,
            summary.max_ms
        );
    }
    Ok(())
}

async fn connect(servers: &str) -> anyhow::Result<Client> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(servers)
        .await
        .with_context(|| format!("connecting to {servers}"))
}

struct Worker {
    client: Client,
    args: Arc<BenchArgs>,
    root: Arc<String>,
    value: Arc<Vec<u8>>,
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    name: String,
}

impl Worker {
    /// Issues one request at a time until told to stop; returns its latencies in microseconds.
    async fn run(self) -> Histogram<u64> {
        let mut histogram = latency_histogram();
        let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
        let mut sequence: u64 = 0;
        while !self.stop.load(Ordering::Relaxed) {
            sequence += 1;
            let key = format!("{}/k{}", self.root, rand::random_range(0..self.args.keys.max(1)));
            let started = Instant::now();
            let ok = match self.args.workload {
                Workload::Create => {
                    let path = format!("{}/{}-{sequence}", self.root, self.name);
                    self.client.create(&path, &self.value, &persistent).await.is_ok()
                }
                Workload::SetData => self.client.set_data(&key, &self.value, None).await.is_ok(),
                Workload::GetData => self.client.get_data(&key).await.is_ok(),
                Workload::Exists => self.client.check_stat(&key).await.is_ok(),
                Workload::Mixed => {
                    if rand::random_range(0..100) < self.args.read_percent {
                        self.client.get_data(&key).await.is_ok()
                    } else {
                        self.client.set_data(&key, &self.value, None).await.is_ok()
                    }
                }
            };
            if ok {
                histogram.saturating_record(started.elapsed().as_micros() as u64);
            } else {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        histogram
    }
}
