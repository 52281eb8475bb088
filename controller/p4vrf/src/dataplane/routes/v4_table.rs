//! A hashed set of packed IPv4 route entries (`u64`s, see `routes.rs`): found by their key
//! bits, the low bits (the action) being the value.
//!
//! Why not a `BTreeSet<u64>`: at a million entries each FIB change cost a descent to read the
//! old action and another to write the new one, ~6 nodes each and mostly cache misses. Why not
//! a `hashbrown` table: it sizes itself in powers of two and holds both tables while growing,
//! 9 bytes a slot, so at a million entries it held ~19 bytes per entry and ~28 while growing
//! (the B-tree ~16). Here an entry is found with one probe into a flat array of `u64`s
//! (open addressing, linear probing; 0 is an empty slot, which no entry is), 8 bytes a slot at
//! 58–88 % load, grown by half its size (any size: the home slot is the hash scaled to it,
//! not masked). A large table is split into shards by the top bits of the hash (at most
//! [`MAX_SLOTS`] each), so growing copies one shard, not the whole table, and memory does not
//! spike on a full table.
//!
//! The hash is seeded per table ([`foldhash::fast::RandomState`]): the prefixes are chosen by
//! BGP neighbors, who must not be able to make them collide into one long probe run.
//!
//! Entries are in no order; [`V4Table::sorted`] sorts them for the readers that want key order.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;

/// Slots of one shard at most: 64 KiB, so growing a shard or splitting it stays in the cache.
const MAX_SLOTS: usize = 8192;

/// The smallest shard that is allocated.
const MIN_SLOTS: usize = 4;

/// The slot an entry with this hash probes first: the hash's low 32 bits scaled to `slots`
/// (the top bits pick the shard).
fn home(hash: u64, slots: usize) -> usize {
    (((hash & 0xffff_ffff) * slots as u64) >> 32) as usize
}

/// One shard: slots, and how many are full.
#[derive(Debug, Default)]
struct Shard {
    slots: Box<[u64]>,
    len: u32,
}

impl Shard {
    fn with_slots(slots: usize) -> Self {
        Shard {
            slots: vec![0; slots].into_boxed_slice(),
            len: 0,
        }
    }

