//! The binary serves the REST API: `herald dev` beside its node, and `herald gateway` for
//! an existing ensemble. Both are started as child processes on ephemeral ports.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `herald ARGS` and returns it with the values of the stdout lines that start with
/// each of `prefixes` (in order).
fn start(args: &[&str], prefixes: &[&str]) -> (Running, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning herald");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut values = Vec::new();
    for prefix in prefixes {
        let value = loop {
            let line = lines.next().expect("herald printed its addresses").expect("stdout");
            if let Some(rest) = line.strip_prefix(prefix) {
                break rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
        };
        values.push(value);
    }
    std::thread::spawn(move || for _ in lines {});
    (Running(child), values)
}

/// A minimal HTTP/1.1 exchange; returns the status line and the body.
fn http(address: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).expect("connect to the REST API");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn dev_serves_the_rest_api_and_gateway_serves_it_for_an_ensemble() {
    let data_dir = tempfile::tempdir().unwrap();
    let (_dev, addresses) = start(
        &["dev", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir"]
            .iter()
            .copied()
            .chain([data_dir.path().to_str().unwrap()])
            .collect::<Vec<_>>(),
        &["herald dev: ZooKeeper protocol on ", "herald dev: REST API on http://"],
    );
    let (zookeeper, rest) = (&addresses[0], &addresses[1]);
    let (status, body) = http(rest, "POST", "/v1/znodes/from-dev", r#"{"data":"hi"}"#);
    assert!(status.contains("201"), "{status} {body}");

    let (_gateway, addresses) = start(
        &["gateway", "--ensemble", zookeeper, "--listen", "127.0.0.1:0"],
        &["herald gateway: REST API on http://"],
    );
    let (status, body) = http(&addresses[0], "GET", "/v1/znodes/from-dev", "");
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains(r#""data":"hi""#), "{body}");
}

/// A CA and a `localhost` server certificate from it, written under `dir`;
/// returns (cert, key) paths and the CA certificate.
fn write_gateway_certificate(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, rcgen::Certificate) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca_params, ca_key))
        .unwrap();
    let (cert_file, key_file) = (dir.join("gateway.pem"), dir.join("gateway.key"));
    std::fs::write(&cert_file, certificate.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file, ca)
}

#[test]
fn gateway_serves_https_from_its_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file, ca) = write_gateway_certificate(dir.path());
    let (_gateway, addresses) = start(
        &[
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert-file",
            cert_file.to_str().unwrap(),
            "--tls-key-file",
            key_file.to_str().unwrap(),
        ],
        &["herald gateway: REST API on https://"],
    );
    let address = &addresses[0];

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    // A peer closing without close_notify is an error here; the bytes read count.
    let _ = tls.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // Plain HTTP on the HTTPS port: the server may close before the write
    // or the read ends, so only what was read is judged.
    let mut plain = TcpStream::connect(address).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let _ = plain.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP got an HTTP answer: {answer:?}");
}

/// What a four-letter word returns.
fn four_letter(address: &str, word: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect to the client port");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    stream.write_all(word.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[test]
fn dev_runs_on_as_many_worker_threads_as_it_is_given() {
    let data = tempfile::tempdir().unwrap();
    for threads in ["1", "3"] {
        let (_dev, addresses) = start(
            &["--worker-threads", threads, "dev", "--listen", "127.0.0.1:0", "--http-listen"]
                .into_iter()
                .chain(["127.0.0.1:0", "--data-dir", data.path().to_str().unwrap()])
                .collect::<Vec<_>>(),
            &["herald dev: ZooKeeper protocol on ", "herald dev: REST API on http://"],
        );
        let environment = four_letter(&addresses[0], "envi");
        let line = format!("herald.worker_threads={threads}\n");
        assert!(environment.contains(&line), "{environment}");
    }
}
