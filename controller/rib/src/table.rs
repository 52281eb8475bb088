//! Hash-indexed tables for the RIB's large maps (a VRF's prefixes, the VPN table).
//!
//! These were B-trees. At a million keys a B-tree search walks ~6 nodes that are mostly not in
//! the cache, and the RIB searches its table several times per route (insert, selection, FIB,
//! export): that was a fifth of the time of taking in a full table. A [`KeyedTable`] finds a
//! key with one probe of a small index (4 bytes a slot, `open_addressing::PositionIndex`) and one
//! read of the entry.
//!
//! The entries sit densely in fixed-size chunks ([`Slots`]), in no particular order; the index
//! maps a key's hash to its position. Removal moves the last entry into the hole and repoints
//! its index slot, so there are no holes and a walk touches only entries. Chunks, not one
//! vector: a growing vector of a million entries is copied into fresh memory at each growth
//! (and holds both copies meanwhile), which was a tenth of the time of taking in a VPN table.
//! Readers that want key order (the `show` commands, the FIB view) ask for it
//! ([`KeyedTable::iter`] sorts); the RIB's own passes use [`KeyedTable::iter_unordered`].
//!
//! The hash is seeded per process ([`foldhash::fast::RandomState`]): the keys are prefixes
//! chosen by BGP neighbors, who must not be able to pick colliding ones.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;

use foldhash::fast::RandomState;
use ipnet::{IpNet, Ipv4Net};
use vpn_types::RouteDistinguisher;

/// A key of a [`KeyedTable`]: hashed as one or two packed words. `IpNet`'s derived `Hash`
/// feeds the hasher field by field (variant, address octets with their length, prefix
/// length), which was a twentieth of the time of taking in a table, for four lookups a route.
pub trait TableKey: Eq + Copy {
    /// What hashing a key takes besides the key, kept by its table: the table's random seed,
    /// and for a key that names a part of itself by number (a VPNv4 key's RD), what the
    /// numbers stand for ([`RdDictionary`]).
    type Hasher: Default + Clone;
    fn hash_key(&self, hasher: &Self::Hasher) -> u64;
}

/// An IPv4 prefix as one word; an IPv6 prefix as its address (the length apart).
fn packed_prefix(prefix: &IpNet) -> (u128, u8) {
    match prefix {
        IpNet::V4(n) => (u128::from(u32::from(n.addr())), n.prefix_len()),
        IpNet::V6(n) => (u128::from(n.addr()), n.prefix_len()),
    }
}

impl TableKey for IpNet {
    type Hasher = RandomState;
    fn hash_key(&self, hasher: &RandomState) -> u64 {
        match self {
            IpNet::V4(n) => hasher.hash_one(V4Key::of(n).word()),
            IpNet::V6(_) => hasher.hash_one(packed_prefix(self)),
        }
    }
}

impl TableKey for (RouteDistinguisher, IpNet) {
    type Hasher = RandomState;
    fn hash_key(&self, hasher: &RandomState) -> u64 {
        let rd = self.0 .0.to_u64();
        let (addr, len) = packed_prefix(&self.1);
        hasher.hash_one((rd, addr, len))
    }
}

macro_rules! plain_table_key {
    ($($t:ty),*) => {$(
        impl TableKey for $t {
            type Hasher = RandomState;
            fn hash_key(&self, hasher: &RandomState) -> u64 {
                hasher.hash_one(self)
            }
        }
    )*};
}
plain_table_key!(u8, u16, u32, u64);

use open_addressing::PositionIndex;

/// How a [`KeyedTable`] stores an entry: the key beside its value (`(K, V)`), or folded into
/// room the value keeps for it ([`KeyInValue`]). Keys are handed out by value.
pub trait Slot<K, V> {
    fn new(key: K, value: V) -> Self;
    fn key(&self) -> K;
    fn value(&self) -> &V;
    fn value_mut(&mut self) -> &mut V;
    fn into_value(self) -> V;
}

impl<K: Copy, V> Slot<K, V> for (K, V) {
    fn new(key: K, value: V) -> Self {
        (key, value)
    }
    fn key(&self) -> K {
        self.0
    }
    fn value(&self) -> &V {
        &self.1
    }
    fn value_mut(&mut self) -> &mut V {
        &mut self.1
    }
    fn into_value(self) -> V {
        self.1
    }
}

/// A map from `K` to `V`: hashed lookups, entries stored densely, sorted iteration on demand.
/// Holds fewer than `u32::MAX` entries. `S` is how an entry is stored ([`Slot`]).
#[derive(Clone)]
pub struct KeyedTable<K: TableKey, V, S: Slot<K, V> = (K, V)> {
    /// Position in `slots` of each entry, found by the key's hash.
    index: PositionIndex,
    slots: Slots<S>,
    hasher: K::Hasher,
    /// Hinted lookups whose hint was stale (tests check the RIB's hints hold).
    #[cfg(test)]
    pub(crate) hint_misses: std::cell::Cell<usize>,
    _values: PhantomData<fn() -> V>,
}

impl<K: TableKey, V, S: Slot<K, V>> Default for KeyedTable<K, V, S> {
    fn default() -> Self {
        KeyedTable {
            index: PositionIndex::dense(),
            slots: Slots::default(),
            hasher: K::Hasher::default(),
            #[cfg(test)]
            hint_misses: std::cell::Cell::new(0),
            _values: PhantomData,
        }
    }
}

