//! A container sized for the few entries most prefixes have.
//!
//! A prefix usually has one candidate route, and a VPN key one path. A `BTreeMap` with one
//! entry allocates a whole node (room for eleven), which for a million prefixes was most of the
//! RIB's memory. [`KeyedSlice`] is a sorted slice of entries that carry their own keys, with
//! the map operations the RIB and its readers use (it was a map of keys to values,
//! `SmallMap`, until the keys stored beside the routes and paths went). A single entry is kept
//! inline (no allocation: reading a prefix's only candidate costs no second cache miss, and
//! taking in a full table no malloc and free per route); two or more are a boxed slice exactly
//! as long as its contents. An insert of a new key or a removal goes through a `Vec` for the
//! moment of the change; it moves the entries after the change point anyway, and slices are
//! small.

use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};

/// How a [`KeyedSlice`] stores its entries: none, one inline, or two or more boxed (never
/// fewer, so each content has one representation).
pub trait Store<T>: Default {
    fn as_slice(&self) -> &[T];
    fn as_mut_slice(&mut self) -> &mut [T];
    fn into_vec(self) -> Vec<T>;
    fn from_vec(entries: Vec<T>) -> Self;
    /// One entry, stored inline.
    fn one(entry: T) -> Self;
    /// The entry, if there is exactly one; the store back otherwise.
    fn into_one(self) -> Result<T, Self>;
    /// Whether the entries have their one representation.
    fn is_exactly_sized(&self) -> bool;
}

/// The entries: none, one inline, or two or more boxed; the tag beside them (in a VPN path,
/// in its protocol's spare values).
#[derive(Clone, Default)]
pub enum Entries<T> {
    #[default]
    Empty,
    One(T),
    Many(Box<[T]>),
}

impl<T> Store<T> for Entries<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Entries::Empty => &[],
            Entries::One(entry) => std::slice::from_ref(entry),
            Entries::Many(entries) => entries,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Entries::Empty => &mut [],
            Entries::One(entry) => std::slice::from_mut(entry),
            Entries::Many(entries) => entries,
        }
    }

    fn into_vec(self) -> Vec<T> {
        match self {
            Entries::Empty => Vec::new(),
            Entries::One(entry) => vec![entry],
            Entries::Many(entries) => entries.into_vec(),
        }
    }

    fn from_vec(mut entries: Vec<T>) -> Self {
        match entries.len() {
            0 => Entries::Empty,
            1 => Entries::One(entries.pop().expect("one")),
            // `into_boxed_slice` reallocates only when there is spare room.
            _ => Entries::Many(entries.into_boxed_slice()),
        }
    }

    fn one(entry: T) -> Self {
        Entries::One(entry)
    }

    fn into_one(self) -> Result<T, Self> {
        match self {
            Entries::One(entry) => Ok(entry),
            other => Err(other),
        }
    }

    fn is_exactly_sized(&self) -> bool {
        match self {
            Entries::Empty | Entries::One(_) => true,
            Entries::Many(entries) => entries.len() > 1,
        }
    }
}

/// A type whose first word is always a non-null pointer to a value aligned to at least 2:
/// [`Packed`] keeps its other states in that word.
///
/// # Safety
///
/// The type is `#[repr(C)]`, at least a word long, and its first field is a `Shared` (the
/// crate's `Arc` of known layout) or another pointer that is never null nor odd.
pub unsafe trait StartsWithPointer: Sized {}

/// The entries as [`Entries`] would hold them, with no tag beside them: the first word of an
/// inline entry is a pointer never null nor odd ([`StartsWithPointer`]), so a null word is
/// "none" and an odd one the address (plus one) of the boxed entries. A prefix's candidates
/// are one route of two pointers: with a tag beside them they were 24 bytes, here 16 (a
/// VRF table's IPv4 slot 48 bytes → 40, 32 since with its key folded in).
pub struct Packed<T: StartsWithPointer> {
    /// An entry, or (first word only) null or the tagged box.
    raw: MaybeUninit<T>,
}

/// Set in the first word when it is the boxed entries' address.
const MANY: usize = 1;

/// What a [`Packed`] holds.
enum PackedState<T> {
    Empty,
    One,
    Many(*mut Box<[T]>),
}

