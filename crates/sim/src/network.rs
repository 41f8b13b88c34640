//! The simulated network: one FIFO link per ordered pair of servers (as a
//! TCP connection), each message delayed a random number of ticks but never
//! overtaking an earlier one on its link; links are delivered in random
//! order against each other. Faults: random loss and duplication of whole
//! messages, dropped connections (everything in flight on a link is lost),
//! and partitions, symmetric or one-way.
//!
//! A lost message breaks its link as it breaks a TCP connection: nothing
//! more gets through, either way, for `broken_link_ticks`, long enough for
//! both ends to time out and resynchronize. (ZAB does not retransmit within a connection,
//! so a single message lost from a stream that otherwise keeps flowing would
//! stall it for ever; no real transport loses messages that way.)

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use broadcast::ServerId;

use crate::rng::SimRng;

/// How unreliable the network is; rates are per mille of messages sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkConfig {
    pub delay_ticks_min: u64,
    pub delay_ticks_max: u64,
    pub loss_per_mille: u32,
    pub duplicate_per_mille: u32,
    /// How long a link stays broken after it lost a message, a partition
    /// across it healed, or its connection dropped.
    pub broken_link_ticks: u64,
}

impl NetworkConfig {
    /// A perfect network apart from delay: what runs after the faults stop.
    pub fn reliable(self) -> NetworkConfig {
        NetworkConfig { loss_per_mille: 0, duplicate_per_mille: 0, ..self }
    }
}

type Link = (ServerId, ServerId);

pub struct Network<M> {
    pub config: NetworkConfig,
    /// In flight, per link, with the tick each message arrives.
    links: BTreeMap<Link, VecDeque<(u64, M)>>,
    /// Links that lose everything sent on them (a partition).
    blocked: BTreeSet<Link>,
    /// Links that lose everything sent on them until the given tick.
    broken_until: BTreeMap<Link, u64>,
}

impl<M: Clone> Network<M> {
    pub fn new(config: NetworkConfig) -> Network<M> {
        Network {
            config,
            links: BTreeMap::new(),
            blocked: BTreeSet::new(),
            broken_until: BTreeMap::new(),
        }
    }

    pub fn send(&mut self, from: ServerId, to: ServerId, message: M, now: u64, rng: &mut SimRng) {
        let link = (from, to);
        let broken = self.broken_until.get(&link).is_some_and(|until| *until > now);
        if from == to || broken || self.blocked.contains(&link) {
            return;
        }
        if rng.chance(self.config.loss_per_mille) {
            self.break_link(link, now);
            return;
        }
        let copies = if rng.chance(self.config.duplicate_per_mille) { 2 } else { 1 };
        let delay = rng.between(self.config.delay_ticks_min, self.config.delay_ticks_max);
        let link = self.links.entry(link).or_default();
        // FIFO per link: never arrive before the message sent earlier.
        let arrival = link.back().map_or(now + delay, |(last, _)| (*last).max(now + delay));
        for _ in 0..copies {
            link.push_back((arrival, message.clone()));
        }
    }

    /// One message due by `now`, from a randomly chosen link whose head is due.
    pub fn pop_due(&mut self, now: u64, rng: &mut SimRng) -> Option<(ServerId, ServerId, M)> {
        let due: Vec<Link> = self
            .links
            .iter()
            .filter(|(_, queue)| queue.front().is_some_and(|(arrival, _)| *arrival <= now))
            .map(|(link, _)| *link)
            .collect();
        let link = rng.pick(&due)?;
        let (_, message) = self.links.get_mut(&link)?.pop_front()?;
        Some((link.0, link.1, message))
    }

    pub fn in_flight(&self) -> usize {
        self.links.values().map(VecDeque::len).sum()
    }

    /// A connection carries both directions: when it breaks, both go down.
    fn break_link(&mut self, (a, b): Link, now: u64) {
        for link in [(a, b), (b, a)] {
            self.links.remove(&link);
            self.broken_until.insert(link, now + self.config.broken_link_ticks);
        }
    }

    /// The connection between `a` and `b` breaks: what is in flight either way is lost.
    pub fn drop_connection(&mut self, a: ServerId, b: ServerId, now: u64) {
        self.break_link((a, b), now);
    }

    /// A server crashed: every connection to and from it is gone.
    pub fn disconnect(&mut self, server: ServerId) {
        self.links.retain(|(from, to), _| *from != server && *to != server);
    }

    /// Nothing from `from` reaches `to` until healed (a one-way partition).
    pub fn block(&mut self, from: ServerId, to: ServerId) {
        self.blocked.insert((from, to));
        self.links.remove(&(from, to));
    }

    /// No message crosses between the two sides, either way.
    pub fn partition(&mut self, side: &[ServerId], other: &[ServerId]) {
        for &a in side {
            for &b in other {
                self.block(a, b);
                self.block(b, a);
            }
        }
    }

    /// Lifts every partition; the links across it reconnect after `broken_link_ticks`.
    pub fn heal(&mut self, now: u64) {
        for link in std::mem::take(&mut self.blocked) {
            self.break_link(link, now);
        }
    }

