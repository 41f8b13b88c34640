//! Frames: a 4-byte big-endian length, then that many bytes.
//!
//! Decoding is check-then-parse: an incomplete frame is a normal outcome
//! (`Ok(None)`), the length is checked against the bound before anything is
//! buffered for it, and a complete frame is split off without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::codes::xid;
use crate::jute::{Record, Writer};
use crate::records::{ReplyHeader, WatcherEvent};
use crate::response::Response;

/// The largest frame body accepted by default: ZooKeeper's `jute.maxbuffer`
/// default (0xfffff bytes) rounded to 1 MiB, the figure its documentation gives.
pub const PACKET_BYTES_MAX_DEFAULT: usize = 1024 * 1024;

/// Bytes of the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {length} bytes exceeds the limit of {max} bytes")]
    TooLarge { length: usize, max: usize },
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// Splits one complete frame body off the front of `buffer`.
pub fn decode_frame(buffer: &mut BytesMut, max_bytes: usize) -> Result<Option<Bytes>, FrameError> {
    if buffer.len() < LENGTH_PREFIX_BYTES {
        return Ok(None);
    }
    let length = i32::from_be_bytes(buffer[..LENGTH_PREFIX_BYTES].try_into().expect("4 bytes"));
    if length < 0 {
        return Err(FrameError::NegativeLength(length));
    }
    let length = length as usize;
    if length > max_bytes {
        return Err(FrameError::TooLarge { length, max: max_bytes });
    }
    if buffer.len() < LENGTH_PREFIX_BYTES + length {
        buffer.reserve(LENGTH_PREFIX_BYTES + length - buffer.len());
        return Ok(None);
    }
    buffer.advance(LENGTH_PREFIX_BYTES);
    Ok(Some(buffer.split_to(length).freeze()))
}

/// Appends `body` as one frame.
pub fn encode_frame(body: &[u8], out: &mut BytesMut) {
    out.reserve(LENGTH_PREFIX_BYTES + body.len());
    out.put_i32(body.len() as i32);
    out.put_slice(body);
}

/// Appends a reply frame: header, then the body when there is one.
pub fn encode_reply(out: &mut BytesMut, header: &ReplyHeader, body: Option<&Response>) {
    let mut writer = Writer::new();
    header.encode(&mut writer);
    if let Some(body) = body {
        body.encode(&mut writer);
    }
    encode_frame(&writer.into_bytes(), out);
}

/// Appends a watch notification frame (xid -1, zxid -1, err 0, as ZooKeeper sends them).
pub fn encode_notification(out: &mut BytesMut, event: &WatcherEvent) {
    let mut writer = Writer::new();
    ReplyHeader { xid: xid::NOTIFICATION, zxid: -1, err: 0 }.encode(&mut writer);
    event.encode(&mut writer);
    encode_frame(&writer.into_bytes(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(length: i32, body: &[u8]) -> BytesMut {
        let mut buffer = BytesMut::new();
        buffer.put_i32(length);
        buffer.put_slice(body);
        buffer
    }

    #[test]
    fn a_frame_of_exactly_the_limit_is_accepted() {
        let body = vec![7u8; 64];
        let mut buffer = framed(64, &body);
        assert_eq!(decode_frame(&mut buffer, 64).unwrap().unwrap(), Bytes::from(body));
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_frame_one_byte_over_the_limit_is_refused_before_its_body_arrives() {
        let mut buffer = framed(65, &[]);
        assert_eq!(
            decode_frame(&mut buffer, 64),
            Err(FrameError::TooLarge { length: 65, max: 64 })
        );
        let mut default = framed(PACKET_BYTES_MAX_DEFAULT as i32 + 1, &[]);
        assert!(decode_frame(&mut default, PACKET_BYTES_MAX_DEFAULT).is_err());
    }

    #[test]
    fn incomplete_prefix_and_body_wait_for_more() {
        let mut prefix = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(decode_frame(&mut prefix, 64), Ok(None));
        let mut partial = framed(10, &[1, 2, 3]);
        assert_eq!(decode_frame(&mut partial, 64), Ok(None));
        partial.put_slice(&[4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            &decode_frame(&mut partial, 64).unwrap().unwrap()[..],
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
    }

    #[test]
    fn negative_length_is_an_error() {
        let mut buffer = framed(-5, &[]);
        assert_eq!(decode_frame(&mut buffer, 64), Err(FrameError::NegativeLength(-5)));
    }

    #[test]
    fn two_frames_in_one_buffer_come_out_one_at_a_time() {
        let mut buffer = BytesMut::new();
        encode_frame(b"ab", &mut buffer);
        encode_frame(b"c", &mut buffer);
        assert_eq!(&decode_frame(&mut buffer, 64).unwrap().unwrap()[..], b"ab");
        assert_eq!(&decode_frame(&mut buffer, 64).unwrap().unwrap()[..], b"c");
        assert_eq!(decode_frame(&mut buffer, 64), Ok(None));
    }
}
