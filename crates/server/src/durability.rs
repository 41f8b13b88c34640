//! The durability stage: a dedicated thread that appends txns to the log,
//! fsyncs them, and writes snapshots.
//!
//! Group commit falls out of the structure: while one fsync is in flight the
//! processor keeps queueing batches, and the thread drains every queued batch
//! before its next fsync, so the number of txns per fsync grows with load and
//! is one under no load. A storage error is fatal: a node that cannot make a
//! write durable must not acknowledge it, so it reports the failure and stops.

use std::sync::mpsc as std_mpsc;
use std::thread;

use proto::Zxid;
use storage::{SnapshotStore, TxnLog};
use tokio::sync::mpsc;

/// Snapshots kept on disk; older ones are deleted after a new one is saved.
pub const SNAPSHOTS_RETAINED: usize = 2;

/// Work for the durability thread, in the order the processor produced it.
pub(crate) enum DurabilityJob {
    /// Encoded txns, zxids increasing.
    Append(Vec<(Zxid, Vec<u8>)>),
    /// A snapshot of the tree as of `zxid`; every txn up to `zxid` was
    /// appended before this job, so after saving it the log below it can go.
    Snapshot { zxid: Zxid, bytes: Vec<u8> },
}

/// What the durability thread reports back to the processor.
#[derive(Debug)]
pub(crate) enum DurabilityEvent {
    /// Every txn up to and including this zxid is on stable storage.
    Durable(Zxid),
    /// Storage failed; nothing after the last `Durable` may be acknowledged.
    Failed(String),
}

/// The processor's side of the durability thread.
pub(crate) struct Durability {
    jobs: std_mpsc::Sender<DurabilityJob>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Durability {
    pub(crate) fn spawn(
        mut log: Box<dyn TxnLog>,
        mut snapshots: Box<dyn SnapshotStore>,
        events: mpsc::UnboundedSender<DurabilityEvent>,
    ) -> Durability {
        let (jobs, inbox) = std_mpsc::channel::<DurabilityJob>();
        let thread = thread::Builder::new()
            .name("herald-durability".into())
            .spawn(move || {
                if let Err(error) = run(&mut *log, &mut *snapshots, &inbox, &events) {
                    tracing::error!(%error, "storage failed; the node stops acknowledging writes");
                    let _ = events.send(DurabilityEvent::Failed(error.to_string()));
                }
            })
            .expect("spawning the durability thread");
        Durability { jobs, thread: Some(thread) }
    }

    pub(crate) fn submit(&self, job: DurabilityJob) {
        // A closed channel means the thread already failed and reported it.
        let _ = self.jobs.send(job);
    }

    /// Waits until every submitted job is done (used at shutdown).
    pub(crate) fn finish(mut self) {
        let (jobs, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, jobs));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    log: &mut dyn TxnLog,
    snapshots: &mut dyn SnapshotStore,
    inbox: &std_mpsc::Receiver<DurabilityJob>,
    events: &mpsc::UnboundedSender<DurabilityEvent>,
) -> Result<(), storage::StorageError> {
    while let Ok(first) = inbox.recv() {
        let mut unsynced: Option<Zxid> = None;
        let mut job = Some(first);
        while let Some(current) = job.take() {
            match current {
                DurabilityJob::Append(records) => {
                    for (zxid, payload) in &records {
                        log.append(zxid.0, payload)?;
                        unsynced = Some(*zxid);
                    }
                }
                DurabilityJob::Snapshot { zxid, bytes } => {
                    sync_and_report(log, &mut unsynced, events)?;
                    snapshots.save(zxid.0, &bytes)?;
                    snapshots.retain(SNAPSHOTS_RETAINED)?;
                    log.purge_before(zxid.0)?;
                    tracing::info!(%zxid, bytes = bytes.len(), "snapshot saved");
                }
            }
            job = inbox.try_recv().ok();
        }
        sync_and_report(log, &mut unsynced, events)?;
    }
    Ok(())
}

fn sync_and_report(
    log: &mut dyn TxnLog,
    unsynced: &mut Option<Zxid>,
    events: &mpsc::UnboundedSender<DurabilityEvent>,
) -> Result<(), storage::StorageError> {
    if let Some(zxid) = unsynced.take() {
        log.sync()?;
        let _ = events.send(DurabilityEvent::Durable(zxid));
    }
    Ok(())
}
