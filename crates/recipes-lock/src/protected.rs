//! Protected-mode creation of contender nodes (Curator's "protected" mode).
//!
//! A create that fails with a connection loss may still have been applied. Retrying blindly
//! would leave a second, orphaned contender that blocks everyone behind it until the session
//! ends. Instead the contender's name carries a GUID, and after an ambiguous failure we list
//! the directory and adopt the node with our GUID if it exists.

use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, CreateSequence, Error, Stat};

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
    let request = ContenderCreate::new(dir, kind, data);
    let first = request.send(client).await;
    request.settle(client, first).await
}

/// A created contender together with a listing of its directory taken just after the create.
#[derive(Clone, Debug)]
pub struct CreatedAndListed {
    pub name: String,
    pub stat: Stat,
    /// The directory's children as the server saw them right after our create, so they
    /// include our contender. `None` when the listing could not be used (the create was
    /// retried, or the listing failed): the caller lists again.
    pub children: Option<Vec<String>>,
}

/// [`create_contender`] plus a listing of `dir`, in one round trip when nothing goes wrong.
///
/// Both requests are sent before either answer is awaited: the client sends requests in
/// the order its methods are called and the server answers a session's requests in order,
/// so the listing is taken after our create and already shows our contender. Failures of
/// the create take the same recovery as [`create_contender`] (make the directory on NoNode,
/// look for our GUID after a connection loss); its listing is then dropped.
pub async fn create_and_list(
    client: &Client,
    dir: &str,
    kind: ContenderKind,
    data: &[u8],
) -> Result<CreatedAndListed, LockError> {
    let request = ContenderCreate::new(dir, kind, data);
    // Calling both methods sends both requests; only then are the answers awaited.
    let (created, listed) = tokio::join!(request.send(client), client.list_children(dir));
    let first_attempt_succeeded = created.is_ok();
    let (name, stat) = request.settle(client, created).await?;
    let children = match listed {
        Ok(children) if first_attempt_succeeded && children.contains(&name) => Some(children),
        _ => None,
    };
    Ok(CreatedAndListed { name, stat, children })
}

/// One contender's create: its GUID, name prefix, path and options are made once and the
/// same request is sent again on a retry.
struct ContenderCreate<'a> {
    dir: &'a str,
    guid: String,
    prefix: String,
    path: String,
    options: CreateOptions<'static>,
    data: &'a [u8],
}

impl<'a> ContenderCreate<'a> {
    fn new(dir: &'a str, kind: ContenderKind, data: &'a [u8]) -> ContenderCreate<'a> {
        let guid = uuid::Uuid::new_v4().simple().to_string();
        let prefix = contenders::name_prefix(&guid, kind);
        let path = format!("{dir}/{prefix}");
        let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
        ContenderCreate { dir, guid, prefix, path, options, data }
    }

    /// Sends the create (when called, not when awaited: see [`create_and_list`]).
    fn send<'s>(
        &'s self,
        client: &'s Client,
    ) -> impl Future<Output = Result<(Stat, CreateSequence), Error>> + Send + 's {
        client.create(&self.path, self.data, &self.options)
    }

    /// Turns the outcome of the first create into the contender's name and stat, retrying
    /// up to [`CREATE_ATTEMPTS_MAX`] attempts in all: NoNode makes the directory, an
    /// ambiguous failure (connection loss, timeout) first looks for a node with our GUID so
    /// a create that was applied is adopted instead of repeated.
    async fn settle(
        &self,
        client: &Client,
        first: Result<(Stat, CreateSequence), Error>,
    ) -> Result<(String, Stat), LockError> {
        let mut outcome = first;
        let mut attempt = 1;
        loop {
            let error = match outcome {
                Ok((stat, sequence)) => return Ok((format!("{}{sequence}", self.prefix), stat)),
                Err(Error::NoNode) => {
                    // The directory does not exist (yet, or any more): make it and try again.
                    ensure_directory(client, self.dir).await?;
                    Error::NoNode
                }
                Err(error @ (Error::ConnectionLoss | Error::Timeout)) => {
                    if let Some(found) = find_by_guid(client, self.dir, &self.guid).await? {
                        return Ok(found);
                    }
                    error
                }
                Err(error) => return Err(error.into()),
            };
            if attempt >= CREATE_ATTEMPTS_MAX {
                return Err(error.into());
            }
            attempt += 1;
            outcome = self.send(client).await;
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
