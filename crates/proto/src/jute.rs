//! Jute primitives: the encoding every ZooKeeper record is built from.
//!
//! Jute (ZooKeeper's own serialization, `zookeeper-jute`) writes big-endian
//! fixed-width integers, booleans as one byte, and length-prefixed buffers,
//! strings and vectors where a length of -1 means "null". Decoding never
//! panics: every read checks the remaining input and every length is checked
//! against what is actually left, so a hostile length cannot make us allocate.

use thiserror::Error;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    /// A length prefix was negative (other than the null marker) or larger than the input.
    #[error("invalid length {length} at offset {offset}")]
    InvalidLength { offset: usize, length: i32 },
    /// A string was not valid UTF-8.
    #[error("string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    /// A field held a value outside its domain (an unknown opcode, create mode, ...).
    #[error("invalid value for {field}: {value}")]
    InvalidValue { field: &'static str, value: i64 },
    /// Bytes were left over after a record that must fill its frame exactly.
    #[error("{remaining} trailing bytes after record")]
    TrailingBytes { remaining: usize },
}

/// Reads jute primitives from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Reader { input, offset: 0 }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.offset
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            remaining => Err(DecodeError::TrailingBytes { remaining }),
        }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < count {
            return Err(DecodeError::Truncated {
                offset: self.offset,
                needed: count - self.remaining(),
            });
        }
        let bytes = &self.input[self.offset..self.offset + count];
        self.offset += count;
        Ok(bytes)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes(bytes.try_into().expect("took 4 bytes")))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        let bytes = self.take(8)?;
        Ok(i64::from_be_bytes(bytes.try_into().expect("took 8 bytes")))
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1)?[0] != 0)
    }

    /// Reads a length prefix; `None` is jute's null (-1). The length is
    /// checked against `min_element_bytes * length <= remaining` so a forged
    /// count cannot trigger a huge allocation.
    fn read_length(&mut self, min_element_bytes: usize) -> Result<Option<usize>, DecodeError> {
        let offset = self.offset;
        let length = self.read_i32()?;
        if length == -1 {
            return Ok(None);
        }
        if length < 0 || (length as usize).saturating_mul(min_element_bytes) > self.remaining() {
            return Err(DecodeError::InvalidLength { offset, length });
        }
        Ok(Some(length as usize))
    }

    /// A jute `buffer`; null decodes as `None`.
    pub fn read_optional_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        match self.read_length(1)? {
            None => Ok(None),
            Some(length) => Ok(Some(self.take(length)?.to_vec())),
        }
    }

    /// A jute `buffer`; null decodes as empty (ZooKeeper treats them alike for data).
    pub fn read_buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        Ok(self.read_optional_buffer()?.unwrap_or_default())
    }

    /// A jute `ustring`; null decodes as `None`.
    pub fn read_optional_string(&mut self) -> Result<Option<String>, DecodeError> {
        let offset = self.offset;
        match self.read_length(1)? {
            None => Ok(None),
            Some(length) => {
                let bytes = self.take(length)?;
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset })
            }
        }
    }

    /// A jute `ustring`; null decodes as the empty string.
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_optional_string()?.unwrap_or_default())
    }

    /// A jute `vector`; null decodes as empty. `min_element_bytes` is the
    /// smallest encoding of one element (4 for a string: its length prefix).
    pub fn read_vec<T>(
        &mut self,
        min_element_bytes: usize,
        mut read_element: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.read_length(min_element_bytes.max(1))?.unwrap_or(0);
        let mut elements = Vec::with_capacity(count);
        for _ in 0..count {
            elements.push(read_element(self)?);
        }
        Ok(elements)
    }

    /// A vector of records.
    pub fn read_records<T: Record>(&mut self) -> Result<Vec<T>, DecodeError> {
        self.read_vec(T::MIN_ENCODED_BYTES, T::decode)
    }

    /// A vector of strings.
    pub fn read_strings(&mut self) -> Result<Vec<String>, DecodeError> {
        self.read_vec(4, Self::read_string)
    }
}

