//! `/v1/config/{namespace}/{key}`: versioned JSON values with compare-and-set (If-Match
//! or a body `version`), history, and a Server-Sent Events change stream that never
//! skips a version and resumes from `Last-Event-ID`; `/v1/config/{namespace}` holds the
//! namespace's optional JSON Schema. Built on the `recipes-config` crate.

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use recipes_config::{ChangeStream, ConfigError, ConfigStore, Expected, Versioned};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Identity;
use crate::error::{ApiError, Problem};
use crate::metrics::SseKind;
use crate::state::AppState;

/// SSE header naming the last event a reconnecting subscriber saw.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

/// Routes bounded by the gateway's per-request timeout.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_value, put_value))
        .routes(routes!(history))
        .routes(routes!(get_namespace, put_namespace))
}

/// The change stream, open until the client leaves.
pub fn stream_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> ApiError {
        use StatusCode as S;
        let detail = error.to_string();
        match error {
            ConfigError::NotFound { .. } => ApiError::not_found(detail),
            ConfigError::Conflict { .. } => ApiError::new(S::CONFLICT, "version-conflict", detail),
            ConfigError::SchemaViolation(_) => {
                ApiError::new(S::UNPROCESSABLE_ENTITY, "schema-violation", detail)
            }
            ConfigError::InvalidSchema(_) => {
                ApiError::new(S::BAD_REQUEST, "invalid-schema", detail)
            }
            ConfigError::Invalid(_) => ApiError::bad_request(detail),
            ConfigError::HistoryTrimmed { .. } => ApiError::new(S::GONE, "history-trimmed", detail),
            ConfigError::Corrupt { .. } => {
                ApiError::new(S::INTERNAL_SERVER_ERROR, "corrupt-config-data", detail)
            }
            ConfigError::ZooKeeper(source) => source.into(),
        }
    }
}

async fn store(state: &AppState, identity: &Identity) -> Result<ConfigStore, ApiError> {
    Ok(ConfigStore::new(state.client(identity).await?, state.config().config_store.clone())?)
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(body)| body).map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VersionedView {
    /// Starts at 0 when the key is created and grows by one per write.
    pub version: i32,
    pub value: Value,
    pub modified_at_ms: i64,
}

impl From<Versioned> for VersionedView {
    fn from(versioned: Versioned) -> VersionedView {
        VersionedView {
            version: versioned.version,
            value: versioned.value,
            modified_at_ms: versioned.modified_at_ms,
        }
    }
}

fn with_etag(status: StatusCode, versioned: Versioned) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", versioned.version))
        .expect("a quoted number is a valid header value");
    let mut response = (status, Json(VersionedView::from(versioned))).into_response();
    response.headers_mut().insert(header::ETAG, etag);
    response
}

/// The current value and its version (also in the `ETag` header).
#[utoipa::path(get, path = "/v1/config/{namespace}/{key}", tag = "config",
    params(("namespace" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = VersionedView), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn get_value(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let versioned = store(&state, &identity).await?.get(&namespace, &key).await?;
    Ok(with_etag(StatusCode::OK, versioned))
}

#[derive(Deserialize, ToSchema)]
pub struct PutBody {
    pub value: Value,
    /// Compare-and-set: write only if the key is at this version (-1: only if absent).
    /// `If-Match: "<version>"` and `If-None-Match: *` headers do the same.
    #[serde(default)]
    pub version: Option<i32>,
}

/// Reads the precondition headers: `If-Match: "<version>"` or `If-None-Match: *`.
fn header_expectation(headers: &HeaderMap) -> Result<Option<Expected>, ApiError> {
    let text = |name: header::HeaderName| -> Result<Option<String>, ApiError> {
        headers
            .get(&name)
            .map(|value| {
                value
                    .to_str()
                    .map(|text| text.trim().to_owned())
                    .map_err(|_| ApiError::bad_request(format!("{name} must be ASCII")))
            })
            .transpose()
    };
    let if_match = text(header::IF_MATCH)?;
    let if_none_match = text(header::IF_NONE_MATCH)?;
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => {
            Err(ApiError::bad_request("send If-Match or If-None-Match, not both"))
        }
        (Some(tag), None) => {
            let version = tag.trim_start_matches("W/").trim_matches('"').parse::<i32>();
            match version {
                Ok(version) if version >= 0 => Ok(Some(Expected::Version(version))),
                _ => Err(ApiError::bad_request("If-Match must be a version, e.g. \"3\"")),
            }
        }
        (None, Some(tag)) if tag == "*" => Ok(Some(Expected::Absent)),
        (None, Some(_)) => Err(ApiError::bad_request("If-None-Match supports only *")),
        (None, None) => Ok(None),
    }
}

/// Writes a value. With `If-Match`/`If-None-Match` a failed precondition is 412; with a
/// body `version` it is 409. 201 when the key is created, 422 when the namespace's schema
/// refuses the value.
#[utoipa::path(put, path = "/v1/config/{namespace}/{key}", tag = "config", request_body = PutBody,
    params(("namespace" = String, Path), ("key" = String, Path),
           ("If-Match" = Option<String>, Header, description = "expected version, e.g. \"3\""),
           ("If-None-Match" = Option<String>, Header, description = "* = create only")),
    responses((status = 200, body = VersionedView), (status = 201, body = VersionedView),
              (status = 400, body = Problem), (status = 409, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem),
              (status = 503, body = Problem)))]
