//! Where a prefix's selected candidate and its BGP best path are among its candidates, kept
//! in the spare bits of the entry's key room ([`KeyRoom`]): 13 bits each.
//!
//! They were two `u32`s of every VRF table entry. With the entry's IPv4 key folded into it
//! (the table's [`crate::table::KeyInValue`] slot), the key's address and length and both
//! indexes share one 8-byte word, and a VRF table's IPv4 slot is 32 bytes, not 40. A prefix
//! with more candidates than the bits count (thousands: one prefix from as many PEs) keeps
//! both indexes in its held box instead (`Held::wide`), and its bits say so.
//!
//! The indexes read back exactly as they were set, [`NONE`], [`GONE`] and [`CHANGED`]
//! included; only where they are kept differs.

use crate::table::{HasKeyRoom, KeyRoom};
use crate::{PrefixEntry, CHANGED, GONE, NONE};

/// Bits of each index.
const FIELD_BITS: u32 = 13;
const FIELD: u32 = (1 << FIELD_BITS) - 1;
/// Field values: no candidate, the candidate left, and the indexes are in the held box.
const FIELD_NONE: u32 = FIELD;
const FIELD_GONE: u32 = FIELD - 1;
const FIELD_WIDE: u32 = FIELD - 2;
/// In the BGP best path's field: [`CHANGED`].
const FIELD_CHANGED: u32 = 1 << (FIELD_BITS - 1);
/// The largest index the selected candidate's field holds, and the BGP best path's (whose
/// top bit is [`FIELD_CHANGED`]).
const BEST_MAX: u32 = FIELD_WIDE - 1;
const BGP_MAX: u32 = (FIELD_WIDE & !FIELD_CHANGED) - 1;

// Both fields fit in the spare bits, and every index field (a BGP one with its changed bit)
// is below the special values.
const _: () = assert!(2 * FIELD_BITS <= KeyRoom::SPARE_BITS);
const _: () = assert!((BGP_MAX | FIELD_CHANGED) < FIELD_WIDE && BEST_MAX < FIELD_WIDE);

/// The spare bits of an entry with no selection.
pub(crate) const UNSELECTED: u32 = FIELD_NONE << FIELD_BITS | FIELD_NONE;

fn encode_best(best: u32) -> Option<u32> {
    if best <= BEST_MAX {
        return Some(best);
    }
    match best {
        NONE => Some(FIELD_NONE),
        GONE => Some(FIELD_GONE),
        _ => None,
    }
}

fn encode_bgp(bgp: u32) -> Option<u32> {
    let index = bgp & !CHANGED;
    if index <= BGP_MAX {
        // CHANGED moves from the word's top bit to the field's.
        return Some(index | (bgp & CHANGED) >> (31 - (FIELD_BITS - 1)));
    }
    match bgp {
        NONE => Some(FIELD_NONE),
        GONE => Some(FIELD_GONE),
        _ => None,
    }
}

/// A field back as an index, [`NONE`] or [`GONE`]; `None` for [`FIELD_WIDE`]. Every field
/// below [`FIELD_WIDE`] is an index, with [`FIELD_CHANGED`] in the BGP best path's
/// (`changed_bit`; 0 for the selected candidate's).
fn decode(field: u32, changed_bit: u32) -> Option<u32> {
    if field < FIELD_WIDE {
        let changed = if field & changed_bit != 0 { CHANGED } else { 0 };
        return Some(field & !changed_bit | changed);
    }
    match field {
        FIELD_NONE => Some(NONE),
        FIELD_GONE => Some(GONE),
        _ => None,
    }
}

impl PrefixEntry {
    fn fields(&self) -> (u32, u32) {
        let bits = self.key_room().spare();
        (bits & FIELD, bits >> FIELD_BITS & FIELD)
    }

    /// Where the candidate selected by the last delta is ([`NONE`], [`GONE`] or an index).
    pub(crate) fn best(&self) -> u32 {
        decode(self.fields().0, 0).unwrap_or_else(|| self.wide().0)
    }

    /// Where the BGP best path is, with [`CHANGED`] ([`NONE`], [`GONE`] or an index).
    pub(crate) fn bgp(&self) -> u32 {
        decode(self.fields().1, FIELD_CHANGED).unwrap_or_else(|| self.wide().1)
    }

    fn wide(&self) -> (u32, u32) {
        self.held
            .wide()
            .expect("an entry whose bits say wide has its indexes held")
    }

    /// Sets both indexes.
    pub(crate) fn set_selection(&mut self, best: u32, bgp: u32) {
        match (encode_best(best), encode_bgp(bgp)) {
            (Some(best), Some(bgp)) => {
                self.key_room_mut().set_spare(bgp << FIELD_BITS | best);
                self.held.set_wide(None);
            }
            _ => {
                self.key_room_mut()
                    .set_spare(FIELD_WIDE << FIELD_BITS | FIELD_WIDE);
                self.held.set_wide(Some((best, bgp)));
            }
        }
    }

    pub(crate) fn set_best(&mut self, best: u32) {
        self.set_selection(best, self.bgp());
    }

    pub(crate) fn set_bgp(&mut self, bgp: u32) {
        self.set_selection(self.best(), bgp);
    }
}

impl HasKeyRoom for PrefixEntry {
    fn key_room(&self) -> &KeyRoom {
        &self.key_room
    }
    fn key_room_mut(&mut self) -> &mut KeyRoom {
        &mut self.key_room
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index() -> impl Strategy<Value = u32> {
        prop_oneof![
            Just(NONE),
            Just(GONE),
            0u32..16,
            BEST_MAX - 2..BEST_MAX + 3,
            BGP_MAX - 2..BGP_MAX + 3,
            0u32..CHANGED,
        ]
    }

    proptest! {
        /// Any pair of indexes reads back as set, whether it fits the bits or goes to the
        /// held box, and a pair that fits leaves no box behind.
        #[test]
        fn indexes_read_back_as_set(
            pairs in prop::collection::vec((index(), index(), any::<bool>()), 1..6)
        ) {
            let mut entry = PrefixEntry::default();
            prop_assert_eq!((entry.best(), entry.bgp()), (NONE, NONE));
            for (best, bgp, changed) in pairs {
                let bgp = if changed && bgp != NONE && bgp != GONE { bgp | CHANGED } else { bgp };
                entry.set_selection(best, bgp);
                prop_assert_eq!((entry.best(), entry.bgp()), (best, bgp));
                let fits = encode_best(best).is_some() && encode_bgp(bgp).is_some();
                prop_assert_eq!(entry.held.wide().is_some(), !fits);
                prop_assert!(entry.candidates.is_empty());
            }
            entry.set_selection(NONE, NONE);
            prop_assert!(entry.held.wide().is_none() && entry.held.fib().is_none());
        }
    }

    /// The largest indexes the bits hold, and the first ones they do not.
    #[test]
    fn the_limits_are_where_the_fields_end() {
        assert_eq!((BEST_MAX, BGP_MAX), (8188, 4092));
        assert_eq!(encode_best(BEST_MAX), Some(BEST_MAX));
        assert_eq!(encode_best(BEST_MAX + 1), None);
        assert_eq!(encode_bgp(BGP_MAX | CHANGED), Some(BGP_MAX | FIELD_CHANGED));
        assert_eq!(encode_bgp(BGP_MAX + 1), None);
    }
}
