//! The router: one configuration applied to the RIB and the data plane, as deltas.
//!
//! A configuration is turned into the set of things it asks for (VRF policies, connected,
//! local and static routes, neighbors); applying a new configuration applies the difference
//! to the RIB, takes the RIB's FIB delta, and hands it with the new topology to the data plane,
//! which answers with the P4Runtime updates. Nothing upstream is re-read.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::IpNet;
use p4rt::entity::{Entity, Update};
use rib::{
    Adjacency, FibAction, FibDelta, Forward, Prehashed, Protocol, Rib, Route, VrfName, VrfPolicy,
};

use crate::config::{Config, StaticTarget};
use crate::dataplane::{Dataplane, DataplaneError, Topology, Updates};

/// Everything a configuration asks of the RIB, in a form that can be diffed.
#[derive(Default, PartialEq, Eq, Debug)]
struct Wanted {
    vrfs: BTreeMap<String, VrfPolicy>,
    routes: BTreeMap<(String, IpNet, Protocol), Route>,
    neighbors: BTreeSet<(String, IpAddr)>,
}

fn host(addr: IpAddr) -> IpNet {
    IpNet::from(addr)
}

impl Wanted {
    fn from_config(config: &Config) -> Self {
        let mut w = Wanted::default();
        for (name, vrf) in &config.vrfs {
            w.vrfs.insert(name.clone(), vrf.policy.clone());
        }
        for intf in config.interfaces.values() {
            let interface: Arc<str> = Arc::from(intf.name.as_str());
            for addr in &intf.addresses {
                w.routes.insert(
                    (intf.vrf.clone(), addr.trunc(), Protocol::Connected),
                    Route::local(
                        Protocol::Connected,
                        Forward::Attached {
                            interface: interface.clone(),
                        },
                        0,
                    ),
                );
                w.routes.insert(
                    (intf.vrf.clone(), host(addr.addr()), Protocol::Local),
                    Route::local(
                        Protocol::Local,
                        Forward::Receive {
                            interface: interface.clone(),
                        },
                        0,
                    ),
                );
            }
            for ip in intf.neighbors.keys() {
                w.neighbors.insert((intf.name.clone(), *ip));
            }
        }
        for (name, vrf) in &config.vrfs {
            for s in &vrf.statics {
                let forward = match &s.target {
                    StaticTarget::Blackhole => Forward::Blackhole,
                    StaticTarget::Nexthops(hops) => {
                        // Validation guarantees each hop is a neighbor of exactly one interface
                        // of this VRF (interface subnets in a VRF do not overlap).
                        let mut adjs: Vec<Adjacency> = hops
                            .iter()
                            .filter_map(|ip| {
                                config
                                    .interfaces
                                    .values()
                                    .find(|i| &i.vrf == name && i.neighbors.contains_key(ip))
                                    .map(|i| Adjacency::new(Arc::from(i.name.as_str()), *ip))
                            })
                            .collect();
                        adjs.sort();
                        adjs.dedup();
                        Forward::Nexthops(adjs.into())
                    }
                };
                w.routes.insert(
                    (name.clone(), s.prefix, Protocol::Static),
                    Route::local(Protocol::Static, forward, s.tag),
                );
            }
        }
        w
    }
}

/// Removes from `pending` the keys `ahead` also holds, keeping the order of the rest.
fn drop_keys_ahead<K: KeyWord, F>(pending: &mut Vec<(K, F)>, ahead: &[(K, F)]) {
    if pending.is_empty() || ahead.is_empty() {
        return;
    }
    let ahead = AheadSet::new(ahead);
    let mut memo = K::Memo::default();
    pending.retain(|(key, _)| !ahead.holds_in_run(key, &mut memo));
}

/// The keys of one list of a delta taken ahead, as a set made at the first question: most
/// advertisement rounds ask none, as a change that leaves a neighbor nothing where it holds
/// nothing is passed over before ([`KeysAhead`]).
struct AheadSet<'a, K: KeyWord, F> {
    keys: &'a [(K, F)],
    seed: foldhash::fast::RandomState,
    set: std::cell::OnceCell<HashSet<Prehashed<&'a K>, foldhash::fast::RandomState>>,
}

impl<'a, K: KeyWord, F> AheadSet<'a, K, F> {
    fn new(keys: &'a [(K, F)]) -> Self {
        AheadSet {
            keys,
            seed: foldhash::fast::RandomState::default(),
            set: std::cell::OnceCell::new(),
        }
    }

