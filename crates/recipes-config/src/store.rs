//! Reads, compare-and-set writes and history. Every write is one multi that changes the
//! value and appends its history entry (and drops the entry leaving the window).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zookeeper_client::{
    Acls, Client, CreateMode, CreateOptions, Error as ZkError, MultiWriteError, MultiWriteResult,
};

use crate::error::ConfigError;
use crate::layout::{KeyPaths, parse_history_name, validate_name};
use crate::plan::{Expected, evicted_version, next_version};
use crate::schema;
use crate::settings::{ConfigSettings, VALUE_BYTES_MAX};
use crate::stream::ChangeStream;

/// A value at a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versioned {
    pub version: i32,
    pub value: Value,
    /// When this version was written (the ensemble's clock).
    pub modified_at_ms: i64,
}

/// The namespace znode's data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct NamespaceRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<Value>,
}

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

fn multi_failure(error: MultiWriteError) -> (Option<usize>, ZkError) {
    match error {
        MultiWriteError::OperationFailed { index, source } => (Some(index), source),
        MultiWriteError::RequestFailed { source } => (None, source),
    }
}

pub(crate) fn decode_value(path: &str, bytes: &[u8]) -> Result<Value, ConfigError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ConfigError::Corrupt { path: path.to_string(), reason: error.to_string() })
}

/// Config stored through one ZooKeeper session.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    client: Client,
    settings: ConfigSettings,
}

impl ConfigStore {
    pub fn new(client: Client, settings: ConfigSettings) -> Result<ConfigStore, ConfigError> {
        settings.validate()?;
        Ok(ConfigStore { client, settings })
    }

    pub fn settings(&self) -> &ConfigSettings {
        &self.settings
    }

    fn paths(&self, namespace: &str, key: &str) -> Result<KeyPaths, ConfigError> {
        KeyPaths::new(&self.settings.root, namespace, key)
    }

