//! VRFs, their routing tables, the VPN table and the FIB deltas that drive the switch.
//!
//! The flow is one way (see `docs/architecture.md`):
//!
//! ```text
//! local routes ──► VRF table ──(best, export RTs)──► VPN table (RD:prefix)
//!                      ▲                                   │
//!                      └──────(import RTs match)───────────┘   leaking
//!                  VRF best ──► FIB (prefix → adjacencies | drop | punt) ──► FibDelta
//! ```
//!
//! Callers change things ([`Rib::upsert_vrf`], [`Rib::upsert_route`], [`Rib::add_neighbor`], …);
//! each change only marks what it touched as dirty. [`Rib::take_delta`] then recomputes best
//! paths, exports, imports and FIB entries for the dirty keys alone and returns the FIB entries
//! that changed. A cold start is the same path with everything dirty, which is what makes the
//! "delta path equals cold start" property testable.

mod candidates;
pub mod decision;
mod fib_changes;
mod held;
mod hosts_fib;
mod intern;
mod policy_ref;
mod route;
mod selection;
mod shared;
pub mod small_map;
mod table;

pub use candidates::{CandidateKey, CandidateRef, Candidates};
pub use decision::DecisionOptions;
pub use fib_changes::{FibChange, FibChangeRef, FibChanges};
pub use policy_ref::MapRef;
pub use route::{
    Adjacencies, Adjacency, FibAction, Forward, LeakSource, Lsp, NeighborAddr, PathOrigin,
    PathSource, PathVia, PeerRef, Protocol, Route, RouteOrigin, RouteVia, VpnLabel, VpnPath,
    VrfName,
};
pub use small_map::{Keyed, KeyedSlice, Packed};
pub use table::{
    HasKeyRoom, KeyInValue, KeyRoom, KeyedTable, PrefixTable, RdDictionary, Slot, SplitKey,
    SplitTable, TableKey, V4Key, VpnV4Key,
};
pub use vpn_types::{AdminValue, AdminValueError, RouteDistinguisher, RouteTarget};

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use held::{Held, RareSelection};
use hosts_fib::HostsFib;
use intern::{Interner, Vias};
use ipnet::IpNet;
use policy::{AttrInterner, Attrs, ExtCommunity, RouteMapStats};

/// A VRF's address-family policy: its RD, route targets, what it redistributes into BGP and
/// through which route-maps, its export / import maps and its decision options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrfPolicy {
    /// Without an RD the VRF takes no part in the VPN table (as in IOS).
    pub rd: Option<RouteDistinguisher>,
    pub import: BTreeSet<RouteTarget>,
    pub export: BTreeSet<RouteTarget>,
    /// `redistribute connected|static [route-map NAME]`: only `Connected` and `Static` keys
    /// mean anything.
    pub redistribute: BTreeMap<Protocol, Option<MapRef>>,
    /// `export map NAME`: runs on each route leaving the VRF for the VPN table, after the
    /// export route targets are attached (so it can replace or add to them, seed 004).
    pub export_map: Option<MapRef>,
    /// `import map NAME`: runs on each VPN path the import route targets let in.
    pub import_map: Option<MapRef>,
    pub decision: DecisionOptions,
}

impl VrfPolicy {
    /// Redistribution of `protocol`: `None` when it is not redistributed, `Some(map)` when it
    /// is (through `map` if one is named).
    fn redistribution(&self, protocol: Protocol) -> Option<Option<&MapRef>> {
        match protocol {
            Protocol::Connected | Protocol::Static => {
                self.redistribute.get(&protocol).map(|m| m.as_ref())
            }
            Protocol::Local | Protocol::Bgp => None,
        }
    }
}

/// The VRF's BGP table entry for a prefix: what it advertises to its CE neighbors and exports
/// to the VPN table. Chosen among the redistributed own routes (after the redistribution
/// route-map) and the BGP routes by the decision process — it can differ from the route the
/// FIB uses, as in IOS (a connected route that is not redistributed beside a BGP path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpBest {
    /// Which candidate it is (its forwarding is that candidate's).
    pub key: CandidateKey,
    /// The path's attributes as BGP sees them: after redistribution policy.
    pub attrs: Arc<Attrs>,
    /// The neighbor it was learned from, if any.
    pub peer: Option<PeerRef>,
}

/// All candidate routes of one prefix in one VRF, which one is best, and which one is the
/// BGP table's best path.
///
/// A table holds a million of these, inline in its entry vector, so they are small: most
/// prefixes have one candidate, so the candidates are routes in a sorted slice, one inline,
/// each keyed by what it says it is ([`Candidates`]: no key stored beside it); the selected
/// route and the BGP best path are indexes into them, not copies, kept in 26 bits beside the
/// entry's own IPv4 key (`selection`); the installed FIB action and what only some prefixes
/// have (boxed) share one word (`held::Held`).
#[derive(Clone)]
pub struct PrefixEntry {
    /// The candidates, by key. Changed only by the RIB, which keeps the indexes below on the
    /// candidates they point at.
    pub candidates: Candidates,
    /// The entry's key, when its table folds an IPv4 key into it ([`VrfTable`]), and in the
    /// spare bits the selection: where the candidate selected by the last delta is in
    /// `candidates` ([`NONE`] if none was, [`GONE`] if it has left since), and where the BGP
    /// best path chosen by the last delta is, likewise, with [`CHANGED`] set when that
    /// candidate's attributes or neighbor changed since (the next delta reports it). Read
    /// and set through `best`, `bgp` and `set_selection`.
    key_room: KeyRoom,
    /// The FIB action the last delta installed for the prefix (shared, [`SharedActions`])
    /// and what few prefixes have (multipath, redistribution), in one word ([`Held`]). The
    /// action is kept here rather than in a second map beside the table, which cost a map
    /// entry (~80 bytes) and a B-tree insert per route; [`Rib::fib`] reads it through [`Fib`].
    held: Held,
}

/// No candidate selected.
const NONE: u32 = u32::MAX;
/// The selected candidate left; the next delta selects again (and the FIB still holds what
/// was derived from it).
const GONE: u32 = u32::MAX - 1;
/// On the BGP best path's index: the candidate changed since it was chosen.
const CHANGED: u32 = 1 << 31;

impl Default for PrefixEntry {
    fn default() -> Self {
        let mut key_room = KeyRoom::default();
        key_room.set_spare(selection::UNSELECTED);
        PrefixEntry {
            candidates: Candidates::new(),
            key_room,
            held: Held::new(),
        }
    }
}

impl fmt::Debug for PrefixEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrefixEntry")
            .field("candidates", &self.candidates)
            .field("best", &self.best())
            .field("bgp", &self.bgp())
            .field("held", &self.held)
            .finish()
    }
}

/// A VRF's table: its IPv4 entries hold their own keys ([`KeyInValue`]).
pub type VrfTable = PrefixTable<PrefixEntry, KeyInValue<PrefixEntry>>;

impl PrefixEntry {
    /// The selected route, if any. Between a change and the next [`Rib::take_delta`] it is the
    /// current route of the selected candidate (or nothing, if that candidate left).
    pub fn best_route(&self) -> Option<&Route> {
        let route = self.candidates.get_index(self.best() as usize)?;
        Some(self.merged().unwrap_or(route))
    }

    fn merged(&self) -> Option<&Route> {
        self.held.rare()?.merged.as_ref()
    }

    fn bgp_attrs(&self) -> Option<&Arc<Attrs>> {
        self.held.rare()?.bgp_attrs.as_ref()
    }

    /// Which candidate the last delta selected.
    pub fn best_key(&self) -> Option<CandidateRef<'_>> {
        self.candidates
            .get_index(self.best() as usize)
            .map(Route::candidate)
    }

    /// Where the BGP best path is among the candidates.
    fn bgp_index(&self) -> Option<usize> {
        match self.bgp() {
            NONE | GONE => None,
            i => Some((i & !CHANGED) as usize),
        }
    }

    /// The BGP table's best path for the prefix, if BGP has one: the candidate the last delta
    /// chose, with its attributes as BGP sees them.
    pub fn bgp_best(&self) -> Option<BgpBest> {
        let route = self.candidates.get_index(self.bgp_index()?)?;
        Some(BgpBest {
            key: route.candidate().to_owned(),
            attrs: self.bgp_attrs().unwrap_or(&route.attrs).clone(),
            peer: route.peer().copied(),
        })
    }

    /// Which candidate the BGP best path is.
    pub fn bgp_best_key(&self) -> Option<CandidateRef<'_>> {
        self.candidates
            .get_index(self.bgp_index()?)
            .map(Route::candidate)
    }

    /// Whether BGP has a best path for the prefix.
    pub fn has_bgp_best(&self) -> bool {
        self.bgp_index().is_some()
    }

    /// Changes the candidates, keeping `best` and `bgp` on the candidates they point at (or
    /// on none, if those left), and marking the BGP best path changed if its candidate did.
    fn change_candidates<R>(&mut self, change: impl FnOnce(&mut Candidates) -> R) -> R {
        let best = self.best_key().map(CandidateRef::to_owned);
        let bgp = self.bgp_index().and_then(|i| {
            let route = self.candidates.get_index(i)?;
            Some((
                route.candidate().to_owned(),
                route.attrs.clone(),
                route.origin().cloned(),
            ))
        });
        let result = change(&mut self.candidates);
        if let Some(key) = best {
            let best = self
                .candidates
                .index_of(key.as_ref())
                .map_or(GONE, |i| i as u32);
            self.set_best(best);
            if best == GONE {
                self.held.clear_merged();
            }
        }
        if let Some((key, attrs, origin)) = bgp {
            let bgp = match self.candidates.get_index_of(key.as_ref()) {
                None => GONE,
                Some((i, route)) => {
                    // A redistributed route's BGP attributes are kept, and compared when the
                    // next delta derives them again; a BGP route's are the route's.
                    let same = self.bgp_attrs().is_some()
                        || ((Arc::ptr_eq(&route.attrs, &attrs) || route.attrs == attrs)
                            && route.origin() == origin.as_ref());
                    i as u32 | (self.bgp() & CHANGED) | if same { 0 } else { CHANGED }
                }
            };
            self.set_bgp(bgp);
        }
        result
    }

    /// Administrative distance first; between BGP paths the decision process; otherwise the
    /// candidate order (own before learned before imported).
    fn rank(a: &Route, b: &Route, o: &DecisionOptions) -> Ordering {
        a.distance().cmp(&b.distance()).then_with(|| {
            if a.protocol() == Protocol::Bgp && b.protocol() == Protocol::Bgp {
                decision::compare(a, b, o).then_with(|| a.candidate().cmp(&b.candidate()))
            } else {
                a.candidate().cmp(&b.candidate())
            }
        })
    }

    /// The selected candidate (its index) and, with multipath, its route with the forwarding
    /// merged with the equal paths'.
    fn select(&self, o: &DecisionOptions) -> Option<(usize, Option<Route>)> {
        let (index, best) = self
            .candidates
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_usable())
            .min_by(|a, b| Self::rank(a.1, b.1, o))?;
        let mut merged = None;
        if o.maximum_paths > 1 && best.protocol() == Protocol::Bgp {
            let mut equal: Vec<&Route> = self
                .candidates
                .iter()
                .filter(|r| {
                    r.is_usable()
                        && r.protocol() == Protocol::Bgp
                        && r.distance() == best.distance()
                        && decision::multipath_equal(best, r, o)
                })
                .collect();
            equal.sort_by(|a, b| decision::compare(a, b, o));
            let mut adjs: Vec<Adjacency> = Vec::new();
            for r in equal.iter().take(o.maximum_paths as usize) {
                if let Forward::Nexthops(a) = &**r.forward() {
                    adjs.extend(a.iter().cloned());
                }
            }
            adjs.sort();
            adjs.dedup();
            if adjs.len() > 1 {
                let mut route = best.clone();
                route.set_via(RouteVia::new(
                    best.protocol(),
                    best.distance(),
                    Arc::new(Forward::Nexthops(adjs.into())),
                    best.origin().cloned(),
                ));
                merged = Some(route);
            }
        }
        Some((index, merged))
    }
}