impl<K: TableKey, V, S: Slot<K, V>> KeyedTable<K, V, S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn position(&self, key: &K) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(key.hash_key(&self.hasher), |i| {
                slots[i as usize].key() == *key
            })
            .map(|i| i as usize)
    }

    /// The hash a key is found by, for [`KeyedTable::prefetch`] and
    /// [`KeyedTable::get_or_insert_hashed`].
    pub fn hash_of(&self, key: &K) -> u64 {
        key.hash_key(&self.hasher)
    }

    /// Starts loading where the index keeps keys of this hash into the cache: a caller with a
    /// batch of keys prefetches a few ahead of the one it looks up, and the look-ups stop
    /// waiting for memory (a cache miss a key at a million keys). A hint only.
    pub fn prefetch(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    fn hinted_position(&self, key: &K, hint: u32) -> Option<usize> {
        let at = hint as usize;
        if at < self.slots.len() && self.slots[at].key() == *key {
            return Some(at);
        }
        #[cfg(test)]
        if hint != u32::MAX {
            self.hint_misses.set(self.hint_misses.get() + 1);
        }
        self.position(key)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.position(key).map(|i| self.slots[i].value())
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.position(key).map(|i| self.slots[i].value_mut())
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.position(key).is_some()
    }

    /// `key`'s entry and its position, trying the position `hint` first: a caller that noted
    /// where an entry was skips the hash and the index probe (a cache miss at a million keys)
    /// when it is still there. A removal moves the last entry, so a stale hint only costs the
    /// ordinary lookup; any `u32` is a valid hint.
    pub fn get_mut_hinted(&mut self, key: &K, hint: u32) -> Option<(u32, &mut V)> {
        let i = self.hinted_position(key, hint)?;
        Some((i as u32, self.slots[i].value_mut()))
    }

    /// [`KeyedTable::get_mut_hinted`], reading.
    pub fn get_hinted(&self, key: &K, hint: u32) -> Option<(u32, &V)> {
        let i = self.hinted_position(key, hint)?;
        Some((i as u32, self.slots[i].value()))
    }

    /// The key at position `at`, if there is one.
    fn key_at(&self, at: u32) -> Option<K> {
        let at = at as usize;
        (at < self.slots.len()).then(|| self.slots[at].key())
    }

    /// The entry at position `at` (below [`KeyedTable::len`]).
    fn value_at(&self, at: u32) -> &V {
        self.slots[at as usize].value()
    }

    fn value_at_mut(&mut self, at: u32) -> &mut V {
        self.slots[at as usize].value_mut()
    }

    /// The entry of `key`, and whether it was just created (with `make`).
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> (&mut V, bool) {
        let (_, entry, new) = self.get_or_insert_at(key, make);
        (entry, new)
    }

    /// [`KeyedTable::get_or_insert_with`], with the entry's position (a hint for
    /// [`KeyedTable::get_mut_hinted`]).
    pub fn get_or_insert_at(&mut self, key: K, make: impl FnOnce() -> V) -> (u32, &mut V, bool) {
        let hash = self.hash_of(&key);
        self.get_or_insert_hashed(key, hash, make)
    }

    /// [`KeyedTable::get_or_insert_at`] of a key whose hash ([`KeyedTable::hash_of`]) the
    /// caller has.
    pub fn get_or_insert_hashed(
        &mut self,
        key: K,
        hash: u64,
        make: impl FnOnce() -> V,
    ) -> (u32, &mut V, bool) {
        debug_assert_eq!(hash, self.hash_of(&key));
        let new = u32::try_from(self.slots.len())
            .ok()
            .filter(|n| *n < u32::MAX - 1)
            .expect("a table holds fewer than u32::MAX - 1 entries");
        let slots = &self.slots;
        match self.index.find_or_insert(
            hash,
            |i| slots[i as usize].key() == key,
            new,
            hash_at::<K, V, S>(slots, &self.hasher),
        ) {
            Some(i) => (i, self.slots[i as usize].value_mut(), false),
            None => {
                self.slots.push(S::new(key, make()));
                (new, self.slots[new as usize].value_mut(), true)
            }
        }
    }

    /// The entry of `key`, a default one if it had none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.get_or_insert_with(key, V::default).0
    }

    /// Sets `key`'s value; the old one, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let mut value = Some(value);
        let (slot, new) = self.get_or_insert_with(key, || value.take().expect("once"));
        if new {
            None
        } else {
            Some(std::mem::replace(slot, value.take().expect("not taken")))
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let slots = &self.slots;
        let i = self.index.remove(key.hash_key(&self.hasher), |i| {
            slots[i as usize].key() == *key
        })?;
        let (i, last) = (i as usize, self.slots.len() - 1);
        if i != last {
            // The last entry moves into the hole: its index slot follows.
            let moved = self.slots[last].key().hash_key(&self.hasher);
            self.index.repoint(moved, last as u32, i as u32);
        }
        let value = self.slots.swap_remove(i).into_value();
        self.shrink_if_sparse();
        Some(value)
    }

    /// What the keys are hashed with (for a key that names parts of itself by number, what
    /// the numbers stand for).
    pub fn hasher(&self) -> &K::Hasher {
        &self.hasher
    }

    /// [`KeyedTable::hasher`], to extend (name a new part): changing how a key in the table
    /// hashes would lose it.
    pub(crate) fn hasher_mut(&mut self) -> &mut K::Hasher {
        &mut self.hasher
    }

    /// Keeps the entries `keep` says yes to (and reindexes, so for bulk removals).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.retain_hashed(|_, k, v| keep(k, v));
    }

    /// [`KeyedTable::retain`], with the table's hasher for `keep` (to read a key's numbered
    /// parts).
    pub(crate) fn retain_hashed(&mut self, mut keep: impl FnMut(&K::Hasher, &K, &mut V) -> bool) {
        let before = self.slots.len();
        let hasher = &self.hasher;
        self.slots
            .retain_mut(|slot| keep(hasher, &slot.key(), slot.value_mut()));
        if self.slots.len() != before {
            self.reindex();
            self.shrink_if_sparse();
        }
    }

    /// Indexes every entry afresh (after a bulk removal moved them).
    fn reindex(&mut self) {
        let len = self.slots.len() as u32;
        self.index =
            PositionIndex::of_positions(len, hash_at::<K, V, S>(&self.slots, &self.hasher));
    }

    /// Gives memory back once a table has lost three quarters of its entries (a neighbor's full
    /// table withdrawn).
    fn shrink_if_sparse(&mut self) {
        self.slots.shrink_if_sparse();
        self.index
            .shrink_if_sparse(hash_at::<K, V, S>(&self.slots, &self.hasher));
    }

    /// `(key, &value)` in no particular order (which changes as entries come and go).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        self.slots.iter().map(|slot| (slot.key(), slot.value()))
    }

    /// `(key, &mut value)` in no particular order.
    pub fn iter_unordered_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> + '_ {
        self.iter_unordered_mut_hashed().1
    }

    /// [`KeyedTable::iter_unordered_mut`], with the table's hasher (to read a key's numbered
    /// parts).
    pub(crate) fn iter_unordered_mut_hashed(
        &mut self,
    ) -> (&K::Hasher, impl Iterator<Item = (K, &mut V)> + '_) {
        let entries = self
            .slots
            .iter_mut()
            .map(|slot| (slot.key(), slot.value_mut()));
        (&self.hasher, entries)
    }

    /// The keys, in no particular order.
    pub fn keys_unordered(&self) -> impl Iterator<Item = K> + '_ {
        self.slots.iter().map(|slot| slot.key())
    }

    /// `(key, &value)` in key order: sorts, so for views, not for the RIB's passes.
    pub fn iter(&self) -> std::vec::IntoIter<(K, &V)>
    where
        K: Ord,
    {
        let mut sorted: Vec<(K, &V)> = self.iter_unordered().collect();
        sorted.sort_unstable_by_key(|a| a.0);
        sorted.into_iter()
    }

    /// The keys in order (sorts).
    pub fn keys(&self) -> impl Iterator<Item = K> + '_
    where
        K: Ord,
    {
        self.iter().map(|(k, _)| k)
    }
}

/// The hash of the key at each position of `slots`: what the index asks for when it rebuilds
/// (its slots keep too few of a hash's bits to place themselves).
fn hash_at<'a, K: TableKey, V, S: Slot<K, V>>(
    slots: &'a Slots<S>,
    hasher: &'a K::Hasher,
) -> impl FnMut(u32) -> u64 + 'a {
    move |i| slots[i as usize].key().hash_key(hasher)
}

impl<K: TableKey, V, S: Slot<K, V>> std::ops::Index<&K> for KeyedTable<K, V, S> {
    type Output = V;
    /// Like a map's indexing: panics when the key is absent.
    fn index(&self, key: &K) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

impl<'a, K: TableKey + Ord, V, S: Slot<K, V>> IntoIterator for &'a KeyedTable<K, V, S> {
    type Item = (K, &'a V);
    type IntoIter = std::vec::IntoIter<(K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: TableKey + Ord + fmt::Debug, V: fmt::Debug, S: Slot<K, V>> fmt::Debug
    for KeyedTable<K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// How many entries a chunk of [`Slots`] holds (the first grows up to it); eight under test,
/// so the tests cross chunks. 8,192: a VRF table's 32-byte IPv4 slots in chunks of 4,096
/// (128 KiB) left the daemon (mimalloc) with 6 bytes a route more resident than chunks of
/// 8,192 (256 KiB) at a million routes, 102-103 against 96-97 B/route; the VPN table's
/// 24-byte slots were the same either way (`docs/benchmarks.md`, session 18).
const CHUNK_BITS: u32 = if cfg!(test) { 3 } else { 13 };
const CHUNK: usize = 1 << CHUNK_BITS;

/// A vector in chunks of [`CHUNK`] entries: growing never moves an entry, so memory is
/// touched once. Every chunk but the last is full; the first grows like a vector, so a small
/// table (a VRF of a few routes) stays small.
#[derive(Clone)]
struct Slots<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends; the new entry's position.
    fn push(&mut self, value: T) -> usize {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => {
                if chunk.len() == chunk.capacity() {
                    let want = (chunk.len() * 2).clamp(4, CHUNK);
                    chunk.reserve_exact(want - chunk.len());
                }
                chunk.push(value);
            }
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 4 } else { CHUNK });
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        self.len - 1
    }

