//! Shared copies of the small values many routes carry: adjacency lists (a thousand routes via
//! one neighbor hold one list), leak sources (every route imported from one RD and VRF) and
//! the pairs of a forwarding and an origin ([`Vias`]).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use foldhash::fast::RandomState;
use std::sync::Arc;

use crate::{Forward, PathOrigin, PathVia, Protocol, RouteOrigin, RouteVia, VpnLabel};

/// A set of shared values: equal values come back as the same `Arc`.
#[derive(Debug)]
pub(crate) struct Interner<T: ?Sized> {
    /// Seeded: some of the values (attribute-derived forwardings, neighbors) come from peers.
    set: HashSet<Arc<T>, RandomState>,
    /// Size after the last purge; the set is scanned again once it has doubled.
    kept: usize,
    /// The value [`Interner::intern_ref_run`] handed out last.
    last: Option<Arc<T>>,
}

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            set: HashSet::default(),
            kept: 0,
            last: None,
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

    /// The shared copy of a value, copied into a new `Arc` only when it is new: for values
    /// that arrive by reference, most of them already held.
    pub(crate) fn intern_ref(&mut self, value: &T) -> Arc<T>
    where
        T: Clone,
    {
        if let Some(v) = self.set.get(value) {
            return v.clone();
        }
        let shared = Arc::new(value.clone());
        self.set.insert(shared.clone());
        shared
    }

    /// [`Interner::intern_ref`] of values that come in runs (the paths of one RD and source
    /// imported one after the other): the value handed out last is compared first, where a
    /// look-up hashes the value and probes the set (2 % of taking in a VPN table).
    pub(crate) fn intern_ref_run(&mut self, value: &T) -> Arc<T>
    where
        T: Clone,
    {
        if let Some(last) = &self.last {
            if **last == *value {
                return last.clone();
            }
        }
        let shared = self.intern_ref(value);
        self.last = Some(shared.clone());
        shared
    }

    /// Whether this very `Arc` is the shared copy of its value.
    pub(crate) fn holds(&self, value: &Arc<T>) -> bool {
        self.set
            .get(&**value)
            .is_some_and(|v| Arc::ptr_eq(v, value))
    }

    /// Drops the values nobody else holds, once the set has doubled since the last time (and
    /// holds more than a few thousand), so a long-running RIB stays bounded without scanning
    /// the set on every delta.
    pub(crate) fn purge_if_grown(&mut self) {
        if grown_since_purge(self.set.len(), self.kept) {
            self.last = None;
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.kept = self.set.len();
        }
    }
}

/// Whether a set of shared values holding `len` is due for a purge: it holds more than a few
/// thousand and has doubled since the last one left `kept`.
fn grown_since_purge(len: usize, kept: usize) -> bool {
    len > 4096 && len > 2 * kept
}

/// A shared pair of a forwarding and an origin that are shared already, with a word of small
/// values beside them (a route's protocol and distance, a VPN path's label and protocol):
/// keyed by the addresses of the shared parts (equal shared values are one `Arc`, and each
/// via held here keeps its parts alive, so an address is not reused while it is a key), where
/// hashing the values would hash a leak source's attributes.
pub(crate) type ViaKey = (usize, usize, u32);

fn address<T>(shared: &Arc<T>) -> usize {
    Arc::as_ptr(shared) as usize
}

/// The shared vias ([`RouteVia`], [`PathVia`]) of the RIB's routes or VPN paths, one per
/// [`ViaKey`].
#[derive(Debug)]
pub(crate) struct Vias<V> {
    map: HashMap<ViaKey, Arc<V>, RandomState>,
    /// Size after the last purge, as [`Interner::purge_if_grown`].
    kept: usize,
    /// The via handed out last: routes come in runs of one neighbor and next hop, or of one
    /// RD and source.
    last: Option<(ViaKey, Arc<V>)>,
}

impl<V> Default for Vias<V> {
    fn default() -> Self {
        Vias {
            map: HashMap::default(),
            kept: 0,
            last: None,
        }
    }
}

impl<V> Vias<V> {
    /// The shared via of `key`, made by `make` if there is none.
    fn share(&mut self, key: ViaKey, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some((last_key, last)) = &self.last {
            if *last_key == key {
                return last.clone();
            }
        }
        let via = self
            .map
            .entry(key)
            .or_insert_with(|| Arc::new(make()))
            .clone();
        self.last = Some((key, via.clone()));
        via
    }

    /// Drops the vias no route holds, when [`Interner::purge_if_grown`] would.
    pub(crate) fn purge_if_grown(&mut self) {
        if grown_since_purge(self.map.len(), self.kept) {
            self.last = None;
            self.map.retain(|_, v| Arc::strong_count(v) > 1);
            self.kept = self.map.len();
        }
    }
}

impl Vias<RouteVia> {
    /// The shared via of a route's parts.
    pub(crate) fn via(
        &mut self,
        protocol: Protocol,
        distance: u8,
        forward: &Arc<Forward>,
        origin: Option<&Arc<RouteOrigin>>,
    ) -> Arc<RouteVia> {
        let key = (
            address(forward),
            origin.map_or(0, address),
            u32::from(protocol as u8) << 8 | u32::from(distance),
        );
        self.share(key, || RouteVia {
            forward: forward.clone(),
            origin: origin.cloned(),
            protocol,
            distance,
        })
    }

    /// The shared via of a route that forwards as `forward` and is otherwise as `via` (a
    /// route whose next hop resolved anew).
    pub(crate) fn with_forward(&mut self, via: &RouteVia, forward: &Arc<Forward>) -> Arc<RouteVia> {
        self.via(via.protocol, via.distance, forward, via.origin.as_ref())
    }
}

impl Vias<PathVia> {
    /// The shared via of a VPN path's parts.
    pub(crate) fn via(
        &mut self,
        protocol: Protocol,
        forward: &Arc<Forward>,
        label: Option<u32>,
        origin: &Arc<PathOrigin>,
    ) -> Arc<PathVia> {
        let key = (
            address(forward),
            address(origin),
            u32::from(protocol as u8) << 24 | label.map_or(0, |l| l + 1),
        );
        self.share(key, || PathVia {
            forward: forward.clone(),
            origin: origin.clone(),
            label: label.map(VpnLabel::new),
            protocol,
        })
    }

    /// The shared via of a path that forwards as `forward` and is otherwise as `via` (a
    /// path whose PE resolved anew).
    pub(crate) fn with_forward(&mut self, via: &PathVia, forward: &Arc<Forward>) -> Arc<PathVia> {
        let label = via.label.map(VpnLabel::get);
        self.via(via.protocol, forward, label, &via.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_share_one_arc_and_change_with_the_value() {
        let mut i: Interner<(u32, u32)> = Interner::default();
        let a = i.intern_ref_run(&(1, 2));
        let b = i.intern_ref_run(&(1, 2));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern_ref_run(&(1, 3));
        assert_eq!(*c, (1, 3));
        // Back to an earlier value: the set's copy, not a new one.
        let d = i.intern_ref_run(&(1, 2));
        assert!(Arc::ptr_eq(&a, &d));
        assert!(Arc::ptr_eq(&i.intern_ref(&(1, 3)), &c));
    }

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
