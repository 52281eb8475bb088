//! Open-addressing tables with linear probing, and what they share: the index of positions by
//! hash ([`PositionIndex`]) that the RIB's tables and the embedded switch's tables find their
//! entries with; removing a slot without leaving a tombstone; loading a slot into the cache
//! ahead of a search.

mod position_index;
pub use position_index::PositionIndex;

/// How far `to` is from `from`, walking forward and wrapping.
fn distance(from: usize, to: usize, slots: usize) -> usize {
    if to >= from {
        to - from
    } else {
        to + slots - from
    }
}

/// Empties slot `hole` of a linearly probed array whose every run ends at an `empty` slot,
/// moving back the slots after it that probed past it (`home` says where a slot's search
/// starts), so that a search never stops at the hole short of its slot.
pub fn remove_shifting_back<T: Copy + PartialEq>(
    slots: &mut [T],
    mut hole: usize,
    empty: T,
    home: impl Fn(T) -> usize,
) {
    let n = slots.len();
    let mut i = hole;
    loop {
        i += 1;
        if i == n {
            i = 0;
        }
        let slot = slots[i];
        if slot == empty {
            break;
        }
        let h = home(slot);
        if distance(h, hole, n) < distance(h, i, n) {
            slots[hole] = slot;
            hole = i;
        }
    }
    slots[hole] = empty;
}

/// Starts loading `slot` into the cache, so that a search that begins there soon does not wait
/// for memory (a table of a million entries is megabytes, and its keys land all over it). A
/// hint only: no effect off x86-64.
pub fn prefetch<T>(slot: &T) {
    let _slot: *const T = slot;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults, whatever the address (here a
    // live reference's).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(_slot.cast());
    }
}
