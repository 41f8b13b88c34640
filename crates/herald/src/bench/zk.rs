//! ZooKeeper-protocol workloads over `zookeeper-client`: create, set-data, get-data,
//! exists, mixed, multi and ephemeral-churn (watch-fanout is in `zk_fanout`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{FutureExt, StreamExt, TryStreamExt};
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

use super::args::{BenchArgs, MultiKind, Workload};
use super::driver::{self, Operation};
use super::{Finished, Run};

/// Session timeout asked for by every bench session.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// Setup creates of the keyed workloads' nodes in flight at once.
pub const SETUP_CREATES_IN_FLIGHT: usize = 64;
/// How long ephemeral-churn waits for a session's close to be acknowledged.
pub const CLOSE_WAIT: Duration = Duration::from_secs(10);

pub async fn connect(servers: &str) -> anyhow::Result<Client> {
    Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(servers)
        .await
        .with_context(|| format!("connecting to {servers}"))
}

fn persistent() -> zookeeper_client::CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

/// A fresh parent node for one run's nodes, so runs never collide.
pub async fn create_root(client: &Client) -> anyhow::Result<String> {
    let root = format!("/herald-bench-{:08x}", rand::random::<u32>());
    client.create(&root, b"", &persistent()).await.context("creating the bench root")?;
    Ok(root)
}

pub fn key_path(root: &str, key: usize) -> String {
    format!("{root}/k{key}")
}

/// Creates `{root}/k0..keys`, pipelined.
async fn create_keys(client: &Client, root: &str, keys: usize, value: &[u8]) -> anyhow::Result<()> {
    let options = persistent();
    futures::stream::iter(0..keys)
        .map(|key| {
            let path = key_path(root, key);
            let options = &options;
            async move { client.create(&path, value, options).await.map(|_| ()) }
        })
        .buffer_unordered(SETUP_CREATES_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .context("creating the keys")?;
    Ok(())
}

/// What every worker of one run shares.
struct Shared {
    workload: Workload,
    servers: String,
    root: String,
    value: Vec<u8>,
    keys: usize,
    read_percent: u32,
    multi_ops: usize,
    multi_kind: MultiKind,
}

impl Shared {
    fn random_key(&self) -> String {
        key_path(&self.root, rand::random_range(0..self.keys))
    }
}

struct ZkOperation {
    shared: Arc<Shared>,
    /// The session this worker pipelines on (shared by `window` workers); None for
    /// ephemeral-churn, which opens its own per operation.
    client: Option<Client>,
    name: String,
    sequence: u64,
}

impl Operation for ZkOperation {
    async fn run_once(&mut self) -> anyhow::Result<()> {
        self.sequence += 1;
        let shared = self.shared.clone();
        if shared.workload == Workload::EphemeralChurn {
            return self.churn_once(&shared).await;
        }
        let client = match &self.client {
            Some(client) => client.clone(),
            None => {
                let client = connect(&shared.servers).await?;
                self.client = Some(client.clone());
                client
            }
        };
        let result = self.request(&client, &shared).await;
        if let Err(error) = &result
            && matches!(error, ZkError::SessionExpired | ZkError::ClientClosed)
        {
            // A lost session never comes back: the next operation opens a new one.
            self.client = None;
        }
        result.with_context(|| format!("{:?}", shared.workload))
    }
}

impl ZkOperation {
    async fn request(&self, client: &Client, shared: &Shared) -> Result<(), ZkError> {
        let value = &shared.value;
        match shared.workload {
            Workload::Create => {
                let path = format!("{}/{}-{}", shared.root, self.name, self.sequence);
                client.create(&path, value, &persistent()).await.map(|_| ())
            }
            Workload::SetData => {
                client.set_data(&shared.random_key(), value, None).await.map(|_| ())
            }
            Workload::GetData => client.get_data(&shared.random_key()).await.map(|_| ()),
            Workload::Exists => client.check_stat(&shared.random_key()).await.map(|_| ()),
            Workload::Mixed => {
                if rand::random_range(0..100) < shared.read_percent {
                    client.get_data(&shared.random_key()).await.map(|_| ())
                } else {
                    client.set_data(&shared.random_key(), value, None).await.map(|_| ())
                }
            }
            Workload::Multi => {
                let mut multi = client.new_multi_writer();
                let options = persistent();
                for op in 0..shared.multi_ops {
                    match shared.multi_kind {
                        MultiKind::Create => {
                            let path =
                                format!("{}/{}-{}-{op}", shared.root, self.name, self.sequence);
                            multi.add_create(&path, value, &options)?;
                        }
                        MultiKind::SetData => {
                            multi.add_set_data(&shared.random_key(), value, None)?;
                        }
                    }
                }
                multi.commit().await.map(|_| ()).map_err(ZkError::from)
            }
            // Sessions per operation, or not a request at all: never routed here.
            _ => Err(ZkError::BadArguments(&"not a single-request ZooKeeper workload")),
        }
    }

    /// Opens a session, creates an ephemeral node and closes the session, waiting for the
    /// server to acknowledge the close.
    async fn churn_once(&self, shared: &Shared) -> anyhow::Result<()> {
        let client = connect(&shared.servers).await?;
        let path = format!("{}/{}-{}", shared.root, self.name, self.sequence);
        let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
        client.create(&path, &shared.value, &ephemeral).await.context("creating the ephemeral")?;
        let mut state = client.state_watcher();
        // Dropping the last handle sends CloseSession; the state turns Closed on its reply.
        drop(client);
        tokio::time::timeout(CLOSE_WAIT, async {
            while !state.peek_state().is_terminated() {
                state.changed().await;
            }
        })
        .await
        .context("the session close was not acknowledged in time")?;
        Ok(())
    }
}

/// Connects, creates the run's nodes and returns the run.
pub async fn prepare(args: &BenchArgs) -> anyhow::Result<Run> {
    let setup = connect(&args.servers).await?;
    let root = create_root(&setup).await?;
    let value = vec![b'x'; args.value_bytes];
    let needs_keys = match args.workload {
        Workload::SetData | Workload::GetData | Workload::Exists | Workload::Mixed => true,
        Workload::Multi => args.multi_kind == MultiKind::SetData,
        _ => false,
    };
    if needs_keys {
        create_keys(&setup, &root, args.keys, &value).await?;
    }
    let shared = Arc::new(Shared {
        workload: args.workload,
        servers: args.servers.clone(),
        root,
        value,
        keys: args.keys,
        read_percent: args.read_percent,
        multi_ops: args.multi_ops,
        multi_kind: args.multi_kind,
    });
    let mut operations = Vec::with_capacity(args.workers());
    for connection in 0..args.connections {
        let client = match args.workload {
            Workload::EphemeralChurn => None,
            _ => Some(connect(&args.servers).await?),
        };
        for slot in 0..args.window {
            operations.push(ZkOperation {
                shared: shared.clone(),
                client: client.clone(),
                name: format!("c{connection}-{slot}"),
                sequence: 0,
            });
        }
    }
    Ok(Box::new(move |control| {
        async move {
            let (histogram, _) =
                driver::collect(driver::spawn_workers(&control, operations)).await?;
            let finished = Finished::now(histogram);
            drop(setup);
            Ok(finished)
        }
        .boxed()
    }))
}
