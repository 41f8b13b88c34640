//! A key's change stream. It reads history entries by exact name (`v-{next}`), so a
//! burst of writes between two watch firings is still delivered one version at a time,
//! and a subscriber resumes from any version still in the window.

use zookeeper_client::{Client, Error as ZkError};

use crate::error::ConfigError;
use crate::layout::{KeyPaths, parse_history_name};
use crate::store::{Versioned, decode_value};

#[derive(Debug)]
pub struct ChangeStream {
    client: Client,
    paths: KeyPaths,
    /// The version to deliver next; `None` until the stream has looked at the key
    /// (a stream without a resume point starts at the current version).
    next: Option<i32>,
}

impl ChangeStream {
    pub(crate) fn new(client: Client, paths: KeyPaths, next: Option<i32>) -> ChangeStream {
        ChangeStream { client, paths, next }
    }

    /// The version the stream will deliver next, once known.
    pub fn next_version(&self) -> Option<i32> {
        self.next
    }

    /// Waits for and returns the next version. Fails with
    /// [`ConfigError::HistoryTrimmed`] rather than skip a version that left the window.
    pub async fn next(&mut self) -> Result<Versioned, ConfigError> {
        loop {
            let next = match self.next {
                Some(next) => next,
                None => {
                    let current = self.client.check_stat(&self.paths.value).await?;
                    let start = current.map_or(0, |stat| stat.version);
                    self.next = Some(start);
                    start
                }
            };
            let path = self.paths.version(next);
            match self.client.get_data(&path).await {
                Ok((bytes, stat)) => {
                    self.next = Some(next + 1);
                    return Ok(Versioned {
                        version: next,
                        value: decode_value(&path, &bytes)?,
                        modified_at_ms: stat.ctime,
                    });
                }
                Err(ZkError::NoNode) => {}
                Err(error) => return Err(error.into()),
            }
            // Watch for exactly the entry we need; its creation fires the watch.
            let (exists, watcher) = self.client.check_and_watch_stat(&path).await?;
            if exists.is_some() {
                continue;
            }
            // Absent because it is not written yet, or because it left the window: the
            // key's version tells which (value and entry are written in one multi).
            let current = self.client.check_stat(&self.paths.value).await?.map(|stat| stat.version);
            if current.is_some_and(|current| current >= next) {
                if self.client.check_stat(&path).await?.is_some() {
                    continue;
                }
                return Err(ConfigError::HistoryTrimmed {
                    requested: next,
                    oldest: self.oldest().await?,
                });
            }
            watcher.changed().await;
        }
    }

    async fn oldest(&self) -> Result<Option<i32>, ConfigError> {
        match self.client.list_children(&self.paths.history).await {
            Ok(names) => Ok(names.iter().filter_map(|name| parse_history_name(name)).min()),
            Err(ZkError::NoNode) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
