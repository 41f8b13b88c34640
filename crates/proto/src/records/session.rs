//! Handshake, headers, auth and identity records.

use crate::jute::{DecodeError, Reader, Record, Writer};
use crate::record;

/// The first frame a client sends. `read_only` is `None` when the client
/// omitted the trailing byte (clients older than 3.4 and some libraries do).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    const MIN_ENCODED_BYTES: usize = 28;

    fn encode(&self, writer: &mut Writer) {
        writer.write_i32(self.protocol_version);
        writer.write_i64(self.last_zxid_seen);
        writer.write_i32(self.timeout);
        writer.write_i64(self.session_id);
        writer.write_buffer(&self.passwd);
        if let Some(read_only) = self.read_only {
            writer.write_bool(read_only);
        }
    }

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: reader.read_i32()?,
            last_zxid_seen: reader.read_i64()?,
            timeout: reader.read_i32()?,
            session_id: reader.read_i64()?,
            passwd: reader.read_buffer()?,
            read_only: if reader.is_empty() { None } else { Some(reader.read_bool()?) },
        })
    }
}

record! {
    /// The server's answer to [`ConnectRequest`]; a timeout of 0 means the
    /// session could not be resumed (expired or wrong password).
    pub struct ConnectResponse {
        pub protocol_version: i32,
        pub timeout: i32,
        pub session_id: i64,
        pub passwd: Vec<u8>,
        pub read_only: bool,
    }

    /// Precedes every request body after the handshake.
    pub struct RequestHeader {
        pub xid: i32,
        pub op_type: i32,
    }

    /// Precedes every reply body; a body follows only when `err` is 0.
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        pub err: i32,
    }

    /// `addauth`: credentials for a scheme (`digest` takes `user:password`).
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: String,
        pub auth: Vec<u8>,
    }

    /// One identity in a whoAmI reply.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }

    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }

    pub struct ErrorResponse {
        pub err: i32,
    }
}
