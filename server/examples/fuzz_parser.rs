//! The long fuzz run of the parser and ingest: random and mutated inputs for a set time, each
//! one checked for panics and for heap growth beyond 32 bytes per input byte (+256 KiB).
//!
//! ```sh
//! cargo run --release -p server --example fuzz_parser -- 600      # ten minutes
//! ```
//! Prints the executions made; a crashing input is written to `target/fuzz-crashes/` and the
//! run exits with status 1.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::print_stdout)] // a tool that reports

#[path = "../tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

fn save(text: &str, why: &str) {
    let dir = std::path::Path::new("target/fuzz-crashes");
    std::fs::create_dir_all(dir).expect("crash directory");
    let path = dir.join(format!("crash-{}.txt", std::process::id()));
    std::fs::write(&path, text).expect("write crash input");
    println!("fuzz: {why}; input saved to {}", path.display());
}

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map_or(60, |arg| arg.parse().expect("seconds as a number"));
    let seed: u64 = std::env::args().nth(2).map_or_else(
        || std::process::id().into(),
        |arg| arg.parse().expect("seed"),
    );
    let corpus = fuzz_support::corpus();
    println!(
        "fuzz: {} corpus pages, seed {seed}, {seconds} s",
        corpus.len()
    );
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = fuzz_support::rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut executions: u64 = 0;
    let mut samples: u64 = 0;
    let mut worst_ratio = 0.0_f64;
    while Instant::now() < deadline {
        for _ in 0..256 {
            let text = fuzz_support::input(&mut rng, &corpus);
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            match std::panic::catch_unwind(|| fuzz_support::exercise(&text)) {
                Ok(count) => samples += count as u64,
                Err(_) => {
                    save(&text, "panic");
                    std::process::exit(1);
                }
            }
            let grown = PEAK.load(Ordering::Relaxed).saturating_sub(before);
            if grown > 32 * text.len() + 256 * 1024 {
                save(
                    &text,
                    &format!("{grown} heap bytes for {} input bytes", text.len()),
                );
                std::process::exit(1);
            }
            worst_ratio = worst_ratio.max(grown as f64 / (text.len() + 1) as f64);
            executions += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {executions} executions in {elapsed:.0} s ({:.0}/s), {samples} samples parsed, \
         no panic, worst heap growth {worst_ratio:.1} bytes per input byte",
        executions as f64 / elapsed
    );
}
