//! `herald bench` end to end: each workload runs against a `herald dev` child process
//! (ZooKeeper protocol and REST gateway on ephemeral ports) and prints one JSON summary.
//! Speeds are never asserted, only that the run did work, without errors, and that its
//! numbers are consistent.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `herald dev` node with its data in a temporary directory.
struct Dev {
    process: Running,
    data_dir: tempfile::TempDir,
    zookeeper: String,
    /// Base URL of the REST API.
    rest: String,
}

/// Starts `herald dev` with its ZooKeeper port at `listen` and its data in `data_dir`;
/// returns the process and the addresses it printed.
fn spawn_dev(listen: &str, data_dir: &std::path::Path) -> (Running, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["dev", "--listen", listen, "--http-listen", "127.0.0.1:0", "--no-admin"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning herald dev");
    let stdout = child.stdout.take().expect("piped stdout");
    let process = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let mut value_after = |prefix: &str| loop {
        let line = lines.next().expect("herald dev printed its addresses").expect("stdout");
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.split_whitespace().next().unwrap_or_default().to_owned();
        }
    };
    let zookeeper = value_after("herald dev: ZooKeeper protocol on ");
    let rest = format!("http://{}", value_after("herald dev: REST API on http://"));
    std::thread::spawn(move || for _ in lines {});
    (process, zookeeper, rest)
}

fn start_dev() -> Dev {
    let data_dir = tempfile::tempdir().unwrap();
    let (process, zookeeper, rest) = spawn_dev("127.0.0.1:0", data_dir.path());
    Dev { process, data_dir, zookeeper, rest }
}

fn bench_command(args: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command.arg("bench").args(args.split_whitespace()).env("RUST_LOG", "warn");
    command
}

/// Runs `herald bench ARGS --json` (ARGS split at spaces) and returns its parsed summary.
fn bench(args: &str) -> Value {
    let output = bench_command(args).arg("--json").output().expect("running herald bench");
    summary_of(args, output)
}

fn summary_of(args: &str, output: std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "herald bench {args:?} failed: {stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!("bench printed no JSON summary ({error}): {stdout} / {stderr}")
    })
}

fn number(summary: &Value, key: &str) -> f64 {
    summary[key].as_f64().unwrap_or_else(|| panic!("{key} missing from {summary}"))
}

