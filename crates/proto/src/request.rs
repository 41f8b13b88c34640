//! Client requests: one variant per opcode the server serves.

use crate::codes::OpCode;
use crate::jute::{DecodeError, Reader, Record, Writer};
use crate::records::{
    AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, ExistsRequest, GetAclRequest, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, MultiHeader, PathRequest, SetAclRequest, SetDataRequest, SetWatches,
    SetWatches2, WatchesRequest,
};

/// The field name [`DecodeError::InvalidValue`] carries for an opcode that is
/// well-formed but not served (sasl, reconfig, ...): the server answers it
/// with `Unimplemented` instead of closing the connection.
pub const UNSUPPORTED_OPCODE: &str = "unsupported opcode";

/// Whether `error` means "valid opcode, not served" rather than malformed input.
pub fn is_unsupported(error: &DecodeError) -> bool {
    matches!(error, DecodeError::InvalidValue { field, .. } if *field == UNSUPPORTED_OPCODE)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildrenRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    CloseSession,
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    AddWatch(AddWatchRequest),
    RemoveWatches(WatchesRequest),
    CheckWatches(WatchesRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(PathRequest),
    WhoAmI,
}

/// One operation inside a multi (writes) or multiRead (reads) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(GetChildrenRequest),
    GetData(GetDataRequest),
}

impl Request {
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::CloseSession => OpCode::CloseSession,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::WhoAmI => OpCode::WhoAmI,
        }
    }

    /// Decodes the body that follows a request header with `op_code`.
    pub fn decode(op_code: OpCode, reader: &mut Reader<'_>) -> Result<Request, DecodeError> {
        let request = match op_code {
            OpCode::Create => Request::Create(Record::decode(reader)?),
            OpCode::Create2 => Request::Create2(Record::decode(reader)?),
            OpCode::CreateContainer => Request::CreateContainer(Record::decode(reader)?),
            OpCode::CreateTtl => Request::CreateTtl(Record::decode(reader)?),
            OpCode::Delete => Request::Delete(Record::decode(reader)?),
            OpCode::Exists => Request::Exists(Record::decode(reader)?),
            OpCode::GetData => Request::GetData(Record::decode(reader)?),
            OpCode::SetData => Request::SetData(Record::decode(reader)?),
            OpCode::GetAcl => Request::GetAcl(Record::decode(reader)?),
            OpCode::SetAcl => Request::SetAcl(Record::decode(reader)?),
            OpCode::GetChildren => Request::GetChildren(Record::decode(reader)?),
            OpCode::GetChildren2 => Request::GetChildren2(Record::decode(reader)?),
            OpCode::Sync => Request::Sync(Record::decode(reader)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(Record::decode(reader)?),
            OpCode::Multi => Request::Multi(decode_multi(reader)?),
            OpCode::MultiRead => Request::MultiRead(decode_multi(reader)?),
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Auth => Request::Auth(Record::decode(reader)?),
            OpCode::SetWatches => Request::SetWatches(Record::decode(reader)?),
            OpCode::SetWatches2 => Request::SetWatches2(Record::decode(reader)?),
            OpCode::AddWatch => Request::AddWatch(Record::decode(reader)?),
            OpCode::RemoveWatches => Request::RemoveWatches(Record::decode(reader)?),
            OpCode::CheckWatches => Request::CheckWatches(Record::decode(reader)?),
            OpCode::GetEphemerals => Request::GetEphemerals(Record::decode(reader)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(Record::decode(reader)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::Notification
            | OpCode::Reconfig
            | OpCode::DeleteContainer
            | OpCode::Sasl
            | OpCode::CreateSession
            | OpCode::Error => {
                return Err(DecodeError::InvalidValue {
                    field: UNSUPPORTED_OPCODE,
                    value: op_code.code() as i64,
                });
            }
        };
        Ok(request)
    }

    /// Encodes the body (without the request header); the client side of [`Request::decode`].
    pub fn encode(&self, writer: &mut Writer) {
        match self {
            Request::Create(record)
            | Request::Create2(record)
            | Request::CreateContainer(record) => record.encode(writer),
            Request::CreateTtl(record) => record.encode(writer),
            Request::Delete(record) => record.encode(writer),
            Request::Exists(record) => record.encode(writer),
            Request::GetData(record) => record.encode(writer),
            Request::SetData(record) => record.encode(writer),
            Request::GetAcl(record) => record.encode(writer),
            Request::SetAcl(record) => record.encode(writer),
            Request::GetChildren(record) | Request::GetChildren2(record) => record.encode(writer),
            Request::Sync(record) | Request::GetAllChildrenNumber(record) => record.encode(writer),
            Request::Ping | Request::CloseSession | Request::WhoAmI => {}
            Request::Check(record) => record.encode(writer),
            Request::Multi(ops) | Request::MultiRead(ops) => encode_multi(ops, writer),
            Request::Auth(record) => record.encode(writer),
            Request::SetWatches(record) => record.encode(writer),
            Request::SetWatches2(record) => record.encode(writer),
            Request::AddWatch(record) => record.encode(writer),
            Request::RemoveWatches(record) | Request::CheckWatches(record) => record.encode(writer),
            Request::GetEphemerals(record) => record.encode(writer),
        }
    }
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    fn encode(&self, writer: &mut Writer) {
        match self {
            MultiOp::Create(record)
            | MultiOp::Create2(record)
            | MultiOp::CreateContainer(record) => record.encode(writer),
            MultiOp::CreateTtl(record) => record.encode(writer),
            MultiOp::Delete(record) => record.encode(writer),
            MultiOp::SetData(record) => record.encode(writer),
            MultiOp::Check(record) => record.encode(writer),
            MultiOp::GetChildren(record) => record.encode(writer),
            MultiOp::GetData(record) => record.encode(writer),
        }
    }
}

/// A multi body: (MultiHeader, op)* terminated by a header with `done` set
/// (ZooKeeper's `MultiOperationRecord`).
fn decode_multi(reader: &mut Reader<'_>) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let header = MultiHeader::decode(reader)?;
        if header.done {
            return Ok(ops);
        }
        let op = match OpCode::from_code(header.op_type)? {
            OpCode::Create => MultiOp::Create(Record::decode(reader)?),
            OpCode::Create2 => MultiOp::Create2(Record::decode(reader)?),
            OpCode::CreateContainer => MultiOp::CreateContainer(Record::decode(reader)?),
            OpCode::CreateTtl => MultiOp::CreateTtl(Record::decode(reader)?),
            OpCode::Delete => MultiOp::Delete(Record::decode(reader)?),
            OpCode::SetData => MultiOp::SetData(Record::decode(reader)?),
            OpCode::Check => MultiOp::Check(Record::decode(reader)?),
            OpCode::GetChildren => MultiOp::GetChildren(Record::decode(reader)?),
            OpCode::GetData => MultiOp::GetData(Record::decode(reader)?),
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "multi op type",
                    value: other.code() as i64,
                });
            }
        };
        ops.push(op);
    }
}

fn encode_multi(ops: &[MultiOp], writer: &mut Writer) {
    for op in ops {
        MultiHeader { op_type: op.op_code().code(), done: false, err: -1 }.encode(writer);
        op.encode(writer);
    }
    MultiHeader { op_type: -1, done: true, err: -1 }.encode(writer);
}
