//! What a transport is told at start: who it is, where it listens, whom it
//! dials, and every limit it enforces.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::config::{EnsembleConfig, PeerTlsFiles};

use super::error::PeerTransportError;

/// Largest frame payload accepted or sent by default. A SNAP sync carries the
/// whole tree in one frame (about 230 bytes per small znode: 64 MiB was
/// under 300,000 znodes), so it is generous; a larger frame closes the
/// connection. Peers are authenticated before any frame is read.
pub const PEER_FRAME_BYTES_MAX: usize = 1024 * 1024 * 1024;
/// Messages waiting for one peer's writer before `send` starts dropping.
pub const PEER_OUTBOUND_QUEUE_DEPTH_DEFAULT: usize = 4_096;
/// Messages decoded from all peers waiting for the node before readers stop
/// reading (TCP back-pressure then slows the senders).
pub const PEER_INBOUND_QUEUE_DEPTH_DEFAULT: usize = 16 * 1024;
/// First wait before re-dialing a peer that could not be reached.
pub const PEER_RECONNECT_BACKOFF_MIN_MS: u64 = 50;
/// Longest wait between two dial attempts to the same peer.
pub const PEER_RECONNECT_BACKOFF_MAX_MS: u64 = 5_000;
/// Time a dial plus handshake, or an accepted connection's handshake, may take
/// before the connection is abandoned; keeps silent clients from holding slots.
pub const PEER_HANDSHAKE_TIMEOUT_MS: u64 = 5_000;
/// Accepted connections that have not yet proved who they are; more are
/// closed at once, so a flood of strangers cannot exhaust the node.
pub const PEER_PENDING_HANDSHAKES_MAX: usize = 64;

/// Everything [`super::PeerTransport::start`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTransportSettings {
    /// This node's server id; peers must present another configured id.
    pub me: u64,
    /// Where inbound peer connections are accepted (port 0 picks one).
    pub listen: SocketAddr,
    /// Every member's id and `host:port` peer address. `me` may be present
    /// and is never dialled. Addresses are resolved at every dial attempt, so
    /// DNS names that appear late (Kubernetes headless Services) work.
    pub members: BTreeMap<u64, String>,
    /// When set, a dialer must prove it knows it (HMAC-SHA256 over a nonce).
    pub secret: Option<String>,
    /// When set, every connection is mutual TLS: both ends present a
    /// certificate chaining to the CA, and the dialer checks the acceptor's
    /// certificate names the host of the peer address it dialled.
    pub tls: Option<PeerTlsFiles>,
    pub frame_bytes_max: usize,
    pub outbound_queue_depth: usize,
    pub inbound_queue_depth: usize,
    pub reconnect_backoff_min_ms: u64,
    pub reconnect_backoff_max_ms: u64,
    pub handshake_timeout_ms: u64,
    pub pending_handshakes_max: usize,
}

impl PeerTransportSettings {
    /// Defaults for node `me` listening on `listen` in an ensemble of `members`.
    pub fn new(me: u64, listen: SocketAddr, members: BTreeMap<u64, String>) -> Self {
        PeerTransportSettings {
            me,
            listen,
            members,
            secret: None,
            tls: None,
            frame_bytes_max: PEER_FRAME_BYTES_MAX,
            outbound_queue_depth: PEER_OUTBOUND_QUEUE_DEPTH_DEFAULT,
            inbound_queue_depth: PEER_INBOUND_QUEUE_DEPTH_DEFAULT,
            reconnect_backoff_min_ms: PEER_RECONNECT_BACKOFF_MIN_MS,
            reconnect_backoff_max_ms: PEER_RECONNECT_BACKOFF_MAX_MS,
            handshake_timeout_ms: PEER_HANDSHAKE_TIMEOUT_MS,
            pending_handshakes_max: PEER_PENDING_HANDSHAKES_MAX,
        }
    }

    /// Defaults for the node an [`EnsembleConfig`] describes.
    pub fn from_ensemble(ensemble: &EnsembleConfig) -> Self {
        let members = ensemble
            .members
            .iter()
            .map(|member| (member.id, member.peer_address.clone()))
            .collect();
        let mut settings = Self::new(ensemble.me, ensemble.peer_listen, members);
        settings.secret = ensemble.secret.clone();
        settings.tls = ensemble.peer_tls.clone();
        // A DIFF sync is queued all at once: a proposal and a commit per txn
        // it carries. A queue shorter than that overflows, resets the
        // connection, and the learner re-registers into the same overflow
        // forever; so both queues hold a whole sync plus ordinary traffic.
        let sync_burst = ensemble.sync_diff_txns_max.saturating_mul(2);
        settings.outbound_queue_depth =
            PEER_OUTBOUND_QUEUE_DEPTH_DEFAULT.saturating_add(sync_burst);
        settings.inbound_queue_depth = PEER_INBOUND_QUEUE_DEPTH_DEFAULT.saturating_add(sync_burst);
        settings
    }

