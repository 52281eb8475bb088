//! Decode / encode cost of our codec on a batch of 2000 UPDATEs (30 000 prefixes), with
//! allocations counted by a wrapping global allocator. Run with
//! `cargo bench -p bgp --bench decode` (50 rounds); plain std and no harness, so it builds on
//! stable. Run as a plain binary without `--bench` it does a single quick round.

#[path = "common/input.rs"]
mod input;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bgp::{frame, Context, Message};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` over the batch `rounds` times; prints ns per UPDATE and allocations per UPDATE.
fn measure(name: &str, batch: &[Vec<u8>], rounds: usize, mut f: impl FnMut(&[u8])) {
    batch.iter().for_each(|m| f(m)); // warm-up
    let a0 = ALLOCS.load(Ordering::Relaxed);
    let t0 = Instant::now();
    for _ in 0..rounds {
        batch.iter().for_each(|m| f(m));
    }
    let dt = t0.elapsed();
    let n = (batch.len() * rounds) as f64;
    let allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n;
    let ns = dt.as_nanos() as f64 / n;
    let mpps = input::PREFIXES as f64 * rounds as f64 / dt.as_secs_f64() / 1e6;
    println!("{name:<28} {ns:>9.0} ns/UPDATE {mpps:>7.2} M prefixes/s {allocs:>6.1} allocs/UPDATE");
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a quick smoke run.
    let rounds = if std::env::args().any(|a| a == "--bench") {
        50
    } else {
        1
    };
    let batch = input::batch();
    let bytes: usize = batch.iter().map(Vec::len).sum();
    println!(
        "batch: {} UPDATEs, {} prefixes, {} octets; {rounds} rounds",
        batch.len(),
        input::PREFIXES,
        bytes
    );
    let ctx = Context::all();
    measure("frame only (phase 1)", &batch, rounds, |m| {
        let f = frame(m, &ctx).ok().flatten().expect("frame");
        black_box(f.update().map(|u| u.map(|u| u.nlri.len())).is_some());
    });
    measure("full decode (phase 1+2)", &batch, rounds, |m| {
        let d = Message::decode(m, &ctx).expect("decode");
        assert!(d.findings.is_empty());
        black_box(d);
    });
    let decoded: Vec<Message> = batch
        .iter()
        .map(|m| Message::decode(m, &ctx).expect("decode").message)
        .collect();
    let mut out = Vec::with_capacity(8192);
    let mut i = 0;
    measure("encode (reused buffer)", &batch, rounds, |_| {
        out.clear();
        decoded[i % decoded.len()]
            .encode(&ctx, &mut out)
            .expect("encode");
        i += 1;
        black_box(&out);
    });
}
