//! The handshake's wire format and its proof of the shared secret, kept free
//! of sockets so every accept/reject rule is unit-tested.
//!
//! ```text
//! acceptor → dialer  greeting: MAGIC(4) VERSION(1) nonce(32)
//! dialer → acceptor  hello:    MAGIC(4) VERSION(1) server_id(u64 BE) target_id(u64 BE)
//!                              mac_len(1) mac(mac_len)
//! acceptor → dialer  ACCEPTED(1), or the connection is closed
//! ```
//!
//! The acceptor speaks first with a fresh nonce so a recorded hello cannot be
//! replayed; the magic comes first in the hello so a stranger (a ZooKeeper
//! client on the wrong port, a port scanner) is closed after four bytes.
//!
//! The hello names the member the dialer meant to reach, and the acceptor
//! refuses a hello meant for another id. An address can come to belong to
//! another process while a dialer still uses it (a reused port, a reused
//! pod IP, stale DNS); without this check that process would take the
//! dialer for a live peer, and its newer connection would replace, and cut
//! off, the real member's connection with that id.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// First bytes of every greeting and hello: "HRLD".
pub const PEER_PROTOCOL_MAGIC: [u8; 4] = *b"HRLD";
/// Bumped whenever the handshake or frame layout changes incompatibly.
pub const PEER_PROTOCOL_VERSION: u8 = 2;
/// The acceptor's last handshake byte: the dialer may now send frames.
pub const PEER_HANDSHAKE_ACCEPTED: u8 = 1;
/// Bytes of random challenge in the greeting.
pub const NONCE_BYTES: usize = 32;
/// Bytes of an HMAC-SHA256 tag.
pub const MAC_BYTES: usize = 32;
/// Bytes of a greeting on the wire.
pub const GREETING_BYTES: usize = 4 + 1 + NONCE_BYTES;
/// Bytes of a hello before its MAC: magic, version, server id, target id,
/// MAC length.
pub const HELLO_HEAD_BYTES: usize = 4 + 1 + 8 + 8 + 1;

pub type Nonce = [u8; NONCE_BYTES];

/// Why a handshake failed; the connection is closed in every case.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("not a Herald peer (bad magic {0:02x?})")]
    WrongMagic([u8; 4]),
    #[error("unsupported peer protocol version {0} (this node speaks {PEER_PROTOCOL_VERSION})")]
    UnsupportedVersion(u8),
    #[error("server {0} is not a configured member")]
    UnknownPeer(u64),
    #[error("a peer claimed this node's own id {0}")]
    OwnId(u64),
    #[error("a hello meant for server {target} reached server {me}")]
    Misdirected { target: u64, me: u64 },
    #[error("MAC length {0} is neither 0 nor {MAC_BYTES}")]
    BadMacLength(u8),
    #[error("server {0} did not prove the shared secret")]
    MissingMac(u64),
    #[error("server {0} presented a wrong MAC")]
    WrongMac(u64),
    #[error("the peer refused the handshake")]
    Refused,
    #[error("handshake timed out")]
    TimedOut,
    #[error("handshake I/O: {0}")]
    Io(#[from] std::io::Error),
}

pub fn encode_greeting(nonce: &Nonce) -> [u8; GREETING_BYTES] {
    let mut greeting = [0u8; GREETING_BYTES];
    greeting[..4].copy_from_slice(&PEER_PROTOCOL_MAGIC);
    greeting[4] = PEER_PROTOCOL_VERSION;
    greeting[5..].copy_from_slice(nonce);
    greeting
}

/// The nonce of a greeting, if it comes from a Herald peer of this version.
pub fn decode_greeting(greeting: &[u8; GREETING_BYTES]) -> Result<Nonce, HandshakeError> {
    check_magic_and_version(&greeting[..5])?;
    let mut nonce = [0u8; NONCE_BYTES];
    nonce.copy_from_slice(&greeting[5..]);
    Ok(nonce)
}

/// The dialer's hello: its id, the id of the member it dialled and, with a
/// secret, the proof it knows it.
pub fn encode_hello(me: u64, target: u64, nonce: &Nonce, secret: Option<&str>) -> Vec<u8> {
    let mut hello = Vec::with_capacity(HELLO_HEAD_BYTES + MAC_BYTES);
    hello.extend_from_slice(&PEER_PROTOCOL_MAGIC);
    hello.push(PEER_PROTOCOL_VERSION);
    hello.extend_from_slice(&me.to_be_bytes());
    hello.extend_from_slice(&target.to_be_bytes());
    match secret {
        Some(secret) => {
            let tag = keyed_mac(secret, nonce, me, target).finalize().into_bytes();
            hello.push(MAC_BYTES as u8);
            hello.extend_from_slice(&tag);
        }
        None => hello.push(0),
    }
    hello
}

