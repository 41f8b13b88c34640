//! The on-disk format of one log segment, and nothing else: encoding a
//! record, and parsing a segment's bytes back into records while telling a
//! torn tail apart from a good prefix.
//!
//! A segment is `MAGIC` followed by records, each
//! `[len: u32 BE][crc32c: u32 BE over (zxid BE ++ payload)][zxid: i64 BE][payload; len]`.
//! The checksum covers the zxid so a record whose header survived but whose
//! zxid was torn is still caught.
//!
//! A segment may end in zero bytes that hold no record: space the log
//! preallocated so an fdatasync has no file size to update. An all-zero
//! header can never be a record (its checksum would have to be zero, and the
//! checksum of a zero zxid and an empty payload is not), so zeros to the end
//! of the file are read as free space, not as damage.

use std::ops::Range;

/// First bytes of every segment; guards against opening some other file.
pub(crate) const MAGIC: &[u8; 8] = b"HRLDLOG1";
/// Bytes in front of a record's payload: len, crc, zxid.
pub(crate) const RECORD_HEADER_BYTES: usize = 16;
/// Largest payload a record may carry. Also bounds what a reader trusts a
/// length field to say, so a garbage length never turns into an allocation.
pub const RECORD_BYTES_MAX: usize = 64 * 1024 * 1024;

const FILE_PREFIX: &str = "log.";

/// File name of the segment whose first record has `first_zxid`. Hex, fixed
/// width, so a directory listing is readable in zxid order.
pub(crate) fn file_name(first_zxid: i64) -> String {
    format!("{FILE_PREFIX}{:016x}", first_zxid as u64)
}

/// Inverse of [`file_name`]; `None` for files that are not segments.
pub(crate) fn parse_file_name(name: &str) -> Option<i64> {
    let hex = name.strip_prefix(FILE_PREFIX)?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(|n| n as i64)
}

fn checksum(zxid: i64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&zxid.to_be_bytes()), payload)
}

/// Appends the encoding of one record to `out`. The caller has checked the
/// payload against [`RECORD_BYTES_MAX`], so the length fits in a u32.
pub(crate) fn encode_record(out: &mut Vec<u8>, zxid: i64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&checksum(zxid, payload).to_be_bytes());
    out.extend_from_slice(&zxid.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Encoded size of a record with a payload of `payload_len` bytes.
pub(crate) fn record_bytes(payload_len: usize) -> u64 {
    (RECORD_HEADER_BYTES + payload_len) as u64
}

/// One well-formed record found by [`parse`].
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) zxid: i64,
    /// Where the payload lies in the parsed bytes.
    pub(crate) payload: Range<usize>,
    /// Offset just past this record: where a truncation keeping it would cut.
    pub(crate) end: usize,
}

/// What a segment's bytes hold: the good records, and, if parsing stopped
/// before the end, why.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) records: Vec<Record>,
    /// Length of the well-formed prefix (header plus whole good records).
    pub(crate) valid_len: usize,
    /// Why the bytes after `valid_len` were rejected; `None` if there are
    /// none, or if they are all zero (preallocated space).
    pub(crate) problem: Option<String>,
}

/// Parses a segment. Never fails on a malformed record: it stops there and
/// reports the problem, because only the caller knows whether this is the
/// last segment (torn tail, recoverable) or an earlier one (corruption).
/// A full header that is not [`MAGIC`] is an error: that is no torn write.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    if bytes.len() < MAGIC.len() {
        return Ok(Parsed {
            records: Vec::new(),
            valid_len: 0,
            problem: Some(format!("short file header of {} bytes", bytes.len())),
        });
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err("bad segment magic".to_string());
    }
    let mut records = Vec::new();
    let mut pos = MAGIC.len();
    let problem = loop {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            break None;
        }
        if rest.iter().take(RECORD_HEADER_BYTES).all(|&byte| byte == 0) {
            // No record starts with a zero header: from here on it is free space.
            break match rest.iter().all(|&byte| byte == 0) {
                true => None,
                false => Some("non-zero bytes in the free space after the records".to_string()),
            };
        }
        let Some((header, body)) = rest.split_first_chunk::<RECORD_HEADER_BYTES>() else {
            break Some(format!("short record header of {} bytes", rest.len()));
        };
        let [l0, l1, l2, l3, c0, c1, c2, c3, zxid @ ..] = *header;
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        let crc = u32::from_be_bytes([c0, c1, c2, c3]);
        let zxid = i64::from_be_bytes(zxid);
        if len > RECORD_BYTES_MAX {
            break Some(format!("length field {len} exceeds the record limit"));
        }
        if len > body.len() {
            break Some(format!("record of {len} bytes runs past the end of the file"));
        }
        if checksum(zxid, &body[..len]) != crc {
            break Some(format!("checksum mismatch in record for zxid {zxid:#x}"));
        }
        let start = pos + RECORD_HEADER_BYTES;
        pos = start + len;
        records.push(Record { zxid, payload: start..pos, end: pos });
    };
    Ok(Parsed { records, valid_len: pos, problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_sort_numerically_for_non_negative_zxids() {
        for zxid in [0, 1, 0xabc, i64::MAX, -1] {
            assert_eq!(parse_file_name(&file_name(zxid)), Some(zxid));
        }
        assert!(file_name(0x10) > file_name(0xf));
        assert_eq!(parse_file_name("log.123"), None);
        assert_eq!(parse_file_name("snap.0000000000000001"), None);
    }

    #[test]
    fn parse_reads_back_encoded_records() {
        let mut bytes = MAGIC.to_vec();
        encode_record(&mut bytes, 7, b"seven");
        encode_record(&mut bytes, 9, b"");
        let parsed = parse(&bytes).expect("well-formed");
        assert!(parsed.problem.is_none());
        assert_eq!(parsed.valid_len, bytes.len());
        let got: Vec<_> =
            parsed.records.iter().map(|r| (r.zxid, bytes[r.payload.clone()].to_vec())).collect();
        assert_eq!(got, vec![(7, b"seven".to_vec()), (9, Vec::new())]);
    }

    #[test]
    fn an_all_zero_header_is_never_a_valid_record() {
        assert_ne!(checksum(0, &[]), 0);
    }

    #[test]
    fn zeros_after_the_records_are_free_space_but_zeros_inside_a_record_are_damage() {
        let mut bytes = MAGIC.to_vec();
        encode_record(&mut bytes, 7, b"seven");
        let good = bytes.len();
        bytes.resize(good + 4096, 0);
        let parsed = parse(&bytes).expect("well-formed");
        assert_eq!((parsed.records.len(), parsed.valid_len), (1, good));
        assert!(parsed.problem.is_none(), "{:?}", parsed.problem);

        // A record torn after its length field: zeros follow, but the
        // header is not all zero, so this is a torn tail.
        let mut torn = bytes[..good].to_vec();
        torn.extend_from_slice(&9u32.to_be_bytes());
        torn.resize(good + 4096, 0);
        let parsed = parse(&torn).expect("parses");
        assert_eq!((parsed.records.len(), parsed.valid_len), (1, good));
        assert!(parsed.problem.is_some());
    }

    #[test]
    fn parse_rejects_foreign_magic() {
        assert!(parse(b"NOTALOG!").is_err());
    }
}
