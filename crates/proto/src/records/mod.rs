//! The jute records of `zookeeper.jute` that clients send and receive,
//! grouped by topic. Field names are the jute names in snake_case.

mod node;
mod session;
mod watch;

pub use node::*;
pub use session::*;
pub use watch::*;
