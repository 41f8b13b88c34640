//! The replication core's link to the other members: the peer transport
//! carrying [`PeerFrame`]s.

use broadcast::ServerId;

use crate::config::EnsembleConfig;
use crate::ensemble::{PeerFrame, PeerLink};
use crate::peer_transport::{
    PeerSendError, PeerTransport, PeerTransportError, PeerTransportSettings,
};
use crate::processor::PeerInbound;

impl PeerLink for PeerTransport<PeerFrame> {
    fn send(&self, to: ServerId, frame: PeerFrame) {
        match PeerTransport::send(self, to.0, frame) {
            Ok(()) => {}
            // The consensus core recovers from a lost frame (a resync).
            Err(error @ PeerSendError::QueueFull { .. }) => {
                tracing::debug!(%error, "peer frame dropped")
            }
            Err(error) => tracing::warn!(%error, "peer frame not sent"),
        }
    }

    fn is_connected(&self, peer: ServerId) -> bool {
        self.connected_peers().contains(&peer.0)
    }
}

pub async fn start(
    ensemble: &EnsembleConfig,
) -> Result<(Box<dyn PeerLink>, PeerInbound), PeerTransportError> {
    let settings = PeerTransportSettings::from_ensemble(ensemble);
    let (transport, inbound) = PeerTransport::<PeerFrame>::start(settings).await?;
    Ok((Box::new(transport), inbound))
}
