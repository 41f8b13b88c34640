//! `herald gateway` and the REST API that `herald dev` serves beside its node.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use gateway::{AppState, GatewayConfig};

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
}

/// Options shared by `herald gateway` and `herald dev`.
#[derive(Args, Clone, Default)]
pub struct GatewayOptions {
    /// Bearer token and the ZooKeeper digest identity it acts as: `TOKEN=user:password`.
    /// Repeatable. Without any, the API is open (development).
    #[arg(long = "token", value_name = "TOKEN=USER:PASSWORD")]
    pub tokens: Vec<String>,
}

impl GatewayOptions {
    pub fn config(&self, ensemble: String) -> anyhow::Result<GatewayConfig> {
        let mut config = GatewayConfig::new(ensemble);
        for entry in &self.tokens {
            let (token, identity) = GatewayConfig::parse_token(entry)
                .with_context(|| format!("--token {entry:?}: expected TOKEN=USER:PASSWORD"))?;
            config.tokens.insert(token, identity);
        }
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

/// `herald gateway`: the REST API as a client of an existing ensemble.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let config = args.options.config(args.ensemble.clone())?;
    let listener = bind(args.listen).await?;
    println!("herald gateway: REST API on http://{} (docs at /docs)", listener.local_addr()?);
    println!("herald gateway: ensemble {}", args.ensemble);
    serve(listener, config, crate::shutdown_signal()).await
}
