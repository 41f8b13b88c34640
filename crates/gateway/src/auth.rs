//! Bearer-token authentication. Each configured token maps to a ZooKeeper digest identity;
//! the gateway adds that digest auth to the sessions it uses for the token, so the
//! ensemble's ACLs make the authorization decisions. No tokens configured = open.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::DigestIdentity;
use crate::error::ApiError;
use crate::state::AppState;

/// Who the caller acts as towards ZooKeeper; `None` = anonymous (open gateway).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity(pub Option<DigestIdentity>);

impl Identity {
    /// Key of the shared session used for this identity.
    pub fn session_key(&self) -> String {
        match &self.0 {
            None => String::new(),
            Some(digest) => format!("{}:{}", digest.user, digest.password),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Identity, Self::Rejection> {
        Ok(parts.extensions.get::<Identity>().cloned().unwrap_or_default())
    }
}

/// Middleware: resolves the bearer token into an [`Identity`] or rejects with 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let tokens = &state.config().tokens;
    let identity = if tokens.is_empty() {
        Identity(None)
    } else {
        let header = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|value| value.strip_prefix("Bearer ")) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "an Authorization: Bearer <token> header is required",
            ));
        };
        match tokens.get(token.trim()) {
            Some(digest) => Identity(Some(digest.clone())),
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "unknown bearer token",
                ));
            }
        }
    };
    request.extensions_mut().insert(identity);
    Ok(next.run(request).await)
}