    fn pop(&mut self) -> Option<T> {
        let chunk = self.chunks.last_mut()?;
        let value = chunk.pop()?;
        if chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        Some(value)
    }

    /// Removes the entry at `i`, moving the last one into its place.
    fn swap_remove(&mut self, i: usize) -> T {
        let last = self.pop().expect("in range");
        if i == self.len {
            last
        } else {
            std::mem::replace(&mut self[i], last)
        }
    }

    /// Keeps the entries `keep` says yes to, in their order, in place: the kept ones move
    /// down over the holes, the rest end up at the tail and are dropped from there.
    fn retain_mut(&mut self, mut keep: impl FnMut(&mut T) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            if keep(&mut self[i]) {
                if i != kept {
                    self.swap(kept, i);
                }
                kept += 1;
            }
        }
        while self.len > kept {
            self.pop();
        }
    }

    /// Swaps the entries at `a` < `b`.
    fn swap(&mut self, a: usize, b: usize) {
        let (ca, cb) = (a >> CHUNK_BITS, b >> CHUNK_BITS);
        let (ia, ib) = (a & (CHUNK - 1), b & (CHUNK - 1));
        if ca == cb {
            self.chunks[ca].swap(ia, ib);
        } else {
            let (low, high) = self.chunks.split_at_mut(cb);
            std::mem::swap(&mut low[ca][ia], &mut high[0][ib]);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }

    /// Room for entries: the chunks' capacities.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    /// Gives a lone first chunk's memory back once it is three quarters empty (chunks after
    /// it are freed as they empty).
    fn shrink_if_sparse(&mut self) {
        if let [only] = self.chunks.as_mut_slice() {
            if only.capacity() > 64 && only.len() < only.capacity() / 4 {
                only.shrink_to(only.len() * 2);
            }
        }
    }
}

impl<T> std::ops::Index<usize> for Slots<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> std::ops::IndexMut<usize> for Slots<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

/// A key with a smaller form for IPv4, which a [`SplitTable`] keeps apart: an `IpNet` is
/// 18 bytes (sized for IPv6) and pads the slot of every IPv4 entry. The small form may name a
/// part of the key by a number that the IPv4 table's hasher keeps (a VPNv4 key's RD,
/// [`RdDictionary`]): a key whose part has no number yet has no small form until it is
/// inserted.
pub trait SplitKey: TableKey + Copy + Ord {
    /// The IPv4 form.
    type V4: TableKey + Copy;
    /// Whether [`SplitKey::v4_counted`] does anything (the table then notes the small forms
    /// a bulk removal takes out).
    const COUNTED: bool = false;
    fn is_v4(&self) -> bool;
    /// The key's IPv4 form as `names` (the IPv4 table's hasher) writes it; `None` for an IPv6
    /// key, and for an IPv4 one with a part `names` has no number for (not in the IPv4 table
    /// then).
    fn v4(&self, names: &<Self::V4 as TableKey>::Hasher) -> Option<Self::V4>;
    /// [`SplitKey::v4`] of an IPv4 key about to be inserted, numbering its parts in `names`
    /// as needed; `None` when `names` has no number left (the key is kept in full then).
    fn name_v4(&self, names: &mut <Self::V4 as TableKey>::Hasher) -> Option<Self::V4>;
    /// An IPv4 key's hash in the IPv4 table, numbered yet or not; `None` for IPv6.
    fn v4_hash(&self, names: &<Self::V4 as TableKey>::Hasher) -> Option<u64>;
    fn from_v4(key: Self::V4, names: &<Self::V4 as TableKey>::Hasher) -> Self;
    /// Whether `small` is this key's IPv4 form: what a hinted look-up asks of the entry at
    /// its hint, before (and instead of) numbering the key's parts.
    fn is_v4_of(&self, small: Self::V4, names: &<Self::V4 as TableKey>::Hasher) -> bool {
        Self::from_v4(small, names) == *self
    }
    /// A small form entered (`added`) or left the IPv4 table: `names` counts the keys that
    /// use each number and frees a number none uses.
    fn v4_counted(_key: Self::V4, _added: bool, _names: &mut <Self::V4 as TableKey>::Hasher) {}
}

/// An IPv4 prefix as a VRF table keys it: its address and length, so an IPv4 route's slot
/// is 16 bytes smaller than with an `IpNet` key; a VRF table folds it into the entry
/// ([`KeyRoom`]: 8 bytes fewer again, 32 bytes now).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct V4Key {
    addr: u32,
    len: u8,
}

impl V4Key {
    pub(crate) fn of(net: &Ipv4Net) -> Self {
        V4Key {
            addr: u32::from(net.addr()),
            len: net.prefix_len(),
        }
    }

    /// The IPv4 prefix's key; `None` for IPv6.
    fn of_net(net: &IpNet) -> Option<Self> {
        match net {
            IpNet::V4(net) => Some(V4Key::of(net)),
            IpNet::V6(_) => None,
        }
    }

    fn net(self) -> IpNet {
        IpNet::V4(Ipv4Net::new(self.addr.into(), self.len).expect("a length made from a prefix"))
    }

    /// The prefix as one word, the address above the length: what the tables hash and a
    /// delta's FIB changes sort (in prefix order).
    pub(crate) fn word(self) -> u64 {
        u64::from(self.addr) << 8 | u64::from(self.len)
    }
}

impl TableKey for V4Key {
    type Hasher = RandomState;
    fn hash_key(&self, hasher: &RandomState) -> u64 {
        hasher.hash_one(self.word())
    }
}

/// Room in a value for its [`V4Key`], and [`KeyRoom::SPARE_BITS`] bits the value keeps for
/// itself: a VRF table's IPv4 entry stored alone ([`KeyInValue`]). Beside the value, the
/// key's 5 bytes took 8 (the value is word-aligned); here they share 8 with the spare bits,
/// and the slot is 8 bytes smaller. Only this module reads or writes the key: the value's
/// owner sees the spare bits, and must not overwrite a stored value whole.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRoom {
    addr: u32,
    /// The prefix length above the spare bits.
    len_spare: u32,
}

impl KeyRoom {
    /// How many bits the value has for itself.
    pub const SPARE_BITS: u32 = 26;
    const SPARE: u32 = (1 << Self::SPARE_BITS) - 1;

    /// The value's own bits.
    pub fn spare(self) -> u32 {
        self.len_spare & Self::SPARE
    }

    /// Sets the value's own bits (below `1 << SPARE_BITS`), keeping the key.
    pub fn set_spare(&mut self, bits: u32) {
        debug_assert!(
            bits <= Self::SPARE,
            "{bits:#x} needs more than the spare bits"
        );
        self.len_spare = (self.len_spare & !Self::SPARE) | (bits & Self::SPARE);
    }

    fn key(self) -> V4Key {
        V4Key {
            addr: self.addr,
            len: (self.len_spare >> Self::SPARE_BITS) as u8,
        }
    }

    fn set_key(&mut self, key: V4Key) {
        self.addr = key.addr;
        self.len_spare = u32::from(key.len) << Self::SPARE_BITS | self.spare();
    }
}

