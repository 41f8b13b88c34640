//! The gateway's shared (non-lease) ZooKeeper sessions: one per identity, connected on
//! first use and replaced when it ends.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use zookeeper_client::{Client, SessionState};

use crate::auth::Identity;
use crate::config::SHARED_SESSION_TIMEOUT_MS;
use crate::error::ApiError;

/// How long connecting to the ensemble may take before the request fails with 503.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

pub struct SharedSessions {
    ensemble: String,
    clients: Mutex<HashMap<String, Client>>,
}

impl SharedSessions {
    pub fn new(ensemble: String) -> SharedSessions {
        SharedSessions { ensemble, clients: Mutex::new(HashMap::new()) }
    }

    pub async fn client(&self, identity: &Identity) -> Result<Client, ApiError> {
        let key = identity.session_key();
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&key)
            && !is_terminal(client.state())
        {
            return Ok(client.clone());
        }
        let mut connector = Client::connector()
            .with_session_timeout(Duration::from_millis(SHARED_SESSION_TIMEOUT_MS))
            .with_connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS));
        if let Some(digest) = &identity.0 {
            connector = connector.with_auth("digest", &digest.auth_bytes());
        }
        let client = connect(connector, &self.ensemble).await?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Connects with a bound, so an unreachable ensemble gives 503 rather than a hung request.
pub async fn connect(
    connector: zookeeper_client::Connector,
    ensemble: &str,
) -> Result<Client, ApiError> {
    match tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        connector.connect(ensemble),
    )
    .await
    {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(error.into()),
        Err(_) => Err(ApiError::unavailable(format!(
            "could not reach the ensemble {ensemble} within {CONNECT_TIMEOUT_MS} ms"
        ))),
    }
}

pub fn is_terminal(state: SessionState) -> bool {
    matches!(state, SessionState::Expired | SessionState::Closed | SessionState::AuthFailed)
}
