//! `herald`: one binary, the role picked by the subcommand.
//!
//! - `herald dev`: a standalone node on 127.0.0.1:2181 with data in ./herald-data, and the
//!   REST API on 127.0.0.1:8181.
//! - `herald server`: a node or ensemble member configured by a TOML file,
//!   environment and flags.
//! - `herald cluster`: an ensemble of `herald server` processes on loopback.
//! - `herald gateway`: the REST API as a client of an ensemble (Herald or Apache ZooKeeper).
//! - `herald config check|print`: validate or show a configuration.
//! - `herald bench`: a load generator for ZooKeeper-protocol servers (Herald or Apache
//!   ZooKeeper), Herald's REST gateway and etcd's lock API.

/// `println!` that never panics: a server's status lines must not stop it
/// because whatever read its stdout has gone (`herald server | head`, a log
/// shipper restarting), and a listing piped into `grep -q` ends quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod bench;
mod cluster;
mod config;
mod gateway_cmd;
mod member;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use server::{RunningServer, ServerConfig};

#[derive(Parser)]
#[command(name = "herald", version, about = "A ZooKeeper-compatible coordination service")]
struct Cli {
    /// Log line format on stderr: `text` or `json` (levels from RUST_LOG).
    #[arg(long, global = true, default_value = "text", env = "HERALD_LOG_FORMAT")]
    log_format: server::telemetry::LogFormat,
    /// Threads running async work (default: the CPUs this process may use,
    /// cgroup quotas included). Members sharing a machine do better with
    /// their share of its cores: `herald cluster` gives each CPUs / members.
    #[arg(long, global = true, env = "HERALD_WORKER_THREADS")]
    worker_threads: Option<std::num::NonZeroUsize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone node for development: ZooKeeper protocol on 127.0.0.1:2181,
    /// REST API on 127.0.0.1:8181, data under ./herald-data.
    Dev(DevArgs),
    /// Run a node or ensemble member configured by a TOML file,
    /// HERALD_<SECTION>_<KEY> variables, --set and the flags below (latest wins).
    Server(ServerArgs),
    /// Run an ensemble of `herald server` processes on loopback until ctrl-c.
    Cluster(cluster::ClusterArgs),
    /// Validate or print a configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Serve the REST API (leases, znodes, locks, elections) for an existing ensemble.
    Gateway(gateway_cmd::GatewayArgs),
    /// Drive a ZooKeeper-compatible server, the REST gateway or etcd's lock API with a
    /// workload and report throughput and latency.
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
    /// Address of the admin HTTP port (`/commands/*`, `/metrics`, `/healthz`, `/readyz`).
    #[arg(long, default_value = "127.0.0.1:8080", env = "HERALD_ADMIN_LISTEN")]
    admin_listen: SocketAddr,
    /// Run without the admin HTTP port.
    #[arg(long)]
    no_admin: bool,
    /// Address of the TLS client port (ZooKeeper's secureClientPort); needs the cert and key files.
    #[arg(long, requires_all = ["tls_cert_file", "tls_key_file"])]
    secure_listen: Option<SocketAddr>,
    /// PEM certificate chain for the TLS client port (re-read when it changes).
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// PEM private key for the TLS client port (re-read when it changes).
    #[arg(long)]
    tls_key_file: Option<PathBuf>,
    /// PEM CA bundle: clients of the TLS port must present a certificate it signed.
    #[arg(long)]
    tls_client_ca_file: Option<PathBuf>,
    /// Serve only the TLS client port.
    #[arg(long, requires = "secure_listen")]
    no_plaintext: bool,
    /// Address of the REST API.
    #[arg(long, default_value = gateway_cmd::HTTP_LISTEN_DEFAULT, env = "HERALD_HTTP_LISTEN")]
    http_listen: SocketAddr,
    #[command(flatten)]
    gateway: gateway_cmd::GatewayOptions,
}

/// Where a configuration comes from, shared by `server` and `config`.
#[derive(Args)]
struct ConfigSourceArgs {
    /// Override one key: SECTION.KEY=VALUE (repeatable; wins over the file and environment).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    sets: Vec<String>,
    /// Hostname for `ensemble.me_from_hostname`; default: $HOSTNAME, then the kernel's.
    #[arg(long)]
    hostname: Option<String>,
}

