//! When a run stops and what it counted: the operations budget or deadline, successes,
//! errors (counted, never fatal) and the longest gap between successes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Latencies recorded, in microseconds: 1 µs to one minute, 3 significant digits.
pub const LATENCY_MICROS_MAX: u64 = 60_000_000;

pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MICROS_MAX, 3).expect("valid histogram bounds")
}

pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Shared by every worker of one run.
pub struct RunControl {
    started: Instant,
    deadline: Option<Instant>,
    ops_budget: Option<u64>,
    /// Operations claimed and not given back: successes plus those in flight.
    claimed: AtomicU64,
    stopped: AtomicBool,
    completed: AtomicU64,
    errors: AtomicU64,
    /// Microseconds from the start to the latest success seen.
    last_success_micros: AtomicU64,
    max_gap_micros: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl RunControl {
    pub fn new(time_limit: Option<Duration>, ops_budget: Option<u64>) -> RunControl {
        RunControl::starting_at(Instant::now(), time_limit, ops_budget)
    }

    fn starting_at(
        started: Instant,
        time_limit: Option<Duration>,
        ops_budget: Option<u64>,
    ) -> RunControl {
        RunControl {
            started,
            deadline: time_limit.map(|limit| started + limit),
            ops_budget,
            claimed: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_success_micros: AtomicU64::new(0),
            max_gap_micros: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn ops_budget(&self) -> Option<u64> {
        self.ops_budget
    }

    /// May a worker start `count` more operations? False once the deadline passed, the
    /// run was stopped, or the budget is spoken for.
    pub fn claim(&self, count: u64) -> bool {
        if self.stopped.load(Ordering::Relaxed)
            || self.deadline.is_some_and(|deadline| Instant::now() >= deadline)
        {
            return false;
        }
        let Some(budget) = self.ops_budget else { return true };
        let before = self.claimed.fetch_add(count, Ordering::Relaxed);
        if before.saturating_add(count) > budget {
            self.claimed.fetch_sub(count, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Ends the run early (ctrl-c): every later `claim` is refused.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// `count` claimed operations succeeded now.
    pub fn succeeded(&self, count: u64) {
        self.succeeded_at(Instant::now(), count);
    }

    fn succeeded_at(&self, now: Instant, count: u64) {
        self.completed.fetch_add(count, Ordering::Relaxed);
        let at = micros(now.saturating_duration_since(self.started));
        // Completions from several workers may land out of order: only one that moves
        // the latest success forward closes a gap.
        let previous = self.last_success_micros.fetch_max(at, Ordering::Relaxed);
        if at > previous {
            self.max_gap_micros.fetch_max(at - previous, Ordering::Relaxed);
        }
    }

    /// `count` claimed operations failed: counted, and given back to the budget so that
    /// `--ops N` still means N successes.
    pub fn failed(&self, count: u64, error: &anyhow::Error) {
        self.errors.fetch_add(count, Ordering::Relaxed);
        if self.ops_budget.is_some() {
            self.claimed.fetch_sub(count, Ordering::Relaxed);
        }
        let mut first = self.first_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert_with(|| format!("{error:#}"));
    }

    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The longest stretch without a success: between two consecutive successes, from
    /// the start to the first, and from the last to `ended` (so a run that never
    /// recovered shows its whole outage).
    pub fn max_gap(&self, ended: Instant) -> Duration {
        let end = micros(ended.saturating_duration_since(self.started));
        let last = self.last_success_micros.load(Ordering::Relaxed);
        let tail = end.saturating_sub(last);
        Duration::from_micros(self.max_gap_micros.load(Ordering::Relaxed).max(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_admits_exactly_n_and_failures_give_theirs_back() {
        let control = RunControl::new(None, Some(3));
        assert!(control.claim(1));
        assert!(control.claim(2));
        assert!(!control.claim(1));
        control.failed(1, &anyhow::anyhow!("connection loss"));
        assert!(control.claim(1), "a failed operation frees its place in the budget");
        assert!(!control.claim(1));
        assert_eq!(control.errors(), 1);
        assert_eq!(control.first_error().as_deref(), Some("connection loss"));
    }

    #[test]
    fn a_claim_bigger_than_what_is_left_is_refused_whole() {
        let control = RunControl::new(None, Some(5));
        assert!(control.claim(4));
        assert!(!control.claim(2));
        assert!(control.claim(1));
    }

    #[test]
    fn without_a_budget_the_deadline_or_stop_ends_the_run() {
        let control = RunControl::new(Some(Duration::from_secs(3600)), None);
        assert!(control.claim(1_000_000));
        control.stop();
        assert!(control.is_stopped());
        assert!(!control.claim(1));
        let expired = RunControl::new(Some(Duration::ZERO), None);
        assert!(!expired.claim(1));
    }

    #[test]
    fn max_gap_is_the_longest_stretch_between_successes_including_both_ends() {
        let start = Instant::now();
        let control = RunControl::starting_at(start, None, None);
        let at = |ms: u64| start + Duration::from_millis(ms);
        control.succeeded_at(at(10), 1);
        control.succeeded_at(at(20), 1);
        control.succeeded_at(at(270), 1);
        // Out of order: a worker reporting an earlier completion late closes no gap.
        control.succeeded_at(at(100), 1);
        control.succeeded_at(at(300), 1);
        assert_eq!(control.max_gap(at(310)), Duration::from_millis(250));
        assert_eq!(control.max_gap(at(1_000)), Duration::from_millis(700), "the tail counts");
        assert_eq!(control.completed(), 5);
    }

    #[test]
    fn the_gap_before_the_first_success_counts() {
        let start = Instant::now();
        let control = RunControl::starting_at(start, None, None);
        control.succeeded_at(start + Duration::from_millis(400), 1);
        control.succeeded_at(start + Duration::from_millis(401), 1);
        assert_eq!(control.max_gap(start + Duration::from_millis(401)), Duration::from_millis(400));
    }
}
