pub mod disk;
mod fingerprint;
pub mod network;
pub mod rng;