    /// Whether the delta ahead changed `key`.
    fn holds(&self, key: &K) -> bool {
        self.holds_in_run(key, &mut K::Memo::default())
    }

    /// [`AheadSet::holds`] for one of a run of keys asked in their list's order, `memo`
    /// carried from one to the next.
    fn holds_in_run(&self, key: &K, memo: &mut K::Memo) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        let set = self.set.get_or_init(|| {
            let mut memo = K::Memo::default();
            self.keys
                .iter()
                .map(|(key, _)| Prehashed {
                    hash: key.word(&mut memo, &self.seed),
                    key,
                })
                .collect()
        });
        let hash = key.word(memo, &self.seed);
        set.contains(&Prehashed { hash, key })
    }
}

/// The keys the delta taken ahead changed ([`Router::take_translation_ahead`]): changes to
/// them wait for that delta's write, which reports them again ([`Router::keys_ahead`]).
pub struct KeysAhead<'a> {
    vrf: AheadSet<'a, (VrfName, IpNet), rib::BestFrom>,
    vpn: AheadSet<'a, rib::VpnKey, rib::BestFrom>,
}

impl KeysAhead<'_> {
    pub fn holds_vrf(&self, key: &(VrfName, IpNet)) -> bool {
        self.vrf.holds(key)
    }

    pub fn holds_vpn(&self, key: &rib::VpnKey) -> bool {
        self.vpn.holds(key)
    }
}

/// A BGP change's key as one word to hash, cheap to make; keys that share a word are told
/// apart by equality. Matching each delta's keys against the next one's ([`drop_keys_ahead`])
/// by their derived `Hash` — which feeds the hasher field by field for an `IpNet`, an RD,
/// and a VRF's name at every key — took 5-9 % of the instructions of taking in a million
/// routes (callgrind, 200,000 routes: 76 M of 1,366 M in the unicast case, 149 M of 1,707 M
/// in the VPN one).
trait KeyWord: Eq {
    /// What one key leaves for the next of its list: a VRF's keys come in runs, and its name
    /// is hashed once a run.
    type Memo: Default;
    fn word(&self, memo: &mut Self::Memo, seed: &foldhash::fast::RandomState) -> u64;
}

/// A prefix in one word: an IPv4 one's address above its length; an IPv6 one's address halves
/// and length hashed (IPv6 prefixes, chosen by neighbors, must not share words at will).
fn prefix_word(prefix: &IpNet, seed: &foldhash::fast::RandomState) -> u64 {
    match prefix {
        IpNet::V4(n) => u64::from(u32::from(n.addr())) << 8 | u64::from(n.prefix_len()),
        IpNet::V6(n) => seed.hash_one((u128::from(n.addr()), n.prefix_len())),
    }
}

impl KeyWord for (VrfName, IpNet) {
    /// The last VRF name hashed (by address: the keys live as long as the lists), and its hash.
    type Memo = Option<(*const str, u64)>;
    fn word(&self, memo: &mut Self::Memo, seed: &foldhash::fast::RandomState) -> u64 {
        let name = Arc::as_ptr(&self.0);
        let name_hash = match *memo {
            Some((last, hash)) if std::ptr::eq(last, name) => hash,
            _ => {
                let hash = seed.hash_one(&*self.0);
                *memo = Some((name, hash));
                hash
            }
        };
        // A VRF's prefixes keep distinct words (the name's hash is the same for all of them).
        name_hash ^ prefix_word(&self.1, seed)
    }
}

impl KeyWord for rib::VpnKey {
    type Memo = ();
    fn word(&self, _: &mut (), seed: &foldhash::fast::RandomState) -> u64 {
        seed.hash_one((self.0 .0.to_u64(), prefix_word(&self.1, seed)))
    }
}

/// Appends `more` to `to`, moving the list in whole when `to` is empty.
fn append<T>(to: &mut Vec<T>, mut more: Vec<T>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.append(&mut more);
    }
}

/// The lowest VPN label we allocate (0-15 are reserved, RFC 3032).
pub const FIRST_VPN_LABEL: u32 = 16;