#[derive(Debug, Default)]
struct VrfState {
    /// Shared, so the per-prefix work (selection, export) takes it without copying its sets.
    policy: Arc<VrfPolicy>,
    table: VrfTable,
    /// FIB actions of prefixes without a table entry: neighbors' host entries, and what the
    /// last delta installed for a prefix whose entry has left since (until the next delta
    /// replaces or removes it). A prefix's action is in its entry's `fib` or here, never both.
    hosts_fib: HostsFib,
    /// Set by [`Rib::remove_vrf`]: the VRF empties itself and is dropped by the next delta.
    removing: bool,
    /// How many paths the VRF has exported into the VPN table ([`Rib::export`]).
    exported: usize,
    /// Selection passes over the VRF's marks in the delta being taken.
    selection_passes: u32,
    /// Prefixes whose selection the next delta redoes, in the order they were marked and
    /// possibly repeated (the delta deduplicates them, keeping that order). Per VRF, a mark
    /// is a push;
    /// a set keyed by (VRF name, prefix) compared names on every step of every insert and pop,
    /// which was most of the cost of taking in a full table. Each delta takes this list and
    /// the other mark lists whole, so they start empty again: code that pushes a known
    /// number of marks reserves room for them first (grown a push at a time, the lists were
    /// reallocated and copied about ten times a delta: 22 M of 1,226 M instructions in the
    /// ingest bench's unicast case at 200,000 routes).
    dirty_best: Vec<Mark>,
    /// Prefixes whose FIB entry the next delta recomputes, in the order marked, possibly
    /// repeated (a repeat finds its action unchanged).
    dirty_fib: Vec<Mark>,
    /// Prefixes whose BGP best path this delta changed, with where the new one came from,
    /// possibly repeated (the delta sorts them and keeps each prefix's last).
    bgp_changed: Vec<(IpNet, BestFrom)>,
    /// The last few next hops resolved for CE routes ([`Rib::resolve_in_vrf`], shared), valid
    /// while `resolved_epoch` is the RIB's `nh_epoch`: a full table from one CE resolves one
    /// next hop a million times, and each resolution searched the neighbor and subnet maps
    /// and built an adjacency list only to find its shared copy.
    resolved: Vec<(IpAddr, Arc<Forward>)>,
    resolved_epoch: u64,
}

impl VrfState {
    /// Records the FIB action a delta computed for a prefix; the action it replaced, if it
    /// changed.
    fn install(
        &mut self,
        prefix: IpNet,
        action: &Option<FibAction>,
        shared: &mut SharedActions,
    ) -> Option<Option<FibAction>> {
        match self.table.get_mut(&prefix) {
            Some(entry) => {
                let left = self.hosts_fib.remove(&prefix);
                let old = entry.held.take_fib();
                let was = old.as_deref().cloned().or(left);
                if entry.candidates.is_empty() {
                    // Left by the selection for this phase: the entry goes, a host entry may
                    // take its place.
                    self.table.remove(&prefix);
                    if let Some(a) = action {
                        self.hosts_fib.insert(prefix, a.clone());
                    }
                } else {
                    entry.held.set_fib(action.as_ref().map(|a| shared.share(a)));
                }
                (was != *action).then_some(was)
            }
            None => {
                let was = match action {
                    Some(a) => self.hosts_fib.insert(prefix, a.clone()),
                    None => self.hosts_fib.remove(&prefix),
                };
                (was != *action).then_some(was)
            }
        }
    }

    /// [`VrfState::install`] for a prefix that is not a host prefix, whose FIB action is its
    /// selected route's (no neighbor's host entry can stand in): computed and recorded in one
    /// search of the table. The old and the new action, if it changed. With `keep_emptied`,
    /// an entry left without candidates stays in the table (its action cleared) for the caller
    /// to remove in bulk, and `emptied` is set.
    fn refresh_route_fib(
        &mut self,
        Mark { prefix, at }: Mark,
        shared: &mut SharedActions,
        keep_emptied: bool,
        emptied: &mut bool,
    ) -> Option<Replaced> {
        let left = self.hosts_fib.remove(&prefix);
        let Some((_, entry)) = self.table.get_mut_hinted(&prefix, at) else {
            return left.map(|old| (Some(old), None));
        };
        let action = entry.best_route().and_then(route_fib_action);
        let old = entry.held.take_fib();
        let changed = old.as_deref().or(left.as_ref()) != action.as_ref();
        // Only a change carries the action it replaced (a clone: a reference count).
        let was = if changed {
            old.as_deref().cloned().or(left)
        } else {
            None
        };
        if entry.candidates.is_empty() {
            if keep_emptied {
                *emptied = true;
            } else {
                self.table.remove(&prefix);
            }
        } else {
            entry.held.set_fib(match (old, &action) {
                (Some(old), Some(new)) if *old == *new => Some(old),
                _ => action.as_ref().map(|a| shared.share(a)),
            });
        }
        changed.then_some((was, action))
    }

    /// [`VrfState::refresh_route_fib`] for non-host prefixes, possibly repeated, pushing the
    /// changes (one per prefix at most: a repeat finds its action unchanged).
    ///
    /// When they are a large part of the table (a full table withdrawn), the entries they
    /// empty are removed in one pass over the table afterwards: a removal one by one moves the
    /// table's last entry into the hole and repoints its index slot, two more cache misses a
    /// route. Every emptied entry of a non-host prefix is among these (the selection marked
    /// it and left it for this phase); emptied host entries are [`VrfState::install`]'s.
    fn refresh_route_fibs(
        &mut self,
        marks: &[Mark],
        shared: &mut SharedActions,
        changes: &mut Vec<(IpNet, Replaced)>,
    ) {
        let bulk = marks.len() >= BULK_REMOVAL && marks.len() * 8 >= self.table.len();
        let mut emptied = false;
        for mark in marks {
            if let Some(replaced) = self.refresh_route_fib(*mark, shared, bulk, &mut emptied) {
                changes.push((mark.prefix, replaced));
            }
        }
        if emptied {
            self.table
                .retain(|prefix, entry| !entry.candidates.is_empty() || is_host(prefix));
        }
    }

    /// Host (/32, /128) prefixes inside a subnet with a FIB action: range scans of the
    /// table's hosts and of the host entries, as a subnet's addresses are contiguous in order.
    fn fib_hosts_within(&self, subnet: IpNet) -> Vec<IpNet> {
        let first = IpNet::new(subnet.network(), 0).expect("0 is a valid length");
        let last = host_prefix(subnet.broadcast());
        let within = move |p: &IpNet| is_host(p) && subnet.contains(p);
        let mut hosts: Vec<IpNet> = self
            .table
            .hosts_within(subnet)
            .filter(|p| self.table.get(p).is_some_and(|e| e.held.fib().is_some()))
            .copied()
            .collect();
        hosts.extend(
            self.hosts_fib
                .range(first..=last)
                .map(|(p, _)| *p)
                .filter(within),
        );
        hosts
    }

    /// Marks a prefix for selection; true when it is the VRF's first mark since the last
    /// delta (the caller then records the VRF in `Rib::dirty_vrfs`).
    fn mark_best(&mut self, mark: Mark) -> bool {
        let first = self.dirty_best.is_empty();
        self.dirty_best.push(mark);
        first
    }
}

/// A FIB entry's change: the action it had and the one it has now (`None`: not in the FIB).
type Replaced = (Option<FibAction>, Option<FibAction>);

/// One shared copy of each FIB action the tables' entries hold (8 bytes an entry where the
/// action inline took 24), and the last one handed out: a full table from one neighbor
/// installs one action a million times, and comparing with it (the adjacency lists are shared,
/// so it compares pointers) costs less than hashing.
#[derive(Debug, Default)]
struct SharedActions {
    set: Interner<FibAction>,
    last: Option<Arc<FibAction>>,
}

impl SharedActions {
    fn share(&mut self, action: &FibAction) -> Arc<FibAction> {
        if let Some(last) = &self.last {
            if **last == *action {
                return last.clone();
            }
        }
        let shared = self.set.intern_ref(action);
        self.last = Some(shared.clone());
        shared
    }

    fn purge_if_grown(&mut self) {
        self.last = None;
        self.set.purge_if_grown();
    }
}

/// A prefix marked for the next delta, with where its table entry was when it was marked.
/// The position is a hint ([`PrefixTable::get_mut_hinted`]): the delta's passes find an entry
/// without a hash and an index probe, a cache miss a route at a million prefixes, and an entry
/// moved since (a removal moves the table's last entry) is looked up by prefix.
#[derive(Clone, Copy, Debug)]
struct Mark {
    prefix: IpNet,
    at: u32,
}

impl Mark {
    /// A prefix whose position is not known (it is looked up).
    fn prefix(prefix: IpNet) -> Self {
        Mark {
            prefix,
            at: u32::MAX,
        }
    }

    fn at(prefix: IpNet, at: u32) -> Self {
        Mark { prefix, at }
    }
}

/// How many keys of a batch ahead of the one looked up have their index slot prefetched.
const PREFETCH_AHEAD: usize = 8;

/// A batch of keys with their hashes, for look-ups that prefetch ahead
/// ([`KeyedTable::prefetch`]): a full table's keys land all over its index, and each look-up
/// otherwise waits for memory.
fn hashed_batch<T>(items: impl Iterator<Item = T>, hash: impl Fn(&T) -> u64) -> Vec<(T, u64)> {
    items
        .map(|item| {
            let h = hash(&item);
            (item, h)
        })
        .collect()
}

/// Removes items with a repeated key, keeping each key's first place; `hash` is the key's
/// table's hash of it.
fn dedup_keeping_order<T, K: Eq>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> K,
    hash: impl Fn(&K) -> u64,
) {
    if items.len() < 2 {
        return;
    }
    let mut seen: hashbrown::HashSet<Prehashed<K>, foldhash::fast::RandomState> =
        hashbrown::HashSet::with_capacity_and_hasher(items.len(), Default::default());
    items.retain(|item| {
        let key = key(item);
        seen.insert(Prehashed {
            hash: hash(&key),
            key,
        })
    });
}

/// A key with a hash made beforehand, cheaper than its derived `Hash`: hashed by that and
/// compared as itself. The RIB dedups a delta's marks by their table's hash of the key
/// (`PositionedTable::hash_of`, packed words): a set of VPN keys by their derived `Hash`,
/// which feeds an RD and a prefix field by field, took ~200 instructions a key (callgrind:
/// 34 M of the 1,662 M of taking in 200,000 VPNv4 routes).
pub struct Prehashed<K> {
    pub hash: u64,
    pub key: K,
}

impl<K> std::hash::Hash for Prehashed<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: Eq> PartialEq for Prehashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<K: Eq> Eq for Prehashed<K> {}

/// A table whose entries have positions ([`KeyedTable::get_hinted`]), for [`dedup_marks`].
trait PositionedTable<K> {
    fn len(&self) -> usize;
    /// Where `key`'s entry is: its position (a hint for later look-ups) and its place among
    /// all the table's entries, below [`PositionedTable::len`].
    fn locate(&self, key: &K, hint: u32) -> Option<(u32, usize)>;
    /// The hash the table finds `key` by.
    fn hash_of(&self, key: &K) -> u64;
}

impl<K: TableKey, V, S: Slot<K, V>> PositionedTable<K> for KeyedTable<K, V, S> {
    fn len(&self) -> usize {
        KeyedTable::len(self)
    }

    fn locate(&self, key: &K, hint: u32) -> Option<(u32, usize)> {
        self.get_hinted(key, hint).map(|(i, _)| (i, i as usize))
    }

    fn hash_of(&self, key: &K) -> u64 {
        KeyedTable::hash_of(self, key)
    }
}

impl<K: SplitKey, V, S: Slot<K::V4, V>> PositionedTable<K> for SplitTable<K, V, S> {
    fn len(&self) -> usize {
        SplitTable::len(self)
    }

    fn locate(&self, key: &K, hint: u32) -> Option<(u32, usize)> {
        SplitTable::locate(self, key, hint)
    }

    fn hash_of(&self, key: &K) -> u64 {
        SplitTable::hash_of(self, key)
    }
}

/// Removes marks with a repeated key, keeping each key's first place, and points each kept
/// mark at where its entry is now. A key with an entry is recognised by the entry's position,
/// in a bit set as long as the table: a delta that marks a good part of a big table (a full
/// table learned) then costs a bit a key, where a hash set of the keys cost a cache miss a key
/// (about 2 % of taking in a full table). Keys without an entry (removed since they were
/// marked) and marks too few for a table-long bit set are told apart by key.
fn dedup_marks<K, M>(
    table: &impl PositionedTable<K>,
    marks: &mut Vec<M>,
    key: impl Fn(&M) -> K,
    at: impl Fn(&mut M) -> &mut u32,
) where
    K: Eq,
{
    if marks.len() < 2 {
        return;
    }
    if marks.len() * 16 < table.len() {
        dedup_keeping_order(marks, key, |k| table.hash_of(k));
        return;
    }
    let mut seen = vec![0u64; table.len().div_ceil(64)];
    let mut absent: hashbrown::HashSet<Prehashed<K>, foldhash::fast::RandomState> =
        Default::default();
    marks.retain_mut(|m| {
        let k = key(m);
        match table.locate(&k, *at(m)) {
            Some((hint, i)) => {
                *at(m) = hint;
                let (word, bit) = (i / 64, 1u64 << (i % 64));
                let first = seen[word] & bit == 0;
                seen[word] |= bit;
                first
            }
            None => absent.insert(Prehashed {
                hash: table.hash_of(&k),
                key: k,
            }),
        }
    });
}

/// The FIB action of a selected route.
fn route_fib_action(route: &Route) -> Option<FibAction> {
    match &**route.forward() {
        Forward::Attached { .. } | Forward::Blackhole => Some(FibAction::Drop),
        Forward::Receive { .. } => Some(FibAction::Punt),
        Forward::Nexthops(adjs) => Some(FibAction::Forward(adjs.clone())),
        Forward::Unresolved(_) => None,
    }
}

