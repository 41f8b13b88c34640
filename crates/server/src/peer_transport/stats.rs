//! Loss counters, shared by `send` and the writer tasks; read for metrics.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct TransportStats {
    dropped_on_full_queue: AtomicU64,
    discarded_on_reset: AtomicU64,
    unsendable: AtomicU64,
    resets: AtomicU64,
    handshakes_refused: AtomicU64,
    dials_failed: AtomicU64,
}

/// A point-in-time copy of the transport's loss counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerTransportStats {
    /// Messages `send` refused because the peer's queue was full (including
    /// those refused while the resulting reset was pending).
    pub dropped_on_full_queue: u64,
    /// Messages already queued that a reset threw away.
    pub discarded_on_reset: u64,
    /// Messages that could not be encoded or exceeded the frame limit.
    pub unsendable: u64,
    /// Connections (or pending dials) reset because a queue overflowed.
    pub resets: u64,
    /// Inbound connections closed during the handshake: strangers, failed
    /// TLS handshakes (no or untrusted certificate, plaintext on a TLS port),
    /// wrong secrets, unknown ids, hellos meant for another member, timeouts,
    /// too many pending handshakes, or a handshake finishing after a later
    /// connection from the same peer had finished its own.
    pub handshakes_refused: u64,
    /// Outbound dials (connect and handshake) that failed; each is followed
    /// by a backoff, cut short when that peer connects to us.
    pub dials_failed: u64,
}

impl TransportStats {
    pub fn count_dropped_on_full_queue(&self) {
        self.dropped_on_full_queue.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_reset(&self, discarded: u64) {
        self.resets.fetch_add(1, Ordering::Relaxed);
        self.discarded_on_reset.fetch_add(discarded, Ordering::Relaxed);
    }

    pub fn count_unsendable(&self) {
        self.unsendable.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_handshake_refused(&self) {
        self.handshakes_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_dial_failed(&self) {
        self.dials_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> PeerTransportStats {
        PeerTransportStats {
            dropped_on_full_queue: self.dropped_on_full_queue.load(Ordering::Relaxed),
            discarded_on_reset: self.discarded_on_reset.load(Ordering::Relaxed),
            unsendable: self.unsendable.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
            handshakes_refused: self.handshakes_refused.load(Ordering::Relaxed),
            dials_failed: self.dials_failed.load(Ordering::Relaxed),
        }
    }
}
