//! Leases are ZooKeeper sessions. The lease id is the session's id, timeout and password,
//! base64url-encoded: any gateway replica (or this one after a restart) resumes the session
//! from the id alone, and the id is as unguessable as the session password.
//!
//! While a lease's session is open in this gateway, the ZooKeeper client pings on its own,
//! so the gateway enforces the lease's time-to-live itself: [`LeaseTable`] remembers each
//! lease's deadline (last keepalive + ttl) and closes sessions whose deadline passed. If the
//! gateway dies, the ensemble expires the session after the same timeout.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Mutex;
use tokio::time::Instant;
use zookeeper_client::{Client, SessionId, SessionInfo, SessionState};

use crate::auth::Identity;
use crate::error::ApiError;
use crate::sessions::{connect, is_terminal};

/// Shortest lease the gateway accepts (the ensemble may raise it further).
pub const LEASE_TTL_MS_MIN: u64 = 200;
/// Longest lease the gateway accepts (the ensemble may lower it further).
pub const LEASE_TTL_MS_MAX: u64 = 600_000;
/// How often expired leases are looked for.
pub const REAP_INTERVAL_MS: u64 = 50;
/// Upper bound on waiting for the ensemble to confirm a revoked session is closed.
pub const CLOSE_WAIT_MS: u64 = 5_000;

const LEASE_ID_VERSION: u8 = 1;
const PASSWORD_BYTES_MAX: usize = 64;

/// A decoded lease id.
#[derive(Clone, PartialEq, Eq)]
pub struct LeaseId {
    pub session_id: i64,
    pub ttl_ms: u32,
    pub password: Vec<u8>,
}

impl std::fmt::Debug for LeaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password: it is the lease's only secret.
        write!(f, "LeaseId({:#x})", self.session_id)
    }
}

impl LeaseId {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(13 + self.password.len());
        bytes.push(LEASE_ID_VERSION);
        bytes.extend_from_slice(&self.session_id.to_be_bytes());
        bytes.extend_from_slice(&self.ttl_ms.to_be_bytes());
        bytes.extend_from_slice(&self.password);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(text: &str) -> Result<LeaseId, ApiError> {
        let invalid = || ApiError::bad_request("malformed lease id");
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        if bytes.len() < 14 || bytes.len() > 13 + PASSWORD_BYTES_MAX || bytes[0] != LEASE_ID_VERSION
        {
            return Err(invalid());
        }
        let session_id = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| invalid())?);
        let ttl_ms = u32::from_be_bytes(bytes[9..13].try_into().map_err(|_| invalid())?);
        Ok(LeaseId { session_id, ttl_ms, password: bytes[13..].to_vec() })
    }
}

/// Validates a requested lease ttl.
pub fn validate_ttl_ms(ttl_ms: u64) -> Result<u32, ApiError> {
    if !(LEASE_TTL_MS_MIN..=LEASE_TTL_MS_MAX).contains(&ttl_ms) {
        return Err(ApiError::bad_request(format!(
            "ttl_ms must be between {LEASE_TTL_MS_MIN} and {LEASE_TTL_MS_MAX}, got {ttl_ms}"
        )));
    }
    Ok(ttl_ms as u32)
}

struct Entry {
    client: Client,
    ttl: Duration,
    deadline: Instant,
}

/// What the gateway knows about one lease.
pub struct LeaseStatus {
    pub client: Client,
    pub ttl: Duration,
    pub remaining: Duration,
}

pub struct LeaseTable {
    ensemble: String,
    entries: Arc<Mutex<HashMap<i64, Entry>>>,
    reaper_started: std::sync::Once,
}

impl LeaseTable {
    pub fn new(ensemble: String) -> LeaseTable {
        LeaseTable {
            ensemble,
            entries: Arc::new(Mutex::new(HashMap::new())),
            reaper_started: std::sync::Once::new(),
        }
    }

