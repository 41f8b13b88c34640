//! Holds replies and watch events until the txns they reflect are durable.
//!
//! The processor applies a txn to the in-memory tree as soon as it is
//! prepared, before its fsync, so that later requests are prepared against
//! it. Nothing derived from that state may leave the node before the fsync:
//! every outgoing message carries a barrier (the last zxid applied when it
//! was produced) and is released only once the log is durable up to it.
//! Barriers never decrease, so releasing in queue order keeps each
//! connection's replies FIFO and every watch event ahead of the replies that
//! follow its change.

use std::collections::{HashMap, VecDeque};

use proto::Zxid;

use crate::messages::{ConnectionId, Outbound, Outbox};

#[derive(Default)]
pub(crate) struct ReleaseQueue {
    held: VecDeque<(Zxid, ConnectionId, Outbound)>,
    durable: Zxid,
}

impl ReleaseQueue {
    pub(crate) fn new(durable: Zxid) -> Self {
        ReleaseQueue { held: VecDeque::new(), durable }
    }

    /// Queues `message` for `connection`, or sends it at once when nothing
    /// it could reflect is still waiting for an fsync.
    pub(crate) fn push(
        &mut self,
        barrier: Zxid,
        connection: ConnectionId,
        message: Outbound,
        outboxes: &HashMap<ConnectionId, Outbox>,
    ) {
        debug_assert!(self.held.back().is_none_or(|(last, _, _)| *last <= barrier));
        if self.held.is_empty() && barrier <= self.durable {
            send(outboxes, connection, message);
        } else {
            self.held.push_back((barrier, connection, message));
        }
    }

    /// The log is durable up to `zxid`: release everything that waited for it.
    /// The tree was rebuilt from storage at `zxid` (an ensemble member
    /// resynchronising with a new leader); nothing is held at that point.
    pub(crate) fn reset(&mut self, zxid: Zxid) {
        debug_assert!(self.held.is_empty(), "a member resyncs only after dropping its clients");
        self.held.clear();
        self.durable = zxid;
    }

    pub(crate) fn advance(&mut self, zxid: Zxid, outboxes: &HashMap<ConnectionId, Outbox>) {
        debug_assert!(zxid >= self.durable, "durable zxid went backwards");
        self.durable = zxid;
        while let Some((barrier, _, _)) = self.held.front() {
            if *barrier > self.durable {
                break;
            }
            let (_, connection, message) = self.held.pop_front().expect("front exists");
            send(outboxes, connection, message);
        }
    }
}

fn send(outboxes: &HashMap<ConnectionId, Outbox>, connection: ConnectionId, message: Outbound) {
    // A connection that closed meanwhile no longer wants its messages.
    if let Some(outbox) = outboxes.get(&connection) {
        let _ = outbox.send(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn close(reason: &'static str) -> Outbound {
        Outbound::Close { reason }
    }

    fn reason(message: Outbound) -> &'static str {
        match message {
            Outbound::Close { reason } => reason,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn messages_wait_for_their_barrier_and_keep_order() {
        let (outbox, mut received) = mpsc::unbounded_channel();
        let outboxes = HashMap::from([(7, outbox)]);
        let mut queue = ReleaseQueue::new(Zxid(10));
        queue.push(Zxid(10), 7, close("a"), &outboxes);
        assert_eq!(reason(received.try_recv().unwrap()), "a");
        queue.push(Zxid(12), 7, close("b"), &outboxes);
        // Barrier 12 is durable-safe already, but must not overtake "b".
        queue.push(Zxid(12), 7, close("c"), &outboxes);
        assert!(received.try_recv().is_err());
        queue.advance(Zxid(11), &outboxes);
        assert!(received.try_recv().is_err());
        queue.advance(Zxid(12), &outboxes);
        assert_eq!(reason(received.try_recv().unwrap()), "b");
        assert_eq!(reason(received.try_recv().unwrap()), "c");
    }

    #[test]
    fn messages_for_closed_connections_are_dropped() {
        let mut queue = ReleaseQueue::new(Zxid(0));
        queue.push(Zxid(1), 3, close("gone"), &HashMap::new());
        queue.advance(Zxid(1), &HashMap::new());
        assert!(queue.held.is_empty());
    }
}
