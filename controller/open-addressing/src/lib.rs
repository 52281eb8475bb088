//! An open-addressing index with linear probing: positions by hash ([`PositionIndex`]), which
//! the RIB's tables and the embedded switch's tables find their entries with.

mod position_index;
pub use position_index::PositionIndex;

/// Starts loading `slot` into the cache, so that a search that begins there soon does not wait
/// for memory (a table of a million entries is megabytes, and its keys land all over it). A
/// hint only: no effect off x86-64.
pub(crate) fn prefetch<T>(slot: &T) {
    let _slot: *const T = slot;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults, whatever the address (here a
    // live reference's).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(_slot.cast());
    }
}