/// Writes jute primitives into a growable buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buffer: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Writer { buffer: Vec::with_capacity(capacity) }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buffer
    }

    /// What was written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer
    }

    /// Forgets what was written, keeping the buffer's capacity (for writing in pieces).
    pub fn clear(&mut self) {
        self.buffer.clear();
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    pub fn write_i32(&mut self, value: i32) {
        self.buffer.extend_from_slice(&value.to_be_bytes());
    }

    pub fn write_i64(&mut self, value: i64) {
        self.buffer.extend_from_slice(&value.to_be_bytes());
    }

    pub fn write_bool(&mut self, value: bool) {
        self.buffer.push(value as u8);
    }

    pub fn write_buffer(&mut self, value: &[u8]) {
        self.write_i32(value.len() as i32);
        self.buffer.extend_from_slice(value);
    }

    pub fn write_optional_buffer(&mut self, value: Option<&[u8]>) {
        match value {
            None => self.write_i32(-1),
            Some(bytes) => self.write_buffer(bytes),
        }
    }

    pub fn write_string(&mut self, value: &str) {
        self.write_buffer(value.as_bytes());
    }

    pub fn write_optional_string(&mut self, value: Option<&str>) {
        self.write_optional_buffer(value.map(str::as_bytes));
    }

    pub fn write_vec<T>(&mut self, elements: &[T], mut write_element: impl FnMut(&mut Self, &T)) {
        self.write_i32(elements.len() as i32);
        for element in elements {
            write_element(self, element);
        }
    }

    pub fn write_records<T: Record>(&mut self, elements: &[T]) {
        self.write_vec(elements, |writer, element| element.encode(writer));
    }

    pub fn write_strings(&mut self, elements: &[String]) {
        self.write_vec(elements, |writer, element| writer.write_string(element));
    }
}

/// A jute record: a fixed sequence of fields.
pub trait Record: Sized {
    /// The fewest bytes one encoded record can take; bounds vector counts on decode.
    const MIN_ENCODED_BYTES: usize;

    fn encode(&self, writer: &mut Writer);

    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Encodes into a fresh byte vector.
    fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        writer.into_bytes()
    }

    /// Decodes a record that must fill `bytes` exactly.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let record = Self::decode(&mut reader)?;
        reader.finish()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_big_endian_and_length_prefixed() {
        let mut writer = Writer::new();
        writer.write_i32(0x0102_0304);
        writer.write_i64(-2);
        writer.write_bool(true);
        writer.write_string("ab");
        writer.write_optional_buffer(None);
        assert_eq!(
            writer.into_bytes(),
            vec![
                1, 2, 3, 4, //
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, //
                1,    //
                0, 0, 0, 2, b'a', b'b', //
                0xff, 0xff, 0xff, 0xff,
            ]
        );
    }

    #[test]
    fn forged_vector_count_is_rejected_without_allocating() {
        let bytes = i32::MAX.to_be_bytes();
        let error = Reader::new(&bytes).read_strings().unwrap_err();
        assert_eq!(error, DecodeError::InvalidLength { offset: 0, length: i32::MAX });
    }

    #[test]
    fn truncated_string_is_an_error() {
        let bytes = [0, 0, 0, 5, b'a'];
        let error = Reader::new(&bytes).read_string().unwrap_err();
        assert_eq!(error, DecodeError::InvalidLength { offset: 0, length: 5 });
    }

    #[test]
    fn null_buffer_reads_as_none_and_empty() {
        let bytes = (-1i32).to_be_bytes();
        assert_eq!(Reader::new(&bytes).read_optional_buffer().unwrap(), None);
        assert_eq!(Reader::new(&bytes).read_buffer().unwrap(), Vec::<u8>::new());
    }
}
