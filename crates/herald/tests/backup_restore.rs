//! The backup and restore procedure of docs/operations.md, end to end: start
//! `herald server` from a configuration file, write, stop it with SIGTERM,
//! copy the data directory, start a new node on the copy, read the data back.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use zookeeper_client::{Acls, Client, CreateMode};

/// Znodes written before the backup.
const ZNODES: usize = 50;

struct Node {
    child: Child,
    address: String,
}

fn start_server(config_dir: &Path, data_dir: &Path) -> Node {
    let config = config_dir.join("herald.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nclient_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\ntick_ms = 200\n",
            data_dir.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["server", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning herald");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("herald printed its address").expect("readable stdout");
        if let Some(address) = line.strip_prefix("herald server: ZooKeeper protocol on ") {
            break address.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Node { child, address }
}

/// SIGTERM, as Kubernetes stops a pod, then waits for a clean exit.
fn stop(mut node: Node) {
    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    let exit = node.child.wait().expect("waiting for herald");
    assert!(exit.success(), "herald exited with {exit}");
}

async fn connect(address: &str) -> Client {
    tokio::time::timeout(Duration::from_secs(10), Client::connect(address))
        .await
        .expect("connect within deadline")
        .expect("client connects")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_on_a_copied_data_dir_serves_the_backed_up_data() {
    let work = tempfile::tempdir().unwrap();
    let original_data = work.path().join("original");
    let node = start_server(work.path(), &original_data);
    let client = connect(&node.address).await;
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    client.create("/backup", b"root", &options).await.unwrap();
    for index in 0..ZNODES {
        client
            .create(&format!("/backup/n{index}"), index.to_string().as_bytes(), &options)
            .await
            .unwrap();
    }
    drop(client);
    stop(node);

    let restored_data = work.path().join("restored");
    copy_dir(&original_data, &restored_data);
    // The original is gone: only the copy can answer.
    std::fs::remove_dir_all(&original_data).unwrap();

    let node = start_server(work.path(), &restored_data);
    let client = connect(&node.address).await;
    let (data, _) = client.get_data("/backup").await.unwrap();
    assert_eq!(data, b"root");
    let mut children = client.list_children("/backup").await.unwrap();
    children.sort();
    assert_eq!(children.len(), ZNODES);
    for index in [0, ZNODES / 2, ZNODES - 1] {
        let (data, _) = client.get_data(&format!("/backup/n{index}")).await.unwrap();
        assert_eq!(data, index.to_string().as_bytes());
    }
    // The restored node takes writes on top of the restored state.
    client.create("/backup/after-restore", b"", &options).await.unwrap();
    drop(client);
    stop(node);
}
