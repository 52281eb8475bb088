//! Hash-consing of attribute sets.
//!
//! A full table is a million routes but only a few thousand distinct attribute sets (one per
//! neighbor × AS path × communities combination). Interning makes equal sets one allocation,
//! and lets later stages compare sets by pointer first.

use std::collections::HashSet;
use std::sync::Arc;

use crate::route::Attrs;

/// A set of shared [`Attrs`]: equal values come back as the same `Arc`.
#[derive(Default, Debug)]
pub struct AttrInterner {
    set: HashSet<Arc<Attrs>>,
    /// Size after the last [`AttrInterner::purge`]: [`AttrInterner::purge_if_grown`] waits for
    /// the set to double before scanning it again.
    kept: usize,
}

impl AttrInterner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `attrs` (stored if new).
    pub fn intern(&mut self, attrs: Attrs) -> Arc<Attrs> {
        if let Some(a) = self.set.get(&attrs) {
            return a.clone();
        }
        let a = Arc::new(attrs);
        self.set.insert(a.clone());
        a
    }

    /// Like [`intern`](Self::intern) for a value already behind an `Arc` (as
    /// a decoded UPDATE hands them out): returns the stored equal one, or keeps this
    /// one without copying it.
    pub fn intern_arc(&mut self, attrs: Arc<Attrs>) -> Arc<Attrs> {
        if let Some(a) = self.set.get(&*attrs) {
            return a.clone();
        }
        self.set.insert(attrs.clone());
        attrs
    }

    /// Drops the sets nobody but the interner holds any more; returns how many went.
    pub fn purge(&mut self) -> usize {
        let before = self.set.len();
        self.set.retain(|a| Arc::strong_count(a) > 1);
        self.kept = self.set.len();
        before - self.set.len()
    }

    /// [`purge`](Self::purge), but only once the set has doubled since the last one (and holds
    /// more than a few thousand sets), so a long-running holder stays bounded without scanning
    /// the set on every change.
    pub fn purge_if_grown(&mut self) -> usize {
        if self.set.len() > 4096 && self.set.len() > 2 * self.kept {
            self.purge()
        } else {
            0
        }
    }

    /// Distinct sets held.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::SourceProtocol;

    #[test]
    fn equal_values_share_one_arc_and_purge_drops_unused_ones() {
        let mut i = AttrInterner::new();
        let a = i.intern(Attrs::new(SourceProtocol::Bgp));
        let b = i.intern(Attrs::new(SourceProtocol::Bgp));
        assert!(Arc::ptr_eq(&a, &b));
        let mut other = Attrs::new(SourceProtocol::Bgp);
        other.med = Some(5);
        let c = i.intern_arc(Arc::new(other.clone()));
        let d = i.intern_arc(Arc::new(other));
        assert!(Arc::ptr_eq(&c, &d));
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
        for med in 0..5000u32 {
            let mut a = Attrs::new(SourceProtocol::Bgp);
            a.med = Some(med);
            let a = i.intern(a);
            if med % 2 == 0 {
                held.push(a);
            }
        }
        assert_eq!(i.purge_if_grown(), 2500);
        assert_eq!(i.len(), 2500);
        // Below twice the kept size: no scan, nothing dropped.
        for med in 5000..6000u32 {
            let mut a = Attrs::new(SourceProtocol::Bgp);
            a.med = Some(med);
            i.intern(a);
        }
        assert_eq!(i.purge_if_grown(), 0);
        assert_eq!(i.len(), 3500);
    }
}
