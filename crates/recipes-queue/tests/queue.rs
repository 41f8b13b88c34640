//! The queue against a real server (Herald in-process, or `HERALD_TEST_ZK`).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Ensemble, unique_root, within};
use recipes_queue::config::PRIORITY_LEVELS;
use recipes_queue::layout::{QueueLayout, parse_bucket_name};
use recipes_queue::{
    ClaimRequest, Claimed, Clock, EnqueueRequest, ManualClock, NackOutcome, Queue, QueueConfig,
    QueueError, SystemClock,
};
use serde_json::json;

const START_MS: u64 = 1_700_000_000_000;

fn config(test: &str) -> QueueConfig {
    QueueConfig { root: unique_root(test), ..QueueConfig::default() }
}

fn now_claim(visibility_timeout_ms: u64) -> ClaimRequest {
    ClaimRequest { visibility_timeout_ms, wait_ms: 0 }
}

async fn open(ensemble: &Ensemble, config: &QueueConfig, clock: &ManualClock) -> Queue {
    let clock: Arc<dyn Clock> = Arc::new(clock.clone());
    Queue::open(ensemble.client().await, "jobs", config.clone(), clock).await.expect("queue opens")
}

async fn put(queue: &Queue, payload: serde_json::Value, priority: u8) {
    queue
        .enqueue(EnqueueRequest { priority, ..EnqueueRequest::new(payload) })
        .await
        .expect("enqueue");
}

async fn take(queue: &Queue) -> Claimed {
    queue.claim(now_claim(30_000)).await.expect("claim").expect("an item is claimable")
}

#[tokio::test]
async fn fifo_within_a_priority_and_higher_priorities_first() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let queue = open(&ensemble, &config("fifo"), &clock).await;
    for (payload, priority) in
        [("low-1", 1), ("high-1", 7), ("low-2", 1), ("high-2", 7), ("top", 9), ("low-3", 1)]
    {
        put(&queue, json!(payload), priority).await;
    }
    let mut order = Vec::new();
    while let Some(claimed) = queue.claim(now_claim(30_000)).await.unwrap() {
        order.push(claimed.payload.as_str().unwrap().to_string());
        queue.ack(claimed.receipt).await.unwrap();
    }
    assert_eq!(order, ["top", "high-1", "high-2", "low-1", "low-2", "low-3"]);
    assert_eq!(queue.stats().await.unwrap().depth, 0);
}

#[tokio::test]
async fn delayed_items_wait_for_their_time_without_blocking_others() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let queue = open(&ensemble, &config("delay"), &clock).await;
    let delayed = EnqueueRequest { delay_ms: 5_000, ..EnqueueRequest::new(json!("later")) };
    queue.enqueue(delayed).await.unwrap();
    put(&queue, json!("now"), 0).await;

    assert_eq!(take(&queue).await.payload, json!("now"));
    assert_eq!(queue.claim(now_claim(30_000)).await.unwrap(), None);
    clock.advance_ms(4_999);
    assert_eq!(queue.claim(now_claim(30_000)).await.unwrap(), None);
    clock.advance_ms(1);
    assert_eq!(take(&queue).await.payload, json!("later"));
}

#[tokio::test]
async fn a_dead_consumers_claim_returns_when_its_session_ends() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = config("dead-consumer");
    let consumer = open(&ensemble, &config, &clock).await;
    let survivor = open(&ensemble, &config, &clock).await;
    put(&survivor, json!("job"), 0).await;

    let first = take(&consumer).await;
    assert_eq!(first.attempts, 1);
    assert_eq!(survivor.claim(now_claim(30_000)).await.unwrap(), None, "held by a live claim");
    assert_eq!(survivor.stats().await.unwrap().in_flight, 1);

    // The survivor long-polls; the consumer's session closes (its only client drops).
    let waiting = tokio::spawn({
        let survivor = survivor.clone();
        async move {
            survivor.claim(ClaimRequest { visibility_timeout_ms: 30_000, wait_ms: 15_000 }).await
        }
    });
    drop(consumer);
    let again = within("claim after the consumer died", waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("item returns");
    assert_eq!((again.payload, again.attempts), (json!("job"), 2));
    // The dead consumer's receipt is worthless now; the survivor's works.
    assert_eq!(survivor.ack(first.receipt).await, Err(QueueError::ClaimLost { item: first.id }));
    survivor.ack(again.receipt).await.unwrap();
    assert_eq!(survivor.stats().await.unwrap().depth, 0);
}

