//! Leases are ZooKeeper sessions. The lease id is the session's id, timeout and password,
//! base64url-encoded: any gateway replica (or this one after a restart) resumes the session
//! from the id alone, and the id is as unguessable as the session password.
//!
//! While a lease's session is open in a gateway, the ZooKeeper client pings on its own, so
//! the gateway enforces the lease's time-to-live itself. Several replicas may serve one
//! lease, so the deadline lives in the ensemble (see [`crate::lease_marker`]): a keepalive
//! through any replica moves it, the replica that served the lease last is its keeper and
//! holds the session's connection, and the others let go (a take-over asks the keeper
//! first, see [`crate::lease_handover`]). A replica whose local timer fires
//! re-reads the shared deadline and closes the session only if it is still the keeper and
//! the deadline has really passed. If every replica dies, the ensemble expires the session
//! after the same timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Mutex;
use tokio::time::Instant;
use zookeeper_client::{
    Client, Error as ZkError, OneshotWatcher, SessionId, SessionInfo, SessionState, Stat,
};

use crate::auth::Identity;
use crate::error::ApiError;
use crate::grants::{GrantCache, LeaseGrants};
use crate::keyed_lock::KeyedLocks;
use crate::lease_handover::{self as handover, Taken};
use crate::lease_marker::{self as marker, MarkerRecord, deadline_after};
use crate::sessions::{SharedSessions, connect, is_terminal};

/// Shortest lease the gateway accepts (the ensemble may raise it further).
pub const LEASE_TTL_MS_MIN: u64 = 200;
/// Longest lease the gateway accepts (the ensemble may lower it further).
pub const LEASE_TTL_MS_MAX: u64 = 600_000;
/// How often expired leases are looked for.
pub const REAP_INTERVAL_MS: u64 = 50;
/// How often a replica re-reads a marker it watches, besides the watch itself (so a
/// dropped gateway's watchers end and a lost watch is made up for).
pub const FOLLOW_RECHECK_MS: u64 = 1_000;
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
    identity: Identity,
    ttl: Duration,
    deadline: Instant,
    /// Tells this entry apart from a later one for the same session (resumed again).
    generation: u64,
    /// Forgets the lease's remembered lock grants when this entry goes (never read: its
    /// drop is its job).
    _grants: LeaseGrants,
}

/// What the gateway knows about one lease.
pub struct LeaseStatus {
    pub client: Client,
    pub ttl: Duration,
    pub remaining: Duration,
}

type Entries = Arc<Mutex<HashMap<i64, Entry>>>;

pub struct LeaseTable {
    ensemble: String,
    /// This replica's id in lease markers.
    replica: u64,
    shared: Arc<SharedSessions>,
    entries: Entries,
    next_generation: AtomicU64,
    reaper_started: std::sync::Once,
    /// The contender node of each lock grant made through a lease held here.
    grants: Arc<GrantCache>,
    /// One take-over at a time per lease.
    takeovers: KeyedLocks,
}

impl LeaseTable {
    pub fn new(ensemble: String, shared: Arc<SharedSessions>) -> LeaseTable {
        LeaseTable {
            ensemble,
            replica: marker::replica_id(),
            shared,
            entries: Arc::new(Mutex::new(HashMap::new())),
            next_generation: AtomicU64::new(0),
            reaper_started: std::sync::Once::new(),
            grants: Arc::new(GrantCache::default()),
            takeovers: KeyedLocks::default(),
        }
    }

    /// The lock grants made through leases held here (see [`crate::grants`]).
    pub fn grants(&self) -> &GrantCache {
        &self.grants
    }

    fn connector(identity: &Identity, ttl: Duration) -> zookeeper_client::Connector {
        // Detached: dropping the client (gateway shutdown, or another replica taking the
        // lease over) must not end the lease.
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
        let record = MarkerRecord::kept_by(self.replica, deadline_after(ttl));
        if let Err(error) = marker::create(&client, identity, lease.session_id, &record).await {
            close_session(self.ensemble.clone(), client).await;
            return Err(error.into());
        }
        self.insert(client, identity, ttl, ttl).await;
        Ok(lease)
    }

