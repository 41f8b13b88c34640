//! `herald`: one binary, the role picked by the subcommand.
//!
//! - `herald dev`: a standalone node on 127.0.0.1:2181 with data in ./herald-data, and the
//!   REST API on 127.0.0.1:8181.
//! - `herald gateway`: the REST API as a client of an ensemble (Herald or Apache ZooKeeper).
//! - `herald bench`: a ZooKeeper-protocol load generator (Herald or Apache ZooKeeper).

mod bench;
mod gateway_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use server::{RunningServer, ServerConfig};

#[derive(Parser)]
#[command(name = "herald", version, about = "A ZooKeeper-compatible coordination service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone node for development: ZooKeeper protocol on 127.0.0.1:2181,
    /// REST API on 127.0.0.1:8181, data under ./herald-data.
    Dev(DevArgs),
    /// Serve the REST API (leases, znodes, locks, elections) for an existing ensemble.
    Gateway(gateway_cmd::GatewayArgs),
    /// Drive a ZooKeeper-compatible server with a workload and report throughput and latency.
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct DevArgs {
    /// Address of the ZooKeeper client port.
    #[arg(long, default_value = "127.0.0.1:2181", env = "HERALD_LISTEN")]
    listen: SocketAddr,
    /// Directory for the txn log and snapshots; created if missing.
    #[arg(long, default_value = "herald-data", env = "HERALD_DATA_DIR")]
    data_dir: PathBuf,
    /// Base time unit in milliseconds; session timeouts are negotiated into [2, 20] ticks.
    #[arg(long, default_value_t = server::config::TICK_MS_DEFAULT)]
    tick_ms: u32,
    /// Largest request frame accepted, in bytes (ZooKeeper's jute.maxbuffer).
    #[arg(long, default_value_t = server::config::PACKET_BYTES_MAX_DEFAULT)]
    packet_bytes_max: usize,
    /// Txns between snapshots.
    #[arg(long, default_value_t = server::config::SNAPSHOT_EVERY_TXNS_DEFAULT)]
    snapshot_every_txns: u64,
    /// Address of the REST API.
    #[arg(long, default_value = gateway_cmd::HTTP_LISTEN_DEFAULT, env = "HERALD_HTTP_LISTEN")]
    http_listen: SocketAddr,
    #[command(flatten)]
    gateway: gateway_cmd::GatewayOptions,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Dev(args) => runtime.block_on(dev(args)),
        Command::Gateway(args) => runtime.block_on(gateway_cmd::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
    }
}

async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::new(args.listen, &args.data_dir);
    config.tick_ms = args.tick_ms;
    config.packet_bytes_max = args.packet_bytes_max;
    config.snapshot_every_txns = args.snapshot_every_txns;
    let gateway_config = args.gateway.config(String::new())?;
    let http = gateway_cmd::bind(args.http_listen).await?;
    let mut node = RunningServer::start(config).await.context("starting the node")?;
    let data_dir = std::fs::canonicalize(&args.data_dir).unwrap_or(args.data_dir);
    println!("herald dev: ZooKeeper protocol on {}", node.client_address());
    println!("herald dev: REST API on http://{} (docs at /docs)", http.local_addr()?);
    println!("herald dev: data in {}", data_dir.display());
    let gateway_config =
        gateway::GatewayConfig { ensemble: node.client_address().to_string(), ..gateway_config };
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http_task = tokio::spawn(gateway_cmd::serve(http, gateway_config, async {
        let _ = http_stopped.await;
    }));
    let stopped_by_itself = tokio::select! {
        result = node.wait() => Some(result),
        () = shutdown_signal() => None,
    };
    let _ = stop_http.send(());
    // Open event streams would hold a graceful shutdown forever: give them a bound.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), http_task).await;
    match stopped_by_itself {
        Some(result) => result.context("node stopped"),
        None => {
            println!("herald dev: shutting down");
            node.shutdown().await.context("shutting down")
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
