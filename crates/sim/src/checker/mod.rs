//! The checkers: one file per property. `model` and `linearizability` judge
//! the client history; `sessions` the per-session guarantees; `commits` the
//! replicated log (one total order, quorum-durable commits, no lost
//! acknowledged write); `leaders` one established leader per epoch.

pub mod linearizability;
pub mod model;
