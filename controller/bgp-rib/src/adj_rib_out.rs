//! Adj-RIB-Out: per neighbor and family, what we advertise and what changed since the last
//! batch of UPDATEs.
//!
//! The table holds the attribute set each route was *prepared* with ([`crate::prepare`]), so
//! `show bgp neighbors X advertised-routes` shows exactly what went out, and a new best path
//! that prepares to the same attributes sends nothing. Changes are not queued as messages:
//! the pending set remembers, per changed key, the state the peer last heard of, so a route
//! that flaps several times between two batches costs one UPDATE (or none, when it ends where
//! it started) — the same coalescing GoBGP and FRR get from their adj-out tables.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use policy::Attrs;

use crate::{same_attrs, Announcement, Nlri};

/// A route as advertised: VPN label (if any) and attributes.
type Advertised = (Option<u32>, Arc<Attrs>);

fn same(a: &Option<Advertised>, b: &Option<Advertised>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some((l1, a1)), Some((l2, a2))) => l1 == l2 && same_attrs(a1, a2),
        _ => false,
    }
}

/// What to send: announcements (new or changed) and withdrawals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub announce: Vec<Announcement>,
    pub withdraw: Vec<Nlri>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }
}

/// The routes advertised to one neighbor in one family.
#[derive(Clone, Debug, Default)]
pub struct AdjRibOut {
    table: BTreeMap<Nlri, Advertised>,
    /// Changed keys → what the neighbor holds for them now.
    pending: BTreeMap<Nlri, Told>,
}

/// What the neighbor was last told about a pending key.
#[derive(Clone, Debug)]
struct Told {
    /// Its state at the last batch (`None`: nothing, or withdrawn).
    state: Option<Advertised>,
    /// Route refresh: announce the current state even if the neighbor has it already.
    again: bool,
}

impl AdjRibOut {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what `nlri` is advertised as (`None`: not advertised). Returns whether this
    /// changed the table; only real changes become pending.
    pub fn set(&mut self, nlri: Nlri, route: Option<(Option<u32>, Arc<Attrs>)>) -> bool {
        let old = self.table.get(&nlri).cloned();
        if same(&old, &route) {
            return false;
        }
        match &route {
            Some(r) => {
                self.table.insert(nlri, r.clone());
            }
            None => {
                self.table.remove(&nlri);
            }
        }
        if let Entry::Vacant(e) = self.pending.entry(nlri) {
            e.insert(Told {
                state: old,
                again: false,
            });
        }
        true
    }

    /// The changes since the last call, in key order: keys whose state differs from what
    /// the neighbor was last told (a route changed and changed back is not sent), plus every
    /// advertised route after [`refresh_all`](Self::refresh_all).
    pub fn take_pending(&mut self) -> Pending {
        let mut out = Pending::default();
        for (nlri, told) in std::mem::take(&mut self.pending) {
            let now = self.table.get(&nlri).cloned();
            match now {
                Some((label, attrs))
                    if told.again || !same(&told.state, &Some((label, attrs.clone()))) =>
                {
                    out.announce.push(Announcement { nlri, label, attrs })
                }
                None if told.state.is_some() => out.withdraw.push(nlri),
                _ => {}
            }
        }
        out
    }

    /// Whether a batch is waiting.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Route refresh (RFC 2918): the next batch re-announces every route (withdrawals
    /// already pending stay pending).
    pub fn refresh_all(&mut self) {
        for (n, r) in &self.table {
            self.pending
                .entry(*n)
                .or_insert_with(|| Told {
                    state: Some(r.clone()),
                    again: false,
                })
                .again = true;
        }
    }

    /// Session down: the neighbor holds nothing from us any more.
    pub fn clear(&mut self) {
        self.table.clear();
        self.pending.clear();
    }

    /// What `nlri` is advertised as.
    pub fn get(&self, nlri: &Nlri) -> Option<(Option<u32>, &Arc<Attrs>)> {
        self.table.get(nlri).map(|(l, a)| (*l, a))
    }