#[tokio::test]
async fn an_expired_visibility_timeout_lets_another_claimer_take_over() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = config("visibility");
    let slow = open(&ensemble, &config, &clock).await;
    let other = open(&ensemble, &config, &clock).await;
    put(&slow, json!("job"), 0).await;
    let stale = slow.claim(now_claim(1_000)).await.unwrap().unwrap();
    clock.advance_ms(999);
    assert_eq!(other.claim(now_claim(1_000)).await.unwrap(), None);
    clock.advance_ms(1);
    let taken = other.claim(now_claim(1_000)).await.unwrap().expect("expired claim is taken over");
    assert_eq!(taken.attempts, 2);
    assert_eq!(slow.ack(stale.receipt).await, Err(QueueError::ClaimLost { item: stale.id }));
    assert_eq!(
        slow.extend(stale.receipt, 1_000).await,
        Err(QueueError::ClaimLost { item: stale.id })
    );
    other.ack(taken.receipt).await.unwrap();
}

#[tokio::test]
async fn extend_moves_the_deadline_and_replaces_the_receipt() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = config("extend");
    let holder = open(&ensemble, &config, &clock).await;
    let other = open(&ensemble, &config, &clock).await;
    put(&holder, json!("job"), 0).await;
    let claimed = holder.claim(now_claim(1_000)).await.unwrap().unwrap();
    clock.advance_ms(900);
    let extended = holder.extend(claimed.receipt, 5_000).await.unwrap();
    assert_eq!(extended.claimed_until_ms, START_MS + 900 + 5_000);
    let renewed = extended.receipt;
    assert_ne!(renewed, claimed.receipt);
    clock.advance_ms(4_999);
    assert_eq!(other.claim(now_claim(1_000)).await.unwrap(), None, "extended claim still holds");
    assert_eq!(holder.ack(claimed.receipt).await, Err(QueueError::ClaimLost { item: claimed.id }));
    holder.ack(renewed).await.unwrap();
}

#[tokio::test]
async fn nack_requeues_with_its_delay_then_dead_letters_after_the_last_attempt() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { max_attempts: 3, ..config("dead-letters") };
    let queue = open(&ensemble, &config, &clock).await;
    put(&queue, json!("poison"), 4).await;

    for attempt in 1..=2 {
        let claimed = take(&queue).await;
        assert_eq!(claimed.attempts, attempt);
        assert_eq!(queue.nack(claimed.receipt, 100).await.unwrap(), NackOutcome::Requeued);
        assert_eq!(queue.claim(now_claim(30_000)).await.unwrap(), None, "nack delay respected");
        clock.advance_ms(100);
    }
    let last = take(&queue).await;
    assert_eq!(last.attempts, 3);
    assert_eq!(queue.nack(last.receipt, 0).await.unwrap(), NackOutcome::DeadLettered);

    assert_eq!(queue.claim(now_claim(30_000)).await.unwrap(), None);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.depth, stats.in_flight, stats.dead_letters), (0, 0, 1));
    let letters = queue.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].item.as_str(), &letters[0].payload, letters[0].attempts),
        ("p4-0", &json!("poison"), 3)
    );
}

#[tokio::test]
async fn an_item_whose_last_claim_expired_is_dead_lettered_not_claimed() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { max_attempts: 1, ..config("expired-last") };
    let queue = open(&ensemble, &config, &clock).await;
    put(&queue, json!("x"), 0).await;
    let _abandoned = queue.claim(now_claim(1_000)).await.unwrap().unwrap();
    clock.advance_ms(1_000);
    assert_eq!(queue.claim(now_claim(1_000)).await.unwrap(), None);
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.depth, stats.in_flight, stats.dead_letters), (0, 0, 1));
}