// A length (at most 32) fits above the spare bits.
const _: () = assert!(32 < 1 << (32 - KeyRoom::SPARE_BITS));

impl fmt::Debug for KeyRoom {
    /// The spare bits only: the key is shown as the entry's key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRoom({:#x})", self.spare())
    }
}

/// A value with room for its IPv4 key ([`KeyRoom`]).
pub trait HasKeyRoom {
    fn key_room(&self) -> &KeyRoom;
    fn key_room_mut(&mut self) -> &mut KeyRoom;
}

/// A [`Slot`] of a value that holds its own [`V4Key`] ([`HasKeyRoom`]).
#[derive(Clone)]
pub struct KeyInValue<V>(V);

impl<V: HasKeyRoom> Slot<V4Key, V> for KeyInValue<V> {
    fn new(key: V4Key, mut value: V) -> Self {
        value.key_room_mut().set_key(key);
        KeyInValue(value)
    }
    fn key(&self) -> V4Key {
        self.0.key_room().key()
    }
    fn value(&self) -> &V {
        &self.0
    }
    fn value_mut(&mut self) -> &mut V {
        &mut self.0
    }
    fn into_value(self) -> V {
        self.0
    }
}

impl SplitKey for IpNet {
    type V4 = V4Key;
    fn is_v4(&self) -> bool {
        matches!(self, IpNet::V4(_))
    }
    fn v4(&self, _: &RandomState) -> Option<V4Key> {
        V4Key::of_net(self)
    }
    fn name_v4(&self, _: &mut RandomState) -> Option<V4Key> {
        V4Key::of_net(self)
    }
    fn v4_hash(&self, seed: &RandomState) -> Option<u64> {
        Some(V4Key::of_net(self)?.hash_key(seed))
    }
    fn from_v4(key: V4Key, _: &RandomState) -> Self {
        key.net()
    }
    fn is_v4_of(&self, small: V4Key, _: &RandomState) -> bool {
        V4Key::of_net(self) == Some(small)
    }
}

/// Bits of a [`VpnV4Key`]'s second word that hold the prefix length (0..=32).
const LEN_BITS: u32 = 6;

/// An RD and IPv4 prefix as the VPN table keys them, in 8 bytes: the address, and one word
/// with the RD's number in the table's [`RdDictionary`] above the prefix length. The RD's
/// 8 octets inline made it 16 bytes (and `(RouteDistinguisher, IpNet)` is 32): a VPNv4
/// route's slot is 24 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VpnV4Key {
    addr: u32,
    /// The RD's number << [`LEN_BITS`] | the prefix length.
    rd_len: u32,
}

impl VpnV4Key {
    fn new(rd: u32, prefix: V4Key) -> Self {
        VpnV4Key {
            addr: prefix.addr,
            rd_len: rd << LEN_BITS | u32::from(prefix.len),
        }
    }

    fn rd(self) -> u32 {
        self.rd_len >> LEN_BITS
    }

    fn prefix(self) -> V4Key {
        V4Key {
            addr: self.addr,
            len: (self.rd_len & ((1 << LEN_BITS) - 1)) as u8,
        }
    }
}

impl TableKey for VpnV4Key {
    type Hasher = RdDictionary;
    fn hash_key(&self, names: &RdDictionary) -> u64 {
        names.hash(names.rd(self.rd()), self.prefix())
    }
}

/// How many RD numbers a dictionary hands out: as many as a [`VpnV4Key`] holds (26 bits);
/// four under test, so the tests fill a dictionary.
const RD_NUMBERS: usize = if cfg!(test) { 4 } else { 1 << (32 - LEN_BITS) };

/// The RDs of a VPN table's IPv4 keys by number ([`VpnV4Key`]), and the table's hash seed.
/// A table holds a million routes under a few thousand RDs: an RD inline is 8 bytes a route,
/// as a number 26 bits. Each number counts the keys that use it and is freed when none does,
/// so the dictionary holds the RDs in the table, not every RD ever seen. A key hashes by its
/// RD, not its number, so its hash is known before it has one.
#[derive(Clone, Default)]
pub struct RdDictionary {
    seed: RandomState,
    /// By number: the RD (its 8 wire octets as a word, what keys hash by), the RD itself (what
    /// a hinted look-up compares) and how many keys use it (none: the number is free, listed
    /// in `free`).
    rds: Vec<(u64, RouteDistinguisher, u32)>,
    numbers: hashbrown::HashMap<u64, u32, RandomState>,
    free: Vec<u32>,
}

impl RdDictionary {
    fn hash(&self, rd: u64, prefix: V4Key) -> u64 {
        self.seed.hash_one((rd, prefix.word()))
    }

    fn number(&self, rd: u64) -> Option<u32> {
        self.numbers.get(&rd).copied()
    }

    fn rd(&self, number: u32) -> u64 {
        self.rds[number as usize].0
    }

    fn rd_value(&self, number: u32) -> RouteDistinguisher {
        self.rds[number as usize].1
    }

    /// `rd`'s number, given one if it had none; `None` when every number is taken.
    fn name(&mut self, rd: RouteDistinguisher) -> Option<u32> {
        let word = rd.0.to_u64();
        if let Some(number) = self.number(word) {
            return Some(number);
        }
        let number = match self.free.pop() {
            Some(number) => {
                self.rds[number as usize] = (word, rd, 0);
                number
            }
            None if self.rds.len() < RD_NUMBERS => {
                self.rds.push((word, rd, 0));
                (self.rds.len() - 1) as u32
            }
            None => return None,
        };
        self.numbers.insert(word, number);
        Some(number)
    }

    /// A key using `number` was added, or removed (the last one frees the number).
    fn count(&mut self, number: u32, added: bool) {
        let (rd, _, uses) = &mut self.rds[number as usize];
        if added {
            *uses += 1;
        } else {
            *uses -= 1;
            if *uses == 0 {
                self.numbers.remove(rd);
                self.free.push(number);
            }
        }
    }

