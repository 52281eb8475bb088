//! The index of a table whose entries sit at positions (the RIB's `KeyedTable`, the embedded
//! switch's table stores): where each entry is, found by its key's hash.
//!
//! Open addressing with linear probing over one array of `u64` slots. A slot holds the entry's
//! position and the top 32 bits of its key's hash (the tag); 0 is an empty slot. Why not a
//! `hashbrown` table of positions, as before:
//!
//! * a new key cost two cache misses at a million keys there (the control bytes, then the
//!   bucket written), one here: the tag and the position are in the same slot;
//! * the slot a search starts at is known from the hash alone, so a caller that has a batch of
//!   keys can start loading their slots before it needs them ([`PositionIndex::prefetch`]);
//! * growing reads no key: a slot's home is its tag scaled to the table's size (not masked),
//!   so a larger table is filled from the tags, where `hashbrown` hashed every key again (a
//!   cache miss each, on entries all over the table);
//! * any size will do, so the index grows by half its size, not double.
//!
//! Slots are 8 bytes at 7/12 to 7/8 load, where `hashbrown`'s were 5 at 7/16 to 7/8. A search
//! compares tags and reads an entry's key only where the tag matches; the run of slots it
//! walks grows with the load (contiguous, a few cache lines near 7/8).

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

/// The tag of a hash (what a slot keeps of it): its top 32 bits.
fn tag(hash: u64) -> u64 {
    hash >> 32
}

/// The slot a search for a tag starts at: the tag scaled to `slots`.
fn home(tag: u64, slots: usize) -> usize {
    ((tag * slots as u64) >> 32) as usize
}

/// Positions (below `u32::MAX`) by hash.
#[derive(Clone, Default)]
pub struct PositionIndex {
    /// `tag << 32 | position + 1`; 0 is empty. No slots while empty.
    slots: Box<[u64]>,
    len: usize,
}

impl std::fmt::Debug for PositionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PositionIndex")
            .field("len", &self.len)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl PositionIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many positions it holds before it grows.
    pub fn capacity(&self) -> usize {
        self.slots.len() * 7 / 8
    }

    fn position(slot: u64) -> u32 {
        (slot as u32).wrapping_sub(1)
    }

    /// The slot holding a position whose hash is `hash` and for which `is` says yes, or the
    /// empty slot where the search ended.
    fn find_slot(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Result<usize, usize> {
        let n = self.slots.len();
        let t = tag(hash);
        let mut i = home(t, n);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            if slot >> 32 == t && is(Self::position(slot)) {
                return Ok(i);
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
        let i = self.find_slot(hash, is).ok()?;
        Some(Self::position(self.slots[i]))
    }

    /// The position with hash `hash` for which `is` says yes, or, when there is none, `None`
    /// after recording `new` under `hash`.
    pub fn find_or_insert(
        &mut self,
        hash: u64,
        is: impl FnMut(u32) -> bool,
        new: u32,
    ) -> Option<u32> {
        debug_assert!(new < u32::MAX);
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.resize((self.slots.len() * 3 / 2).max(MIN_SLOTS));
        }
        match self.find_slot(hash, is) {
            Ok(i) => Some(Self::position(self.slots[i])),
            Err(i) => {
                self.slots[i] = tag(hash) << 32 | u64::from(new + 1);
                self.len += 1;
                None
            }
        }
    }

    /// Records `position` under `hash`, known to be absent (rebuilding from entries).
    pub fn insert_new(&mut self, hash: u64, position: u32) {
        let _ = self.find_or_insert(hash, |_| false, position);
    }

    /// Every position held, in no particular order.
    pub fn positions(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .filter(|s| **s != 0)
            .map(|s| Self::position(*s))
    }

    /// Removes the position with hash `hash` for which `is` says yes; returns it.
    pub fn remove(&mut self, hash: u64, is: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let hole = self.find_slot(hash, is).ok()?;
        let removed = Self::position(self.slots[hole]);
        let n = self.slots.len();
        crate::remove_shifting_back(&mut self.slots, hole, 0, |slot| home(slot >> 32, n));
        self.len -= 1;
        Some(removed)
    }

    /// Changes the recorded position `from` (with hash `hash`) to `to`.
    pub fn repoint(&mut self, hash: u64, from: u32, to: u32) {
        let i = self
            .find_slot(hash, |p| p == from)
            .expect("every entry is indexed");
        self.slots[i] = tag(hash) << 32 | u64::from(to + 1);
    }

    /// Starts loading the slot a search for `hash` begins at into the cache, so that the
    /// search does not wait for memory. A hint only: no effect off x86-64.
    pub fn prefetch(&self, hash: u64) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        crate::prefetch(&self.slots[home(tag(hash), n)]);
    }

    /// Room for `len` positions without growing (for a rebuild).
    pub fn with_room_for(len: usize) -> Self {
        PositionIndex {
            slots: vec![0; slots_for(len)].into_boxed_slice(),
            len: 0,
        }
    }

    /// Gives memory back once under a quarter of the load it may have, keeping room for
    /// half as many again.
    pub fn shrink_if_sparse(&mut self) {
        let n = self.slots.len();
        if n > 64 && self.len * 4 < self.capacity() {
            self.resize(slots_for(self.len * 3 / 2));
        }
    }

    /// Moves the slots into an array of `slots` (more than `len`; 0 only when empty), placed
    /// by their tags.
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; slots].into_boxed_slice());
        for slot in old.iter().copied().filter(|s| *s != 0) {
            let mut i = home(slot >> 32, slots);
            while self.slots[i] != 0 {
                i += 1;
                if i == slots {
                    i = 0;
                }
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Hashes that collide on purpose: few distinct tags, so runs are long and wrap.
    fn hash_of(key: u16) -> u64 {
        u64::from(key % 7) << 61 | u64::from(key)
    }

    proptest! {
        /// Inserts, removals and repoints leave every recorded position findable under its
        /// hash and nothing else, with keys whose hashes share tags.
        #[test]
        fn finds_what_it_holds(ops in proptest::collection::vec((0u16..200, 0u8..3), 0..800)) {
            let mut index = PositionIndex::default();
            // key -> position; positions are the keys' own numbers, moved on repoint.
            let mut model: BTreeMap<u16, u32> = BTreeMap::new();
            for (key, op) in ops {
                let hash = hash_of(key);
                let at = |model: &BTreeMap<u16, u32>, p: u32| model.get(&key) == Some(&p);
                match op {
                    0 => {
                        let new = u32::from(key) + 1000;
                        let got = index.find_or_insert(hash, |p| at(&model, p), new);
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
                        index.shrink_if_sparse();
                    }
                    _ => {
                        if let Some(p) = model.get(&key).copied() {
                            index.repoint(hash, p, p + 5000);
                            model.insert(key, p + 5000);
                        }
                    }
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for key in 0..200u16 {
                let want = model.get(&key).copied();
                prop_assert_eq!(index.find(hash_of(key), |p| Some(p) == want), want);
            }
        }
    }
}