    /// Rejects settings the transport cannot run with.
    pub fn validate(&self) -> Result<(), PeerTransportError> {
        let invalid = |reason: &str| Err(PeerTransportError::InvalidSettings(reason.to_owned()));
        if self.frame_bytes_max == 0 || u32::try_from(self.frame_bytes_max).is_err() {
            return invalid("frame_bytes_max must be between 1 and u32::MAX");
        }
        if self.outbound_queue_depth == 0 || self.inbound_queue_depth == 0 {
            return invalid("queue depths must be at least 1");
        }
        if self.reconnect_backoff_min_ms == 0
            || self.reconnect_backoff_min_ms > self.reconnect_backoff_max_ms
        {
            return invalid("reconnect backoff needs 0 < min <= max");
        }
        if self.handshake_timeout_ms == 0 {
            return invalid("handshake_timeout_ms must be at least 1");
        }
        if self.pending_handshakes_max == 0 {
            return invalid("pending_handshakes_max must be at least 1");
        }
        if self.secret.as_deref() == Some("") {
            return invalid("secret must not be empty (leave it unset instead)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EnsembleMember, PEER_TICK_MS_DEFAULT, ServerRole};

    fn settings() -> PeerTransportSettings {
        PeerTransportSettings::new(1, "127.0.0.1:0".parse().unwrap(), BTreeMap::new())
    }

    #[test]
    fn defaults_are_valid() {
        assert!(settings().validate().is_ok());
    }

    #[test]
    fn zero_limits_are_rejected() {
        let mut zero_frame = settings();
        zero_frame.frame_bytes_max = 0;
        let mut zero_queue = settings();
        zero_queue.outbound_queue_depth = 0;
        let mut zero_inbound = settings();
        zero_inbound.inbound_queue_depth = 0;
        let mut zero_pending = settings();
        zero_pending.pending_handshakes_max = 0;
        let mut zero_handshake = settings();
        zero_handshake.handshake_timeout_ms = 0;
        for bad in [zero_frame, zero_queue, zero_inbound, zero_pending, zero_handshake] {
            assert!(matches!(bad.validate(), Err(PeerTransportError::InvalidSettings(_))));
        }
    }

    #[test]
    fn frame_max_must_fit_the_length_prefix() {
        let mut at_bound = settings();
        at_bound.frame_bytes_max = u32::MAX as usize;
        assert!(at_bound.validate().is_ok());
        let mut above = settings();
        above.frame_bytes_max = u32::MAX as usize + 1;
        assert!(above.validate().is_err());
    }

    #[test]
    fn backoff_min_above_max_is_rejected() {
        let mut equal = settings();
        equal.reconnect_backoff_min_ms = 100;
        equal.reconnect_backoff_max_ms = 100;
        assert!(equal.validate().is_ok());
        let mut inverted = settings();
        inverted.reconnect_backoff_min_ms = 101;
        inverted.reconnect_backoff_max_ms = 100;
        assert!(inverted.validate().is_err());
    }

    #[test]
    fn empty_secret_is_rejected() {
        let mut empty = settings();
        empty.secret = Some(String::new());
        assert!(empty.validate().is_err());
    }

    #[test]
    fn ensemble_config_maps_to_settings() {
        let member = |id: u64, address: &str| EnsembleMember {
            id,
            peer_address: address.to_owned(),
            client_address: None,
            role: ServerRole::Participant,
        };
        let ensemble = EnsembleConfig {
            me: 2,
            members: vec![member(1, "zk-0.zk:2888"), member(2, "zk-1.zk:2888")],
            peer_listen: "0.0.0.0:2888".parse().unwrap(),
            secret: Some("s3cret".to_owned()),
            peer_tick_ms: PEER_TICK_MS_DEFAULT,
            sync_diff_txns_max: crate::config::SYNC_DIFF_TXNS_MAX_DEFAULT,
            peer_tls: Some(PeerTlsFiles {
                cert: "peer.pem".into(),
                key: "peer.key".into(),
                ca: "ca.pem".into(),
            }),
        };
        let settings = PeerTransportSettings::from_ensemble(&ensemble);
        assert_eq!(settings.me, 2);
        assert_eq!(settings.members.get(&1).map(String::as_str), Some("zk-0.zk:2888"));
        assert_eq!(settings.members.len(), 2);
        assert_eq!(settings.secret.as_deref(), Some("s3cret"));
        assert_eq!(settings.listen, ensemble.peer_listen);
        assert_eq!(settings.tls, ensemble.peer_tls);
    }

    #[test]
    fn queues_hold_a_whole_diff_sync_plus_ordinary_traffic() {
        let mut ensemble = EnsembleConfig::new(1, Vec::new(), "127.0.0.1:0".parse().unwrap());
        ensemble.sync_diff_txns_max = 25_000;
        let settings = PeerTransportSettings::from_ensemble(&ensemble);
        // A proposal and a commit for each txn of the largest DIFF.
        assert_eq!(settings.outbound_queue_depth, 50_000 + PEER_OUTBOUND_QUEUE_DEPTH_DEFAULT);
        assert_eq!(settings.inbound_queue_depth, 50_000 + PEER_INBOUND_QUEUE_DEPTH_DEFAULT);
    }
}
