//! A delta's FIB changes, packed for the hand-over to the switch writer.
//!
//! A commit of a full table holds hundreds of thousands of changes, built on the RIB's thread
//! and read and dropped on the writer's. Each change as a [`FibChange`] held its own clone of
//! the VRF's name and of its adjacencies: two reference counts taken on one thread and given
//! back on the other, the same two counters for a whole table, so every change moved their
//! cache lines between the cores (in profiles, the atomic increments held about a quarter of
//! `take_delta`'s own samples). Here a change is a prefix and three small indexes into the
//! delta's VRFs and actions, each of which is held once.
//!
//! A change carries the action it replaces as well as the new one: the RIB knows it (each
//! entry holds its installed action), so the data plane, which must know what the switch
//! holds to write an insert, a modify or a delete and to drop the old action's references,
//! needs no copy of the FIB of its own (a hashed table of a million entries, a cache miss and
//! ~11 bytes per route).

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

use crate::{FibAction, VrfName};

/// One changed FIB entry: the action it had (`None` when the prefix is new to the FIB) and
/// the action now in force (`None` when the prefix is gone); never the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibChange {
    pub vrf: VrfName,
    pub prefix: IpNet,
    pub old: Option<FibAction>,
    pub action: Option<FibAction>,
}

/// A [`FibChange`] as [`FibChanges`] holds it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibChangeRef<'a> {
    pub vrf: &'a VrfName,
    pub prefix: IpNet,
    pub old: Option<&'a FibAction>,
    pub action: Option<&'a FibAction>,
}

impl FibChangeRef<'_> {
    pub fn to_owned(self) -> FibChange {
        FibChange {
            vrf: self.vrf.clone(),
            prefix: self.prefix,
            old: self.old.cloned(),
            action: self.action.cloned(),
        }
    }
}

/// The changes of a delta, in the order pushed: a prefix, its VRF and its action, the VRFs
/// and actions held once each ([`FibChanges::push`] shares them with the change before).
#[derive(Clone, Default)]
pub struct FibChanges {
    changes: Vec<Packed>,
    vrfs: Vec<VrfName>,
    actions: Vec<FibAction>,
}

#[derive(Clone, Copy)]
struct Packed {
    prefix: IpNet,
    vrf: u32,
    /// Index in `actions` of the action replaced, or [`GONE`].
    old: u32,
    /// Index in `actions`, or [`GONE`].
    action: u32,
}

/// The prefix was not in the FIB, or left it.
const GONE: u32 = u32::MAX;

impl FibChanges {
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn reserve(&mut self, additional: usize) {
        self.changes.reserve_exact(additional);
    }

    /// Appends a change: `old` is the action the prefix had, `action` the one it has now.
    /// Its VRF and actions are kept only when they differ from the last ones kept (changes
    /// come grouped by VRF, and runs of them share an action, or a pair of old and new
    /// actions); an action not kept is dropped here, on the thread that made it.
    pub fn push(
        &mut self,
        vrf: &VrfName,
        prefix: IpNet,
        old: Option<FibAction>,
        action: Option<FibAction>,
    ) {
        let vrf = match self.vrfs.last() {
            Some(last) if Arc::ptr_eq(last, vrf) || last == vrf => self.vrfs.len() - 1,
            _ => {
                self.vrfs.push(vrf.clone());
                self.vrfs.len() - 1
            }
        };
        let old = self.keep(old);
        let action = self.keep(action);
        self.changes.push(Packed {
            prefix,
            vrf: index(vrf),
            old,
            action,
        });
    }

    /// The index of an action: one of the last two kept when it equals it (a run of changes
    /// from one action to another alternates between the two), else a new one.
    fn keep(&mut self, action: Option<FibAction>) -> u32 {
        let Some(action) = action else {
            return GONE;
        };
        let n = self.actions.len();
        for i in n.saturating_sub(2)..n {
            if self.actions[i] == action {
                return index(i);
            }
        }
        self.actions.push(action);
        index(n)
    }

    pub fn get(&self, i: usize) -> Option<FibChangeRef<'_>> {
        self.changes.get(i).map(|c| self.unpack(c))
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            changes: self.changes.iter(),
            of: self,
        }
    }

    fn unpack(&self, c: &Packed) -> FibChangeRef<'_> {
        FibChangeRef {
            vrf: &self.vrfs[c.vrf as usize],
            prefix: c.prefix,
            old: (c.old != GONE).then(|| &self.actions[c.old as usize]),
            action: (c.action != GONE).then(|| &self.actions[c.action as usize]),
        }
    }
}

