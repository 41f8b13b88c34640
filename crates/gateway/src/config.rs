//! Gateway configuration: one explicit struct, passed in.

use std::collections::HashMap;
use std::time::Duration;

use recipes_config::ConfigSettings;
use recipes_queue::QueueConfig;
use recipes_queue::config::VISIBILITY_TIMEOUT_MS_MAX;

use crate::services::{Route, Service};

/// Largest request body accepted, in bytes: a ZooKeeper node holds at most 1 MiB of data,
/// base64 inflates it by a third, and JSON framing adds a little.
pub const BODY_BYTES_MAX_DEFAULT: usize = 1_500_000;

/// Time limit for one request that is not a long-poll or a stream.
pub const REQUEST_TIMEOUT_MS_DEFAULT: u64 = 10_000;

/// Session timeout of the gateway's own (non-lease) sessions.
pub const SHARED_SESSION_TIMEOUT_MS: u64 = 10_000;

/// Visibility timeout of a queue claim that does not name one.
pub const QUEUE_VISIBILITY_TIMEOUT_MS_DEFAULT: u64 = 30_000;

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
    /// Queue limits: size bound, attempts before dead-lettering, bucket size, root.
    pub queue: QueueConfig,
    /// Visibility timeout of a claim that does not name one.
    pub queue_visibility_timeout_ms: u64,
    /// Config store settings: history length, root.
    pub config_store: ConfigSettings,
    /// The services this process serves itself; empty = all of them.
    pub only: Vec<Service>,
    /// Services forwarded to another gateway process.
    pub routes: Vec<Route>,
}

/// A gateway configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigInvalid {
    #[error("queue settings: {0}")]
    Queue(#[from] recipes_queue::QueueError),
    #[error("config store settings: {0}")]
    ConfigStore(#[from] recipes_config::ConfigError),
    #[error("queue visibility timeout must be 1..={max} ms, got {got}")]
    VisibilityTimeout { got: u64, max: u64 },
    #[error("service {0} is both served here and routed elsewhere")]
    ServedAndRouted(Service),
    #[error("service {0} is routed twice")]
    RoutedTwice(Service),
}

impl GatewayConfig {
    pub fn new(ensemble: impl Into<String>) -> GatewayConfig {
        GatewayConfig {
            ensemble: ensemble.into(),
            tokens: HashMap::new(),
            body_bytes_max: BODY_BYTES_MAX_DEFAULT,
            request_timeout: Duration::from_millis(REQUEST_TIMEOUT_MS_DEFAULT),
            queue: QueueConfig::default(),
            queue_visibility_timeout_ms: QUEUE_VISIBILITY_TIMEOUT_MS_DEFAULT,
            config_store: ConfigSettings::default(),
            only: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Whether this process serves `service` itself (it may also be routed elsewhere).
    pub fn serves(&self, service: Service) -> bool {
        if self.routes.iter().any(|route| route.service == service) {
            return false;
        }
        self.only.is_empty() || self.only.contains(&service)
    }

    /// Where `service` is forwarded, if anywhere.
    pub fn route_of(&self, service: Service) -> Option<&Route> {
        self.routes.iter().find(|route| route.service == service)
    }

    /// Checks the recipe settings with the recipes' own bounds.
    pub fn validate(&self) -> Result<(), ConfigInvalid> {
        self.queue.validate()?;
        self.config_store.validate()?;
        let max = VISIBILITY_TIMEOUT_MS_MAX;
        let got = self.queue_visibility_timeout_ms;
        if got == 0 || got > max {
            return Err(ConfigInvalid::VisibilityTimeout { got, max });
        }
        for (index, route) in self.routes.iter().enumerate() {
            if self.only.contains(&route.service) {
                return Err(ConfigInvalid::ServedAndRouted(route.service));
            }
            if self.routes[..index].iter().any(|earlier| earlier.service == route.service) {
                return Err(ConfigInvalid::RoutedTwice(route.service));
            }
        }
        Ok(())
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
    fn recipe_settings_are_checked_at_their_bounds() {
        let mut config = GatewayConfig::new("127.0.0.1:2181");
        assert!(config.validate().is_ok());
        config.queue_visibility_timeout_ms = VISIBILITY_TIMEOUT_MS_MAX;
        assert!(config.validate().is_ok());
        config.queue_visibility_timeout_ms = VISIBILITY_TIMEOUT_MS_MAX + 1;
        assert!(config.validate().is_err());
        config.queue_visibility_timeout_ms = 0;
        assert!(config.validate().is_err());
        config.queue_visibility_timeout_ms = 1;
        config.queue.max_attempts = 0;
        assert!(matches!(config.validate(), Err(ConfigInvalid::Queue(_))));
        config.queue.max_attempts = 1;
        config.config_store.history_versions = recipes_config::settings::HISTORY_VERSIONS_MAX + 1;
        assert!(matches!(config.validate(), Err(ConfigInvalid::ConfigStore(_))));
    }

    #[test]
    fn a_service_is_served_here_routed_elsewhere_or_neither() {
        let mut config = GatewayConfig::new("127.0.0.1:2181");
        assert!(Service::ALL.iter().all(|service| config.serves(*service)));
        config.only = vec![Service::Lock];
        config.routes = vec!["queue=http://127.0.0.1:9".parse().unwrap()];
        assert!(config.validate().is_ok());
        assert!(config.serves(Service::Lock));
        assert!(!config.serves(Service::Queue) && config.route_of(Service::Queue).is_some());
        assert!(!config.serves(Service::Config) && config.route_of(Service::Config).is_none());
        config.routes.push("queue=http://127.0.0.1:10".parse().unwrap());
        assert!(matches!(config.validate(), Err(ConfigInvalid::RoutedTwice(Service::Queue))));
        config.routes = vec!["lock=http://127.0.0.1:9".parse().unwrap()];
        assert!(matches!(config.validate(), Err(ConfigInvalid::ServedAndRouted(Service::Lock))));
    }

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
