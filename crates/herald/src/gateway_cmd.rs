//! `herald gateway` and the REST API that `herald dev` serves beside its node.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use gateway::{AppState, GatewayConfig};
use server::tls::{ReloadingAcceptor, TlsFiles};

/// Default address of the REST API.
pub const HTTP_LISTEN_DEFAULT: &str = "127.0.0.1:8181";

#[derive(Args)]
pub struct GatewayArgs {
    /// ZooKeeper connect string of the ensemble (Herald or Apache ZooKeeper).
    #[arg(long, default_value = "127.0.0.1:2181", env = "HERALD_ENSEMBLE")]
    pub ensemble: String,
    /// Address the REST API listens on.
    #[arg(long, default_value = HTTP_LISTEN_DEFAULT, env = "HERALD_HTTP_LISTEN")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub options: GatewayOptions,
    #[command(flatten)]
    pub tls: GatewayTlsArgs,
}

/// HTTPS for `herald gateway`: the certificate files are re-read when they
/// change, so a rotation needs no restart.
#[derive(Args, Clone, Default)]
pub struct GatewayTlsArgs {
    /// PEM certificate chain; serves HTTPS instead of HTTP. Needs --tls-key-file.
    #[arg(long, requires = "tls_key_file", env = "HERALD_HTTP_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of --tls-cert-file.
    #[arg(long, requires = "tls_cert_file", env = "HERALD_HTTP_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle: clients must present a certificate it signed (mutual TLS).
    #[arg(long, requires = "tls_cert_file", env = "HERALD_HTTP_TLS_CLIENT_CA_FILE")]
    pub tls_client_ca_file: Option<PathBuf>,
}

impl GatewayTlsArgs {
    /// The loaded acceptor when HTTPS is asked for; a broken file fails the start.
    pub fn acceptor(&self) -> anyhow::Result<Option<ReloadingAcceptor>> {
        let (cert, key) = match (&self.tls_cert_file, &self.tls_key_file) {
            (None, None) if self.tls_client_ca_file.is_none() => return Ok(None),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => bail!(
                "--tls-cert-file and --tls-key-file go together (--tls-client-ca-file needs both)"
            ),
        };
        let files = TlsFiles { cert, key, client_ca: self.tls_client_ca_file.clone() };
        ReloadingAcceptor::load(files).map(Some).context("loading the gateway's TLS files")
    }
}

/// Options shared by `herald gateway` and `herald dev`.
#[derive(Args, Clone, Default)]
pub struct GatewayOptions {
    /// Bearer token and the ZooKeeper digest identity it acts as: `TOKEN=user:password`.
    /// Repeatable. Without any, the API is open (development).
    #[arg(long = "token", value_name = "TOKEN=USER:PASSWORD")]
    pub tokens: Vec<String>,
    #[command(flatten)]
    pub recipes: RecipeOptions,
    /// Serve only this service (repeatable): leases, znodes, lock, election, queue,
    /// config. Default: all of them.
    #[arg(long = "only", value_name = "SERVICE")]
    pub only: Vec<String>,
    /// Forward a service to the gateway process that serves it (repeatable):
    /// `SERVICE=http://host:port`. Its routes stay in this gateway's OpenAPI document.
    #[arg(long = "route", value_name = "SERVICE=URL")]
    pub routes: Vec<String>,
}

/// Queue and config defaults of the recipe routes (each unset flag keeps the default).
#[derive(Args, Clone, Default)]
pub struct RecipeOptions {
    /// Queue size bound: live items plus dead letters; enqueues beyond it get 429.
    #[arg(long, env = "HERALD_GATEWAY_QUEUE_MAX_ITEMS")]
    pub queue_max_items: Option<u64>,
    /// Claims an item gets before it becomes a dead letter.
    #[arg(long, env = "HERALD_GATEWAY_QUEUE_MAX_ATTEMPTS")]
    pub queue_max_attempts: Option<u32>,
    /// Visibility timeout (ms) of a claim that does not name one.
    #[arg(long, env = "HERALD_GATEWAY_QUEUE_VISIBILITY_TIMEOUT_MS")]
    pub queue_visibility_timeout_ms: Option<u64>,
    /// Items per bucket of newly created queues (existing queues keep theirs).
    #[arg(long, env = "HERALD_GATEWAY_QUEUE_ITEMS_PER_BUCKET")]
    pub queue_items_per_bucket: Option<u32>,
    /// Versions of each config key kept as history (and replayable by streams).
    #[arg(long, env = "HERALD_GATEWAY_CONFIG_HISTORY_VERSIONS")]
    pub config_history_versions: Option<u32>,
}

