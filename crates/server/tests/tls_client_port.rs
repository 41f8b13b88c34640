//! The secure client port: a ZooKeeper handshake over TLS, mutual TLS, and
//! certificates rewritten on disk taking effect for the next connection.
//! Certificates are generated here with rcgen.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use common::authority::Authority;
use common::{TestNode, within};
use proto::Record;
use proto::frame::{decode_frame, encode_frame};
use proto::records::{ConnectRequest, ConnectResponse};
use rcgen::ExtendedKeyUsagePurpose;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// (certificate PEM, key PEM) for `localhost`, for a server or a client.
fn issue_localhost(authority: &Authority, purpose: ExtendedKeyUsagePurpose) -> (String, String) {
    authority.issue(&["localhost"], None, &[purpose])
}

/// Writes a server certificate from `authority` where the node reads it.
fn install_server_certificate(dir: &Path, authority: &Authority) -> (PathBuf, PathBuf) {
    let (certificate, key) = issue_localhost(authority, ExtendedKeyUsagePurpose::ServerAuth);
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_file, certificate).unwrap();
    std::fs::write(&key_file, key).unwrap();
    (cert_file, key_file)
}

fn connector(trusted: &Authority, client_pem: Option<(String, String)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client_pem {
        None => builder.with_no_client_auth(),
        Some((certificate, key)) => {
            use rustls_pki_types::pem::PemObject;
            let chain = vec![CertificateDer::from_pem_slice(certificate.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    TlsConnector::from(Arc::new(config))
}

/// A ZooKeeper session handshake over `stream`; the session id, or why it failed.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Result<i64, String> {
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 4_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    encode_frame(&request.to_bytes(), &mut out);
    stream.write_all(&out).await.map_err(|error| error.to_string())?;
    let mut buffer = BytesMut::new();
    loop {
        if let Some(body) = decode_frame(&mut buffer, 1 << 20).map_err(|error| error.to_string())? {
            let response = ConnectResponse::from_bytes(&body).map_err(|error| error.to_string())?;
            return Ok(response.session_id);
        }
        match stream.read_buf(&mut buffer).await {
            Ok(0) => return Err("closed before the handshake reply".to_string()),
            Ok(_) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Connects over TLS and completes a ZooKeeper handshake.
async fn session_over_tls(address: &str, connector: &TlsConnector) -> Result<i64, String> {
    within("TLS session", async {
        let tcp = TcpStream::connect(address).await.map_err(|error| error.to_string())?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.map_err(|error| error.to_string())?;
        handshake(&mut tls).await
    })
    .await
}

/// Handshake limit of the nodes in these tests: long enough for a loaded
/// machine, short enough for the idle-client test.
const HANDSHAKE_TIMEOUT_MS: u64 = 2_000;

async fn secure_node(dir: &Path, authority: &Authority, client_ca: Option<&Authority>) -> TestNode {
    let (cert_file, key_file) = install_server_certificate(dir, authority);
    let client_ca_file = client_ca.map(|ca| {
        let file = dir.join("clients-ca.pem");
        std::fs::write(&file, ca.pem()).unwrap();
        file
    });
    TestNode::start_with(|config| {
        config.plaintext_client_port_enabled = false;
        config.secure_client_listen = Some("127.0.0.1:0".parse().unwrap());
        config.tls_cert_file = Some(cert_file);
        config.tls_key_file = Some(key_file);
        config.tls_client_ca_file = client_ca_file;
        config.four_letter_words = vec!["*".to_string()];
        config.tls_handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS;
    })
    .await
}

#[tokio::test]
async fn a_zookeeper_session_and_a_four_letter_word_work_over_tls_only() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("herald test CA");
    let node = secure_node(dir.path(), &authority, None).await;
    let running = node.node.as_ref().unwrap();
    assert_eq!(running.plaintext_client_address(), None, "the plaintext port is off");
    assert_eq!(Some(running.client_address()), running.secure_client_address());

    let connector = connector(&authority, None);
    let session = session_over_tls(&node.address(), &connector).await.expect("TLS session");
    assert_ne!(session, 0);

    let tcp = TcpStream::connect(node.address()).await.unwrap();
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    tls.write_all(b"conf").await.unwrap();
    let mut answer = String::new();
    within("conf over TLS", tls.read_to_string(&mut answer)).await.unwrap();
    let port = node.address().rsplit(':').next().unwrap().to_string();
    assert!(answer.starts_with(&format!("clientPort=-1\nsecureClientPort={port}\n")), "{answer}");

    // Plaintext bytes to the TLS port are not a session.
    let mut plain = TcpStream::connect(node.address()).await.unwrap();
    assert!(within("plaintext to TLS", handshake(&mut plain)).await.is_err());
}

#[tokio::test]
async fn a_rewritten_certificate_is_served_to_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let first = Authority::new("first CA");
    let node = secure_node(dir.path(), &first, None).await;
    let trusts_first = connector(&first, None);
    session_over_tls(&node.address(), &trusts_first).await.expect("first certificate served");

    let second = Authority::new("second CA");
    install_server_certificate(dir.path(), &second);
    let trusts_second = connector(&second, None);
    session_over_tls(&node.address(), &trusts_second).await.expect("the new certificate is served");
    let refused = session_over_tls(&node.address(), &trusts_first).await;
    assert!(refused.is_err(), "the old certificate is no longer served");
}

#[tokio::test]
async fn mutual_tls_admits_only_clients_with_a_certificate_from_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let servers = Authority::new("server CA");
    let clients = Authority::new("client CA");
    let strangers = Authority::new("stranger CA");
    let node = secure_node(dir.path(), &servers, Some(&clients)).await;

    let anonymous = connector(&servers, None);
    assert!(session_over_tls(&node.address(), &anonymous).await.is_err());
    let stranger =
        connector(&servers, Some(issue_localhost(&strangers, ExtendedKeyUsagePurpose::ClientAuth)));
    assert!(session_over_tls(&node.address(), &stranger).await.is_err());
    let member =
        connector(&servers, Some(issue_localhost(&clients, ExtendedKeyUsagePurpose::ClientAuth)));
    let session = session_over_tls(&node.address(), &member).await.expect("a client the CA signed");
    assert_ne!(session, 0);
}

#[tokio::test]
async fn a_client_that_never_starts_its_handshake_is_dropped_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("CA");
    let node = secure_node(dir.path(), &authority, None).await;
    let started = std::time::Instant::now();
    let mut idle = TcpStream::connect(node.address()).await.unwrap();
    let mut byte = [0u8; 1];
    let read = within("the node drops an idle client", idle.read(&mut byte)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "closed, not answered: {read:?}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(HANDSHAKE_TIMEOUT_MS));
    // The port keeps serving real clients.
    session_over_tls(&node.address(), &connector(&authority, None)).await.expect("served");
}

#[tokio::test]
async fn a_node_with_a_bad_key_file_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new("CA");
    let (cert_file, key_file) = install_server_certificate(dir.path(), &authority);
    std::fs::write(&key_file, "garbage").unwrap();
    let mut config = server::ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.secure_client_listen = Some("127.0.0.1:0".parse().unwrap());
    config.tls_cert_file = Some(cert_file);
    config.tls_key_file = Some(key_file);
    let error = server::RunningServer::start(config).await.err().expect("start refused");
    assert!(error.to_string().contains("private key"), "{error}");
}
