//! The memory and CPU meters the benches share (included by path from each crate's
//! `benches/`: a bench has no crate of its own to depend on). It installs itself as the
//! global allocator: the system allocator, counting live heap bytes and allocations, and the
//! most live bytes seen while peak tracking is on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);
/// The most live bytes seen while `TRACK_PEAK` is set.
static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);
static TRACK_PEAK: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed) + layout.size() as isize;
        LIVE_ALLOCS.fetch_add(1, Relaxed);
        if TRACK_PEAK.load(Relaxed) {
            PEAK_BYTES.fetch_max(live, Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grow = new_size as isize - layout.size() as isize;
        let live = LIVE_BYTES.fetch_add(grow, Relaxed) + grow;
        if TRACK_PEAK.load(Relaxed) {
            PEAK_BYTES.fetch_max(live, Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live heap (bytes, allocations) now.
pub fn heap() -> (isize, isize) {
    (LIVE_BYTES.load(Relaxed), LIVE_ALLOCS.load(Relaxed))
}

/// Starts tracking the most live bytes, from `from`.
#[allow(dead_code)] // not every bench tracks a peak
pub fn track_peak_from(from: isize) {
    PEAK_BYTES.store(from, Relaxed);
    TRACK_PEAK.store(true, Relaxed);
}

/// Stops tracking; the most live bytes seen since [`track_peak_from`].
#[allow(dead_code)]
pub fn stop_peak() -> isize {
    TRACK_PEAK.store(false, Relaxed);
    PEAK_BYTES.load(Relaxed)
}

/// CPU time of this thread so far, in seconds (`/proc/thread-self/schedstat`), so figures can
/// be told apart from time spent waiting for a CPU shared with other work.
pub fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .map_or(0.0, |ns: u64| ns as f64 / 1e9)
}
