//! Watch notifications and watch management.

use crate::record;

record! {
    /// A notification, sent with xid -1.
    pub struct WatcherEvent {
        pub event_type: i32,
        pub state: i32,
        pub path: String,
    }

    /// Re-registers a reconnecting client's watches.
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }

    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }

    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }

    /// The body of both checkWatches and removeWatches.
    pub struct WatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}
