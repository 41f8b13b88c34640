//! `herald server`: one member of an ensemble (or a standalone node when no
//! `--member` is given), configured by flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use server::config::{EnsembleConfig, EnsembleMember, PeerTlsFiles, ServerRole};
use server::{Mode, NodeStatus, RunningServer, ServerConfig, SyncKind};

/// Flags of `herald server` that override the configuration file (handy
/// on one machine and in scripts; `herald cluster` uses them).
#[derive(Args, Debug, Clone, Default)]
pub struct ServerFlags {
    /// This member's id (one of the `--member` ids).
    #[arg(long)]
    pub id: Option<u64>,
    /// Address of the ZooKeeper client port.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Where the other members connect.
    #[arg(long)]
    pub peer_listen: Option<SocketAddr>,
    /// One member of the ensemble as `ID=HOST:PEER_PORT`, or
    /// `ID=HOST:PEER_PORT:observer`; repeat for every member, this one
    /// included. Replaces the file's `[ensemble]` members.
    #[arg(long = "member", value_name = "ID=HOST:PORT[:observer]")]
    pub members: Vec<String>,
    /// A file holding the secret every member proves it knows.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Directory for the txn log, snapshots and epochs; created if missing.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Base time unit in milliseconds; session timeouts are negotiated into [2, 20] ticks.
    #[arg(long)]
    pub tick_ms: Option<u32>,
    /// Txns a leader keeps to catch a member up one by one; further behind, a snapshot.
    #[arg(long)]
    pub sync_diff_txns_max: Option<usize>,
    /// Mutual TLS between members: this member's certificate (PEM); needs
    /// --peer-tls-key-file and --peer-tls-ca-file.
    #[arg(long, requires_all = ["peer_tls_key_file", "peer_tls_ca_file"])]
    pub peer_tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of --peer-tls-cert-file.
    #[arg(long, requires_all = ["peer_tls_cert_file", "peer_tls_ca_file"])]
    pub peer_tls_key_file: Option<PathBuf>,
    /// The CA (PEM) every member's certificate must chain to.
    #[arg(long, requires_all = ["peer_tls_cert_file", "peer_tls_key_file"])]
    pub peer_tls_ca_file: Option<PathBuf>,
}

impl ServerFlags {
    /// Applies the flags that were given on top of `config`.
    pub fn apply(&self, config: &mut ServerConfig) -> anyhow::Result<()> {
        if let Some(listen) = self.listen {
            config.client_listen = listen;
        }
        if let Some(data_dir) = &self.data_dir {
            config.data_dir = data_dir.clone();
        }
        if let Some(tick_ms) = self.tick_ms {
            config.tick_ms = tick_ms;
        }
        if !self.members.is_empty() {
            let members = self
                .members
                .iter()
                .map(|member| parse_member(member))
                .collect::<Result<Vec<_>, _>>()?;
            let id = self
                .id
                .or(config.ensemble.as_ref().map(|ensemble| ensemble.me))
                .context("--id is required with --member")?;
            let peer_listen = self
                .peer_listen
                .or(config.ensemble.as_ref().map(|ensemble| ensemble.peer_listen))
                .context("--peer-listen is required with --member")?;
            let previous = config.ensemble.take();
            let mut ensemble = EnsembleConfig::new(id, members, peer_listen);
            if let Some(previous) = previous {
                ensemble.secret = previous.secret;
                ensemble.peer_tick_ms = previous.peer_tick_ms;
                ensemble.sync_diff_txns_max = previous.sync_diff_txns_max;
                ensemble.peer_tls = previous.peer_tls;
            }
            config.ensemble = Some(ensemble);
        }
        if let Some(ensemble) = config.ensemble.as_mut() {
            if let Some(id) = self.id {
                ensemble.me = id;
            }
            if let Some(peer_listen) = self.peer_listen {
                ensemble.peer_listen = peer_listen;
            }
            if let Some(max) = self.sync_diff_txns_max {
                ensemble.sync_diff_txns_max = max;
            }
            if let Some(files) = self.peer_tls_files()? {
                ensemble.peer_tls = Some(files);
            }
            if let Some(path) = &self.secret_file {
                let secret = std::fs::read_to_string(path)
                    .with_context(|| format!("--secret-file {}", path.display()))?;
                ensemble.secret = Some(secret.trim().to_string());
            }
        } else if self.id.is_some()
            || self.peer_listen.is_some()
            || self.secret_file.is_some()
            || self.peer_tls_cert_file.is_some()
        {
            bail!(
                "--id, --peer-listen, --secret-file and --peer-tls-* need an ensemble (--member or [ensemble])"
            );
        }
        Ok(())
    }

    /// The three `--peer-tls-*` files, or none; clap enforces them together
    /// on the command line, this covers flags built in code.
    fn peer_tls_files(&self) -> anyhow::Result<Option<PeerTlsFiles>> {
        match (&self.peer_tls_cert_file, &self.peer_tls_key_file, &self.peer_tls_ca_file) {
            (None, None, None) => Ok(None),
            (Some(cert), Some(key), Some(ca)) => {
                Ok(Some(PeerTlsFiles { cert: cert.clone(), key: key.clone(), ca: ca.clone() }))
            }
            _ => bail!(
                "--peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-file go together"
            ),
        }
    }
}

