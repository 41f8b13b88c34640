//! Reply bodies, one variant per kind of reply.

use crate::codes::OpCode;
use crate::jute::{DecodeError, Reader, Record, Writer};
use crate::records::{ClientInfo, ErrorResponse, MultiHeader};
use crate::types::{Acl, Stat};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// delete, check, ping, setWatches, auth, closeSession, addWatch, removeWatches, checkWatches.
    Empty,
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Exists {
        stat: Stat,
    },
    GetData {
        data: Vec<u8>,
        stat: Stat,
    },
    SetData {
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    /// A multi's per-op results. A failed multi is still a successful reply
    /// (header err 0) whose results are all `Error`: 0 before the failing op,
    /// its code, then RuntimeInconsistency (ZooKeeper's FinalRequestProcessor).
    Multi(Vec<MultiResult>),
    MultiRead(Vec<MultiReadResult>),
    GetEphemerals {
        ephemerals: Vec<String>,
    },
    GetAllChildrenNumber {
        total_number: i32,
    },
    WhoAmI {
        client_info: Vec<ClientInfo>,
    },
}

/// One result of a multi, as ZooKeeper's `MultiResponse` encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    /// An error code (0 for an op rolled back because a later one failed).
    Error(i32),
}

/// One result of a multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiReadResult {
    GetChildren { children: Vec<String> },
    GetData { data: Vec<u8>, stat: Stat },
    Error(i32),
}

impl Response {
    pub fn encode(&self, writer: &mut Writer) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => writer.write_string(path),
            Response::Create2 { path, stat } => {
                writer.write_string(path);
                stat.encode(writer);
            }
            Response::Exists { stat } | Response::SetData { stat } | Response::SetAcl { stat } => {
                stat.encode(writer)
            }
            Response::GetData { data, stat } => {
                writer.write_buffer(data);
                stat.encode(writer);
            }
            Response::GetAcl { acl, stat } => {
                writer.write_records(acl);
                stat.encode(writer);
            }
            Response::GetChildren { children } => writer.write_strings(children),
            Response::GetChildren2 { children, stat } => {
                writer.write_strings(children);
                stat.encode(writer);
            }
            Response::Multi(results) => {
                for result in results {
                    result.encode(writer);
                }
                write_multi_end(writer);
            }
            Response::MultiRead(results) => {
                for result in results {
                    result.encode(writer);
                }
                write_multi_end(writer);
            }
            Response::GetEphemerals { ephemerals } => writer.write_strings(ephemerals),
            Response::GetAllChildrenNumber { total_number } => writer.write_i32(*total_number),
            Response::WhoAmI { client_info } => writer.write_records(client_info),
        }
    }

    /// Decodes the body of a successful reply to a request with `op_code`.
    pub fn decode(op_code: OpCode, reader: &mut Reader<'_>) -> Result<Response, DecodeError> {
        Ok(match op_code {
            OpCode::Create => Response::Create { path: reader.read_string()? },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2 { path: reader.read_string()?, stat: Stat::decode(reader)? }
            }
            OpCode::Exists => Response::Exists { stat: Stat::decode(reader)? },
            OpCode::GetData => {
                Response::GetData { data: reader.read_buffer()?, stat: Stat::decode(reader)? }
            }
            OpCode::SetData => Response::SetData { stat: Stat::decode(reader)? },
            OpCode::GetAcl => {
                Response::GetAcl { acl: reader.read_records()?, stat: Stat::decode(reader)? }
            }
            OpCode::SetAcl => Response::SetAcl { stat: Stat::decode(reader)? },
            OpCode::GetChildren => Response::GetChildren { children: reader.read_strings()? },
            OpCode::GetChildren2 => Response::GetChildren2 {
                children: reader.read_strings()?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Sync => Response::Sync { path: reader.read_string()? },
            OpCode::Multi => Response::Multi(decode_results(reader, MultiResult::decode)?),
            OpCode::MultiRead => {
                Response::MultiRead(decode_results(reader, MultiReadResult::decode)?)
            }
            OpCode::GetEphemerals => Response::GetEphemerals { ephemerals: reader.read_strings()? },
            OpCode::GetAllChildrenNumber => {
                Response::GetAllChildrenNumber { total_number: reader.read_i32()? }
            }
            OpCode::WhoAmI => Response::WhoAmI { client_info: reader.read_records()? },
            _ => Response::Empty,
        })
    }
}

impl MultiResult {
    fn encode(&self, writer: &mut Writer) {
        let (op_type, err) = match self {
            MultiResult::Create { .. } => (OpCode::Create.code(), 0),
            MultiResult::Create2 { .. } => (OpCode::Create2.code(), 0),
            MultiResult::Delete => (OpCode::Delete.code(), 0),
            MultiResult::SetData { .. } => (OpCode::SetData.code(), 0),
            MultiResult::Check => (OpCode::Check.code(), 0),
            MultiResult::Error(err) => (OpCode::Error.code(), *err),
        };
        MultiHeader { op_type, done: false, err }.encode(writer);
        match self {
            MultiResult::Create { path } => writer.write_string(path),
            MultiResult::Create2 { path, stat } => {
                writer.write_string(path);
                stat.encode(writer);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.encode(writer),
            MultiResult::Error(err) => ErrorResponse { err: *err }.encode(writer),
        }
    }

    fn decode(op_code: OpCode, reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match op_code {
            OpCode::Create => MultiResult::Create { path: reader.read_string()? },
            OpCode::Create2 => {
                MultiResult::Create2 { path: reader.read_string()?, stat: Stat::decode(reader)? }
            }
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData { stat: Stat::decode(reader)? },
            OpCode::Check => MultiResult::Check,
            OpCode::Error => MultiResult::Error(ErrorResponse::decode(reader)?.err),
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "multi result type",
                    value: other.code() as i64,
                });
            }
        })
    }
}

impl MultiReadResult {
    fn encode(&self, writer: &mut Writer) {
        let (op_type, err) = match self {
            MultiReadResult::GetChildren { .. } => (OpCode::GetChildren.code(), 0),
            MultiReadResult::GetData { .. } => (OpCode::GetData.code(), 0),
            MultiReadResult::Error(err) => (OpCode::Error.code(), *err),
        };
        MultiHeader { op_type, done: false, err }.encode(writer);
        match self {
            MultiReadResult::GetChildren { children } => writer.write_strings(children),
            MultiReadResult::GetData { data, stat } => {
                writer.write_buffer(data);
                stat.encode(writer);
            }
            MultiReadResult::Error(err) => ErrorResponse { err: *err }.encode(writer),
        }
    }

    fn decode(op_code: OpCode, reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match op_code {
            OpCode::GetChildren => {
                MultiReadResult::GetChildren { children: reader.read_strings()? }
            }
            OpCode::GetData => MultiReadResult::GetData {
                data: reader.read_buffer()?,
                stat: Stat::decode(reader)?,
            },
            OpCode::Error => MultiReadResult::Error(ErrorResponse::decode(reader)?.err),
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "multi read result type",
                    value: other.code() as i64,
                });
            }
        })
    }
}

fn write_multi_end(writer: &mut Writer) {
    MultiHeader { op_type: -1, done: true, err: -1 }.encode(writer);
}

fn decode_results<T>(
    reader: &mut Reader<'_>,
    decode: fn(OpCode, &mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let header = MultiHeader::decode(reader)?;
        if header.done {
            return Ok(results);
        }
        results.push(decode(OpCode::from_code(header.op_type)?, reader)?);
    }
}