#[tokio::test]
async fn the_size_bound_rejects_at_the_bound_and_counts_dead_letters() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { max_items: 3, max_attempts: 1, ..config("bound") };
    let queue = open(&ensemble, &config, &clock).await;
    for n in 0..3 {
        put(&queue, json!(n), 0).await;
    }
    let full = queue.enqueue(EnqueueRequest::new(json!(3))).await;
    assert_eq!(full, Err(QueueError::QueueFull { limit: 3 }));
    assert_eq!(queue.stats().await.unwrap().depth, 3, "the rejected item was not written");

    // An ack makes room; a dead letter still takes its place.
    let first = take(&queue).await;
    queue.ack(first.receipt).await.unwrap();
    let second = take(&queue).await;
    assert_eq!(queue.nack(second.receipt, 0).await.unwrap(), NackOutcome::DeadLettered);
    put(&queue, json!("fits"), 0).await;
    assert_eq!(
        queue.enqueue(EnqueueRequest::new(json!(5))).await,
        Err(QueueError::QueueFull { limit: 3 })
    );
}

#[tokio::test]
async fn items_shard_across_buckets_that_are_removed_once_drained() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { items_per_bucket: 4, max_items: 1_000, ..config("shards") };
    let queue = open(&ensemble, &config, &clock).await;
    for n in 0..10 {
        put(&queue, json!(n), 3).await;
    }
    let inspector = ensemble.client().await;
    let layout = QueueLayout::new(&config.root, "jobs", 4);
    let buckets = inspector.list_children(&layout.lane(3)).await.unwrap();
    assert_eq!(buckets.len(), 3);
    for bucket in &buckets {
        let index = parse_bucket_name(bucket).unwrap();
        let items = inspector.list_children(&layout.bucket(3, index)).await.unwrap();
        assert!(items.len() <= 4, "bucket {bucket} holds {}", items.len());
    }

    let mut seen = Vec::new();
    while let Some(claimed) = queue.claim(now_claim(30_000)).await.unwrap() {
        seen.push(claimed.payload.as_u64().unwrap());
        queue.ack(claimed.receipt).await.unwrap();
    }
    assert_eq!(seen, (0..10).collect::<Vec<_>>(), "FIFO across bucket boundaries");
    // Drained buckets that can never be written again are gone; the open one stays.
    let remaining = inspector.list_children(&layout.lane(3)).await.unwrap();
    assert_eq!(remaining, vec![recipes_queue::layout::bucket_name(2)]);
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_item() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let queue = open(&ensemble, &config("idempotency"), &clock).await;
    let request = EnqueueRequest {
        idempotency_key: Some("order-42".into()),
        ..EnqueueRequest::new(json!("a"))
    };
    let first = queue.enqueue(request.clone()).await.unwrap();
    let again = queue.enqueue(EnqueueRequest { payload: json!("b"), ..request }).await.unwrap();
    assert!(!first.duplicate && again.duplicate);
    assert_eq!(again.id, first.id);
    assert_eq!(queue.stats().await.unwrap().depth, 1);
    assert_eq!(take(&queue).await.payload, json!("a"));
}

#[tokio::test]
async fn a_long_poll_returns_when_an_item_arrives() {
    let ensemble = Ensemble::start().await;
    let config = config("long-poll");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let consumer =
        Queue::open(ensemble.client().await, "jobs", config.clone(), clock.clone()).await.unwrap();
    let producer = Queue::open(ensemble.client().await, "jobs", config, clock).await.unwrap();
    let waiting = tokio::spawn(async move {
        consumer.claim(ClaimRequest { visibility_timeout_ms: 30_000, wait_ms: 15_000 }).await
    });
    producer.enqueue(EnqueueRequest::new(json!("wake"))).await.unwrap();
    let claimed = within("long poll", waiting).await.unwrap().unwrap();
    assert_eq!(claimed.map(|claimed| claimed.payload), Some(json!("wake")));
}

#[tokio::test]
async fn an_empty_long_poll_gives_up_after_its_wait() {
    let ensemble = Ensemble::start().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let queue =
        Queue::open(ensemble.client().await, "jobs", config("give-up"), clock).await.unwrap();
    let outcome = within(
        "bounded wait",
        queue.claim(ClaimRequest { visibility_timeout_ms: 1_000, wait_ms: 300 }),
    )
    .await;
    assert_eq!(outcome.unwrap(), None);
}

