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

use bytes::Bytes;
use datatree::SnapshotView;
use proto::Zxid;
use storage::{SnapshotStore, TxnLog};
use tokio::sync::mpsc;

/// How much of a snapshot is encoded before it is handed to the store: a snapshot is
/// never whole in memory (a 500,000-znode one is about 100 MB), only this much of it.
pub const SNAPSHOT_PIECE_BYTES: usize = storage::SNAPSHOT_BYTES_PER_COMMIT;

/// Snapshots kept on disk; older ones are deleted after a new one is saved.
pub const SNAPSHOTS_RETAINED: usize = 2;

/// Work for the durability thread, in the order the processor produced it.
pub(crate) enum DurabilityJob {
    /// Encoded txns, zxids increasing. Shared with the proposals that carry
    /// them, so logging copies no payload.
    Append(Vec<(Zxid, Bytes)>),
    /// A snapshot of the tree as of `zxid`; every txn up to `zxid` was
    /// appended before this job, so after saving it the log below it can go.
    /// It is encoded on the snapshot thread, not on the request path.
    Snapshot { zxid: Zxid, view: SnapshotView },
}

/// What the durability thread reports back to the processor.
#[derive(Debug)]
pub(crate) enum DurabilityEvent {
    /// Every txn up to and including `zxid` is on stable storage. The
    /// generation tells a report of the current storage from a late one of
    /// storage since rebuilt (see [`Durability::restart`]).
    Durable { generation: u64, zxid: Zxid },
    /// Storage failed; nothing after the last `Durable` may be acknowledged.
    Failed(String),
}

/// The processor's side of the durability thread.
pub(crate) struct Durability {
    jobs: std_mpsc::Sender<DurabilityJob>,
    thread: Option<thread::JoinHandle<()>>,
    events: mpsc::UnboundedSender<DurabilityEvent>,
    generation: u64,
}

impl Durability {
    pub(crate) fn spawn(
        log: Box<dyn TxnLog>,
        snapshots: Box<dyn SnapshotStore>,
        events: mpsc::UnboundedSender<DurabilityEvent>,
    ) -> Durability {
        let (jobs, thread) = Self::spawn_threads(log, snapshots, events.clone(), 0);
        Durability { jobs, thread: Some(thread), events, generation: 0 }
    }

    /// The generation whose `Durable` reports are current.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Finishes every submitted job, closes the storage, lets `rebuild` open
    /// and change it (truncate the log, install a snapshot) and hand back
    /// the new handles, and continues on them under a new generation.
    pub(crate) fn restart<E>(
        &mut self,
        rebuild: impl FnOnce() -> Result<(Box<dyn TxnLog>, Box<dyn SnapshotStore>), E>,
    ) -> Result<(), E> {
        self.join();
        let (log, snapshots) = rebuild()?;
        self.generation += 1;
        let (jobs, thread) =
            Self::spawn_threads(log, snapshots, self.events.clone(), self.generation);
        self.jobs = jobs;
        self.thread = Some(thread);
        Ok(())
    }

    fn join(&mut self) {
        let (jobs, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.jobs, jobs));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn spawn_threads(
        mut log: Box<dyn TxnLog>,
        snapshots: Box<dyn SnapshotStore>,
        events: mpsc::UnboundedSender<DurabilityEvent>,
        generation: u64,
    ) -> (std_mpsc::Sender<DurabilityJob>, thread::JoinHandle<()>) {
        let (jobs, inbox) = std_mpsc::channel::<DurabilityJob>();
        let thread = thread::Builder::new()
            .name("herald-durability".into())
            .spawn(move || {
                let snapshot = spawn_snapshot_thread(snapshots, events.clone());
                let reporter = Reporter { events: events.clone(), generation };
                let result = run(&mut *log, &snapshot.to_save, &snapshot.purges, &inbox, &reporter);
                // Let the snapshot in progress finish; its purge waits for the next start.
                drop(snapshot.to_save);
                let _ = snapshot.thread.join();
                if let Err(error) = result {
                    tracing::error!(%error, "storage failed; the node stops acknowledging writes");
                    let _ = events.send(DurabilityEvent::Failed(error.to_string()));
                }
            })
            .expect("spawning the durability thread");
        (jobs, thread)
    }

