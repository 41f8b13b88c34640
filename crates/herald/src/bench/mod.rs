//! `herald bench`: a load generator for ZooKeeper-protocol servers (Herald or Apache
//! ZooKeeper, through the same `zookeeper-client`), Herald's REST gateway and etcd's
//! lock API, so each is measured with the same closed-loop client.
//!
//! - `args`: flags, workloads and their bounds.
//! - `control`: when a run stops (`--ops` or `--duration-secs`), error and gap counting.
//! - `driver`: the per-worker loop (claim, time, record) and histogram merging.
//! - `zk`: ZooKeeper request workloads, multi and ephemeral churn.
//! - `fanout`: rounds of one writer and many watchers, measured per notification.
//! - `zk_fanout`: watch fan-out (one writer, many watching sessions).
//! - `http`: per-worker HTTP clients and checked JSON calls.
//! - `rest`: REST gateway workloads (locks, queues, config writes).
//! - `rest_stream`: config change-stream fan-out over Server-Sent Events.
//! - `etcd`: the lock workload against etcd's JSON gateway, and its encoding.
//! - `progress`: the stderr progress bar.
//! - `report`: the summary, as text or JSON.

mod args;
mod control;
mod driver;
mod etcd;
mod fanout;
mod http;
mod progress;
mod report;
mod rest;
mod rest_stream;
mod zk;
mod zk_fanout;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use hdrhistogram::Histogram;

pub use args::BenchArgs;
use args::{Family, Workload};
use control::RunControl;
use progress::Progress;
use report::{Shape, Summary};

/// A workload that is set up and connected: given the run control, it runs until the
/// control says stop and reports what it measured.
pub(crate) type Run =
    Box<dyn FnOnce(Arc<RunControl>) -> BoxFuture<'static, anyhow::Result<Finished>> + Send>;

/// What a run measured, and when its last worker ended (before any cleanup).
pub(crate) struct Finished {
    histogram: Histogram<u64>,
    ended: Instant,
}

impl Finished {
    pub(crate) fn now(histogram: Histogram<u64>) -> Finished {
        Finished { histogram, ended: Instant::now() }
    }
}

/// A name unique to this run, valid as a lock, queue or config name, so runs against
/// the same target never share state.
pub(crate) fn run_name(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    match args.workload.family() {
        Family::ZooKeeper if args.workload == Workload::WatchFanout => {
            zk_fanout::prepare(args).await
        }
        Family::ZooKeeper => zk::prepare(args).await,
        Family::Rest if args.workload == Workload::RestConfigStream => {
            rest_stream::prepare(args).await
        }
        Family::Rest => rest::prepare(args).await,
        Family::Etcd => etcd::prepare(args).await,
    }
}

/// Exit status after a second ctrl-c: 128 + SIGINT, as shells report it.
const INTERRUPTED_EXIT_CODE: i32 = 130;

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.validate()?;
    let run = prepare(&args).await?;
    let time_limit = args.time_limit_secs().map(Duration::from_secs);
    let control = Arc::new(RunControl::new(time_limit, args.ops));
    let progress = Progress::start(control.clone(), args.quiet, args.json);
    // Ctrl-c ends the run early and still prints what was measured; a second one (while
    // requests hang on a dead server) exits at once.
    let interrupt = tokio::spawn({
        let control = control.clone();
        let progress = progress.as_ref().map(Progress::handle);
        async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if control.is_stopped() {
                    std::process::exit(INTERRUPTED_EXIT_CODE);
                }
                let note = "herald bench: stopping (ctrl-c again to quit at once)";
                match &progress {
                    Some(bar) => bar.suspend(|| eprintln!("{note}")),
                    None => eprintln!("{note}"),
                }
                control.stop();
            }
        }
    });
    let finished = run(control.clone()).await;
    interrupt.abort();
    if let Some(progress) = progress {
        progress.finish();
    }
    let finished = finished?;
    // Fan-out workloads open `--watchers` watching sessions (and one writer) instead.
    let fanout = matches!(args.workload, Workload::WatchFanout | Workload::RestConfigStream);
    let shape = Shape {
        workload: args.workload.name(),
        connections: if fanout { args.watchers } else { args.connections },
        window: if fanout { 1 } else { args.window },
        value_bytes: args.value_bytes,
    };
    let summary = Summary::new(shape, &finished.histogram, &control, finished.ended);
    if let Some(error) = control.first_error() {
        eprintln!("herald bench: {} errors; the first: {error}", control.errors());
    }
    if args.json {
        say!("{}", summary.json());
    } else {
        say!("{}", summary.text());
    }
    Ok(())
}
