//! SIGKILL during a write burst loses no acknowledged write.
//!
//! The real binary runs as a child process; writers record every create the
//! node acknowledged; the node is killed with SIGKILL while they are still
//! writing, restarted on the same data directory, and every acknowledged
//! node must be there.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use zookeeper_client::{Acls, Client, CreateMode};

/// Writers running at once: enough that fsyncs batch several txns.
const WRITERS: usize = 8;
/// Acknowledged writes after which the node is killed.
const ACKS_BEFORE_KILL: usize = 400;

struct Node {
    child: Child,
    address: String,
}

fn start_node(data_dir: &std::path::Path) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["dev", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning herald");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("herald printed its address").expect("readable stdout");
        if let Some(address) = line.strip_prefix("herald dev: ZooKeeper protocol on ") {
            break address.trim().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node { child, address }
}

async fn connect(address: &str) -> Client {
    tokio::time::timeout(Duration::from_secs(10), Client::connect(address))
        .await
        .expect("connect within deadline")
        .expect("client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_no_acknowledged_write() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut node = start_node(data_dir.path());
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    connect(&node.address).await.create("/burst", b"", &options).await.unwrap();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let ack_count = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let client = connect(&node.address).await;
        let acknowledged = acknowledged.clone();
        let ack_count = ack_count.clone();
        writers.push(tokio::spawn(async move {
            let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
            for sequence in 0.. {
                let path = format!("/burst/w{writer}-{sequence}");
                match client.create(&path, b"payload", &options).await {
                    Ok(_) => {
                        acknowledged.lock().await.push(path);
                        ack_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => return, // the node died under us
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ack_count.load(Ordering::SeqCst) < ACKS_BEFORE_KILL {
        assert!(tokio::time::Instant::now() < deadline, "writers made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.child.kill().expect("SIGKILL"); // std's kill is SIGKILL on unix
    node.child.wait().unwrap();
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("writers notice the dead node")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(acknowledged.len() >= ACKS_BEFORE_KILL);

    let mut restarted = start_node(data_dir.path());
    let client = connect(&restarted.address).await;
    let present: std::collections::HashSet<String> = client
        .list_children("/burst")
        .await
        .unwrap()
        .into_iter()
        .map(|child| format!("/burst/{child}"))
        .collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|path| !present.contains(*path)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_keeps_the_data() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut node = start_node(data_dir.path());
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let client = connect(&node.address).await;
    client.create("/kept", b"across a restart", &options).await.unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || node.child.wait().unwrap());
    let exit = tokio::time::timeout(Duration::from_secs(20), exit)
        .await
        .expect("herald exits within its deadline after SIGTERM")
        .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let mut restarted = start_node(data_dir.path());
    let client = connect(&restarted.address).await;
    assert_eq!(client.get_data("/kept").await.unwrap().0, b"across a restart");
    restarted.child.kill().unwrap();
    restarted.child.wait().unwrap();
}