    /// The RDs that have a number.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

impl SplitKey for (RouteDistinguisher, IpNet) {
    type V4 = VpnV4Key;
    const COUNTED: bool = true;
    fn is_v4(&self) -> bool {
        self.1.is_v4()
    }
    fn v4(&self, names: &RdDictionary) -> Option<VpnV4Key> {
        let prefix = V4Key::of_net(&self.1)?;
        Some(VpnV4Key::new(names.number(self.0 .0.to_u64())?, prefix))
    }
    fn name_v4(&self, names: &mut RdDictionary) -> Option<VpnV4Key> {
        let prefix = V4Key::of_net(&self.1)?;
        Some(VpnV4Key::new(names.name(self.0)?, prefix))
    }
    fn v4_hash(&self, names: &RdDictionary) -> Option<u64> {
        Some(names.hash(self.0 .0.to_u64(), V4Key::of_net(&self.1)?))
    }
    fn from_v4(key: VpnV4Key, names: &RdDictionary) -> Self {
        (names.rd_value(key.rd()), key.prefix().net())
    }
    fn is_v4_of(&self, small: VpnV4Key, names: &RdDictionary) -> bool {
        V4Key::of_net(&self.1) == Some(small.prefix()) && names.rd_value(small.rd()) == self.0
    }
    fn v4_counted(key: VpnV4Key, added: bool, names: &mut RdDictionary) {
        names.count(key.rd(), added);
    }
}

/// A [`KeyedTable`] by a key with a smaller IPv4 form ([`SplitKey`]): two tables behind one
/// map, one of IPv4 keys in their small form, one of keys in full (IPv6 keys, and IPv4 ones
/// the small form could not number: none unless a VPN table's RD dictionary ran out). A
/// position (the hint of [`SplitTable::get_mut_hinted`]) is in the key's table. Keys are
/// handed out by value (an IPv4 one is not stored in full).
#[derive(Clone)]
pub struct SplitTable<K: SplitKey, V, S: Slot<K::V4, V> = (<K as SplitKey>::V4, V)> {
    v4: KeyedTable<K::V4, V, S>,
    full: KeyedTable<K, V>,
    /// IPv4 keys in `full`.
    spilled: usize,
}

impl<K: SplitKey, V, S: Slot<K::V4, V>> Default for SplitTable<K, V, S> {
    fn default() -> Self {
        SplitTable {
            v4: KeyedTable::default(),
            full: KeyedTable::default(),
            spilled: 0,
        }
    }
}

/// Which of a [`SplitTable`]'s tables has a key.
enum Place<V4> {
    /// The IPv4 one, under this small form.
    V4(V4),
    Full,
    /// Neither (an IPv4 key with a part the dictionary has no number for).
    Nowhere,
}

/// Runs `$body` with `$t` the table where `$key` is and `$k` its key there, or gives `$none`
/// when it is in neither.
macro_rules! where_key {
    ($table:expr, $key:expr, |$t:ident, $k:ident| $body:expr, $none:expr) => {
        match $table.place($key) {
            Place::V4(v4) => {
                let ($t, $k) = (&$table.v4, &v4);
                $body
            }
            Place::Full => {
                let ($t, $k) = (&$table.full, $key);
                $body
            }
            Place::Nowhere => $none,
        }
    };
    (mut $table:expr, $key:expr, |$t:ident, $k:ident| $body:expr, $none:expr) => {
        match $table.place($key) {
            Place::V4(v4) => {
                let ($t, $k) = (&mut $table.v4, &v4);
                $body
            }
            Place::Full => {
                let ($t, $k) = (&mut $table.full, $key);
                $body
            }
            Place::Nowhere => $none,
        }
    };
}

impl<K: SplitKey, V, S: Slot<K::V4, V>> SplitTable<K, V, S> {
    pub fn len(&self) -> usize {
        self.v4.len() + self.full.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.full.is_empty()
    }

    fn place(&self, key: &K) -> Place<K::V4> {
        if !key.is_v4() || (self.spilled > 0 && self.full.contains_key(key)) {
            return Place::Full;
        }
        match key.v4(self.v4.hasher()) {
            Some(v4) => Place::V4(v4),
            None => Place::Nowhere,
        }
    }

    /// What the IPv4 keys' parts are numbered by (a VPN table's [`RdDictionary`]).
    pub fn v4_names(&self) -> &<K::V4 as TableKey>::Hasher {
        self.v4.hasher()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        where_key!(self, key, |t, k| t.get(k), None)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        where_key!(mut self, key, |t, k| t.get_mut(k), None)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        where_key!(self, key, |t, k| t.contains_key(k), false)
    }

    /// Whether the IPv4 table's entry at `hint` is `key`'s: a hinted look-up that holds
    /// reads one entry, and neither hashes the key nor numbers its parts.
    fn v4_at(&self, key: &K, hint: u32) -> bool {
        self.v4
            .key_at(hint)
            .is_some_and(|small| key.is_v4_of(small, self.v4.hasher()))
    }

    /// `key`'s entry and its position, trying the position `hint` first
    /// ([`KeyedTable::get_mut_hinted`]).
    pub fn get_mut_hinted(&mut self, key: &K, hint: u32) -> Option<(u32, &mut V)> {
        if self.v4_at(key, hint) {
            return Some((hint, self.v4.value_at_mut(hint)));
        }
        where_key!(mut self, key, |t, k| t.get_mut_hinted(k, hint), None)
    }

    /// [`SplitTable::get_mut_hinted`], reading.
    pub fn get_hinted(&self, key: &K, hint: u32) -> Option<(u32, &V)> {
        if self.v4_at(key, hint) {
            return Some((hint, self.v4.value_at(hint)));
        }
        where_key!(self, key, |t, k| t.get_hinted(k, hint), None)
    }

    /// The hash `key` is found by, for [`SplitTable::prefetch`] and
    /// [`SplitTable::get_or_insert_hashed`].
    pub fn hash_of(&self, key: &K) -> u64 {
        match key.v4_hash(self.v4.hasher()) {
            Some(hash) => hash,
            None => self.full.hash_of(key),
        }
    }

    /// Starts loading where `key` (of hash `hash`) would be indexed into the cache
    /// ([`KeyedTable::prefetch`]).
    pub fn prefetch(&self, key: &K, hash: u64) {
        if key.is_v4() {
            self.v4.prefetch(hash);
        } else {
            self.full.prefetch(hash);
        }
    }

    /// The entry of `key` and its position, and whether it was just created (with `make`);
    /// `hash` is [`SplitTable::hash_of`] the key.
    pub fn get_or_insert_hashed(
        &mut self,
        key: K,
        hash: u64,
        make: impl FnOnce() -> V,
    ) -> (u32, &mut V, bool) {
        let small = match self.place(&key) {
            Place::V4(v4) => Some(v4),
            Place::Full => None,
            Place::Nowhere => {
                let named = key.name_v4(self.v4.hasher_mut());
                self.spilled += usize::from(named.is_none());
                named
            }
        };
        let Some(v4) = small else {
            // An IPv4 key kept in full hashes as a full key there.
            let hash = if key.is_v4() {
                self.full.hash_of(&key)
            } else {
                hash
            };
            return self.full.get_or_insert_hashed(key, hash, make);
        };
        let (at, _, new) = self.v4.get_or_insert_hashed(v4, hash, make);
        if new {
            K::v4_counted(v4, true, self.v4.hasher_mut());
        }
        (at, self.v4.value_at_mut(at), new)
    }

    /// [`SplitTable::get_or_insert_hashed`], hashing the key here.
    pub fn get_or_insert_at(&mut self, key: K, make: impl FnOnce() -> V) -> (u32, &mut V, bool) {
        let hash = self.hash_of(&key);
        self.get_or_insert_hashed(key, hash, make)
    }

    /// The entry of `key`, a default one if it had none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.get_or_insert_at(key, V::default).1
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        match self.place(key) {
            Place::V4(v4) => {
                let removed = self.v4.remove(&v4)?;
                K::v4_counted(v4, false, self.v4.hasher_mut());
                Some(removed)
            }
            Place::Full => {
                let removed = self.full.remove(key)?;
                if key.is_v4() {
                    self.spilled -= 1;
                }
                Some(removed)
            }
            Place::Nowhere => None,
        }
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(K, &mut V) -> bool) {
        let mut left = Vec::new();
        self.v4.retain_hashed(|names, k, entry| {
            let kept = keep(K::from_v4(*k, names), entry);
            if !kept && K::COUNTED {
                left.push(*k);
            }
            kept
        });
        for k in left {
            K::v4_counted(k, false, self.v4.hasher_mut());
        }
        let mut spilled_left = 0;
        self.full.retain(|k, entry| {
            let kept = keep(*k, entry);
            spilled_left += usize::from(!kept && k.is_v4());
            kept
        });
        self.spilled -= spilled_left;
    }

