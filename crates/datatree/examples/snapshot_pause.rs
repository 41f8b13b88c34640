//! How long a snapshot holds up the request path: the server takes a view of the tree
//! on the thread that applies txns (then encodes it elsewhere), and the first change to
//! a node the view shares copies that node. Prints both for a tree of N znodes under
//! one parent (the shape `herald bench --workload create` makes), median of 5.
//!
//!     cargo run --release -p datatree --example snapshot_pause -- 300000

mod common;

use std::time::{Duration, Instant};

use common::create;
use datatree::DataTree;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let znodes: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(100_000);
    let mut tree = DataTree::new();
    tree.apply(&create(1, "/herald-bench".into()));
    let mut zxid = 1;
    let mut next_create = |tree: &mut DataTree| {
        zxid += 1;
        let path = format!("/herald-bench/c{}-{}", zxid % 64, zxid / 64);
        let outcome = tree.apply(&create(zxid, path));
        assert!(outcome.result.is_ok(), "create {zxid}: {:?}", outcome.result);
    };
    for _ in 0..znodes {
        next_create(&mut tree);
    }
    let (mut views, mut first_writes, mut later_writes) = (Vec::new(), Vec::new(), Vec::new());
    let mut encodes = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let view = tree.snapshot_view();
        views.push(started.elapsed());
        let started = Instant::now();
        next_create(&mut tree);
        first_writes.push(started.elapsed());
        let started = Instant::now();
        next_create(&mut tree);
        later_writes.push(started.elapsed());
        let started = Instant::now();
        let mut bytes = 0;
        view.encode_in_pieces(4 << 20, |piece| {
            bytes += piece.len();
            Ok::<(), ()>(())
        })
        .expect("a counting sink cannot fail");
        encodes.push(started.elapsed());
        assert!(bytes > znodes * 100);
    }
    let encoded = tree.snapshot_view().encode();
    let started = Instant::now();
    let restored = DataTree::from_snapshot(&encoded).expect("the tree's own snapshot decodes");
    let decode = started.elapsed();
    assert_eq!(restored.node_count(), tree.node_count());
    println!("decoding the snapshot ({} MB) into a tree {decode:?}", encoded.len() >> 20);
    println!(
        "{znodes} znodes: view {:?}, first create after it {:?}, the next {:?}; encoding the view (elsewhere) {:?}",
        median(views),
        median(first_writes),
        median(later_writes),
        median(encodes)
    );
}
