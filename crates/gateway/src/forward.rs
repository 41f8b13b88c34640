//! Forwarding a service's requests to the gateway process that serves it: a reverse
//! proxy over HTTP/1.1 that passes method, path, query, headers (authorization and the
//! request id included) and streams bodies both ways, so Server-Sent Events and
//! long-polls work through it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, Version, header};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::ApiError;

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// One upstream gateway and a pooled HTTP client to it.
pub struct Upstream {
    base: String,
    client: Client<HttpConnector, Body>,
}

impl Upstream {
    /// `base` is `http://host:port`.
    pub fn new(base: &str) -> Arc<Upstream> {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Arc::new(Upstream { base: base.to_owned(), client })
    }

    /// Sends `request` to the same path and query upstream and returns its answer.
    pub async fn forward(&self, request: Request) -> Response {
        let (mut parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = match format!("{}{path_and_query}", self.base).parse::<Uri>() {
            Ok(uri) => uri,
            Err(error) => return bad_gateway(format!("cannot address the upstream: {error}")),
        };
        parts.version = Version::HTTP_11;
        strip_hop_by_hop(&mut parts.headers);
        // The client sets Host from the upstream URI.
        parts.headers.remove(header::HOST);
        match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, Body::new(body))
            }
            Err(error) => bad_gateway(format!("upstream gateway {} failed: {error}", self.base)),
        }
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn bad_gateway(detail: String) -> Response {
    ApiError::new(StatusCode::BAD_GATEWAY, "upstream-unavailable", detail).into_response()
}
