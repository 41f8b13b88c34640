//! `/v1/queues/{name}/…`: enqueue, claim (long-poll, owned by a lease), ack, nack,
//! extend, statistics and dead letters, over the `recipes-queue` crate.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use recipes_queue::config::CLAIM_WAIT_MS_MAX;
use recipes_queue::{
    ClaimRequest, Clock, EnqueueRequest, NackOutcome, Queue, QueueError, Receipt, SystemClock,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Identity;
use crate::error::{ApiError, Problem, QUEUE_FULL_RETRY_AFTER_S};
use crate::leases::LeaseId;
use crate::state::AppState;
use crate::trace_context::recipe_span;
use tracing::Instrument;

/// Dead letters listed per request by default, and at most.
pub const DEAD_LETTERS_LIMIT_DEFAULT: usize = 100;
pub const DEAD_LETTERS_LIMIT_MAX: usize = 1_000;
/// Header an enqueue may carry its idempotency key in (instead of the body).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Routes bounded by the gateway's per-request timeout.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enqueue))
        .routes(routes!(ack))
        .routes(routes!(nack))
        .routes(routes!(extend))
        .routes(routes!(stats))
        .routes(routes!(dead_letters))
}

/// The claim long-poll, which bounds itself (`wait_ms` ≤ `CLAIM_WAIT_MS_MAX`).
pub fn long_poll_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(claim))
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> ApiError {
        let detail = error.to_string();
        match error {
            QueueError::QueueFull { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "queue-full", detail)
                    .retry_after(QUEUE_FULL_RETRY_AFTER_S)
            }
            QueueError::Invalid(_) => ApiError::bad_request(detail),
            QueueError::ClaimLost { .. } => {
                ApiError::new(StatusCode::CONFLICT, "claim-lost", detail)
            }
            QueueError::Corrupt { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt-queue-data", detail)
            }
            QueueError::ZooKeeper(source) => source.into(),
        }
    }
}

async fn open(
    state: &AppState,
    client: zookeeper_client::Client,
    name: &str,
) -> Result<Queue, ApiError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Queue::open(client, name, state.config().queue.clone(), clock).await?)
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(body)| body).map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

#[derive(Deserialize, ToSchema)]
pub struct EnqueueBody {
    /// Any JSON value (at most 256 KiB serialized).
    pub payload: Value,
    /// 0 (served last) to 9 (served first); default 0.
    #[serde(default)]
    pub priority: u8,
    /// Not claimable until this many ms from now; default 0.
    #[serde(default)]
    pub delay_ms: u64,
    /// While the item it created is queued (claimed or not), a repeat enqueue with the
    /// same key returns that item. May also be sent as an `Idempotency-Key` header.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct EnqueuedView {
    pub id: String,
    /// True when the idempotency key was already used: `id` is the earlier item.
    pub duplicate: bool,
}

/// Adds an item. 201 when added, 200 when the idempotency key returned an earlier item,
/// 429 when the queue is at its size bound (nothing is written).
#[utoipa::path(post, path = "/v1/queues/{name}/items", tag = "queues", request_body = EnqueueBody,
    params(("name" = String, Path, description = "queue name")),
    responses((status = 201, body = EnqueuedView), (status = 200, body = EnqueuedView),
              (status = 400, body = Problem), (status = 429, body = Problem),
              (status = 503, body = Problem)))]
async fn enqueue(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    headers: HeaderMap,
    request: Result<Json<EnqueueBody>, JsonRejection>,
) -> Result<(StatusCode, Json<EnqueuedView>), ApiError> {
    let request = body(request)?;
    let header_key = headers.get(IDEMPOTENCY_KEY_HEADER).map(|value| {
        value
            .to_str()
            .map(str::to_owned)
            .map_err(|_| ApiError::bad_request("Idempotency-Key must be ASCII"))
    });
    let idempotency_key = match (request.idempotency_key, header_key.transpose()?) {
        (Some(body), Some(header)) if body != header => {
            return Err(ApiError::bad_request("Idempotency-Key header and body disagree"));
        }
        (body, header) => body.or(header),
    };
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    let enqueued = queue
        .enqueue(EnqueueRequest {
            payload: request.payload,
            priority: request.priority,
            delay_ms: request.delay_ms,
            idempotency_key,
        })
        .instrument(recipe_span("queue.enqueue", &name))
        .await?;
    let status = if enqueued.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(EnqueuedView { id: enqueued.id.to_string(), duplicate: enqueued.duplicate })))
}

