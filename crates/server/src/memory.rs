//! Handing freed memory back to the operating system.
//!
//! A snapshot briefly needs about as much memory again as the tree's data
//! (its encoding, and redb's dirty pages). glibc's allocator keeps what was
//! freed in the middle of its heaps for reuse, so without a trim a node's
//! resident size would stay at its snapshot peak for good: operators read
//! that as the node's footprint.

/// Returns free heap pages to the OS (glibc's `malloc_trim`); a no-op elsewhere.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes
    // the arena locks itself and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