/// The parts of a hello's fixed head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloHead {
    pub server_id: u64,
    /// The member the dialer meant to reach.
    pub target_id: u64,
    pub mac_len: usize,
}

/// Parses a hello's head, refusing strangers before any more is read.
pub fn decode_hello_head(head: &[u8; HELLO_HEAD_BYTES]) -> Result<HelloHead, HandshakeError> {
    check_magic_and_version(&head[..5])?;
    let server_id = u64::from_be_bytes(head[5..13].try_into().expect("8 bytes"));
    let target_id = u64::from_be_bytes(head[13..21].try_into().expect("8 bytes"));
    let mac_len = head[21];
    if mac_len != 0 && usize::from(mac_len) != MAC_BYTES {
        return Err(HandshakeError::BadMacLength(mac_len));
    }
    Ok(HelloHead { server_id, target_id, mac_len: usize::from(mac_len) })
}

/// The acceptor's decision on a hello: only another configured member that
/// dialled this node (not whoever else used to be at its address) and
/// proves the secret (when one is set) gets in. Without a secret any MAC is
/// ignored. The MAC compare is constant-time.
pub fn verify_hello(
    me: u64,
    is_member: impl Fn(u64) -> bool,
    secret: Option<&str>,
    nonce: &Nonce,
    hello: HelloHead,
    mac: &[u8],
) -> Result<u64, HandshakeError> {
    let id = hello.server_id;
    if hello.target_id != me {
        return Err(HandshakeError::Misdirected { target: hello.target_id, me });
    }
    if id == me {
        return Err(HandshakeError::OwnId(id));
    }
    if !is_member(id) {
        return Err(HandshakeError::UnknownPeer(id));
    }
    if let Some(secret) = secret {
        if mac.is_empty() {
            return Err(HandshakeError::MissingMac(id));
        }
        keyed_mac(secret, nonce, id, hello.target_id)
            .verify_slice(mac)
            .map_err(|_| HandshakeError::WrongMac(id))?;
    }
    Ok(id)
}

fn check_magic_and_version(prefix: &[u8]) -> Result<(), HandshakeError> {
    let magic: [u8; 4] = prefix[..4].try_into().expect("4 bytes");
    if magic != PEER_PROTOCOL_MAGIC {
        return Err(HandshakeError::WrongMagic(magic));
    }
    if prefix[4] != PEER_PROTOCOL_VERSION {
        return Err(HandshakeError::UnsupportedVersion(prefix[4]));
    }
    Ok(())
}

