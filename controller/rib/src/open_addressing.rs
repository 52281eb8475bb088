//! What the open-addressing tables with linear probing share (the RIB's table index here, the
//! data plane's IPv4 route entries in `p4vrf`): removing a slot without leaving a tombstone.

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
