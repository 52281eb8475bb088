//! Hash-consing of attribute sets.
//!
//! A full table is a million routes but only a few thousand distinct attribute sets (one per
//! neighbor × AS path × communities combination). Interning makes equal sets one allocation,
//! and lets later stages compare sets by pointer first. Used by the RIB for its own sets and
//! by the speaker for received and exported ones.
//!
//! A set is hashed once per call, with a seeded fast hasher (a `HashSet` looked a set up and,
//! when it was new — most sets of a full table are — hashed it again to insert it, both times
//! with SipHash over every attribute). Each held set keeps its hash beside it, so growing the
//! table does not hash every set again (that rehash was 2 % of taking in a full table with a
//! hundred thousand distinct sets).

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::route::Attrs;
use hashbrown::hash_table::{Entry, HashTable};

/// One shared `Arc` per distinct attribute set.
#[derive(Default)]
pub struct AttrInterner {
    /// Each set with its hash.
    table: HashTable<(u64, Arc<Attrs>)>,
    /// Seeded per process (foldhash's random state), so a neighbor cannot choose sets that
    /// collide in every router.
    hasher: foldhash::fast::RandomState,
    /// Sets kept by the last purge.
    kept: usize,
}

impl fmt::Debug for AttrInterner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttrInterner")
            .field("len", &self.table.len())
            .field("kept", &self.kept)
            .finish()
    }
}

impl AttrInterner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `attrs`.
    pub fn intern(&mut self, attrs: Attrs) -> Arc<Attrs> {
        self.intern_arc(Arc::new(attrs))
    }

    /// The shared copy of `attrs`: the one already held, or `attrs` itself, now held.
    pub fn intern_arc(&mut self, attrs: Arc<Attrs>) -> Arc<Attrs> {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&*attrs);
        let entry = self.table.entry(
            hash,
            |(h, a)| *h == hash && (Arc::ptr_eq(a, &attrs) || **a == *attrs),
            |(h, _)| *h,
        );
        match entry {
            Entry::Occupied(e) => e.get().1.clone(),
            Entry::Vacant(e) => {
                e.insert((hash, attrs.clone()));
                attrs
            }
        }
    }

    /// Drops the sets nothing but the interner holds; returns how many.
    pub fn purge(&mut self) -> usize {
        let before = self.table.len();
        self.table.retain(|(_, a)| Arc::strong_count(a) > 1);
        self.kept = self.table.len();
        before - self.table.len()
    }

    /// [`purge`](Self::purge) once the set has doubled since the last one (and holds more
    /// than a few thousand sets): cheap enough to call after every UPDATE.
    pub fn purge_if_grown(&mut self) -> usize {
        if self.table.len() > 4096 && self.table.len() > 2 * self.kept {
            self.purge()
        } else {
            0
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::SourceProtocol;
    use proptest::prelude::*;

    fn med(m: u32) -> Attrs {
        let mut a = Attrs::new(SourceProtocol::Bgp);
        a.med = Some(m);
        a
    }

    #[test]
    fn equal_values_share_one_arc_and_purge_drops_unused_ones() {
        let mut i = AttrInterner::new();
        let a = i.intern(Attrs::new(SourceProtocol::Bgp));
        let b = i.intern(Attrs::new(SourceProtocol::Bgp));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern_arc(Arc::new(med(5)));
        let d = i.intern_arc(Arc::new(med(5)));
        assert!(Arc::ptr_eq(&c, &d));
        // The held copy itself comes back as is.
        assert!(Arc::ptr_eq(&i.intern_arc(c.clone()), &c));
        assert_eq!(i.len(), 2);
        drop((c, d));
        assert_eq!(i.purge(), 1);
        assert_eq!(i.len(), 1);
        drop((a, b));
        assert_eq!(i.purge(), 1);
        assert!(i.is_empty());
    }

    #[test]
    fn purge_if_grown_waits_for_the_set_to_double() {
        let mut i = AttrInterner::new();
        let mut held = Vec::new();
        for m in 0..5000u32 {
            let a = i.intern(med(m));
            if m % 2 == 0 {
                held.push(a);
            }
        }
        assert_eq!(i.purge_if_grown(), 2500);
        assert_eq!(i.len(), 2500);
        for m in 5000..6000u32 {
            i.intern(med(m));
        }
        assert_eq!(i.purge_if_grown(), 0);
        assert_eq!(i.len(), 3500);
    }

    proptest! {
        /// Whatever the order, values equal exactly when their interned copies are one `Arc`,
        /// and the interner holds one set per distinct value (through the table's growth).
        #[test]
        fn one_arc_per_value(meds in proptest::collection::vec(0u32..300, 0..600)) {
            let mut i = AttrInterner::new();
            let got: Vec<Arc<Attrs>> = meds.iter().map(|&m| i.intern(med(m))).collect();
            for (x, a) in meds.iter().zip(&got) {
                for (y, b) in meds.iter().zip(&got) {
                    prop_assert_eq!(x == y, Arc::ptr_eq(a, b));
                }
            }
            let distinct: std::collections::BTreeSet<u32> = meds.iter().copied().collect();
            prop_assert_eq!(i.len(), distinct.len());
        }
    }
}
