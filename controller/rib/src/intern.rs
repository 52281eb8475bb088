//! Shared copies of the small values many routes carry: adjacency lists (a thousand routes via
//! one neighbor hold one list) and leak sources (every route imported from one RD and VRF).

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// A set of shared values: equal values come back as the same `Arc`.
#[derive(Debug)]
pub(crate) struct Interner<T: ?Sized> {
    set: HashSet<Arc<T>>,
    /// Size after the last purge; the set is scanned again once it has doubled.
    kept: usize,
}

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            set: HashSet::new(),
            kept: 0,
        }
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The shared copy of `value` (this one, if it is new).
    pub(crate) fn intern(&mut self, value: Arc<T>) -> Arc<T> {
        if let Some(v) = self.set.get(&*value) {
            return v.clone();
        }
        self.set.insert(value.clone());
        value
    }

    /// Drops the values nobody else holds, once the set has doubled since the last time (and
    /// holds more than a few thousand), so a long-running RIB stays bounded without scanning
    /// the set on every delta.
    pub(crate) fn purge_if_grown(&mut self) {
        if self.set.len() > 4096 && self.set.len() > 2 * self.kept {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.kept = self.set.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_arc() {
        let mut i: Interner<[u32]> = Interner::default();
        let a = i.intern(vec![1, 2].into());
        let b = i.intern(vec![1, 2].into());
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(vec![3].into());
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
