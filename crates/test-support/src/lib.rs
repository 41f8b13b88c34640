//! Helpers that tests in more than one crate need; only ever a
//! dev-dependency.
//!
//! - [`free_port`]: a loopback port to name before anything binds it.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// First port [`free_port`] picks from: below Linux's ephemeral range
/// (32768 and up), which the kernel hands to outgoing connections and to
/// binds of port 0.
const PICKED_PORTS_FIRST: u16 = 20_000;
/// How many ports from [`PICKED_PORTS_FIRST`] on it picks from.
const PICKED_PORTS_SPAN: u16 = 12_000;

/// A loopback port nothing listens on right now, for addresses that must be
/// known before anything binds them (an ensemble's peer ports). A port from
/// binding port 0 and letting go could be handed, before the member binds
/// it, to an outgoing connection of a test running in parallel; these are
/// picked outside that range. A counter keeps one process's picks apart and
/// the process id spreads test binaries over the range.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 120) as u16 * 100;
    for _ in 0..PICKED_PORTS_SPAN {
        let offset =
            (start + NEXT.fetch_add(1, Ordering::Relaxed) % PICKED_PORTS_SPAN) % PICKED_PORTS_SPAN;
        let port = PICKED_PORTS_FIRST + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_bindable_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!((PICKED_PORTS_FIRST..PICKED_PORTS_FIRST + PICKED_PORTS_SPAN).contains(&port));
            TcpListener::bind(("127.0.0.1", port)).expect("still free");
        }
    }
}
