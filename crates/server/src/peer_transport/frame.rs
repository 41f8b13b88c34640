//! Frames: a u32 big-endian payload length, then the `postcard` encoding of
//! one message. Postcard is compact, serde-driven and has a stable format.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of the length prefix.
pub const FRAME_LENGTH_BYTES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {length} bytes exceeds the limit of {max} bytes")]
    TooLarge { length: usize, max: usize },
    #[error("cannot encode message: {0}")]
    Encode(postcard::Error),
    #[error("cannot decode message: {0}")]
    Decode(postcard::Error),
    #[error("connection closed")]
    Closed,
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Replaces `frame` with the length-prefixed encoding of `message`, refusing
/// payloads above `frame_bytes_max` (the receiver would close on them).
pub fn encode_frame<M: Serialize>(
    message: &M,
    frame_bytes_max: usize,
    frame: &mut Vec<u8>,
) -> Result<(), FrameError> {
    frame.clear();
    frame.extend_from_slice(&[0; FRAME_LENGTH_BYTES]);
    let encoded =
        postcard::to_extend(message, std::mem::take(frame)).map_err(FrameError::Encode)?;
    *frame = encoded;
    let length = frame.len() - FRAME_LENGTH_BYTES;
    if length > frame_bytes_max {
        return Err(FrameError::TooLarge { length, max: frame_bytes_max });
    }
    let prefix =
        u32::try_from(length).map_err(|_| FrameError::TooLarge { length, max: frame_bytes_max })?;
    frame[..FRAME_LENGTH_BYTES].copy_from_slice(&prefix.to_be_bytes());
    Ok(())
}

/// Reads and decodes one frame. The length is checked before any payload is
/// buffered, so an oversized claim costs nothing. `payload` is reused
/// between calls. A clean close between frames is [`FrameError::Closed`].
pub async fn read_frame<M, R>(
    reader: &mut R,
    frame_bytes_max: usize,
    payload: &mut Vec<u8>,
) -> Result<M, FrameError>
where
    M: DeserializeOwned,
    R: AsyncRead + Unpin,
{
    let mut prefix = [0u8; FRAME_LENGTH_BYTES];
    match reader.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FrameError::Closed);
        }
        Err(error) => return Err(error.into()),
    }
    let length = u32::from_be_bytes(prefix) as usize;
    if length > frame_bytes_max {
        return Err(FrameError::TooLarge { length, max: frame_bytes_max });
    }
    payload.clear();
    payload.resize(length, 0);
    reader.read_exact(payload).await?;
    decode_payload(payload)
}

/// Decodes one payload; trailing bytes mean the sender and receiver disagree
/// on the message type, so they are an error rather than silently ignored.
fn decode_payload<M: DeserializeOwned>(payload: &[u8]) -> Result<M, FrameError> {
    let (message, rest) = postcard::take_from_bytes(payload).map_err(FrameError::Decode)?;
    if !rest.is_empty() {
        return Err(FrameError::Decode(postcard::Error::DeserializeBadEncoding));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Sample {
        Number(u64),
        Bytes(Vec<u8>),
    }

    #[tokio::test]
    async fn frame_round_trips() {
        let mut frame = Vec::new();
        encode_frame(&Sample::Bytes(vec![1, 2, 3]), 64, &mut frame).unwrap();
        let length = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(length, frame.len() - FRAME_LENGTH_BYTES);
        let mut payload = Vec::new();
        let decoded: Sample = read_frame(&mut frame.as_slice(), 64, &mut payload).await.unwrap();
        assert_eq!(decoded, Sample::Bytes(vec![1, 2, 3]));
    }

    #[test]
    fn encoding_at_the_limit_passes_and_above_fails() {
        let mut frame = Vec::new();
        encode_frame(&Sample::Bytes(vec![0; 10]), 64, &mut frame).unwrap();
        let length = frame.len() - FRAME_LENGTH_BYTES;
        encode_frame(&Sample::Bytes(vec![0; 10]), length, &mut frame).unwrap();
        let refused = encode_frame(&Sample::Bytes(vec![0; 10]), length - 1, &mut frame);
        assert!(matches!(refused, Err(FrameError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn oversized_length_is_refused_before_reading_the_payload() {
        let bytes = 65u32.to_be_bytes();
        let mut payload = Vec::new();
        let result: Result<Sample, _> = read_frame(&mut bytes.as_slice(), 64, &mut payload).await;
        assert!(matches!(result, Err(FrameError::TooLarge { length: 65, max: 64 })));
    }

    #[tokio::test]
    async fn garbage_payload_is_a_decode_error() {
        let bytes = [0, 0, 0, 1, 9];
        let mut payload = Vec::new();
        let result: Result<Sample, _> = read_frame(&mut bytes.as_slice(), 64, &mut payload).await;
        assert!(matches!(result, Err(FrameError::Decode(_))));
    }

    #[tokio::test]
    async fn trailing_bytes_are_a_decode_error() {
        let mut frame = Vec::new();
        encode_frame(&Sample::Number(5), 64, &mut frame).unwrap();
        frame.push(0);
        let length = (frame.len() - FRAME_LENGTH_BYTES) as u32;
        frame[..4].copy_from_slice(&length.to_be_bytes());
        let mut payload = Vec::new();
        let result: Result<Sample, _> = read_frame(&mut frame.as_slice(), 64, &mut payload).await;
        assert!(matches!(result, Err(FrameError::Decode(_))));
    }

    #[tokio::test]
    async fn close_between_frames_and_inside_a_frame_differ() {
        let mut payload = Vec::new();
        let empty: Result<Sample, _> = read_frame(&mut [].as_slice(), 64, &mut payload).await;
        assert!(matches!(empty, Err(FrameError::Closed)));
        let truncated = [0u8, 0, 0, 5, 1];
        let result: Result<Sample, _> =
            read_frame(&mut truncated.as_slice(), 64, &mut payload).await;
        assert!(matches!(result, Err(FrameError::Io(_))));
    }
}
