//! Requests and replies that read or change znodes.

use crate::record;
use crate::types::{Acl, Stat};

record! {
    pub struct CreateRequest {
        pub path: String,
        pub data: Vec<u8>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }

    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Vec<u8>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }

    pub struct CreateResponse {
        pub path: String,
    }

    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }

    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }

    pub struct ExistsRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct GetDataRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct GetDataResponse {
        pub data: Vec<u8>,
        pub stat: Stat,
    }

    pub struct SetDataRequest {
        pub path: String,
        pub data: Vec<u8>,
        pub version: i32,
    }

    /// Also the body of exists, setACL and check replies that carry a Stat.
    pub struct StatResponse {
        pub stat: Stat,
    }

    pub struct GetAclRequest {
        pub path: String,
    }

    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }

    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }

    pub struct GetChildrenRequest {
        pub path: String,
        pub watch: bool,
    }

    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }

    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }

    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }

    /// Also the body of getACL, getAllChildrenNumber and sync requests: a path alone.
    pub struct PathRequest {
        pub path: String,
    }

    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }

    pub struct GetEphemeralsRequest {
        pub prefix_path: String,
    }

    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }

    /// Precedes each op of a multi request and each result of its reply.
    pub struct MultiHeader {
        pub op_type: i32,
        pub done: bool,
        pub err: i32,
    }
}
