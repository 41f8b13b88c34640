//! `Field`: how one record field of a given Rust type is read and written,
//! so records can be declared as a list of fields (see [`crate::record!`]).

use crate::jute::{DecodeError, Reader, Record, Writer};
use crate::types::{Acl, Id, Stat};

pub trait Field: Sized {
    /// The fewest bytes this field can encode to.
    const MIN_BYTES: usize;
    fn write(&self, writer: &mut Writer);
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

impl Field for i32 {
    const MIN_BYTES: usize = 4;
    fn write(&self, writer: &mut Writer) {
        writer.write_i32(*self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_i32()
    }
}

impl Field for i64 {
    const MIN_BYTES: usize = 8;
    fn write(&self, writer: &mut Writer) {
        writer.write_i64(*self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_i64()
    }
}

impl Field for bool {
    const MIN_BYTES: usize = 1;
    fn write(&self, writer: &mut Writer) {
        writer.write_bool(*self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_bool()
    }
}

impl Field for String {
    const MIN_BYTES: usize = 4;
    fn write(&self, writer: &mut Writer) {
        writer.write_string(self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_string()
    }
}

impl Field for Vec<u8> {
    const MIN_BYTES: usize = 4;
    fn write(&self, writer: &mut Writer) {
        writer.write_buffer(self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_buffer()
    }
}

impl Field for Vec<String> {
    const MIN_BYTES: usize = 4;
    fn write(&self, writer: &mut Writer) {
        writer.write_strings(self)
    }
    fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        reader.read_strings()
    }
}

/// Records nested as fields, and vectors of them.
macro_rules! record_fields {
    ($($record:ty),*) => {$(
        impl Field for $record {
            const MIN_BYTES: usize = <$record as Record>::MIN_ENCODED_BYTES;
            fn write(&self, writer: &mut Writer) {
                self.encode(writer)
            }
            fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                <$record as Record>::decode(reader)
            }
        }

        impl Field for Vec<$record> {
            const MIN_BYTES: usize = 4;
            fn write(&self, writer: &mut Writer) {
                writer.write_records(self)
            }
            fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
                reader.read_records()
            }
        }
    )*};
}

record_fields!(Acl, Id, Stat, crate::records::ClientInfo);

/// Declares jute records: a struct per record whose fields are encoded in
/// declaration order.
#[macro_export]
macro_rules! record {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident : $type:ty,)* }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name { $($(#[$field_meta])* pub $field: $type,)* }

        impl $crate::jute::Record for $name {
            const MIN_ENCODED_BYTES: usize = 0 $(+ <$type as $crate::field::Field>::MIN_BYTES)*;

            #[allow(unused_variables)]
            fn encode(&self, writer: &mut $crate::jute::Writer) {
                $($crate::field::Field::write(&self.$field, writer);)*
            }

            #[allow(unused_variables)]
            fn decode(reader: &mut $crate::jute::Reader<'_>) -> Result<Self, $crate::jute::DecodeError> {
                Ok($name { $($field: <$type as $crate::field::Field>::read(reader)?,)* })
            }
        }
    )*};
}