/// The running router: the configuration in force, the RIB and the data plane.
pub struct Router {
    wanted: Wanted,
    config: Option<Config>,
    rib: Rib,
    /// Shared with the [`Translation`] of a write in flight, which the daemon runs on the
    /// write's thread; anything else waits for that write first, so the lock is not contended.
    dataplane: Arc<Mutex<Dataplane>>,
    topology: Arc<Topology>,
    /// Our VPN label per VRF with an RD: configured, or allocated once and kept while the VRF
    /// exists (a label that moved would black-hole traffic until every PE re-learned it).
    vpn_labels: BTreeMap<String, u32>,
    /// BGP table and VPN changes of the deltas taken so far, for the BGP speaker to advertise,
    /// each with where its paths came from; sorted and deduplicated when taken (the latest
    /// word kept). Lists, not sets: they are the deltas' own lists moved in (usually one
    /// delta's, as the speaker takes them after every write, and a delta's are distinct and
    /// grouped by VRF already), so a change costs no copy and no tree node.
    pending_bgp: Vec<((rib::VrfName, IpNet), rib::BestFrom)>,
    pending_vpn: Vec<(rib::VpnKey, rib::BestFrom)>,
    /// How many deltas' lists the pending ones hold: more than one need sorting.
    pending_deltas: usize,
    /// The changes of a delta taken while the write before it was in flight
    /// ([`Router::take_translation_ahead`]), held back until its own write starts
    /// ([`Router::release_ahead`]).
    ahead: Option<BgpChanges>,
}

/// What changed for BGP since it last looked: VRF prefixes whose best path changed (CE
/// advertisements) and VPN keys whose paths changed (VPN advertisements).
#[derive(Debug, Default)]
pub struct BgpChanges {
    /// Each key once, VRF by VRF in name order (sorted, when several deltas were merged),
    /// with where its best path now comes from (the latest delta's word).
    pub vrf: Vec<((rib::VrfName, IpNet), rib::BestFrom)>,
    /// Each key once, with where its paths now come from.
    pub vpn: Vec<(rib::VpnKey, rib::BestFrom)>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    pub fn new() -> Self {
        Router {
            wanted: Wanted::default(),
            config: None,
            rib: Rib::new(),
            dataplane: Arc::new(Mutex::new(Dataplane::new())),
            topology: Arc::new(Topology::default()),
            vpn_labels: BTreeMap::new(),
            pending_bgp: Vec::new(),
            pending_vpn: Vec::new(),
            pending_deltas: 0,
            ahead: None,
        }
    }

    /// The RIB, for the BGP speaker to add and withdraw learned routes; [`Router::commit`]
    /// then turns what it changed into switch updates.
    pub fn rib_mut(&mut self) -> &mut Rib {
        &mut self.rib
    }

    /// Our VPN label of a VRF.
    pub fn vpn_label(&self, vrf: &str) -> Option<u32> {
        self.vpn_labels.get(vrf).copied()
    }

    /// Takes the RIB's delta and returns the switch updates it takes.
    pub fn commit(&mut self) -> Result<Vec<Update>, DataplaneError> {
        self.commit_updates().map(Updates::into_vec)
    }

    /// [`Router::commit`] with the route entries' updates left to be built as they are
    /// written (see [`Updates`]); the data plane holds the new state on return.
    pub fn commit_updates(&mut self) -> Result<Updates, DataplaneError> {
        self.take_translation().translate()
    }

    /// Takes the RIB's delta, and leaves its translation into switch updates to the caller:
    /// the daemon runs it on the thread that writes them, while this one takes in the next
    /// UPDATEs (the translation was an eighth of taking in a full table here). Translations
    /// run in the order taken, and before the data plane is read or the configuration
    /// applied: the daemon waits for the write in flight first.
    pub fn take_translation(&mut self) -> Translation {
        debug_assert!(self.ahead.is_none(), "a delta taken ahead is not released");
        // A delta taken ahead and released at once: its changes are pending right away.
        let translation = self.take_translation_ahead();
        self.release_ahead();
        translation
    }

    /// [`Router::take_translation`] while the write of the previous delta is still in flight:
    /// taking a delta reads and changes only the RIB, so it overlaps that write (the daemon
    /// waited for the write first: a fifth of its main thread's time taking in a full
    /// table). What this delta changed for BGP is held back until [`Router::release_ahead`],
    /// called as its write starts: the neighbors hear of a change only after the write that
    /// carries it is done. Meanwhile [`Router::take_bgp_changes`] leaves out of the previous
    /// delta's changes the keys this one changed again, since the RIB already holds this
    /// delta's word for them.
    pub fn take_translation_ahead(&mut self) -> Translation {
        debug_assert!(self.ahead.is_none(), "one delta ahead at a time");
        let mut delta = self.rib.take_delta();
        self.ahead = Some(BgpChanges {
            vrf: std::mem::take(&mut delta.bgp_changed),
            vpn: std::mem::take(&mut delta.vpn_changed),
        });
        Translation {
            dataplane: self.dataplane.clone(),
            topology: self.topology.clone(),
            delta,
        }
    }