#[derive(Deserialize, ToSchema)]
pub struct ClaimBody {
    /// The lease that owns the claim: when it ends, the item becomes claimable again.
    pub lease: String,
    /// The claim also ends this long after it is made unless extended; default 30000.
    #[serde(default)]
    pub visibility_timeout_ms: Option<u64>,
    /// Long-poll: wait up to this long for an item (at most 60000); default 0.
    #[serde(default)]
    pub wait_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ClaimView {
    pub id: String,
    /// Pass it to ack, nack or extend.
    pub receipt: String,
    pub payload: Value,
    /// Claims of this item so far, this one included.
    pub attempts: u32,
    pub enqueued_at_ms: u64,
    pub claimed_until_ms: u64,
}

/// Claims the next item (highest priority first, FIFO within a priority). 204 when no
/// item became claimable within `wait_ms`.
#[utoipa::path(post, path = "/v1/queues/{name}/claims", tag = "queues", request_body = ClaimBody,
    params(("name" = String, Path, description = "queue name")),
    responses((status = 200, body = ClaimView), (status = 204, description = "nothing to claim"),
              (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 503, body = Problem)))]
async fn claim(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    request: Result<Json<ClaimBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    if request.wait_ms > CLAIM_WAIT_MS_MAX {
        return Err(ApiError::bad_request(format!("wait_ms must be at most {CLAIM_WAIT_MS_MAX}")));
    }
    let lease = LeaseId::decode(&request.lease)?;
    let client = state.lease_client(&identity, &lease).await?;
    let queue = open(&state, client, &name).await?;
    let claimed = queue
        .claim(ClaimRequest {
            visibility_timeout_ms: request
                .visibility_timeout_ms
                .unwrap_or(state.config().queue_visibility_timeout_ms),
            wait_ms: request.wait_ms,
        })
        .instrument(recipe_span("queue.claim", &name))
        .await?;
    Ok(match claimed {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(claimed) => Json(ClaimView {
            id: claimed.id.to_string(),
            receipt: claimed.receipt.to_string(),
            payload: claimed.payload,
            attempts: claimed.attempts,
            enqueued_at_ms: claimed.enqueued_at_ms,
            claimed_until_ms: claimed.claimed_until_ms,
        })
        .into_response(),
    })
}

fn receipt(text: &str) -> Result<Receipt, ApiError> {
    Ok(text.parse::<Receipt>()?)
}

