//! Gateway configuration: one explicit struct, passed in.

use std::collections::HashMap;
use std::time::Duration;

/// Largest request body accepted, in bytes: a ZooKeeper node holds at most 1 MiB of data,
/// base64 inflates it by a third, and JSON framing adds a little.
pub const BODY_BYTES_MAX_DEFAULT: usize = 1_500_000;

/// Time limit for one request that is not a long-poll or a stream.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// Session timeout of the gateway's own (non-lease) sessions.
pub const SHARED_SESSION_TIMEOUT_MS: u64 = 10_000;

/// A ZooKeeper digest identity (`user:password`) a bearer token acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestIdentity {
    pub user: String,
    pub password: String,
}

impl DigestIdentity {
    /// Parses `user:password`.
    pub fn parse(text: &str) -> Option<DigestIdentity> {
        let (user, password) = text.split_once(':')?;
        if user.is_empty() {
            return None;
        }
        Some(DigestIdentity { user: user.to_owned(), password: password.to_owned() })
    }

    /// The auth payload of ZooKeeper's `digest` scheme.
    pub fn auth_bytes(&self) -> Vec<u8> {
        format!("{}:{}", self.user, self.password).into_bytes()
    }
}

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// ZooKeeper connect string of the ensemble (`host:port,host:port`).
    pub ensemble: String,
    /// Bearer token → digest identity. Empty = no authentication (development).
    pub tokens: HashMap<String, DigestIdentity>,
    pub body_bytes_max: usize,
    pub request_timeout: Duration,
}

impl GatewayConfig {
    pub fn new(ensemble: impl Into<String>) -> GatewayConfig {
        GatewayConfig {
            ensemble: ensemble.into(),
            tokens: HashMap::new(),
            body_bytes_max: BODY_BYTES_MAX_DEFAULT,
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS_DEFAULT),
        }
    }

    /// Parses `token=user:password` entries (as given on the command line).
    pub fn parse_token(entry: &str) -> Option<(String, DigestIdentity)> {
        let (token, identity) = entry.split_once('=')?;
        if token.is_empty() {
            return None;
        }
        Some((token.to_owned(), DigestIdentity::parse(identity)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_token_entries() {
        let (token, identity) = GatewayConfig::parse_token("s3cret=alice:pw:with:colons").unwrap();
        assert_eq!(token, "s3cret");
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.password, "pw:with:colons");
        assert!(GatewayConfig::parse_token("=alice:pw").is_none());
        assert!(GatewayConfig::parse_token("tok=nocolon").is_none());
        assert!(GatewayConfig::parse_token("tok=:pw").is_none());
    }
}
