//! Checks on values, each error naming its key, and the build of `ServerConfig`.

use std::collections::BTreeSet;

use server::ServerConfig;
use server::config::{EnsembleConfig, EnsembleMember, PeerTlsFiles};

use super::sections::{EnsembleSection, FileConfig, RoleName};
use super::{ConfigError, Effective, identity};

/// Longest tick accepted: a minute already makes the smallest session 2 minutes.
pub const TICK_MS_MAX: u32 = 60_000;
/// Smallest frame limit accepted: a connect request with a password fits well inside.
pub const PACKET_BYTES_MIN: usize = 1_024;
/// Most ensemble members accepted: ZooKeeper documents ids 1..=255.
pub const ENSEMBLE_MEMBERS_MAX: usize = 255;

/// Validates `file`, resolves `me`, and returns it with the `ServerConfig` it describes.
pub fn validate(mut file: FileConfig, hostname: Option<&str>) -> Result<Effective, ConfigError> {
    let section = &file.server;
    if section.tick_ms == 0 || section.tick_ms > TICK_MS_MAX {
        return Err(ConfigError::invalid("server.tick_ms", format!("must be 1..={TICK_MS_MAX}")));
    }
    if section.packet_bytes_max < PACKET_BYTES_MIN {
        return Err(ConfigError::invalid(
            "server.packet_bytes_max",
            format!("must be at least {PACKET_BYTES_MIN}"),
        ));
    }
    for (key, value) in [
        ("server.connections_max", section.connections_max as u64),
        (
            "server.outstanding_requests_per_connection_max",
            section.outstanding_requests_per_connection_max as u64,
        ),
        ("server.snapshot_every_txns", section.snapshot_every_txns),
        ("server.log_segment_bytes_max", section.log_segment_bytes_max),
        ("server.container_check_interval_ms", section.container_check_interval_ms),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(key, "must be greater than 0"));
        }
    }
    if section.data_dir.as_os_str().is_empty() {
        return Err(ConfigError::invalid("server.data_dir", "must not be empty"));
    }

    let mut server = ServerConfig::new(section.client_listen, section.data_dir.clone());
    section.apply_to(&mut server);
    if server.session_timeout_ms_min() > server.session_timeout_ms_max() {
        return Err(ConfigError::invalid(
            "server.session_timeout_ms_min",
            format!(
                "{} is more than server.session_timeout_ms_max ({})",
                server.session_timeout_ms_min(),
                server.session_timeout_ms_max()
            ),
        ));
    }

    if let Some(ensemble) = file.ensemble.as_mut() {
        let me = resolve_me(ensemble, hostname)?;
        server.ensemble = Some(ensemble_config(ensemble, me)?);
        // The printed configuration shows the id in use, not how it was found.
        ensemble.me = Some(me);
        ensemble.me_from_hostname = false;
    }
    Ok(Effective { file, server })
}

fn resolve_me(ensemble: &EnsembleSection, hostname: Option<&str>) -> Result<u64, ConfigError> {
    match (ensemble.me, ensemble.me_from_hostname) {
        (Some(_), true) => Err(ConfigError::invalid(
            "ensemble.me",
            "give either me or me_from_hostname = true, not both",
        )),
        (Some(me), false) => Ok(me),
        (None, true) => {
            let hostname = hostname.ok_or_else(|| {
                ConfigError::invalid("ensemble.me_from_hostname", "the hostname is unknown")
            })?;
            identity::id_from_hostname(hostname)
                .map_err(|problem| ConfigError::invalid("ensemble.me_from_hostname", problem))
        }
        (None, false) => Err(ConfigError::invalid(
            "ensemble.me",
            "missing: give me = <id> or me_from_hostname = true",
        )),
    }
}