fn installed<'a>(
    table: &'a VrfTable,
    hosts: &'a BTreeMap<IpNet, FibAction>,
    prefix: &IpNet,
) -> Option<&'a FibAction> {
    match table.get(prefix).and_then(|e| e.held.fib()) {
        Some(a) => Some(a),
        None if hosts.is_empty() => None,
        None => hosts.get(prefix),
    }
}

/// A VRF's FIB as last computed by [`Rib::take_delta`], in prefix order: a view of the
/// actions kept in the table's entries and of the VRF's host entries. Reads like the
/// `BTreeMap<IpNet, FibAction>` it replaces (`get`, `contains_key`, `iter`, indexing); `len`
/// counts, so it walks the table; `iter` sorts the table's prefixes.
#[derive(Clone, Copy)]
pub struct Fib<'a> {
    table: &'a VrfTable,
    hosts: &'a BTreeMap<IpNet, FibAction>,
}

impl<'a> Fib<'a> {
    pub fn get(&self, prefix: &IpNet) -> Option<&'a FibAction> {
        installed(self.table, self.hosts, prefix)
    }

    pub fn contains_key(&self, prefix: &IpNet) -> bool {
        self.get(prefix).is_some()
    }

    /// How many entries (a walk of the table).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// `(&prefix, &action)` in prefix order.
    pub fn iter(&self) -> FibIter<'a> {
        FibIter {
            table: self.table.iter().peekable(),
            hosts: self.hosts.iter().peekable(),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = IpNet> + 'a {
        self.iter().map(|(p, _)| p)
    }

    pub fn values(&self) -> impl Iterator<Item = &'a FibAction> + 'a {
        self.iter().map(|(_, a)| a)
    }

    /// A copy as a map.
    pub fn to_map(&self) -> BTreeMap<IpNet, FibAction> {
        self.iter().map(|(p, a)| (p, a.clone())).collect()
    }
}

/// Iterator over a [`Fib`]: the table's installed actions merged with the host entries.
pub struct FibIter<'a> {
    table: std::iter::Peekable<std::vec::IntoIter<(IpNet, &'a PrefixEntry)>>,
    hosts: std::iter::Peekable<std::collections::btree_map::Iter<'a, IpNet, FibAction>>,
}

impl<'a> Iterator for FibIter<'a> {
    type Item = (IpNet, &'a FibAction);

    fn next(&mut self) -> Option<Self::Item> {
        let own = loop {
            match self.table.peek() {
                None => break None,
                Some(&(p, e)) => match e.held.fib() {
                    Some(a) => break Some((p, a)),
                    None => {
                        self.table.next();
                    }
                },
            }
        };
        let host = self.hosts.peek().map(|&(p, a)| (*p, a));
        match (own, host) {
            (None, None) => None,
            (Some(o), None) => {
                self.table.next();
                Some(o)
            }
            (None, Some(h)) => {
                self.hosts.next();
                Some(h)
            }
            (Some(o), Some(h)) => match o.0.cmp(&h.0) {
                Ordering::Greater => {
                    self.hosts.next();
                    Some(h)
                }
                Ordering::Less => {
                    self.table.next();
                    Some(o)
                }
                Ordering::Equal => {
                    self.table.next();
                    self.hosts.next();
                    Some(o)
                }
            },
        }
    }
}

impl<'a> IntoIterator for Fib<'a> {
    type Item = (IpNet, &'a FibAction);
    type IntoIter = FibIter<'a>;
    fn into_iter(self) -> FibIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Fib<'a> {
    type Item = (IpNet, &'a FibAction);
    type IntoIter = FibIter<'a>;
    fn into_iter(self) -> FibIter<'a> {
        self.iter()
    }
}

impl std::ops::Index<&IpNet> for Fib<'_> {
    type Output = FibAction;
    fn index(&self, prefix: &IpNet) -> &FibAction {
        self.get(prefix).expect("no FIB entry for the prefix")
    }
}

impl PartialEq for Fib<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Fib<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// From how many prefixes the FIB phase removes the entries it empties in one pass over the
/// table ([`VrfState::refresh_route_fibs`]); small under test, so the property tests take
/// both ways.
const BULK_REMOVAL: usize = if cfg!(test) { 4 } else { 64 };

/// How many next hops a VRF's resolution cache keeps (a CE session has one or two).
const RESOLVED_CACHED: usize = 8;

/// How many (PE, label) pairs the core resolution cache holds before it starts over: a PE
/// labels per VRF (a few thousand at most); one labelling per prefix only refills it.
const CORE_RESOLVED_CACHED: usize = 4096;

/// What a selection uses of the RIB beyond the VRF: the route-map counters, the interned
/// attributes and the neighbors by interface.
type SelectionContext<'a> = (
    &'a mut BTreeMap<String, RouteMapStats>,
    &'a mut AttrInterner,
    &'a BTreeMap<Arc<str>, BTreeSet<IpAddr>>,
);

/// What selecting one entry leaves to its caller ([`Rib::select_entry`]).
struct Selection {
    /// The entry has no candidates and the FIB holds nothing for it: it leaves the table.
    remove: bool,
    /// The FIB held a subnet route's drop for the prefix: the host entries derived from the old
    /// subnet route, whatever the FIB holds inside it (the neighbors they came from may already
    /// be gone), are marked for the FIB phase. The FIB entry of a subnet route drops, so only
    /// such a prefix can have any; the FIB still holds what the last delta derived, however
    /// often the prefix is selected in this one. A scan of the table, so the caller's.
    dropped: bool,
}

/// Where a prefix's BGP best path came from, or a VPN key's paths, as the delta that changed
/// it saw: what a neighbor's advertisement needs to know first (split horizon: what the
/// neighbor sent itself goes back to no one), without reading the tables again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BestFrom {
    /// BGP has no best path for the prefix any more; the VPN key has no paths.
    Nothing,
    /// Learned from this neighbor (a VRF's CE; for a VPN key, every path).
    Neighbor(IpAddr),
    /// A redistributed route of the VRF's own or one imported from the VPN table; for a VPN
    /// key, paths of a VRF here or of several neighbors.
    Elsewhere,
}

impl BestFrom {
    /// Whether a neighbor is to hold nothing for the prefix or key: there is no path, or it
    /// came from the neighbor itself (split horizon).
    pub fn leaves_nothing_for(self, neighbor: IpAddr) -> bool {
        match self {
            BestFrom::Nothing => true,
            BestFrom::Neighbor(a) => a == neighbor,
            BestFrom::Elsewhere => false,
        }
    }

    /// Of a VPN key's paths, by their sources.
    fn of_paths<'a>(mut sources: impl Iterator<Item = &'a PathSource>) -> BestFrom {
        let Some(first) = sources.next() else {
            return BestFrom::Nothing;
        };
        match first {
            PathSource::Peer(a) if sources.all(|s| matches!(s, PathSource::Peer(b) if b == a)) => {
                BestFrom::Neighbor(**a)
            }
            _ => BestFrom::Elsewhere,
        }
    }
}

/// Distinct prefixes' FIB changes in prefix order, handed to `emit`. Sorting a commit's tens
/// of thousands of changes by [`IpNet`] moved 40-byte items through comparisons of the enum;
/// IPv4 prefixes (the usual commit) sort instead as one `u64` each — address, length and the
/// change's place — and are then taken from their places in that order.
fn in_prefix_order<T: Default>(mut changes: Vec<(IpNet, T)>, mut emit: impl FnMut(IpNet, T)) {
    const PLACE_BITS: u32 = 24;
    let packed: Option<Vec<u64>> = if changes.len() < 1 << PLACE_BITS {
        changes
            .iter()
            .enumerate()
            .map(|(i, (prefix, _))| match prefix {
                IpNet::V4(p) => Some(table::V4Key::of(p).word() << PLACE_BITS | i as u64),
                IpNet::V6(_) => None,
            })
            .collect()
    } else {
        None
    };
    match packed {
        Some(mut keys) => {
            keys.sort_unstable();
            let mask = (1u64 << PLACE_BITS) - 1;
            for k in keys {
                let (prefix, change) = &mut changes[(k & mask) as usize];
                emit(*prefix, std::mem::take(change));
            }
        }
        None => {
            changes.sort_unstable_by_key(|(prefix, _)| *prefix);
            for (prefix, change) in changes {
                emit(prefix, change);
            }
        }
    }
}

/// Sorts `(key, value)` pairs by key and keeps the last pair of each key (marks of one thing
/// taken several times, the later one true).
pub fn sort_keeping_last<K: Ord + Clone, V: Clone>(items: &mut Vec<(K, V)>) {
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = later.1.clone();
        }
        same
    });
}

/// Leaves each key of a delta's marks once: when a key may repeat (marked in several
/// passes), sorts them keeping each key's last mark ([`sort_keeping_last`]). One pass marks
/// each key once, and then the marks stay in the order marked: their readers need a VRF's
/// together, which they are, not sorted (sorting a full table's million marks was 3 % of
/// taking it in).
fn keep_last_marks<K: Ord + Clone, V: Clone>(items: &mut Vec<(K, V)>, may_repeat: bool) {
    if may_repeat {
        sort_keeping_last(items);
    }
}

/// What one [`Rib::take_delta`] changed: FIB entries for the switch (sorted by VRF and
/// prefix), and the BGP table entries and VPN keys whose advertisements may need updating
/// (each key once; the BGP entries VRF by VRF in name order, a VRF's in no particular order,
/// as an Adj-RIB-Out keeps its pending keys sorted itself).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FibDelta {
    pub changes: FibChanges,
    /// VRF prefixes whose [`BgpBest`] changed (CE advertisements), with where the new one
    /// came from.
    pub bgp_changed: Vec<((VrfName, IpNet), BestFrom)>,
    /// VPN keys whose paths changed (VPNv4/VPNv6 advertisements), with where their paths
    /// came from.
    pub vpn_changed: Vec<(VpnKey, BestFrom)>,
}

pub type VpnKey = (RouteDistinguisher, IpNet);

/// Who has routes resolved through a BGP next hop: the routes themselves are found by scanning
/// (re-resolution follows a neighbor or connected subnet change, which is rare), so the index
/// costs nothing per route.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum NhUser {
    /// CE-learned routes of a VRF: (VRF, neighbor).
    Vrf(VrfName, IpAddr),
    /// A remote PE's VPN paths: its address.
    Vpn(IpAddr),
}

/// The paths of one RD:prefix, keyed by where each came from ([`VpnPath::source`]), in
/// source order.
pub type VpnPaths = KeyedSlice<VpnPath, Packed<VpnPath>>;

/// What the VPN table holds for one RD:prefix: its paths, by where they came from. An entry
/// leaves with its last path. Which VRFs hold candidates imported from it is not kept here
/// (24 bytes a key): a change reaches the VRFs importing the route targets of the paths it
/// has, and of the paths it lost ([`Rib::vpn_departed`]).
#[derive(Debug, Default)]
struct VpnEntry {
    paths: VpnPaths,
}

impl VpnEntry {
    fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

/// The route targets of a path that left a VPN key or was replaced.
fn departed_targets(
    key: VpnKey,
    path: &VpnPath,
) -> impl Iterator<Item = (VpnKey, RouteTarget)> + '_ {
    path.route_targets().map(move |rt| (key, rt))
}

/// The VPN table as its readers see it: RD:prefix → paths, for the keys that have paths.
/// Reads like the map it was (`get`, indexing, `iter` and `keys` in key order, `len`).
#[derive(Clone, Copy)]
pub struct VpnTable<'a> {
    entries: &'a SplitTable<VpnKey, VpnEntry>,
}

impl<'a> VpnTable<'a> {
    pub fn get(&self, key: &VpnKey) -> Option<&'a VpnPaths> {
        self.entries
            .get(key)
            .map(|e| &e.paths)
            .filter(|paths| !paths.is_empty())
    }

    pub fn contains_key(&self, key: &VpnKey) -> bool {
        self.get(key).is_some()
    }

    /// `(key, &paths)` in key order (sorts).
    pub fn iter(&self) -> std::vec::IntoIter<(VpnKey, &'a VpnPaths)> {
        let entries: &'a SplitTable<VpnKey, VpnEntry> = self.entries;
        let mut listed: Vec<_> = entries
            .iter_unordered()
            .filter(|(_, e)| !e.paths.is_empty())
            .map(|(k, e)| (k, &e.paths))
            .collect();
        listed.sort_unstable_by_key(|a| a.0);
        listed.into_iter()
    }

    /// The keys in order (sorts).
    pub fn keys(&self) -> impl Iterator<Item = VpnKey> + 'a {
        self.iter().map(|(k, _)| k)
    }

    /// The paths in key order (sorts).
    pub fn values(&self) -> impl Iterator<Item = &'a VpnPaths> + 'a {
        self.iter().map(|(_, v)| v)
    }

    /// How many keys have paths (a walk).
    pub fn len(&self) -> usize {
        self.entries
            .iter_unordered()
            .filter(|(_, e)| !e.paths.is_empty())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.entries
            .iter_unordered()
            .all(|(_, e)| e.paths.is_empty())
    }
}

