//! Adj-RIB-In: per neighbor, which routes it currently announces to us.
//!
//! Always kept: the keys, and whether import policy let each into the caller's RIB (so a
//! session that goes down, or a graceful restart that ends, knows what to withdraw from the
//! RIB, and the caller needs no second set of keys). With soft reconfiguration inbound
//! (`AdjRibIn::new(true)`) also the received path *before* import policy, so a changed
//! route-map can be re-applied to everything the neighbor sent without asking it for a
//! ROUTE-REFRESH — at the price of one key + label + `Arc` per route (the attribute sets
//! themselves are shared through the interner).
//!
//! Graceful restart (RFC 4724 §4.2, helper side): when the neighbor's session drops, its
//! routes of the families it preserves are [marked stale](AdjRibIn::mark_stale) instead of
//! withdrawn; each re-announcement clears the mark, and at its End-of-RIB (or when the
//! restart timer fires) [`flush_stale`](AdjRibIn::flush_stale) returns what it did not
//! re-announce.

use std::collections::BTreeMap;
use std::sync::Arc;

use bgp::Family;
use policy::Attrs;

use crate::{Announcement, Inbound, Nlri};

#[derive(Clone, Debug)]
struct InRoute {
    /// The pre-policy path; only with soft reconfiguration.
    path: Option<(Option<u32>, Arc<Attrs>)>,
    stale: bool,
    /// Import policy accepted it: it is in the caller's RIB ([`AdjRibIn::set_accepted`]).
    accepted: bool,
}

/// What an UPDATE changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InChanges {
    /// Every route announced (new, changed, or re-announced unchanged): the caller runs
    /// import policy on each.
    pub announced: Vec<Announcement>,
    /// Routes withdrawn that import policy had accepted: what the caller must take out of
    /// its RIB. Withdrawals of unknown keys, and of routes policy had refused, end here.
    pub withdrawn: Vec<Nlri>,
}

/// The routes one neighbor announces to us.
#[derive(Clone, Debug, Default)]
pub struct AdjRibIn {
    soft_reconfig: bool,
    routes: BTreeMap<Nlri, InRoute>,
    /// How many routes are accepted.
    accepted: usize,
}

impl AdjRibIn {
    /// `soft_reconfig`: keep the received paths before policy (`soft-reconfiguration inbound`).
    pub fn new(soft_reconfig: bool) -> Self {
        AdjRibIn {
            soft_reconfig,
            routes: BTreeMap::new(),
            accepted: 0,
        }
    }

    pub fn soft_reconfig(&self) -> bool {
        self.soft_reconfig
    }

    /// Applies one decoded UPDATE: withdrawals first, then announcements (so a key in both
    /// ends up announced, as RFC 4271 §9 processes the fields). A re-announced route keeps
    /// its accepted mark until the caller's policy says otherwise ([`Self::set_accepted`]).
    pub fn apply(&mut self, inbound: &Inbound) -> InChanges {
        use std::collections::btree_map::Entry;
        let mut out = InChanges::default();
        for n in &inbound.withdrawn {
            if let Some(r) = self.routes.remove(n) {
                if r.accepted {
                    self.accepted -= 1;
                    out.withdrawn.push(*n);
                }
            }
        }
        out.announced.reserve(inbound.announced_len());
        for a in inbound.announcements() {
            let path = self.soft_reconfig.then(|| (a.label, a.attrs.clone()));
            match self.routes.entry(a.nlri) {
                Entry::Occupied(mut e) => {
                    let r = e.get_mut();
                    r.path = path;
                    r.stale = false;
                }
                Entry::Vacant(e) => {
                    e.insert(InRoute {
                        path,
                        stale: false,
                        accepted: false,
                    });
                }
            }
            out.announced.push(a);
        }
        // A key withdrawn and announced in the same UPDATE is only announced; it is still in
        // the caller's RIB, so it stays accepted until policy runs on the new path.
        if !out.withdrawn.is_empty() && !out.announced.is_empty() {
            let (routes, accepted) = (&mut self.routes, &mut self.accepted);
            out.withdrawn.retain(|n| match routes.get_mut(n) {
                Some(r) => {
                    r.accepted = true;
                    *accepted += 1;
                    false
                }
                None => true,
            });
        }
        out
    }

