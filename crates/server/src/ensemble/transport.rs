//! The replication core's link to the other members: the peer transport
//! carrying [`PeerFrame`]s.

use crate::config::EnsembleConfig;
use crate::ensemble::{PeerFrame, PeerLink};
use crate::processor::PeerInbound;

pub async fn start(ensemble: &EnsembleConfig) -> std::io::Result<(Box<dyn PeerLink>, PeerInbound)> {
    let _ = ensemble;
    let _ = std::marker::PhantomData::<PeerFrame>;
    Err(std::io::Error::other("the peer transport is not wired yet"))
}