    pub async fn get(&self, namespace: &str, key: &str) -> Result<Versioned, ConfigError> {
        let paths = self.paths(namespace, key)?;
        match self.client.get_data(&paths.value).await {
            Ok((bytes, stat)) => Ok(Versioned {
                version: stat.version,
                value: decode_value(&paths.value, &bytes)?,
                modified_at_ms: stat.mtime,
            }),
            Err(ZkError::NoNode) => Err(not_found(namespace, key)),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes `value` if the key matches `expected`, validating it against the
    /// namespace's schema first.
    pub async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: Value,
        expected: Expected,
    ) -> Result<Versioned, ConfigError> {
        let paths = self.paths(namespace, key)?;
        let bytes = serde_json::to_vec(&value)
            .map_err(|error| ConfigError::Invalid(format!("value does not serialize: {error}")))?;
        if bytes.len() > VALUE_BYTES_MAX {
            return Err(ConfigError::Invalid(format!(
                "value is {} bytes; the limit is {VALUE_BYTES_MAX}",
                bytes.len()
            )));
        }
        if let Some(schema) = self.schema(namespace).await? {
            schema::validate(&schema, &value)?;
        }
        // Dropped if the evicted entry is already gone (the window was shortened).
        let mut evict_in_multi = true;
        loop {
            let current = self.client.check_stat(&paths.value).await?.map(|stat| stat.version);
            let version = next_version(current, expected)?;
            let mut multi = self.client.new_multi_writer();
            let evicted = evicted_version(version, self.settings.history_versions);
            match current {
                None => {
                    multi.add_create(&paths.value, &bytes, &persistent())?;
                    multi.add_create(&paths.history, b"", &persistent())?;
                }
                Some(current) => multi.add_set_data(&paths.value, &bytes, Some(current))?,
            }
            multi.add_create(&paths.version(version), &bytes, &persistent())?;
            let evict_op = evicted.filter(|_| evict_in_multi && current.is_some());
            if let Some(evicted) = evict_op {
                multi.add_delete(&paths.version(evicted), None)?;
            }
            match multi.commit().await.map_err(multi_failure) {
                Ok(results) => {
                    let stat = match results.first() {
                        Some(MultiWriteResult::Create { stat, .. }) => stat,
                        Some(MultiWriteResult::SetData { stat }) => stat,
                        _ => {
                            return Err(ZkError::UnexpectedError(
                                "multi reply out of order".into(),
                            )
                            .into());
                        }
                    };
                    if evict_op.is_none() && evicted.is_some() {
                        self.trim_history(&paths, version).await?;
                    }
                    return Ok(Versioned { version, value, modified_at_ms: stat.mtime });
                }
                // First write in a new namespace: create its directories, then retry.
                Err((Some(0), ZkError::NoNode)) if current.is_none() => {
                    self.client.mkdir(&paths.keys, &persistent()).await?;
                    self.client.mkdir(&paths.histories, &persistent()).await?;
                }
                // Someone else wrote first: re-read; the expectation decides.
                Err((Some(0), ZkError::NodeExists | ZkError::BadVersion)) => {}
                Err((Some(index), ZkError::NoNode)) if index == 2 && evict_op.is_some() => {
                    evict_in_multi = false;
                }
                Err((_, error)) => return Err(error.into()),
            }
        }
    }

    /// Removes history entries older than the window (used when the entry the multi
    /// would have evicted was already gone, e.g. after the window was shortened).
    async fn trim_history(&self, paths: &KeyPaths, newest: i32) -> Result<(), ConfigError> {
        let Some(oldest_kept) = evicted_version(newest, self.settings.history_versions) else {
            return Ok(());
        };
        for name in self.client.list_children(&paths.history).await? {
            if parse_history_name(&name).is_some_and(|version| version <= oldest_kept) {
                match self.client.delete(&format!("{}/{name}", paths.history), None).await {
                    Ok(()) | Err(ZkError::NoNode) => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(())
    }

    /// The kept versions, oldest first.
    pub async fn history(&self, namespace: &str, key: &str) -> Result<Vec<Versioned>, ConfigError> {
        let paths = self.paths(namespace, key)?;
        let names = match self.client.list_children(&paths.history).await {
            Ok(names) => names,
            Err(ZkError::NoNode) => return Err(not_found(namespace, key)),
            Err(error) => return Err(error.into()),
        };
        let mut versions: Vec<i32> =
            names.iter().filter_map(|name| parse_history_name(name)).collect();
        versions.sort_unstable();
        let mut history = Vec::with_capacity(versions.len());
        for version in versions {
            let path = paths.version(version);
            match self.client.get_data(&path).await {
                Ok((bytes, stat)) => history.push(Versioned {
                    version,
                    value: decode_value(&path, &bytes)?,
                    modified_at_ms: stat.ctime,
                }),
                // Evicted while we read.
                Err(ZkError::NoNode) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(history)
    }

    /// The namespace's JSON Schema, if it has one.
    pub async fn schema(&self, namespace: &str) -> Result<Option<Value>, ConfigError> {
        validate_name("namespace", namespace)?;
        let path = format!("{}/{namespace}", self.settings.root);
        match self.client.get_data(&path).await {
            Ok((bytes, _)) if bytes.is_empty() => Ok(None),
            Ok((bytes, _)) => {
                let record: NamespaceRecord = serde_json::from_slice(&bytes)
                    .map_err(|error| ConfigError::Corrupt { path, reason: error.to_string() })?;
                Ok(record.schema)
            }
            Err(ZkError::NoNode) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Sets (or with `None` removes) the namespace's schema. Applies to later writes;
    /// values already stored are not re-checked.
    pub async fn set_schema(
        &self,
        namespace: &str,
        schema: Option<Value>,
    ) -> Result<(), ConfigError> {
        validate_name("namespace", namespace)?;
        if let Some(schema) = &schema {
            schema::check_schema(schema)?;
        }
        let path = format!("{}/{namespace}", self.settings.root);
        self.client.mkdir(&path, &persistent()).await?;
        let bytes =
            serde_json::to_vec(&NamespaceRecord { schema }).expect("namespace record serializes");
        self.client.set_data(&path, &bytes, None).await?;
        Ok(())
    }

    /// The changes of a key, in version order: from the version after `after`, or
    /// (with `None`) from the current version.
    pub fn changes(
        &self,
        namespace: &str,
        key: &str,
        after: Option<i32>,
    ) -> Result<ChangeStream, ConfigError> {
        let next = match after {
            Some(version) => Some(version.checked_add(1).ok_or_else(|| {
                ConfigError::Invalid("there is no version after the last one".into())
            })?),
            None => None,
        };
        Ok(ChangeStream::new(self.client.clone(), self.paths(namespace, key)?, next))
    }
}

fn not_found(namespace: &str, key: &str) -> ConfigError {
    ConfigError::NotFound { namespace: namespace.to_string(), key: key.to_string() }
}
