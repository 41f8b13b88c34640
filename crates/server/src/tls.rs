//! TLS for the secure client port (ZooKeeper's `secureClientPort`).
//!
//! Certificates are read from PEM files and re-read without a restart: each
//! accepted connection checks the files' modification times and sizes, and a
//! change rebuilds the acceptor before the handshake. A change that fails to
//! load (a half-written file) keeps the previous certificate and logs why,
//! so a rotation never takes the port down. The peer port and the gateway
//! reuse the same reload rule ([`ReloadingTls`]) and PEM loading.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS needs {0}")]
    Missing(&'static str),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no usable {what}")]
    Pem { path: PathBuf, what: &'static str },
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client CA bundle rejected: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
}

/// The PEM files the secure port serves from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    pub fn from_config(config: &ServerConfig) -> Result<TlsFiles, TlsError> {
        Ok(TlsFiles {
            cert: config.tls_cert_file.clone().ok_or(TlsError::Missing("tls_cert_file"))?,
            key: config.tls_key_file.clone().ok_or(TlsError::Missing("tls_key_file"))?,
            client_ca: config.tls_client_ca_file.clone(),
        })
    }

    fn paths(&self) -> impl Iterator<Item = &Path> {
        [Some(self.cert.as_path()), Some(self.key.as_path()), self.client_ca.as_deref()]
            .into_iter()
            .flatten()
    }

    /// Modification time and size of each file: what "changed" means.
    fn fingerprint(&self) -> Vec<Option<(SystemTime, u64)>> {
        self.paths()
            .map(|path| {
                std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len())))
            })
            .collect()
    }
}

struct Loaded<T> {
    fingerprint: Vec<Option<(SystemTime, u64)>>,
    built: T,
}

/// Something built from PEM files (an acceptor, a connector pair) that is
/// rebuilt when the files change; the one reload rule for every TLS port.
pub struct ReloadingTls<T> {
    files: TlsFiles,
    build: fn(&TlsFiles) -> Result<T, TlsError>,
    loaded: Mutex<Loaded<T>>,
}

/// A TLS acceptor that follows its certificate files.
pub type ReloadingAcceptor = ReloadingTls<TlsAcceptor>;

impl ReloadingTls<TlsAcceptor> {
    /// Loads the files now: a node does not start with a broken certificate.
    pub fn load(files: TlsFiles) -> Result<ReloadingAcceptor, TlsError> {
        ReloadingTls::load_with(files, build_acceptor)
    }
}

impl<T: Clone> ReloadingTls<T> {
    /// Builds from the files now with `build`, which is used again on every change.
    pub fn load_with(
        files: TlsFiles,
        build: fn(&TlsFiles) -> Result<T, TlsError>,
    ) -> Result<ReloadingTls<T>, TlsError> {
        let fingerprint = files.fingerprint();
        let built = build(&files)?;
        Ok(ReloadingTls { files, build, loaded: Mutex::new(Loaded { fingerprint, built }) })
    }

    /// What the next handshake uses, rebuilt first if a file changed.
    pub fn current(&self) -> T {
        let mut loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fingerprint = self.files.fingerprint();
        if fingerprint != loaded.fingerprint {
            match (self.build)(&self.files) {
                Ok(built) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                    *loaded = Loaded { fingerprint, built };
                }
                Err(error) => {
                    // Remember the broken state so it is not retried on every
                    // accept; the next write to the files triggers a new try.
                    tracing::warn!(%error, "TLS files changed but do not load; keeping the previous certificate");
                    loaded.fingerprint = fingerprint;
                }
            }
        }
        loaded.built.clone()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

/// Every certificate in a PEM file; none is an error.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::Pem { path: path.to_path_buf(), what: "certificate" })?;
    if certificates.is_empty() {
        return Err(TlsError::Pem { path: path.to_path_buf(), what: "certificate" });
    }
    Ok(certificates)
}

/// The private key in a PEM file.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?)
        .map_err(|_| TlsError::Pem { path: path.to_path_buf(), what: "private key" })
}

/// The certificates of a CA bundle as trust anchors.
pub fn root_store(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate)?;
    }
    Ok(roots)
}

/// The crypto every Herald TLS endpoint uses (ring: no C toolchain needed).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration serving `files.cert`; with `files.client_ca`,
/// clients must present a certificate chaining to it.
pub fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let provider = crypto_provider();
    let chain = certificates(&files.cert)?;
    let key = private_key(&files.key)?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(ca)?), provider)
                    .build()?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(builder.with_single_cert(chain, key)?)
}

fn build_acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(files)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let certified = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        TlsFiles { cert, key, client_ca: None }
    }

    #[test]
    fn missing_files_and_garbage_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("absent.pem"),
            key: dir.path().join("key.pem"),
            client_ca: None,
        };
        assert!(matches!(ReloadingAcceptor::load(files), Err(TlsError::Read { .. })));
        let mut files = write_pair(dir.path(), "localhost");
        std::fs::write(&files.key, "not a key").unwrap();
        let error = ReloadingAcceptor::load(files.clone()).err().unwrap();
        assert!(error.to_string().contains("private key"), "{error}");
        files.cert = dir.path().join("key.pem");
        assert!(matches!(ReloadingAcceptor::load(files), Err(TlsError::Pem { .. })));
        let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path());
        assert!(matches!(TlsFiles::from_config(&config), Err(TlsError::Missing("tls_cert_file"))));
    }

    #[test]
    fn a_broken_rewrite_keeps_the_previous_acceptor() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "localhost");
        let acceptor = ReloadingAcceptor::load(files.clone()).unwrap();
        let before = Arc::as_ptr(acceptor.current().config());
        assert_eq!(before, Arc::as_ptr(acceptor.current().config()), "no change, no reload");
        std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
        assert_eq!(before, Arc::as_ptr(acceptor.current().config()));
        write_pair(dir.path(), "renamed.example");
        assert_ne!(before, Arc::as_ptr(acceptor.current().config()), "a good rewrite reloads");
    }
}
