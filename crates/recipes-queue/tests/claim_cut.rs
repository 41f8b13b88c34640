//! A claim whose multi was applied but whose reply was lost to a connection cut is
//! adopted (the caller gets its receipt), not reported as a failure that would leave
//! the item held until its visibility timeout.

mod common;
#[path = "../../recipes-lock/tests/support/proxy.rs"]
mod proxy;

use std::sync::Arc;

use common::{Ensemble, connect, unique_root, within};
use proxy::CuttingProxy;
use recipes_queue::{ClaimRequest, Clock, EnqueueRequest, Queue, QueueConfig, SystemClock};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_applied_before_a_connection_loss_is_adopted() {
    let ensemble = Ensemble::start().await;
    let upstream = ensemble.address().parse().expect("a host:port address");
    let proxy = CuttingProxy::start(upstream).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = QueueConfig { root: unique_root("claim-cut"), ..QueueConfig::default() };
    let queue = Queue::open(connect(&proxy.address()).await, "jobs", config, clock)
        .await
        .expect("queue opens");
    queue.enqueue(EnqueueRequest::new(json!("only"))).await.unwrap();

    proxy.cut_after_multi_containing("/claims/");
    let claim = ClaimRequest { visibility_timeout_ms: 60_000, wait_ms: 0 };
    let claimed = within("claim across the cut", queue.claim(claim))
        .await
        .expect("the applied claim is adopted")
        .expect("the item was claimed");
    assert_eq!(proxy.cuts(), 1, "the claim's reply was cut off");
    assert_eq!(claimed.payload, json!("only"));
    assert_eq!(claimed.attempts, 1);

    // The receipt is the real one: the ack settles the item.
    queue.ack(claimed.receipt).await.expect("the adopted receipt acks");
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.depth, stats.in_flight), (0, 0));
}
