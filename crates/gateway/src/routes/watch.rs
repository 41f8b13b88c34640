//! `GET /v1/watch/{path}`: ZooKeeper persistent watches streamed as Server-Sent Events.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zookeeper_client::{AddWatchMode, EventType, PersistentWatcher};

use super::model::{SseEvent, znode_path};
use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::metrics::SseKind;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(watch))
}

#[derive(Deserialize, IntoParams)]
pub struct WatchParams {
    /// Also report changes anywhere below the path.
    #[serde(default)]
    pub recursive: bool,
}

/// One watch event (the SSE `data` of a `change` event).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WatchEvent {
    /// `created`, `deleted`, `data_changed`, `children_changed` or `session`.
    pub kind: String,
    pub path: String,
    /// zxid of the change (-1 for session events).
    pub zxid: i64,
}

/// Streams every change of a znode (and, with `recursive=true`, of its subtree) as
/// Server-Sent Events named `change`. ZooKeeper persistent watches do not fire for changes
/// made while the stream is reconnecting; re-read state after a reconnect.
#[utoipa::path(get, path = "/v1/watch/{*path}", tag = "znodes",
    params(("path" = String, Path, description = "znode path without the leading slash"),
           WatchParams),
    responses((status = 200, content_type = "text/event-stream", body = SseEvent),
              (status = 400, body = Problem)))]
async fn watch(
    State(state): State<AppState>,
    identity: Identity,
    Path(path): Path<String>,
    Query(params): Query<WatchParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let path = znode_path(&path);
    let mode =
        if params.recursive { AddWatchMode::PersistentRecursive } else { AddWatchMode::Persistent };
    let client = state.client(&identity).await?;
    let watcher = client.watch(&path, mode).await?;
    let changes = state.metrics().sse_stream(SseKind::Watch, changes(watcher));
    Ok(Sse::new(changes).keep_alive(KeepAlive::default()))
}

fn changes(watcher: PersistentWatcher) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(watcher), |watcher| async move {
        let mut watcher = watcher?;
        let event = watcher.changed().await;
        let kind = match event.event_type {
            EventType::NodeCreated => "created",
            EventType::NodeDeleted => "deleted",
            EventType::NodeDataChanged => "data_changed",
            EventType::NodeChildrenChanged => "children_changed",
            EventType::Session => "session",
        };
        let body = WatchEvent { kind: kind.into(), path: event.path, zxid: event.zxid };
        let data = serde_json::to_string(&body).unwrap_or_default();
        let terminal =
            event.event_type == EventType::Session && event.session_state.is_terminated();
        let next = if terminal { None } else { Some(watcher) };
        Some((Ok(Event::default().event("change").data(data)), next))
    })
}