impl<T: StartsWithPointer> Packed<T> {
    fn with_word(word: *mut u8) -> Self {
        let mut raw = MaybeUninit::<T>::uninit();
        // SAFETY: `T` is at least a word long and aligned as its first field, a pointer.
        unsafe { raw.as_mut_ptr().cast::<*mut u8>().write(word) };
        Packed { raw }
    }

    fn word(&self) -> *mut u8 {
        // SAFETY: the first word is always written: an entry's pointer, null, or the tagged box.
        unsafe { self.raw.as_ptr().cast::<*mut u8>().read() }
    }

    fn state(&self) -> PackedState<T> {
        let word = self.word();
        if word.is_null() {
            PackedState::Empty
        } else if word.addr() & MANY != 0 {
            PackedState::Many(word.map_addr(|a| a & !MANY).cast())
        } else {
            PackedState::One
        }
    }

    fn many(entries: Box<[T]>) -> Self {
        let boxed: *mut Box<[T]> = Box::into_raw(Box::new(entries));
        Self::with_word(boxed.cast::<u8>().map_addr(|a| a | MANY))
    }
}

// A boxed slice's box is aligned to a word: its low bit is free for the tag.
const _: () = assert!(align_of::<Box<[u8]>>() > MANY);

impl<T: StartsWithPointer> Default for Packed<T> {
    fn default() -> Self {
        Self::with_word(std::ptr::null_mut())
    }
}

impl<T: StartsWithPointer> Drop for Packed<T> {
    fn drop(&mut self) {
        match self.state() {
            PackedState::Empty => {}
            // SAFETY: in this state `raw` holds an entry, dropped once here.
            PackedState::One => unsafe { self.raw.assume_init_drop() },
            // SAFETY: in this state the word is a `Box<Box<[T]>>` this value owns.
            PackedState::Many(boxed) => drop(unsafe { Box::from_raw(boxed) }),
        }
    }
}

impl<T: StartsWithPointer + Clone> Clone for Packed<T> {
    fn clone(&self) -> Self {
        match self.state() {
            PackedState::Empty => Self::default(),
            PackedState::One => Self::one(self.as_slice()[0].clone()),
            PackedState::Many(_) => Self::many(self.as_slice().into()),
        }
    }
}

impl<T: StartsWithPointer> Store<T> for Packed<T> {
    fn as_slice(&self) -> &[T] {
        match self.state() {
            PackedState::Empty => &[],
            // SAFETY: in this state `raw` holds an entry.
            PackedState::One => std::slice::from_ref(unsafe { self.raw.assume_init_ref() }),
            // SAFETY: the box this value owns, borrowed as long as `self` is.
            PackedState::Many(boxed) => unsafe { &*boxed },
        }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        match self.state() {
            PackedState::Empty => &mut [],
            // SAFETY: as in `as_slice`, and `&mut self` makes the access unique.
            PackedState::One => std::slice::from_mut(unsafe { self.raw.assume_init_mut() }),
            // SAFETY: as above.
            PackedState::Many(boxed) => unsafe { &mut *boxed },
        }
    }

    fn into_vec(self) -> Vec<T> {
        match self.into_one() {
            Ok(entry) => vec![entry],
            Err(this) => {
                let this = ManuallyDrop::new(this);
                match this.state() {
                    PackedState::Many(boxed) => {
                        // SAFETY: the box this value owned; `this` is not dropped.
                        unsafe { Box::from_raw(boxed) }.into_vec()
                    }
                    _ => Vec::new(),
                }
            }
        }
    }

    fn from_vec(mut entries: Vec<T>) -> Self {
        match entries.len() {
            0 => Self::default(),
            1 => Self::one(entries.pop().expect("one")),
            _ => Self::many(entries.into_boxed_slice()),
        }
    }

    fn one(entry: T) -> Self {
        let packed = Packed {
            raw: MaybeUninit::new(entry),
        };
        debug_assert!(matches!(packed.state(), PackedState::One));
        packed
    }

    fn into_one(self) -> Result<T, Self> {
        match self.state() {
            PackedState::One => {
                let this = ManuallyDrop::new(self);
                // SAFETY: in this state `raw` holds an entry, moved out once; `this` is not
                // dropped.
                Ok(unsafe { this.raw.assume_init_read() })
            }
            _ => Err(self),
        }
    }

    fn is_exactly_sized(&self) -> bool {
        match self.state() {
            PackedState::Empty | PackedState::One => true,
            // SAFETY: the box this value owns.
            PackedState::Many(boxed) => unsafe { (&*boxed).len() > 1 },
        }
    }
}