impl<'a> IntoIterator for VpnTable<'a> {
    type Item = (VpnKey, &'a VpnPaths);
    type IntoIter = std::vec::IntoIter<Self::Item>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::ops::Index<&VpnKey> for VpnTable<'_> {
    type Output = VpnPaths;
    fn index(&self, key: &VpnKey) -> &Self::Output {
        self.get(key).expect("no VPN table entry for the key")
    }
}

impl PartialEq for VpnTable<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for VpnTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The routing state of the router: every VRF, the VPN table and the FIB.
#[derive(Debug, Default)]
pub struct Rib {
    vrfs: BTreeMap<VrfName, VrfState>,
    /// The VPN table: each RD:prefix's paths, and which VRFs hold a candidate imported from
    /// it. One table for both, so a path's import costs one search, not two of two
    /// million-entry tables; an entry stays while either has something.
    vpn: SplitTable<VpnKey, VpnEntry>,
    /// Which VRFs import each RT: the VRFs a changed VPN path may need to reach.
    importers: BTreeMap<RouteTarget, BTreeSet<VrfName>>,
    /// Connected subnets of each interface, for neighbor host entries; counted, because a
    /// VRF being removed and its successor may briefly both hold the interface's subnet.
    attached: BTreeMap<Arc<str>, BTreeMap<IpNet, usize>>,
    neighbors_by_interface: BTreeMap<Arc<str>, BTreeSet<IpAddr>>,
    neighbors_by_address: BTreeMap<IpAddr, BTreeSet<Arc<str>>>,
    /// Interfaces towards the MPLS core: remote PEs' next hops resolve only through them.
    core_interfaces: BTreeSet<Arc<str>>,
    /// Static LSPs towards remote PEs that are not adjacent, by the PE's address.
    lsps: BTreeMap<IpAddr, Lsp>,
    /// BGP next hop → who has routes or paths through it, with how many.
    nh_users: BTreeMap<IpAddr, BTreeMap<NhUser, usize>>,
    /// One shared copy of each distinct attribute set the RIB's policies produce.
    interned: AttrInterner,
    /// One shared copy of each distinct adjacency list routes forward through.
    adjacencies: Interner<[Adjacency]>,
    /// One shared copy of each distinct origin (neighbor, leak source) routes and paths have.
    origins: Interner<RouteOrigin>,
    /// One shared copy of each distinct forwarding routes and paths have.
    forwards: Interner<Forward>,
    /// One shared copy of each (forwarding, origin, protocol, distance) routes have.
    vias: Vias<RouteVia>,
    /// One shared copy of each (forwarding, origin, label, protocol) VPN paths have.
    path_vias: Vias<PathVia>,
    /// One shared copy of each neighbor address the tables' keys name.
    neighbor_addrs: Interner<IpAddr>,
    /// One shared copy of each VPN path origin (source and neighbor).
    path_origins: Interner<PathOrigin>,
    /// One shared copy of each FIB action the tables' entries hold.
    fib_actions: SharedActions,
    /// Hit counters of the route-maps the RIB runs (redistribution, export and import maps).
    map_stats: BTreeMap<String, RouteMapStats>,

    /// VRFs with prefixes marked for selection (their `dirty_best` is not empty).
    dirty_vrfs: BTreeSet<VrfName>,
    /// VPN keys to propagate to the importing VRFs, in the order marked and possibly repeated
    /// (the delta deduplicates them, keeping that order): a push per path, not a B-tree
    /// insert. Each with where its entry was (a hint, as [`Mark`]'s).
    dirty_vpn: Vec<(VpnKey, u32)>,
    reexport: BTreeSet<VrfName>,
    reimport: BTreeSet<VrfName>,
    vpn_changed: Vec<(VpnKey, BestFrom)>,
    /// The route targets of the paths that left a VPN key or were replaced since the last
    /// delta: the VRFs importing them may hold candidates from the key, so the key's
    /// propagation reaches them too. (A VRF whose import targets changed since is reimported
    /// whole: `reimport_vrf` finds its imported candidates in its own table.)
    vpn_departed: Vec<(VpnKey, RouteTarget)>,
    /// Propagation passes over VPN marks in the delta being taken.
    vpn_passes: u32,
    /// Bumped by every change that can change how a next hop resolves (a VRF's own routes,
    /// neighbors, core interfaces, LSPs): the resolution caches older than this are stale.
    nh_epoch: u64,
    /// Remote PEs' next hops (with the VPN label) as resolved while `nh_epoch` was the first.
    core_resolved: (u64, HashMap<(IpAddr, u32), Arc<Forward>>),
}

/// Why a change was refused; nothing was changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("unknown VRF `{0}`")]
    UnknownVrf(String),
    #[error("a {0:?} route cannot be added as a VRF's own route")]
    NotOwnProtocol(Protocol),
}

fn host_prefix(addr: IpAddr) -> IpNet {
    match addr {
        IpAddr::V4(a) => IpNet::V4(ipnet::Ipv4Net::new(a, 32).expect("32 is a valid length")),
        IpAddr::V6(a) => IpNet::V6(ipnet::Ipv6Net::new(a, 128).expect("128 is a valid length")),
    }
}

fn is_host(prefix: &IpNet) -> bool {
    prefix.prefix_len() == prefix.max_prefix_len()
}

/// What importing a VPN key into a VRF needs of the RIB besides the VRF's state: the VPN
/// table, the interners, the route-map counters, the dirty VRFs; and a scratch list.
struct Importer<'a> {
    vpn: &'a SplitTable<VpnKey, VpnEntry>,
    origins: &'a mut Interner<RouteOrigin>,
    vias: &'a mut Vias<RouteVia>,
    map_stats: &'a mut BTreeMap<String, RouteMapStats>,
    interned: &'a mut AttrInterner,
    dirty_vrfs: &'a mut BTreeSet<VrfName>,
    /// The routes the key's paths give the VRF (kept between keys for its capacity).
    wanted: Vec<Route>,
}

impl Importer<'_> {
    /// Makes `vrf`'s imported candidates for one VPN key match the VPN table, its import RTs
    /// and its import-map. `vpn_at`: where the key's VPN entry is, a hint
    /// ([`KeyedTable::get_hinted`]).
    fn sync(&mut self, vrf: &VrfName, state: &mut VrfState, key: VpnKey, vpn_at: u32) {
        let (rd, prefix) = key;
        let policy = &state.policy;
        // In key order, as the paths are in source order and share the RD. An imported route
        // takes each shared part of its path counted once more, not a copy of the path.
        let wanted = &mut self.wanted;
        wanted.clear();
        if let Some((_, entry)) = self.vpn.get_hinted(&key, vpn_at) {
            for (source, path) in entry.paths.iter_keyed() {
                if matches!(source, PathSource::Vrf(origin) if origin == vrf) {
                    continue;
                }
                if !path.route_targets().any(|rt| policy.import.contains(&rt)) {
                    continue;
                }
                let attrs = match &policy.import_map {
                    Some(map) => match run_map(self.map_stats, map, prefix, &path.attrs) {
                        Some(a) => self.interned.intern_arc(a),
                        None => continue,
                    },
                    None => path.attrs.clone(),
                };
                let origin = self.origins.intern_ref_run(&RouteOrigin {
                    peer: path.peer().copied(),
                    leaked: Some(LeakSource {
                        rd,
                        source: source.clone(),
                        protocol: path.protocol(),
                    }),
                });
                wanted.push(Route::new(
                    attrs,
                    self.vias.via(
                        Protocol::Bgp,
                        Protocol::Bgp.default_distance(),
                        path.forward(),
                        Some(&origin),
                    ),
                ));
            }
        }
        let (at, entry) = state.table.get_or_default_at(prefix);
        let unchanged = entry
            .candidates
            .iter()
            .filter(|r| r.candidate().imported_rd() == Some(rd))
            .eq(wanted.iter());
        if !unchanged {
            entry.change_candidates(|c| {
                c.retain(|r| r.candidate().imported_rd() != Some(rd));
                c.extend(wanted.drain(..));
            });
            if state.mark_best(Mark::at(prefix, at)) {
                self.dirty_vrfs.insert(vrf.clone());
            }
        } else if entry.candidates.is_empty()
            && entry.best() == NONE
            && entry.bgp() == NONE
            && entry.held.fib().is_none()
        {
            // Only an entry nothing was derived from may go here; others leave in select_best.
            state.table.remove(&prefix);
        }
    }
}

/// Runs a route-map on a route, counting hits; `None` when denied.
fn run_map(
    stats: &mut BTreeMap<String, RouteMapStats>,
    map: &MapRef,
    prefix: IpNet,
    attrs: &Arc<Attrs>,
) -> Option<Arc<Attrs>> {
    let route = policy::Route {
        prefix,
        attrs: attrs.clone(),
    };
    let st = stats
        .entry(map.name().to_string())
        .or_insert_with(|| map.map.new_stats());
    map.map
        .evaluate(&route, st)
        .into_route()
        .map(|r| r.attrs.clone())
}

impl Rib {
    pub fn new() -> Self {
        Self::default()
    }

    // ----- changes ---------------------------------------------------------------------------

    /// Creates a VRF or changes its policy. Changing the RD, export RTs, export-map or
    /// redistribution re-exports the VRF's routes; changing import RTs or the import-map
    /// re-evaluates every VPN path for it.
    pub fn upsert_vrf(&mut self, name: &str, policy: VrfPolicy) {
        let name: VrfName = self.vrf_name(name);
        let is_new = !self.vrfs.contains_key(&name);
        let state = self.vrfs.entry(name.clone()).or_default();
        state.removing = false;
        let old = std::mem::replace(&mut state.policy, Arc::new(policy.clone()));
        if is_new
            || old.rd != policy.rd
            || old.export != policy.export
            || old.redistribute != policy.redistribute
            || old.export_map != policy.export_map
            || old.decision != policy.decision
        {
            self.reexport.insert(name.clone());
        }
        if old.import != policy.import || old.import_map != policy.import_map {
            for rt in &old.import {
                if let Some(set) = self.importers.get_mut(rt) {
                    set.remove(&name);
                    if set.is_empty() {
                        self.importers.remove(rt);
                    }
                }
            }
            for rt in &policy.import {
                self.importers.entry(*rt).or_default().insert(name.clone());
            }
            self.reimport.insert(name);
        }
    }

    /// Removes a VRF: its routes are withdrawn, its exports leave the VPN table, and the FIB
    /// deletions appear in the next [`Rib::take_delta`], after which the VRF is gone.
    pub fn remove_vrf(&mut self, name: &str) {
        let Some((name, _)) = self.vrfs.get_key_value(name) else {
            return;
        };
        let name = name.clone();
        self.upsert_vrf(&name, VrfPolicy::default());
        let own: Vec<(IpNet, CandidateKey)> = self.vrfs[&name]
            .table
            .iter_unordered()
            .flat_map(|(p, e)| {
                e.candidates
                    .iter()
                    .map(Route::candidate)
                    .filter(|k| !matches!(k, CandidateRef::Imported(..)))
                    .map(move |k| (p, k.to_owned()))
            })
            .collect();
        for (prefix, key) in own {
            // The VRF exists, so these cannot fail.
            match key {
                CandidateKey::Own(protocol) => {
                    let _ = self.withdraw_route(&name, prefix, protocol);
                }
                CandidateKey::Peer(addr) => {
                    let _ = self.withdraw_peer_route(&name, prefix, addr);
                }
                CandidateKey::Imported(..) => {}
            }
        }
        if let Some(state) = self.vrfs.get_mut(&name) {
            state.removing = true;
        }
    }

    /// Adds or replaces one of a VRF's own routes (connected, local or static) for a prefix.
    pub fn upsert_route(
        &mut self,
        vrf: &str,
        prefix: IpNet,
        mut route: Route,
    ) -> Result<(), RibError> {
        let protocol = route.protocol();
        if protocol == Protocol::Bgp || route.leaked().is_some() {
            return Err(RibError::NotOwnProtocol(protocol));
        }
        let name = self.known_vrf(vrf)?;
        // Thousands of static routes share a handful of attribute sets (protocol and tag) and
        // of next-hop lists.
        route.attrs = self.interned.intern_arc(route.attrs);
        let forward = self.share_arc(route.forward().clone());
        route.set_via(self.vias.with_forward(route.via(), &forward));
        let prefix = prefix.trunc();
        let entry = self
            .vrfs
            .get_mut(&name)
            .expect("known")
            .table
            .get_or_default(prefix);
        let key = CandidateRef::Own(protocol);
        if entry.candidates.get(key) == Some(&route) {
            return Ok(());
        }
        self.nh_epoch += 1;
        let mut subnet_changed = false;
        if let Some(Forward::Attached { interface }) =
            entry.candidates.get(key).map(|r| &**r.forward())
        {
            Self::unattach(&mut self.attached, interface, prefix);
            subnet_changed = true;
        }
        if let (Protocol::Connected, Forward::Attached { interface }) =
            (protocol, &**route.forward())
        {
            *self
                .attached
                .entry(interface.clone())
                .or_default()
                .entry(prefix)
                .or_default() += 1;
            subnet_changed = true;
        }
        entry.change_candidates(|c| c.insert(route));
        self.mark_best(&name, prefix);
        if subnet_changed {
            self.reresolve_within(prefix);
        }
        Ok(())
    }

