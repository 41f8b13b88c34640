//! ZooKeeper AdminServer commands as JSON: the same names, aliases and keys,
//! so tools written against `/commands/<name>` keep working.

use serde_json::{Map, Value, json};

use crate::config::ServerConfig;
use crate::status::{self, ConnectionView, NodeStatus};

/// (canonical name, aliases) of every command served, as ZooKeeper lists them.
pub const COMMANDS: [(&str, &[&str]); 11] = [
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("stats", &["stat"]),
    ("monitor", &["mntr"]),
    ("configuration", &["conf", "config"]),
    ("connections", &["cons"]),
    ("environment", &["env", "envi"]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("dirs", &[]),
    ("is_read_only", &["isro"]),
];

/// The canonical name behind `name` (itself or an alias).
pub fn canonical(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(canonical, aliases)| *canonical == name || aliases.contains(&name))
        .map(|(canonical, _)| *canonical)
}

/// What ZooKeeper reports when the node is not serving.
pub const NOT_SERVING_ERROR: &str = "This ZooKeeper instance is not currently serving requests";

/// The JSON body for `command` (already canonical), with ZooKeeper's
/// `command` and `error` keys; `Err` carries a body for a 503.
pub fn run(
    command: &'static str,
    node: &NodeStatus,
    config: &ServerConfig,
) -> Result<Value, Value> {
    let mut body = Map::new();
    body.insert("command".into(), json!(command));
    let needs_serving = !matches!(command, "ruok" | "environment");
    if needs_serving && !node.ready {
        body.insert("error".into(), json!(NOT_SERVING_ERROR));
        return Err(Value::Object(body));
    }
    let fields = match command {
        "ruok" => json!({}),
        "server_stats" => server_stats(node, config),
        "stats" => {
            let mut stats = server_stats(node, config);
            let (secure, plain): (Vec<_>, Vec<_>) =
                node.connections.iter().partition(|connection| connection.secure);
            stats["connections"] = plain.into_iter().map(connection).collect();
            stats["secure_connections"] = secure.into_iter().map(connection).collect();
            stats
        }
        "monitor" => monitor(node),
        "configuration" => configuration(node, config),
        "connections" => {
            let (secure, plain): (Vec<_>, Vec<_>) =
                node.connections.iter().partition(|connection| connection.secure);
            json!({
                "connections": plain.into_iter().map(connection).collect::<Vec<_>>(),
                "secure_connections": secure.into_iter().map(connection).collect::<Vec<_>>(),
            })
        }
        "environment" => {
            Value::Object(status::environment().into_iter().map(|(k, v)| (k, json!(v))).collect())
        }
        "watch_summary" => json!({
            "num_connections": node.watching_sessions,
            "num_paths": node.watched_paths,
            "num_total_watches": node.watch_count,
        }),
        "watches" => {
            let sessions: Map<String, Value> = node
                .session_watches
                .iter()
                .flatten()
                .map(|(session, paths)| (session.to_string(), json!(paths)))
                .collect();
            json!({ "session_id_to_watched_paths": sessions })
        }
        "dirs" => {
            let bytes = status::directory_bytes(&config.data_dir);
            json!({ "datadir_size": bytes, "logdir_size": bytes })
        }
        "is_read_only" => json!({ "read_only": false }),
        _ => json!({}),
    };
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    body.insert("error".into(), Value::Null);
    Ok(Value::Object(body))
}

fn server_stats(node: &NodeStatus, config: &ServerConfig) -> Value {
    let bytes = status::directory_bytes(&config.data_dir);
    json!({
        "version": status::version(),
        "read_only": false,
        "server_stats": {
            "packets_sent": node.packets_sent,
            "packets_received": node.packets_received,
            "max_latency": node.latency_max_ms,
            "min_latency": node.latency_min_ms,
            "avg_latency": node.latency_avg_ms,
            "outstanding_requests": node.outstanding_requests,
            "server_state": node.mode.as_str(),
            "last_processed_zxid": node.last_zxid,
            "num_alive_client_connections": node.connections.len(),
            "data_dir_size": bytes,
            "log_dir_size": bytes,
            "uptime": node.uptime_ms,
        },
        "client_response": { "last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1 },
        "node_count": node.znode_count,
    })
}

fn monitor(node: &NodeStatus) -> Value {
    let mut monitor = json!({
        "version": status::version(),
        "server_state": node.mode.as_str(),
        "ephemerals_count": node.ephemerals_count,
        "num_alive_connections": node.connections.len(),
        "avg_latency": node.latency_avg_ms,
        "outstanding_requests": node.outstanding_requests,
        "znode_count": node.znode_count,
        "global_sessions": node.global_sessions,
        "packets_sent": node.packets_sent,
        "packets_received": node.packets_received,
        "watch_count": node.watch_count,
        "min_latency": node.latency_min_ms,
        "max_latency": node.latency_max_ms,
        "approximate_data_size": node.approximate_data_size,
        "uptime": node.uptime_ms,
        "connection_rejected": node.connections_rejected,
    });
    for (name, series) in [("fsynctime", node.fsync), ("election_time", node.election)] {
        monitor[format!("avg_{name}")] = json!(series.avg_ms);
        monitor[format!("min_{name}")] = json!(series.min_ms);
        monitor[format!("max_{name}")] = json!(series.max_ms);
        monitor[format!("cnt_{name}")] = json!(series.count);
        monitor[format!("sum_{name}")] = json!(series.sum_ms);
    }
    if node.mode != crate::stats::Mode::Standalone {
        monitor["quorum_size"] = json!(node.quorum_size);
    }
    if node.mode == crate::stats::Mode::Leader {
        monitor["synced_followers"] = json!(node.synced_followers);
        monitor["pending_syncs"] = json!(node.pending_syncs);
    }
    monitor
}

fn configuration(node: &NodeStatus, config: &ServerConfig) -> Value {
    let client_port =
        if config.plaintext_client_port_enabled { config.client_listen.port() as i64 } else { -1 };
    let bytes = status::directory_bytes(&config.data_dir);
    json!({
        "client_port": client_port,
        "secure_client_port": config.secure_client_listen.map_or(-1, |address| address.port() as i64),
        "data_dir": config.data_dir.display().to_string(),
        "data_dir_size": bytes,
        "data_log_dir": config.data_dir.display().to_string(),
        "data_log_size": bytes,
        "tick_time": config.tick_ms,
        "max_client_cnxns": config.connections_max,
        "min_session_timeout": config.session_timeout_ms_min(),
        "max_session_timeout": config.session_timeout_ms_max(),
        "server_id": node.server_id,
        "client_port_listen_backlog": -1,
    })
}

fn connection(connection: &ConnectionView) -> Value {
    json!({
        "remote_socket_address": connection.peer,
        "interest_ops": 1,
        "outstanding_requests": connection.queued,
        "packets_received": connection.received,
        "packets_sent": connection.sent,
        "session_id": format!("{:x}", connection.session),
        "established": connection.established_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_zookeepers_canonical_names() {
        assert_eq!(canonical("mntr"), Some("monitor"));
        assert_eq!(canonical("monitor"), Some("monitor"));
        assert_eq!(canonical("envi"), Some("environment"));
        assert_eq!(canonical("isro"), Some("is_read_only"));
        assert_eq!(canonical("dump"), None);
    }
}
