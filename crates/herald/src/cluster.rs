//! `herald cluster`: an ensemble of `herald server` processes on loopback,
//! for trying Herald out and for benchmarks. It runs in the foreground and
//! stops its members on ctrl-c or SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

/// How long members may take to elect a leader and sync before `up` gives up.
const START_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Members to start (3 or 5 for a useful quorum).
    #[arg(long, default_value_t = 3)]
    pub nodes: u16,
    /// Member i serves clients on BASE_PORT+i (from 0) and peers on BASE_PORT+1000+i.
    #[arg(long, default_value_t = 2181)]
    pub base_port: u16,
    /// Each member's data goes to DIR/<id>.
    #[arg(long, default_value = "herald-cluster")]
    pub data_dir: PathBuf,
    /// Base time unit of every member, in milliseconds.
    #[arg(long, default_value_t = server::config::TICK_MS_DEFAULT)]
    pub tick_ms: u32,
}

/// Worker threads per member when the members share `cpus` CPUs: their
/// share, at least one. Each member would otherwise start a worker per CPU,
/// and the members' threads would take turns on the same cores, paying a
/// context switch at nearly every hand-off of a request.
fn member_worker_threads(cpus: usize, members: u16) -> usize {
    (cpus / usize::from(members.max(1))).max(1)
}

/// `worker_threads`: what `herald --worker-threads` gave, for every member;
/// without it each member gets its share of this machine's CPUs.
pub async fn up(
    args: ClusterArgs,
    worker_threads: Option<std::num::NonZeroUsize>,
) -> anyhow::Result<()> {
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let worker_threads = worker_threads.map_or_else(
        || {
            let cpus = std::thread::available_parallelism().map_or(1, |cpus| cpus.get());
            member_worker_threads(cpus, args.nodes)
        },
        |threads| threads.get(),
    );
    let binary = std::env::current_exe().context("finding the herald binary")?;
    let members: Vec<String> = (0..args.nodes)
        .map(|index| format!("--member={}=127.0.0.1:{}", index + 1, args.base_port + 1000 + index))
        .collect();
    let (serving, serving_reports) = mpsc::channel::<u16>();
    let mut children: Vec<Child> = Vec::new();
    for index in 0..args.nodes {
        let id = index + 1;
        let mut child = Command::new(&binary)
            .arg(format!("--worker-threads={worker_threads}"))
            .arg("server")
            .arg(format!("--id={id}"))
            .arg(format!("--listen=127.0.0.1:{}", args.base_port + index))
            .arg(format!("--peer-listen=127.0.0.1:{}", args.base_port + 1000 + index))
            .arg(format!("--tick-ms={}", args.tick_ms))
            .arg("--data-dir")
            .arg(args.data_dir.join(id.to_string()))
            .args(&members)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting member {id}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let serving = serving.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                say!("[{id}] {line}");
                if line.contains(", serving") {
                    let _ = serving.send(id);
                }
            }
        });
        children.push(child);
    }
    let mut up: std::collections::BTreeSet<u16> = Default::default();
    let deadline = std::time::Instant::now() + START_DEADLINE;
    while up.len() < args.nodes as usize {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match serving_reports.recv_timeout(left) {
            Ok(id) => {
                up.insert(id);
            }
            Err(_) => {
                stop(&mut children);
                bail!("members {up:?} of {} served within {START_DEADLINE:?}", args.nodes);
            }
        }
    }
    let connect: Vec<String> =
        (0..args.nodes).map(|index| format!("127.0.0.1:{}", args.base_port + index)).collect();
    say!("herald cluster: {} members serving; connect to {}", args.nodes, connect.join(","));
    crate::shutdown_signal().await;
    say!("herald cluster: stopping");
    stop(&mut children);
    Ok(())
}

/// SIGTERM to every member, then waits for each.
fn stop(children: &mut [Child]) {
    for child in children.iter() {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::member_worker_threads;

    #[test]
    fn members_share_the_cpus_and_each_gets_at_least_one_thread() {
        assert_eq!(member_worker_threads(2, 3), 1);
        assert_eq!(member_worker_threads(8, 3), 2);
        assert_eq!(member_worker_threads(16, 5), 3);
        assert_eq!(member_worker_threads(1, 5), 1);
        assert_eq!(member_worker_threads(4, 1), 4);
    }
}
