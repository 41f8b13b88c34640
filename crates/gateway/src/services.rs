//! The gateway's services (one per recipe or resource), which a gateway may serve itself
//! (`--only`, default all), forward to another gateway process (`--route`), or neither.

use std::fmt;
use std::str::FromStr;

/// One group of routes that can run in its own process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Leases,
    Znodes,
    Lock,
    Election,
    Queue,
    Config,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Leases,
        Service::Znodes,
        Service::Lock,
        Service::Election,
        Service::Queue,
        Service::Config,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Leases => "leases",
            Service::Znodes => "znodes",
            Service::Lock => "lock",
            Service::Election => "election",
            Service::Queue => "queue",
            Service::Config => "config",
        }
    }

    /// The URL path prefixes the service's routes live under.
    pub fn path_prefixes(self) -> &'static [&'static str] {
        match self {
            Service::Leases => &["/v1/leases"],
            Service::Znodes => &["/v1/znodes", "/v1/children", "/v1/stat", "/v1/txn", "/v1/watch"],
            Service::Lock => &["/v1/locks", "/v1/semaphores"],
            Service::Election => &["/v1/elections"],
            Service::Queue => &["/v1/queues"],
            Service::Config => &["/v1/config"],
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceSpecError {
    #[error(
        "unknown service {0:?} (expected one of leases, znodes, lock, election, queue, config)"
    )]
    UnknownService(String),
    #[error("route {0:?}: expected SERVICE=http://host:port")]
    MalformedRoute(String),
}

impl FromStr for Service {
    type Err = ServiceSpecError;

    fn from_str(text: &str) -> Result<Service, ServiceSpecError> {
        Service::ALL
            .into_iter()
            .find(|service| service.name() == text)
            .ok_or_else(|| ServiceSpecError::UnknownService(text.to_owned()))
    }
}

/// Where one service's requests go instead of this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub service: Service,
    /// `http://host:port` of the gateway that serves it (no trailing slash, no path).
    pub upstream: String,
}

impl FromStr for Route {
    type Err = ServiceSpecError;

    /// Parses `SERVICE=http://host:port`.
    fn from_str(text: &str) -> Result<Route, ServiceSpecError> {
        let malformed = || ServiceSpecError::MalformedRoute(text.to_owned());
        let (service, upstream) = text.split_once('=').ok_or_else(malformed)?;
        let upstream = upstream.trim_end_matches('/');
        let authority = upstream.strip_prefix("http://").ok_or_else(malformed)?;
        if authority.is_empty() || authority.contains('/') {
            return Err(malformed());
        }
        Ok(Route { service: service.parse()?, upstream: upstream.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_and_routes_parse_and_reject_garbage() {
        for service in Service::ALL {
            assert_eq!(service.name().parse::<Service>(), Ok(service));
        }
        assert!("queues".parse::<Service>().is_err());
        let route: Route = "queue=http://10.0.0.5:8181/".parse().unwrap();
        assert_eq!(
            route,
            Route { service: Service::Queue, upstream: "http://10.0.0.5:8181".into() }
        );
        for bad in
            ["queue", "queue=10.0.0.5:8181", "queue=http://", "queue=http://h/p", "x=http://h"]
        {
            assert!(bad.parse::<Route>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_documented_path_belongs_to_exactly_one_service() {
        let all: Vec<&str> = Service::ALL.iter().flat_map(|s| s.path_prefixes()).copied().collect();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len());
    }
}