/// An entry that carries its own key: a route which candidate it is, a VPN path its source.
/// Stored in a [`KeyedSlice`], it needs no key beside it.
pub trait Keyed {
    /// The key, borrowed from the entry.
    type Key<'a>: Copy + Ord + fmt::Debug
    where
        Self: 'a;

    fn key(&self) -> Self::Key<'_>;

    /// This entry's key against `key` (a key borrowed from elsewhere: `Self::Key` of another
    /// lifetime, which the implementation, knowing the concrete type, can compare).
    fn cmp_key(&self, key: &Self::Key<'_>) -> Ordering;
}

/// Entries that carry their own keys ([`Keyed`]) in key order, at most one per key. A sorted
/// slice, one entry inline, more boxed exactly
/// sized. What an entry's key is read from must not change while it is here; the rest may
/// ([`KeyedSlice::get_mut`]).
#[derive(Clone)]
pub struct KeyedSlice<T, S: Store<T> = Entries<T>> {
    entries: S,
    _entry: PhantomData<T>,
}

impl<T, S: Store<T>> Default for KeyedSlice<T, S> {
    fn default() -> Self {
        KeyedSlice {
            entries: S::default(),
            _entry: PhantomData,
        }
    }
}

impl<T: PartialEq, S: Store<T>> PartialEq for KeyedSlice<T, S> {
    fn eq(&self, other: &Self) -> bool {
        self.entries.as_slice() == other.entries.as_slice()
    }
}

impl<T: Eq, S: Store<T>> Eq for KeyedSlice<T, S> {}

impl<T, S: Store<T>> KeyedSlice<T, S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.as_slice().is_empty()
    }

    /// The entry at `index` in key order.
    pub fn get_index(&self, index: usize) -> Option<&T> {
        self.entries.as_slice().get(index)
    }

    /// The entries in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.entries.as_slice().iter()
    }

    /// Keeps the entries `keep` says yes to. None or one (most prefixes' candidates) are
    /// decided in place, without the round trip through a `Vec`.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        match self.entries.as_slice() {
            [] => {}
            [only] => {
                if !keep(only) {
                    self.entries = S::default();
                }
            }
            _ => self.change(|v| v.retain(keep)),
        }
    }

    /// Whether the entries have their one representation: none, one inline, or two or more
    /// boxed.
    pub fn is_exactly_sized(&self) -> bool {
        self.entries.is_exactly_sized()
    }

    /// Changes the entries as a vector, then stores them exactly sized again.
    fn change<R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        let mut v = std::mem::take(&mut self.entries).into_vec();
        let r = f(&mut v);
        self.entries = S::from_vec(v);
        r
    }
}

impl<T: Keyed, S: Store<T>> KeyedSlice<T, S> {
    fn find(&self, key: &T::Key<'_>) -> Result<usize, usize> {
        self.entries.as_slice().binary_search_by(|e| e.cmp_key(key))
    }

    /// `(key, entry)` in key order.
    pub fn iter_keyed(&self) -> impl Iterator<Item = (T::Key<'_>, &T)> + '_ {
        self.iter().map(|e| (e.key(), e))
    }

    pub fn keys(&self) -> impl Iterator<Item = T::Key<'_>> + '_ {
        self.iter().map(T::key)
    }

    pub fn get(&self, key: T::Key<'_>) -> Option<&T> {
        self.find(&key).ok().map(|i| &self.entries.as_slice()[i])
    }

    /// The entry of `key`, to change anything but what its key is read from.
    pub fn get_mut(&mut self, key: T::Key<'_>) -> Option<&mut T> {
        let i = self.find(&key).ok()?;
        Some(&mut self.entries.as_mut_slice()[i])
    }

    pub fn contains_key(&self, key: T::Key<'_>) -> bool {
        self.find(&key).is_ok()
    }

    /// Where `key` is in key order.
    pub fn index_of(&self, key: T::Key<'_>) -> Option<usize> {
        self.find(&key).ok()
    }

    /// Where `key` is in key order, and its entry.
    pub fn get_index_of(&self, key: T::Key<'_>) -> Option<(usize, &T)> {
        let i = self.find(&key).ok()?;
        Some((i, &self.entries.as_slice()[i]))
    }

    /// Inserts `entry`, or replaces the entry of its key; returns the entry replaced.
    pub fn insert(&mut self, entry: T) -> Option<T> {
        if self.is_empty() {
            self.entries = S::one(entry);
            return None;
        }
        match self.find(&entry.key()) {
            Ok(i) => Some(std::mem::replace(
                &mut self.entries.as_mut_slice()[i],
                entry,
            )),
            Err(i) => {
                self.change(|v| {
                    v.reserve_exact(1);
                    v.insert(i, entry);
                });
                None
            }
        }
    }

    pub fn remove(&mut self, key: T::Key<'_>) -> Option<T> {
        let i = self.find(&key).ok()?;
        match std::mem::take(&mut self.entries).into_one() {
            Ok(entry) => Some(entry),
            Err(entries) => {
                self.entries = entries;
                Some(self.change(|v| v.remove(i)))
            }
        }
    }
}

impl<T: Keyed, S: Store<T>> Extend<T> for KeyedSlice<T, S> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for entry in iter {
            self.insert(entry);
        }
    }
}

