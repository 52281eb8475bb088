//! The index of a table whose entries sit at positions (the RIB's `KeyedTable`, the embedded
//! switch's table stores): where each entry is, found by its key's hash.
//!
//! Open addressing with linear probing over one array of `u32` slots. A slot holds the entry's
//! position + 1 in its low bits and, above them, the same bits of its key's hash (the tag);
//! 0 is an empty slot, and a slot whose position bits are all ones held a removed entry (a
//! tombstone, which a search walks past). The position bits are as few as the table's
//! positions need (20 at a million entries), so the tag is what is left (12 bits there). A
//! search starts at the slot the hash's top 32 bits scale to (its home), compares tags, and
//! reads an entry's key only where the tag matches (one slot in 4,096 by chance at a million).
//! Why this shape:
//!
//! * a new key costs one cache miss at a million keys (where a `hashbrown` table of positions
//!   cost two: the control bytes, then the bucket written): the tag and the position are in
//!   the same slot;
//! * the slot a search starts at is known from the hash alone, so a caller that has a batch of
//!   keys can start loading their slots before it needs them ([`PositionIndex::prefetch`]);
//! * 4 bytes a slot at 7/12 to 7/8 load: 4.6 to 6.9 bytes an entry, where 8-byte slots
//!   holding the whole top half of the hash (session 10 to 15) took twice that. The price:
//!   a slot does not hold its home, so growing asks the table for each entry's hash again
//!   (`hash_at`, called in position order, so the table's entries are read front to back),
//!   and a removal leaves a tombstone rather than moving the run back (that needs each moved
//!   slot's home); tombstones go at the next rebuild, or at once where the run ends;
//! * any size will do, so the index grows by half its size, not double.

/// How many placements of a rebuild have their slots loaded ahead ([`PositionIndex::place_all`]).
const PLACE_AHEAD: usize = 16;

/// Slots of a new index.
const MIN_SLOTS: usize = 8;

/// Slots that hold `len` positions under 7/8 load (none for none).
fn slots_for(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len * 8).div_ceil(7).max(MIN_SLOTS)
    }
}

/// Positions `slots` slots hold before the index grows.
fn capacity_of(slots: usize) -> usize {
    slots * 7 / 8
}

/// The slot a search for `hash` starts at: the hash's top 32 bits scaled to `slots`.
fn home(hash: u64, slots: usize) -> usize {
    (((hash >> 32) * slots as u64) >> 32) as usize
}

/// The position bits (a low mask of a slot) for positions up to `max`: all ones is the
/// tombstone and 0 the empty slot, so they hold `max + 1` and one value more.
fn position_mask_for(max: u32) -> u32 {
    let bits = 32 - (max + 2).leading_zeros();
    u32::MAX >> (32 - bits)
}

/// Positions (at most `u32::MAX - 2`) by hash.
#[derive(Clone)]
pub struct PositionIndex {
    /// `tag | position + 1`, the tag being the hash's bits above `mask`; 0 is empty, `mask`
    /// a tombstone. No slots while empty.
    slots: Box<[u32]>,
    /// The low bits of a slot that hold the position.
    mask: u32,
    len: usize,
    /// Tombstones among the slots.
    tombstones: usize,
    /// The positions held are always `0..len` (a table that moves its last entry into a
    /// hole): a rebuild lists them without a pass over the slots.
    dense: bool,
}

impl Default for PositionIndex {
    fn default() -> Self {
        PositionIndex {
            slots: Box::default(),
            mask: position_mask_for(0),
            len: 0,
            tombstones: 0,
            dense: false,
        }
    }
}

impl std::fmt::Debug for PositionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PositionIndex")
            .field("len", &self.len)
            .field("slots", &self.slots.len())
            .field("tombstones", &self.tombstones)
            .finish()
    }
}

/// What a search found: the slot holding the position looked for, or where a new one goes
/// (the first tombstone on the way, else the empty slot that ended the search).
enum Found {
    At(usize),
    Vacant(usize),
}