#[derive(Args)]
struct ServerArgs {
    /// The TOML configuration file; without it, the defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    sources: ConfigSourceArgs,
    #[command(flatten)]
    flags: member::ServerFlags,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Exit 0 if FILE (with the environment and flags) is a valid configuration,
    /// else print what is wrong, naming the key, and exit 1.
    Check {
        file: PathBuf,
        #[command(flatten)]
        sources: ConfigSourceArgs,
    },
    /// Print the effective configuration as TOML (the peer secret masked).
    Print {
        file: Option<PathBuf>,
        #[command(flatten)]
        sources: ConfigSourceArgs,
    },
    /// List every configuration key, one a line.
    Keys,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Held to the end of main: dropping it flushes exported spans.
    let _telemetry = server::telemetry::init(cli.log_format).context("setting up logging")?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.worker_threads {
        runtime.worker_threads(threads.get());
    }
    let runtime = runtime.enable_all().build()?;
    match cli.command {
        Command::Dev(args) => runtime.block_on(dev(args)),
        Command::Server(args) => {
            let mut effective = load_config(args.config.as_deref(), &args.sources)?;
            args.flags.apply(&mut effective.server)?;
            runtime.block_on(member::run(effective.server))
        }
        Command::Cluster(args) => runtime.block_on(cluster::up(args, cli.worker_threads)),
        Command::Config(ConfigCommand::Check { file, sources }) => {
            match load_config(Some(&file), &sources) {
                Ok(_) => say!("{}: ok", file.display()),
                Err(error) => {
                    eprintln!("{}: {error:#}", file.display());
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Keys) => {
            for key in config::sections::all_keys() {
                say!("{key}");
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Print { file, sources }) => {
            let effective = load_config(file.as_deref(), &sources)?;
            print!("{}", config::render(&effective.file));
            Ok(())
        }
        Command::Gateway(args) => runtime.block_on(gateway_cmd::run(args)),
        Command::Bench(args) => runtime.block_on(bench::run(args)),
    }
}

async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::new(args.listen, &args.data_dir);
    config.tick_ms = args.tick_ms;
    config.packet_bytes_max = args.packet_bytes_max;
    config.snapshot_every_txns = args.snapshot_every_txns;
    config.admin_listen = (!args.no_admin).then_some(args.admin_listen);
    config.secure_client_listen = args.secure_listen;
    config.tls_cert_file = args.tls_cert_file;
    config.tls_key_file = args.tls_key_file;
    config.tls_client_ca_file = args.tls_client_ca_file;
    config.plaintext_client_port_enabled = !args.no_plaintext;
    // A development node answers every four-letter word.
    config.four_letter_words = vec!["*".to_string()];
    let gateway_config = args.gateway.config(String::new())?;
    let http = gateway_cmd::bind(args.http_listen).await?;
    let mut node = match RunningServer::start(config.clone()).await {
        // As ZooKeeper does when its AdminServer cannot start: warn and serve without it.
        Err(server::ServerError::Bind { address, source })
            if Some(address) == config.admin_listen =>
        {
            eprintln!(
                "herald dev: admin port {address} unavailable ({source}); running without it"
            );
            config.admin_listen = None;
            RunningServer::start(config).await.context("starting the node")?
        }
        started => started.context("starting the node")?,
    };
    let data_dir = std::fs::canonicalize(&args.data_dir).unwrap_or(args.data_dir);
    if let Some(plain) = node.plaintext_client_address() {
        say!("herald dev: ZooKeeper protocol on {plain}");
    }
    if let Some(secure) = node.secure_client_address() {
        say!("herald dev: ZooKeeper protocol over TLS on {secure}");
    }
    say!("herald dev: REST API on http://{} (docs at /docs)", http.local_addr()?);
    say!("herald dev: data in {}", data_dir.display());
    if let Some(admin) = node.admin_address() {
        say!("herald dev: admin, metrics and probes on http://{admin}");
    }
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
            say!("herald dev: shutting down");
            node.shutdown().await.context("shutting down")
        }
    }
}

/// Reads the file, environment and hostname, and resolves the configuration.
fn load_config(
    file: Option<&std::path::Path>,
    sources: &ConfigSourceArgs,
) -> anyhow::Result<config::Effective> {
    let file_text = file
        .map(|path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        })
        .transpose()?;
    let hostname = sources.hostname.clone().or_else(machine_hostname);
    let effective = config::resolve(&config::Sources {
        file_text: file_text.as_deref(),
        // vars() would panic on a variable that is not UTF-8; such a one
        // cannot be a HERALD_ setting anyway.
        environment: std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect(),
        sets: sources.sets.clone(),
        hostname,
    })?;
    Ok(effective)
}

/// `$HOSTNAME` (set in every Kubernetes container), else the kernel's hostname.
fn machine_hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_string())
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