    fn connector(identity: &Identity, ttl: Duration) -> zookeeper_client::Connector {
        // Detached: dropping the client (gateway shutdown) must not end the lease.
        let mut connector = Client::connector().with_session_timeout(ttl).with_detached();
        if let Some(digest) = &identity.0 {
            connector = connector.with_auth("digest", &digest.auth_bytes());
        }
        connector
    }

    /// Opens a new lease.
    pub async fn open(&self, identity: &Identity, ttl_ms: u32) -> Result<LeaseId, ApiError> {
        let ttl = Duration::from_millis(ttl_ms.into());
        let client = connect(Self::connector(identity, ttl), &self.ensemble).await?;
        let lease = LeaseId {
            session_id: client.session_id().0,
            ttl_ms: client.session_timeout().as_millis().min(u32::MAX.into()) as u32,
            password: client.session().password().to_vec(),
        };
        let ttl = client.session_timeout();
        self.insert(client, ttl).await;
        Ok(lease)
    }

    async fn insert(&self, client: Client, ttl: Duration) {
        self.start_reaper();
        let entry = Entry { client: client.clone(), ttl, deadline: Instant::now() + ttl };
        self.entries.lock().await.insert(client.session_id().0, entry);
    }

    /// The client of `lease`; resuming the session counts as a keepalive.
    pub async fn client(&self, identity: &Identity, lease: &LeaseId) -> Result<Client, ApiError> {
        Ok(self.touch(identity, lease, false).await?.client)
    }

    /// Extends the lease by its ttl from now.
    pub async fn keepalive(
        &self,
        identity: &Identity,
        lease: &LeaseId,
    ) -> Result<LeaseStatus, ApiError> {
        self.touch(identity, lease, true).await
    }

    /// What this gateway knows about `lease` (resuming it if needed).
    pub async fn status(
        &self,
        identity: &Identity,
        lease: &LeaseId,
    ) -> Result<LeaseStatus, ApiError> {
        self.touch(identity, lease, false).await
    }

    async fn touch(
        &self,
        identity: &Identity,
        lease: &LeaseId,
        extend: bool,
    ) -> Result<LeaseStatus, ApiError> {
        {
            let mut entries = self.entries.lock().await;
            if let Some(entry) = entries.get_mut(&lease.session_id) {
                if entry.client.session().password() != lease.password.as_slice() {
                    return Err(lease_not_found());
                }
                if !is_terminal(entry.client.state()) {
                    let now = Instant::now();
                    if extend {
                        entry.deadline = now + entry.ttl;
                    }
                    return Ok(LeaseStatus {
                        client: entry.client.clone(),
                        ttl: entry.ttl,
                        remaining: entry.deadline.saturating_duration_since(now),
                    });
                }
                entries.remove(&lease.session_id);
                return Err(lease_not_found());
            }
        }
        let client = self.resume(identity, lease).await?;
        let ttl = client.session_timeout();
        self.insert(client.clone(), ttl).await;
        Ok(LeaseStatus { client, ttl, remaining: ttl })
    }

    async fn resume(&self, identity: &Identity, lease: &LeaseId) -> Result<Client, ApiError> {
        let session = SessionInfo::from_parts(SessionId(lease.session_id), lease.password.clone());
        let ttl = Duration::from_millis(lease.ttl_ms.into());
        let connector = Self::connector(identity, ttl).with_session(session);
        match connect(connector, &self.ensemble).await {
            Ok(client) => Ok(client),
            Err(error) if error.problem.zookeeper_code == Some(-112) => Err(lease_not_found()),
            Err(error) => Err(error),
        }
    }

    /// Ends the lease now: the ensemble deletes its ephemeral nodes.
    pub async fn revoke(&self, identity: &Identity, lease: &LeaseId) -> Result<(), ApiError> {
        let status = self.touch(identity, lease, false).await?;
        let removed = self.entries.lock().await.remove(&lease.session_id);
        drop(removed);
        close_session(self.ensemble.clone(), status.client).await;
        Ok(())
    }

