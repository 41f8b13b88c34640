//! Exponential reconnect backoff with jitter, as plain arithmetic: the caller
//! supplies the random draw so the schedule is testable and replayable.

/// Delays between dial attempts to one peer.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    min_ms: u64,
    max_ms: u64,
    /// Upper end of the next delay; doubles per failure up to `max_ms`.
    ceiling_ms: u64,
}

impl ReconnectBackoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Self {
        ReconnectBackoff { min_ms, max_ms, ceiling_ms: min_ms }
    }

    /// The delay before the next attempt. `jitter` in `[0, 1)` spreads it over
    /// the upper half of the ceiling ("equal jitter"), so peers that failed
    /// together do not redial in lockstep yet the wait still grows.
    pub fn next_delay_ms(&mut self, jitter: f64) -> u64 {
        let jitter = jitter.clamp(0.0, 1.0);
        let half = self.ceiling_ms / 2;
        let delay = (half + ((self.ceiling_ms - half) as f64 * jitter) as u64).max(self.min_ms);
        self.ceiling_ms = self.ceiling_ms.saturating_mul(2).min(self.max_ms);
        delay.min(self.max_ms)
    }

    /// A connection succeeded: the next failure starts from the minimum again.
    pub fn reset(&mut self) {
        self.ceiling_ms = self.min_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_max() {
        let mut backoff = ReconnectBackoff::new(100, 1_000);
        let delays: Vec<u64> = (0..6).map(|_| backoff.next_delay_ms(1.0)).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn jitter_stays_within_the_upper_half_and_the_bounds() {
        let mut backoff = ReconnectBackoff::new(100, 1_000);
        assert_eq!(backoff.next_delay_ms(0.0), 100, "never below the minimum");
        assert_eq!(backoff.next_delay_ms(0.0), 100);
        assert_eq!(backoff.next_delay_ms(0.5), 300, "ceiling 400: 200 + half of 200");
        assert_eq!(backoff.next_delay_ms(0.0), 400, "half of ceiling 800");
        for _ in 0..10 {
            assert_eq!(backoff.next_delay_ms(0.0), 500, "half of the capped ceiling");
        }
    }

    #[test]
    fn reset_returns_to_the_minimum() {
        let mut backoff = ReconnectBackoff::new(100, 1_000);
        for _ in 0..5 {
            backoff.next_delay_ms(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(1.0), 100);
    }
}
