//! How much memory a znode costs in the tree: applies N creates of 100-byte
//! znodes under one parent (the shape `herald bench --workload create` makes)
//! and prints the heap bytes the tree holds per znode, as requested from the
//! allocator, and the process's resident-memory growth per znode.
//!
//!     cargo run --release -p datatree --example tree_memory -- 100000

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::create;
use datatree::DataTree;

/// Counts the bytes live on the heap, to tell what the tree holds apart from
/// what the allocator keeps around it.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize =
        statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let znodes: usize = std::env::args().nth(1).and_then(|arg| arg.parse().ok()).unwrap_or(100_000);
    let mut tree = DataTree::new();
    tree.apply(&create(1, "/herald-bench".into()));
    let (heap_before, resident_before) = (LIVE_BYTES.load(Ordering::Relaxed), resident_bytes());
    for index in 0..znodes {
        // The bench's names: connection number, then that connection's sequence.
        let path = format!("/herald-bench/c{}-{}", index % 64, index / 64);
        let outcome = tree.apply(&create(index as i64 + 2, path));
        assert!(outcome.result.is_ok(), "create {index}: {:?}", outcome.result);
    }
    let heap = LIVE_BYTES.load(Ordering::Relaxed) - heap_before;
    let resident = resident_bytes().saturating_sub(resident_before);
    println!(
        "{znodes} znodes: {} heap bytes per znode (requested), {} resident bytes per znode",
        heap / znodes,
        resident / znodes
    );
    drop(tree);
}
