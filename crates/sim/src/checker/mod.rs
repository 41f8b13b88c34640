//! The checkers: one file per property. `model` and `linearizability` judge
//! writes and sync-then-read; `sessions` the per-session guarantees and lost
//! writes; `watches` watch delivery order; `commits` the replicated log (one total order, quorum-durable
//! commits); `leaders` one established leader per epoch.

pub mod commits;
pub mod leaders;
pub mod linearizability;
pub mod model;
pub mod sessions;
pub mod watches;