    fn start_reaper(&self) {
        let entries = Arc::downgrade(&self.entries);
        let ensemble = self.ensemble.clone();
        self.reaper_started.call_once(|| {
            tokio::spawn(reap(ensemble, entries));
        });
    }
}

fn lease_not_found() -> ApiError {
    let mut error = ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "lease-not-found",
        "the lease does not exist or has expired",
    );
    error.problem.zookeeper_code = Some(-112);
    error
}

/// Closes a (detached) session: a non-detached client resumes it and is dropped, which
/// sends closeSession; waits (bounded) for the ensemble to confirm.
async fn close_session(ensemble: String, detached: Client) {
    let session = detached.session().clone();
    let ttl = detached.session_timeout();
    drop(detached);
    let connector = Client::connector().with_session_timeout(ttl).with_session(session);
    let Ok(Ok(closer)) =
        tokio::time::timeout(Duration::from_millis(CLOSE_WAIT_MS), connector.connect(&ensemble))
            .await
    else {
        return;
    };
    let mut watcher = closer.state_watcher();
    drop(closer);
    let _ = tokio::time::timeout(Duration::from_millis(CLOSE_WAIT_MS), async {
        loop {
            if matches!(watcher.changed().await, SessionState::Closed | SessionState::Expired) {
                break;
            }
        }
    })
    .await;
}

async fn reap(ensemble: String, entries: Weak<Mutex<HashMap<i64, Entry>>>) {
    let mut interval = tokio::time::interval(Duration::from_millis(REAP_INTERVAL_MS));
    loop {
        interval.tick().await;
        let Some(entries) = entries.upgrade() else { return };
        let now = Instant::now();
        let expired: Vec<Entry> = {
            let mut entries = entries.lock().await;
            let ids: Vec<i64> = entries
                .iter()
                .filter(|(_, entry)| entry.deadline <= now || is_terminal(entry.client.state()))
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| entries.remove(id)).collect()
        };
        for entry in expired {
            tokio::spawn(close_session(ensemble.clone(), entry.client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(password_len: usize) -> LeaseId {
        LeaseId { session_id: 0x0123_4567_89ab_cdef, ttl_ms: 5000, password: vec![7; password_len] }
    }

    #[test]
    fn lease_ids_round_trip_and_never_print_the_password() {
        let id = lease(16);
        let text = id.encode();
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(LeaseId::decode(&text).unwrap(), id);
        assert_eq!(format!("{id:?}"), "LeaseId(0x123456789abcdef)");
    }

    #[test]
    fn password_length_at_the_bounds() {
        assert!(LeaseId::decode(&lease(1).encode()).is_ok());
        assert!(LeaseId::decode(&lease(PASSWORD_BYTES_MAX).encode()).is_ok());
        assert!(LeaseId::decode(&lease(PASSWORD_BYTES_MAX + 1).encode()).is_err());
        assert!(LeaseId::decode(&lease(0).encode()).is_err());
    }

    #[test]
    fn malformed_ids_are_bad_requests() {
        for text in ["", "!!!", "AQ", &URL_SAFE_NO_PAD.encode([2u8; 20])] {
            let error = LeaseId::decode(text).unwrap_err();
            assert_eq!(error.status, axum::http::StatusCode::BAD_REQUEST, "{text}");
        }
    }

    #[test]
    fn ttl_bounds_are_inclusive() {
        assert!(validate_ttl_ms(LEASE_TTL_MS_MIN).is_ok());
        assert!(validate_ttl_ms(LEASE_TTL_MS_MAX).is_ok());
        assert!(validate_ttl_ms(LEASE_TTL_MS_MIN - 1).is_err());
        assert!(validate_ttl_ms(LEASE_TTL_MS_MAX + 1).is_err());
    }
}