    pub(crate) fn submit(&self, job: DurabilityJob) {
        // A closed channel means the thread already failed and reported it.
        let _ = self.jobs.send(job);
    }

    /// Waits until every submitted job is done (used at shutdown).
    pub(crate) fn finish(mut self) {
        self.join();
    }
}

/// The durability thread's handles on the snapshot thread.
struct SnapshotThread {
    thread: thread::JoinHandle<()>,
    /// Snapshots to save, with the zxid they are as of.
    to_save: std_mpsc::Sender<(Zxid, SnapshotView)>,
    /// Zxids of saved snapshots: the log below each may be purged.
    purges: std_mpsc::Receiver<Zxid>,
}

/// Saving a snapshot takes as long as the tree is big; it runs on its own
/// thread so the log keeps appending and fsyncing (and writes keep being
/// acknowledged) meanwhile. Each saved snapshot comes back as the zxid below
/// which the log may be purged.
fn spawn_snapshot_thread(
    mut snapshots: Box<dyn SnapshotStore>,
    events: mpsc::UnboundedSender<DurabilityEvent>,
) -> SnapshotThread {
    let (to_save, saves) = std_mpsc::channel::<(Zxid, SnapshotView)>();
    let (saved, purges) = std_mpsc::channel::<Zxid>();
    let thread = thread::Builder::new()
        .name("herald-snapshot".into())
        .spawn(move || {
            for (zxid, view) in saves {
                let started = std::time::Instant::now();
                let mut bytes = 0;
                let result = snapshots
                    .begin(zxid.0)
                    .and_then(|mut sink| {
                        view.encode_in_pieces(SNAPSHOT_PIECE_BYTES, |piece| {
                            bytes += piece.len();
                            sink.write(piece)
                        })?;
                        sink.finish()
                    })
                    .and_then(|()| snapshots.retain(SNAPSHOTS_RETAINED));
                match result {
                    Ok(()) => {
                        let elapsed_ms = started.elapsed().as_millis() as u64;
                        tracing::info!(%zxid, bytes, elapsed_ms, "snapshot saved");
                        crate::memory::return_free_memory();
                        let _ = saved.send(zxid);
                    }
                    Err(error) => {
                        tracing::error!(%error, "saving a snapshot failed");
                        let _ = events.send(DurabilityEvent::Failed(error.to_string()));
                        return;
                    }
                }
            }
        })
        .expect("spawning the snapshot thread");
    SnapshotThread { thread, to_save, purges }
}

/// Reports durability under the generation of the storage it is about.
struct Reporter {
    events: mpsc::UnboundedSender<DurabilityEvent>,
    generation: u64,
}

fn run(
    log: &mut dyn TxnLog,
    to_save: &std_mpsc::Sender<(Zxid, SnapshotView)>,
    purges: &std_mpsc::Receiver<Zxid>,
    inbox: &std_mpsc::Receiver<DurabilityJob>,
    events: &Reporter,
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
                DurabilityJob::Snapshot { zxid, view } => {
                    // Everything the snapshot reflects is durable before it is saved.
                    sync_and_report(log, &mut unsynced, events)?;
                    let _ = to_save.send((zxid, view));
                }
            }
            job = inbox.try_recv().ok();
        }
        sync_and_report(log, &mut unsynced, events)?;
        while let Ok(zxid) = purges.try_recv() {
            log.purge_before(zxid.0)?;
        }
    }
    Ok(())
}

fn sync_and_report(
    log: &mut dyn TxnLog,
    unsynced: &mut Option<Zxid>,
    reporter: &Reporter,
) -> Result<(), storage::StorageError> {
    if let Some(zxid) = unsynced.take() {
        log.sync()?;
        let generation = reporter.generation;
        let _ = reporter.events.send(DurabilityEvent::Durable { generation, zxid });
    }
    Ok(())
}
