//! Containers sized for the few entries most prefixes have.
//!
//! A prefix usually has one candidate route, a VPN key one path, and a VPN key is imported into
//! a handful of VRFs. A `BTreeMap` or `BTreeSet` with one entry allocates a whole node (room for
//! eleven), which for a million prefixes was most of the RIB's memory. [`SmallMap`] is a sorted
//! slice with the map operations the RIB and its readers use. A single entry is kept inline
//! (no allocation: reading a prefix's only candidate costs no second cache miss, and taking in
//! a full table no malloc and free per route); two or more are a boxed slice exactly as long
//! as its contents. An insert of a new key or a removal goes through a `Vec` for the moment of
//! the change; it moves the entries after the change point anyway, and maps are small.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// An ordered map stored as a sorted slice: `O(log n)` lookups, `O(n)` inserts and removals,
/// which is what a handful of entries wants. Iterates in key order like a `BTreeMap`, and
/// prints like one.
#[derive(Clone)]
pub struct SmallMap<K, V> {
    entries: Entries<(K, V)>,
}

/// The entries: none, one inline, or two or more boxed (never fewer, so each content has
/// one representation). Shared by [`SmallMap`] and [`KeyedSlice`].
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

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            entries: Entries::Empty,
        }
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for SmallMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.entries.as_slice() == other.entries.as_slice()
    }
}

impl<K: Eq, V: Eq> Eq for SmallMap<K, V> {}

impl<K: std::hash::Hash, V: std::hash::Hash> std::hash::Hash for SmallMap<K, V> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.entries.as_slice().hash(state);
    }
}

/// Iterator over `(&key, &value)` in key order.
pub type Iter<'a, K, V> =
    std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

fn pair<K, V>(e: &(K, V)) -> (&K, &V) {
    (&e.0, &e.1)
}

impl<K, V> SmallMap<K, V> {
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
    pub fn get_index(&self, index: usize) -> Option<(&K, &V)> {
        self.entries.as_slice().get(index).map(pair)
    }

    /// `(&key, &value)` in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.entries
            .as_slice()
            .iter()
            .map(pair as fn(&(K, V)) -> (&K, &V))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + '_ {
        self.entries.as_slice().iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + '_ {
        self.entries.as_slice().iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.as_mut_slice().iter_mut().map(|(_, v)| v)
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.change(|v| v.retain_mut(|(k, v)| keep(k, v)));
    }

    /// Changes the entries as a vector, then stores them exactly sized again.
    fn change<R>(&mut self, f: impl FnOnce(&mut Vec<(K, V)>) -> R) -> R {
        let mut v = std::mem::take(self).entries.into_vec();
        let r = f(&mut v);
        self.entries = Entries::from_vec(v);
        r
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries
            .as_slice()
            .binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries.as_slice()[i].1)
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key)
            .ok()
            .map(|i| &mut self.entries.as_mut_slice()[i].1)
    }

    /// Where `key` is in key order.
    pub fn index_of<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok()
    }

    /// Where `key` is in key order, and its value.
    pub fn get_index_of<Q>(&self, key: &Q) -> Option<(usize, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        Some((i, &self.entries.as_slice()[i].1))
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Entries::Empty = self.entries {
            self.entries = Entries::One((key, value));
            return None;
        }
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(
                &mut self.entries.as_mut_slice()[i].1,
                value,
            )),
            Err(i) => {
                self.change(|v| {
                    v.reserve_exact(1);
                    v.insert(i, (key, value));
                });
                None
            }
        }
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        if let Entries::One(_) = self.entries {
            let Entries::One((_, v)) = std::mem::take(self).entries else {
                unreachable!("matched above")
            };
            return Some(v);
        }
        let (_, v) = self.change(|v| v.remove(i));
        Some(v)
    }
}

impl<K: Ord, V> Extend<(K, V)> for SmallMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SmallMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = SmallMap::new();
        m.extend(iter);
        m
    }
}

impl<'a, K, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K, V> IntoIterator for SmallMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_vec().into_iter()
    }
}

impl<K, V, Q> std::ops::Index<&Q> for SmallMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key in SmallMap")
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
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

/// Entries that carry their own keys ([`Keyed`]) in key order, at most one per key: a
/// [`SmallMap`] without the keys. A sorted slice, one entry inline, more boxed exactly
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btreemap_and_stays_exactly_sized() {
        let mut m: SmallMap<u32, &str> = SmallMap::new();
        let mut b: BTreeMap<u32, &str> = BTreeMap::new();
        for (k, v) in [(5, "a"), (1, "b"), (9, "c"), (5, "d"), (3, "e")] {
            assert_eq!(m.insert(k, v), b.insert(k, v));
        }
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(format!("{m:?}"), format!("{b:?}"));
        assert_eq!(m.get(&5), Some(&"d"));
        assert_eq!(m[&9], "c");
        assert!(!m.contains_key(&2));
        assert_eq!(m.remove(&1), b.remove(&1));
        assert_eq!(m.remove(&1), None);
        m.retain(|k, _| *k != 9);
        b.retain(|k, _| *k != 9);
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        for k in 10..100 {
            m.insert(k, "x");
        }
        for k in 10..100 {
            m.remove(&k);
        }
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(m.entries.as_slice().len(), 2);
    }
}