/// Parses `ID=HOST:PORT[:observer|:participant]`.
pub fn parse_member(text: &str) -> anyhow::Result<EnsembleMember> {
    let (id, address) = text
        .split_once('=')
        .with_context(|| format!("--member {text:?}: expected ID=HOST:PORT"))?;
    let id: u64 =
        id.parse().with_context(|| format!("--member {text:?}: id {id:?} is not a number"))?;
    let (peer_address, role) = match address.rsplit_once(':') {
        Some((rest, "observer")) => (rest, ServerRole::Observer),
        Some((rest, "participant")) => (rest, ServerRole::Participant),
        _ => (address, ServerRole::Participant),
    };
    if !peer_address.contains(':') {
        bail!("--member {text:?}: expected HOST:PORT after '='");
    }
    Ok(EnsembleMember { id, peer_address: peer_address.to_string(), client_address: None, role })
}

pub async fn run(config: ServerConfig) -> anyhow::Result<()> {
    let membership = config.ensemble.as_ref().map(|ensemble| (ensemble.me, ensemble.members.len()));
    let data_dir = config.data_dir.clone();
    let mut node = RunningServer::start(config).await.context("starting the member")?;
    let data_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    say!("herald server: ZooKeeper protocol on {}", node.client_address());
    say!("herald server: data in {}", data_dir.display());
    if let Some((me, count)) = membership {
        say!("herald server: member {me} of an ensemble of {count}");
    }
    let mut status = node.watch_status();
    print_status(*status.borrow());
    let reporter = tokio::spawn(async move {
        while status.changed().await.is_ok() {
            print_status(*status.borrow());
        }
    });
    let stopped_by_itself = tokio::select! {
        result = node.wait() => Some(result),
        () = crate::shutdown_signal() => None,
    };
    reporter.abort();
    match stopped_by_itself {
        Some(result) => result.context("member stopped"),
        None => {
            say!("herald server: shutting down");
            node.shutdown().await.context("shutting down")
        }
    }
}

/// One line per change, for people and for the tests that drive processes.
fn print_status(status: NodeStatus) {
    let mode = match status.mode {
        Mode::Standalone => "standalone",
        Mode::Looking => "looking",
        Mode::Leader => "leader",
        Mode::Follower => "follower",
        Mode::Observer => "observer",
    };
    let serving = if status.serving { "serving" } else { "not serving" };
    let sync = match status.last_sync {
        Some(SyncKind::Diff) => " (last sync: DIFF)",
        Some(SyncKind::Trunc) => " (last sync: TRUNC)",
        Some(SyncKind::Snap) => " (last sync: SNAP)",
        None => "",
    };
    say!("herald server: {mode}, {serving}{sync}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_build_an_ensemble_on_top_of_the_defaults() {
        let mut config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "data");
        let flags = ServerFlags {
            id: Some(2),
            peer_listen: Some("127.0.0.1:3182".parse().unwrap()),
            members: vec![
                "1=127.0.0.1:3181".into(),
                "2=127.0.0.1:3182".into(),
                "3=127.0.0.1:3183".into(),
            ],
            tick_ms: Some(200),
            ..ServerFlags::default()
        };
        flags.apply(&mut config).unwrap();
        let ensemble = config.ensemble.expect("an ensemble");
        assert_eq!((ensemble.me, ensemble.members.len()), (2, 3));
        assert_eq!(config.tick_ms, 200);
        let mut standalone = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "data");
        let lone_id = ServerFlags { id: Some(1), ..ServerFlags::default() };
        assert!(lone_id.apply(&mut standalone).is_err(), "--id alone names no ensemble");
    }

    #[test]
    fn peer_tls_flags_reach_the_ensemble_all_together() {
        let mut config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "data");
        let flags = ServerFlags {
            id: Some(1),
            peer_listen: Some("127.0.0.1:3181".parse().unwrap()),
            members: vec!["1=127.0.0.1:3181".into()],
            peer_tls_cert_file: Some("peer.pem".into()),
            peer_tls_key_file: Some("peer.key".into()),
            peer_tls_ca_file: Some("ca.pem".into()),
            ..ServerFlags::default()
        };
        flags.apply(&mut config).unwrap();
        let files = config.ensemble.unwrap().peer_tls.expect("peer TLS set");
        assert_eq!(files.ca, PathBuf::from("ca.pem"));
        let mut config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "data");
        let partial = ServerFlags { peer_tls_ca_file: None, ..flags };
        assert!(partial.apply(&mut config).is_err(), "a CA-less peer TLS is refused");
    }

    #[test]
    fn members_parse_with_their_roles() {
        let member = parse_member("3=herald-2.peers:2888:observer").unwrap();
        assert_eq!((member.id, member.peer_address.as_str()), (3, "herald-2.peers:2888"));
        assert_eq!(member.role, ServerRole::Observer);
        assert_eq!(parse_member("1=127.0.0.1:2888").unwrap().role, ServerRole::Participant);
        assert!(parse_member("x=127.0.0.1:2888").is_err());
        assert!(parse_member("1=nohostport").is_err());
        assert!(parse_member("127.0.0.1:2888").is_err());
    }
}
