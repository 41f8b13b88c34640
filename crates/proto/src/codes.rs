//! The numbers ZooKeeper puts on the wire: opcodes, error codes, special
//! xids, create modes, watch event types and permissions, with the values of
//! `ZooDefs.OpCode`, `KeeperException.Code`, `CreateMode` and `Watcher.Event`.

use crate::jute::DecodeError;

/// Generates a `#[repr(i32)]` enum with `code()` and a checked `from_code()`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name { $($(#[$vmeta])* $variant = $value,)* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn code(self) -> i32 {
                self as i32
            }

            pub fn from_code(code: i32) -> Result<Self, DecodeError> {
                match code {
                    $($value => Ok($name::$variant),)*
                    other => Err(DecodeError::InvalidValue { field: $field, value: other as i64 }),
                }
            }
        }
    };
}

wire_enum!(
    /// `ZooDefs.OpCode`.
    OpCode, "opcode" {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        Error = -1,
    }
);

wire_enum!(
    /// `KeeperException.Code`: the `err` field of every reply header.
    ErrorCode, "error code" {
        Ok = 0,
        SystemError = -1,
        RuntimeInconsistency = -2,
        DataInconsistency = -3,
        ConnectionLoss = -4,
        MarshallingError = -5,
        Unimplemented = -6,
        OperationTimeout = -7,
        BadArguments = -8,
        UnknownSession = -12,
        NewConfigNoQuorum = -13,
        ReconfigInProgress = -14,
        ApiError = -100,
        NoNode = -101,
        NoAuth = -102,
        BadVersion = -103,
        NoChildrenForEphemerals = -108,
        NodeExists = -110,
        NotEmpty = -111,
        SessionExpired = -112,
        InvalidCallback = -113,
        InvalidAcl = -114,
        AuthFailed = -115,
        SessionMoved = -118,
        NotReadOnly = -119,
        EphemeralOnLocalSession = -120,
        NoWatcher = -121,
        RequestTimeout = -122,
        ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124,
        QuotaExceeded = -125,
        ThrottledOp = -127,
    }
);

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:?} ({})", self, self.code())
    }
}

impl std::error::Error for ErrorCode {}

wire_enum!(
    /// `Watcher.Event.EventType`.
    EventType, "event type" {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
);

wire_enum!(
    /// `Watcher.Event.KeeperState`.
    KeeperState, "keeper state" {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Expired = -112,
        Closed = 7,
    }
);

wire_enum!(
    /// `Watcher.WatcherType`, as used by removeWatches/checkWatches.
    WatcherType, "watcher type" {
        Children = 1,
        Data = 2,
        Any = 3,
        Persistent = 4,
        PersistentRecursive = 5,
    }
);

wire_enum!(
    /// `ZooDefs.AddWatchModes`.
    AddWatchMode, "add watch mode" {
        Persistent = 0,
        PersistentRecursive = 1,
    }
);

wire_enum!(
    /// `CreateMode`: the `flags` of a create request.
    CreateMode, "create mode" {
        Persistent = 0,
        Ephemeral = 1,
        PersistentSequential = 2,
        EphemeralSequential = 3,
        Container = 4,
        PersistentWithTtl = 5,
        PersistentSequentialWithTtl = 6,
    }
);

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }

    pub fn is_ttl(self) -> bool {
        matches!(self, CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl)
    }
}

/// Reserved xids (`ClientCnxn`): replies with these carry no request of the client's.
pub mod xid {
    /// A watch notification pushed by the server.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An auth packet and its reply.
    pub const AUTH: i32 = -4;
    /// A setWatches packet sent while reconnecting.
    pub const SET_WATCHES: i32 = -8;
}

/// `ZooDefs.Perms` bit flags.
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 1 << 1;
    pub const CREATE: i32 = 1 << 2;
    pub const DELETE: i32 = 1 << 3;
    pub const ADMIN: i32 = 1 << 4;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::from_code(op.code()).unwrap(), *op);
        }
        for error in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(error.code()).unwrap(), *error);
        }
        for mode in CreateMode::ALL {
            assert_eq!(CreateMode::from_code(mode.code()).unwrap(), *mode);
        }
    }

    #[test]
    fn unknown_code_is_rejected() {
        assert_eq!(
            OpCode::from_code(10).unwrap_err(),
            DecodeError::InvalidValue { field: "opcode", value: 10 }
        );
        assert!(CreateMode::from_code(7).is_err());
    }
}
