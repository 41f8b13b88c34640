//! watch-fanout: `--watchers` sessions each keep a data watch on one node; one writer
//! sets it. Latency is from the setData being issued to each watcher being notified.

use anyhow::Context;
use tokio::sync::mpsc::{self, UnboundedSender};
use zookeeper_client::{Acls, Client, CreateMode, EventType};

use super::Run;
use super::args::BenchArgs;
use super::driver::ERROR_BACKOFF;
use super::fanout::{self, INITIAL_ROUND, RoundWriter, Sighting};
use super::zk::{connect, create_root};

struct NodeWriter {
    client: Client,
    path: String,
    value_bytes: usize,
}

impl RoundWriter for NodeWriter {
    async fn write(&mut self, round: u64) -> anyhow::Result<()> {
        let value = fanout::round_value(round, self.value_bytes);
        self.client.set_data(&self.path, value.as_bytes(), None).await.context("setData")?;
        Ok(())
    }
}

/// Keeps a data watch on `path`: after each notification it re-arms (reading the round
/// that fired it) and only then reports, so the writer's next round finds it watching.
async fn watch(client: Client, path: String, sightings: UnboundedSender<Sighting>) {
    let mut seen_at = None;
    loop {
        match client.get_and_watch_data(&path).await {
            Ok((data, _, watcher)) => {
                let round = fanout::parse_round(&String::from_utf8_lossy(&data));
                let Some(round) = round else { return };
                if sightings.send(Sighting { round, seen_at: seen_at.take() }).is_err() {
                    return;
                }
                let event = watcher.changed().await;
                if event.event_type == EventType::NodeDataChanged {
                    seen_at = Some(std::time::Instant::now());
                } else if event.session_state.is_terminated() {
                    return;
                }
            }
            Err(
                zookeeper_client::Error::SessionExpired | zookeeper_client::Error::ClientClosed,
            ) => {
                return;
            }
            Err(_) => {
                seen_at = None;
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
    }
}

pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    let writer_client = connect(&args.servers).await?;
    let root = create_root(&writer_client).await?;
    let path = format!("{root}/watched");
    let initial = fanout::round_value(INITIAL_ROUND, args.value_bytes);
    writer_client
        .create(&path, initial.as_bytes(), &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .context("creating the watched node")?;
    let (sender, mut sightings) = mpsc::unbounded_channel();
    let mut watchers = Vec::with_capacity(args.watchers);
    for _ in 0..args.watchers {
        let client = connect(&args.servers).await?;
        watchers.push(tokio::spawn(watch(client, path.clone(), sender.clone())));
    }
    drop(sender);
    let mut writer = NodeWriter { client: writer_client, path, value_bytes: args.value_bytes };
    fanout::warm_up(&mut writer, &mut sightings, args.watchers).await?;
    Ok(fanout::run(writer, sightings, watchers))
}
