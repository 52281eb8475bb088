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

/// The entries: none, one inline, or two or more boxed (never fewer, so each content has
/// one representation).
#[derive(Clone, Default)]
pub(crate) enum Entries<T> {
    #[default]
    Empty,
    One(T),
    Many(Box<[T]>),
}

impl<T> Entries<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Entries::Empty => &[],
            Entries::One(entry) => std::slice::from_ref(entry),
            Entries::Many(entries) => entries,
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Entries::Empty => &mut [],
            Entries::One(entry) => std::slice::from_mut(entry),
            Entries::Many(entries) => entries,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            Entries::Empty => Vec::new(),
            Entries::One(entry) => vec![entry],
            Entries::Many(entries) => entries.into_vec(),
        }
    }

    pub(crate) fn from_vec(mut entries: Vec<T>) -> Self {
        match entries.len() {
            0 => Entries::Empty,
            1 => Entries::One(entries.pop().expect("one")),
            // `into_boxed_slice` reallocates only when there is spare room.
            _ => Entries::Many(entries.into_boxed_slice()),
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
pub struct KeyedSlice<T> {
    entries: Entries<T>,
}

impl<T> Default for KeyedSlice<T> {
    fn default() -> Self {
        KeyedSlice {
            entries: Entries::Empty,
        }
    }
}

impl<T: PartialEq> PartialEq for KeyedSlice<T> {
    fn eq(&self, other: &Self) -> bool {
        self.entries.as_slice() == other.entries.as_slice()
    }
}

impl<T: Eq> Eq for KeyedSlice<T> {}

impl<T> KeyedSlice<T> {
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

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.change(|v| v.retain(keep));
    }

    /// Whether the entries have their one representation: none, one inline, or two or more
    /// boxed.
    pub fn is_exactly_sized(&self) -> bool {
        match &self.entries {
            Entries::Empty => true,
            Entries::One(_) => true,
            Entries::Many(entries) => entries.len() > 1,
        }
    }

    /// Changes the entries as a vector, then stores them exactly sized again.
    fn change<R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        let mut v = std::mem::take(&mut self.entries).into_vec();
        let r = f(&mut v);
        self.entries = Entries::from_vec(v);
        r
    }
}

impl<T: Keyed> KeyedSlice<T> {
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
        if let Entries::Empty = self.entries {
            self.entries = Entries::One(entry);
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
        if let Entries::One(_) = self.entries {
            let Entries::One(entry) = std::mem::take(&mut self.entries) else {
                unreachable!("matched above")
            };
            return Some(entry);
        }
        Some(self.change(|v| v.remove(i)))
    }
}

impl<T: Keyed> Extend<T> for KeyedSlice<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for entry in iter {
            self.insert(entry);
        }
    }
}

impl<T: Keyed> FromIterator<T> for KeyedSlice<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = KeyedSlice::new();
        s.extend(iter);
        s
    }
}

impl<'a, T> IntoIterator for &'a KeyedSlice<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Prints as a map from each entry's key to the entry.
impl<T: Keyed + fmt::Debug> fmt::Debug for KeyedSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter_keyed()).finish()
    }
}
