//! Four-letter words against a real node on its client port, checked
//! against the tree the test built through a ZooKeeper client.

mod common;

use std::collections::HashMap;

use common::{TestNode, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client::{Acls, CreateMode};

/// Sends `word` as `nc` would and returns everything the node writes before closing.
async fn ask(address: &str, word: &str) -> String {
    within(word, async {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream.write_all(word.as_bytes()).await.expect("send word");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read until the node closes");
        answer
    })
    .await
}

/// `mntr`'s `zk_name\tvalue` lines as a map.
fn monitor_values(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn number(values: &HashMap<String, String>, name: &str) -> u64 {
    values.get(name).unwrap_or_else(|| panic!("{name} missing")).parse().expect("a number")
}

/// The `Name: value` line of `srvr`/`stat`.
fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
}

async fn all_words_node() -> TestNode {
    TestNode::start_with(|config| config.four_letter_words = vec!["*".to_string()]).await
}

#[tokio::test]
async fn mntr_srvr_and_wchs_count_what_the_client_built() {
    let node = all_words_node().await;
    let address = node.address();
    let before = monitor_values(&ask(&address, "mntr").await);
    assert_eq!(before["zk_server_state"], "standalone");

    let client = node.client().await;
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    client.create("/app", b"12345", &persistent).await.unwrap();
    client.create("/app/lock", b"", &ephemeral).await.unwrap();
    let (_, _, _watch) = client.get_and_watch_data("/app").await.unwrap();

    let after = monitor_values(&ask(&address, "mntr").await);
    assert_eq!(number(&after, "zk_znode_count"), number(&before, "zk_znode_count") + 2);
    assert_eq!(number(&after, "zk_ephemerals_count"), 1);
    assert_eq!(number(&after, "zk_watch_count"), 1);
    assert_eq!(number(&after, "zk_global_sessions"), 1);
    // The client's connection and this command's own.
    let cons = ask(&address, "cons").await;
    assert_eq!(number(&after, "zk_num_alive_connections"), 2, "{cons}");
    assert_eq!(number(&after, "zk_outstanding_requests"), 0);
    assert!(number(&after, "zk_packets_received") >= number(&before, "zk_packets_received") + 4);
    assert!(number(&after, "zk_packets_sent") >= number(&before, "zk_packets_sent") + 4);
    assert!(number(&after, "zk_cnt_fsynctime") >= 3, "session + two creates were fsynced");
    assert!(number(&after, "zk_open_file_descriptor_count") > 0);
    let min: u64 = number(&after, "zk_min_latency");
    let max: u64 = number(&after, "zk_max_latency");
    let avg: f64 = after["zk_avg_latency"].parse().unwrap();
    assert!(min as f64 <= avg && avg <= max as f64 + 1.0, "min {min} avg {avg} max {max}");

    let srvr = ask(&address, "srvr").await;
    assert!(srvr.starts_with("Zookeeper version: "), "{srvr}");
    assert_eq!(field(&srvr, "Mode"), "standalone");
    assert_eq!(field(&srvr, "Node count"), after["zk_znode_count"]);
    assert_eq!(field(&srvr, "Connections"), "2");
    let zxid = field(&srvr, "Zxid");
    assert!(zxid.starts_with("0x") && zxid != "0x0", "{zxid}");

    assert_eq!(ask(&address, "wchs").await, "1 connections watching 1 paths\nTotal watches:1\n");
    let session = client.session_id().0;
    assert_eq!(ask(&address, "wchc").await, format!("0x{session:x}\n\t/app\n\n"));
    drop(client);
}

#[tokio::test]
async fn stat_cons_conf_dirs_envi_ruok_and_isro_answer_in_zookeepers_format() {
    let node = all_words_node().await;
    let address = node.address();
    let client = node.client().await;
    client.create("/x", b"", &CreateMode::Persistent.with_acls(Acls::anyone_all())).await.unwrap();
    let session = client.session_id();

    assert_eq!(ask(&address, "ruok").await, "imok");
    assert_eq!(ask(&address, "isro").await, "rw");

    let stat = ask(&address, "stat").await;
    assert!(stat.contains("\nClients:\n /127.0.0.1:"), "{stat}");
    assert!(stat.contains("Mode: standalone\n"), "{stat}");

    let cons = ask(&address, "cons").await;
    let client_line = cons
        .lines()
        .find(|line| line.contains(&format!("sid=0x{:x}", session.0)))
        .unwrap_or_else(|| panic!("the client's session is not listed:\n{cons}"));
    assert!(client_line.starts_with(" /127.0.0.1:") && client_line.contains("(queued=0,recved="));
    assert!(cons.ends_with("\n\n"), "cons ends with an empty line: {cons:?}");

    let conf = ask(&address, "conf").await;
    let port = address.rsplit(':').next().unwrap();
    assert!(conf.starts_with(&format!("clientPort={port}\nsecureClientPort=-1\n")), "{conf}");
    assert!(conf.contains("tickTime=100\n") && conf.contains("serverId=0\n"), "{conf}");

    let dirs = ask(&address, "dirs").await;
    let size: u64 = dirs
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("datadir_size: "))
        .expect("datadir_size line")
        .parse()
        .unwrap();
    assert!(size > 0, "the txn log is on disk: {dirs}");

    let envi = ask(&address, "envi").await;
    assert!(envi.starts_with("Environment:\nzookeeper.version="), "{envi}");
    assert!(envi.contains("\nos.name="), "{envi}");
}

#[tokio::test]
async fn a_word_followed_by_a_newline_as_echo_sends_it_is_answered_in_full() {
    let node = all_words_node().await;
    let address = node.address();
    for _ in 0..20 {
        let answer = within("mntr with newline", async {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream.write_all(b"mntr\n").await.unwrap();
            // As `nc -N`: close the sending side, then read until the node closes.
            stream.shutdown().await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.expect("no reset before the answer");
            answer
        })
        .await;
        assert!(answer.starts_with("zk_version\t") && answer.ends_with('\n'), "{answer:?}");
        assert!(answer.contains("zk_server_state\tstandalone\n"));
    }
}

#[tokio::test]
async fn words_outside_the_whitelist_are_refused_and_srvr_is_always_allowed() {
    let node = TestNode::start_with(|config| config.four_letter_words = Vec::new()).await;
    let address = node.address();
    assert_eq!(
        ask(&address, "ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        ask(&address, "cons").await,
        "cons is not executed because it is not in the whitelist.\n"
    );
    assert!(ask(&address, "srvr").await.contains("Mode: standalone\n"));
}

#[tokio::test]
async fn the_default_whitelist_answers_ruok_and_mntr_but_not_cons() {
    let node = TestNode::start().await;
    let address = node.address();
    assert_eq!(ask(&address, "ruok").await, "imok");
    assert!(ask(&address, "mntr").await.contains("zk_server_state\tstandalone\n"));
    assert!(ask(&address, "cons").await.contains("not in the whitelist"));
}

#[tokio::test]
async fn an_unknown_word_is_a_bad_frame_and_clients_still_connect_afterwards() {
    let node = all_words_node().await;
    let address = node.address();
    // "xyzw" is not a command: read as a frame length far above the limit, it closes silently.
    assert_eq!(ask(&address, "xyzw").await, "");
    let client = node.client().await;
    client
        .create("/after", b"", &CreateMode::Persistent.with_acls(Acls::anyone_all()))
        .await
        .unwrap();
    assert!(client.check_stat("/after").await.unwrap().is_some());
}