impl<T: Keyed, S: Store<T>> FromIterator<T> for KeyedSlice<T, S> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = KeyedSlice::new();
        s.extend(iter);
        s
    }
}

impl<'a, T, S: Store<T>> IntoIterator for &'a KeyedSlice<T, S> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Prints as a map from each entry's key to the entry.
impl<T: Keyed + fmt::Debug, S: Store<T>> fmt::Debug for KeyedSlice<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter_keyed()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Shared;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// An entry that starts with a pointer, keyed by `n`, counting its copies through the
    /// one `Arc` they all share.
    #[derive(Clone, Debug, PartialEq)]
    #[repr(C)]
    struct Probe {
        shared: Shared<u64>,
        n: u32,
    }

    // SAFETY: `#[repr(C)]`, a `Shared` first.
    unsafe impl StartsWithPointer for Probe {}

    impl Keyed for Probe {
        type Key<'a> = u32;
        fn key(&self) -> u32 {
            self.n
        }
        fn cmp_key(&self, key: &u32) -> Ordering {
            self.n.cmp(key)
        }
    }

    /// Inserts, replacements, removals, retains, clones and moves out of a packed slice, against a
    /// map: the same entries in the same order, one representation for each content, and
    /// every entry dropped once (the shared count comes back). Deterministic and short, so
    /// that Miri runs it too (`cargo +nightly miri test -p rib packed`).
    #[test]
    fn packed_entries_behave_as_tagged_ones_and_drop_once() {
        let arc = Arc::new(7u64);
        let probe = |n| Probe {
            shared: Shared::new(arc.clone()),
            n,
        };
        let mut slice: KeyedSlice<Probe, Packed<Probe>> = KeyedSlice::new();
        let mut model: BTreeMap<u32, ()> = BTreeMap::new();
        let mut seed = 0x2545_f491_u32;
        for step in 0..400 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = (seed >> 16) % 5;
            match (seed >> 8) % 5 {
                0 | 1 => {
                    assert_eq!(
                        slice.insert(probe(n)).is_some(),
                        model.insert(n, ()).is_some()
                    );
                }
                2 => assert_eq!(slice.remove(n).is_some(), model.remove(&n).is_some()),
                3 => {
                    // Keeps the keys other than `n` and, with an odd `n`, those below it.
                    let keep = |k: u32| k != n && (n.is_multiple_of(2) || k < n);
                    slice.retain(|p| keep(p.n));
                    model.retain(|k, _| keep(*k));
                }
                _ => {
                    let copy = slice.clone();
                    assert_eq!(copy, slice);
                    let entries = Packed::from_vec(copy.entries.into_vec());
                    assert_eq!(entries.as_slice(), slice.entries.as_slice());
                }
            }
            let keys: Vec<u32> = slice.keys().collect();
            let expected: Vec<u32> = model.keys().copied().collect();
            assert_eq!(keys, expected, "step {step}");
            assert!(slice.is_exactly_sized());
            assert_eq!(Arc::strong_count(&arc), 1 + slice.len(), "step {step}");
        }
        if let Some(p) = slice.iter().next().cloned() {
            slice.get_mut(p.n).expect("there").shared = Shared::new(Arc::new(8));
            assert_eq!(*slice.get(p.n).expect("there").shared, 8);
        }
        drop(slice);
        assert_eq!(Arc::strong_count(&arc), 1);
        assert_eq!(size_of::<Packed<Probe>>(), 16);
    }
}