    /// The slot holding `key`'s entry, or the empty slot where it would go (none in a shard
    /// without slots).
    fn find(&self, hash: u64, key: u64, mask: u64) -> Result<usize, Option<usize>> {
        let n = self.slots.len();
        if n == 0 {
            return Err(None);
        }
        let mut i = home(hash, n);
        loop {
            let entry = self.slots[i];
            if entry == 0 {
                return Err(Some(i));
            }
            if entry & mask == key {
                return Ok(i);
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    /// Whether one more entry fits under 7/8 load.
    fn has_room(&self) -> bool {
        (self.len as usize + 1) * 8 <= self.slots.len() * 7
    }

    /// Puts an entry known to be absent, in a shard with room.
    fn put_new(&mut self, hash: u64, entry: u64) {
        let n = self.slots.len();
        let mut i = home(hash, n);
        while self.slots[i] != 0 {
            i += 1;
            if i == n {
                i = 0;
            }
        }
        self.slots[i] = entry;
        self.len += 1;
    }

    /// Empties slot `hole`, moving back the entries after it that probed past it, so that a
    /// search never stops at a hole short of its entry (no tombstones).
    fn remove_at(&mut self, hole: usize, hash: impl Fn(u64) -> u64) {
        let n = self.slots.len();
        open_addressing::remove_shifting_back(&mut self.slots, hole, 0, |entry| {
            home(hash(entry), n)
        });
        self.len -= 1;
    }

    fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|e| *e != 0)
    }
}

/// Packed entries, hashed by `entry & mask` (the key bits; the rest is the value).
#[derive(Debug)]
pub(super) struct V4Table {
    /// Shard `hash >> (64 - depth)` (one shard at depth 0).
    shards: Vec<Shard>,
    depth: u32,
    len: usize,
    mask: u64,
    hasher: RandomState,
}

impl V4Table {
    /// A table of entries whose key is `entry & mask`. No entry may be 0.
    pub(super) fn new(mask: u64) -> Self {
        V4Table {
            shards: Vec::new(),
            depth: 0,
            len: 0,
            mask,
            hasher: RandomState::default(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, key: u64) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, hash: u64) -> usize {
        match self.depth {
            0 => 0,
            d => (hash >> (64 - d)) as usize,
        }
    }

    /// The entry with key `key` (the tests' read; a change reads as it writes, see
    /// [`V4Table::insert`]).
    #[cfg(test)]
    pub(super) fn get(&self, key: u64) -> Option<u64> {
        let hash = self.hash(key);
        let shard = self.shards.get(self.shard_of(hash))?;
        let i = shard.find(hash, key, self.mask).ok()?;
        Some(shard.slots[i])
    }

    /// Starts loading the slot where a search for `key` begins into the cache, so that a
    /// later [`V4Table::insert`] or [`V4Table::remove`] of it does not wait for memory (a
    /// table of a million entries is ~10 MB, and a delta's keys land all over it). A hint
    /// only: no effect off x86-64.
    pub(super) fn prefetch(&self, key: u64) {
        let hash = self.hash(key);
        let Some(shard) = self.shards.get(self.shard_of(hash)) else {
            return;
        };
        let n = shard.slots.len();
        if n == 0 {
            return;
        }
        open_addressing::prefetch(&shard.slots[home(hash, n)]);
    }

    /// Sets the entry of `entry`'s key to `entry`, adding it if there is none; returns the
    /// entry it replaced. One probe: a caller that needs the old entry and then writes the new
    /// one (a FIB change) waits for the slot's cache line once, not once per operation.
    pub(super) fn insert(&mut self, entry: u64) -> Option<u64> {
        debug_assert_ne!(entry, 0);
        let key = entry & self.mask;
        let hash = self.hash(key);
        if self.shards.is_empty() {
            self.shards.push(Shard::default());
        }
        let s = self.shard_of(hash);
        let shard = &mut self.shards[s];
        match shard.find(hash, key, self.mask) {
            Ok(i) => Some(std::mem::replace(&mut shard.slots[i], entry)),
            Err(Some(i)) if shard.has_room() => {
                shard.slots[i] = entry;
                shard.len += 1;
                self.len += 1;
                None
            }
            Err(_) => {
                self.grow(s);
                let s = self.shard_of(hash);
                self.shards[s].put_new(hash, entry);
                self.len += 1;
                None
            }
        }
    }

    /// Removes the entry with key `key`; returns it.
    pub(super) fn remove(&mut self, key: u64) -> Option<u64> {
        let hash = self.hash(key);
        let s = self.shard_of(hash);
        let (mask, hasher) = (self.mask, &self.hasher);
        let shard = self.shards.get_mut(s)?;
        let i = shard.find(hash, key, mask).ok()?;
        let entry = shard.slots[i];
        shard.remove_at(i, |e| hasher.hash_one(e & mask));
        self.len -= 1;
        if self.len == 0 {
            (self.shards, self.depth) = (Vec::new(), 0);
            return Some(entry);
        }
        // Shrinks under 1/4 load, to 2/3 (nothing left: no slots).
        let (len, slots) = (self.shards[s].len as usize, self.shards[s].slots.len());
        if len == 0 {
            self.shards[s] = Shard::default();
        } else if slots > MIN_SLOTS && len * 4 < slots {
            self.resize(s, (len * 3 / 2).max(MIN_SLOTS));
        }
        Some(entry)
    }

    /// Makes room in shard `s`: half as many slots again, or, for a shard at
    /// [`MAX_SLOTS`], every shard split in two by the next bit of the hash.
    fn grow(&mut self, s: usize) {
        let n = self.shards[s].slots.len();
        if n < MAX_SLOTS {
            self.resize(s, (n * 3 / 2).clamp(MIN_SLOTS, MAX_SLOTS));
            return;
        }
        self.depth += 1;
        let shift = 64 - self.depth;
        let old = std::mem::take(&mut self.shards);
        self.shards.reserve_exact(old.len() * 2);
        for shard in old {
            let high = shard
                .entries()
                .filter(|e| (self.hash(e & self.mask) >> shift) & 1 == 1)
                .count();
            let mut halves = [shard.len as usize - high, high]
                .map(|len| Shard::with_slots((len * 4 / 3).max(MIN_SLOTS)));
            for entry in shard.entries() {
                let hash = self.hash(entry & self.mask);
                halves[((hash >> shift) & 1) as usize].put_new(hash, entry);
            }
            self.shards.extend(halves);
        }
    }

    /// Rebuilds shard `s` with `slots` slots (0 for none; else more than its entries).
    fn resize(&mut self, s: usize, slots: usize) {
        let old = std::mem::replace(&mut self.shards[s], Shard::with_slots(slots));
        for entry in old.entries() {
            let hash = self.hash(entry & self.mask);
            self.shards[s].put_new(hash, entry);
        }
    }

    /// Every entry, sorted.
    pub(super) fn sorted(&self) -> Vec<u64> {
        let mut all = Vec::with_capacity(self.len);
        for shard in &self.shards {
            all.extend(shard.entries());
        }
        all.sort_unstable();
        all
    }

    /// Bytes of slots (the tests' check that the table stays compact).
    #[cfg(test)]
    fn slot_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.slots.len() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const MASK: u64 = !0xff;

    /// A small deterministic generator (xorshift).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Random inserts, replaces and removes against a `BTreeMap`, through growth, splits
    /// and shrinking; the table is checked whole now and then.
    #[test]
    fn behaves_as_a_map() {
        let mut table = V4Table::new(MASK);
        let mut want: BTreeMap<u64, u64> = BTreeMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let check = |table: &V4Table, want: &BTreeMap<u64, u64>| {
            assert_eq!(table.len(), want.len());
            let expected: Vec<u64> = want.iter().map(|(k, v)| k | v).collect();
            assert_eq!(table.sorted(), expected);
            for shard in &table.shards {
                assert_eq!(shard.entries().count(), shard.len as usize);
            }
        };
        // Grow to 60,000 (several splits), then shrink to nothing.
        for round in 0..150_000u64 {
            let r = next(&mut state);
            // Keys from a range small enough that replaces and removes hit.
            let key = (r % 80_000 + 1) << 8;
            let value = r >> 56;
            let removing = round >= 90_000 || r.is_multiple_of(5);
            if removing {
                assert_eq!(table.remove(key), want.remove(&key).map(|v| key | v));
            } else {
                assert_eq!(table.get(key), want.get(&key).map(|v| key | v));
                assert_eq!(
                    table.insert(key | value),
                    want.insert(key, value).map(|v| key | v)
                );
            }
            assert_eq!(table.get(key), want.get(&key).map(|v| key | v));
            if round % 10_000 == 0 {
                check(&table, &want);
            }
        }
        for key in want.keys().copied().collect::<Vec<_>>() {
            assert_eq!(table.remove(key), want.remove(&key).map(|v| key | v));
        }
        check(&table, &want);
        assert_eq!(table.slot_bytes(), 0);
        assert!(table.shards.is_empty());
    }

    /// At a million entries the table holds under 14 bytes per entry (the B-tree ~16).
    #[test]
    fn is_compact() {
        let mut table = V4Table::new(MASK);
        let mut state = 1;
        for _ in 0..1_000_000 {
            table.insert(next(&mut state) | 0x100);
        }
        assert!(table.len() > 999_000);
        assert!(table.depth > 0);
        let bytes = table.slot_bytes() as f64 / table.len() as f64;
        assert!(bytes < 14.0, "{bytes} bytes per entry");
    }
}