    /// `(key, &entry)` in no particular order (which changes as entries come and go).
    pub fn iter_unordered(&self) -> impl Iterator<Item = (K, &V)> + '_ {
        let names = self.v4.hasher();
        let v4 = self
            .v4
            .iter_unordered()
            .map(move |(k, v)| (K::from_v4(k, names), v));
        v4.chain(self.full.iter_unordered())
    }

    /// `(key, &mut entry)` in no particular order.
    pub fn iter_unordered_mut(&mut self) -> impl Iterator<Item = (K, &mut V)> + '_ {
        let (names, v4) = self.v4.iter_unordered_mut_hashed();
        let v4 = v4.map(move |(k, v)| (K::from_v4(k, names), v));
        v4.chain(self.full.iter_unordered_mut())
    }

    /// The keys, in no particular order.
    pub fn keys_unordered(&self) -> impl Iterator<Item = K> + '_ {
        self.iter_unordered().map(|(k, _)| k)
    }

    /// `(key, &entry)` in key order: sorts, so for views, not for the RIB's passes.
    pub fn iter(&self) -> std::vec::IntoIter<(K, &V)> {
        let mut sorted: Vec<(K, &V)> = self.iter_unordered().collect();
        sorted.sort_unstable_by_key(|a| a.0);
        sorted.into_iter()
    }

    /// The keys in order (sorts).
    pub fn keys(&self) -> impl Iterator<Item = K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// Where `key`'s entry is: its position in its table (a hint) and its place among all
    /// the entries (the small-form ones first), below [`SplitTable::len`].
    pub(crate) fn locate(&self, key: &K, hint: u32) -> Option<(u32, usize)> {
        if self.v4_at(key, hint) {
            return Some((hint, hint as usize));
        }
        match self.place(key) {
            Place::V4(v4) => {
                let (i, _) = self.v4.get_hinted(&v4, hint)?;
                Some((i, i as usize))
            }
            Place::Full => {
                let (i, _) = self.full.get_hinted(key, hint)?;
                Some((i, self.v4.len() + i as usize))
            }
            Place::Nowhere => None,
        }
    }

    /// Hinted look-ups whose hint was stale, in both tables.
    #[cfg(test)]
    pub(crate) fn hint_misses(&self) -> usize {
        self.v4.hint_misses.get() + self.full.hint_misses.get()
    }

    /// Keys kept in full though IPv4 (a full RD dictionary).
    #[cfg(test)]
    pub(crate) fn spilled(&self) -> usize {
        self.spilled
    }
}

impl<K: SplitKey, V, S: Slot<K::V4, V>> std::ops::Index<&K> for SplitTable<K, V, S> {
    type Output = V;
    /// Like a map's indexing: panics when the key is absent.
    fn index(&self, key: &K) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

impl<K: SplitKey + fmt::Debug, V: fmt::Debug, S: Slot<K::V4, V>> fmt::Debug
    for SplitTable<K, V, S>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A VRF's table: a [`SplitTable`] by prefix that also keeps its host prefixes (/32, /128)
/// in order, so the hosts inside a subnet are a range ([`PrefixTable::hosts_within`]) as
/// they were in the B-tree. Reads go through `Deref`; changes that add or remove prefixes go
/// through the methods here, which keep the host set in step.
#[derive(Clone)]
pub struct PrefixTable<V, S: Slot<V4Key, V> = (V4Key, V)> {
    entries: SplitTable<IpNet, V, S>,
    hosts: BTreeSet<IpNet>,
}

impl<V, S: Slot<V4Key, V>> Default for PrefixTable<V, S> {
    fn default() -> Self {
        PrefixTable {
            entries: SplitTable::default(),
            hosts: BTreeSet::new(),
        }
    }
}

fn is_host(prefix: &IpNet) -> bool {
    prefix.prefix_len() == prefix.max_prefix_len()
}

impl<V, S: Slot<V4Key, V>> PrefixTable<V, S> {
    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut V> {
        self.entries.get_mut(prefix)
    }

    /// `prefix`'s entry and its position, trying the position `hint` first
    /// ([`SplitTable::get_mut_hinted`]).
    pub fn get_mut_hinted(&mut self, prefix: &IpNet, hint: u32) -> Option<(u32, &mut V)> {
        self.entries.get_mut_hinted(prefix, hint)
    }

    /// `(prefix, &mut entry)` in no particular order.
    pub fn iter_unordered_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut V)> + '_ {
        self.entries.iter_unordered_mut()
    }

    /// The entry of `prefix`, a default one if it had none.
    pub fn get_or_default(&mut self, prefix: IpNet) -> &mut V
    where
        V: Default,
    {
        self.get_or_default_at(prefix).1
    }

    /// [`PrefixTable::get_or_default`], with the entry's position (a hint for
    /// [`PrefixTable::get_mut_hinted`]).
    pub fn get_or_default_at(&mut self, prefix: IpNet) -> (u32, &mut V)
    where
        V: Default,
    {
        let hash = self.entries.hash_of(&prefix);
        self.get_or_default_hashed(prefix, hash)
    }

    /// [`PrefixTable::get_or_default_at`] of a prefix whose hash ([`SplitTable::hash_of`])
    /// the caller has.
    pub fn get_or_default_hashed(&mut self, prefix: IpNet, hash: u64) -> (u32, &mut V)
    where
        V: Default,
    {
        let (at, entry, new) = self.entries.get_or_insert_hashed(prefix, hash, V::default);
        if new && is_host(&prefix) {
            self.hosts.insert(prefix);
        }
        (at, entry)
    }

    pub fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        let removed = self.entries.remove(prefix)?;
        if is_host(prefix) {
            self.hosts.remove(prefix);
        }
        Some(removed)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&IpNet, &mut V) -> bool) {
        let hosts = &mut self.hosts;
        self.entries.retain(|prefix, entry| {
            let kept = keep(&prefix, entry);
            if !kept && is_host(&prefix) {
                hosts.remove(&prefix);
            }
            kept
        });
    }

    /// The host prefixes of the table inside `subnet`, in order.
    pub fn hosts_within(&self, subnet: IpNet) -> impl Iterator<Item = &IpNet> + '_ {
        let first = IpNet::from(subnet.network());
        let last = IpNet::from(subnet.broadcast());
        self.hosts.range(first..=last)
    }
}

