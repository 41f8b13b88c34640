//! Measures enqueue and claim+ack throughput.
//!
//! `cargo run --release -p recipes-queue --example queue_rate -- [ITEMS] [CONSUMERS] [host:port]`
//! Without an address it starts a Herald node in-process on a temporary directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use recipes_queue::{ClaimRequest, Clock, EnqueueRequest, Queue, QueueConfig, SystemClock};
use serde_json::json;
use zookeeper_client::Client;

#[tokio::main]
async fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let items: u64 = arguments.first().and_then(|text| text.parse().ok()).unwrap_or(2_000);
    let consumers: usize = arguments.get(1).and_then(|text| text.parse().ok()).unwrap_or(4);
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let (address, _node) = match arguments.get(2) {
        Some(address) => (address.clone(), None),
        None => {
            let config = server::ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.path());
            let node = server::RunningServer::start(config).await.expect("node starts");
            (node.client_address().to_string(), Some(node))
        }
    };
    let connect = |address: String| async move {
        Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&address)
            .await
            .expect("client connects")
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config =
        QueueConfig { root: format!("/rate-{}", clock.now_ms()), ..QueueConfig::default() };
    let producer =
        Queue::open(connect(address.clone()).await, "rate", config.clone(), clock.clone())
            .await
            .expect("queue opens");

    let started = Instant::now();
    for n in 0..items {
        producer.enqueue(EnqueueRequest::new(json!({ "n": n }))).await.expect("enqueue");
    }
    let enqueue_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..consumers {
        let queue =
            Queue::open(connect(address.clone()).await, "rate", config.clone(), clock.clone())
                .await
                .expect("queue opens");
        tasks.push(tokio::spawn(async move {
            let mut acked = 0u64;
            let request = ClaimRequest { visibility_timeout_ms: 60_000, wait_ms: 0 };
            while let Some(claimed) = queue.claim(request).await.expect("claim") {
                queue.ack(claimed.receipt).await.expect("ack");
                acked += 1;
            }
            acked
        }));
    }
    let mut acked = 0;
    for task in tasks {
        acked += task.await.expect("consumer");
    }
    let drain_seconds = started.elapsed().as_secs_f64();
    assert_eq!(acked, items, "every item acknowledged once");
    println!("enqueue (1 producer, sequential): {:.0} items/s", items as f64 / enqueue_seconds);
    println!("claim+ack ({consumers} consumers): {:.0} items/s", items as f64 / drain_seconds);
}
