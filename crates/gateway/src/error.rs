//! `ApiError`: every failure leaves the gateway as `application/problem+json` (RFC 9457)
//! with the ZooKeeper error code when one applies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use recipes_lock::LockError;
use serde::Serialize;
use utoipa::ToSchema;
use zookeeper_client::Error as ZkError;

/// The problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:herald:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// ZooKeeper's numeric error code (for example -101 for NoNode), when one applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper_code: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub problem: Problem,
    /// Seconds after which a retry may succeed, sent as `Retry-After` (for 429 and 503
    /// answers whose cause passes by itself).
    pub retry_after_s: Option<u64>,
}

/// `Retry-After` of a full queue: consumers drain it at their own pace, so this is a
/// polite first back-off rather than a promise.
pub const QUEUE_FULL_RETRY_AFTER_S: u64 = 1;
/// `Retry-After` when the ensemble throttles requests.
pub const THROTTLED_RETRY_AFTER_S: u64 = 1;

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            problem: Problem {
                kind: format!("urn:herald:problem:{kind}"),
                title: status.canonical_reason().unwrap_or("error").to_owned(),
                status: status.as_u16(),
                detail: detail.into(),
                zookeeper_code: None,
            },
            retry_after_s: None,
        }
    }

    /// Adds a `Retry-After` of `seconds`.
    pub fn retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ensemble-unavailable", detail)
    }

    fn with_code(mut self, code: i32) -> ApiError {
        self.problem.zookeeper_code = Some(code);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ZkError> for ApiError {
    fn from(error: ZkError) -> ApiError {
        use StatusCode as S;
        let detail = error.to_string();
        let (status, kind, code) = match &error {
            ZkError::NoNode => (S::NOT_FOUND, "no-node", -101),
            ZkError::NoAuth => (S::FORBIDDEN, "no-auth", -102),
            ZkError::BadVersion => (S::CONFLICT, "bad-version", -103),
            ZkError::NoChildrenForEphemerals => {
                (S::BAD_REQUEST, "no-children-for-ephemerals", -108)
            }
            ZkError::NodeExists => (S::CONFLICT, "node-exists", -110),
            ZkError::NotEmpty => (S::CONFLICT, "not-empty", -111),
            ZkError::SessionExpired => (S::NOT_FOUND, "session-expired", -112),
            ZkError::InvalidAcl => (S::BAD_REQUEST, "invalid-acl", -114),
            ZkError::AuthFailed => (S::UNAUTHORIZED, "auth-failed", -115),
            ZkError::SessionMoved => (S::SERVICE_UNAVAILABLE, "session-moved", -118),
            ZkError::NotReadOnly => (S::SERVICE_UNAVAILABLE, "not-read-only", -119),
            ZkError::NoWatcher => (S::NOT_FOUND, "no-watcher", -121),
            ZkError::QuotaExceeded => (S::TOO_MANY_REQUESTS, "quota-exceeded", -125),
            ZkError::Throttled => (S::TOO_MANY_REQUESTS, "throttled", -127),
            ZkError::ConnectionLoss => (S::SERVICE_UNAVAILABLE, "connection-loss", -4),
            ZkError::Timeout => (S::SERVICE_UNAVAILABLE, "operation-timeout", -7),
            ZkError::NoHosts => (S::SERVICE_UNAVAILABLE, "no-hosts", -4),
            ZkError::ClientClosed => (S::SERVICE_UNAVAILABLE, "session-closed", -112),
            ZkError::BadArguments(_) => (S::BAD_REQUEST, "bad-arguments", -8),
            ZkError::Unimplemented => (S::NOT_IMPLEMENTED, "unimplemented", -6),
            ZkError::MarshallingError => (S::BAD_REQUEST, "marshalling-error", -5),
            ZkError::RuntimeInconsistent => (S::PRECONDITION_FAILED, "runtime-inconsistent", -2),
            ZkError::UnexpectedErrorCode(code) => (S::BAD_GATEWAY, "unexpected-code", *code),
            _ => (S::BAD_GATEWAY, "zookeeper-error", -1),
        };
        let api = ApiError::new(status, kind, detail).with_code(code);
        match error {
            ZkError::Throttled => api.retry_after(THROTTLED_RETRY_AFTER_S),
            _ => api,
        }
    }
}

impl From<LockError> for ApiError {
    fn from(error: LockError) -> ApiError {
        use StatusCode as S;
        let detail = error.to_string();
        match error {
            LockError::NotAcquired => ApiError::new(S::CONFLICT, "not-acquired", detail),
            LockError::UnknownToken(_) => ApiError::new(S::NOT_FOUND, "unknown-token", detail),
            LockError::NotHolder(_) => ApiError::new(S::PRECONDITION_FAILED, "not-holder", detail),
            LockError::NotOwner(_) => ApiError::new(S::FORBIDDEN, "not-owner", detail),
            LockError::ContenderLost => ApiError::new(S::CONFLICT, "lease-lost", detail),
            LockError::WaitTooLong { .. }
            | LockError::LockDelayTooLong { .. }
            | LockError::BadName(_)
            | LockError::BadPermits { .. }
            | LockError::WrongKind(_) => ApiError::bad_request(detail),
            LockError::WriteFailed(source) | LockError::ZooKeeper(source) => source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zookeeper_errors_map_to_the_documented_statuses() {
        let cases = [
            (ZkError::NoNode, 404, -101),
            (ZkError::BadVersion, 409, -103),
            (ZkError::NodeExists, 409, -110),
            (ZkError::NotEmpty, 409, -111),
            (ZkError::NoAuth, 403, -102),
            (ZkError::ConnectionLoss, 503, -4),
            (ZkError::Timeout, 503, -7),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), status);
            assert_eq!(api.problem.zookeeper_code, Some(code));
        }
    }

    #[test]
    fn throttling_is_429_with_retry_after_and_quota_429_without() {
        let throttled = ApiError::from(ZkError::Throttled).into_response();
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.headers()[header::RETRY_AFTER], "1");
        assert_eq!(throttled.headers()[header::CONTENT_TYPE], "application/problem+json");
        // A quota does not lift by waiting: no Retry-After.
        let quota = ApiError::from(ZkError::QuotaExceeded).into_response();
        assert_eq!(quota.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(quota.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn a_stale_holder_is_a_failed_precondition() {
        assert_eq!(ApiError::from(LockError::NotHolder(7)).status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(ApiError::from(LockError::NotAcquired).status, StatusCode::CONFLICT);
    }
}
