//! The state every route handler shares: `AppState`.
//!
//! How recipe routers get what they need: a recipe module exposes
//! `pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState>` and its handlers take
//! `State<AppState>` plus the caller's [`Identity`] (an extractor, set by the auth layer).
//! From the state they get ZooKeeper clients:
//! - [`AppState::client`] — the shared session for the caller's identity (reads, persistent
//!   writes);
//! - [`AppState::lease_client`] — the session behind a lease id, for anything a lease must
//!   own (ephemeral nodes, lock contenders, queue claims).
//!
//! Errors convert into [`crate::error::ApiError`] (`?` works on `zookeeper_client::Error`).
//! Mounting a recipe is one line in `crate::routes::api_router`.

use std::sync::Arc;

use zookeeper_client::Client;

use crate::auth::Identity;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::leases::{LeaseId, LeaseTable};
use crate::metrics::GatewayMetrics;
use crate::sessions::SharedSessions;

/// Cheap to clone: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: GatewayConfig,
    shared: Arc<SharedSessions>,
    leases: LeaseTable,
    metrics: GatewayMetrics,
}

impl AppState {
    /// Builds the state; no connection is made until a request needs one.
    pub fn new(config: GatewayConfig) -> AppState {
        let shared = Arc::new(SharedSessions::new(config.ensemble.clone()));
        let leases = LeaseTable::new(config.ensemble.clone(), shared.clone());
        let metrics = GatewayMetrics::new();
        AppState { inner: Arc::new(Inner { config, shared, leases, metrics }) }
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.inner.config
    }

    /// The shared (non-lease) session for `identity`, connected on first use.
    pub async fn client(&self, identity: &Identity) -> Result<Client, ApiError> {
        self.inner.shared.client(identity).await
    }

    /// The session behind `lease`, resumed if this gateway has not seen it yet.
    pub async fn lease_client(
        &self,
        identity: &Identity,
        lease: &LeaseId,
    ) -> Result<Client, ApiError> {
        self.inner.leases.client(identity, lease).await
    }

    pub fn leases(&self) -> &LeaseTable {
        &self.inner.leases
    }

    /// The gateway's metrics (served at `/metrics`).
    pub fn metrics(&self) -> &GatewayMetrics {
        &self.inner.metrics
    }
}