#[tokio::test]
async fn concurrent_consumers_acknowledge_every_item_exactly_once() {
    let ensemble = Ensemble::start().await;
    let config = QueueConfig { items_per_bucket: 16, max_items: 10_000, ..config("concurrent") };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let producer =
        Queue::open(ensemble.client().await, "jobs", config.clone(), clock.clone()).await.unwrap();
    const ITEMS: u64 = 120;
    for n in 0..ITEMS {
        put(&producer, json!(n), (n % u64::from(PRIORITY_LEVELS)) as u8).await;
    }
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let queue = Queue::open(ensemble.client().await, "jobs", config.clone(), clock.clone())
            .await
            .unwrap();
        consumers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while let Some(claimed) = queue.claim(now_claim(60_000)).await.unwrap() {
                queue.ack(claimed.receipt).await.unwrap();
                acked.push(claimed.payload.as_u64().unwrap());
            }
            acked
        }));
    }
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(within("consumers drain", consumer).await.unwrap());
    }
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len() as u64, ITEMS, "no item acknowledged twice");
    assert_eq!(distinct, (0..ITEMS).collect(), "no item lost");
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = config("bad-input");
    let queue = open(&ensemble, &config, &clock).await;
    let too_big = json!("x".repeat(recipes_queue::config::PAYLOAD_BYTES_MAX));
    assert!(matches!(
        queue.enqueue(EnqueueRequest::new(too_big)).await,
        Err(QueueError::Invalid(_))
    ));
    let at_bound = json!("x".repeat(recipes_queue::config::PAYLOAD_BYTES_MAX - 2));
    queue.enqueue(EnqueueRequest::new(at_bound)).await.expect("a payload at the bound fits");
    let bad_priority =
        EnqueueRequest { priority: PRIORITY_LEVELS, ..EnqueueRequest::new(json!(1)) };
    assert!(matches!(queue.enqueue(bad_priority).await, Err(QueueError::Invalid(_))));
    let bad_key =
        EnqueueRequest { idempotency_key: Some("a/b".into()), ..EnqueueRequest::new(json!(1)) };
    assert!(matches!(queue.enqueue(bad_key).await, Err(QueueError::Invalid(_))));
    assert!(matches!(queue.claim(now_claim(0)).await, Err(QueueError::Invalid(_))));
    let too_long = ClaimRequest {
        visibility_timeout_ms: 1,
        wait_ms: recipes_queue::config::CLAIM_WAIT_MS_MAX + 1,
    };
    assert!(matches!(queue.claim(too_long).await, Err(QueueError::Invalid(_))));
    let bad_name = Queue::open(ensemble.client().await, "../x", config, Arc::new(clock)).await;
    assert!(matches!(bad_name, Err(QueueError::Invalid(_))));
}

#[tokio::test]
async fn consumers_killed_mid_claim_lose_nothing() {
    let ensemble = Ensemble::start().await;
    let config = QueueConfig { items_per_bucket: 64, max_items: 10_000, ..config("killed") };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let producer =
        Queue::open(ensemble.client().await, "jobs", config.clone(), clock.clone()).await.unwrap();
    const ITEMS: u64 = 10_000;
    // Loaded in bulk (the same layout, a multi per thousand items): the test is
    // about the consumers, and one enqueue at a time would take most of its time.
    let payloads: Vec<serde_json::Value> = (0..ITEMS).map(|n| json!(n)).collect();
    for chunk in payloads.chunks(recipes_queue::bulk::BULK_ITEMS_MAX) {
        producer.enqueue_bulk(0, chunk).await.unwrap();
    }
    let mut workers = Vec::new();
    for worker in 0..3u64 {
        let (address, config, clock) = (ensemble.address(), config.clone(), clock.clone());
        workers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut killed_holding_claims = 0u64;
            // Each incarnation acks a few items, then dies holding one claim.
            loop {
                let client = common::connect(&address).await;
                let queue =
                    Queue::open(client, "jobs", config.clone(), clock.clone()).await.unwrap();
                let mut drained = true;
                for _ in 0..(7 + worker) {
                    let request = ClaimRequest { visibility_timeout_ms: 60_000, wait_ms: 2_000 };
                    let Some(claimed) = queue.claim(request).await.unwrap() else { break };
                    queue.ack(claimed.receipt).await.unwrap();
                    acked.push(claimed.payload.as_u64().unwrap());
                    drained = false;
                }
                if drained {
                    return (acked, killed_holding_claims);
                }
                if queue.claim(now_claim(60_000)).await.unwrap().is_some() {
                    killed_holding_claims += 1;
                }
                // The only handle on the session drops: the session closes and its
                // claim goes with it, long before the 60 s visibility timeout.
                drop(queue);
            }
        }));
    }
    let mut all = Vec::new();
    let mut killed_holding_claims = 0;
    for worker in workers {
        let (acked, killed) = tokio::time::timeout(std::time::Duration::from_secs(300), worker)
            .await
            .expect("workers drain within five minutes")
            .unwrap();
        all.extend(acked);
        killed_holding_claims += killed;
    }
    assert!(killed_holding_claims > 10, "consumers died holding claims: {killed_holding_claims}");
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len() as u64, ITEMS, "no item acknowledged twice");
    assert_eq!(distinct, (0..ITEMS).collect(), "no item lost");
    assert_eq!(producer.stats().await.unwrap().depth, 0);
}

