//! Every error leaves as a problem document, including the ones axum and tower produce
//! themselves (extractor rejections, body limit, timeout).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest original error body kept as the `detail` of a converted problem.
pub const PROBLEM_DETAIL_BYTES_MAX: usize = 1024;

/// Middleware turning every error response that is not already a problem document
/// (extractor rejections, the body limit's 413, the timeout's 503) into
/// `application/problem+json`. A JSON body that does not fit the schema (axum's 422) is
/// reported as 400, like all bad input.
pub async fn problems_only(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), PROBLEM_DETAIL_BYTES_MAX)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let (status, kind) = match status {
        StatusCode::UNPROCESSABLE_ENTITY => (StatusCode::BAD_REQUEST, "bad-request"),
        StatusCode::PAYLOAD_TOO_LARGE => (status, "body-too-large"),
        StatusCode::SERVICE_UNAVAILABLE => (status, "timeout"),
        StatusCode::METHOD_NOT_ALLOWED => (status, "method-not-allowed"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (status, "unsupported-media-type"),
        _ if status.is_client_error() => (status, "bad-request"),
        _ => (status, "internal"),
    };
    let detail = if body.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        body
    };
    ApiError::new(status, kind, detail).into_response()
}