/// Finishes the item: it is removed for good. 409 if the claim was lost (expired and
/// taken over, or its lease ended).
#[utoipa::path(post, path = "/v1/queues/{name}/claims/{receipt}/ack", tag = "queues",
    params(("name" = String, Path, description = "queue name"),
           ("receipt" = String, Path, description = "receipt from the claim")),
    responses((status = 204, description = "acknowledged"), (status = 400, body = Problem),
              (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn ack(
    State(state): State<AppState>,
    identity: Identity,
    Path((name, receipt_text)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let receipt = receipt(&receipt_text)?;
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    queue.ack(receipt).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
pub struct NackBody {
    /// Claimable again this many ms from now; default 0.
    #[serde(default)]
    pub delay_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NackView {
    /// `requeued`, or `dead_lettered` when that was the item's last attempt.
    pub outcome: String,
}

/// Gives the item back (optionally delayed); after its last attempt it becomes a dead
/// letter instead.
#[utoipa::path(post, path = "/v1/queues/{name}/claims/{receipt}/nack", tag = "queues",
    request_body(content = NackBody, description = "optional"),
    params(("name" = String, Path, description = "queue name"),
           ("receipt" = String, Path, description = "receipt from the claim")),
    responses((status = 200, body = NackView), (status = 400, body = Problem),
              (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn nack(
    State(state): State<AppState>,
    identity: Identity,
    Path((name, receipt_text)): Path<(String, String)>,
    request: Option<Json<NackBody>>,
) -> Result<Json<NackView>, ApiError> {
    let receipt = receipt(&receipt_text)?;
    let delay_ms = request.map(|Json(body)| body.delay_ms).unwrap_or(0);
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    let outcome = match queue.nack(receipt, delay_ms).await? {
        NackOutcome::Requeued => "requeued",
        NackOutcome::DeadLettered => {
            state.metrics().dead_lettered(&name);
            "dead_lettered"
        }
    };
    Ok(Json(NackView { outcome: outcome.to_owned() }))
}

#[derive(Deserialize, ToSchema)]
pub struct ExtendBody {
    /// The claim's new deadline, from now.
    pub visibility_timeout_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ExtendView {
    /// The receipt to use from now on (the old one stops working).
    pub receipt: String,
    pub claimed_until_ms: u64,
}

/// Moves the claim's deadline; returns a new receipt.
#[utoipa::path(post, path = "/v1/queues/{name}/claims/{receipt}/extend", tag = "queues",
    request_body = ExtendBody,
    params(("name" = String, Path, description = "queue name"),
           ("receipt" = String, Path, description = "receipt from the claim")),
    responses((status = 200, body = ExtendView), (status = 400, body = Problem),
              (status = 409, body = Problem), (status = 503, body = Problem)))]
async fn extend(
    State(state): State<AppState>,
    identity: Identity,
    Path((name, receipt_text)): Path<(String, String)>,
    request: Result<Json<ExtendBody>, JsonRejection>,
) -> Result<Json<ExtendView>, ApiError> {
    let request = body(request)?;
    let receipt = receipt(&receipt_text)?;
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    let extended = queue.extend(receipt, request.visibility_timeout_ms).await?;
    Ok(Json(ExtendView {
        receipt: extended.receipt.to_string(),
        claimed_until_ms: extended.claimed_until_ms,
    }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct StatsView {
    /// Live items, claimed or not.
    pub depth: u64,
    pub in_flight: u64,
    pub dead_letters: u64,
    /// Size bound: live items plus dead letters.
    pub max_items: u64,
}

/// Depth, in-flight claims and dead letters.
#[utoipa::path(get, path = "/v1/queues/{name}/stats", tag = "queues",
    params(("name" = String, Path, description = "queue name")),
    responses((status = 200, body = StatsView), (status = 400, body = Problem),
              (status = 503, body = Problem)))]
async fn stats(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
) -> Result<Json<StatsView>, ApiError> {
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    let stats = queue.stats().await?;
    state.metrics().queue_stats(&name, stats.depth, stats.in_flight);
    Ok(Json(StatsView {
        depth: stats.depth,
        in_flight: stats.in_flight,
        dead_letters: stats.dead_letters,
        max_items: stats.max_items,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct DeadLetterQuery {
    /// How many to list (oldest first); default 100, at most 1000.
    pub limit: Option<usize>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    /// The id the item had while live.
    pub item: String,
    pub payload: Value,
    pub attempts: u32,
    pub reason: String,
    pub dead_at_ms: u64,
}

/// The oldest dead letters.
#[utoipa::path(get, path = "/v1/queues/{name}/dead-letters", tag = "queues",
    params(("name" = String, Path, description = "queue name"), DeadLetterQuery),
    responses((status = 200, body = [DeadLetterView]), (status = 400, body = Problem),
              (status = 503, body = Problem)))]
async fn dead_letters(
    State(state): State<AppState>,
    identity: Identity,
    Path(name): Path<String>,
    query: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> Result<Json<Vec<DeadLetterView>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEAD_LETTERS_LIMIT_DEFAULT);
    if limit > DEAD_LETTERS_LIMIT_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {DEAD_LETTERS_LIMIT_MAX}"
        )));
    }
    let queue = open(&state, state.client(&identity).await?, &name).await?;
    let letters = queue.dead_letters(limit).await?;
    Ok(Json(
        letters
            .into_iter()
            .map(|letter| DeadLetterView {
                item: letter.item,
                payload: letter.payload,
                attempts: letter.attempts,
                reason: letter.reason,
                dead_at_ms: letter.dead_at_ms,
            })
            .collect(),
    ))
}
