//! Raw znodes: `/v1/znodes/{path}` (create, get, set, delete), `/v1/children/{path}`,
//! `/v1/stat/{path}` and multi-op transactions at `/v1/txn`.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zookeeper_client::{Acls, Client};

use super::model::{Encoding, NodeMode, StatView, decode_data, encode_data, znode_path};
use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::leases::LeaseId;
use crate::state::AppState;

/// Most operations in one `/v1/txn` request.
pub const TXN_OPS_MAX: usize = 128;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_znode, get_znode, set_znode, delete_znode))
        .routes(routes!(list_children))
        .routes(routes!(list_root_children))
        .routes(routes!(stat_znode))
        .routes(routes!(transaction))
}

/// The client a request should use: the lease's session when a lease is given, the
/// identity's shared session otherwise.
async fn client_for(
    state: &AppState,
    identity: &Identity,
    lease: Option<&str>,
) -> Result<Client, ApiError> {
    match lease {
        Some(lease) => state.lease_client(identity, &LeaseId::decode(lease)?).await,
        None => state.client(identity).await,
    }
}

/// Access control of a new node.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AclPreset {
    /// world:anyone with all permissions.
    #[default]
    Open,
    /// All permissions for the identity that creates it (needs a bearer token).
    Creator,
    /// Readable by anyone, writable by nobody.
    ReadOnly,
}

impl AclPreset {
    fn acls(self) -> Acls<'static> {
        match self {
            AclPreset::Open => Acls::anyone_all(),
            AclPreset::Creator => Acls::creator_all(),
            AclPreset::ReadOnly => Acls::anyone_read(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateZnode {
    pub data: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    #[serde(default)]
    pub mode: NodeMode,
    /// Time-to-live in ms for persistent nodes (a TTL node).
    pub ttl_ms: Option<u64>,
    /// Lease that owns an ephemeral node (required for ephemeral modes).
    pub lease: Option<String>,
    #[serde(default)]
    pub acl: AclPreset,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// The created path (with the sequence suffix for sequential nodes).
    pub path: String,
    pub stat: StatView,
}

/// Creates a znode.
#[utoipa::path(post, path = "/v1/znodes/{*path}", tag = "znodes", request_body = CreateZnode,
    params(("path" = String, Path, description = "znode path without the leading slash")),
    responses((status = 201, body = Created), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn create_znode(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
    Json(request): Json<CreateZnode>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let path = znode_path(&path);
    if request.mode.is_ephemeral() && request.lease.is_none() {
        return Err(ApiError::bad_request("ephemeral nodes need a lease"));
    }
    let data = decode_data(request.data.as_deref(), request.encoding)?;
    let client = client_for(&state, &identity, request.lease.as_deref()).await?;
    let mut options = request.mode.create_mode().with_acls(request.acl.acls());
    if let Some(ttl_ms) = request.ttl_ms {
        options = options.with_ttl(Duration::from_millis(ttl_ms));
    }
    let (stat, sequence) = client.create(&path, &data, &options).await?;
    let created = match request.mode {
        NodeMode::PersistentSequential | NodeMode::EphemeralSequential => {
            format!("{path}{sequence}")
        }
        _ => path,
    };
    Ok((StatusCode::CREATED, Json(Created { path: created, stat: stat.into() })))
}

#[derive(Deserialize, IntoParams)]
pub struct ReadParams {
    /// Encoding of `data` in the reply (`utf8` falls back to base64 for binary data).
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ZnodeView {
    pub path: String,
    pub data: String,
    pub encoding: Encoding,
    pub stat: StatView,
}

/// Reads a znode's data and stat.
#[utoipa::path(get, path = "/v1/znodes/{*path}", tag = "znodes",
    params(("path" = String, Path, description = "znode path without the leading slash"),
           ReadParams),
    responses((status = 200, body = ZnodeView), (status = 404, body = Problem)))]
async fn get_znode(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Json<ZnodeView>, ApiError> {
    let path = znode_path(&path);
    let client = state.client(&identity).await?;
    let (data, stat) = client.get_data(&path).await?;
    let (data, encoding) = encode_data(data, params.encoding);
    Ok(Json(ZnodeView { path, data, encoding, stat: stat.into() }))
}

#[derive(Deserialize, ToSchema)]
pub struct SetZnode {
    pub data: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    /// Expected current version; the write fails with 409 if it differs. Omit for any.
    pub version: Option<i32>,
}

/// Replaces a znode's data.
#[utoipa::path(put, path = "/v1/znodes/{*path}", tag = "znodes", request_body = SetZnode,
    params(("path" = String, Path, description = "znode path without the leading slash")),
    responses((status = 200, body = StatView), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
async fn set_znode(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
    Json(request): Json<SetZnode>,
) -> Result<Json<StatView>, ApiError> {
    let path = znode_path(&path);
    let data = decode_data(request.data.as_deref(), request.encoding)?;
    let client = state.client(&identity).await?;
    let stat = client.set_data(&path, &data, request.version).await?;
    Ok(Json(stat.into()))
}

#[derive(Deserialize, IntoParams)]
pub struct DeleteParams {
    /// Expected current version; omit to delete whatever the version.
    pub version: Option<i32>,
}

/// Deletes a znode (it must have no children).
#[utoipa::path(delete, path = "/v1/znodes/{*path}", tag = "znodes",
    params(("path" = String, Path, description = "znode path without the leading slash"),
           DeleteParams),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_znode(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
    Query(params): Query<DeleteParams>,
) -> Result<StatusCode, ApiError> {
    let path = znode_path(&path);
    let client = state.client(&identity).await?;
    client.delete(&path, params.version).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ChildrenView {
    pub path: String,
    /// Child names, sorted.
    pub children: Vec<String>,
    pub stat: StatView,
}

/// Lists a znode's children.
#[utoipa::path(get, path = "/v1/children/{*path}", tag = "znodes",
    params(("path" = String, Path, description = "znode path without the leading slash")),
    responses((status = 200, body = ChildrenView), (status = 404, body = Problem)))]
async fn list_children(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
) -> Result<Json<ChildrenView>, ApiError> {
    let path = znode_path(&path);
    let client = state.client(&identity).await?;
    let (mut children, stat) = client.get_children(&path).await?;
    children.sort();
    Ok(Json(ChildrenView { path, children, stat: stat.into() }))
}

/// Lists the children of the root znode `/`.
#[utoipa::path(get, path = "/v1/children", tag = "znodes",
    responses((status = 200, body = ChildrenView), (status = 503, body = Problem)))]
async fn list_root_children(
    state: State<AppState>,
    identity: Identity,
) -> Result<Json<ChildrenView>, ApiError> {
    list_children(state, identity, Path(String::new())).await
}

/// A znode's stat without its data.
#[utoipa::path(get, path = "/v1/stat/{*path}", tag = "znodes",
    params(("path" = String, Path, description = "znode path without the leading slash")),
    responses((status = 200, body = StatView), (status = 404, body = Problem)))]