/// The checks every run must pass; returns the operations count.
fn assert_sound(summary: &Value, workload: &str) -> u64 {
    assert_eq!(summary["workload"], workload, "{summary}");
    let operations = summary["operations"].as_u64().expect("operations");
    assert!(operations > 0, "{summary}");
    assert_eq!(summary["errors"], 0, "{summary}");
    let (p50, p99, max) =
        (number(summary, "p50_ms"), number(summary, "p99_ms"), number(summary, "max_ms"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{summary}");
    let gap = number(summary, "max_gap_ms");
    assert!(gap > 0.0 && gap <= number(summary, "duration_secs") * 1_000.0, "{summary}");
    operations
}

fn zookeeper_run(workload: &str, extra: &str) -> Value {
    let dev = start_dev();
    bench(&format!("--servers {} --workload {workload} {extra}", dev.zookeeper))
}

#[test]
fn create_with_an_ops_budget_stops_at_exactly_that_many() {
    let summary = zookeeper_run("create", "--connections 4 --window 2 --ops 200");
    assert_eq!(assert_sound(&summary, "create"), 200);
    assert_eq!(summary["connections"], 4);
    assert_eq!(summary["window"], 2);
}

#[test]
fn create_runs_for_the_duration_given() {
    let summary = zookeeper_run("create", "--connections 2 --duration-secs 1");
    assert_sound(&summary, "create");
    let seconds = number(&summary, "duration_secs");
    assert!((1.0..30.0).contains(&seconds), "{summary}");
}

#[test]
fn keyed_workloads_read_and_write_existing_nodes() {
    let dev = start_dev();
    for workload in ["set-data", "get-data", "exists", "mixed"] {
        let summary = bench(&format!(
            "--servers {} --workload {workload} --keys 20 --connections 2 --window 4 --ops 200",
            dev.zookeeper
        ));
        assert_eq!(assert_sound(&summary, workload), 200);
    }
}

#[test]
fn multi_counts_one_operation_per_multi_of_either_kind() {
    let dev = start_dev();
    for kind in ["create", "set-data"] {
        let summary = bench(&format!(
            "--servers {} --workload multi --multi-ops 5 --multi-kind {kind} --keys 10 --connections 2 --ops 100",
            dev.zookeeper
        ));
        assert_eq!(assert_sound(&summary, "multi"), 100);
    }
}

#[test]
fn ephemeral_churn_opens_and_closes_a_session_per_operation() {
    let summary = zookeeper_run("ephemeral-churn", "--connections 2 --ops 50");
    assert_eq!(assert_sound(&summary, "ephemeral-churn"), 50);
}

#[test]
fn watch_fanout_counts_one_operation_per_watcher_notified() {
    let summary = zookeeper_run("watch-fanout", "--watchers 5 --ops 100");
    assert_eq!(assert_sound(&summary, "watch-fanout"), 100);
    assert_eq!(summary["connections"], 5, "the watching sessions");
}

fn rest_run(workload: &str, extra: &str) -> Value {
    let dev = start_dev();
    bench(&format!("--gateway {} --workload {workload} {extra}", dev.rest))
}

#[test]
fn rest_lock_contended_on_one_lock_and_uncontended() {
    let dev = start_dev();
    for locks in ["1", "3"] {
        let summary = bench(&format!(
            "--gateway {}/ --workload rest-lock --locks {locks} --connections 3 --ops 60",
            dev.rest
        ));
        assert_eq!(assert_sound(&summary, "rest-lock"), 60);
    }
}

#[test]
fn rest_queue_enqueues_claims_and_acks() {
    let summary = rest_run("rest-queue", "--connections 3 --ops 60");
    assert_eq!(assert_sound(&summary, "rest-queue"), 60);
}

#[test]
fn rest_config_sets_keys() {
    let summary = rest_run("rest-config", "--connections 2 --window 2 --keys 5 --ops 100");
    assert_eq!(assert_sound(&summary, "rest-config"), 100);
}

#[test]
fn rest_config_stream_counts_one_operation_per_subscriber_event() {
    let summary = rest_run("rest-config-stream", "--watchers 4 --ops 40");
    assert_eq!(assert_sound(&summary, "rest-config-stream"), 40);
}

/// A stand-in for etcd's JSON gateway that checks the encoding of the three calls the
/// etcd-lock workload makes (it does not lock anything).
mod etcd_stub {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::post;
    use axum::{Json, Router};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde_json::{Value, json};

    pub const LEASE_ID: &str = "7587869023612733701";

    #[derive(Default)]
    pub struct Calls {
        pub grants: usize,
        pub locks: usize,
        pub unlocks: usize,
        held: HashSet<String>,
    }

    type Shared = Arc<Mutex<Calls>>;
    type Reply = (StatusCode, Json<Value>);

    fn refuse(why: String) -> Reply {
        (StatusCode::BAD_REQUEST, Json(json!({"error": why, "message": why, "code": 3})))
    }

    async fn grant(State(calls): State<Shared>, Json(body): Json<Value>) -> Reply {
        if body["TTL"].as_u64().unwrap_or(0) == 0 {
            return refuse(format!("grant needs a numeric TTL: {body}"));
        }
        calls.lock().unwrap().grants += 1;
        (
            StatusCode::OK,
            Json(json!({"header": {}, "ID": LEASE_ID, "TTL": body["TTL"].to_string()})),
        )
    }

    async fn lock(State(calls): State<Shared>, Json(body): Json<Value>) -> Reply {
        let name = body["name"].as_str().and_then(|name| BASE64.decode(name).ok());
        let Some(name) = name.and_then(|name| String::from_utf8(name).ok()) else {
            return refuse(format!("lock name is not base64: {body}"));
        };
        if body["lease"] != LEASE_ID || !name.starts_with("bench-lock-") {
            return refuse(format!("unexpected lock request: {body}"));
        }
        let mut calls = calls.lock().unwrap();
        calls.locks += 1;
        let key = BASE64.encode(format!("{name}/{:x}", calls.locks));
        calls.held.insert(key.clone());
        (StatusCode::OK, Json(json!({"header": {}, "key": key})))
    }

    async fn unlock(State(calls): State<Shared>, Json(body): Json<Value>) -> Reply {
        let mut calls = calls.lock().unwrap();
        let key = body["key"].as_str().unwrap_or_default();
        if !calls.held.remove(key) {
            return refuse(format!("unlock of a key never handed out: {body}"));
        }
        calls.unlocks += 1;
        (StatusCode::OK, Json(json!({"header": {}})))
    }

    /// Serves the stub on an ephemeral loopback port; returns its base URL.
    pub async fn start(calls: Shared) -> String {
        let app = Router::new()
            .route("/v3/lease/grant", post(grant))
            .route("/v3/lock/lock", post(lock))
            .route("/v3/lock/unlock", post(unlock))
            .with_state(calls);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_lock_speaks_the_json_gateway_encoding() {
    let calls = std::sync::Arc::new(std::sync::Mutex::new(etcd_stub::Calls::default()));
    let etcd = etcd_stub::start(calls.clone()).await;
    let summary = tokio::task::spawn_blocking(move || {
        bench(&format!("--etcd {etcd} --workload etcd-lock --connections 3 --locks 2 --ops 90"))
    })
    .await
    .unwrap();
    assert_eq!(assert_sound(&summary, "etcd-lock"), 90);
    let calls = calls.lock().unwrap();
    assert_eq!((calls.grants, calls.locks, calls.unlocks), (3, 90, 90));
}

#[test]
fn text_output_is_one_line_and_quiet_draws_no_progress() {
    let dev = start_dev();
    let args = format!("--servers {} --workload exists --keys 5 --ops 50 --quiet", dev.zookeeper);
    let output = bench_command(&args).output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("exists 16x1: "), "{stdout}");
    assert!(stdout.contains("(50 ops, 0 errors)"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("ops/s"), "no progress drawn");
}

/// Nodes under the bench's root (the one `/herald-bench-*` child), or 0 before it exists.
async fn bench_nodes(client: &zookeeper_client::Client) -> usize {
    let Ok(roots) = client.list_children("/").await else { return 0 };
    let Some(root) = roots.iter().find(|name| name.starts_with("herald-bench-")) else {
        return 0;
    };
    client.list_children(&format!("/{root}")).await.map_or(0, |children| children.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_run_costs_errors_and_a_gap_but_the_run_completes() {
    let mut dev = start_dev();
    let zookeeper = dev.zookeeper.clone();
    let args = format!(
        "--servers {zookeeper} --workload create --connections 1 --ops 300 --duration-secs 120"
    );
    let run = bench_command(&args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let observer = zookeeper_client::Client::connector().connect(&zookeeper).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while bench_nodes(&observer).await < 20 {
        assert!(std::time::Instant::now() < deadline, "the bench never got going");
        tokio::task::yield_now().await;
    }
    drop(observer);
    // SIGKILL, then the same node back on the same port: no success can land in between.
    let killed_at = std::time::Instant::now();
    let _ = dev.process.0.kill();
    let _ = dev.process.0.wait();
    let (process, _, _) = spawn_dev(&zookeeper, dev.data_dir.path());
    let outage = killed_at.elapsed();
    dev.process = process;
    let output = tokio::task::spawn_blocking(move || run.wait_with_output()).await.unwrap();
    let summary = summary_of(&args, output.unwrap());
    assert_eq!(summary["operations"], 300, "the run went on after the outage: {summary}");
    let gap_ms = number(&summary, "max_gap_ms");
    assert!(gap_ms >= outage.as_secs_f64() * 1_000.0, "outage {outage:?}: {summary}");
    assert!(number(&summary, "max_ms") <= number(&summary, "duration_secs") * 1_000.0);
}

#[test]
fn bad_flags_are_refused_before_connecting() {
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["bench", "--servers", "127.0.0.1:1", "--multi-ops", "0", "--json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--multi-ops must be between 1 and"), "{stderr}");
}
