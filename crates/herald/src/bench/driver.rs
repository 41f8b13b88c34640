//! The closed loop every worker runs: claim an operation, time it, record it, repeat
//! until the run control says stop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use hdrhistogram::Histogram;
use tokio::task::JoinHandle;

use super::control::{RunControl, latency_histogram, micros};
use super::{Finished, Run};

/// Pause after a failed operation, so a worker facing a dead server (an election, a
/// restart) does not spin; short enough not to blur `max_gap_ms`.
pub const ERROR_BACKOFF: Duration = Duration::from_millis(2);

/// One kind of timed request, repeated by a worker.
pub trait Operation: Send + 'static {
    fn run_once(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Gives back what the operation holds (a lease, say) once the clock has stopped;
    /// best effort, never timed.
    fn clean_up(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
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

/// The run of `operations`, one worker each: measured until the run ends, then each
/// operation cleaned up after the clock stopped.
pub fn run_workers<O: Operation>(operations: Vec<O>) -> Run {
    Box::new(move |control| {
        async move {
            let (histogram, mut operations) = collect(spawn_workers(&control, operations)).await?;
            let finished = Finished::now(histogram);
            for operation in &mut operations {
                operation.clean_up().await;
            }
            Ok(finished)
        }
        .boxed()
    })
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

    /// Counts its calls into shared counters, so the test sees them after the run.
    struct Counted {
        runs: Arc<std::sync::atomic::AtomicU64>,
        cleaned: Arc<std::sync::atomic::AtomicU64>,
    }

    impl Operation for Counted {
        async fn run_once(&mut self) -> anyhow::Result<()> {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        }

        async fn clean_up(&mut self) {
            // Cleanup starts only once every worker has stopped running.
            assert_eq!(self.runs.load(std::sync::atomic::Ordering::Relaxed), 6);
            self.cleaned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_operation_is_cleaned_up_once_after_the_run() {
        let (runs, cleaned) = (Arc::default(), Arc::<std::sync::atomic::AtomicU64>::default());
        let operations = (0..3)
            .map(|_| Counted { runs: Arc::clone(&runs), cleaned: Arc::clone(&cleaned) })
            .collect();
        let finished =
            run_workers(operations)(Arc::new(RunControl::new(None, Some(6)))).await.unwrap();
        assert_eq!(finished.histogram.len(), 6);
        assert_eq!(cleaned.load(std::sync::atomic::Ordering::Relaxed), 3);
    }
}
