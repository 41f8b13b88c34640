//! Every metric family a node and a gateway export is listed in docs/operations.md.

mod common;

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use common::{call, within};
use serde_json::json;
use server::{RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPERATIONS_PAGE: &str = include_str!("../../../docs/operations.md");

/// The family names declared by `# TYPE` lines.
fn families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn undocumented(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names.into_iter().filter(|name| !OPERATIONS_PAGE.contains(&format!("`{name}`"))).collect()
}

async fn node_metrics(node: &RunningServer) -> String {
    let address = node.admin_address().expect("admin port on");
    within("GET /metrics", async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let request = "GET /metrics HTTP/1.1\r\nHost: herald\r\nConnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.split_once("\r\n\r\n").expect("a header block").1.to_owned()
    })
    .await
}

#[tokio::test]
async fn every_node_and_gateway_metric_family_is_in_the_operations_page() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    let node = RunningServer::start(config).await.expect("node starts");
    let app = gateway::app(gateway::AppState::new(gateway::GatewayConfig::new(
        node.client_address().to_string(),
    )));

    // Some traffic, so histograms and labelled series exist.
    let lease = call(&app, Method::POST, "/v1/leases", Some(json!({"ttl_ms": 4000}))).await;
    let lease = lease.json["id"].as_str().unwrap().to_owned();
    let granted =
        call(&app, Method::POST, "/v1/locks/docs/acquire", Some(json!({"lease": lease}))).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let release = json!({"lease": lease, "token": granted.json["token"]});
    call(&app, Method::POST, "/v1/locks/docs/release", Some(release)).await;
    call(&app, Method::POST, "/v1/queues/docs/items", Some(json!({"payload": 1}))).await;
    call(&app, Method::GET, "/v1/queues/docs/stats", None).await;

    let node_families = families(&node_metrics(&node).await);
    for expected in ["znode_count", "synced_followers", "request_latency", "server_state"] {
        assert!(node_families.contains(expected), "{expected} not exported: {node_families:?}");
    }
    assert_eq!(undocumented(node_families), Vec::<String>::new(), "node metrics");

    let gateway_text = call(&app, Method::GET, "/metrics", None).await.text;
    let gateway_families = families(&gateway_text);
    assert!(gateway_families.contains("herald_gateway_lock_hold_seconds"), "{gateway_text}");
    assert_eq!(undocumented(gateway_families), Vec::<String>::new(), "gateway metrics");
    // Families not exported until first used (dead letters) are checked by name.
    let all = gateway::metrics::FAMILIES.iter().map(|name| name.to_string());
    assert_eq!(undocumented(all), Vec::<String>::new(), "gateway metrics");
}
