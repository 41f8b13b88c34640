//! Mutual TLS for peer connections: one acceptor and one connector built
//! from the same files (each member is both a TLS server and a TLS client),
//! reloaded together when the files change.
//!
//! Both sides require a certificate chaining to the configured CA. The
//! dialer also checks that the acceptor's certificate names the host of the
//! peer address it dialled (a DNS name or IP SAN), as any TLS client does.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::config::PeerTlsFiles;
use crate::tls::{
    ReloadingTls, TlsError, TlsFiles, certificates, crypto_provider, private_key, root_store,
    server_config,
};

/// A byte stream to or from a peer, plain TCP or TLS over it.
pub trait PeerIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> PeerIo for T {}
pub type PeerStream = Box<dyn PeerIo>;

/// The two TLS roles of a member, from one certificate.
#[derive(Clone)]
pub struct PeerTlsConfigs {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

/// The peer TLS roles, following their files.
pub type ReloadingPeerTls = ReloadingTls<PeerTlsConfigs>;

/// Loads the files now: a member does not start with a broken certificate.
pub fn load(files: &PeerTlsFiles) -> Result<ReloadingPeerTls, TlsError> {
    let files = TlsFiles {
        cert: files.cert.clone(),
        key: files.key.clone(),
        client_ca: Some(files.ca.clone()),
    };
    ReloadingTls::load_with(files, build)
}

fn build(files: &TlsFiles) -> Result<PeerTlsConfigs, TlsError> {
    let ca = files.client_ca.as_ref().ok_or(TlsError::Missing("peer_tls_ca_file"))?;
    // With a client CA, the server side requires and verifies client certificates.
    let acceptor = TlsAcceptor::from(Arc::new(server_config(files)?));
    let client = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(ca)?)
        .with_client_auth_cert(certificates(&files.cert)?, private_key(&files.key)?)?;
    Ok(PeerTlsConfigs { acceptor, connector: TlsConnector::from(Arc::new(client)) })
}

/// The host part of a `host:port` peer address (brackets of an IPv6 literal removed).
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _port)| host);
    host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host)
}

/// Runs the TLS client handshake towards the peer at `address`.
pub async fn connect(
    tls: &ReloadingPeerTls,
    address: &str,
    stream: TcpStream,
) -> std::io::Result<PeerStream> {
    let name =
        rustls_pki_types::ServerName::try_from(host_of(address).to_owned()).map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("peer address {address:?} has no usable TLS server name: {error}"),
            )
        })?;
    let stream = tls.current().connector.connect(name, stream).await?;
    Ok(Box::new(stream))
}

/// Runs the TLS server handshake for an accepted peer connection.
pub async fn accept(tls: &ReloadingPeerTls, stream: TcpStream) -> std::io::Result<PeerStream> {
    let stream = tls.current().acceptor.accept(stream).await?;
    Ok(Box::new(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_strips_the_port_and_ipv6_brackets() {
        assert_eq!(host_of("herald-0.herald-peers:2888"), "herald-0.herald-peers");
        assert_eq!(host_of("127.0.0.1:2888"), "127.0.0.1");
        assert_eq!(host_of("[::1]:2888"), "::1");
        assert_eq!(host_of("no-port"), "no-port");
    }

    #[test]
    fn missing_files_fail_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let files = PeerTlsFiles {
            cert: dir.path().join("peer.pem"),
            key: dir.path().join("peer.key"),
            ca: dir.path().join("ca.pem"),
        };
        assert!(matches!(load(&files), Err(TlsError::Read { .. })));
    }
}
