//! `/v1/locks/{name}` (exclusive and read-write locks) and `/v1/semaphores/{name}`:
//! acquire (long-poll, `wait_ms` 0 = try), release, inspect, and the token-guarded write.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use recipes_lock::{ContenderKind, Grant, GuardedWrite, LockInfo, lock, semaphore};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zookeeper_client::Client;

use super::model::{Encoding, StatView, decode_data};
use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::leases::LeaseId;
use crate::state::AppState;
use crate::trace_context::recipe_span;
use tracing::Instrument;

/// Parent of every lock's directory.
pub const LOCKS_ROOT: &str = "/herald/locks";
/// Parent of every semaphore's directory.
pub const SEMAPHORES_ROOT: &str = "/herald/semaphores";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(acquire_lock))
        .routes(routes!(release_lock))
        .routes(routes!(inspect_lock))
        .routes(routes!(guarded_write))
        .routes(routes!(acquire_permit))
        .routes(routes!(release_permit))
        .routes(routes!(inspect_semaphore))
}

pub(crate) fn directory(root: &str, name: &str) -> Result<String, ApiError> {
    recipes_lock::validate_name(name)?;
    Ok(format!("{root}/{name}"))
}

#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Exclusive lock (also the write side of a read-write lock).
    #[default]
    Exclusive,
    /// Shared with other readers; excludes writers.
    Read,
}

