//! A 3-member ensemble of real `herald server` processes on loopback, with
//! SIGKILL, SIGSTOP and restarts, driven by the `zookeeper-client` crate.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_support::free_port;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions};

/// Generous bound for an election and sync on a loaded 2-core machine.
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);
/// The promise: a new leader accepts writes within 2 s of a SIGKILL.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(2);

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

struct Member {
    child: Child,
    client_address: String,
    /// The member's last status line ("leader, serving", ...).
    status: Arc<Mutex<String>>,
}

struct Ensemble {
    members: Vec<Option<Member>>,
    client_ports: Vec<u16>,
    peer_ports: Vec<u16>,
    extra_args: Vec<String>,
    data: tempfile::TempDir,
}

impl Ensemble {
    async fn start(extra_args: &[&str]) -> Ensemble {
        let mut ensemble = Ensemble {
            members: Vec::new(),
            client_ports: (0..3).map(|_| free_port()).collect(),
            peer_ports: (0..3).map(|_| free_port()).collect(),
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            data: tempfile::tempdir().unwrap(),
        };
        for index in 0..3 {
            let member = ensemble.spawn(index);
            ensemble.members.push(Some(member));
        }
        ensemble.wait_settled().await;
        ensemble
    }

    fn data_dir(&self, index: usize) -> PathBuf {
        self.data.path().join((index + 1).to_string())
    }

    fn spawn(&self, index: usize) -> Member {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .arg("server")
            .arg(format!("--id={}", index + 1))
            .arg(format!("--listen=127.0.0.1:{}", self.client_ports[index]))
            .arg(format!("--peer-listen=127.0.0.1:{}", self.peer_ports[index]))
            .arg("--data-dir")
            .arg(self.data_dir(index))
            .args(&self.extra_args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (member, port) in self.peer_ports.iter().enumerate() {
            command.arg(format!("--member={}=127.0.0.1:{port}", member + 1));
        }
        let mut child = command.spawn().expect("spawning herald server");
        let stdout = child.stdout.take().expect("piped stdout");
        let status = Arc::new(Mutex::new(String::from("starting")));
        let recorded = status.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(state) = line.strip_prefix("herald server: ")
                    && !state.starts_with("ZooKeeper protocol")
                    && !state.starts_with("member ")
                    && !state.starts_with("data in ")
                {
                    *recorded.lock().unwrap() = state.to_string();
                }
            }
        });
        Member { child, client_address: format!("127.0.0.1:{}", self.client_ports[index]), status }
    }

    fn status(&self, index: usize) -> String {
        self.members[index].as_ref().map_or("stopped".into(), |m| m.status.lock().unwrap().clone())
    }

    fn serving(&self, index: usize) -> bool {
        let status = self.status(index);
        status.contains(", serving")
    }

    async fn wait_settled(&self) {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            let running: Vec<usize> =
                (0..3).filter(|index| self.members[*index].is_some()).collect();
            let leaders = running
                .iter()
                .filter(|index| self.status(**index).starts_with("leader, serving"))
                .count();
            if running.iter().all(|index| self.serving(*index)) && leaders == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not settled: {:?}",
                (0..3).map(|i| self.status(i)).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn leader(&self) -> usize {
        (0..3).find(|index| self.status(*index).starts_with("leader, serving")).expect("a leader")
    }

    fn followers(&self) -> Vec<usize> {
        let leader = self.leader();
        (0..3).filter(|index| *index != leader && self.members[*index].is_some()).collect()
    }

    fn signal(&self, index: usize, signal: &str) {
        let pid = self.members[index].as_ref().expect("running").child.id();
        let status =
            Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
    }

    fn kill(&mut self, index: usize) {
        self.signal(index, "KILL");
        let mut member = self.members[index].take().expect("running");
        member.child.wait().unwrap();
    }

    fn restart(&mut self, index: usize) {
        assert!(self.members[index].is_none());
        self.members[index] = Some(self.spawn(index));
    }

    async fn client(&self, indexes: &[usize]) -> Client {
        let hosts: Vec<&str> = indexes
            .iter()
            .map(|index| self.members[*index].as_ref().unwrap().client_address.as_str())
            .collect();
        tokio::time::timeout(
            Duration::from_secs(10),
            Client::connector()
                .with_session_timeout(Duration::from_secs(4))
                .connect(&hosts.join(",")),
        )
        .await
        .expect("connect within deadline")
        .expect("client connects")
    }

    /// Total bytes of a member's txn log: grows when it appends.
    /// Bytes of the member's log up to the last non-zero byte of each
    /// segment: segments are preallocated with zeros, so their size does not
    /// grow with each record, but a new record (whose checksum and zxid are
    /// never all zero) always moves this.
    fn log_bytes(&self, index: usize) -> u64 {
        std::fs::read_dir(self.data_dir(index).join("log"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| std::fs::read(entry.path()).ok())
                    .map(|bytes| bytes.iter().rposition(|&byte| byte != 0).map_or(0, |at| at + 1))
                    .map(|len| len as u64)
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for member in self.members.iter_mut().flatten() {
            let _ = Command::new("kill").arg("-CONT").arg(member.child.id().to_string()).status();
            let _ = member.child.kill();
            let _ = member.child.wait();
        }
    }
}

async fn create_many(client: &Client, prefix: &str, count: usize) {
    let options = persistent();
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let paths: Vec<String> = chunk.iter().map(|key| format!("{prefix}/{key}")).collect();
        let creates = paths.iter().map(|path| client.create(path, b"x", &options));
        for result in futures::future::join_all(creates).await {
            result.expect("create");
        }
    }
}

