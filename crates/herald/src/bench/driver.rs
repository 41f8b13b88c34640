//! The closed loop every worker runs: claim an operation, time it, record it, repeat
//! until the run control says stop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::task::JoinHandle;

use super::control::{RunControl, latency_histogram, micros};

/// Pause after a failed operation, so a worker facing a dead server (an election, a
/// restart) does not spin; short enough not to blur `max_gap_ms`.
pub const ERROR_BACKOFF: Duration = Duration::from_millis(2);

/// One kind of timed request, repeated by a worker.
pub trait Operation: Send + 'static {
    fn run_once(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Runs `operation` until the run ends; returns its latencies in microseconds, and the
/// operation for cleanup.
pub async fn drive<O: Operation>(
    control: Arc<RunControl>,
    mut operation: O,
) -> (Histogram<u64>, O) {
    let mut histogram = latency_histogram();
    while control.claim(1) {
        let started = Instant::now();
        match operation.run_once().await {
            Ok(()) => {
                histogram.saturating_record(micros(started.elapsed()));
                control.succeeded(1);
            }
            Err(error) => {
                control.failed(1, &error);
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
    (histogram, operation)
}

/// Spawns one driven worker per operation.
pub fn spawn_workers<O: Operation>(
    control: &Arc<RunControl>,
    operations: impl IntoIterator<Item = O>,
) -> Vec<JoinHandle<(Histogram<u64>, O)>> {
    operations
        .into_iter()
        .map(|operation| tokio::spawn(drive(control.clone(), operation)))
        .collect()
}

/// Waits for the workers; returns their merged histogram and their operations.
pub async fn collect<O>(
    workers: Vec<JoinHandle<(Histogram<u64>, O)>>,
) -> anyhow::Result<(Histogram<u64>, Vec<O>)> {
    let mut histogram = latency_histogram();
    let mut operations = Vec::with_capacity(workers.len());
    for worker in workers {
        let (worker_histogram, operation) = worker.await?;
        histogram.add(worker_histogram).expect("histograms with the same bounds");
        operations.push(operation);
    }
    Ok((histogram, operations))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails every third call.
    struct Flaky {
        calls: u64,
    }

    impl Operation for Flaky {
        async fn run_once(&mut self) -> anyhow::Result<()> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) { Err(anyhow::anyhow!("flaky")) } else { Ok(()) }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_ops_budget_counts_successes_and_errors_do_not_stop_the_run() {
        let control = Arc::new(RunControl::new(None, Some(10)));
        let workers = spawn_workers(&control, [Flaky { calls: 0 }, Flaky { calls: 1 }]);
        let (histogram, operations) = collect(workers).await.unwrap();
        assert_eq!(operations.len(), 2);
        assert_eq!(histogram.len(), 10);
        assert_eq!(control.completed(), 10);
        assert!(control.errors() >= 4, "{} errors", control.errors());
    }
}