fn ensemble_config(ensemble: &EnsembleSection, me: u64) -> Result<EnsembleConfig, ConfigError> {
    if ensemble.members.is_empty() {
        return Err(ConfigError::invalid("ensemble.members", "at least one member is needed"));
    }
    if ensemble.members.len() > ENSEMBLE_MEMBERS_MAX {
        return Err(ConfigError::invalid(
            "ensemble.members",
            format!("{} members; at most {ENSEMBLE_MEMBERS_MAX}", ensemble.members.len()),
        ));
    }
    if ensemble.sync_diff_txns_max == 0 {
        return Err(ConfigError::invalid("ensemble.sync_diff_txns_max", "must be greater than 0"));
    }
    if ensemble.peer_tick_ms == 0 {
        return Err(ConfigError::invalid("ensemble.peer_tick_ms", "must be greater than 0"));
    }
    if ensemble.secret.as_deref() == Some("") {
        return Err(ConfigError::invalid(
            "ensemble.secret",
            "must not be empty (leave it out for none)",
        ));
    }
    let mut ids = BTreeSet::new();
    for (index, member) in ensemble.members.iter().enumerate() {
        let key = |name: &str| format!("ensemble.members[{index}].{name}");
        if !ids.insert(member.id) {
            return Err(ConfigError::invalid(
                key("id"),
                format!("id {} is used by another member", member.id),
            ));
        }
        check_host_port(&member.peer_address)
            .map_err(|problem| ConfigError::invalid(key("peer_address"), problem))?;
        if let Some(client_address) = &member.client_address {
            check_host_port(client_address)
                .map_err(|problem| ConfigError::invalid(key("client_address"), problem))?;
        }
    }
    if !ensemble.members.iter().any(|member| member.role == RoleName::Participant) {
        return Err(ConfigError::invalid(
            "ensemble.members",
            "at least one member must be a participant",
        ));
    }
    if !ids.contains(&me) {
        let origin =
            if ensemble.me_from_hostname { "ensemble.me_from_hostname" } else { "ensemble.me" };
        return Err(ConfigError::invalid(
            origin,
            format!("id {me} is not among ensemble.members (ids {ids:?})"),
        ));
    }
    Ok(EnsembleConfig {
        me,
        members: ensemble
            .members
            .iter()
            .map(|member| EnsembleMember {
                id: member.id,
                peer_address: member.peer_address.clone(),
                client_address: member.client_address.clone(),
                role: member.role.into(),
            })
            .collect(),
        peer_listen: ensemble.peer_listen,
        secret: ensemble.secret.clone(),
        peer_tick_ms: ensemble.peer_tick_ms,
        sync_diff_txns_max: ensemble.sync_diff_txns_max,
        peer_tls: peer_tls_files(ensemble)?,
    })
}

/// The peer TLS files: all three keys or none, so a half-configured member
/// never silently falls back to plaintext.
fn peer_tls_files(ensemble: &EnsembleSection) -> Result<Option<PeerTlsFiles>, ConfigError> {
    let keys = [
        ("ensemble.peer_tls_cert_file", &ensemble.peer_tls_cert_file),
        ("ensemble.peer_tls_key_file", &ensemble.peer_tls_key_file),
        ("ensemble.peer_tls_ca_file", &ensemble.peer_tls_ca_file),
    ];
    for (key, value) in keys {
        if value.as_ref().is_some_and(|path| path.as_os_str().is_empty()) {
            return Err(ConfigError::invalid(key, "must not be empty (leave it out for none)"));
        }
    }
    match (&ensemble.peer_tls_cert_file, &ensemble.peer_tls_key_file, &ensemble.peer_tls_ca_file) {
        (None, None, None) => Ok(None),
        (Some(cert), Some(key), Some(ca)) => {
            Ok(Some(PeerTlsFiles { cert: cert.clone(), key: key.clone(), ca: ca.clone() }))
        }
        _ => {
            let (missing, _) =
                keys.iter().find(|(_, value)| value.is_none()).expect("one is unset");
            Err(ConfigError::invalid(
                *missing,
                "missing: peer TLS needs peer_tls_cert_file, peer_tls_key_file and peer_tls_ca_file together",
            ))
        }
    }
}

/// `host:port` with a non-empty host and a port in 1..=65535.
pub fn check_host_port(address: &str) -> Result<(), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("{address:?} is not host:port (no port)"))?;
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!("{address:?} is not host:port (bad host)"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => Err(format!("{address:?} is not host:port (port must be 1..=65535)")),
    }
}
