//! ZooKeeper's four-letter words on the client port (`echo mntr | nc host 2181`).
//!
//! ZooKeeper's rule, kept here: a connection's first four bytes are read as
//! the big-endian length of its first frame; when they spell a known command
//! instead, the connection is a command. No real frame is that long (`ruok`
//! reads as 1.9 GB, far above any `packet_bytes_max`), so the two never clash.
//! The answer is written and the connection closed. A known word that is not
//! whitelisted gets ZooKeeper's refusal sentence; an unknown one is treated as
//! a frame length like any other connection.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::config::ServerConfig;
use crate::stats::Mode;
use crate::status::{self, ConnectionView, NodeStatus, java_double};

/// Every word Herald answers.
pub const KNOWN_WORDS: [&str; 11] =
    ["ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "dirs", "isro", "wchc"];

/// ZooKeeper enables only `srvr` (its scripts need it); Herald adds `ruok`
/// and `mntr` so `herald dev` can be health-checked and scraped out of the box.
pub const FOUR_LETTER_WORDS_DEFAULT: [&str; 3] = ["srvr", "ruok", "mntr"];

/// What a node answers while it is not serving (electing), as ZooKeeper says it.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The known word these four bytes spell, if any.
pub fn recognise(first_bytes: [u8; 4]) -> Option<&'static str> {
    KNOWN_WORDS.iter().copied().find(|word| word.as_bytes() == first_bytes)
}

/// Which words are answered: the configured list, `*` for all; `srvr` always,
/// as in ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whitelist {
    words: BTreeSet<String>,
}

impl Whitelist {
    pub fn new(configured: &[String]) -> Whitelist {
        let mut words: BTreeSet<String> = if configured.iter().any(|word| word.trim() == "*") {
            KNOWN_WORDS.iter().map(|word| word.to_string()).collect()
        } else {
            configured
                .iter()
                .map(|word| word.trim().to_string())
                .filter(|word| !word.is_empty())
                .collect()
        };
        words.insert("srvr".to_string());
        Whitelist { words }
    }

    pub fn allows(&self, word: &str) -> bool {
        self.words.contains(word)
    }
}

