//! The admin HTTP port of a real node: AdminServer JSON, probes and metrics.

mod common;

use common::{TestNode, within};
use server::Mode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client::{Acls, CreateMode};

/// (status code, body) of `GET path`.
async fn get(node: &TestNode, path: &str) -> (u16, String) {
    let address = node.node.as_ref().unwrap().admin_address().expect("admin port on");
    within(path, async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("a header block");
        let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("status");
        (status, body.to_string())
    })
    .await
}

async fn get_json(node: &TestNode, path: &str) -> serde_json::Value {
    let (status, body) = get(node, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"))
}

/// The value of an unlabelled sample `name` in Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

async fn admin_node() -> TestNode {
    TestNode::start_with(|config| config.admin_listen = Some("127.0.0.1:0".parse().unwrap())).await
}

#[tokio::test]
async fn commands_answer_with_zookeepers_json_keys() {
    let node = admin_node().await;
    let client = node.client().await;
    let mode = CreateMode::Persistent.with_acls(Acls::anyone_all());
    client.create("/a", b"", &mode).await.unwrap();
    client.create("/a/b", b"", &mode).await.unwrap();
    let (_, _, _watch) = client.get_and_watch_children("/a").await.unwrap();

    let ruok = get_json(&node, "/commands/ruok").await;
    assert_eq!(ruok, serde_json::json!({ "command": "ruok", "error": null }));

    let monitor = get_json(&node, "/commands/monitor").await;
    assert_eq!(monitor["command"], "monitor");
    assert_eq!(monitor["server_state"], "standalone");
    let mntr = get_json(&node, "/commands/mntr").await;
    assert_eq!(mntr["command"], "monitor", "aliases answer as the canonical command");
    assert_eq!(monitor["znode_count"], mntr["znode_count"]);
    assert_eq!(monitor["global_sessions"], 1);
    assert_eq!(monitor["watch_count"], 1);

    let srvr = get_json(&node, "/commands/srvr").await;
    assert_eq!(srvr["node_count"], monitor["znode_count"]);
    assert_eq!(srvr["server_stats"]["server_state"], "standalone");

    let connections = get_json(&node, "/commands/connections").await;
    let listed = connections["connections"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{connections}");
    assert_eq!(listed[0]["session_id"], format!("{:x}", client.session_id().0));
    assert_eq!(connections["secure_connections"], serde_json::json!([]));

    let watches = get_json(&node, "/commands/wchc").await;
    let session = client.session_id().0.to_string();
    assert_eq!(watches["session_id_to_watched_paths"][&session], serde_json::json!(["/a"]));

    let summary = get_json(&node, "/commands/watch_summary").await;
    assert_eq!(summary["num_total_watches"], 1);
    assert_eq!(summary["num_paths"], 1);

    let conf = get_json(&node, "/commands/configuration").await;
    let port = node.address().rsplit(':').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(conf["client_port"], port);
    assert_eq!(conf["tick_time"], 100);
    assert_eq!(get_json(&node, "/commands/isro").await["read_only"], false);
    assert!(get_json(&node, "/commands/dirs").await["datadir_size"].as_u64().unwrap() > 0);
    assert!(get_json(&node, "/commands/environment").await["os.name"].is_string());

    let (status, body) = get(&node, "/commands/no_such_command").await;
    assert_eq!(status, 404);
    assert!(body.contains("Unknown command: no_such_command"), "{body}");
}

#[tokio::test]
async fn probes_follow_the_nodes_mode() {
    let node = admin_node().await;
    assert_eq!(get(&node, "/healthz").await.0, 200);
    assert_eq!(get(&node, "/readyz").await.0, 200);
    let stats = node.node.as_ref().unwrap().stats().clone();
    stats.set_mode(Mode::Looking);
    let (status, body) = get(&node, "/readyz").await;
    assert_eq!((status, body.as_str()), (503, "not ready: looking\n"));
    assert_eq!(get(&node, "/healthz").await.0, 200, "alive while electing");
    let (status, body) = get(&node, "/commands/monitor").await;
    assert_eq!(status, 503);
    assert!(body.contains("not currently serving"), "{body}");
    stats.set_mode(Mode::Follower);
    assert_eq!(get(&node, "/readyz").await.0, 200);
}

#[tokio::test]
async fn metrics_carry_zookeepers_names_and_counters_move_with_requests() {
    let node = admin_node().await;
    let (status, before) = get(&node, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "outstanding_requests",
        "avg_latency",
        "min_latency",
        "max_latency",
        "quorum_size",
        "synced_followers",
        "pending_syncs",
        "packets_received",
        "packets_sent",
        "num_alive_connections",
        "server_state",
        "uptime",
    ] {
        assert!(before.contains(&format!("# TYPE {name} ")), "{name} missing:\n{before}");
    }
    assert!(before.contains("server_state{state=\"standalone\"} 1"), "{before}");

    let client = node.client().await;
    let mode = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    client.create("/e", b"", &mode).await.unwrap();
    let (_, after) = get(&node, "/metrics").await;
    // Histograms appear once they have a sample (no election in standalone mode).
    assert!(after.contains("# TYPE fsynctime histogram"), "{after}");
    assert!(after.contains("# TYPE request_latency histogram"), "{after}");
    assert!(sample(&after, "packets_received") >= sample(&before, "packets_received") + 2.0);
    assert_eq!(sample(&after, "znode_count"), sample(&before, "znode_count") + 1.0);
    assert_eq!(sample(&after, "ephemerals_count"), 1.0);
    assert_eq!(sample(&after, "num_alive_connections"), 1.0);
    assert!(sample(&after, "fsynctime_count") >= 2.0, "session and create were fsynced");
    assert!(sample(&after, "request_latency_count") >= 1.0);
}