/// An index as stored: below [`GONE`], as a delta has fewer changes than that.
fn index(i: usize) -> u32 {
    match u32::try_from(i) {
        Ok(i) if i != GONE => i,
        _ => panic!("a delta holds fewer than {GONE} changes"),
    }
}

/// The changes of a [`FibChanges`], borrowed, in order.
pub struct Iter<'a> {
    changes: std::slice::Iter<'a, Packed>,
    of: &'a FibChanges,
}

impl<'a> Iterator for Iter<'a> {
    type Item = FibChangeRef<'a>;
    fn next(&mut self) -> Option<FibChangeRef<'a>> {
        self.changes.next().map(|c| self.of.unpack(c))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.changes.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a FibChanges {
    type Item = FibChangeRef<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Owned copies of the changes (each with its own VRF name and action), for callers that
/// keep them.
impl IntoIterator for FibChanges {
    type Item = FibChange;
    type IntoIter = std::vec::IntoIter<FibChange>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
            .map(FibChangeRef::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl FromIterator<FibChange> for FibChanges {
    fn from_iter<I: IntoIterator<Item = FibChange>>(changes: I) -> Self {
        let mut packed = FibChanges::default();
        for c in changes {
            packed.push(&c.vrf, c.prefix, c.old, c.action);
        }
        packed
    }
}

impl PartialEq for FibChanges {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for FibChanges {}

impl PartialEq<Vec<FibChange>> for FibChanges {
    fn eq(&self, other: &Vec<FibChange>) -> bool {
        self.len() == other.len()
            && self.iter().zip(other).all(|(a, b)| {
                *a.vrf == b.vrf
                    && a.prefix == b.prefix
                    && a.old == b.old.as_ref()
                    && a.action == b.action.as_ref()
            })
    }
}

impl fmt::Debug for FibChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Adjacency;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn forward(addr: &str) -> FibAction {
        FibAction::Forward(Arc::from(vec![Adjacency::new(
            Arc::from("Ethernet1"),
            addr.parse().unwrap(),
        )]))
    }

    /// What goes in comes out, in order, whether VRFs and actions repeat, alternate or not.
    #[test]
    fn changes_come_back_as_pushed() {
        let (a, b): (VrfName, VrfName) = (Arc::from("A"), Arc::from("B"));
        let one = forward("10.0.0.1");
        let two = forward("10.0.0.2");
        let changes = vec![
            (a.clone(), "10.1.0.0/24", None, Some(one.clone())),
            (a.clone(), "10.2.0.0/24", None, Some(one.clone())),
            (a.clone(), "10.3.0.0/24", Some(two.clone()), None),
            (
                a.clone(),
                "10.4.0.0/24",
                Some(one.clone()),
                Some(two.clone()),
            ),
            (
                a.clone(),
                "10.5.0.0/24",
                Some(one.clone()),
                Some(two.clone()),
            ),
            (
                a.clone(),
                "10.5.1.0/24",
                Some(two.clone()),
                Some(one.clone()),
            ),
            (b.clone(), "10.1.0.0/24", None, Some(one.clone())),
            (
                Arc::from("B"),
                "10.2.0.0/24",
                Some(one.clone()),
                Some(FibAction::Drop),
            ),
            (a.clone(), "10.6.0.0/24", None, Some(FibAction::Punt)),
        ];
        let owned: Vec<FibChange> = changes
            .into_iter()
            .map(|(vrf, prefix, old, action)| FibChange {
                vrf,
                prefix: net(prefix),
                old,
                action,
            })
            .collect();
        let packed: FibChanges = owned.iter().cloned().collect();
        assert_eq!(packed.len(), owned.len());
        assert_eq!(packed, owned);
        assert_eq!(packed.clone().into_iter().collect::<Vec<_>>(), owned);
        for (i, c) in owned.iter().enumerate() {
            assert_eq!(packed.get(i).unwrap().to_owned(), *c);
        }
        assert!(packed.get(owned.len()).is_none());
        // Shared: A, B, A again; one and two (kept once through the changes between them),
        // Drop, Punt.
        assert_eq!(packed.vrfs.len(), 3);
        assert_eq!(packed.actions.len(), 4);
    }
}