async fn put_value(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<PutBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    let from_body = match request.version {
        None => None,
        Some(-1) => Some(Expected::Absent),
        Some(version) if version >= 0 => Some(Expected::Version(version)),
        Some(_) => return Err(ApiError::bad_request("version must be -1 (absent) or at least 0")),
    };
    let from_headers = header_expectation(&headers)?;
    if from_body.is_some() && from_headers.is_some() && from_body != from_headers {
        return Err(ApiError::bad_request("the body version and the precondition header disagree"));
    }
    let expected = from_headers.or(from_body).unwrap_or(Expected::Any);
    let store = store(&state, &identity).await?;
    match store.put(&namespace, &key, request.value, expected).await {
        Ok(versioned) => {
            let status = if versioned.version == 0 { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_etag(status, versioned))
        }
        Err(conflict @ ConfigError::Conflict { .. }) if from_headers.is_some() => {
            Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                conflict.to_string(),
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// The kept versions, oldest first.
#[utoipa::path(get, path = "/v1/config/{namespace}/{key}/history", tag = "config",
    params(("namespace" = String, Path), ("key" = String, Path)),
    responses((status = 200, body = [VersionedView]), (status = 400, body = Problem),
              (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn history(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<Vec<VersionedView>>, ApiError> {
    let history = store(&state, &identity).await?.history(&namespace, &key).await?;
    Ok(Json(history.into_iter().map(VersionedView::from).collect()))
}

#[derive(Deserialize, IntoParams)]
pub struct StreamQuery {
    /// Resume after this version (same as the `Last-Event-ID` header). Without either,
    /// the stream starts at the current version.
    pub after: Option<i32>,
}

/// Every change of the key as Server-Sent Events, in version order and without gaps:
/// `event: change`, `id: <version>`, `data: {version, value, modified_at_ms}`. A
/// reconnecting client sends `Last-Event-ID` and continues after it. If the requested
/// version has left the history window the stream sends one `event: error` whose data
/// is a problem document (type `history-trimmed`) and ends.
#[utoipa::path(get, path = "/v1/config/{namespace}/{key}/stream", tag = "config",
    params(("namespace" = String, Path), ("key" = String, Path), StreamQuery,
           ("Last-Event-ID" = Option<String>, Header, description = "last version seen")),
    responses((status = 200, content_type = "text/event-stream", body = String,
               description = "SSE stream of changes"),
              (status = 400, body = Problem), (status = 503, body = Problem)))]
async fn stream(
    State(state): State<AppState>,
    identity: Identity,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let last_event_id = headers
        .get(LAST_EVENT_ID_HEADER)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i32>().ok())
                .filter(|version| *version >= -1)
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a version number"))
        })
        .transpose()?;
    let after = last_event_id.or(query.after);
    if after.is_some_and(|version| version < -1) {
        return Err(ApiError::bad_request("after must be at least -1"));
    }
    let changes = store(&state, &identity).await?.changes(&namespace, &key, after)?;
    let events = state.metrics().sse_stream(SseKind::Config, events(changes));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Turns the change stream into SSE events; an error becomes one `error` event, then
/// the stream ends (the client may reconnect with its `Last-Event-ID`).
fn events(changes: ChangeStream) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(changes), |changes| async move {
        let mut changes = changes?;
        match changes.next().await {
            Ok(change) => {
                let version = change.version;
                let data = serde_json::to_string(&VersionedView::from(change))
                    .expect("a JSON value serializes");
                let event = Event::default().event("change").id(version.to_string()).data(data);
                Some((Ok(event), Some(changes)))
            }
            Err(error) => {
                let problem = ApiError::from(error).problem;
                let data = serde_json::to_string(&problem).expect("a problem serializes");
                Some((Ok(Event::default().event("error").data(data)), None))
            }
        }
    })
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NamespaceView {
    /// JSON Schema every value written in the namespace must satisfy; null = none.
    /// Self-contained (no remote `$ref`).
    pub schema: Option<Value>,
}

/// The namespace's settings (its JSON Schema, if any).
#[utoipa::path(get, path = "/v1/config/{namespace}", tag = "config",
    params(("namespace" = String, Path)),
    responses((status = 200, body = NamespaceView), (status = 400, body = Problem),
              (status = 503, body = Problem)))]
async fn get_namespace(
    State(state): State<AppState>,
    identity: Identity,
    Path(namespace): Path<String>,
) -> Result<Json<NamespaceView>, ApiError> {
    let schema = store(&state, &identity).await?.schema(&namespace).await?;
    Ok(Json(NamespaceView { schema }))
}

/// Sets or (with null) removes the namespace's JSON Schema. It applies to later writes.
#[utoipa::path(put, path = "/v1/config/{namespace}", tag = "config", request_body = NamespaceView,
    params(("namespace" = String, Path)),
    responses((status = 200, body = NamespaceView), (status = 400, body = Problem),
              (status = 503, body = Problem)))]
async fn put_namespace(
    State(state): State<AppState>,
    identity: Identity,
    Path(namespace): Path<String>,
    request: Result<Json<NamespaceView>, JsonRejection>,
) -> Result<Json<NamespaceView>, ApiError> {
    let request = body(request)?;
    store(&state, &identity).await?.set_schema(&namespace, request.schema.clone()).await?;
    Ok(Json(request))
}