/// HTTP handlers run on a multi-threaded runtime: every operation's future must be `Send`.
#[tokio::test]
async fn operation_futures_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let queue = open(&ensemble, &config("send"), &clock).await;
    let receipt = recipes_queue::Receipt {
        item: recipes_queue::ItemId { priority: 0, sequence: 0 },
        version: 1,
    };
    assert_send(&queue.enqueue(EnqueueRequest::new(json!(1))));
    assert_send(&queue.claim(now_claim(1)));
    assert_send(&queue.ack(receipt));
    assert_send(&queue.nack(receipt, 0));
    assert_send(&queue.extend(receipt, 1));
    assert_send(&queue.stats());
    assert_send(&queue.dead_letters(1));
    assert_send(&Queue::open(ensemble.client().await, "x", config("send"), Arc::new(clock)));
}

#[tokio::test]
async fn a_claim_visits_at_most_the_configured_items_per_lane() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let base = config("scan-bound");
    for (scan_items_per_lane, reaches_ready_item) in [(3, false), (4, true)] {
        let config = QueueConfig {
            root: format!("{}-{scan_items_per_lane}", base.root),
            scan_items_per_lane,
            ..base.clone()
        };
        let queue = open(&ensemble, &config, &clock).await;
        for n in 0..3 {
            let delayed = EnqueueRequest { delay_ms: 60_000, ..EnqueueRequest::new(json!(n)) };
            queue.enqueue(delayed).await.unwrap();
        }
        put(&queue, json!("ready"), 0).await;
        let claimed = queue.claim(now_claim(1_000)).await.unwrap();
        assert_eq!(claimed.is_some(), reaches_ready_item, "scan limit {scan_items_per_lane}");
    }
}

#[tokio::test]
async fn delays_and_visibility_timeouts_are_accepted_at_their_bounds() {
    use recipes_queue::config::{DELAY_MS_MAX, VISIBILITY_TIMEOUT_MS_MAX};
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let queue = open(&ensemble, &config("time-bounds"), &clock).await;
    let at_bound = EnqueueRequest { delay_ms: DELAY_MS_MAX, ..EnqueueRequest::new(json!(1)) };
    queue.enqueue(at_bound).await.unwrap();
    let past = EnqueueRequest { delay_ms: DELAY_MS_MAX + 1, ..EnqueueRequest::new(json!(1)) };
    assert!(matches!(queue.enqueue(past).await, Err(QueueError::Invalid(_))));

    put(&queue, json!("now"), 0).await;
    let too_long = now_claim(VISIBILITY_TIMEOUT_MS_MAX + 1);
    assert!(matches!(queue.claim(too_long).await, Err(QueueError::Invalid(_))));
    let claimed = queue.claim(now_claim(VISIBILITY_TIMEOUT_MS_MAX)).await.unwrap().unwrap();
    assert_eq!(claimed.claimed_until_ms, START_MS + VISIBILITY_TIMEOUT_MS_MAX);
    let past = queue.extend(claimed.receipt, VISIBILITY_TIMEOUT_MS_MAX + 1).await;
    assert!(matches!(past, Err(QueueError::Invalid(_))));
    let past = queue.nack(claimed.receipt, DELAY_MS_MAX + 1).await;
    assert!(matches!(past, Err(QueueError::Invalid(_))));
    // A claim may wait the longest allowed when an item is there at once.
    let request = ClaimRequest {
        visibility_timeout_ms: 1_000,
        wait_ms: recipes_queue::config::CLAIM_WAIT_MS_MAX,
    };
    queue.nack(claimed.receipt, 0).await.unwrap();
    assert!(within("claim at the wait bound", queue.claim(request)).await.unwrap().is_some());
}

