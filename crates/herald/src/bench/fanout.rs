//! Fan-out rounds shared by watch-fanout and rest-config-stream: one writer writes round
//! R, every watcher reports when it saw R, and the next round starts only when all have
//! (or the round timed out), so no watcher is ever between two rounds.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use super::control::{RunControl, latency_histogram, micros};
use super::driver::ERROR_BACKOFF;
use super::{Finished, Run};

/// How long a round waits for its notifications; those missing count as errors.
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(10);
/// The round the writer leaves before watchers subscribe.
pub const INITIAL_ROUND: u64 = 0;

/// A watcher's report: it is (again) watching, and the value it read is `round`.
/// `seen_at` is when it was notified of that round (None: it only (re)subscribed, so it
/// may have missed the round's notification).
#[derive(Debug, Clone, Copy)]
pub struct Sighting {
    pub round: u64,
    pub seen_at: Option<Instant>,
}

/// Writes the watched value for one round.
pub trait RoundWriter: Send + 'static {
    fn write(&mut self, round: u64) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The value a round writes: its number, padded to `value_bytes` with spaces.
pub fn round_value(round: u64, value_bytes: usize) -> String {
    format!("{round:<value_bytes$}")
}

/// Reads the round back from a written value.
pub fn parse_round(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// The sightings of one round.
struct RoundOutcome {
    latencies: Vec<Duration>,
    /// Watchers that reported the round without a notification time (they resubscribed).
    unnotified: u64,
    /// Watchers that did not report the round in time.
    silent: u64,
}

impl RoundOutcome {
    fn missed(&self) -> u64 {
        self.unnotified + self.silent
    }
}

async fn await_round(
    sightings: &mut UnboundedReceiver<Sighting>,
    round: u64,
    issued: Instant,
    watchers: usize,
) -> RoundOutcome {
    let deadline = tokio::time::Instant::from_std(issued + ROUND_TIMEOUT);
    let mut outcome =
        RoundOutcome { latencies: Vec::with_capacity(watchers), unnotified: 0, silent: 0 };
    let mut reported = 0;
    while reported < watchers {
        match tokio::time::timeout_at(deadline, sightings.recv()).await {
            Ok(Some(Sighting { round: seen, seen_at })) if seen == round => {
                reported += 1;
                match seen_at {
                    Some(at) => outcome.latencies.push(at.saturating_duration_since(issued)),
                    None => outcome.unnotified += 1,
                }
            }
            // A late report of an earlier round.
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    outcome.silent = (watchers - reported) as u64;
    outcome
}

/// Waits until every watcher has subscribed (reported `INITIAL_ROUND`), then runs one
/// unmeasured round so that the first measured one finds every subscription warm.
pub async fn warm_up(
    writer: &mut impl RoundWriter,
    sightings: &mut UnboundedReceiver<Sighting>,
    watchers: usize,
) -> anyhow::Result<()> {
    let subscribed = await_round(sightings, INITIAL_ROUND, Instant::now(), watchers).await;
    anyhow::ensure!(
        subscribed.silent == 0,
        "{} of {watchers} watchers did not subscribe within {ROUND_TIMEOUT:?}",
        subscribed.silent
    );
    let round = INITIAL_ROUND + 1;
    writer.write(round).await?;
    let outcome = await_round(sightings, round, Instant::now(), watchers).await;
    anyhow::ensure!(
        outcome.missed() == 0,
        "{} of {watchers} watchers missed the warm-up round within {ROUND_TIMEOUT:?}",
        outcome.missed()
    );
    Ok(())
}

/// The measured part of a fan-out workload, once `warm_up` is done: rounds until the run
/// ends, one watcher per task in `watchers`, whose tasks are then stopped.
pub fn run<T: Send + 'static>(
    writer: impl RoundWriter,
    sightings: UnboundedReceiver<Sighting>,
    watchers: Vec<JoinHandle<T>>,
) -> Run {
    Box::new(move |control| {
        async move {
            let histogram = drive_rounds(control, writer, sightings, watchers.len()).await;
            let finished = Finished::now(histogram);
            for watcher in watchers {
                watcher.abort();
            }
            Ok(finished)
        }
        .boxed()
    })
}

/// Runs measured rounds (after `warm_up`) until the control says stop; one operation per
/// watcher notified.
pub async fn drive_rounds(
    control: Arc<RunControl>,
    mut writer: impl RoundWriter,
    mut sightings: UnboundedReceiver<Sighting>,
    watchers: usize,
) -> Histogram<u64> {
    let mut histogram = latency_histogram();
    let mut round = INITIAL_ROUND + 2;
    while control.claim(watchers as u64) {
        let issued = Instant::now();
        if let Err(error) = writer.write(round).await {
            control.failed(watchers as u64, &error);
            tokio::time::sleep(ERROR_BACKOFF).await;
            round += 1;
            continue;
        }
        let outcome = await_round(&mut sightings, round, issued, watchers).await;
        for latency in &outcome.latencies {
            histogram.saturating_record(micros(*latency));
        }
        control.succeeded(outcome.latencies.len() as u64);
        if outcome.missed() > 0 {
            let error = anyhow::anyhow!(
                "{} of {watchers} watchers were not notified of round {round} within \
                 {ROUND_TIMEOUT:?}",
                outcome.missed()
            );
            control.failed(outcome.missed(), &error);
        }
        round += 1;
    }
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    /// Each write is "seen" at once by `seeing` of the watchers.
    struct Echo {
        sightings: mpsc::UnboundedSender<Sighting>,
        seeing: usize,
    }

    impl RoundWriter for Echo {
        async fn write(&mut self, round: u64) -> anyhow::Result<()> {
            for _ in 0..self.seeing {
                let _ = self.sightings.send(Sighting { round, seen_at: Some(Instant::now()) });
            }
            Ok(())
        }
    }

    #[test]
    fn round_values_round_trip_at_any_padding() {
        assert_eq!(round_value(42, 6), "42    ");
        assert_eq!(round_value(123_456, 2), "123456");
        assert_eq!(parse_round(&round_value(7, 100)), Some(7));
        assert_eq!(parse_round("x"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn every_watcher_notified_is_one_operation() {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        for _ in 0..3 {
            sender.send(Sighting { round: INITIAL_ROUND, seen_at: None }).unwrap();
        }
        let mut writer = Echo { sightings: sender, seeing: 3 };
        warm_up(&mut writer, &mut receiver, 3).await.unwrap();
        let control = Arc::new(RunControl::new(None, Some(30)));
        let histogram = drive_rounds(control.clone(), writer, receiver, 3).await;
        assert_eq!(histogram.len(), 30);
        assert_eq!(control.errors(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn warm_up_fails_clearly_when_a_watcher_never_subscribes() {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        sender.send(Sighting { round: INITIAL_ROUND, seen_at: None }).unwrap();
        let mut writer = Echo { sightings: sender, seeing: 2 };
        let error = warm_up(&mut writer, &mut receiver, 2).await.unwrap_err();
        assert!(error.to_string().contains("1 of 2 watchers did not subscribe"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_watcher_that_never_reports_counts_as_an_error_after_the_round_timeout() {
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = Echo { sightings: sender, seeing: 2 };
        let control = Arc::new(RunControl::new(None, Some(6)));
        let histogram = drive_rounds(control.clone(), writer, receiver, 3).await;
        // Each round claims 3 and gives the missing one back: rounds at 0 and 2 claimed
        // fit the budget of 6, the third (4 + 3) does not.
        assert_eq!(histogram.len(), 4);
        assert_eq!(control.errors(), 2);
        assert!(control.first_error().unwrap().contains("1 of 3 watchers"));
    }
}
