//! A short fuzz run in every test pass: 20,000 seeded inputs (random bytes and mutated real
//! pages) through the parser in both formats and through ingest. No panic; memory bounded by
//! the input. The long run is `cargo run --release -p server --example fuzz_parser`.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a test fails by panicking

mod fuzz_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)] // a counting wrapper around the system allocator, nothing more
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn twenty_thousand_arbitrary_inputs_neither_panic_nor_balloon() {
    let corpus = fuzz_support::corpus();
    let mut rng = fuzz_support::rng(0x1f_5c09e);
    let mut worst_ratio = 0.0_f64;
    for _ in 0..20_000 {
        let text = fuzz_support::input(&mut rng, &corpus);
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let _samples = fuzz_support::exercise(&text);
        let grown = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        let allowed = 32 * text.len() + 256 * 1024;
        assert!(
            grown <= allowed,
            "{grown} bytes for a {}-byte input: {:?}",
            text.len(),
            &text[..text.len().min(200)]
        );
        worst_ratio = worst_ratio.max(grown as f64 / (text.len() + 1) as f64);
    }
    eprintln!("worst heap growth: {worst_ratio:.1} bytes per input byte");
}
