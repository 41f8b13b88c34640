//! `/v1/elections/{name}`: campaign (long-poll), proclaim, resign, current leader, and a
//! Server-Sent Events stream of leader changes.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use recipes_lock::election;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zookeeper_client::{Client, EventType, PersistentWatcher};

use super::locks::{Granted, Release, directory};
use super::model::{Encoding, SseEvent, decode_data, encode_data};
use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::leases::LeaseId;
use crate::metrics::SseKind;
use crate::state::AppState;

/// Parent of every election's directory.
pub const ELECTIONS_ROOT: &str = "/herald/elections";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(campaign))
        .routes(routes!(proclaim))
        .routes(routes!(resign))
        .routes(routes!(current_leader))
        .routes(routes!(observe))
}

#[derive(Deserialize, ToSchema)]
pub struct Campaign {
    pub lease: String,
    /// The value to announce while leader.
    pub value: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
    /// How long to wait to win, in ms; 0 = only if no one else is leader. At most 60000.
    #[serde(default)]
    pub wait_ms: u64,
}

/// Runs for leader; 200 with the leadership token once elected, 409 if not within `wait_ms`.
#[utoipa::path(post, path = "/v1/elections/{name}/campaign", tag = "elections",
    request_body = Campaign,
    params(("name" = String, Path, description = "election name")),
    responses((status = 200, body = Granted), (status = 409, body = Problem),
              (status = 400, body = Problem)))]
async fn campaign(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<Campaign>,
) -> Result<Json<Granted>, ApiError> {
    let dir = directory(ELECTIONS_ROOT, &name)?;
    let wait = recipes_lock::wait_from_ms(request.wait_ms)?;
    let value = decode_data(request.value.as_deref(), request.encoding)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    let grant = election::campaign(&client, &dir, &value, wait).await?;
    Ok(Json(Granted { token: grant.token, node: grant.node, lock_delayed: false }))
}

#[derive(Deserialize, ToSchema)]
pub struct Proclaim {
    pub lease: String,
    pub token: i64,
    pub value: Option<String>,
    #[serde(default)]
    pub encoding: Encoding,
}

/// Replaces the leader's value; 412 unless `token` is the current leader.
#[utoipa::path(post, path = "/v1/elections/{name}/proclaim", tag = "elections",
    request_body = Proclaim,
    params(("name" = String, Path, description = "election name")),
    responses((status = 204), (status = 412, body = Problem), (status = 404, body = Problem)))]
async fn proclaim(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<Proclaim>,
) -> Result<StatusCode, ApiError> {
    let dir = directory(ELECTIONS_ROOT, &name)?;
    let value = decode_data(request.value.as_deref(), request.encoding)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    election::proclaim(&client, &dir, request.token, &value).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Steps down (or withdraws a candidacy).
#[utoipa::path(post, path = "/v1/elections/{name}/resign", tag = "elections",
    request_body = Release,
    params(("name" = String, Path, description = "election name")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn resign(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    Json(request): Json<Release>,
) -> Result<StatusCode, ApiError> {
    let dir = directory(ELECTIONS_ROOT, &name)?;
    let client = state.lease_client(&identity, &LeaseId::decode(&request.lease)?).await?;
    election::resign(&client, &dir, request.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema, PartialEq, Eq, Clone, Debug)]
pub struct LeaderView {
    /// Leadership token: strictly increases across successive leaders.
    pub token: i64,
    pub value: String,
    pub encoding: Encoding,
    pub session_id: String,
    pub node: String,
}

fn leader_view(leader: election::Leader) -> LeaderView {
    let (value, encoding) = encode_data(leader.value, Encoding::Utf8);
    LeaderView {
        token: leader.token,
        value,
        encoding,
        session_id: format!("{:#x}", leader.session_id),
        node: leader.node,
    }
}

/// The current leader; 404 when there is none.
#[utoipa::path(get, path = "/v1/elections/{name}", tag = "elections",
    params(("name" = String, Path, description = "election name")),
    responses((status = 200, body = LeaderView), (status = 404, body = Problem)))]
async fn current_leader(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<LeaderView>, ApiError> {
    let dir = directory(ELECTIONS_ROOT, &name)?;
    let client = state.client(&identity).await?;
    match election::leader(&client, &dir).await? {
        Some(leader) => Ok(Json(leader_view(leader))),
        None => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "no-leader", "the election has no leader"))
        }
    }
}

/// Server-Sent Events: one `leader` event per change (a `null` data when there is no
/// leader), starting with the current state.
#[utoipa::path(get, path = "/v1/elections/{name}/observe", tag = "elections",
    params(("name" = String, Path, description = "election name")),
    responses((status = 200, content_type = "text/event-stream", body = SseEvent)))]
async fn observe(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let dir = directory(ELECTIONS_ROOT, &name)?;
    let client = state.client(&identity).await?;
    let watcher = election::watch(&client, &dir).await?;
    let changes =
        state.metrics().sse_stream(SseKind::Election, leader_changes(client, dir, watcher));
    Ok(Sse::new(changes).keep_alive(KeepAlive::default()))
}

/// Where an observer stream is: what it last sent, and whether it is over.
struct Observer {
    client: Client,
    dir: String,
    watcher: PersistentWatcher,
    last: Option<LeaderView>,
    first: bool,
    done: bool,
}

fn leader_event(leader: &Option<LeaderView>) -> Event {
    let data = serde_json::to_string(leader).unwrap_or_else(|_| "null".into());
    Event::default().event("leader").data(data)
}

fn error_event(error: impl std::fmt::Display) -> Event {
    Event::default().event("error").data(error.to_string())
}

fn leader_changes(
    client: Client,
    dir: String,
    watcher: PersistentWatcher,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let observer = Observer { client, dir, watcher, last: None, first: true, done: false };
    futures::stream::unfold(observer, |mut observer| async move {
        if observer.done {
            return None;
        }
        loop {
            if !observer.first {
                let event = observer.watcher.changed().await;
                if event.event_type == EventType::Session {
                    if event.session_state.is_terminated() {
                        // The stream ends; a reconnecting client gets the current state first.
                        observer.done = true;
                        return Some((Ok(error_event("the gateway's session ended")), observer));
                    }
                    continue;
                }
            }
            let current = match election::leader(&observer.client, &observer.dir).await {
                Ok(leader) => leader.map(leader_view),
                Err(error) => {
                    observer.done = true;
                    return Some((Ok(error_event(error)), observer));
                }
            };
            if observer.first || current != observer.last {
                observer.first = false;
                let event = leader_event(&current);
                observer.last = current;
                return Some((Ok(event), observer));
            }
        }
    })
}