    /// Records import policy's verdict on a received route; returns the previous mark. A key
    /// not (or no longer) received is never accepted.
    pub fn set_accepted(&mut self, nlri: &Nlri, accepted: bool) -> bool {
        let Some(r) = self.routes.get_mut(nlri) else {
            return false;
        };
        let was = std::mem::replace(&mut r.accepted, accepted);
        match (was, accepted) {
            (false, true) => self.accepted += 1,
            (true, false) => self.accepted -= 1,
            _ => {}
        }
        was
    }

    /// Routes import policy accepted.
    pub fn accepted_len(&self) -> usize {
        self.accepted
    }

    /// The accepted routes' keys, in key order.
    pub fn iter_accepted(&self) -> impl Iterator<Item = &Nlri> + '_ {
        self.routes
            .iter()
            .filter(|(_, r)| r.accepted)
            .map(|(n, _)| n)
    }

    /// The received paths before policy (empty without soft reconfiguration), in key order:
    /// what to re-run import policy on after it changed.
    pub fn iter_pre_policy(&self) -> impl Iterator<Item = Announcement> + '_ {
        self.routes.iter().filter_map(|(n, r)| {
            r.path.as_ref().map(|(label, attrs)| Announcement {
                nlri: *n,
                label: *label,
                attrs: attrs.clone(),
            })
        })
    }

    /// Graceful restart: the neighbor's session dropped; its routes of `family` are kept
    /// but marked stale.
    pub fn mark_stale(&mut self, family: Family) {
        for (n, r) in &mut self.routes {
            if n.family() == family {
                r.stale = true;
            }
        }
    }

    /// Removes the routes of `family` still stale (not re-announced since
    /// [`mark_stale`](Self::mark_stale)) and returns the accepted ones among them, for the
    /// caller to withdraw.
    pub fn flush_stale(&mut self, family: Family) -> Vec<Nlri> {
        let mut gone = Vec::new();
        self.routes.retain(|n, r| {
            let drop = r.stale && n.family() == family;
            if drop && r.accepted {
                gone.push(*n);
            }
            !drop
        });
        self.accepted -= gone.len();
        gone
    }

    /// Number of stale routes (all families).
    pub fn stale_len(&self) -> usize {
        self.routes.values().filter(|r| r.stale).count()
    }

    /// Session down without graceful restart: forgets everything and returns the accepted
    /// keys, for the caller to withdraw.
    pub fn clear(&mut self) -> Vec<Nlri> {
        self.accepted = 0;
        std::mem::take(&mut self.routes)
            .into_iter()
            .filter(|(_, r)| r.accepted)
            .map(|(n, _)| n)
            .collect()
    }

    pub fn contains(&self, nlri: &Nlri) -> bool {
        self.routes.contains_key(nlri)
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reach;
    use policy::SourceProtocol;

    fn v4(s: &str) -> Nlri {
        Nlri::unicast(s.parse().unwrap())
    }

    fn inbound(announce: &[&str], withdraw: &[&str]) -> Inbound {
        Inbound {
            reach: vec![Reach {
                attrs: Arc::new(Attrs::new(SourceProtocol::Bgp)),
                routes: announce.iter().map(|s| (v4(s), None)).collect(),
            }],
            withdrawn: withdraw.iter().map(|s| v4(s)).collect(),
            ignored: 0,
        }
    }

    /// Marks every received route accepted, as an import policy that permits all would.
    fn accept_all(rib: &mut AdjRibIn) {
        let keys: Vec<Nlri> = rib.routes.keys().copied().collect();
        for k in keys {
            rib.set_accepted(&k, true);
        }
    }

    #[test]
    fn withdrawals_of_unknown_keys_are_dropped_and_announce_wins_over_withdraw() {
        let mut rib = AdjRibIn::new(false);
        let c = rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16"], &["10.9.0.0/16"]));
        assert_eq!(c.announced.len(), 2);
        assert!(c.withdrawn.is_empty());
        accept_all(&mut rib);
        let c = rib.apply(&inbound(&["10.0.0.0/8"], &["10.0.0.0/8", "10.1.0.0/16"]));
        assert_eq!(c.withdrawn, vec![v4("10.1.0.0/16")]);
        assert_eq!(c.announced.len(), 1);
        assert_eq!(rib.len(), 1);
        // Withdrawn and announced at once: still in the caller's RIB, so still accepted.
        assert_eq!(rib.accepted_len(), 1);
        assert_eq!(rib.iter_accepted().collect::<Vec<_>>(), [&v4("10.0.0.0/8")]);
        // Without soft reconfiguration no path is kept.
        assert_eq!(rib.iter_pre_policy().count(), 0);
    }

    #[test]
    fn only_accepted_routes_are_handed_back_for_withdrawal() {
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], &[]));
        assert!(!rib.set_accepted(&v4("10.0.0.0/8"), true));
        assert!(!rib.set_accepted(&v4("10.1.0.0/16"), true));
        assert!(!rib.set_accepted(&v4("10.9.0.0/16"), true), "not received");
        assert_eq!(rib.accepted_len(), 2);
        // Re-announced: the mark stays until policy runs again.
        rib.apply(&inbound(&["10.1.0.0/16"], &[]));
        assert_eq!(rib.accepted_len(), 2);
        assert!(rib.set_accepted(&v4("10.1.0.0/16"), false), "refused now");
        assert_eq!(rib.accepted_len(), 1);
        // The refused and the never-accepted routes are not the caller's to withdraw.
        let c = rib.apply(&inbound(&[], &["10.1.0.0/16", "10.2.0.0/16"]));
        assert!(c.withdrawn.is_empty());
        assert_eq!(rib.clear(), vec![v4("10.0.0.0/8")]);
        assert_eq!(rib.accepted_len(), 0);
    }

    #[test]
    fn soft_reconfiguration_keeps_the_pre_policy_paths() {
        let mut rib = AdjRibIn::new(true);
        let inb = inbound(&["10.0.0.0/8", "10.1.0.0/16"], &[]);
        rib.apply(&inb);
        let pre: Vec<Announcement> = rib.iter_pre_policy().collect();
        assert_eq!(pre.len(), 2);
        assert!(Arc::ptr_eq(&pre[0].attrs, &inb.reach[0].attrs));
        // Kept before policy whether or not policy accepted them; only one was.
        rib.set_accepted(&v4("10.1.0.0/16"), true);
        assert_eq!(rib.clear(), vec![v4("10.1.0.0/16")]);
        assert!(rib.is_empty());
    }

    #[test]
    fn graceful_restart_flushes_only_what_was_not_re_announced_in_that_family() {
        let mut rib = AdjRibIn::new(false);
        rib.apply(&inbound(&["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"], &[]));
        let v6 = Inbound {
            reach: vec![Reach {
                attrs: Arc::new(Attrs::new(SourceProtocol::Bgp)),
                routes: vec![(Nlri::unicast("2001:db8::/32".parse().unwrap()), None)],
            }],
            ..Inbound::default()
        };
        rib.apply(&v6);
        accept_all(&mut rib);
        rib.mark_stale(Family::Ipv4Unicast);
        assert_eq!(rib.stale_len(), 3);
        rib.apply(&inbound(&["10.1.0.0/16"], &["10.2.0.0/16"]));
        assert_eq!(rib.stale_len(), 1);
        assert_eq!(rib.flush_stale(Family::Ipv4Unicast), vec![v4("10.0.0.0/8")]);
        assert!(rib.flush_stale(Family::Ipv6Unicast).is_empty());
        assert_eq!(rib.len(), 2);
        assert_eq!(rib.accepted_len(), 2);
        assert!(rib.contains(&v4("10.1.0.0/16")));
    }
}