#[derive(Deserialize, ToSchema)]
pub struct AcquireLock {
    /// Lease that will own the grant: the lock is released when the lease ends.
    pub lease: String,
    /// How long to wait for the grant, in ms; 0 = try once. At most 60000.
    #[serde(default)]
    pub wait_ms: u64,
    #[serde(default)]
    pub mode: LockMode,
    /// If the previous holder's lease ended without releasing, hold the grant back this
    /// long (ms, at most 60000) so its in-flight writes land first. Default 0.
    #[serde(default)]
    pub lock_delay_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Granted {
    /// Fencing token: strictly increases across all grants of this lock. Pass it to the
    /// guarded write (or to any resource that rejects writes with older tokens).
    pub token: i64,
    /// The contender znode that holds the grant.
    pub node: String,
    /// The grant waited out the lock-delay (the previous holder's lease was lost).
    #[serde(default)]
    pub lock_delayed: bool,
}

/// Acquires the lock, waiting up to `wait_ms`; 409 if it was not granted in time.
#[utoipa::path(post, path = "/v1/locks/{name}/acquire", tag = "locks", request_body = AcquireLock,
    params(("name" = String, Path, description = "lock name")),
    responses((status = 200, body = Granted), (status = 409, body = Problem),
              (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn acquire_lock(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<AcquireLock>,
) -> Result<Json<Granted>, ApiError> {
    let dir = directory(LOCKS_ROOT, &name)?;
    let wait = recipes_lock::wait_from_ms(request.wait_ms)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    let kind = match request.mode {
        LockMode::Exclusive => ContenderKind::Exclusive,
        LockMode::Read => ContenderKind::Read,
    };
    let lock_delay = lock::lock_delay_from_ms(request.lock_delay_ms)?;
    let started = std::time::Instant::now();
    let grant = lock::acquire_with_delay(&client, &dir, kind, b"", wait, lock_delay)
        .instrument(recipe_span("lock.acquire", &name))
        .await?;
    state.metrics().lock_granted(&name, grant.token, started.elapsed());
    remember_grant(&state, &client, &dir, &grant);
    Ok(Json(Granted { token: grant.token, node: grant.node, lock_delayed: grant.lock_delayed }))
}

#[derive(Deserialize, ToSchema)]
pub struct Release {
    pub lease: String,
    pub token: i64,
}

/// Releases the grant with `token` (held by `lease`).
#[utoipa::path(post, path = "/v1/locks/{name}/release", tag = "locks", request_body = Release,
    params(("name" = String, Path, description = "lock name")),
    responses((status = 204), (status = 404, body = Problem), (status = 403, body = Problem)))]
async fn release_lock(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<Release>,
) -> Result<StatusCode, ApiError> {
    let dir = directory(LOCKS_ROOT, &name)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    // The grant was remembered under the lease the request names, whose password
    // `lease_client` just checked: a hit is this lease's own node (see `crate::grants`).
    let remembered = state.leases().grants().take(client.session_id().0, &dir, request.token);
    async {
        match remembered {
            Some(node_name) => lock::release_node(&client, &dir, &node_name, request.token).await,
            None => lock::release(&client, &dir, request.token).await,
        }
    }
    .instrument(recipe_span("lock.release", &name))
    .await?;
    state.metrics().lock_released(&name, request.token);
    Ok(StatusCode::NO_CONTENT)
}

/// Remembers which contender node `grant` is, so its release needs no search.
fn remember_grant(state: &AppState, client: &Client, dir: &str, grant: &Grant) {
    if let Some((_, node_name)) = grant.node.rsplit_once('/') {
        state.leases().grants().remember(client.session_id().0, dir, grant.token, node_name);
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ContenderView {
    pub token: i64,
    pub node: String,
    /// `exclusive` or `read`.
    pub mode: String,
    /// Session (hex) of the lease that owns it.
    pub session_id: String,
    /// For holders: how long it has been held, ms (gateway clock minus the server's grant
    /// time, so clock skew shows up here). For waiters: how long it has waited.
    pub for_ms: i64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LockView {
    pub holders: Vec<ContenderView>,
    pub waiters: Vec<ContenderView>,
}

fn lock_view(info: LockInfo) -> LockView {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0);
    let view = |waiter: recipes_lock::Waiter| ContenderView {
        token: waiter.token,
        node: waiter.node,
        mode: match waiter.kind {
            ContenderKind::Exclusive => "exclusive".into(),
            ContenderKind::Read => "read".into(),
        },
        session_id: format!("{:#x}", waiter.session_id),
        for_ms: (now_ms - waiter.since_ms).max(0),
    };
    LockView {
        holders: info.holders.into_iter().map(view).collect(),
        waiters: info.waiters.into_iter().map(view).collect(),
    }
}

/// Holders and waiters, in queue order.
#[utoipa::path(get, path = "/v1/locks/{name}", tag = "locks",
    params(("name" = String, Path, description = "lock name")),
    responses((status = 200, body = LockView)))]
async fn inspect_lock(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<LockView>, ApiError> {
    let dir = directory(LOCKS_ROOT, &name)?;
    let client = state.client(&identity).await?;
    Ok(Json(lock_view(lock::inspect(&client, &dir).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct GuardedWriteRequest {
    /// Fencing token of the caller's grant.
    pub token: i64,
    /// Znode to write (must exist).
    pub path: String,
    pub data: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    /// Expected version of the target znode; omit for any.
    pub version: Option<i32>,
}

/// Writes a znode only if `token` still holds the lock exclusively (one multi: check the
/// holder's node + setData). A stale holder gets 412.
#[utoipa::path(post, path = "/v1/locks/{name}/write", tag = "locks",
    request_body = GuardedWriteRequest,
    params(("name" = String, Path, description = "lock name")),
    responses((status = 200, body = StatView), (status = 412, body = Problem),
              (status = 409, body = Problem), (status = 404, body = Problem)))]
async fn guarded_write(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<GuardedWriteRequest>,
) -> Result<Json<StatView>, ApiError> {
    let dir = directory(LOCKS_ROOT, &name)?;
    let data = decode_data(request.data.as_deref(), request.encoding)?;
    let client = state.client(&identity).await?;
    let write = GuardedWrite {
        token: request.token,
        path: &request.path,
        data: &data,
        expected_version: request.version,
    };
    Ok(Json(lock::guarded_write(&client, &dir, &write).await?.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct AcquirePermit {
    pub lease: String,
    /// Number of permits of the semaphore (1 to 1024); callers must agree on it.
    pub permits: u32,
    #[serde(default)]
    pub wait_ms: u64,
}

/// Takes one permit, waiting up to `wait_ms`; 409 if none became free in time.
#[utoipa::path(post, path = "/v1/semaphores/{name}/acquire", tag = "semaphores",
    request_body = AcquirePermit,
    params(("name" = String, Path, description = "semaphore name")),
    responses((status = 200, body = Granted), (status = 409, body = Problem),
              (status = 400, body = Problem)))]
async fn acquire_permit(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<AcquirePermit>,
) -> Result<Json<Granted>, ApiError> {
    let dir = directory(SEMAPHORES_ROOT, &name)?;
    let wait = recipes_lock::wait_from_ms(request.wait_ms)?;
    semaphore::validate_permits(request.permits)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    let grant = semaphore::acquire(&client, &dir, request.permits, wait).await?;
    remember_grant(&state, &client, &dir, &grant);
    Ok(Json(Granted { token: grant.token, node: grant.node, lock_delayed: false }))
}

/// Returns a permit.
#[utoipa::path(post, path = "/v1/semaphores/{name}/release", tag = "semaphores",
    request_body = Release,
    params(("name" = String, Path, description = "semaphore name")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn release_permit(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<Release>,
) -> Result<StatusCode, ApiError> {
    let dir = directory(SEMAPHORES_ROOT, &name)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    match state.leases().grants().take(client.session_id().0, &dir, request.token) {
        Some(node_name) => {
            semaphore::release_node(&client, &dir, &node_name, request.token).await?;
        }
        None => semaphore::release(&client, &dir, request.token).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Permit holders and queued contenders.
#[utoipa::path(get, path = "/v1/semaphores/{name}", tag = "semaphores",
    params(("name" = String, Path, description = "semaphore name")),
    responses((status = 200, body = LockView)))]
async fn inspect_semaphore(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<LockView>, ApiError> {
    let dir = directory(SEMAPHORES_ROOT, &name)?;
    let client = state.client(&identity).await?;
    Ok(Json(lock_view(semaphore::inspect(&client, &dir).await?)))
}
