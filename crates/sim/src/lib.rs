pub mod checker;
pub mod disk;
mod fingerprint;
pub mod history;
pub mod network;
pub mod rng;