impl RecipeOptions {
    fn apply(&self, config: &mut GatewayConfig) {
        if let Some(max_items) = self.queue_max_items {
            config.queue.max_items = max_items;
        }
        if let Some(max_attempts) = self.queue_max_attempts {
            config.queue.max_attempts = max_attempts;
        }
        if let Some(timeout_ms) = self.queue_visibility_timeout_ms {
            config.queue_visibility_timeout_ms = timeout_ms;
        }
        if let Some(items_per_bucket) = self.queue_items_per_bucket {
            config.queue.items_per_bucket = items_per_bucket;
        }
        if let Some(versions) = self.config_history_versions {
            config.config_store.history_versions = versions;
        }
    }
}

impl GatewayOptions {
    pub fn config(&self, ensemble: String) -> anyhow::Result<GatewayConfig> {
        let mut config = GatewayConfig::new(ensemble);
        for entry in &self.tokens {
            let (token, identity) = GatewayConfig::parse_token(entry)
                .with_context(|| format!("--token {entry:?}: expected TOKEN=USER:PASSWORD"))?;
            config.tokens.insert(token, identity);
        }
        self.recipes.apply(&mut config);
        for service in &self.only {
            config.only.push(service.parse().with_context(|| format!("--only {service}"))?);
        }
        for route in &self.routes {
            config.routes.push(route.parse().with_context(|| format!("--route {route}"))?);
        }
        config.validate().context("gateway recipe settings")?;
        Ok(config)
    }
}

/// Binds the REST API; serving starts with [`serve`].
pub async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the REST API on {listen}"))
}

/// Serves the REST API until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    gateway::serve(listener, AppState::new(config), shutdown).await.context("serving the REST API")
}

/// Serves the REST API over HTTPS until `shutdown` resolves.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: GatewayConfig,
    acceptor: ReloadingAcceptor,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    gateway::serve_tls(listener, AppState::new(config), move || acceptor.current(), shutdown)
        .await
        .context("serving the REST API over HTTPS")
}

/// `herald gateway`: the REST API as a client of an existing ensemble.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let config = args.options.config(args.ensemble.clone())?;
    let acceptor = args.tls.acceptor()?;
    let listener = bind(args.listen).await?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    say!("herald gateway: REST API on {scheme}://{} (docs at /docs)", listener.local_addr()?);
    say!("herald gateway: ensemble {}", args.ensemble);
    match acceptor {
        Some(acceptor) => serve_tls(listener, config, acceptor, crate::shutdown_signal()).await,
        None => serve(listener, config, crate::shutdown_signal()).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use gateway::services::Service;

    use super::*;

    #[test]
    fn tls_flags_are_all_or_nothing() {
        assert!(GatewayTlsArgs::default().acceptor().unwrap().is_none(), "no flags, plain HTTP");
        let ca_only =
            GatewayTlsArgs { tls_client_ca_file: Some("ca.pem".into()), ..Default::default() };
        assert!(ca_only.acceptor().is_err());
        let missing = GatewayTlsArgs {
            tls_cert_file: Some("absent.pem".into()),
            tls_key_file: Some("absent.key".into()),
            tls_client_ca_file: None,
        };
        let error = format!("{:#}", missing.acceptor().err().expect("absent files fail"));
        assert!(error.contains("absent.pem"), "{error}");
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        options: GatewayOptions,
    }

    fn parsed(arguments: &[&str]) -> anyhow::Result<GatewayConfig> {
        let cli = Cli::try_parse_from(std::iter::once("herald").chain(arguments.iter().copied()))?;
        cli.options.config("127.0.0.1:2181".into())
    }

    #[test]
    fn recipe_flags_set_the_gateway_config_and_are_checked_at_their_bounds() {
        let max = recipes_config::settings::HISTORY_VERSIONS_MAX;
        let config = parsed(&[
            "--queue-max-items",
            "5",
            "--queue-max-attempts",
            "2",
            "--queue-visibility-timeout-ms",
            "1500",
            "--queue-items-per-bucket",
            "10",
            "--config-history-versions",
            &max.to_string(),
        ])
        .unwrap();
        assert_eq!((config.queue.max_items, config.queue.max_attempts), (5, 2));
        assert_eq!(config.queue_visibility_timeout_ms, 1500);
        assert_eq!(config.queue.items_per_bucket, 10);
        assert_eq!(config.config_store.history_versions, max);
        assert!(parsed(&["--config-history-versions", &(max + 1).to_string()]).is_err());
        assert!(parsed(&["--queue-max-attempts", "0"]).is_err());
        assert!(parsed(&["--queue-visibility-timeout-ms", "0"]).is_err());
        let split =
            parsed(&["--only", "lock", "--only", "znodes", "--route", "queue=http://q:1"]).unwrap();
        assert_eq!(split.only, [Service::Lock, Service::Znodes]);
        assert!(!split.serves(Service::Queue) && split.route_of(Service::Queue).is_some());
        assert!(parsed(&["--only", "queues"]).is_err());
        assert!(parsed(&["--only", "queue", "--route", "queue=http://q:1"]).is_err());
        let defaults = parsed(&[]).unwrap();
        assert_eq!(defaults.queue, GatewayConfig::new("x").queue);
    }
}