impl PositionIndex {
    /// An empty index whose positions will always be `0..len` (the table fills holes from
    /// its end, as `KeyedTable` does), which makes its rebuilds cheaper.
    pub fn dense() -> Self {
        PositionIndex {
            dense: true,
            ..PositionIndex::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many positions it holds before it grows.
    pub fn capacity(&self) -> usize {
        capacity_of(self.slots.len())
    }

    /// The position a live slot holds.
    fn position(&self, slot: u32) -> u32 {
        (slot & self.mask) - 1
    }

    fn is_live(&self, slot: u32) -> bool {
        slot != 0 && slot & self.mask != self.mask
    }

    fn slot_of(&self, hash: u64, position: u32) -> u32 {
        debug_assert!(
            position < self.mask - 1,
            "the position fits the slot's bits"
        );
        (hash as u32 & !self.mask) | (position + 1)
    }

    /// Searches from `hash`'s home for a live slot of its tag for which `is` says yes.
    fn search(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Found {
        let n = self.slots.len();
        let tag = hash as u32 & !self.mask;
        let mut i = home(hash, n);
        let mut vacant = None;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Found::Vacant(vacant.unwrap_or(i));
            }
            if slot & self.mask == self.mask {
                vacant.get_or_insert(i);
            } else if slot & !self.mask == tag && is(self.position(slot)) {
                return Found::At(i);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// The position with hash `hash` for which `is` says yes (`is` reads the entry there).
    pub fn find(&self, hash: u64, is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        match self.search(hash, is) {
            Found::At(i) => Some(self.position(self.slots[i])),
            Found::Vacant(_) => None,
        }
    }

    /// The position with hash `hash` for which `is` says yes, or, when there is none, `None`
    /// after recording `new` under `hash`. `hash_at` gives the hash of the entry at a
    /// position held, for a rebuild (growth, a clean-up of tombstones, more position bits).
    pub fn find_or_insert(
        &mut self,
        hash: u64,
        is: impl FnMut(u32) -> bool,
        new: u32,
        hash_at: impl FnMut(u32) -> u64,
    ) -> Option<u32> {
        assert!(new <= u32::MAX - 2, "positions stay below u32::MAX - 1");
        let full = (self.len + self.tombstones + 1) * 8 > self.slots.len() * 7;
        if full || new >= self.mask - 1 {
            self.make_room(new.saturating_add(new / 4).min(u32::MAX - 2), hash_at);
        }
        match self.search(hash, is) {
            Found::At(i) => Some(self.position(self.slots[i])),
            Found::Vacant(i) => {
                if self.slots[i] != 0 {
                    self.tombstones -= 1;
                }
                self.slots[i] = self.slot_of(hash, new);
                self.len += 1;
                None
            }
        }
    }

    /// Rebuilds before an insert: one and a half times larger when more than three quarters
    /// full, else at the same size to drop the tombstones (so a quarter of the capacity at
    /// least is free after it, and rebuilds stay rare however entries come and go); with
    /// position bits up to `at_least` in either case.
    #[cold]
    fn make_room(&mut self, at_least: u32, hash_at: impl FnMut(u32) -> u64) {
        let n = self.slots.len();
        let slots = if (self.len + 1) * 4 > capacity_of(n) * 3 {
            (n * 3 / 2).max(slots_for(self.len + 1))
        } else {
            n
        };
        self.rebuild(slots, at_least, hash_at);
    }

    /// Every position held, in no particular order.
    pub fn positions(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|s| self.is_live(**s))
            .map(|s| self.position(*s))
    }

    /// Removes the position with hash `hash` for which `is` says yes; returns it. Its slot
    /// becomes a tombstone, or empty where the run ends there (with the tombstones just
    /// before it, which no search needs any more).
    pub fn remove(&mut self, hash: u64, is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let Found::At(i) = self.search(hash, is) else {
            return None;
        };
        let removed = self.position(self.slots[i]);
        self.len -= 1;
        let n = self.slots.len();
        let next = |i: usize| if i + 1 == n { 0 } else { i + 1 };
        if self.slots[next(i)] != 0 {
            self.slots[i] = self.mask;
            self.tombstones += 1;
            return Some(removed);
        }
        self.slots[i] = 0;
        let mut j = i;
        loop {
            j = if j == 0 { n - 1 } else { j - 1 };
            if self.slots[j] != self.mask {
                break;
            }
            self.slots[j] = 0;
            self.tombstones -= 1;
        }
        Some(removed)
    }

    /// Changes the recorded position `from` (with hash `hash`) to a lower one, `to` (where a
    /// table moved the entry).
    pub fn repoint(&mut self, hash: u64, from: u32, to: u32) {
        assert!(to < from, "an entry moves down");
        let Found::At(i) = self.search(hash, |p| p == from) else {
            panic!("every entry is indexed");
        };
        self.slots[i] = self.slot_of(hash, to);
    }

    /// Starts loading the slot a search for `hash` begins at into the cache, so that the
    /// search does not wait for memory. A hint only: no effect off x86-64.
    pub fn prefetch(&self, hash: u64) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        crate::prefetch(&self.slots[home(hash, n)]);
    }

    /// A [`PositionIndex::dense`] index of positions `0..len`, the entry at each hashing to
    /// `hash_at` of it (a table reindexed after a bulk removal).
    pub fn of_positions(len: u32, hash_at: impl FnMut(u32) -> u64) -> Self {
        let mut index = PositionIndex::dense();
        if len == 0 {
            return index;
        }
        index.refill(slots_for(len as usize), len - 1, 0..len, hash_at);
        index.len = len as usize;
        index
    }

    /// Gives memory back once under a quarter of the load it may have, keeping room for
    /// half as many again.
    pub fn shrink_if_sparse(&mut self, hash_at: impl FnMut(u32) -> u64) {
        let n = self.slots.len();
        if n > 64 && self.len * 4 < self.capacity() {
            self.rebuild(slots_for(self.len * 3 / 2), 0, hash_at);
        }
    }

    /// Writes `position` into the first free slot from `hash`'s home (no tombstones: a
    /// rebuild).
    fn place(&mut self, hash: u64, position: u32) {
        let n = self.slots.len();
        let mut i = home(hash, n);
        while self.slots[i] != 0 {
            i += 1;
            if i == n {
                i = 0;
            }
        }
        self.slots[i] = self.slot_of(hash, position);
    }

    /// Moves the positions held into a fresh array of `slots` (more than `len`), with position
    /// bits for them, for `at_least` and for as many positions as the array holds. The
    /// positions are listed in a bitmap first, so that `hash_at` is asked in position order:
    /// a table's entries are read front to back, not all over.
    fn rebuild(&mut self, slots: usize, at_least: u32, hash_at: impl FnMut(u32) -> u64) {
        if self.dense {
            let len = self.len as u32;
            let max = at_least.max(len.saturating_sub(1));
            self.refill(slots, max, 0..len, hash_at);
            return;
        }
        let live = |s: &&u32| self.is_live(**s);
        let held_max = self
            .slots
            .iter()
            .filter(live)
            .map(|s| self.position(*s))
            .max();
        let mut bitmap = vec![0u64; held_max.map_or(0, |m| m as usize / 64 + 1)];
        for slot in self.slots.iter().filter(live) {
            let p = self.position(*slot);
            bitmap[p as usize / 64] |= 1 << (p % 64);
        }
        let max = at_least.max(held_max.unwrap_or(0));
        let held = bitmap.into_iter().enumerate().flat_map(|(w, mut bits)| {
            std::iter::from_fn(move || {
                let at = bits.trailing_zeros();
                bits &= bits.wrapping_sub(1);
                (at < 64).then_some(w as u32 * 64 + at)
            })
        });
        self.refill(slots, max, held, hash_at);
    }

    /// Empties the index into a fresh array of `slots`, with position bits for `max` and for
    /// as many positions as the array holds, and places `positions` (none of them held).
    fn refill(
        &mut self,
        slots: usize,
        max: u32,
        positions: impl Iterator<Item = u32>,
        hash_at: impl FnMut(u32) -> u64,
    ) {
        let room = capacity_of(slots).min(u32::MAX as usize - 2) as u32;
        self.slots = vec![0; slots].into_boxed_slice();
        self.mask = position_mask_for(max.max(room));
        self.tombstones = 0;
        self.place_all(positions, hash_at);
    }

    /// Places `positions` (none held yet) by `hash_at` of each. Their homes are all over the
    /// array, so each write would wait for memory (a cache miss an entry, most of a rebuild's
    /// time at a million): the home of the position [`PLACE_AHEAD`] further on is loaded
    /// while this one is written.
    fn place_all(
        &mut self,
        positions: impl Iterator<Item = u32>,
        mut hash_at: impl FnMut(u32) -> u64,
    ) {
        let n = self.slots.len();
        let mut ahead = [(0u64, 0u32); PLACE_AHEAD];
        let mut count = 0;
        for p in positions {
            let hash = hash_at(p);
            crate::prefetch(&self.slots[home(hash, n)]);
            let waiting = std::mem::replace(&mut ahead[count % PLACE_AHEAD], (hash, p));
            if count >= PLACE_AHEAD {
                self.place(waiting.0, waiting.1);
            }
            count += 1;
        }
        for k in count.saturating_sub(PLACE_AHEAD)..count {
            let (hash, p) = ahead[k % PLACE_AHEAD];
            self.place(hash, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Hashes that collide on purpose: seven homes, so runs are long and wrap, and three tags,
    /// so most tag matches are not the key.
    fn hash_of(key: u16) -> u64 {
        u64::from(key % 7) << 61 | u64::from(key % 3) << 29 | u64::from(key)
    }

    /// The hash of the key the model holds at position `p`.
    fn hash_at(model: &BTreeMap<u16, u32>, p: u32) -> u64 {
        let key = model
            .iter()
            .find(|(_, at)| **at == p)
            .expect("a position held")
            .0;
        hash_of(*key)
    }

    proptest! {
        /// Inserts, removals and repoints leave every recorded position findable under its
        /// hash and nothing else, with keys whose hashes share homes and tags, and positions
        /// above what the index was sized for (as the switch's record numbers are).
        #[test]
        fn finds_what_it_holds(ops in proptest::collection::vec((0u16..200, 0u8..3), 0..800)) {
            let mut index = PositionIndex::default();
            // key -> position: key + 1000 when inserted, the key itself once repointed.
            let mut model: BTreeMap<u16, u32> = BTreeMap::new();
            for (key, op) in ops {
                let hash = hash_of(key);
                let at = |model: &BTreeMap<u16, u32>, p: u32| model.get(&key) == Some(&p);
                match op {
                    0 => {
                        let new = u32::from(key) + 1000;
                        let got = index.find_or_insert(
                            hash,
                            |p| at(&model, p),
                            new,
                            |p| hash_at(&model, p),
                        );
                        match model.get(&key) {
                            Some(p) => prop_assert_eq!(got, Some(*p)),
                            None => {
                                prop_assert_eq!(got, None);
                                model.insert(key, new);
                            }
                        }
                    }
                    1 => {
                        let got = index.remove(hash, |p| at(&model, p));
                        prop_assert_eq!(got, model.remove(&key));
                        index.shrink_if_sparse(|p| hash_at(&model, p));
                    }
                    _ => {
                        if let Some(p) = model.get(&key).copied().filter(|p| *p != u32::from(key)) {
                            index.repoint(hash, p, u32::from(key));
                            model.insert(key, u32::from(key));
                        }
                    }
                }
                prop_assert_eq!(index.len(), model.len());
                prop_assert_eq!(index.positions().count(), model.len());
            }
            for key in 0..200u16 {
                let want = model.get(&key).copied();
                prop_assert_eq!(index.find(hash_of(key), |p| Some(p) == want), want);
            }
        }
    }

    proptest! {
        /// A dense index kept as `KeyedTable` keeps it (a removal moves the last entry into
        /// the hole) finds every key at its position through growth, shrinking and rebuilds
        /// that list the positions as `0..len`.
        #[test]
        fn dense_finds_what_it_holds(ops in proptest::collection::vec((0u16..300, any::<bool>()), 0..1500)) {
            let mut index = PositionIndex::dense();
            let mut keys: Vec<u16> = Vec::new();
            for (key, insert) in ops {
                let hash = hash_of(key);
                let held = keys.iter().position(|k| *k == key).map(|p| p as u32);
                if insert {
                    let new = keys.len() as u32;
                    let got = index.find_or_insert(
                        hash,
                        |p| keys[p as usize] == key,
                        new,
                        |p| hash_of(keys[p as usize]),
                    );
                    prop_assert_eq!(got, held);
                    if held.is_none() {
                        keys.push(key);
                    }
                } else {
                    let got = index.remove(hash, |p| keys[p as usize] == key);
                    prop_assert_eq!(got, held);
                    if let Some(i) = got {
                        let last = keys.len() as u32 - 1;
                        if i != last {
                            index.repoint(hash_of(keys[last as usize]), last, i);
                        }
                        keys.swap_remove(i as usize);
                        index.shrink_if_sparse(|p| hash_of(keys[p as usize]));
                    }
                }
                prop_assert_eq!(index.len(), keys.len());
            }
            for key in 0..300u16 {
                let want = keys.iter().position(|k| *k == key).map(|p| p as u32);
                prop_assert_eq!(index.find(hash_of(key), |p| keys[p as usize] == key), want);
            }
        }
    }

    /// A hash spread over all 64 bits, as the tables' hashers give.
    fn spread(key: u32) -> u64 {
        u64::from(key)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29)
            ^ u64::from(key)
    }

    /// `index` given positions `0..len` of keys `0..len`, keyed by `spread`.
    fn filled(mut index: PositionIndex, len: u32) -> PositionIndex {
        for p in 0..len {
            let got = index.find_or_insert(spread(p), |q| q == p, p, spread);
            assert_eq!(got, None);
        }
        index
    }

    /// Four bytes a slot, at no less than 7/12 load once grown: at most 7 bytes a position at
    /// every size from a thousand to a million.
    #[test]
    fn at_most_seven_bytes_a_position() {
        let mut index = PositionIndex::dense();
        for p in 0..1_000_000u32 {
            index.find_or_insert(spread(p), |q| q == p, p, spread);
            if p >= 1000 && p % 997 == 0 {
                let bytes = std::mem::size_of_val(&*index.slots);
                assert!(
                    bytes <= 7 * (p as usize + 1),
                    "{bytes} bytes for {} positions",
                    p + 1
                );
            }
        }
        for p in (0..1_000_000u32).step_by(1009) {
            assert_eq!(index.find(spread(p), |q| q == p), Some(p));
        }
    }

    /// Entries coming and going at a steady count reuse the tombstones' room: the index stays
    /// its size and every entry stays findable.
    #[test]
    fn churn_at_a_steady_count_does_not_grow() {
        let mut index = filled(PositionIndex::default(), 1000);
        let slots = index.slots.len();
        // Positions are keys here; a key leaves and a new one comes in its position.
        let mut key_at: Vec<u32> = (0..1000).collect();
        for step in 0..100_000u32 {
            let p = (step * 7919) % 1000;
            let old = key_at[p as usize];
            assert_eq!(index.remove(spread(old), |q| q == p), Some(p));
            let new = 1000 + step;
            let hash_at = |q: u32| spread(if q == p { new } else { key_at[q as usize] });
            assert_eq!(
                index.find_or_insert(spread(new), |_| false, p, hash_at),
                None
            );
            key_at[p as usize] = new;
        }
        assert_eq!(index.slots.len(), slots);
        assert!(index.tombstones + index.len <= index.capacity());
        for (p, key) in key_at.iter().enumerate() {
            assert_eq!(index.find(spread(*key), |q| q == p as u32), Some(p as u32));
        }
    }

    /// Removing every entry leaves an index that finds none, shrinks as it empties, and takes
    /// them all back.
    #[test]
    fn empties_and_refills() {
        let mut index = filled(PositionIndex::dense(), 5000);
        let full = index.slots.len();
        for p in (0..5000u32).rev() {
            assert_eq!(index.remove(spread(p), |q| q == p), Some(p));
            index.shrink_if_sparse(spread);
        }
        assert!(index.is_empty());
        assert!(
            index.slots.len() < full / 8,
            "{} slots of {full}",
            index.slots.len()
        );
        for p in 0..5000u32 {
            assert_eq!(index.find(spread(p), |q| q == p), None);
        }
        for p in 0..5000u32 {
            assert_eq!(index.find_or_insert(spread(p), |q| q == p, p, spread), None);
        }
        for p in 0..5000u32 {
            assert_eq!(index.find(spread(p), |q| q == p), Some(p));
        }
    }

    /// An index built from positions finds each, as one built an insert at a time does.
    #[test]
    fn of_positions_finds_each() {
        let index = PositionIndex::of_positions(3000, spread);
        assert_eq!(index.len(), 3000);
        for p in 0..3000u32 {
            assert_eq!(index.find(spread(p), |q| q == p), Some(p));
        }
        assert_eq!(index.find(spread(3000), |q| q == 3000), None);
    }
}
