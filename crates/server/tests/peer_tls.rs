//! Mutual TLS between members over real loopback sockets: messages flow,
//! strangers (another CA, no certificate, plaintext) are refused, and a
//! rotated certificate serves the next connection. Certificates are made
//! here with rcgen.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};
use server::config::PeerTlsFiles;
use server::peer_transport::{PeerTransport, PeerTransportSettings};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use common::authority::Authority;

/// How long any awaited condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note(String);

type Inbox = mpsc::Receiver<(u64, Note)>;

/// (certificate PEM, key PEM) for a member reached at 127.0.0.1: both a TLS server
/// (accepting) and a TLS client (dialling).
fn issue_member(issuer: &Authority, common_name: &str) -> (String, String) {
    let purposes = [ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    issuer.issue(&["127.0.0.1", "localhost"], Some(common_name), &purposes)
}

/// Writes a member certificate from `issuer` and the CA bundle `trusted`
/// under `dir`, and names the files.
fn install(dir: &Path, issuer: &Authority, trusted: &Authority, name: &str) -> PeerTlsFiles {
    let files = PeerTlsFiles {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
        ca: dir.join(format!("{name}-ca.pem")),
    };
    write_member(&files, issuer, name);
    std::fs::write(&files.ca, trusted.pem()).unwrap();
    files
}

fn write_member(files: &PeerTlsFiles, issuer: &Authority, common_name: &str) -> String {
    let (certificate, key) = issue_member(issuer, common_name);
    std::fs::write(&files.key, key).unwrap();
    std::fs::write(&files.cert, &certificate).unwrap();
    certificate
}

async fn reserve_listeners(count: usize) -> Vec<TcpListener> {
    let mut listeners = Vec::new();
    for _ in 0..count {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    listeners
}

fn members_of(listeners: &[TcpListener]) -> BTreeMap<u64, String> {
    listeners
        .iter()
        .enumerate()
        .map(|(index, listener)| (index as u64 + 1, listener.local_addr().unwrap().to_string()))
        .collect()
}

fn settings_for(
    me: u64,
    members: &BTreeMap<u64, String>,
    tls: Option<PeerTlsFiles>,
) -> PeerTransportSettings {
    let mut settings =
        PeerTransportSettings::new(me, "127.0.0.1:0".parse().unwrap(), members.clone());
    settings.reconnect_backoff_min_ms = 5;
    settings.reconnect_backoff_max_ms = 50;
    settings.tls = tls;
    settings
}

fn start(settings: PeerTransportSettings, listener: TcpListener) -> (PeerTransport<Note>, Inbox) {
    PeerTransport::start_with_listener(settings, listener).unwrap()
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn receive(inbox: &mut Inbox) -> (u64, Note) {
    tokio::time::timeout(DEADLINE, inbox.recv())
        .await
        .expect("a message within the deadline")
        .expect("transport still running")
}

/// A TLS client trusting `trusted`, presenting `client` (certificate and key PEM) if given.
fn connector(trusted: &Authority, client: Option<(String, String)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.der()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((certificate, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(certificate.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    TlsConnector::from(Arc::new(config))
}

/// The certificate the member at `address` presents to a TLS client.
async fn served_certificate(
    address: SocketAddr,
    connector: &TlsConnector,
) -> CertificateDer<'static> {
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio::time::timeout(DEADLINE, connector.connect(name, tcp)).await.unwrap().unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_with_mutual_tls_exchange_messages() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("ensemble CA");
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut listeners = listeners.into_iter();
    let tls_one = install(dir.path(), &ca, &ca, "one");
    let tls_two = install(dir.path(), &ca, &ca, "two");
    // The shared secret still applies inside TLS.
    let with_secret = |me, tls| {
        let mut settings = settings_for(me, &members, Some(tls));
        settings.secret = Some("s3cret".into());
        settings
    };
    let (one, mut inbox_one) = start(with_secret(1, tls_one), listeners.next().unwrap());
    let (two, mut inbox_two) = start(with_secret(2, tls_two), listeners.next().unwrap());
    wait_until("both members are connected both ways", || {
        one.connected_peers() == [2] && two.connected_peers() == [1]
    })
    .await;
    one.send(2, Note("from one".into())).unwrap();
    two.send(1, Note("from two".into())).unwrap();
    assert_eq!(receive(&mut inbox_two).await, (1, Note("from one".into())));
    assert_eq!(receive(&mut inbox_one).await, (2, Note("from two".into())));
    assert_eq!(one.stats().handshakes_refused, 0);
    assert_eq!(two.stats().handshakes_refused, 0);
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_with_a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("ensemble CA");
    let other = Authority::new("someone else's CA");
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut listeners = listeners.into_iter();
    // Member 2 trusts the ensemble CA (so it would accept member 1's
    // certificate) but its own certificate comes from another CA.
    let tls_one = install(dir.path(), &ca, &ca, "one");
    let tls_two = install(dir.path(), &other, &ca, "two");
    let (one, _inbox_one) =
        start(settings_for(1, &members, Some(tls_one)), listeners.next().unwrap());
    let (two, _inbox_two) =
        start(settings_for(2, &members, Some(tls_two)), listeners.next().unwrap());
    wait_until("member 1 refuses member 2 twice", || one.stats().handshakes_refused >= 2).await;
    assert!(one.inbound_peers().is_empty(), "no connection from member 2 got in");
    assert!(two.connected_peers().is_empty(), "member 2 never completed a dial");
    // The other direction fails on member 1's side too: as a dialer it
    // verifies member 2's certificate against the ensemble CA.
    assert!(one.connected_peers().is_empty());
    assert!(two.inbound_peers().is_empty());
    one.shutdown().await;
    two.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialer_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("ensemble CA");
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut listeners = listeners.into_iter();
    let listener = listeners.next().unwrap();
    let address = listener.local_addr().unwrap();
    let tls_one = install(dir.path(), &ca, &ca, "one");
    let (one, _inbox) = start(settings_for(1, &members, Some(tls_one)), listener);

    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let without_certificate = connector(&ca, None);
    // TLS 1.3 lets the client finish before the server has judged it, so
    // the refusal shows on the first read: an alert or a close, never a greeting.
    if let Ok(Ok(mut stream)) =
        tokio::time::timeout(DEADLINE, without_certificate.connect(name, tcp)).await
    {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(DEADLINE, stream.read(&mut byte)).await.unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "a client without a certificate got {read:?}");
    }
    wait_until("the handshake is counted as refused", || one.stats().handshakes_refused >= 1).await;
    assert!(one.inbound_peers().is_empty());
    drop(listeners);
    one.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_tls_members_refuse_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("ensemble CA");
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut listeners = listeners.into_iter();
    let mut tls_settings = settings_for(1, &members, Some(install(dir.path(), &ca, &ca, "one")));
    // A plaintext dialer waits for a greeting the TLS side never sends: the
    // deadline ends it, so keep it short.
    tls_settings.handshake_timeout_ms = 200;
    let mut plain_settings = settings_for(2, &members, None);
    plain_settings.handshake_timeout_ms = 200;
    let (tls_member, _inbox_one) = start(tls_settings, listeners.next().unwrap());
    let (plain_member, _inbox_two) = start(plain_settings, listeners.next().unwrap());
    wait_until("the TLS member refuses the plaintext dialer", || {
        tls_member.stats().handshakes_refused >= 1
    })
    .await;
    wait_until("the plaintext member refuses the TLS dialer", || {
        plain_member.stats().handshakes_refused >= 1
    })
    .await;
    assert!(tls_member.inbound_peers().is_empty() && tls_member.connected_peers().is_empty());
    assert!(plain_member.inbound_peers().is_empty() && plain_member.connected_peers().is_empty());
    tls_member.shutdown().await;
    plain_member.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_serves_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("ensemble CA");
    let listeners = reserve_listeners(2).await;
    let members = members_of(&listeners);
    let mut listeners = listeners.into_iter();
    let files = install(dir.path(), &ca, &ca, "one");
    let first_pem = std::fs::read_to_string(&files.cert).unwrap();
    let listener = listeners.next().unwrap();
    let address = listener.local_addr().unwrap();
    let (one, _inbox) = start(settings_for(1, &members, Some(files.clone())), listener);
    let client = connector(&ca, Some(issue_member(&ca, "a peer")));
    let first = CertificateDer::from_pem_slice(first_pem.as_bytes()).unwrap();
    assert_eq!(served_certificate(address, &client).await, first);

    let second_pem = write_member(&files, &ca, "one, rotated");
    let second = CertificateDer::from_pem_slice(second_pem.as_bytes()).unwrap();
    assert_ne!(first, second);
    assert_eq!(served_certificate(address, &client).await, second, "no restart needed");
    drop(listeners);
    one.shutdown().await;
}