/// The answer to `word`: ZooKeeper's refusal if it is not whitelisted.
pub fn answer(
    word: &str,
    whitelist: &Whitelist,
    node: &NodeStatus,
    config: &ServerConfig,
) -> String {
    if !whitelist.allows(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    // ZooKeeper answers these two even when not serving; the rest need a running server.
    if !node.ready && !matches!(word, "ruok" | "envi") {
        return NOT_SERVING.to_string();
    }
    match word {
        "ruok" => "imok".to_string(),
        "srvr" => server_stats(node),
        "stat" => {
            let mut out = format!("Zookeeper version: {}\nClients:\n", status::version());
            for connection in &node.connections {
                out.push_str(&connection_line(connection, true));
                out.push('\n');
            }
            out.push('\n');
            out.push_str(server_stats(node).split_once('\n').map_or("", |(_, rest)| rest));
            out
        }
        "mntr" => monitor(node),
        "conf" => configuration(node, config),
        "cons" => {
            let mut out = String::new();
            for connection in &node.connections {
                out.push_str(&connection_line(connection, false));
                out.push('\n');
            }
            out.push('\n');
            out
        }
        "envi" => {
            let mut out = "Environment:\n".to_string();
            for (key, value) in status::environment() {
                let _ = writeln!(out, "{key}={value}");
            }
            out
        }
        "wchs" => format!(
            "{} connections watching {} paths\nTotal watches:{}\n",
            node.watching_sessions, node.watched_paths, node.watch_count
        ),
        "wchc" => {
            let mut out = String::new();
            for (session, paths) in node.session_watches.iter().flatten() {
                let _ = writeln!(out, "0x{session:x}");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out.push('\n');
            out
        }
        "dirs" => {
            let bytes = status::directory_bytes(&config.data_dir);
            format!("datadir_size: {bytes}\nlogdir_size: {bytes}\n")
        }
        "isro" => "rw".to_string(),
        _ => String::new(),
    }
}

/// `srvr`'s lines (also the tail of `stat`).
fn server_stats(node: &NodeStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Zookeeper version: {}", status::version());
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        node.latency_min_ms,
        java_double(node.latency_avg_ms),
        node.latency_max_ms
    );
    let _ = writeln!(out, "Received: {}", node.packets_received);
    let _ = writeln!(out, "Sent: {}", node.packets_sent);
    let _ = writeln!(out, "Connections: {}", node.connections.len());
    let _ = writeln!(out, "Outstanding: {}", node.outstanding_requests);
    let _ = writeln!(out, "Zxid: 0x{:x}", node.last_zxid);
    let _ = writeln!(out, "Mode: {}", node.mode.as_str());
    let _ = writeln!(out, "Node count: {}", node.znode_count);
    out
}

fn monitor(node: &NodeStatus) -> String {
    let mut lines: Vec<(String, String)> = [
        ("version", status::version()),
        ("server_state", node.mode.as_str().to_string()),
        ("ephemerals_count", node.ephemerals_count.to_string()),
        ("num_alive_connections", node.connections.len().to_string()),
        ("avg_latency", java_double(node.latency_avg_ms)),
        ("outstanding_requests", node.outstanding_requests.to_string()),
        ("znode_count", node.znode_count.to_string()),
        ("global_sessions", node.global_sessions.to_string()),
        ("packets_sent", node.packets_sent.to_string()),
        ("packets_received", node.packets_received.to_string()),
        ("watch_count", node.watch_count.to_string()),
        ("min_latency", node.latency_min_ms.to_string()),
        ("max_latency", node.latency_max_ms.to_string()),
        ("approximate_data_size", node.approximate_data_size.to_string()),
        ("uptime", node.uptime_ms.to_string()),
        ("connection_rejected", node.connections_rejected.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    for (name, series) in [("fsynctime", node.fsync), ("election_time", node.election)] {
        lines.push((format!("avg_{name}"), java_double(series.avg_ms)));
        lines.push((format!("min_{name}"), series.min_ms.to_string()));
        lines.push((format!("max_{name}"), series.max_ms.to_string()));
        lines.push((format!("cnt_{name}"), series.count.to_string()));
        lines.push((format!("sum_{name}"), series.sum_ms.to_string()));
    }
    if let Some((open, max)) = status::file_descriptors() {
        lines.push(("open_file_descriptor_count".to_string(), open.to_string()));
        lines.push(("max_file_descriptor_count".to_string(), max.to_string()));
    }
    if node.mode != Mode::Standalone {
        lines.push(("quorum_size".to_string(), node.quorum_size.to_string()));
    }
    if node.mode == Mode::Leader {
        lines.push(("synced_followers".to_string(), node.synced_followers.to_string()));
        lines.push(("pending_syncs".to_string(), node.pending_syncs.to_string()));
    }
    let mut out = String::new();
    for (name, value) in lines {
        let _ = writeln!(out, "zk_{name}\t{value}");
    }
    out
}

fn configuration(node: &NodeStatus, config: &ServerConfig) -> String {
    let data_dir = config.data_dir.display();
    let data_bytes = status::directory_bytes(&config.data_dir);
    let client_port =
        if config.plaintext_client_port_enabled { config.client_listen.port() as i64 } else { -1 };
    let secure_port = config.secure_client_listen.map_or(-1, |address| address.port() as i64);
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={client_port}");
    let _ = writeln!(out, "secureClientPort={secure_port}");
    let _ = writeln!(out, "dataDir={data_dir}");
    let _ = writeln!(out, "dataDirSize={data_bytes}");
    let _ = writeln!(out, "dataLogDir={data_dir}");
    let _ = writeln!(out, "dataLogSize={data_bytes}");
    let _ = writeln!(out, "tickTime={}", config.tick_ms);
    let _ = writeln!(out, "maxClientCnxns={}", config.connections_max);
    let _ = writeln!(out, "minSessionTimeout={}", config.session_timeout_ms_min());
    let _ = writeln!(out, "maxSessionTimeout={}", config.session_timeout_ms_max());
    let _ = writeln!(out, "clientPortListenBacklog=-1");
    let _ = writeln!(out, "serverId={}", node.server_id);
    if let Some(ensemble) = &config.ensemble {
        let _ = writeln!(out, "quorumPort={}", ensemble.peer_listen.port());
        let observer = ensemble.members.iter().any(|member| {
            member.id == ensemble.me && member.role == crate::config::ServerRole::Observer
        });
        let _ = writeln!(out, "peerType={}", u8::from(observer));
        let _ = writeln!(out, "membership: ");
        for member in &ensemble.members {
            let role = match member.role {
                crate::config::ServerRole::Participant => "participant",
                crate::config::ServerRole::Observer => "observer",
            };
            let _ = write!(out, "server.{}={}:{role}", member.id, member.peer_address);
            if let Some(client) = &member.client_address {
                let _ = write!(out, ";{client}");
            }
            out.push('\n');
        }
    }
    out
}

/// One connection as ZooKeeper's `dumpConnectionInfo` prints it (`brief` for `stat`).
fn connection_line(connection: &ConnectionView, brief: bool) -> String {
    let mut line = format!(
        " /{}[1](queued={},recved={},sent={}",
        connection.peer, connection.queued, connection.received, connection.sent
    );
    if !brief && connection.session != 0 {
        let _ = write!(line, ",sid=0x{:x},est={}", connection.session, connection.established_ms);
    }
    line.push(')');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ServerStats;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn only_known_words_are_recognised_and_frame_lengths_are_not() {
        assert_eq!(recognise(*b"mntr"), Some("mntr"));
        assert_eq!(recognise(*b"xyzw"), None);
        // A connect request's length prefix (a few dozen bytes).
        assert_eq!(recognise(44u32.to_be_bytes()), None);
    }

    #[test]
    fn the_whitelist_always_has_srvr_and_star_means_all() {
        let default = Whitelist::new(&words(&FOUR_LETTER_WORDS_DEFAULT));
        assert!(default.allows("ruok") && default.allows("srvr") && !default.allows("cons"));
        let none = Whitelist::new(&[]);
        assert!(none.allows("srvr") && !none.allows("ruok"));
        let all = Whitelist::new(&words(&["*"]));
        assert!(KNOWN_WORDS.iter().all(|word| all.allows(word)));
    }

    #[test]
    fn refusals_and_the_not_serving_answer_match_zookeeper() {
        let stats = ServerStats::new();
        let config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "/nonexistent");
        let whitelist = Whitelist::new(&words(&["ruok", "mntr"]));
        let node = NodeStatus::read(&stats, &config);
        assert_eq!(
            answer("cons", &whitelist, &node, &config),
            "cons is not executed because it is not in the whitelist.\n"
        );
        assert!(!node.ready);
        assert_eq!(answer("mntr", &whitelist, &node, &config), NOT_SERVING);
        assert_eq!(answer("ruok", &whitelist, &node, &config), "imok");
    }

    #[test]
    fn conf_lists_the_ensemble_as_zookeepers_membership_lines() {
        use crate::config::{EnsembleConfig, EnsembleMember, ServerRole};
        let stats = ServerStats::new();
        stats.set_serving();
        stats.set_mode(Mode::Follower);
        let mut config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "/nonexistent");
        let member = |id, role| EnsembleMember {
            id,
            peer_address: format!("herald-{id}.peers:2888"),
            client_address: (id == 1).then(|| "herald-1:2181".to_string()),
            role,
        };
        config.ensemble = Some(EnsembleConfig {
            me: 2,
            members: vec![member(1, ServerRole::Participant), member(2, ServerRole::Observer)],
            peer_listen: "0.0.0.0:2888".parse().unwrap(),
            secret: None,
            peer_tick_ms: 10,
            sync_diff_txns_max: 100,
            peer_tls: None,
        });
        let node = NodeStatus::read(&stats, &config);
        let conf = answer("conf", &Whitelist::new(&words(&["conf"])), &node, &config);
        assert!(conf.contains("serverId=2\nquorumPort=2888\npeerType=1\nmembership: \n"), "{conf}");
        assert!(conf.ends_with(
            "server.1=herald-1.peers:2888:participant;herald-1:2181\nserver.2=herald-2.peers:2888:observer\n"
        ), "{conf}");
    }

    #[test]
    fn leader_only_lines_appear_only_on_a_leader() {
        let stats = ServerStats::new();
        let config = ServerConfig::new("127.0.0.1:2181".parse().unwrap(), "/nonexistent");
        stats.set_serving();
        let whitelist = Whitelist::new(&words(&["*"]));
        stats.set_mode(Mode::Follower);
        let follower = answer("mntr", &whitelist, &NodeStatus::read(&stats, &config), &config);
        assert!(follower.contains("zk_server_state\tfollower\n"));
        assert!(!follower.contains("zk_synced_followers"));
        stats.set_mode(Mode::Leader);
        stats.set_synced_followers(2);
        let leader = answer("mntr", &whitelist, &NodeStatus::read(&stats, &config), &config);
        assert!(leader.contains("zk_synced_followers\t2\n"), "{leader}");
    }
}