    /// Counts the changes of the delta taken ahead as pending, its write being about to
    /// start ([`Router::take_translation_ahead`]).
    pub fn release_ahead(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            self.pending_deltas += 1;
            append(&mut self.pending_bgp, ahead.vrf);
            append(&mut self.pending_vpn, ahead.vpn);
        }
    }

    /// The BGP-relevant changes since the last call, but for the keys a delta taken ahead
    /// changed again ([`Router::take_translation_ahead`]).
    pub fn take_bgp_changes(&mut self) -> BgpChanges {
        let mut changes = self.take_bgp_marks();
        if let Some(ahead) = &self.ahead {
            drop_keys_ahead(&mut changes.vrf, &ahead.vrf);
            drop_keys_ahead(&mut changes.vpn, &ahead.vpn);
        }
        changes
    }

    /// The BGP-relevant changes since the last call, the keys a delta taken ahead changed
    /// again included: the caller leaves those out itself ([`Router::keys_ahead`]), where it
    /// would do something with them — most changes it passes over without asking.
    pub fn take_bgp_marks(&mut self) -> BgpChanges {
        let mut changes = BgpChanges {
            vrf: std::mem::take(&mut self.pending_bgp),
            vpn: std::mem::take(&mut self.pending_vpn),
        };
        if std::mem::take(&mut self.pending_deltas) > 1 {
            rib::sort_keeping_last(&mut changes.vrf);
            rib::sort_keeping_last(&mut changes.vpn);
        }
        changes
    }

    /// The keys the delta taken ahead changed, if any ([`Router::take_bgp_marks`]).
    pub fn keys_ahead(&self) -> KeysAhead<'_> {
        let (vrf, vpn): (&[_], &[_]) = match &self.ahead {
            Some(ahead) => (&ahead.vrf, &ahead.vpn),
            None => (&[], &[]),
        };
        KeysAhead {
            vrf: AheadSet::new(vrf),
            vpn: AheadSet::new(vpn),
        }
    }

    /// Keeps labels of VRFs that still have an RD, takes configured ones, allocates the rest
    /// (lowest free first). Only a router with an MPLS core (a core interface or a VPN
    /// neighbor) has labels: purely local leaking needs none.
    fn assign_vpn_labels(&mut self, config: &Config) {
        let has_core = config.interfaces.values().any(|i| i.core)
            || config
                .bgp
                .as_ref()
                .is_some_and(|b| b.neighbors.values().any(|n| n.vrf.is_none()));
        let wanted: BTreeMap<&String, Option<u32>> = config
            .vrfs
            .iter()
            .filter(|(_, v)| has_core && v.policy.rd.is_some())
            .map(|(n, v)| (n, v.vpn_label))
            .collect();
        let mut labels: BTreeMap<String, u32> = BTreeMap::new();
        for (name, fixed) in &wanted {
            if let Some(l) = fixed {
                labels.insert((*name).clone(), *l);
            }
        }
        let mut used: BTreeSet<u32> = labels.values().copied().collect();
        for (name, fixed) in &wanted {
            if fixed.is_none() {
                if let Some(old) = self.vpn_labels.get(*name).filter(|l| !used.contains(l)) {
                    labels.insert((*name).clone(), *old);
                    used.insert(*old);
                }
            }
        }
        let mut next = FIRST_VPN_LABEL;
        for (name, fixed) in &wanted {
            if fixed.is_none() && !labels.contains_key(*name) {
                while used.contains(&next) {
                    next += 1;
                }
                labels.insert((*name).clone(), next);
                used.insert(next);
            }
        }
        self.vpn_labels = labels;
    }

    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// The data plane, once any translation taken before is done.
    pub fn dataplane(&self) -> MutexGuard<'_, Dataplane> {
        lock(&self.dataplane)
    }

    /// Every entity the switch should hold, in dependency order (see
    /// [`Dataplane::entities`]), once any translation taken before is done.
    pub fn switch_entities(&self) -> Vec<Entity> {
        self.dataplane().entities(fib_entries(&self.rib)).collect()
    }

    /// The updates that make a switch holding `actual` hold what it should (see
    /// [`Dataplane::reconcile`]), once any translation taken before is done.
    pub fn reconcile(&self, actual: &[Entity]) -> Vec<Update> {
        self.dataplane().reconcile(actual, fib_entries(&self.rib))
    }

    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// Applies a (validated) configuration as a delta against the one in force and returns the
    /// switch updates it takes.
    pub fn apply(&mut self, config: Config) -> Result<Vec<Update>, DataplaneError> {
        let new = Wanted::from_config(&config);
        let old = std::mem::take(&mut self.wanted);
        for (name, policy) in &new.vrfs {
            if old.vrfs.get(name) != Some(policy) {
                self.rib.upsert_vrf(name, policy.clone());
            }
        }
        for (key, _) in old
            .routes
            .iter()
            .filter(|(k, _)| !new.routes.contains_key(*k))
        {
            let (vrf, prefix, protocol) = key;
            if new.vrfs.contains_key(vrf) {
                // The VRF exists in the RIB, so this cannot fail.
                let _ = self.rib.withdraw_route(vrf, *prefix, *protocol);
            }
        }
        for (key, route) in new
            .routes
            .iter()
            .filter(|(k, r)| old.routes.get(*k) != Some(*r))
        {
            // The VRF was upserted above, so this cannot fail.
            let _ = self.rib.upsert_route(&key.0, key.1, route.clone());
        }
        for (intf, ip) in old.neighbors.difference(&new.neighbors) {
            self.rib.remove_neighbor(intf, *ip);
        }
        for (intf, ip) in new.neighbors.difference(&old.neighbors) {
            self.rib.add_neighbor(intf, *ip);
        }
        for name in old.vrfs.keys().filter(|n| !new.vrfs.contains_key(*n)) {
            self.rib.remove_vrf(name);
        }
        self.rib.set_core_interfaces(
            config
                .interfaces
                .values()
                .filter(|i| i.core)
                .map(|i| Arc::from(i.name.as_str()))
                .collect(),
        );
        self.rib.set_lsps(
            config
                .lsps
                .iter()
                .map(|(pe, l)| {
                    let lsp = rib::Lsp {
                        interface: Arc::from(l.interface.as_str()),
                        next_hop: l.next_hop,
                        label: l.label,
                    };
                    (*pe, lsp)
                })
                .collect(),
        );
        self.assign_vpn_labels(&config);
        let mut topology = Topology::from_config(&config);
        topology.vpn_labels = self.vpn_labels.clone();
        self.topology = Arc::new(topology);
        self.wanted = new;
        self.config = Some(config);
        self.commit()
    }
}