    pub fn is_partitioned(&self) -> bool {
        !self.blocked.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ServerId = ServerId(1);
    const B: ServerId = ServerId(2);
    const C: ServerId = ServerId(3);

    fn config() -> NetworkConfig {
        NetworkConfig {
            delay_ticks_min: 1,
            delay_ticks_max: 5,
            loss_per_mille: 0,
            duplicate_per_mille: 0,
            broken_link_ticks: 10,
        }
    }

    fn drain(
        network: &mut Network<u32>,
        now: u64,
        rng: &mut SimRng,
    ) -> Vec<(ServerId, ServerId, u32)> {
        std::iter::from_fn(|| network.pop_due(now, rng)).collect()
    }

    #[test]
    fn each_link_is_fifo_despite_random_delays() {
        let mut rng = SimRng::new(3);
        let mut network = Network::new(config());
        for value in 0..50 {
            network.send(A, B, value, value as u64 / 5, &mut rng);
        }
        let delivered: Vec<u32> =
            drain(&mut network, 1_000, &mut rng).into_iter().map(|m| m.2).collect();
        assert_eq!(delivered, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn nothing_arrives_before_its_delay() {
        let mut rng = SimRng::new(4);
        let mut network =
            Network::new(NetworkConfig { delay_ticks_min: 3, delay_ticks_max: 3, ..config() });
        network.send(A, B, 1, 10, &mut rng);
        assert!(network.pop_due(12, &mut rng).is_none());
        assert_eq!(network.pop_due(13, &mut rng), Some((A, B, 1)));
    }

    #[test]
    fn links_interleave_in_seeded_random_order() {
        let orders: BTreeSet<Vec<ServerId>> = (0..20)
            .map(|seed| {
                let mut rng = SimRng::new(seed);
                let mut network = Network::new(config());
                network.send(A, C, 0, 0, &mut rng);
                network.send(B, C, 0, 0, &mut rng);
                drain(&mut network, 100, &mut rng).into_iter().map(|m| m.0).collect()
            })
            .collect();
        assert_eq!(orders.len(), 2, "both interleavings occur across seeds");
    }

    #[test]
    fn symmetric_partition_blocks_both_ways_until_healed() {
        let mut rng = SimRng::new(5);
        let mut network = Network::new(config());
        network.send(A, B, 1, 0, &mut rng);
        network.partition(&[A], &[B, C]);
        assert_eq!(network.in_flight(), 0, "in-flight messages across the cut are lost");
        network.send(A, B, 2, 0, &mut rng);
        network.send(C, A, 3, 0, &mut rng);
        network.send(B, C, 4, 0, &mut rng);
        assert_eq!(drain(&mut network, 100, &mut rng), vec![(B, C, 4)]);
        network.heal(100);
        network.send(A, B, 5, 109, &mut rng);
        assert!(drain(&mut network, 200, &mut rng).is_empty(), "reconnecting");
        network.send(A, B, 6, 110, &mut rng);
        assert_eq!(drain(&mut network, 200, &mut rng), vec![(A, B, 6)]);
    }

    #[test]
    fn one_way_partition_blocks_one_direction_only() {
        let mut rng = SimRng::new(6);
        let mut network = Network::new(config());
        network.block(A, B);
        network.send(A, B, 1, 0, &mut rng);
        network.send(B, A, 2, 0, &mut rng);
        assert_eq!(drain(&mut network, 100, &mut rng), vec![(B, A, 2)]);
    }

    #[test]
    fn loss_and_duplication_at_their_bounds() {
        let mut rng = SimRng::new(7);
        let mut lossy = Network::new(NetworkConfig { loss_per_mille: 1000, ..config() });
        lossy.send(A, B, 1, 0, &mut rng);
        assert_eq!(lossy.in_flight(), 0);
        lossy.config.loss_per_mille = 0;
        lossy.send(A, B, 2, 9, &mut rng);
        assert_eq!(lossy.in_flight(), 0, "the link is broken by the loss");
        lossy.send(B, A, 3, 9, &mut rng);
        assert_eq!(lossy.in_flight(), 0, "both directions of the connection are down");
        lossy.send(A, B, 4, 10, &mut rng);
        assert_eq!(lossy.in_flight(), 1, "and reconnects after broken_link_ticks");
        let mut doubling = Network::new(NetworkConfig { duplicate_per_mille: 1000, ..config() });
        doubling.send(A, B, 1, 0, &mut rng);
        assert_eq!(drain(&mut doubling, 100, &mut rng), vec![(A, B, 1), (A, B, 1)]);
    }

    #[test]
    fn dropped_connection_and_crash_lose_in_flight_messages() {
        let mut rng = SimRng::new(8);
        let mut network = Network::new(config());
        network.send(A, B, 1, 0, &mut rng);
        network.send(B, A, 2, 0, &mut rng);
        network.send(C, A, 3, 0, &mut rng);
        network.drop_connection(A, B, 0);
        assert_eq!(network.in_flight(), 1);
        network.send(A, B, 4, 5, &mut rng);
        assert_eq!(network.in_flight(), 1, "a dropped connection takes time to come back");
        network.disconnect(A);
        assert_eq!(network.in_flight(), 0);
    }
}
