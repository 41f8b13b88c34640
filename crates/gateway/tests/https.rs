//! The gateway over HTTPS with certificates made here (rcgen): a TLS client
//! trusting the CA gets `/healthz`, a plaintext request on the TLS port gets
//! no HTTP answer and does not stop the server, and with a client CA a
//! client without a certificate is refused.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use server::tls::{ReloadingAcceptor, TlsFiles};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// How long any awaited step may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);
const HEALTH_REQUEST: &[u8] =
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

struct Authority {
    certificate: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new() -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "gateway test CA");
        let certificate = params.self_signed(&key).unwrap();
        Authority { certificate, issuer: Issuer::new(params, key) }
    }

    fn issue(&self, purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![purpose];
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (certificate.pem(), key.serialize_pem())
    }
}

/// Serves the gateway over TLS from files under `dir`; returns its address.
async fn start(dir: &Path, authority: &Authority, require_client_certificate: bool) -> String {
    let (certificate, key) = authority.issue(ExtendedKeyUsagePurpose::ServerAuth);
    let files = TlsFiles {
        cert: dir.join("gateway.pem"),
        key: dir.join("gateway.key"),
        client_ca: require_client_certificate.then(|| dir.join("ca.pem")),
    };
    std::fs::write(&files.cert, certificate).unwrap();
    std::fs::write(&files.key, key).unwrap();
    std::fs::write(dir.join("ca.pem"), authority.certificate.pem()).unwrap();
    let acceptor = ReloadingAcceptor::load(files).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // No ensemble is needed for /healthz.
    let state = gateway::AppState::new(gateway::GatewayConfig::new("127.0.0.1:1".to_string()));
    tokio::spawn(gateway::serve_tls(
        listener,
        state,
        move || acceptor.current(),
        std::future::pending(),
    ));
    address
}

fn connector(authority: &Authority, client: Option<(String, String)>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(authority.certificate.der().clone()).unwrap();
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

/// Sends the health request and reads until the server closes; an error
/// (a TLS alert, a reset) ends the read too and is returned.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> Result<String, String> {
    let io = async {
        stream.write_all(HEALTH_REQUEST).await?;
        stream.flush().await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(DEADLINE, io).await.expect("an answer or a close in time") {
        Ok(answer) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(error) => Err(error.to_string()),
    }
}

async fn https_health(address: &str, connector: &TlsConnector) -> Result<String, String> {
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let handshake = tokio::time::timeout(DEADLINE, connector.connect(name, tcp)).await.unwrap();
    let mut stream = handshake.map_err(|error| error.to_string())?;
    exchange(&mut stream).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_health_and_a_plaintext_request_gets_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new();
    let address = start(dir.path(), &authority, false).await;
    let client = connector(&authority, None);

    let answer = https_health(&address, &client).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");

    let mut plaintext = TcpStream::connect(&address).await.unwrap();
    if let Ok(answer) = exchange(&mut plaintext).await {
        assert!(!answer.contains("HTTP/1.1 200"), "plaintext got an HTTP answer: {answer}");
    }

    let after = https_health(&address, &client).await.unwrap();
    assert!(after.starts_with("HTTP/1.1 200"), "the loop survives a failed handshake: {after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_clients_with_a_certificate_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let authority = Authority::new();
    let address = start(dir.path(), &authority, true).await;

    let anonymous = https_health(&address, &connector(&authority, None)).await;
    assert!(
        !anonymous.as_deref().is_ok_and(|answer| answer.contains("HTTP/1.1 200")),
        "a client without a certificate was served: {anonymous:?}"
    );
    let identified =
        connector(&authority, Some(authority.issue(ExtendedKeyUsagePurpose::ClientAuth)));
    let answer = https_health(&address, &identified).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
