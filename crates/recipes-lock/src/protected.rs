//! Protected-mode creation of contender nodes (Curator's "protected" mode).
//!
//! A create that fails with a connection loss may still have been applied. Retrying blindly
//! would leave a second, orphaned contender that blocks everyone behind it until the session
//! ends. Instead the contender's name carries a GUID, and after an ambiguous failure we list
//! the directory and adopt the node with our GUID if it exists.

use zookeeper_client::{Acls, Client, CreateMode, Error, Stat};

use crate::contenders::{self, ContenderKind};
use crate::error::LockError;

/// Create attempts before an ambiguous failure is reported to the caller.
pub const CREATE_ATTEMPTS_MAX: u32 = 3;

/// Makes `dir` and its ancestors exist as persistent nodes.
pub async fn ensure_directory(client: &Client, dir: &str) -> Result<(), LockError> {
    match client.mkdir(dir, &CreateMode::Persistent.with_acls(Acls::anyone_all())).await {
        Ok(()) | Err(Error::NodeExists) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Creates our contender under `dir` exactly once and returns its name and stat.
pub async fn create_contender(
    client: &Client,
    dir: &str,
    kind: ContenderKind,
    data: &[u8],
) -> Result<(String, Stat), LockError> {
    let guid = uuid::Uuid::new_v4().simple().to_string();
    let prefix = contenders::name_prefix(&guid, kind);
    let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error = match client.create(&format!("{dir}/{prefix}"), data, &options).await {
            Ok((stat, sequence)) => return Ok((format!("{prefix}{sequence}"), stat)),
            Err(Error::NoNode) => {
                // Someone removed the (empty) directory between our mkdir and create.
                ensure_directory(client, dir).await?;
                Error::NoNode
            }
            Err(error @ (Error::ConnectionLoss | Error::Timeout)) => {
                if let Some(found) = find_by_guid(client, dir, &guid).await? {
                    return Ok(found);
                }
                error
            }
            Err(error) => return Err(error.into()),
        };
        if attempt >= CREATE_ATTEMPTS_MAX {
            return Err(error.into());
        }
    }
}

/// The contender in `dir` whose name carries `guid`, if it exists: how a create that may
/// have been applied before a connection loss is recovered instead of repeated.
pub async fn find_by_guid(
    client: &Client,
    dir: &str,
    guid: &str,
) -> Result<Option<(String, Stat)>, LockError> {
    let children = retry_read(|| client.list_children(dir)).await?;
    for contender in contenders::ordered(&children) {
        if contender.guid == guid {
            let path = format!("{dir}/{}", contender.name);
            if let Some(stat) = retry_read(|| client.check_stat(&path)).await? {
                return Ok(Some((contender.name, stat)));
            }
        }
    }
    Ok(None)
}

/// Retries an idempotent read across connection losses (the client reconnects by itself).
async fn retry_read<T, F, Fut>(mut read: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match read().await {
            Err(Error::ConnectionLoss) if attempt < CREATE_ATTEMPTS_MAX => continue,
            other => return other,
        }
    }
}