/// Every VRF's FIB entries: what the data plane translated, as the RIB holds it.
pub fn fib_entries(rib: &Rib) -> impl Iterator<Item = (&VrfName, IpNet, &FibAction)> {
    rib.vrf_names().flat_map(move |vrf| {
        rib.fib(vrf).into_iter().flat_map(move |fib| {
            fib.into_iter()
                .map(move |(prefix, action)| (vrf, prefix, action))
        })
    })
}

/// The data plane's lock. A translation that panicked left the data plane half changed: the
/// panic goes on here (it would have ended the daemon had the translation run on this thread).
fn lock(dataplane: &Mutex<Dataplane>) -> MutexGuard<'_, Dataplane> {
    dataplane
        .lock()
        .expect("a translation of a RIB delta panicked")
}

/// A RIB delta taken and not yet translated ([`Router::take_translation`]).
pub struct Translation {
    dataplane: Arc<Mutex<Dataplane>>,
    topology: Arc<Topology>,
    delta: FibDelta,
}

impl Translation {
    /// Whether the delta changes no FIB entry. The data plane may still have updates to
    /// make then (routes it refused before, tried again), but none that are worth a thread.
    pub fn changes_nothing(&self) -> bool {
        self.delta.changes.is_empty()
    }

    /// Brings the data plane to the delta; the updates that take the switch there (as
    /// [`Dataplane::apply_owned`]).
    pub fn translate(self) -> Result<Updates, DataplaneError> {
        lock(&self.dataplane).apply_owned(&self.topology, self.delta)
    }
}

#[cfg(test)]
mod tests;