#[tokio::test]
async fn an_idempotency_key_lives_as_long_as_its_item() {
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { max_attempts: 1, ..config("key-lifetime") };
    let queue = open(&ensemble, &config, &clock).await;
    let keyed = |key: &str| EnqueueRequest {
        idempotency_key: Some(key.to_string()),
        ..EnqueueRequest::new(json!(key))
    };
    let acked = queue.enqueue(keyed("a")).await.unwrap();
    let dead = queue.enqueue(keyed("b")).await.unwrap();
    let first = take(&queue).await;
    queue.ack(first.receipt).await.unwrap();
    let second = take(&queue).await;
    assert_eq!(queue.nack(second.receipt, 0).await.unwrap(), NackOutcome::DeadLettered);

    let again = queue.enqueue(keyed("a")).await.unwrap();
    assert!(!again.duplicate && again.id != acked.id, "an acked item's key is free again");
    let again = queue.enqueue(keyed("b")).await.unwrap();
    assert!(!again.duplicate && again.id != dead.id, "a dead item's key is free again");
    let inspector = ensemble.client().await;
    let layout = QueueLayout::new(&config.root, "jobs", config.items_per_bucket);
    assert_eq!(inspector.list_children(&layout.keys()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn bulk_enqueue_writes_the_same_layout_in_order_and_respects_the_bounds() {
    use recipes_queue::bulk::BULK_ITEMS_MAX;
    let ensemble = Ensemble::start().await;
    let clock = ManualClock::new(START_MS);
    let config = QueueConfig { max_items: 12, items_per_bucket: 4, ..config("bulk") };
    let queue = open(&ensemble, &config, &clock).await;
    put(&queue, json!("single"), 0).await;
    let payloads: Vec<_> = (0..10).map(|n| json!(n)).collect();
    let ids = queue.enqueue_bulk(0, &payloads).await.unwrap();
    let sequences: Vec<u64> = ids.iter().map(|id| id.sequence).collect();
    assert_eq!(sequences, (1..11).collect::<Vec<_>>(), "after the single item, in order");
    assert_eq!(queue.stats().await.unwrap().depth, 11);
    // One more fits the bound of 12; two do not, and nothing of them is written.
    let two = [json!("a"), json!("b")];
    assert_eq!(queue.enqueue_bulk(0, &two).await, Err(QueueError::QueueFull { limit: 12 }));
    assert_eq!(queue.stats().await.unwrap().depth, 11);
    queue.enqueue_bulk(0, &two[..1]).await.unwrap();

    // Claims see bulk items exactly like single ones, FIFO across the buckets it opened.
    let mut order = Vec::new();
    while let Some(claimed) = queue.claim(now_claim(30_000)).await.unwrap() {
        order.push(claimed.payload);
        queue.ack(claimed.receipt).await.unwrap();
    }
    let mut expected = vec![json!("single")];
    expected.extend(payloads);
    expected.push(json!("a"));
    assert_eq!(order, expected);

    let too_many: Vec<_> = (0..=BULK_ITEMS_MAX).map(|n| json!(n)).collect();
    assert!(matches!(queue.enqueue_bulk(0, &too_many).await, Err(QueueError::Invalid(_))));
    assert!(matches!(queue.enqueue_bulk(0, &[]).await, Err(QueueError::Invalid(_))));
    let roomy = QueueConfig { max_items: 2 * BULK_ITEMS_MAX as u64, ..config.clone() };
    let roomy = Queue::open(ensemble.client().await, "roomy", roomy, Arc::new(clock.clone()))
        .await
        .unwrap();
    let at_bound = roomy.enqueue_bulk(3, &too_many[..BULK_ITEMS_MAX]).await.unwrap();
    assert_eq!(at_bound.len(), BULK_ITEMS_MAX);
    assert_eq!(roomy.stats().await.unwrap().depth, BULK_ITEMS_MAX as u64);
}
