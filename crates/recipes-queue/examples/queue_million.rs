//! Loads a queue with a million items through the bulk enqueue path, claims and acks a
//! sample, lists every bucket to show that no getChildren reply approaches the 1 MiB
//! packet limit, and prints timings.
//!
//! `cargo run --release -p recipes-queue --example queue_million -- --items 1000000
//!  [--ensemble 127.0.0.1:2181] [--sample 1000] [--batch 1000]`
//! (start the ensemble first, for example `herald dev`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use recipes_queue::bulk::BULK_ITEMS_MAX;
use recipes_queue::layout::QueueLayout;
use recipes_queue::{ClaimRequest, Clock, Queue, QueueConfig, SystemClock};
use serde_json::json;
use zookeeper_client::Client;

/// ZooKeeper's default jute.maxbuffer and Herald's packet limit.
const PACKET_BYTES: usize = 1024 * 1024;
/// "Well under" the packet limit: every listing must stay below a quarter of it.
const LISTING_BYTES_LIMIT: usize = PACKET_BYTES / 4;

struct Options {
    items: u64,
    ensemble: String,
    sample: u64,
    batch: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        items: 1_000_000,
        ensemble: "127.0.0.1:2181".into(),
        sample: 1_000,
        batch: 1_000,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--items" => options.items = number()?.max(1),
            "--ensemble" => options.ensemble = value.clone(),
            "--sample" => options.sample = number()?,
            "--batch" => options.batch = (number()? as usize).clamp(1, BULK_ITEMS_MAX),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

/// Size of a getChildren reply: reply header, count, then a length and each name.
fn listing_bytes(names: &[String]) -> usize {
    16 + 4 + names.iter().map(|name| 4 + name.len()).sum::<usize>()
}

#[tokio::main]
async fn main() {
    let options = options().unwrap_or_else(|error| {
        eprintln!("queue_million: {error}");
        std::process::exit(2)
    });
    let client = Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(&options.ensemble)
        .await
        .expect("connects to the ensemble");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = QueueConfig {
        root: format!("/million-{}", clock.now_ms()),
        max_items: options.items.max(recipes_queue::config::MAX_ITEMS_DEFAULT),
        ..QueueConfig::default()
    };
    let queue = Queue::open(client.clone(), "million", config.clone(), clock.clone())
        .await
        .expect("queue opens");
    println!("queue {}/million on {}", config.root, options.ensemble);

    let started = Instant::now();
    let mut loaded = 0u64;
    while loaded < options.items {
        let count = (options.items - loaded).min(options.batch as u64);
        let payloads: Vec<_> =
            (loaded..loaded + count).map(|n| json!({"n": n, "job": "resize"})).collect();
        queue.enqueue_bulk(0, &payloads).await.expect("bulk enqueue");
        loaded += count;
        if loaded.is_multiple_of(100_000) {
            println!("  {loaded} items after {:.1} s", started.elapsed().as_secs_f64());
        }
    }
    let load = started.elapsed();
    println!(
        "load: {} items in {:.1} s = {:.0} items/s ({} per multi)",
        loaded,
        load.as_secs_f64(),
        loaded as f64 / load.as_secs_f64(),
        options.batch
    );

    let started = Instant::now();
    let claim = ClaimRequest { visibility_timeout_ms: 60_000, wait_ms: 0 };
    for _ in 0..options.sample.min(loaded) {
        let claimed = queue.claim(claim).await.expect("claim").expect("an item is claimable");
        queue.ack(claimed.receipt).await.expect("ack");
    }
    let sampled = started.elapsed();
    println!(
        "claim+ack: {} items in {:.2} s = {:.0} items/s (one consumer)",
        options.sample.min(loaded),
        sampled.as_secs_f64(),
        options.sample.min(loaded) as f64 / sampled.as_secs_f64()
    );

    let started = Instant::now();
    let layout = QueueLayout::new(&config.root, "million", config.items_per_bucket);
    let lane = client.list_children(&layout.lane(0)).await.expect("lists the lane");
    let mut largest = ("lane p0".to_string(), listing_bytes(&lane));
    let mut listed_items = 0u64;
    for bucket in &lane {
        let names = client.list_children(&format!("{}/{bucket}", layout.lane(0))).await.unwrap();
        listed_items += names.len() as u64;
        let bytes = listing_bytes(&names);
        if bytes > largest.1 {
            largest = (format!("bucket {bucket}"), bytes);
        }
    }
    println!(
        "listing: {} buckets, {} items in {:.2} s; largest getChildren reply {} bytes ({}) \
         = {:.1}% of the 1 MiB packet limit",
        lane.len(),
        listed_items,
        started.elapsed().as_secs_f64(),
        largest.1,
        largest.0,
        100.0 * largest.1 as f64 / PACKET_BYTES as f64
    );
    assert!(largest.1 < LISTING_BYTES_LIMIT, "a listing is too close to the packet limit");
    let stats = queue.stats().await.expect("stats");
    println!(
        "stats: depth {} in flight {} dead {}",
        stats.depth, stats.in_flight, stats.dead_letters
    );
    assert_eq!(stats.depth, loaded - options.sample.min(loaded));
    assert_eq!(listed_items, stats.depth);
}