    /// Withdraws a VRF's own route of one protocol for a prefix (no-op if absent).
    pub fn withdraw_route(
        &mut self,
        vrf: &str,
        prefix: IpNet,
        protocol: Protocol,
    ) -> Result<(), RibError> {
        let name = self.known_vrf(vrf)?;
        let prefix = prefix.trunc();
        let state = self.vrfs.get_mut(&name).expect("known");
        let Some(entry) = state.table.get_mut(&prefix) else {
            return Ok(());
        };
        if let Some(route) = entry.change_candidates(|c| c.remove(CandidateRef::Own(protocol))) {
            self.nh_epoch += 1;
            self.mark_best(&name, prefix);
            if let Forward::Attached { interface } = &**route.forward() {
                Self::unattach(&mut self.attached, interface, prefix);
                self.reresolve_within(prefix);
            }
        }
        Ok(())
    }

    /// Adds or replaces the route a BGP neighbor of the VRF (a CE) sent for a prefix, with its
    /// attributes after the neighbor's import policy. Its next hop must be a neighbor on one
    /// of the VRF's connected subnets; until it is, the route is kept but `inaccessible`.
    /// Whether it was added (the neighbor had no route for the prefix).
    pub fn upsert_peer_route(
        &mut self,
        vrf: &str,
        prefix: IpNet,
        peer: PeerRef,
        attrs: Arc<Attrs>,
    ) -> Result<bool, RibError> {
        Ok(self.upsert_peer_routes(vrf, peer, attrs, [prefix])? == 1)
    }

    /// [`Rib::upsert_peer_route`] for the prefixes of one UPDATE's attribute set: the VRF,
    /// the next hop's resolution, the shared neighbor and the route are worked out once, and
    /// the next hop's users counted once, where per prefix they were a third of the cost.
    /// How many were added (the rest replaced the neighbor's route for their prefix): the
    /// speaker counts a neighbor's routes in the RIB from this, not from a set of its own.
    pub fn upsert_peer_routes(
        &mut self,
        vrf: &str,
        peer: PeerRef,
        attrs: Arc<Attrs>,
        prefixes: impl IntoIterator<Item = IpNet>,
    ) -> Result<usize, RibError> {
        let name = self.known_vrf(vrf)?;
        let next_hop = attrs.next_hop.addr().unwrap_or(peer.addr);
        // RFC 7999: an accepted BLACKHOLE route (the speaker checked the neighbor may send
        // one) drops its traffic.
        let forward = if attrs.communities.contains(&policy::Community::BLACKHOLE) {
            self.share(Forward::Blackhole)
        } else {
            self.resolve_cached(&name, next_hop)
        };
        let origin = self.origin_of(peer);
        let route = Route::new(
            attrs,
            self.vias.via(
                Protocol::Bgp,
                if peer.ebgp { 20 } else { 200 },
                &forward,
                Some(&origin),
            ),
        );
        let state = self.vrfs.get_mut(&name).expect("known");
        let mut first_mark = false;
        // Routes now counted under `next_hop` that were not, and the next hops of the
        // routes they replaced (the usual replacement keeps its next hop: no change).
        let mut gained = 0;
        let mut added = 0;
        let mut released: Vec<IpAddr> = Vec::new();
        let batch = hashed_batch(prefixes.into_iter().map(|p| p.trunc()), |p| {
            state.table.hash_of(p)
        });
        // Room for the batch's marks at once (see `VrfState::dirty_best`).
        state.dirty_best.reserve(batch.len());
        for (i, &(prefix, hash)) in batch.iter().enumerate() {
            if let Some((ahead_prefix, ahead)) = batch.get(i + PREFETCH_AHEAD) {
                state.table.prefetch(ahead_prefix, *ahead);
            }
            let (at, entry) = state.table.get_or_default_hashed(prefix, hash);
            let old = entry.change_candidates(|c| c.insert(route.clone()));
            added += usize::from(old.is_none());
            if old.as_ref() == Some(&route) {
                continue;
            }
            first_mark |= state.mark_best(Mark::at(prefix, at));
            let old_nh = old.map(|old| old.attrs.next_hop.addr().unwrap_or(peer.addr));
            if old_nh != Some(next_hop) {
                gained += 1;
                released.extend(old_nh);
            }
        }
        if first_mark {
            self.dirty_vrfs.insert(name.clone());
        }
        let user = NhUser::Vrf(name, peer.addr);
        for old_nh in released {
            self.nh_unuse(old_nh, &user);
        }
        if gained > 0 {
            self.nh_use(next_hop, user, gained);
        }
        Ok(added)
    }

    /// Withdraws a CE neighbor's route for a prefix (no-op if absent); whether it was there.
    pub fn withdraw_peer_route(
        &mut self,
        vrf: &str,
        prefix: IpNet,
        peer: IpAddr,
    ) -> Result<bool, RibError> {
        let name = self.known_vrf(vrf)?;
        let prefix = prefix.trunc();
        let state = self.vrfs.get_mut(&name).expect("known");
        let Some((at, entry)) = state.table.get_mut_hinted(&prefix, u32::MAX) else {
            return Ok(false);
        };
        let Some(old) = entry.change_candidates(|c| c.remove(CandidateRef::Peer(&peer))) else {
            return Ok(false);
        };
        if state.mark_best(Mark::at(prefix, at)) {
            self.dirty_vrfs.insert(name.clone());
        }
        let nh = old.attrs.next_hop.addr().unwrap_or(peer);
        self.nh_unuse(nh, &NhUser::Vrf(name, peer));
        Ok(true)
    }

    /// The prefixes of a VRF for which a CE neighbor has a route in the RIB, in no order:
    /// what its session takes along when it goes down, and what graceful restart keeps as
    /// stale. A walk of the VRF's table (the speaker keeps no set of them).
    pub fn peer_prefixes(&self, vrf: &str, peer: IpAddr) -> Vec<IpNet> {
        let Some(state) = self.vrfs.get(vrf) else {
            return Vec::new();
        };
        state
            .table
            .iter_unordered()
            .filter(|(_, entry)| entry.candidates.get(CandidateRef::Peer(&peer)).is_some())
            .map(|(prefix, _)| prefix)
            .collect()
    }

    /// The RD:prefixes for which a neighbor (a remote PE) has a VPN path, in no order
    /// ([`Rib::peer_prefixes`] for the VPN table).
    pub fn peer_vpn_keys(&self, peer: IpAddr) -> Vec<VpnKey> {
        self.vpn
            .iter_unordered()
            .filter(|(_, entry)| {
                entry
                    .paths
                    .iter()
                    .any(|path| matches!(path.source(), PathSource::Peer(a) if **a == peer))
            })
            .map(|(key, _)| key)
            .collect()
    }

    /// Adds or replaces a remote PE's VPN path for RD:prefix, with its label and attributes
    /// (route targets among the extended communities). Its next hop (the PE) must be a
    /// neighbor on a core interface ([`Rib::set_core_interfaces`]). Whether it was added (the
    /// neighbor had no path for RD:prefix).
    pub fn upsert_vpn_path(
        &mut self,
        rd: RouteDistinguisher,
        prefix: IpNet,
        peer: PeerRef,
        label: u32,
        attrs: Arc<Attrs>,
    ) -> bool {
        self.upsert_vpn_paths(peer, attrs, [(rd, prefix, label)]) == 1
    }

    /// [`Rib::upsert_vpn_path`] for the paths of one UPDATE's attribute set, each with its RD
    /// and label: the shared neighbor is found once, the PE's resolution once per label in a
    /// row, its users counted once. How many were added (the rest replaced the neighbor's
    /// path for their RD:prefix).
    pub fn upsert_vpn_paths(
        &mut self,
        peer: PeerRef,
        attrs: Arc<Attrs>,
        paths: impl IntoIterator<Item = (RouteDistinguisher, IpNet, u32)>,
    ) -> usize {
        let next_hop = attrs.next_hop.addr().unwrap_or(peer.addr);
        let source = PathSource::Peer(self.neighbor_addr(peer.addr));
        let route_origin = Some(self.origin_of(peer));
        let origin = self.path_origins.intern_ref(&PathOrigin {
            source,
            route: route_origin,
        });
        let source = &origin.source;
        let mut resolved: Option<(u32, Arc<Forward>)> = None;
        let mut gained = 0;
        let mut added = 0;
        let mut released: Vec<IpAddr> = Vec::new();
        let batch = hashed_batch(
            paths
                .into_iter()
                .map(|(rd, prefix, label)| ((rd, prefix.trunc()), label)),
            |(key, _)| self.vpn.hash_of(key),
        );
        // Room for the batch's marks at once (see `VrfState::dirty_best`).
        self.dirty_vpn.reserve(batch.len());
        for (i, &((key, label), hash)) in batch.iter().enumerate() {
            if let Some(((ahead_key, _), ahead)) = batch.get(i + PREFETCH_AHEAD) {
                self.vpn.prefetch(ahead_key, *ahead);
            }
            let forward = match &resolved {
                Some((l, forward)) if *l == label => forward.clone(),
                _ => {
                    let forward = self.resolve_in_core_cached(next_hop, label);
                    resolved = Some((label, forward.clone()));
                    forward
                }
            };
            let path = VpnPath::new(
                attrs.clone(),
                self.path_vias
                    .via(Protocol::Bgp, &forward, Some(label), &origin),
            );
            let (at, entry, _) = self.vpn.get_or_insert_hashed(key, hash, VpnEntry::default);
            // Compared before it goes in, so the path is moved into the entry, not copied.
            if entry.paths.get(source) == Some(&path) {
                continue;
            }
            let old = entry.paths.insert(path);
            added += usize::from(old.is_none());
            if let Some(old) = &old {
                if old.attrs.ext_communities != attrs.ext_communities {
                    self.vpn_departed.extend(departed_targets(key, old));
                }
            }
            let old_nh = old.map(|old| old.attrs.next_hop.addr().unwrap_or(peer.addr));
            if old_nh != Some(next_hop) {
                gained += 1;
                released.extend(old_nh);
            }
            self.dirty_vpn.push((key, at));
        }
        let user = NhUser::Vpn(peer.addr);
        for old_nh in released {
            self.nh_unuse(old_nh, &user);
        }
        if gained > 0 {
            self.nh_use(next_hop, user, gained);
        }
        added
    }

    /// Withdraws a remote PE's VPN path (no-op if absent); whether it was there.
    pub fn withdraw_vpn_path(
        &mut self,
        rd: RouteDistinguisher,
        prefix: IpNet,
        peer: IpAddr,
    ) -> bool {
        let key = (rd, prefix.trunc());
        let source = PathSource::Peer(self.neighbor_addr(peer));
        let Some(entry) = self.vpn.get_mut(&key) else {
            return false;
        };
        let Some(old) = entry.paths.remove(&source) else {
            return false;
        };
        if entry.is_empty() {
            self.vpn.remove(&key);
        }
        self.vpn_departed.extend(departed_targets(key, &old));
        let nh = old.attrs.next_hop.addr().unwrap_or(peer);
        self.nh_unuse(nh, &NhUser::Vpn(peer));
        self.dirty_vpn.push((key, u32::MAX));
        true
    }

    /// The interfaces that face the MPLS core; remote PEs resolve only through these.
    /// Replaces the static LSPs towards remote PEs; VPN paths through the PEs whose LSP
    /// changed are resolved again.
    pub fn set_lsps(&mut self, lsps: BTreeMap<IpAddr, Lsp>) {
        if self.lsps == lsps {
            return;
        }
        let changed: BTreeSet<IpAddr> = self
            .lsps
            .keys()
            .chain(lsps.keys())
            .filter(|pe| self.lsps.get(pe) != lsps.get(pe))
            .copied()
            .collect();
        self.lsps = lsps;
        self.nh_epoch += 1;
        self.reresolve(&changed);
    }

    pub fn set_core_interfaces(&mut self, interfaces: BTreeSet<Arc<str>>) {
        if self.core_interfaces != interfaces {
            self.core_interfaces = interfaces;
            self.nh_epoch += 1;
            let all: BTreeSet<IpAddr> = self.nh_users.keys().copied().collect();
            self.reresolve(&all);
        }
    }

    /// Counts `n` more routes or paths of `user` through `nh`.
    fn nh_use(&mut self, nh: IpAddr, user: NhUser, n: usize) {
        *self
            .nh_users
            .entry(nh)
            .or_default()
            .entry(user)
            .or_default() += n;
    }

    fn nh_unuse(&mut self, nh: IpAddr, user: &NhUser) {
        if let Some(users) = self.nh_users.get_mut(&nh) {
            if let Some(count) = users.get_mut(user) {
                *count -= 1;
                if *count == 0 {
                    users.remove(user);
                }
            }
            if users.is_empty() {
                self.nh_users.remove(&nh);
            }
        }
    }

    fn unattach(
        attached: &mut BTreeMap<Arc<str>, BTreeMap<IpNet, usize>>,
        intf: &str,
        prefix: IpNet,
    ) {
        if let Some(subnets) = attached.get_mut(intf) {
            if let Some(count) = subnets.get_mut(&prefix) {
                *count -= 1;
                if *count == 0 {
                    subnets.remove(&prefix);
                }
            }
            if subnets.is_empty() {
                attached.remove(intf);
            }
        }
    }