impl<V, S: Slot<V4Key, V>> std::ops::Deref for PrefixTable<V, S> {
    type Target = SplitTable<IpNet, V, S>;
    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl<'a, V, S: Slot<V4Key, V>> IntoIterator for &'a PrefixTable<V, S> {
    type Item = (IpNet, &'a V);
    type IntoIter = std::vec::IntoIter<(IpNet, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<V: fmt::Debug, S: Slot<V4Key, V>> fmt::Debug for PrefixTable<V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entries.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use vpn_types::AdminValue;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Retain(u16),
        /// A lookup with a position hint: any `u32`, or where an earlier lookup found a key.
        Hinted(u16, u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u16..300, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            3 => (0u16..300).prop_map(Op::Remove),
            1 => (2u16..9).prop_map(Op::Retain),
            2 => (0u16..300, prop_oneof![0u32..400, any::<u32>()])
                .prop_map(|(k, hint)| Op::Hinted(k, hint)),
        ]
    }

    proptest! {
        /// Any sequence of inserts, removals and retains leaves the table holding exactly what
        /// a `BTreeMap` given the same operations holds, every key findable, in order on
        /// `iter`.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..600)) {
            let mut table: KeyedTable<u16, u32> = KeyedTable::new();
            let mut model: BTreeMap<u16, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(table.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(table.remove(&k), model.remove(&k)),
                    Op::Retain(m) => {
                        table.retain(|k, _| k % m != 0);
                        model.retain(|k, _| k % m != 0);
                    }
                    Op::Hinted(k, hint) => {
                        let found = table.get_mut_hinted(&k, hint).map(|(at, v)| (at, *v));
                        prop_assert_eq!(found.map(|(_, v)| v), model.get(&k).copied());
                        if let Some((at, v)) = found {
                            // The position returned is the entry's: as a hint it is taken.
                            prop_assert_eq!(table.get_mut_hinted(&k, at).map(|(a, v)| (a, *v)), Some((at, v)));
                            let (at2, _, new) = table.get_or_insert_at(k, || 0);
                            prop_assert_eq!((at2, new), (at, false));
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            for k in 0..300u16 {
                prop_assert_eq!(table.get(&k), model.get(&k));
            }
            let listed: Vec<(u16, u32)> = table.iter().map(|(k, v)| (k, *v)).collect();
            let expected: Vec<(u16, u32)> = model.into_iter().collect();
            prop_assert_eq!(listed, expected);
        }
    }

    /// A prefix from a small space of IPv4 and IPv6 prefixes of every length, hosts
    /// included: `n` picks the family, the address and the length.
    fn mixed_prefix(n: u16) -> IpNet {
        let len = (n % 7) as u8;
        if n.is_multiple_of(2) {
            let net = Ipv4Net::new(
                [10, (n / 7 % 16) as u8, 0, (n % 5) as u8].into(),
                32 - len * 5,
            );
            IpNet::V4(net.unwrap()).trunc()
        } else {
            let addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, n / 7 % 16, 0, 0, 0, 0, n % 5);
            IpNet::V6(ipnet::Ipv6Net::new(addr, 128 - len * 20).unwrap()).trunc()
        }
    }

    /// A value as the tests store it: a number, kept beside its key (`(V4Key, u32)`) or with
    /// its key folded in ([`Roomy`]).
    trait TestValue: Default {
        fn get(&self) -> u32;
        fn set(&mut self, v: u32);
    }

    impl TestValue for u32 {
        fn get(&self) -> u32 {
            *self
        }
        fn set(&mut self, v: u32) {
            *self = v;
        }
    }

    /// A value with room for its key, which also writes the number's low bits into the
    /// spare bits (a folded key must survive its value's writes).
    #[derive(Default, Debug)]
    struct Roomy {
        v: u32,
        room: KeyRoom,
    }

    impl HasKeyRoom for Roomy {
        fn key_room(&self) -> &KeyRoom {
            &self.room
        }
        fn key_room_mut(&mut self) -> &mut KeyRoom {
            &mut self.room
        }
    }

    impl TestValue for Roomy {
        fn get(&self) -> u32 {
            assert_eq!(
                self.room.spare(),
                self.v & KeyRoom::SPARE,
                "spare bits kept"
            );
            self.v
        }
        fn set(&mut self, v: u32) {
            self.v = v;
            self.room.set_spare(v & KeyRoom::SPARE);
        }
    }

    /// Runs `ops` on a VRF table of both families and a `BTreeMap` by prefix, and checks the
    /// table holds what the map holds: every prefix findable, listed in prefix order, the
    /// hosts in order, each entry's place among all of them its own.
    fn prefix_table_like_a_btree_map<V: TestValue, S: Slot<V4Key, V>>(
        ops: Vec<Op>,
    ) -> Result<(), TestCaseError> {
        let mut table: PrefixTable<V, S> = PrefixTable::default();
        let mut model: BTreeMap<IpNet, u32> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    let p = mixed_prefix(k);
                    let (at, slot) = table.get_or_default_at(p);
                    slot.set(v);
                    model.insert(p, v);
                    prop_assert_eq!(
                        table.get_hinted(&p, at).map(|(a, v)| (a, v.get())),
                        Some((at, v))
                    );
                }
                Op::Remove(k) => {
                    let p = mixed_prefix(k);
                    prop_assert_eq!(table.remove(&p).map(|v| v.get()), model.remove(&p));
                }
                Op::Retain(m) => {
                    let m = u32::from(m);
                    table.retain(|_, v| v.get() % m != 0);
                    model.retain(|_, v| *v % m != 0);
                }
                Op::Hinted(k, hint) => {
                    let p = mixed_prefix(k);
                    let found = table.get_mut_hinted(&p, hint).map(|(_, v)| v.get());
                    prop_assert_eq!(found, model.get(&p).copied());
                }
            }
            prop_assert_eq!(table.len(), model.len());
        }
        let listed: Vec<(IpNet, u32)> = table.iter().map(|(p, v)| (p, v.get())).collect();
        let expected: Vec<(IpNet, u32)> = model.iter().map(|(p, v)| (*p, *v)).collect();
        prop_assert_eq!(listed, expected);
        let hosts: Vec<IpNet> = table
            .hosts_within("0.0.0.0/0".parse().unwrap())
            .chain(table.hosts_within("::/0".parse().unwrap()))
            .copied()
            .collect();
        let model_hosts: Vec<IpNet> = model.keys().filter(|p| is_host(p)).copied().collect();
        prop_assert_eq!(hosts, model_hosts);
        check_places(&table, model.keys())
    }