async fn children(client: &Client, path: &str) -> usize {
    client.sync(path).await.unwrap();
    client.get_children(path).await.unwrap().0.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_hands_over_and_it_rejoins_by_diff() {
    let mut ensemble = Ensemble::start(&[]).await;
    let leader = ensemble.leader();
    let survivors = ensemble.followers();
    let client = ensemble.client(&survivors).await;
    client.create("/before", b"", &persistent()).await.unwrap();

    let killed_at = Instant::now();
    ensemble.kill(leader);
    let mut attempt = 0;
    let failover = loop {
        attempt += 1;
        match client.create(&format!("/after-{attempt}"), b"", &persistent()).await {
            Ok(_) => break killed_at.elapsed(),
            Err(error) => {
                assert!(
                    killed_at.elapsed() < FAILOVER_DEADLINE,
                    "no write accepted within {FAILOVER_DEADLINE:?}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    println!("failover: first write accepted {failover:?} after the leader's SIGKILL");
    create_many(&client, "/before", 20).await;

    ensemble.restart(leader);
    ensemble.wait_settled().await;
    assert_eq!(ensemble.status(leader), "follower, serving (last sync: DIFF)");
    let rejoined = ensemble.client(&[leader]).await;
    assert_eq!(children(&rejoined, "/before").await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_leader_with_an_uncommitted_tail_is_cut_back_by_trunc() {
    let mut ensemble = Ensemble::start(&[]).await;
    let leader = ensemble.leader();
    let followers = ensemble.followers();
    let client = ensemble.client(&[leader]).await;
    client.create("/committed", b"", &persistent()).await.unwrap();

    // The followers die: the leader logs the next write but can never commit
    // it. (Frozen followers would not do: on resuming they read the proposal
    // still waiting in their sockets, and a new leader rightly keeps it.)
    for follower in &followers {
        ensemble.kill(*follower);
    }
    let logged_before = ensemble.log_bytes(leader);
    let pending =
        tokio::spawn(async move { client.create("/uncommitted", b"", &persistent()).await });
    let deadline = Instant::now() + SETTLE_DEADLINE;
    while ensemble.log_bytes(leader) == logged_before {
        assert!(Instant::now() < deadline, "the leader never logged the write");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ensemble.kill(leader);
    assert!(pending.await.unwrap().is_err(), "an uncommitted write must not be acknowledged");
    for follower in &followers {
        ensemble.restart(*follower);
    }
    ensemble.wait_settled().await;
    let client = ensemble.client(&followers).await;
    client.create("/new-epoch", b"", &persistent()).await.unwrap();

    ensemble.restart(leader);
    ensemble.wait_settled().await;
    let rejoined = ensemble.client(&[leader]).await;
    rejoined.sync("/").await.unwrap();
    assert!(
        rejoined.check_stat("/uncommitted").await.unwrap().is_none(),
        "the uncommitted tail was cut"
    );
    assert!(rejoined.check_stat("/committed").await.unwrap().is_some());
    assert!(rejoined.check_stat("/new-epoch").await.unwrap().is_some());
    assert_eq!(ensemble.status(leader), "follower, serving (last sync: TRUNC)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_further_behind_than_the_diff_window_gets_a_snapshot() {
    let mut ensemble = Ensemble::start(&["--sync-diff-txns-max=50"]).await;
    let leader = ensemble.leader();
    let survivors = ensemble.followers();
    ensemble.kill(leader);
    ensemble.wait_settled().await;
    let client = ensemble.client(&survivors).await;
    client.create("/bulk", b"", &persistent()).await.unwrap();
    create_many(&client, "/bulk", 200).await;

    ensemble.restart(leader);
    ensemble.wait_settled().await;
    assert_eq!(ensemble.status(leader), "follower, serving (last sync: SNAP)");
    let rejoined = ensemble.client(&[leader]).await;
    assert_eq!(children(&rejoined, "/bulk").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_missed_ten_thousand_writes_catches_up() {
    let mut ensemble = Ensemble::start(&[]).await;
    let behind = ensemble.followers()[0];
    ensemble.kill(behind);
    let others: Vec<usize> = (0..3).filter(|index| *index != behind).collect();
    let client = ensemble.client(&others).await;
    client.create("/many", b"", &persistent()).await.unwrap();
    create_many(&client, "/many", 10_000).await;

    ensemble.restart(behind);
    ensemble.wait_settled().await;
    let caught_up = ensemble.client(&[behind]).await;
    assert_eq!(children(&caught_up, "/many").await, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_replaced_and_steps_down_when_resumed() {
    let ensemble = Ensemble::start(&["--tick-ms=200"]).await;
    let leader = ensemble.leader();
    let others = ensemble.followers();
    let client = ensemble.client(&others).await;
    client.create("/before-pause", b"", &persistent()).await.unwrap();
    ensemble.signal(leader, "STOP");
    // Longer than the session timeout (4 s asked, at most 20 ticks = 4 s).
    let paused_at = Instant::now();
    let deadline = paused_at + SETTLE_DEADLINE;
    loop {
        let new_leader =
            others.iter().any(|index| ensemble.status(*index).starts_with("leader, serving"));
        if new_leader && paused_at.elapsed() > Duration::from_secs(5) {
            break;
        }
        assert!(Instant::now() < deadline, "no new leader while the old one is paused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.create("/during-pause", b"", &persistent()).await.unwrap();
    ensemble.signal(leader, "CONT");
    ensemble.wait_settled().await;
    assert!(
        ensemble.status(leader).starts_with("follower, serving"),
        "the paused leader stepped down"
    );
    let resumed = ensemble.client(&[leader]).await;
    resumed.sync("/").await.unwrap();
    assert!(resumed.check_stat("/during-pause").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_on_a_killed_member_moves_with_its_ephemerals() {
    let mut ensemble = Ensemble::start(&[]).await;
    let first = ensemble.followers()[0];
    let rest: Vec<usize> = (0..3).filter(|index| *index != first).collect();
    let client = tokio::time::timeout(
        Duration::from_secs(10),
        Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .with_detached()
            .connect(&ensemble.members[first].as_ref().unwrap().client_address),
    )
    .await
    .expect("connect within deadline")
    .expect("client connects");
    let session = client.session_id();
    let ephemeral = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
    client.create("/mine", b"", &ephemeral).await.unwrap();
    let session_info = client.session().clone();
    drop(client);
    ensemble.kill(first);
    let hosts: Vec<String> = rest
        .iter()
        .map(|index| ensemble.members[*index].as_ref().unwrap().client_address.clone())
        .collect();
    let moved = tokio::time::timeout(
        Duration::from_secs(10),
        Client::connector().with_session(session_info).connect(&hosts.join(",")),
    )
    .await
    .expect("reconnect within deadline")
    .expect("the session resumes on a surviving member");
    assert_eq!(moved.session_id(), session);
    let stat = moved.check_stat("/mine").await.unwrap().expect("the ephemeral survived");
    assert_eq!(stat.ephemeral_owner, session.0);
}

/// One certificate for every member (SAN 127.0.0.1, usable as TLS server and
/// client) signed by a CA made here; returns (cert, key, CA) paths.
fn write_peer_certificates(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer};
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let certificate = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("peer.pem"), dir.join("peer.key"), dir.join("ca.pem"));
    std::fs::write(&paths.0, certificate.pem()).unwrap();
    std::fs::write(&paths.1, key.serialize_pem()).unwrap();
    std::fs::write(&paths.2, ca.pem()).unwrap();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_with_peer_mutual_tls_form_and_replicate() {
    let certificates = tempfile::tempdir().unwrap();
    let (cert, key, ca) = write_peer_certificates(certificates.path());
    let ensemble = Ensemble::start(&[
        &format!("--peer-tls-cert-file={}", cert.display()),
        &format!("--peer-tls-key-file={}", key.display()),
        &format!("--peer-tls-ca-file={}", ca.display()),
    ])
    .await;
    let writer = ensemble.client(&[ensemble.leader()]).await;
    writer.create("/over-tls", b"sealed", &persistent()).await.unwrap();
    let reader = ensemble.client(&[ensemble.followers()[0]]).await;
    reader.sync("/over-tls").await.unwrap();
    assert_eq!(reader.get_data("/over-tls").await.unwrap().0, b"sealed");

    // A plaintext member would greet first with "HRLD"; a TLS one waits for a
    // ClientHello and closes on anything else.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut probe =
        tokio::net::TcpStream::connect(("127.0.0.1", ensemble.peer_ports[0])).await.unwrap();
    probe.write_all(&[0u8; 64]).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(SETTLE_DEADLINE, probe.read_to_end(&mut answer))
        .await
        .expect("the TLS peer port closes on garbage");
    assert!(!answer.starts_with(b"HRLD"), "the peer port spoke plaintext: {answer:?}");
}
