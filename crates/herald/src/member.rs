//! `herald server`: one member of an ensemble (or a standalone node when no
//! `--member` is given), configured by flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use server::config::{EnsembleConfig, EnsembleMember, ServerRole};
use server::{Mode, NodeStatus, RunningServer, ServerConfig, SyncKind};

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// This member's id (one of the `--member` ids).
    #[arg(long, env = "HERALD_ID")]
    pub id: Option<u64>,
    /// Address of the ZooKeeper client port.
    #[arg(long, default_value = "127.0.0.1:2181", env = "HERALD_LISTEN")]
    pub listen: SocketAddr,
    /// Where the other members connect.
    #[arg(long, default_value = "127.0.0.1:2888", env = "HERALD_PEER_LISTEN")]
    pub peer_listen: SocketAddr,
    /// One member of the ensemble as `ID=HOST:PEER_PORT`, or
    /// `ID=HOST:PEER_PORT:observer`; repeat for every member, this one included.
    #[arg(long = "member", value_name = "ID=HOST:PORT[:observer]")]
    pub members: Vec<String>,
    /// A file holding the secret every member proves it knows.
    #[arg(long, env = "HERALD_SECRET_FILE")]
    pub secret_file: Option<PathBuf>,
    /// Directory for the txn log, snapshots and epochs; created if missing.
    #[arg(long, default_value = "herald-data", env = "HERALD_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Base time unit in milliseconds; session timeouts are negotiated into [2, 20] ticks.
    #[arg(long, default_value_t = server::config::TICK_MS_DEFAULT)]
    pub tick_ms: u32,
    /// Txns a leader keeps to catch a member up one by one; further behind, a snapshot.
    #[arg(long, default_value_t = server::config::SYNC_DIFF_TXNS_MAX_DEFAULT)]
    pub sync_diff_txns_max: usize,
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

pub fn config(args: &ServerArgs) -> anyhow::Result<ServerConfig> {
    let mut config = ServerConfig::new(args.listen, &args.data_dir);
    config.tick_ms = args.tick_ms;
    if args.members.is_empty() {
        return Ok(config);
    }
    let members =
        args.members.iter().map(|member| parse_member(member)).collect::<Result<Vec<_>, _>>()?;
    let id = args.id.context("--id is required with --member")?;
    let mut ensemble = EnsembleConfig::new(id, members, args.peer_listen);
    ensemble.sync_diff_txns_max = args.sync_diff_txns_max;
    if let Some(path) = &args.secret_file {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("--secret-file {}", path.display()))?;
        ensemble.secret = Some(secret.trim().to_string());
    }
    config.ensemble = Some(ensemble);
    Ok(config)
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let config = config(&args)?;
    let members = config.ensemble.as_ref().map(|ensemble| ensemble.members.len());
    let mut node = RunningServer::start(config).await.context("starting the member")?;
    println!("herald server: ZooKeeper protocol on {}", node.client_address());
    if let Some(count) = members {
        println!("herald server: member {} of an ensemble of {count}", args.id.unwrap_or_default());
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
            println!("herald server: shutting down");
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
    println!("herald server: {mode}, {serving}{sync}");
}

#[cfg(test)]
mod tests {
    use super::*;

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