/// HMAC-SHA256(secret, nonce || id || target, both big-endian): the target
/// is covered so a hello cannot be redirected to another member.
fn keyed_mac(secret: &str, nonce: &Nonce, id: u64, target: u64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(nonce);
    mac.update(&id.to_be_bytes());
    mac.update(&target.to_be_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: Nonce = [7u8; NONCE_BYTES];

    fn members(id: u64) -> bool {
        (1..=3).contains(&id)
    }

    fn split(hello: &[u8]) -> (HelloHead, &[u8]) {
        let head: [u8; HELLO_HEAD_BYTES] = hello[..HELLO_HEAD_BYTES].try_into().unwrap();
        let head = decode_hello_head(&head).unwrap();
        assert_eq!(hello.len(), HELLO_HEAD_BYTES + head.mac_len);
        (head, &hello[HELLO_HEAD_BYTES..])
    }

    #[test]
    fn greeting_round_trips() {
        assert_eq!(decode_greeting(&encode_greeting(&NONCE)).unwrap(), NONCE);
    }

    #[test]
    fn greeting_from_a_stranger_is_refused() {
        let mut greeting = encode_greeting(&NONCE);
        greeting[0] = b'X';
        assert!(matches!(decode_greeting(&greeting), Err(HandshakeError::WrongMagic(_))));
        // Both a newer node and one from before hellos named their target.
        for version in [PEER_PROTOCOL_VERSION + 1, 1] {
            let mut greeting = encode_greeting(&NONCE);
            greeting[4] = version;
            let verdict = decode_greeting(&greeting);
            assert!(matches!(verdict, Err(HandshakeError::UnsupportedVersion(v)) if v == version));
        }
    }

    #[test]
    fn right_secret_is_accepted() {
        let hello = encode_hello(2, 1, &NONCE, Some("secret"));
        let (head, mac) = split(&hello);
        assert_eq!(verify_hello(1, members, Some("secret"), &NONCE, head, mac).unwrap(), 2);
    }

    #[test]
    fn wrong_secret_is_refused() {
        let hello = encode_hello(2, 1, &NONCE, Some("guess"));
        let (head, mac) = split(&hello);
        let verdict = verify_hello(1, members, Some("secret"), &NONCE, head, mac);
        assert!(matches!(verdict, Err(HandshakeError::WrongMac(2))));
    }

    #[test]
    fn mac_over_another_nonce_is_refused() {
        let hello = encode_hello(2, 1, &[8u8; NONCE_BYTES], Some("secret"));
        let (head, mac) = split(&hello);
        let verdict = verify_hello(1, members, Some("secret"), &NONCE, head, mac);
        assert!(matches!(verdict, Err(HandshakeError::WrongMac(2))));
    }

    #[test]
    fn mac_for_another_id_is_refused() {
        let mut hello = encode_hello(2, 1, &NONCE, Some("secret"));
        hello[5..13].copy_from_slice(&3u64.to_be_bytes());
        let (head, mac) = split(&hello);
        let verdict = verify_hello(1, members, Some("secret"), &NONCE, head, mac);
        assert!(matches!(verdict, Err(HandshakeError::WrongMac(3))));
    }

    #[test]
    fn mac_for_another_target_is_refused() {
        let mut hello = encode_hello(2, 3, &NONCE, Some("secret"));
        hello[13..21].copy_from_slice(&1u64.to_be_bytes());
        let (head, mac) = split(&hello);
        let verdict = verify_hello(1, members, Some("secret"), &NONCE, head, mac);
        assert!(matches!(verdict, Err(HandshakeError::WrongMac(2))));
    }

    #[test]
    fn hello_meant_for_another_member_is_refused() {
        for secret in [None, Some("secret")] {
            let hello = encode_hello(2, 3, &NONCE, secret);
            let (head, mac) = split(&hello);
            assert_eq!(head.target_id, 3);
            let verdict = verify_hello(1, members, secret, &NONCE, head, mac);
            assert!(matches!(verdict, Err(HandshakeError::Misdirected { target: 3, me: 1 })));
        }
    }

    #[test]
    fn missing_mac_is_refused_when_a_secret_is_set() {
        let hello = encode_hello(2, 1, &NONCE, None);
        let (head, mac) = split(&hello);
        let verdict = verify_hello(1, members, Some("secret"), &NONCE, head, mac);
        assert!(matches!(verdict, Err(HandshakeError::MissingMac(2))));
    }

    #[test]
    fn without_a_secret_members_get_in() {
        let hello = encode_hello(3, 1, &NONCE, None);
        let (head, mac) = split(&hello);
        assert_eq!(verify_hello(1, members, None, &NONCE, head, mac).unwrap(), 3);
    }

    #[test]
    fn unknown_and_own_ids_are_refused() {
        let stranger = encode_hello(9, 1, &NONCE, None);
        let (head, mac) = split(&stranger);
        assert!(matches!(
            verify_hello(1, members, None, &NONCE, head, mac),
            Err(HandshakeError::UnknownPeer(9))
        ));
        let impostor = encode_hello(1, 1, &NONCE, None);
        let (head, mac) = split(&impostor);
        assert!(matches!(
            verify_hello(1, members, None, &NONCE, head, mac),
            Err(HandshakeError::OwnId(1))
        ));
    }

    #[test]
    fn odd_mac_length_is_refused() {
        let mut head: [u8; HELLO_HEAD_BYTES] =
            encode_hello(2, 1, &NONCE, None)[..HELLO_HEAD_BYTES].try_into().unwrap();
        head[21] = 31;
        assert!(matches!(decode_hello_head(&head), Err(HandshakeError::BadMacLength(31))));
    }

    #[test]
    fn hello_from_a_zookeeper_client_is_refused_by_its_magic() {
        // A ZooKeeper ConnectRequest starts with its big-endian length (44).
        let mut head = [0u8; HELLO_HEAD_BYTES];
        head[..4].copy_from_slice(&44u32.to_be_bytes());
        assert!(matches!(decode_hello_head(&head), Err(HandshakeError::WrongMagic(_))));
    }
}