    async fn insert(&self, client: Client, identity: &Identity, ttl: Duration, left: Duration) {
        self.start_reaper();
        let session_id = client.session_id().0;
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            client,
            identity: identity.clone(),
            ttl,
            deadline: Instant::now() + left,
            generation,
            _grants: LeaseGrants::new(self.grants.clone(), session_id),
        };
        self.entries.lock().await.insert(session_id, entry);
        tokio::spawn(follow_marker(
            Arc::downgrade(&self.entries),
            self.shared.clone(),
            identity.clone(),
            self.replica,
            session_id,
            generation,
        ));
    }

    /// The client of `lease` (resumed here if another replica or nobody holds it).
    pub async fn client(&self, identity: &Identity, lease: &LeaseId) -> Result<Client, ApiError> {
        Ok(self.touch(identity, lease, false).await?.client)
    }

    /// Extends the lease by its ttl from now, for every replica.
    pub async fn keepalive(
        &self,
        identity: &Identity,
        lease: &LeaseId,
    ) -> Result<LeaseStatus, ApiError> {
        self.touch(identity, lease, true).await
    }

    /// What the gateway knows about `lease` (resuming it here if needed).
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
        if let Some(held) = self.touch_held(identity, lease, extend).await {
            return held;
        }
        let _only_taker = self.takeovers.lock(lease.session_id).await;
        // Another request may have taken the lease over while this one waited.
        if let Some(held) = self.touch_held(identity, lease, extend).await {
            return held;
        }
        self.take_over(identity, lease, extend).await
    }

    /// `touch` of a lease held here; `None` if it is not.
    async fn touch_held(
        &self,
        identity: &Identity,
        lease: &LeaseId,
        extend: bool,
    ) -> Option<Result<LeaseStatus, ApiError>> {
        let status = {
            let mut entries = self.entries.lock().await;
            match entries.get_mut(&lease.session_id) {
                Some(entry) if entry.client.session().password() != lease.password.as_slice() => {
                    return Some(Err(lease_not_found()));
                }
                Some(entry) if !is_terminal(entry.client.state()) => {
                    let now = Instant::now();
                    if extend {
                        entry.deadline = now + entry.ttl;
                    }
                    LeaseStatus {
                        client: entry.client.clone(),
                        ttl: entry.ttl,
                        remaining: entry.deadline.saturating_duration_since(now),
                    }
                }
                Some(_) => {
                    entries.remove(&lease.session_id);
                    return Some(Err(lease_not_found()));
                }
                None => return None,
            }
        };
        if !extend {
            return Some(Ok(status));
        }
        Some(self.share_extension(identity, lease, status).await)
    }

    /// Tells every replica that a lease held here was kept alive (its marker's deadline).
    async fn share_extension(
        &self,
        identity: &Identity,
        lease: &LeaseId,
        status: LeaseStatus,
    ) -> Result<LeaseStatus, ApiError> {
        let shared = self.shared.client(identity).await?;
        let deadline = deadline_after(status.ttl);
        match marker::extend(&shared, lease.session_id, self.replica, deadline).await {
            Ok(()) => Ok(status),
            Err(ZkError::NoNode) => {
                self.entries.lock().await.remove(&lease.session_id);
                Err(lease_not_found())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Resumes a lease this replica does not hold and becomes its keeper. The marker is
    /// moved to this replica first, and the replica that held the session lets go of it
    /// before this one connects (see [`crate::lease_handover`]).
    async fn take_over(
        &self,
        identity: &Identity,
        lease: &LeaseId,
        extend: bool,
    ) -> Result<LeaseStatus, ApiError> {
        let shared = self.shared.client(identity).await?;
        let requested_ttl = Duration::from_millis(lease.ttl_ms.into());
        let existing = marker::read(&shared, lease.session_id).await?;
        let deadline_unix_ms = match existing {
            Some(record) if !extend => record.deadline_unix_ms,
            _ => deadline_after(requested_ttl),
        };
        let record = MarkerRecord::kept_by(self.replica, deadline_unix_ms);
        let live = deadline_unix_ms > marker::now_unix_ms();
        let mut marker_missing = existing.is_none();
        if !marker_missing && live {
            match handover::take(&shared, lease.session_id, self.replica, deadline_unix_ms).await? {
                Taken::Released | Taken::Unanswered => {}
                // The lease just ended (resuming below answers 404), or someone deleted
                // the marker (it is recreated below).
                Taken::Ended => marker_missing = true,
            }
        }
        let client = self.resume(identity, lease).await?;
        if !live {
            // The keeper died after the deadline passed, before the ensemble noticed.
            close_session(self.ensemble.clone(), client).await;
            return Err(lease_not_found());
        }
        if marker_missing {
            // A live session without a marker: recreate it through the lease's session.
            marker::create(&client, identity, lease.session_id, &record).await?;
        }
        let ttl = client.session_timeout();
        let left =
            Duration::from_millis(deadline_unix_ms.saturating_sub(marker::now_unix_ms())).min(ttl);
        self.insert(client.clone(), identity, ttl, left).await;
        Ok(LeaseStatus { client, ttl, remaining: left })
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

    /// Ends the lease now, for every replica: the ensemble deletes its ephemeral nodes
    /// (the marker among them, which tells the other replicas).
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
        let shared = self.shared.clone();
        let replica = self.replica;
        self.reaper_started.call_once(|| {
            tokio::spawn(reap(ensemble, shared, replica, entries));
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

/// Removes the entry of `session_id` if it is still `generation`; dropping its client
/// lets go of the connection without closing the session.
async fn forget(
    entries: &Mutex<HashMap<i64, Entry>>,
    session_id: i64,
    generation: u64,
) -> Option<Entry> {
    let mut entries = entries.lock().await;
    if entries.get(&session_id).is_some_and(|entry| entry.generation == generation) {
        entries.remove(&session_id)
    } else {
        None
    }
}

/// What a keeper does about its lease's marker.
enum MarkerSays {
    Keep,
    /// Another replica keeps the lease now, or it ended.
    LetGo,
    /// Another replica asks to take the lease over; the marker is at this version.
    HandOver(MarkerRecord, i32),
}

fn marker_says(watched: &Result<(Vec<u8>, Stat, OneshotWatcher), ZkError>, me: u64) -> MarkerSays {
    match watched {
        Ok((bytes, stat, _)) => match marker::decode(bytes) {
            Some(record) if record.keeper != me => MarkerSays::LetGo,
            Some(record) if record.handover_to.is_some_and(|taker| taker != me) => {
                MarkerSays::HandOver(record, stat.version)
            }
            _ => MarkerSays::Keep,
        },
        Err(ZkError::NoNode) => MarkerSays::LetGo,
        Err(_) => MarkerSays::Keep,
    }
}

/// Watches one lease's marker while this replica holds the lease: when another replica
/// asks for the lease, it is handed over; when another replica became the keeper
/// regardless, or the marker vanishes (the lease ended), the entry is dropped.
async fn follow_marker(
    entries: Weak<Mutex<HashMap<i64, Entry>>>,
    shared: Arc<SharedSessions>,
    identity: Identity,
    replica: u64,
    session_id: i64,
    generation: u64,
) {
    let path = marker::marker_path(session_id);
    loop {
        {
            let Some(entries) = entries.upgrade() else { return };
            let entries = entries.lock().await;
            if entries.get(&session_id).is_none_or(|entry| entry.generation != generation) {
                return;
            }
        }
        let Ok(client) = shared.client(&identity).await else {
            tokio::time::sleep(Duration::from_millis(FOLLOW_RECHECK_MS)).await;
            continue;
        };
        let watched = client.get_and_watch_data(&path).await;
        let says = marker_says(&watched, replica);
        let Some(held) = entries.upgrade() else { return };
        match says {
            MarkerSays::Keep => {}
            MarkerSays::LetGo => {
                drop(forget(&held, session_id, generation).await);
                return;
            }
            MarkerSays::HandOver(asked, version) => {
                if let Some(entry) = forget(&held, session_id, generation).await {
                    handover::release(entry.client, &client, session_id, asked, version).await;
                }
                return;
            }
        }
        drop(held);
        let recheck = tokio::time::sleep(Duration::from_millis(FOLLOW_RECHECK_MS));
        match watched {
            Ok((_, _, watcher)) => {
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = recheck => {}
                }
            }
            Err(_) => recheck.await,
        }
    }
}

/// What a replica does with a lease whose local deadline passed.
enum Verdict {
    Close,
    LetGo,
    Reschedule(Duration),
    RetryLater,
}

async fn judge(
    shared: &SharedSessions,
    identity: &Identity,
    replica: u64,
    session_id: i64,
) -> Verdict {
    let Ok(client) = shared.client(identity).await else { return Verdict::RetryLater };
    match marker::read(&client, session_id).await {
        Err(_) => Verdict::RetryLater,
        Ok(None) => Verdict::LetGo,
        Ok(Some(record)) if record.keeper != replica => Verdict::LetGo,
        Ok(Some(record)) => {
            let now = marker::now_unix_ms();
            if record.deadline_unix_ms > now {
                Verdict::Reschedule(Duration::from_millis(record.deadline_unix_ms - now))
            } else {
                Verdict::Close
            }
        }
    }
}

async fn reap(
    ensemble: String,
    shared: Arc<SharedSessions>,
    replica: u64,
    entries: Weak<Mutex<HashMap<i64, Entry>>>,
) {
    let mut interval = tokio::time::interval(Duration::from_millis(REAP_INTERVAL_MS));
    loop {
        interval.tick().await;
        let Some(entries) = entries.upgrade() else { return };
        let now = Instant::now();
        let due: Vec<(i64, u64, Identity)> = {
            let mut entries = entries.lock().await;
            entries.retain(|_, entry| !is_terminal(entry.client.state()));
            entries
                .iter()
                .filter(|(_, entry)| entry.deadline <= now)
                .map(|(id, entry)| (*id, entry.generation, entry.identity.clone()))
                .collect()
        };
        for (session_id, generation, identity) in due {
            match judge(&shared, &identity, replica, session_id).await {
                Verdict::RetryLater => {}
                Verdict::LetGo => drop(forget(&entries, session_id, generation).await),
                Verdict::Reschedule(left) => {
                    if let Some(entry) = entries.lock().await.get_mut(&session_id)
                        && entry.generation == generation
                    {
                        entry.deadline = Instant::now() + left;
                    }
                }
                Verdict::Close => {
                    let removed = {
                        let mut entries = entries.lock().await;
                        match entries.get(&session_id) {
                            Some(entry) if entry.generation == generation => {
                                entries.remove(&session_id)
                            }
                            _ => None,
                        }
                    };
                    if let Some(entry) = removed {
                        tokio::spawn(close_session(ensemble.clone(), entry.client));
                    }
                }
            }
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