    /// Records a neighbor (a host known by static ARP/ND) on an interface; its host entry
    /// appears in every VRF where that interface's subnet is the selected route.
    pub fn add_neighbor(&mut self, interface: &str, address: IpAddr) {
        let interface: Arc<str> = Arc::from(interface);
        if self
            .neighbors_by_interface
            .entry(interface.clone())
            .or_default()
            .insert(address)
        {
            self.neighbors_by_address
                .entry(address)
                .or_default()
                .insert(interface.clone());
            self.nh_epoch += 1;
            self.mark_neighbor(&interface, address);
            self.reresolve(&[address].into());
        }
    }

    /// Forgets a neighbor (no-op if unknown).
    pub fn remove_neighbor(&mut self, interface: &str, address: IpAddr) {
        let Some(set) = self.neighbors_by_interface.get_mut(interface) else {
            return;
        };
        if !set.remove(&address) {
            return;
        }
        if set.is_empty() {
            self.neighbors_by_interface.remove(interface);
        }
        if let Some(intfs) = self.neighbors_by_address.get_mut(&address) {
            intfs.remove(interface);
            if intfs.is_empty() {
                self.neighbors_by_address.remove(&address);
            }
        }
        self.nh_epoch += 1;
        let interface: Arc<str> = Arc::from(interface);
        self.mark_neighbor(&interface, address);
        self.reresolve(&[address].into());
    }

    fn mark_neighbor(&mut self, interface: &Arc<str>, address: IpAddr) {
        let subnets: Vec<IpNet> = self
            .attached
            .get(interface)
            .map(|s| s.keys().filter(|p| p.contains(&address)).copied().collect())
            .unwrap_or_default();
        if subnets.is_empty() {
            return;
        }
        for state in self.vrfs.values_mut() {
            if subnets.iter().any(|s| state.table.contains_key(s)) {
                state.dirty_fib.push(Mark::prefix(host_prefix(address)));
            }
        }
    }

    // ----- next-hop resolution ----------------------------------------------------------------

    /// A CE's next hop: a neighbor on an interface whose connected subnet (holding the
    /// address) is in the VRF.
    fn resolve_in_vrf(&self, vrf: &VrfName, nh: IpAddr) -> Forward {
        let Some(state) = self.vrfs.get(vrf) else {
            return Forward::Unresolved(nh);
        };
        for interface in self.neighbors_by_address.get(&nh).into_iter().flatten() {
            let on_subnet = self
                .attached
                .get(interface)
                .into_iter()
                .flat_map(|s| s.keys())
                .any(|subnet| {
                    subnet.contains(&nh)
                        && state
                            .table
                            .get(subnet)
                            .and_then(|e| e.candidates.get(CandidateRef::Own(Protocol::Connected)))
                            .is_some_and(|r| {
                                matches!(&**r.forward(), Forward::Attached { interface: i } if i == interface)
                            })
                });
            if on_subnet {
                return Forward::Nexthops([Adjacency::new(interface.clone(), nh)].into());
            }
        }
        Forward::Unresolved(nh)
    }

    /// [`Rib::resolve_in_vrf`], shared, through the VRF's cache of its last answers.
    fn resolve_cached(&mut self, vrf: &VrfName, nh: IpAddr) -> Arc<Forward> {
        let epoch = self.nh_epoch;
        if let Some(state) = self.vrfs.get_mut(vrf) {
            if state.resolved_epoch != epoch {
                state.resolved.clear();
                state.resolved_epoch = epoch;
            }
            if let Some((_, forward)) = state.resolved.iter().find(|(a, _)| *a == nh) {
                return forward.clone();
            }
        }
        let forward = self.resolve_in_vrf(vrf, nh);
        let forward = self.share(forward);
        if let Some(state) = self.vrfs.get_mut(vrf) {
            if state.resolved.len() >= RESOLVED_CACHED {
                state.resolved.remove(0);
            }
            state.resolved.push((nh, forward.clone()));
        }
        forward
    }

    /// [`Rib::resolve_in_core`], shared, through the cache of its answers: a PE's full table
    /// resolves one next hop with one label per VRF a million times, and each resolution
    /// searched the neighbor, subnet and LSP maps, built an adjacency list and hashed it twice
    /// only to find its shared copy.
    fn resolve_in_core_cached(&mut self, nh: IpAddr, label: u32) -> Arc<Forward> {
        let (epoch, cache) = &mut self.core_resolved;
        if *epoch != self.nh_epoch || cache.len() >= CORE_RESOLVED_CACHED {
            cache.clear();
            *epoch = self.nh_epoch;
        }
        if let Some(forward) = cache.get(&(nh, label)) {
            return forward.clone();
        }
        let forward = self.resolve_in_core(nh, label);
        let forward = self.share(forward);
        self.core_resolved.1.insert((nh, label), forward.clone());
        forward
    }

    /// A remote PE: a neighbor on a core interface with a connected subnet holding it.
    fn resolve_in_core(&self, nh: IpAddr, label: u32) -> Forward {
        let adjacent = self
            .neighbors_by_address
            .get(&nh)
            .into_iter()
            .flatten()
            .find(|i| self.is_core_neighbor(i, nh))
            .map(|i| Adjacency {
                interface: i.clone(),
                address: nh,
                vpn_label: Some(label),
                transport_label: None,
            });
        // Not adjacent: through a static LSP whose neighbor is up on a core interface.
        let adjacency = adjacent.or_else(|| {
            let lsp = self
                .lsps
                .get(&nh)
                .filter(|lsp| self.is_core_neighbor(&lsp.interface, lsp.next_hop))?;
            Some(Adjacency {
                interface: lsp.interface.clone(),
                address: lsp.next_hop,
                vpn_label: Some(label),
                transport_label: (lsp.label != 3).then_some(lsp.label),
            })
        });
        match adjacency {
            Some(a) => Forward::Nexthops(vec![a].into()),
            None => Forward::Unresolved(nh),
        }
    }

    /// `address` is a configured neighbor on `interface`, a core interface with a connected
    /// subnet holding it: where a remote PE, or the next hop of an LSP towards one, can be.
    fn is_core_neighbor(&self, interface: &Arc<str>, address: IpAddr) -> bool {
        self.core_interfaces.contains(interface)
            && self
                .neighbors_by_interface
                .get(interface)
                .is_some_and(|n| n.contains(&address))
            && self
                .attached
                .get(interface)
                .is_some_and(|s| s.keys().any(|subnet| subnet.contains(&address)))
    }

    /// The shared copy of a forwarding's adjacency list.
    fn share(&mut self, forward: Forward) -> Arc<Forward> {
        let forward = match forward {
            Forward::Nexthops(adjs) => Forward::Nexthops(self.adjacencies.intern(adjs)),
            other => other,
        };
        self.forwards.intern_ref(&forward)
    }

    /// [`Rib::share`] for a forwarding already in an `Arc`.
    fn share_arc(&mut self, forward: Arc<Forward>) -> Arc<Forward> {
        match &*forward {
            Forward::Nexthops(adjs) if !self.adjacencies.holds(adjs) => {
                self.share(Forward::clone(&forward))
            }
            _ => self.forwards.intern(forward),
        }
    }

    /// Re-resolves everything using a next hop inside `subnet` (its connected route changed).
    fn reresolve_within(&mut self, subnet: IpNet) {
        let lo = subnet.network();
        let hi = subnet.broadcast();
        let nhs: BTreeSet<IpAddr> = self.nh_users.range(lo..=hi).map(|(a, _)| *a).collect();
        self.reresolve(&nhs);
    }

    /// Re-resolves every route and VPN path whose next hop is one of `nhs`: one scan of the
    /// table of each VRF with CE routes through them, and of the VPN table if remote PEs are
    /// among them.
    fn reresolve(&mut self, nhs: &BTreeSet<IpAddr>) {
        // A remote PE behind a static LSP resolves through the LSP's neighbor.
        let mut through_lsps: BTreeSet<IpAddr> = BTreeSet::new();
        for (pe, lsp) in &self.lsps {
            if nhs.contains(&lsp.next_hop) && !nhs.contains(pe) {
                through_lsps.insert(*pe);
            }
        }
        let widened;
        let nhs = if through_lsps.is_empty() {
            nhs
        } else {
            widened = nhs.union(&through_lsps).copied().collect::<BTreeSet<_>>();
            &widened
        };
        let mut vrf_peers: BTreeMap<VrfName, BTreeSet<IpAddr>> = BTreeMap::new();
        let mut pe_peers: BTreeSet<IpAddr> = BTreeSet::new();
        for users in nhs.iter().filter_map(|nh| self.nh_users.get(nh)) {
            for user in users.keys() {
                match user {
                    NhUser::Vrf(vrf, peer) => {
                        vrf_peers.entry(vrf.clone()).or_default().insert(*peer);
                    }
                    NhUser::Vpn(peer) => {
                        pe_peers.insert(*peer);
                    }
                }
            }
        }
        for (vrf, peers) in vrf_peers {
            let mut resolved: BTreeMap<IpAddr, Arc<Forward>> = BTreeMap::new();
            for nh in nhs {
                let forward = self.resolve_in_vrf(&vrf, *nh);
                resolved.insert(*nh, self.share(forward));
            }
            let Some(state) = self.vrfs.get_mut(&vrf) else {
                continue;
            };
            if state.dirty_best.is_empty() {
                self.dirty_vrfs.insert(vrf.clone());
            }
            for (prefix, entry) in state.table.iter_unordered_mut() {
                for peer in &peers {
                    let Some(route) = entry.candidates.get_mut(CandidateRef::Peer(peer)) else {
                        continue;
                    };
                    let nh = route.attrs.next_hop.addr().unwrap_or(*peer);
                    let Some(forward) = resolved.get(&nh) else {
                        continue;
                    };
                    if **route.forward() != Forward::Blackhole && route.forward() != forward {
                        let via = self.vias.with_forward(route.via(), forward);
                        route.set_via(via);
                        state.dirty_best.push(Mark::prefix(prefix));
                    }
                }
            }
        }
        if pe_peers.is_empty() {
            return;
        }
        // (VPN key, PE, next hop, label) of every path through the next hops.
        let mut paths: Vec<(VpnKey, NeighborAddr, IpAddr, u32)> = Vec::new();
        for (key, entry) in self.vpn.iter_unordered() {
            for (source, path) in entry.paths.iter_keyed() {
                let PathSource::Peer(peer) = source else {
                    continue;
                };
                let nh = path.attrs.next_hop.addr().unwrap_or(**peer);
                if let (true, true, Some(label)) =
                    (pe_peers.contains(&**peer), nhs.contains(&nh), path.label())
                {
                    paths.push((key, peer.clone(), nh, label));
                }
            }
        }
        // Every caller bumped the next-hop epoch first, so the core cache resolves afresh.
        for (key, peer, nh, label) in paths {
            let forward = self.resolve_in_core_cached(nh, label);
            if let Some(path) = self
                .vpn
                .get_mut(&key)
                .and_then(|p| p.paths.get_mut(&PathSource::Peer(peer.clone())))
            {
                if *path.forward() != forward {
                    let via = self.path_vias.with_forward(path.via(), &forward);
                    path.set_via(via);
                    self.dirty_vpn.push((key, u32::MAX));
                }
            }
        }
    }

    // ----- delta processing -------------------------------------------------------------------