async fn stat_znode(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
) -> Result<Json<StatView>, ApiError> {
    let path = znode_path(&path);
    let client = state.client(&identity).await?;
    match client.check_stat(&path).await? {
        Some(stat) => Ok(Json(stat.into())),
        None => Err(zookeeper_client::Error::NoNode.into()),
    }
}

/// One operation of a transaction.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TxnOp {
    Create {
        path: String,
        data: Option<String>,
        #[serde(default)]
        encoding: Encoding,
        #[serde(default)]
        mode: NodeMode,
        ttl_ms: Option<u64>,
    },
    Set {
        path: String,
        data: Option<String>,
        #[serde(default)]
        encoding: Encoding,
        version: Option<i32>,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    /// Succeeds only if the node exists with this version.
    Check {
        path: String,
        version: i32,
    },
}

#[derive(Deserialize, ToSchema)]
pub struct Transaction {
    pub ops: Vec<TxnOp>,
    /// Lease owning ephemeral nodes created in the transaction.
    pub lease: Option<String>,
}

/// The result of one operation of a committed transaction.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TxnResult {
    Create { path: String, stat: StatView },
    Set { stat: StatView },
    Delete,
    Check,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TxnCommitted {
    pub results: Vec<TxnResult>,
}

/// Applies all operations atomically, or none (the problem's detail names the failing op).
#[utoipa::path(post, path = "/v1/txn", tag = "znodes", request_body = Transaction,
    responses((status = 200, body = TxnCommitted), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn transaction(
    State(state): State<AppState>,
    identity: Identity,
    Json(request): Json<Transaction>,
) -> Result<Json<TxnCommitted>, ApiError> {
    if request.ops.is_empty() || request.ops.len() > TXN_OPS_MAX {
        return Err(ApiError::bad_request(format!(
            "a transaction has 1 to {TXN_OPS_MAX} operations, got {}",
            request.ops.len()
        )));
    }
    let needs_lease = request
        .ops
        .iter()
        .any(|op| matches!(op, TxnOp::Create { mode, .. } if mode.is_ephemeral()));
    if needs_lease && request.lease.is_none() {
        return Err(ApiError::bad_request("ephemeral nodes need a lease"));
    }
    let client = client_for(&state, &identity, request.lease.as_deref()).await?;
    let mut multi = client.new_multi_writer();
    for op in &request.ops {
        match op {
            TxnOp::Create { path, data, encoding, mode, ttl_ms } => {
                let data = decode_data(data.as_deref(), *encoding)?;
                let mut options = mode.create_mode().with_acls(Acls::anyone_all());
                if let Some(ttl_ms) = ttl_ms {
                    options = options.with_ttl(Duration::from_millis(*ttl_ms));
                }
                multi.add_create(path, &data, &options)?;
            }
            TxnOp::Set { path, data, encoding, version } => {
                let data = decode_data(data.as_deref(), *encoding)?;
                multi.add_set_data(path, &data, *version)?;
            }
            TxnOp::Delete { path, version } => multi.add_delete(path, *version)?,
            TxnOp::Check { path, version } => multi.add_check_version(path, *version)?,
        }
    }
    let results = match multi.commit().await {
        Ok(results) => results,
        Err(zookeeper_client::MultiWriteError::OperationFailed { index, source }) => {
            let mut error = ApiError::from(source);
            error.problem.detail = format!("operation {index} failed: {}", error.problem.detail);
            return Err(error);
        }
        Err(zookeeper_client::MultiWriteError::RequestFailed { source }) => {
            return Err(source.into());
        }
    };
    let results = results
        .into_iter()
        .map(|result| match result {
            zookeeper_client::MultiWriteResult::Create { path, stat } => {
                TxnResult::Create { path, stat: stat.into() }
            }
            zookeeper_client::MultiWriteResult::SetData { stat } => {
                TxnResult::Set { stat: stat.into() }
            }
            zookeeper_client::MultiWriteResult::Delete => TxnResult::Delete,
            _ => TxnResult::Check,
        })
        .collect();
    Ok(Json(TxnCommitted { results }))
}
