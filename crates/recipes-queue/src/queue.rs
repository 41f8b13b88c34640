//! The queue handle: opening (creating the layout once), state reads, statistics and
//! dead-letter listing. The operations live in `enqueue`, `claim` and `settle`.

use std::sync::Arc;

use serde_json::Value;
use zookeeper_client::{
    Acls, Client, CreateMode, CreateOptions, Error as ZkError, MultiWriteError,
};

use crate::clock::Clock;
use crate::config::{PRIORITY_LEVELS, QueueConfig};
use crate::error::QueueError;
use crate::layout::{ItemId, QueueLayout, parse_bucket_name, parse_item_name, validate_name};
use crate::records::{DeadLetterRecord, QueueState, decode, encode};

/// A queue seen through one ZooKeeper session. Claims made through it are owned by
/// that session: when the session ends, its claims end and their items return.
#[derive(Debug, Clone)]
pub struct Queue {
    pub(crate) client: Client,
    pub(crate) name: String,
    pub(crate) config: QueueConfig,
    pub(crate) layout: QueueLayout,
    pub(crate) clock: Arc<dyn Clock>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Live items, claimed or not.
    pub depth: u64,
    /// Items currently claimed.
    pub in_flight: u64,
    pub dead_letters: u64,
    /// The size bound (live items plus dead letters).
    pub max_items: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeadLetter {
    /// The item it was while live.
    pub item: String,
    pub payload: Value,
    pub attempts: u32,
    pub reason: String,
    pub dead_at_ms: u64,
}

pub(crate) fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

pub(crate) fn ephemeral() -> CreateOptions<'static> {
    CreateMode::Ephemeral.with_acls(Acls::anyone_all())
}

/// The failing op's index and error of a multi, or the request error itself.
pub(crate) fn multi_failure(error: MultiWriteError) -> (Option<usize>, ZkError) {
    match error {
        MultiWriteError::OperationFailed { index, source } => (Some(index), source),
        MultiWriteError::RequestFailed { source } => (None, source),
    }
}

impl Queue {
    /// Opens queue `name`, creating its znodes on first use.
    pub async fn open(
        client: Client,
        name: &str,
        config: QueueConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Queue, QueueError> {
        config.validate()?;
        validate_name("queue name", name)?;
        let mut layout = QueueLayout::new(&config.root, name, config.items_per_bucket);
        let state_bytes = match client.get_data(&layout.state()).await {
            Ok((bytes, _)) => bytes,
            Err(ZkError::NoNode) => {
                Self::create_layout(&client, &layout, config.items_per_bucket).await?
            }
            Err(error) => return Err(error.into()),
        };
        let state: QueueState = decode(&layout.state(), &state_bytes)?;
        if state.next_sequence.len() != usize::from(PRIORITY_LEVELS) {
            return Err(QueueError::Corrupt {
                path: layout.state(),
                reason: "wrong number of lanes".into(),
            });
        }
        layout = QueueLayout::new(&config.root, name, state.items_per_bucket);
        Ok(Queue { client, name: name.to_string(), config, layout, clock })
    }

    /// Creates every directory, then the state node last: its existence means the
    /// layout is complete. Concurrent openers race harmlessly (NodeExists is fine).
    async fn create_layout(
        client: &Client,
        layout: &QueueLayout,
        items_per_bucket: u32,
    ) -> Result<Vec<u8>, QueueError> {
        client.mkdir(&layout.base, &persistent()).await?;
        let mut directories =
            vec![layout.lanes(), layout.claims(), layout.dead(), layout.keys(), layout.tally()];
        directories.extend((0..PRIORITY_LEVELS).map(|priority| layout.lane(priority)));
        for directory in directories {
            match client.create(&directory, b"", &persistent()).await {
                Ok(_) | Err(ZkError::NodeExists) => {}
                Err(error) => return Err(error.into()),
            }
        }
        match client
            .create(&layout.state(), &encode(&QueueState::new(items_per_bucket)), &persistent())
            .await
        {
            Ok(_) | Err(ZkError::NodeExists) => {}
            Err(error) => return Err(error.into()),
        }
        Ok(client.get_data(&layout.state()).await?.0)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The session claims are made under.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) async fn read_state(&self) -> Result<(QueueState, i32), QueueError> {
        let path = self.layout.state();
        let (bytes, stat) = self.client.get_data(&path).await?;
        Ok((decode(&path, &bytes)?, stat.version))
    }

    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let (state, _) = self.read_state().await?;
        // Both directories are counted from their Stat, never listed.
        let in_flight = self.count_children(&self.layout.claims()).await?;
        let depth = self.count_children(&self.layout.tally()).await?;
        Ok(QueueStats {
            depth,
            in_flight,
            dead_letters: state.dead,
            max_items: self.config.max_items,
        })
    }

    /// The oldest dead letters, at most `limit` of them.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, QueueError> {
        let mut letters = Vec::new();
        for bucket in sorted_children(&self.client, &self.layout.dead(), parse_bucket_name).await? {
            let bucket_path = self.layout.dead_bucket(bucket);
            for sequence in sorted_children(&self.client, &bucket_path, parse_item_name).await? {
                if letters.len() >= limit {
                    return Ok(letters);
                }
                let path = self.layout.dead_item(sequence);
                let bytes = match self.client.get_data(&path).await {
                    Ok((bytes, _)) => bytes,
                    Err(ZkError::NoNode) => continue,
                    Err(error) => return Err(error.into()),
                };
                let dead: DeadLetterRecord = decode(&path, &bytes)?;
                letters.push(DeadLetter {
                    item: dead.item,
                    payload: dead.record.payload,
                    attempts: dead.record.attempts,
                    reason: dead.reason,
                    dead_at_ms: dead.dead_at_ms,
                });
            }
        }
        Ok(letters)
    }

    pub(crate) async fn count_children(&self, path: &str) -> Result<u64, QueueError> {
        let stat = self.client.check_stat(path).await?;
        Ok(stat.map_or(0, |stat| u64::try_from(stat.num_children).unwrap_or(0)))
    }

    pub(crate) fn item_path(&self, id: ItemId) -> String {
        self.layout.item(id)
    }
}

/// Children of `path` whose names parse, in numeric order; a missing parent is empty.
pub(crate) async fn sorted_children(
    client: &Client,
    path: &str,
    parse: fn(&str) -> Option<u64>,
) -> Result<Vec<u64>, QueueError> {
    let names = match client.list_children(path).await {
        Ok(names) => names,
        Err(ZkError::NoNode) => return Ok(Vec::new()),
        Err(error) => return Err(error.into()),
    };
    let mut numbers: Vec<u64> = names.iter().filter_map(|name| parse(name)).collect();
    numbers.sort_unstable();
    Ok(numbers)
}