    /// Recomputes what the changes since the last call touched and returns the FIB changes.
    pub fn take_delta(&mut self) -> FibDelta {
        loop {
            if let Some(vrf) = self.reexport.pop_first() {
                self.reexport_vrf(&vrf);
                continue;
            }
            if let Some(vrf) = self.reimport.pop_first() {
                self.reimport_vrf(&vrf);
                continue;
            }
            if let Some(vrf) = self.dirty_vrfs.pop_first() {
                let Some(state) = self.vrfs.get_mut(&vrf) else {
                    continue;
                };
                // In the order marked, which for routes just learned is the order of their
                // entries in the table: the walk reads memory in sequence instead of taking a
                // cache miss per prefix, as it did in prefix order. Distinct, as a selection
                // runs the redistribution route-maps (and counts their hits).
                let mut marks = std::mem::take(&mut state.dirty_best);
                dedup_marks(&*state.table, &mut marks, |m| m.prefix, |m| &mut m.at);
                state.selection_passes += 1;
                self.select_many(&vrf, &marks);
                continue;
            }
            if !self.dirty_vpn.is_empty() {
                // In the order marked: for paths just learned, the order of their entries in
                // the VPN table (see the VRFs' marks above).
                let mut keys = std::mem::take(&mut self.dirty_vpn);
                dedup_marks(&self.vpn, &mut keys, |(k, _)| *k, |(_, at)| at);
                self.vpn_passes += 1;
                let departed = self.take_departed_importers();
                self.propagate_vpn(keys, &departed);
                continue;
            }
            break;
        }
        let mut delta = FibDelta::default();
        // VRFs in name order: the delta's lists come out grouped by VRF, the FIB changes sorted.
        let touched: Vec<VrfName> = self
            .vrfs
            .iter()
            .filter(|(_, s)| !s.dirty_fib.is_empty() || !s.bgp_changed.is_empty())
            .map(|(name, _)| name.clone())
            .collect();
        // Sized once: a commit of a full table changes hundreds of thousands of prefixes, and
        // growing the vectors as they fill copied them into fresh memory several times.
        let (mut fib_marks, mut bgp_marks) = (0, 0);
        for vrf in &touched {
            let state = &self.vrfs[vrf];
            fib_marks += state.dirty_fib.len();
            bgp_marks += state.bgp_changed.len();
        }
        delta.changes.reserve(fib_marks);
        delta.bgp_changed.reserve_exact(bgp_marks);
        for vrf in touched {
            let state = self.vrfs.get_mut(&vrf).expect("listed above");
            let mut bgp_changed = std::mem::take(&mut state.bgp_changed);
            // One selection pass marks each prefix once: then no prefix repeats.
            keep_last_marks(&mut bgp_changed, state.selection_passes > 1);
            state.selection_passes = 0;
            delta.bgp_changed.extend(
                bgp_changed
                    .into_iter()
                    .map(|(prefix, from)| ((vrf.clone(), prefix), from)),
            );
            // Routes' prefixes first (their actions are their selected routes'), then host
            // prefixes (which may take a neighbor's entry from a subnet route): independent,
            // so only the order of the changes needs restoring. Routes' prefixes in the order
            // marked (as in the selection above; a repeat finds its action unchanged), hosts
            // distinct.
            // Hosts are few: they leave the marks, the routes' marks stay where they are.
            let mut routes = std::mem::take(&mut state.dirty_fib);
            let mut hosts: Vec<IpNet> = Vec::new();
            routes.retain(|m| {
                let host = is_host(&m.prefix);
                if host {
                    hosts.push(m.prefix);
                }
                !host
            });
            hosts.sort_unstable();
            hosts.dedup();
            let mut changes: Vec<(IpNet, Replaced)> =
                Vec::with_capacity(routes.len() + hosts.len());
            state.refresh_route_fibs(&routes, &mut self.fib_actions, &mut changes);
            drop(routes);
            for prefix in &hosts {
                let action = Self::compute_fib(
                    state,
                    &self.neighbors_by_address,
                    &self.attached,
                    &mut self.adjacencies,
                    *prefix,
                );
                if let Some(old) = state.install(*prefix, &action, &mut self.fib_actions) {
                    changes.push((*prefix, (old, action)));
                }
            }
            // Sorted: the data plane numbers next hops and groups in the order of the changes,
            // so sorted changes give the same numbers from run to run (what a snapshot of the
            // switch checks), where the order marked follows hash order in places.
            in_prefix_order(changes, |prefix, (old, action)| {
                delta.changes.push(&vrf, prefix, old, action)
            });
        }
        let mut vpn_changed = std::mem::take(&mut self.vpn_changed);
        keep_last_marks(&mut vpn_changed, std::mem::take(&mut self.vpn_passes) > 1);
        delta.vpn_changed = vpn_changed;
        self.vrfs
            .retain(|_, s| !(s.removing && s.table.is_empty() && s.hosts_fib.is_empty()));
        self.interned.purge_if_grown();
        self.adjacencies.purge_if_grown();
        self.origins.purge_if_grown();
        self.vias.purge_if_grown();
        self.path_vias.purge_if_grown();
        self.forwards.purge_if_grown();
        self.neighbor_addrs.purge_if_grown();
        self.path_origins.purge_if_grown();
        self.fib_actions.purge_if_grown();
        delta
    }

    /// The shared origin of the routes and paths a neighbor sends.
    fn origin_of(&mut self, peer: PeerRef) -> Arc<RouteOrigin> {
        self.origins.intern_ref(&RouteOrigin {
            peer: Some(peer),
            leaked: None,
        })
    }

    /// The shared copy of a neighbor's address, for a key ([`NeighborAddr`]).
    fn neighbor_addr(&mut self, addr: IpAddr) -> NeighborAddr {
        self.neighbor_addrs.intern_ref(&addr)
    }

    fn intern(&mut self, attrs: Arc<Attrs>) -> Arc<Attrs> {
        self.interned.intern_arc(attrs)
    }

