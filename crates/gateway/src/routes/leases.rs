//! `/v1/leases`: open, keepalive, inspect and revoke leases (ZooKeeper sessions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::lease_marker::LEASE_MARKERS_PATH;
use crate::leases::{LeaseId, validate_ttl_ms};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_lease))
        .routes(routes!(inspect_lease, revoke_lease))
        .routes(routes!(keepalive_lease))
}

#[derive(Deserialize, ToSchema)]
pub struct OpenLease {
    /// Requested time-to-live in ms; the ensemble may adjust it (see `ttl_ms` in the reply).
    pub ttl_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LeaseView {
    /// Opaque lease id: pass it to any gateway replica.
    pub id: String,
    /// The ZooKeeper session id (hex), for correlating with server logs.
    pub session_id: String,
    /// Negotiated time-to-live in ms.
    pub ttl_ms: u64,
    /// Time left before the lease ends unless kept alive, as far as this gateway knows.
    pub remaining_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LeaseDetail {
    #[serde(flatten)]
    pub lease: LeaseView,
    /// Paths of the ephemeral znodes the lease owns.
    pub ephemerals: Vec<String>,
}

fn view(id: &LeaseId, ttl_ms: u64, remaining_ms: u64) -> LeaseView {
    LeaseView { id: id.encode(), session_id: format!("{:#x}", id.session_id), ttl_ms, remaining_ms }
}

/// Opens a lease: a new ZooKeeper session with the requested timeout.
#[utoipa::path(post, path = "/v1/leases", tag = "leases", request_body = OpenLease,
    responses((status = 201, body = LeaseView), (status = 400, body = Problem),
              (status = 503, body = Problem)))]
async fn open_lease(
    State(state): State<AppState>,
    identity: Identity,
    Json(request): Json<OpenLease>,
) -> Result<(StatusCode, Json<LeaseView>), ApiError> {
    let ttl_ms = validate_ttl_ms(request.ttl_ms)?;
    let lease = state.leases().open(&identity, ttl_ms).await?;
    let ttl = u64::from(lease.ttl_ms);
    Ok((StatusCode::CREATED, Json(view(&lease, ttl, ttl))))
}

/// Extends the lease by its ttl from now.
#[utoipa::path(post, path = "/v1/leases/{id}/keepalive", tag = "leases",
    params(("id" = String, Path, description = "lease id")),
    responses((status = 200, body = LeaseView), (status = 404, body = Problem)))]
async fn keepalive_lease(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<LeaseView>, ApiError> {
    let lease = LeaseId::decode(&id)?;
    let status = state.leases().keepalive(&identity, &lease).await?;
    Ok(Json(view(&lease, status.ttl.as_millis() as u64, status.remaining.as_millis() as u64)))
}

/// Remaining time, negotiated ttl and the ephemeral znodes the lease owns.
#[utoipa::path(get, path = "/v1/leases/{id}", tag = "leases",
    params(("id" = String, Path, description = "lease id")),
    responses((status = 200, body = LeaseDetail), (status = 404, body = Problem)))]
async fn inspect_lease(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<Json<LeaseDetail>, ApiError> {
    let lease = LeaseId::decode(&id)?;
    let status = state.leases().status(&identity, &lease).await?;
    let mut ephemerals = status.client.list_ephemerals("/").await?;
    // The gateway's own bookkeeping node is not something the lease holds.
    ephemerals.retain(|path| !path.starts_with(LEASE_MARKERS_PATH));
    ephemerals.sort();
    Ok(Json(LeaseDetail {
        lease: view(&lease, status.ttl.as_millis() as u64, status.remaining.as_millis() as u64),
        ephemerals,
    }))
}

/// Ends the lease now; the ensemble deletes every ephemeral znode it owns.
#[utoipa::path(delete, path = "/v1/leases/{id}", tag = "leases",
    params(("id" = String, Path, description = "lease id")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_lease(
    State(state): State<AppState>,
    identity: Identity,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let lease = LeaseId::decode(&id)?;
    state.leases().revoke(&identity, &lease).await?;
    Ok(StatusCode::NO_CONTENT)
}