    proptest! {
        /// A VRF table keeping each IPv4 key beside its value behaves like a `BTreeMap`.
        #[test]
        fn prefix_table_behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..400)) {
            prefix_table_like_a_btree_map::<u32, (V4Key, u32)>(ops)?;
        }

        /// So does one folding each IPv4 key into its value, whose own writes to the spare
        /// bits leave the key as it was.
        #[test]
        fn folded_prefix_table_behaves_like_a_btree_map(
            ops in proptest::collection::vec(op(), 0..400)
        ) {
            prefix_table_like_a_btree_map::<Roomy, KeyInValue<Roomy>>(ops)?;
        }
    }

    /// Each key's place among all the entries is its own: the places are `0..len`.
    fn check_places<'a, K: SplitKey + 'a, V, S: Slot<K::V4, V>>(
        table: &SplitTable<K, V, S>,
        keys: impl Iterator<Item = &'a K>,
    ) -> Result<(), TestCaseError> {
        let mut places: Vec<usize> = keys
            .map(|k| table.locate(k, u32::MAX).expect("present").1)
            .collect();
        places.sort_unstable();
        prop_assert_eq!(places, (0..table.len()).collect::<Vec<_>>());
        Ok(())
    }

    /// An RD of each type, from `n`.
    fn rd(n: u16) -> RouteDistinguisher {
        RouteDistinguisher(match n % 3 {
            0 => AdminValue::As2 {
                asn: n,
                value: u32::from(n) << 16,
            },
            1 => AdminValue::Ipv4 {
                addr: [192, 0, 2, n as u8].into(),
                value: n,
            },
            _ => AdminValue::As4 {
                asn: 70_000 + u32::from(n),
                value: n,
            },
        })
    }

    type VpnKey = (RouteDistinguisher, IpNet);

    /// The VPN table against a `BTreeMap`, and what it keeps beside its entries: the RDs
    /// numbered are those of its IPv4 keys held in small form, and the IPv4 keys held in full
    /// are counted.
    fn check_vpn_table(
        table: &SplitTable<VpnKey, u16>,
        model: &BTreeMap<VpnKey, u16>,
    ) -> Result<(), TestCaseError> {
        let listed: Vec<_> = table.iter().map(|(k, v)| (k, *v)).collect();
        let expected: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(listed, expected);
        let names = table.v4_names();
        let numbered: BTreeSet<RouteDistinguisher> = table
            .v4
            .keys_unordered()
            .map(|k| names.rd_value(k.rd()))
            .collect();
        for k in table.v4.keys_unordered() {
            // What a key hashes by is its RD's word.
            let word = names.rd(k.rd());
            prop_assert_eq!(
                RouteDistinguisher(AdminValue::from_u64(word).unwrap()),
                names.rd_value(k.rd())
            );
        }
        prop_assert_eq!(table.v4_names().len(), numbered.len());
        prop_assert!(table.v4_names().len() <= RD_NUMBERS);
        let spilled = table.full.keys_unordered().filter(|k| k.is_v4()).count();
        prop_assert_eq!(table.spilled(), spilled);
        for key in model.keys() {
            let v4 = key.v4(table.v4_names());
            let in_full = table.full.contains_key(key);
            // Each key is in one table: in full only when IPv4 and not numbered, or spilled
            // before its RD was numbered.
            prop_assert_eq!(v4.is_some_and(|k| table.v4.contains_key(&k)), !in_full);
            if let Some(v4) = v4 {
                prop_assert_eq!(VpnKey::from_v4(v4, table.v4_names()), *key);
            }
        }
        check_places(table, model.keys())
    }

    proptest! {
        /// The VPN table's keys split by family too, an IPv4 key's RD numbered: an RD:prefix
        /// of either family and any RD type round-trips through its table, and the table holds
        /// what a `BTreeMap` does through inserts, removals and retains over more RDs than
        /// it has numbers for (four under test), with numbers freed and given again.
        #[test]
        fn vpn_keys_split_and_join(ops in proptest::collection::vec(op(), 0..400)) {
            let mut table: SplitTable<VpnKey, u16> = SplitTable::default();
            let mut model: BTreeMap<VpnKey, u16> = BTreeMap::new();
            let key = |n: u16| (rd(n % 7), mixed_prefix(n / 7));
            for op in ops {
                match op {
                    Op::Insert(n, v) => {
                        let (at, slot, _) = table.get_or_insert_at(key(n), || 0);
                        *slot = v as u16;
                        model.insert(key(n), v as u16);
                        prop_assert_eq!(
                            table.get_hinted(&key(n), at).map(|(a, v)| (a, *v)),
                            Some((at, v as u16))
                        );
                    }
                    Op::Remove(n) => prop_assert_eq!(table.remove(&key(n)), model.remove(&key(n))),
                    Op::Retain(m) => {
                        table.retain(|_, v| *v % m != 0);
                        model.retain(|_, v| *v % m != 0);
                    }
                    Op::Hinted(n, hint) => {
                        let found = table.get_mut_hinted(&key(n), hint).map(|(_, v)| *v);
                        prop_assert_eq!(found, model.get(&key(n)).copied());
                        prop_assert_eq!(table.contains_key(&key(n)), found.is_some());
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            check_vpn_table(&table, &model)?;
        }
    }

    /// An IPv4 key that came when every RD number was taken is kept in full, and stays found
    /// there after a number frees and its RD gets it for a later key; the numbers go when
    /// their keys do.
    #[test]
    fn vpn_keys_beyond_the_rd_numbers_are_kept_in_full() {
        let mut table: SplitTable<VpnKey, u16> = SplitTable::default();
        let mut model: BTreeMap<VpnKey, u16> = BTreeMap::new();
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let put = |table: &mut SplitTable<VpnKey, u16>,
                   model: &mut BTreeMap<VpnKey, u16>,
                   key: VpnKey,
                   v: u16| {
            *table.get_or_default(key) = v;
            model.insert(key, v);
        };
        for r in 0..RD_NUMBERS as u16 {
            put(&mut table, &mut model, (rd(r), net("10.0.0.0/8")), r);
        }
        let late = (rd(9), net("10.0.0.0/8"));
        put(&mut table, &mut model, late, 9);
        assert_eq!((table.v4_names().len(), table.spilled()), (RD_NUMBERS, 1));
        // RD 0's number frees; RD 9 takes it for its next key, the first one staying in full.
        assert_eq!(table.remove(&(rd(0), net("10.0.0.0/8"))), Some(0));
        model.remove(&(rd(0), net("10.0.0.0/8")));
        let later = (rd(9), net("10.1.0.0/16"));
        put(&mut table, &mut model, later, 10);
        assert_eq!(table.spilled(), 1);
        assert!(late.v4(table.v4_names()).is_some());
        assert_eq!(table.get(&late), Some(&9));
        assert_eq!(table.get(&later), Some(&10));
        // Found again, not added twice.
        put(&mut table, &mut model, late, 11);
        assert_eq!(table.len(), RD_NUMBERS + 1);
        check_vpn_table(&table, &model).unwrap();
        assert_eq!(table.remove(&late), Some(11));
        assert_eq!(table.spilled(), 0);
        table.retain(|_, _| false);
        assert!(table.is_empty() && table.v4_names().is_empty());
    }

    /// A VPNv4 key is 8 bytes: the RD is a number in the table's dictionary.
    #[test]
    fn vpn_v4_keys_are_8_bytes() {
        assert_eq!(std::mem::size_of::<VpnV4Key>(), 8);
    }

    /// An IPv4 route's slot is 32 bytes (`docs/benchmarks.md`, "BGP ingest"): one inline
    /// candidate (`Route`, 16, with no tag beside it: `small_map::Packed`), one word for the
    /// installed action (`held::Held`), and one for the key with the two candidate indexes
    /// (`KeyRoom`, `selection`). Beside the entry, the key took 8 bytes more.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn ipv4_slots_are_32_bytes() {
        assert_eq!(std::mem::size_of::<KeyInValue<crate::PrefixEntry>>(), 32);
        assert_eq!(std::mem::size_of::<(V4Key, crate::PrefixEntry)>(), 40);
    }

    #[test]
    fn prefix_table_finds_the_hosts_of_a_subnet() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let mut table: PrefixTable<u8> = PrefixTable::default();
        for p in [
            "10.0.0.0/24",
            "10.0.0.1/32",
            "10.0.0.200/32",
            "10.0.1.1/32",
            "::1/128",
        ] {
            *table.get_or_default(net(p)) = 1;
        }
        let within = |t: &PrefixTable<u8>, s: &str| -> Vec<IpNet> {
            t.hosts_within(net(s)).copied().collect()
        };
        assert_eq!(
            within(&table, "10.0.0.0/24"),
            [net("10.0.0.1/32"), net("10.0.0.200/32")]
        );
        assert_eq!(within(&table, "10.0.0.128/25"), [net("10.0.0.200/32")]);
        assert_eq!(within(&table, "::/0"), [net("::1/128")]);
        table.remove(&net("10.0.0.1/32"));
        table.retain(|p, _| *p != net("10.0.0.200/32"));
        assert_eq!(within(&table, "10.0.0.0/8"), [net("10.0.1.1/32")]);
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn get_or_default_creates_once() {
        let mut table: KeyedTable<u8, Vec<u8>> = KeyedTable::new();
        table.get_or_default(7).push(1);
        table.get_or_default(7).push(2);
        assert_eq!(table.get(&7), Some(&vec![1, 2]));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn gives_memory_back_when_emptied() {
        let mut table: KeyedTable<u32, u64> = KeyedTable::new();
        for k in 0..10_000 {
            table.insert(k, 0);
        }
        let full = table.slots.capacity();
        for k in 0..9_990 {
            table.remove(&k);
        }
        assert!(
            table.slots.capacity() < full / 100,
            "{}",
            table.slots.capacity()
        );
        assert!((9_990..10_000).all(|k| table.contains_key(&k)));
        assert!(table.index.capacity() < 100, "{}", table.index.capacity());
        // Emptied at once, by a bulk removal.
        for k in 0..10_000 {
            table.insert(k, 0);
        }
        table.retain(|_, _| false);
        assert!(table.is_empty());
        assert_eq!(table.slots.capacity(), 0);
        assert!(table.index.capacity() < 100, "{}", table.index.capacity());
    }
}