    /// The BGP view of one candidate: redistributed own routes through their route-map
    /// (weight 32768, as IOS gives locally originated paths), BGP routes as they are.
    fn bgp_view<'r>(
        map_stats: &mut BTreeMap<String, RouteMapStats>,
        interned: &mut AttrInterner,
        policy: &VrfPolicy,
        prefix: IpNet,
        route: &'r Route,
    ) -> Option<Cow<'r, Route>> {
        if !route.is_usable() {
            return None;
        }
        match route.candidate() {
            CandidateRef::Own(protocol) => {
                let map = policy.redistribution(protocol)?;
                let mut attrs = (*route.attrs).clone();
                attrs.weight = decision::LOCAL_WEIGHT;
                let attrs = Arc::new(attrs);
                let attrs = match map {
                    Some(m) => run_map(map_stats, m, prefix, &attrs)?,
                    None => attrs,
                };
                let mut r = route.clone();
                r.attrs = interned.intern_arc(attrs);
                Some(Cow::Owned(r))
            }
            CandidateRef::Peer(_) | CandidateRef::Imported(..) => Some(Cow::Borrowed(route)),
        }
    }

    /// Selects the best route and BGP best path of distinct prefixes of one VRF (and exports
    /// them). The VRF is looked up once, each
    /// prefix's entry once; what needs the rest of the table or the RIB (host scans, exports)
    /// follows the selections. Each prefix's selection reads and writes only its own entry,
    /// so the order is free.
    fn select_many(&mut self, vrf: &VrfName, marks: &[Mark]) {
        let Some(state) = self.vrfs.get_mut(vrf) else {
            return;
        };
        // Without an RD nothing is exported; a VRF with no path in the VPN table has nothing
        // to take out of it, so only its exportable best paths go to `export` (which looks
        // the VRF up by name: a search of a thousand names a route, in the VPN bench).
        let exports = state.policy.rd.is_some();
        let exported_before = state.exported > 0;
        let VrfState {
            table,
            policy,
            hosts_fib,
            dirty_fib,
            bgp_changed,
            ..
        } = &mut *state;
        // A mark makes one BGP mark at most, and one FIB mark or more (see `VrfState::dirty_best`).
        dirty_fib.reserve(marks.len());
        bgp_changed.reserve(marks.len());
        let mut dropped: Vec<IpNet> = Vec::new();
        // (prefix, where its entry is, whether its BGP best path is one the VRF exports).
        let mut selected: Vec<(IpNet, u32, bool)> = Vec::new();
        for &Mark { prefix, at } in marks {
            let Some((at, entry)) = table.get_mut_hinted(&prefix, at) else {
                continue;
            };
            let outcome = Self::select_entry(
                entry,
                Mark::at(prefix, at),
                policy,
                hosts_fib,
                dirty_fib,
                bgp_changed,
                (
                    &mut self.map_stats,
                    &mut self.interned,
                    &self.neighbors_by_interface,
                ),
            );
            if exports {
                let exportable = matches!(
                    entry.bgp_best_key(),
                    Some(CandidateRef::Own(_) | CandidateRef::Peer(_))
                );
                if exportable || exported_before {
                    selected.push((prefix, at, exportable));
                }
            }
            if outcome.remove {
                // A table entry leaves here, after its FIB consequences were marked, or, if
                // the FIB holds something for it, when the FIB phase of this delta replaces
                // that ([`VrfState::install`]).
                table.remove(&prefix);
            }
            if outcome.dropped {
                dropped.push(prefix);
            }
        }
        for prefix in dropped {
            let hosts = state.fib_hosts_within(prefix);
            state.dirty_fib.extend(hosts.into_iter().map(Mark::prefix));
        }
        for (prefix, at, exportable) in selected {
            self.export(vrf, prefix, at, exportable);
        }
    }

    /// Selects one entry's best route and BGP best path and marks the FIB keys that follows
    /// from; the rest is the caller's ([`Selection`]). The last argument is the RIB's
    /// route-map counters, interned attributes and neighbors.
    fn select_entry(
        entry_mut: &mut PrefixEntry,
        mark: Mark,
        policy: &VrfPolicy,
        hosts_fib: &HostsFib,
        dirty_fib: &mut Vec<Mark>,
        bgp_marks: &mut Vec<(IpNet, BestFrom)>,
        (map_stats, interned, neighbors_by_interface): SelectionContext<'_>,
    ) -> Selection {
        let prefix = mark.prefix;
        let entry = &*entry_mut;
        let selected = entry.select(&policy.decision);
        // The BGP best path: its index, and its view (its candidate's route or, redistributed,
        // with the route-map's attributes). Candidates come in key order, so the first of equal
        // paths wins the key tie-break.
        let mut bgp: Option<(usize, Cow<Route>)> = None;
        for (index, route) in entry.candidates.iter().enumerate() {
            let Some(view) = Self::bgp_view(map_stats, interned, policy, prefix, route) else {
                continue;
            };
            let better = match &bgp {
                None => true,
                Some(b) => decision::compare(&view, &b.1, &policy.decision) == Ordering::Less,
            };
            if better {
                bgp = Some((index, view));
            }
        }
        // The BGP best path's index, and its attributes when they are not the candidate's.
        let bgp: Option<(usize, Option<Arc<Attrs>>)> = bgp.map(|(index, view)| {
            (
                index,
                match view {
                    Cow::Owned(view) => Some(view.attrs),
                    Cow::Borrowed(_) => None,
                },
            )
        });
        let bgp_changed = entry.bgp() & CHANGED != 0
            || entry.bgp() == GONE
            || match (entry.bgp_index(), &bgp) {
                (None, None) => false,
                (Some(old), Some((new, attrs))) => {
                    old != *new
                        || match (entry.bgp_attrs(), attrs) {
                            (None, None) => false,
                            (Some(a), Some(b)) => !(Arc::ptr_eq(a, b) || a == b),
                            _ => true,
                        }
                }
                _ => true,
            };
        let entry = entry_mut;
        let (best, merged) = match selected {
            Some((index, merged)) => (index as u32, merged),
            None => (NONE, None),
        };
        let (bgp, bgp_attrs) = match bgp {
            Some((index, attrs)) => (index as u32, attrs),
            None => (NONE, None),
        };
        entry.set_selection(best, bgp);
        entry
            .held
            .set_rare(Some(RareSelection { merged, bgp_attrs }));
        if bgp_changed {
            let from = match entry.bgp_best_key() {
                None => BestFrom::Nothing,
                Some(CandidateRef::Peer(addr)) => BestFrom::Neighbor(*addr),
                Some(CandidateRef::Own(_) | CandidateRef::Imported(..)) => BestFrom::Elsewhere,
            };
            bgp_marks.push((prefix, from));
        }
        // What the FIB holds for the prefix (in the entry, or beside the table if it left).
        let dropped = !is_host(&prefix)
            && match entry.held.fib() {
                Some(action) => *action == FibAction::Drop,
                None => hosts_fib.get(&prefix) == Some(&FibAction::Drop),
            };
        let remove = entry.candidates.is_empty() && entry.held.fib().is_none();
        // The route itself may have changed under the same key: always refresh FIB and export.
        dirty_fib.push(mark);
        // Host entries the new subnet route brings: today's neighbors of its interface. (The
        // forwarding borrowed, not cloned: a reference count taken and given back per route.)
        if let Some(Forward::Attached { interface }) = entry.best_route().map(|r| &**r.forward()) {
            if let Some(hosts) = neighbors_by_interface.get(interface) {
                for host in hosts.iter().filter(|h| prefix.contains(*h)) {
                    dirty_fib.push(Mark::prefix(host_prefix(*host)));
                }
            }
        }
        Selection { remove, dropped }
    }

    /// Puts the VRF's BGP best path for a prefix into the VPN table, or takes it out: its own
    /// redistributed routes and CE-learned routes leave (never what it imported), with the
    /// export route targets and then the export-map.
    ///
    /// `at` is where the prefix's entry is (a hint); `exportable` says whether its BGP best
    /// path is one the VRF exports (its own or a CE's): when it is not and the VRF has no
    /// path in the VPN table, there is nothing to take out either, and the tables are not
    /// searched (a VRF that only imports, a full VPN table's worth of routes).
    fn export(&mut self, vrf: &VrfName, prefix: IpNet, at: u32, exportable: bool) {
        let Some(state) = self.vrfs.get(vrf) else {
            return;
        };
        let Some(rd) = state.policy.rd else {
            return;
        };
        if !exportable && state.exported == 0 {
            return;
        }
        let policy = state.policy.clone();
        let candidate = state.table.get_hinted(&prefix, at).and_then(|(_, e)| {
            let b = e.bgp_best()?;
            let protocol = match b.key {
                CandidateKey::Own(p) => p,
                CandidateKey::Peer(_) => Protocol::Bgp,
                CandidateKey::Imported(..) => return None,
            };
            // Selected this very delta from the current candidates, so the key is there.
            let route = e.candidates.get(b.key.as_ref())?;
            Some((
                protocol,
                route.forward().clone(),
                b.attrs.clone(),
                route.origin().cloned(),
            ))
        });
        let path = candidate.and_then(|(protocol, forward, attrs, origin)| {
            let mut attrs = (*attrs).clone();
            attrs.ext_communities = attrs.ext_communities.with(
                policy
                    .export
                    .iter()
                    .map(|rt| ExtCommunity::route_target(*rt)),
            );
            let mut attrs = Arc::new(attrs);
            if let Some(map) = &policy.export_map {
                attrs = run_map(&mut self.map_stats, map, prefix, &attrs)?;
            }
            let attrs = self.intern(attrs);
            let origin = self.path_origins.intern_ref(&PathOrigin {
                source: PathSource::Vrf(vrf.clone()),
                route: origin,
            });
            Some(VpnPath::new(
                attrs,
                self.path_vias.via(protocol, &forward, None, &origin),
            ))
        });
        let key = (rd, prefix);
        let source = PathSource::Vrf(vrf.clone());
        // An imported best path exports nothing: no entry is made only to be removed.
        let (changed, count) = match path {
            Some(p) => {
                let paths = &mut self.vpn.get_or_default(key).paths;
                let old = paths.insert(p.clone());
                if let Some(old) = old.as_ref().filter(|old| **old != p) {
                    self.vpn_departed.extend(departed_targets(key, old));
                }
                (old.as_ref() != Some(&p), isize::from(old.is_none()))
            }
            None => match self.vpn.get_mut(&key) {
                None => (false, 0),
                Some(entry) => {
                    let removed = entry.paths.remove(&source);
                    if entry.is_empty() {
                        self.vpn.remove(&key);
                    }
                    if let Some(old) = &removed {
                        self.vpn_departed.extend(departed_targets(key, old));
                    }
                    (removed.is_some(), -isize::from(removed.is_some()))
                }
            },
        };
        if count != 0 {
            if let Some(state) = self.vrfs.get_mut(vrf) {
                state.exported = state.exported.saturating_add_signed(count);
            }
        }
        if changed {
            self.dirty_vpn.push((key, u32::MAX));
        }
    }

    /// Takes all of a VRF's paths out of the VPN table and selects and exports its routes
    /// afresh (after an RD, export RT, export-map, redistribution or decision change).
    fn reexport_vrf(&mut self, vrf: &VrfName) {
        let source = PathSource::Vrf(vrf.clone());
        let stale: Vec<VpnKey> = self
            .vpn
            .iter_unordered()
            .filter(|(_, entry)| entry.paths.contains_key(&source))
            .map(|(k, _)| k)
            .collect();
        if let Some(state) = self.vrfs.get_mut(vrf) {
            state.exported = 0;
        }
        for key in stale {
            if let Some(entry) = self.vpn.get_mut(&key) {
                let removed = entry.paths.remove(&source);
                if entry.is_empty() {
                    self.vpn.remove(&key);
                }
                if let Some(old) = &removed {
                    self.vpn_departed.extend(departed_targets(key, old));
                }
            }
            self.dirty_vpn.push((key, u32::MAX));
        }
        let prefixes: Vec<IpNet> = self
            .vrfs
            .get(vrf)
            .map(|s| s.table.keys_unordered().collect())
            .unwrap_or_default();
        for prefix in prefixes {
            self.mark_best(vrf, prefix);
        }
    }

    /// Re-evaluates every VPN key for one VRF (after its import RTs or import-map changed).
    fn reimport_vrf(&mut self, vrf: &VrfName) {
        // Every key with paths, and every key the VRF holds an imported candidate of.
        let mut keys: BTreeSet<VpnKey> = self.vpn.keys_unordered().collect();
        if let Some(state) = self.vrfs.get(vrf) {
            for (prefix, entry) in state.table.iter_unordered() {
                for route in &entry.candidates {
                    if let Some(rd) = route.candidate().imported_rd() {
                        keys.insert((rd, prefix));
                    }
                }
            }
        }
        let (vrfs, _, _, mut import) = self.importer();
        if let Some(state) = vrfs.get_mut(vrf) {
            for key in keys {
                import.sync(vrf, state, key, u32::MAX);
            }
        }
    }

    /// Takes the departed paths' route targets ([`Rib::vpn_departed`]) as the VRFs importing
    /// them, by VPN key.
    fn take_departed_importers(&mut self) -> HashMap<VpnKey, Vec<VrfName>> {
        let mut by_key: HashMap<VpnKey, Vec<VrfName>> = HashMap::new();
        for (key, rt) in std::mem::take(&mut self.vpn_departed) {
            if let Some(vrfs) = self.importers.get(&rt) {
                by_key.entry(key).or_default().extend(vrfs.iter().cloned());
            }
        }
        by_key
    }

    /// Brings changed VPN keys to every VRF that imports them, and to the VRFs that imported
    /// paths they lost (`departed`); records where each key's paths now come from.
    ///
    /// Consecutive keys mostly go to the same VRF (a neighbor's paths come in runs of one RD
    /// and route target), so the VRF's state is looked up once per run of keys — by name, in a
    /// map of a thousand at a full VPN table, it was a walk of string compares per key — and
    /// the list of imported routes is one scratch vector, not one allocated per key.
    fn propagate_vpn(
        &mut self,
        keys: Vec<(VpnKey, u32)>,
        departed: &HashMap<VpnKey, Vec<VrfName>>,
    ) {
        let (vrfs, importers, vpn_changed, mut import) = self.importer();
        // One change a key (see `VrfState::dirty_best`).
        vpn_changed.reserve(keys.len());
        // Usually one or two VRFs a key: a vector sorted once, not a set built per key. The
        // names are borrowed, not cloned: a clone and a drop per key were two atomic operations
        // on the name's count, which the switch writer's thread also changes (it drops each
        // delta's names).
        let mut targets: Vec<&VrfName> = Vec::new();
        let mut current: Option<(&VrfName, &mut VrfState)> = None;
        // The last route target looked up and the VRFs importing it: keys come in runs that
        // share their route targets (an UPDATE's routes share their attributes), and the
        // search of the route-target map was a search of a thousand targets a key.
        let mut last_target: Option<(RouteTarget, Option<&BTreeSet<VrfName>>)> = None;
        for (key, at) in keys {
            targets.clear();
            if let Some(also) = departed.get(&key) {
                targets.extend(also.iter());
            }
            let mut at = at;
            let mut from = BestFrom::Nothing;
            if let Some((found, entry)) = import.vpn.get_hinted(&key, at) {
                at = found;
                from = BestFrom::of_paths(entry.paths.keys());
                for path in entry.paths.iter() {
                    for rt in path.route_targets() {
                        let importing = match last_target {
                            Some((seen, importing)) if seen == rt => importing,
                            _ => {
                                let importing = importers.get(&rt);
                                last_target = Some((rt, importing));
                                importing
                            }
                        };
                        targets.extend(importing.into_iter().flatten());
                    }
                }
            }
            if targets.len() > 1 {
                targets.sort_unstable();
                targets.dedup();
            }
            for &vrf in &targets {
                let same = current
                    .as_ref()
                    .is_some_and(|(name, _)| Arc::ptr_eq(name, vrf) || *name == vrf);
                if !same {
                    current = vrfs.get_mut(vrf).map(|state| (vrf, state));
                }
                if let Some((name, state)) = &mut current {
                    import.sync(name, state, key, at);
                }
            }
            vpn_changed.push((key, from));
        }
    }

    /// The RIB split for imports: the VRFs, which VRFs import each route target, the changed
    /// VPN keys' list, and an [`Importer`] holding the rest it needs.
    #[allow(clippy::type_complexity)]
    fn importer(
        &mut self,
    ) -> (
        &mut BTreeMap<VrfName, VrfState>,
        &BTreeMap<RouteTarget, BTreeSet<VrfName>>,
        &mut Vec<(VpnKey, BestFrom)>,
        Importer<'_>,
    ) {
        let Rib {
            vrfs,
            vpn,
            importers,
            origins,
            vias,
            map_stats,
            interned,
            dirty_vrfs,
            vpn_changed,
            ..
        } = self;
        let import = Importer {
            vpn,
            origins,
            vias,
            map_stats,
            interned,
            dirty_vrfs,
            wanted: Vec::new(),
        };
        (vrfs, importers, vpn_changed, import)
    }

    /// The FIB action of one prefix in one VRF: its selected route, or else the host entry
    /// of a neighbor whose connected subnet this VRF selects (the longest such subnet).
    fn compute_fib(
        state: &VrfState,
        neighbors_by_address: &BTreeMap<IpAddr, BTreeSet<Arc<str>>>,
        attached: &BTreeMap<Arc<str>, BTreeMap<IpNet, usize>>,
        adjacencies: &mut Interner<[Adjacency]>,
        prefix: IpNet,
    ) -> Option<FibAction> {
        if let Some(route) = state.table.get(&prefix).and_then(|e| e.best_route()) {
            return route_fib_action(route);
        }
        if !is_host(&prefix) {
            return None;
        }
        let address = prefix.addr();
        let mut found: Option<(u8, Arc<str>)> = None;
        for interface in neighbors_by_address.get(&address).into_iter().flatten() {
            for subnet in attached.get(interface).into_iter().flat_map(|s| s.keys()) {
                if !subnet.contains(&address) {
                    continue;
                }
                let selects = state.table.get(subnet).and_then(|e| e.best_route()).is_some_and(
                    |r| matches!(&**r.forward(), Forward::Attached { interface: i } if i == interface),
                );
                if selects
                    && found
                        .as_ref()
                        .is_none_or(|(len, _)| subnet.prefix_len() > *len)
                {
                    found = Some((subnet.prefix_len(), interface.clone()));
                }
            }
        }
        let (_, interface) = found?;
        let adjs = adjacencies.intern([Adjacency::new(interface, address)].into());
        Some(FibAction::Forward(adjs))
    }

    // ----- views ---------------------------------------------------------------------------

    /// VRF names, sorted.
    pub fn vrf_names(&self) -> impl Iterator<Item = &VrfName> {
        self.vrfs.keys()
    }

    /// A VRF's policy.
    pub fn vrf_policy(&self, vrf: &str) -> Option<&VrfPolicy> {
        self.vrfs.get(vrf).map(|s| &*s.policy)
    }

    /// A VRF's routing table: every prefix with its candidates and selected route.
    pub fn table(&self, vrf: &str) -> Option<&VrfTable> {
        self.vrfs.get(vrf).map(|s| &s.table)
    }

    /// A VRF's BGP best path for a prefix (what its CE neighbors are offered).
    pub fn bgp_best(&self, vrf: &str, prefix: &IpNet) -> Option<BgpBest> {
        self.vrfs.get(vrf)?.table.get(prefix)?.bgp_best()
    }

    /// A VRF's FIB as last computed by [`Rib::take_delta`].
    pub fn fib(&self, vrf: &str) -> Option<Fib<'_>> {
        self.vrfs.get(vrf).map(|s| Fib {
            table: &s.table,
            hosts: &s.hosts_fib,
        })
    }

    /// The VPN table: RD:prefix → paths.
    pub fn vpn_table(&self) -> VpnTable<'_> {
        VpnTable { entries: &self.vpn }
    }

    /// The best VPN path of an RD:prefix by the decision process (what VPN neighbors are
    /// offered), among the usable ones.
    pub fn vpn_best(&self, key: &VpnKey) -> Option<(&PathSource, &VpnPath)> {
        let o = DecisionOptions::default();
        self.vpn
            .get(key)?
            .paths
            .iter_keyed()
            .filter(|(_, p)| !matches!(**p.forward(), Forward::Unresolved(_)))
            .min_by(|(sa, a), (sb, b)| {
                decision::compare(&a.as_route(), &b.as_route(), &o).then_with(|| sa.cmp(sb))
            })
    }

    /// Neighbors of an interface.
    pub fn neighbors(&self, interface: &str) -> impl Iterator<Item = &IpAddr> {
        self.neighbors_by_interface
            .get(interface)
            .into_iter()
            .flatten()
    }

    /// Hit counters of the route-maps the RIB ran, by route-map name.
    pub fn route_map_stats(&self) -> &BTreeMap<String, RouteMapStats> {
        &self.map_stats
    }

    /// Marks a prefix of a VRF for selection by the next delta.
    fn mark_best(&mut self, vrf: &VrfName, prefix: IpNet) {
        if let Some(state) = self.vrfs.get_mut(vrf) {
            if state.mark_best(Mark::prefix(prefix)) {
                self.dirty_vrfs.insert(vrf.clone());
            }
        }
    }

    fn known_vrf(&self, vrf: &str) -> Result<VrfName, RibError> {
        self.vrfs
            .get_key_value(vrf)
            .filter(|(_, s)| !s.removing)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| RibError::UnknownVrf(vrf.to_string()))
    }

    fn vrf_name(&self, vrf: &str) -> VrfName {
        self.vrfs
            .get_key_value(vrf)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Arc::from(vrf))
    }
}

#[cfg(test)]
mod tests;