    /// Advertised routes in key order (`show bgp neighbors X advertised-routes`).
    pub fn iter(&self) -> impl Iterator<Item = (&Nlri, Option<u32>, &Arc<Attrs>)> {
        self.table.iter().map(|(n, (l, a))| (n, *l, a))
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
    use policy::SourceProtocol;
    use proptest::prelude::*;

    fn nlri(i: u8) -> Nlri {
        Nlri::unicast(format!("10.{i}.0.0/16").parse().unwrap())
    }

    fn attrs(med: u32) -> Arc<Attrs> {
        let mut a = Attrs::new(SourceProtocol::Bgp);
        a.med = Some(med);
        Arc::new(a)
    }

    #[test]
    fn only_real_changes_are_sent_and_flaps_coalesce() {
        let mut out = AdjRibOut::new();
        assert!(out.set(nlri(1), Some((None, attrs(1)))));
        // Equal value, other allocation: no change.
        assert!(!out.set(nlri(1), Some((None, attrs(1)))));
        assert!(out.set(nlri(2), Some((None, attrs(1)))));
        let p = out.take_pending();
        assert_eq!(p.announce.len(), 2);
        assert!(p.withdraw.is_empty());
        assert!(out.take_pending().is_empty());

        // Changed and changed back: nothing to send.
        out.set(nlri(1), Some((None, attrs(2))));
        out.set(nlri(1), Some((None, attrs(1))));
        // Added and removed before the batch: nothing either.
        out.set(nlri(3), Some((None, attrs(3))));
        out.set(nlri(3), None);
        assert!(out.has_pending());
        assert!(out.take_pending().is_empty());

        // A label change is a change.
        out.set(nlri(2), Some((Some(16), attrs(1))));
        out.set(nlri(1), None);
        let p = out.take_pending();
        assert_eq!(p.announce[0].label, Some(16));
        assert_eq!(p.withdraw, vec![nlri(1)]);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn refresh_re_announces_everything_and_clear_forgets() {
        let mut out = AdjRibOut::new();
        for i in 0..3 {
            out.set(nlri(i), Some((None, attrs(u32::from(i)))));
        }
        out.take_pending();
        out.refresh_all();
        let p = out.take_pending();
        assert_eq!(p.announce.len(), 3);
        assert_eq!(out.iter().count(), 3);
        assert_eq!(out.get(&nlri(2)).map(|(_, a)| a.med), Some(Some(2)));
        // A route removed after a refresh is still withdrawn (the neighbor has it).
        out.refresh_all();
        out.set(nlri(0), None);
        let p = out.take_pending();
        assert_eq!((p.announce.len(), p.withdraw), (2, vec![nlri(0)]));
        out.set(nlri(1), None);
        out.clear();
        assert!(out.is_empty());
        assert!(out.take_pending().is_empty());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(u8, Option<(Option<u32>, u32)>),
        Take,
        Refresh,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u8..8, proptest::option::of((proptest::option::of(0u32..3), 0u32..3)))
                .prop_map(|(n, r)| Op::Set(n, r)),
            2 => Just(Op::Take),
            1 => Just(Op::Refresh),
        ]
    }

    proptest! {
        /// Applying every taken batch, in order, to an empty table reproduces the table:
        /// the peer ends up knowing exactly what we advertise.
        #[test]
        fn batches_replayed_reproduce_the_table(ops in proptest::collection::vec(op(), 0..60)) {
            let mut out = AdjRibOut::new();
            let mut peer: BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)> = BTreeMap::new();
            let apply = |p: Pending, peer: &mut BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)>| {
                for w in p.withdraw {
                    // Never a withdrawal of something the peer does not have.
                    prop_assert!(peer.remove(&w).is_some());
                }
                for a in p.announce {
                    peer.insert(a.nlri, (a.label, a.attrs));
                }
                Ok(())
            };
            for op in ops {
                match op {
                    Op::Set(n, r) => {
                        out.set(nlri(n), r.map(|(l, m)| (l, attrs(m))));
                    }
                    Op::Take => apply(out.take_pending(), &mut peer)?,
                    Op::Refresh => out.refresh_all(),
                }
            }
            apply(out.take_pending(), &mut peer)?;
            let table: Vec<_> = out.iter().map(|(n, l, a)| (*n, l, a.clone())).collect();
            let replayed: Vec<_> = peer.into_iter().map(|(n, (l, a))| (n, l, a)).collect();
            prop_assert_eq!(table, replayed);
        }
    }
}
