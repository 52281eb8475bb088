//! What our P4 program's tables mean: turns the router's topology (interfaces, neighbors, the
//! router MAC) and FIB deltas into ordered P4Runtime updates, and owns the IDs the tables use
//! (VRF ids, router interfaces, nexthops, ECMP groups).
//!
//! What the switch should hold besides route entries is kept here, keyed by what each entity
//! is (interfaces, nexthops, members, groups: a few per interface or neighbor). Route entries
//! are not: there is one per FIB entry, and the RIB holds each entry's installed FIB action
//! already, so a FIB change says what it replaces ([`rib::FibChange::old`]) and its entry is
//! translated from both (the ids of the old action are the ones it holds, found by its
//! adjacencies). What the switch holds is the RIB's FIB in these ids, except for the routes
//! this could not program (an unknown neighbor, ids run out), which keep what they had and are
//! tried again at every change until they can be ([`Dataplane::refused_routes`]). Entities of
//! routes are built when they are written or read. A change touches some keys; the updates
//! are the difference between each touched key's old and new value, written in dependency
//! order: inserts and modifies from router interfaces up to routes, then deletes from routes
//! down to router interfaces, so the switch never holds a route pointing at a missing nexthop.
//! `docs/p4-pipeline.md` has the tables.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use p4rt::entity::{
    ActionCall, ActionProfileGroup, ActionProfileMember, Entity, FieldMatch, MatchValue, Name,
    TableAction, TableEntry, Update, UpdateKind, Value,
};
use rib::{Adjacencies, Adjacency, FibAction, FibDelta};

use tracing::error;

use crate::config::{Config, Mac};

/// P4Info names of the program's tables, actions and profiles (see `p4/p4vrf.p4`).
pub mod names {
    pub const INTERFACE: &str = "ingress.interface";
    pub const MY_STATION: &str = "ingress.my_station";
    pub const IPV4_LPM: &str = "ingress.ipv4_vrf_lpm";
    pub const IPV6_LPM: &str = "ingress.ipv6_vrf_lpm";
    pub const ECMP_GROUP: &str = "ingress.ecmp_group";
    pub const ECMP_SELECTOR: &str = "ingress.ecmp_selector";
    pub const NEXTHOP: &str = "ingress.nexthop";
    pub const ROUTER_INTERFACE: &str = "ingress.router_interface";
    pub const SET_INTERFACE: &str = "ingress.set_interface";
    pub const ADMIT_TO_L3: &str = "ingress.admit_to_l3";
    pub const SET_NEXTHOP: &str = "ingress.set_nexthop";
    pub const SET_ECMP_GROUP: &str = "ingress.set_ecmp_group";
    pub const DROP: &str = "ingress.drop";
    pub const PUNT: &str = "ingress.punt";
    pub const MPLS_INTERFACE: &str = "ingress.mpls_interface";
    pub const ENABLE_MPLS: &str = "ingress.enable_mpls";
    pub const MPLS_VRF: &str = "ingress.mpls_vrf";
    pub const POP_TO_VRF: &str = "ingress.pop_to_vrf";
    pub const SET_NEIGHBOR: &str = "ingress.set_neighbor";
    pub const SET_VPN_NEIGHBOR: &str = "ingress.set_vpn_neighbor";
    pub const SET_VPN_TRANSPORT_NEIGHBOR: &str = "ingress.set_vpn_transport_neighbor";
    pub const SET_EGRESS: &str = "ingress.set_egress";
    pub const SET_EGRESS_VLAN: &str = "ingress.set_egress_vlan";
}

/// The part of the configuration the data plane needs besides the FIB.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub router_mac: Option<Mac>,
    pub vrfs: BTreeSet<String>,
    /// Interface name → (port, VLAN, VRF).
    pub interfaces: BTreeMap<String, (u16, Option<u16>, String)>,
    /// Neighbor MACs by (interface, address).
    pub neighbors: BTreeMap<(Arc<str>, IpAddr), Mac>,
    /// (port, VLAN or 0) of the interfaces facing the MPLS core: only there are labelled
    /// packets accepted.
    pub core_ports: BTreeSet<(u16, u16)>,
    /// Our VPN label of each VRF: a labelled packet from the core with it is routed in the VRF.
    pub vpn_labels: BTreeMap<String, u32>,
}

impl Topology {
    pub fn from_config(config: &Config) -> Self {
        let mut t = Topology {
            router_mac: Some(config.router_mac),
            vrfs: config.vrfs.keys().cloned().collect(),
            ..Default::default()
        };
        for i in config.interfaces.values() {
            t.interfaces
                .insert(i.name.clone(), (i.port, i.vlan, i.vrf.clone()));
            let interface: Arc<str> = Arc::from(i.name.as_str());
            for (ip, mac) in &i.neighbors {
                t.neighbors.insert((interface.clone(), *ip), *mac);
            }
            if i.core {
                t.core_ports.insert((i.port, i.vlan.unwrap_or(0)));
            }
        }
        t
    }
}

/// What an entity is, independent of its contents. The declaration order is the dependency
/// order: an entity may only refer to entities of earlier kinds. Route entries, which refer to
/// all of these, come after every key (see [`RouteKey`]).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Key {
    RouterInterface(u16),
    Interface(u16, u16),
    MplsInterface(u16, u16),
    MplsVrf(u32),
    MyStation(Mac),
    Nexthop(u16),
    Member(u32),
    Group(u32),
    EcmpEntry(u16),
}

/// A route entry: (VRF id, prefix).
type RouteKey = (u16, IpNet);

/// Whether two VRF names are the same: by pointer first, as a delta's changes of one VRF share
/// its name (`==` on an `Arc<str>` compares the bytes, a `memcmp` call per FIB change).
fn same_vrf(a: &rib::VrfName, b: &rib::VrfName) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// What a route entry does, in the ids of the entries it points at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RouteAction {
    Nexthop(u16),
    Group(u16),
    Drop,
    Punt,
}

/// The keys one change touched, each with its value before the change.
#[derive(Default)]
struct Touched {
    entities: BTreeMap<Key, Option<Entity>>,
    /// Route entries in the order they were set, each with its value before and after: a
    /// list, not a map, as there is one per FIB change (most keys are set once; `updates`
    /// sorts them and merges repeats).
    routes: Vec<(RouteKey, Option<RouteAction>, Option<RouteAction>)>,
}

/// How many routes a change that cannot program them logs one by one (a full table from a
/// neighbor that is not configured would be a million lines); the rest are counted.
const REFUSALS_LOGGED: usize = 10;

/// What consecutive FIB changes share, kept while one delta is translated: changes come
/// sorted by VRF, and runs of them forward the same way (one neighbor's routes) and replace
/// the same way.
#[derive(Default)]
struct Recent {
    /// The VRF of the last change: its name, id and whether the topology has it.
    vrf: Option<(rib::VrfName, Option<u16>, bool)>,
    /// The adjacencies of the last new action, checked against the topology, and its ids.
    new: Option<(Adjacencies, RouteAction)>,
    /// The adjacencies of the last action replaced, and its ids.
    old: Option<(Adjacencies, RouteAction)>,
    /// Whether refusals are logged (not when refused routes are tried again).
    log: bool,
    /// Refusals logged, and refusals past [`REFUSALS_LOGGED`].
    logged: usize,
    refused: usize,
}

impl Recent {
    /// The id of a change's VRF and whether the topology has it.
    fn vrf(
        &mut self,
        dataplane: &Dataplane,
        topology: &Topology,
        vrf: &rib::VrfName,
    ) -> (Option<u16>, bool) {
        match &self.vrf {
            Some((name, id, known)) if same_vrf(name, vrf) => (*id, *known),
            _ => {
                let id = dataplane.vrf_id(vrf);
                let known = topology.vrfs.contains(&**vrf);
                self.vrf = Some((vrf.clone(), id, known));
                (id, known)
            }
        }
    }
}

/// A route entry the switch holds other than the RIB's FIB says, because the FIB's action
/// could not be programmed: what the switch holds, and what the RIB wants.
#[derive(Debug)]
struct Refused {
    installed: Option<RouteAction>,
    wanted: Option<FibAction>,
}

/// Why the data plane could not translate a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataplaneError {
    #[error("out of {0} ids")]
    OutOfIds(&'static str),
    #[error("route {prefix} in VRF `{vrf}` uses {adjacency}, which is not a configured neighbor")]
    UnknownNeighbor {
        vrf: String,
        prefix: IpNet,
        adjacency: Adjacency,
    },
    #[error("VRF `{0}` has routes but is not configured")]
    UnknownVrf(String),
    #[error("interface `{0}` is used by a route but not configured")]
    UnknownInterface(String),
}

/// Hands out small integer ids, lowest free first; ids freed during one change are only reused
/// after it, so one batch never repurposes an id it is still deleting. O(log n) per call.
#[derive(Debug)]
struct Ids<K: Ord + Clone> {
    what: &'static str,
    max: u32,
    by_key: BTreeMap<K, u32>,
    /// Ids below `next` that are free again.
    free: BTreeSet<u32>,
    /// The lowest id never handed out.
    next: u32,
    freed: Vec<u32>,
    /// The key holding each id (index = id).
    by_id: Vec<Option<K>>,
}

impl<K: Ord + Clone> Ids<K> {
    fn new(what: &'static str, max: u32) -> Self {
        Ids {
            what,
            max,
            by_key: BTreeMap::new(),
            free: BTreeSet::new(),
            next: 1,
            freed: Vec::new(),
            by_id: Vec::new(),
        }
    }

    fn get<Q>(&self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.by_key.get(key).copied()
    }

    /// The key an id is held by.
    fn key_of(&self, id: u32) -> Option<&K> {
        self.by_id.get(id as usize)?.as_ref()
    }

    fn get_or_alloc(&mut self, key: &K) -> Result<u32, DataplaneError> {
        if let Some(id) = self.by_key.get(key) {
            return Ok(*id);
        }
        let id = match self.free.pop_first() {
            Some(id) => id,
            None if self.next <= self.max => {
                self.next += 1;
                self.next - 1
            }
            None => return Err(DataplaneError::OutOfIds(self.what)),
        };
        self.by_key.insert(key.clone(), id);
        if self.by_id.len() <= id as usize {
            self.by_id.resize(id as usize + 1, None);
        }
        self.by_id[id as usize] = Some(key.clone());
        Ok(id)
    }

    fn release<Q>(&mut self, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let id = self.by_key.remove(key)?;
        self.by_id[id as usize] = None;
        self.freed.push(id);
        Some(id)
    }

    fn end_batch(&mut self) {
        self.free.extend(self.freed.drain(..));
    }
}

/// The translator and what the switch should hold.
#[derive(Debug)]
pub struct Dataplane {
    topology: Topology,
    vrf_ids: Ids<String>,
    rif_ids: Ids<String>,
    nexthop_ids: Ids<Adjacency>,
    group_ids: Ids<Adjacencies>,
    /// References (route entries and groups) on each nexthop, by nexthop id: an id is held
    /// exactly while its count is above zero. By id, so a route's reference is counted
    /// without looking its adjacency up.
    nexthop_refs: Vec<u32>,
    /// References (route entries) on each ECMP group, by group id.
    group_refs: Vec<u32>,
    /// How many route entries the switch holds.
    route_count: usize,
    /// The route entries that differ from the RIB's FIB (see [`Refused`]), by VRF name (a
    /// VRF unknown to the topology has no id) and prefix. Empty but after an error.
    refused: BTreeMap<(rib::VrfName, IpNet), Refused>,
    /// Every other entity.
    desired: BTreeMap<Key, Entity>,
    /// Whether the last apply completed: only then does `topology` hold what the tables
    /// were built from, so an unchanged topology can be skipped.
    settled: bool,
}

impl Default for Dataplane {
    fn default() -> Self {
        Self::new()
    }
}

fn u16_bytes(v: u16) -> Value {
    Value::from(v.to_be_bytes())
}

/// A 20-bit MPLS label in 3 bytes.
fn label_bytes(label: u32) -> Value {
    Value::from(&label.to_be_bytes()[1..])
}

fn call(action: &'static str, params: Vec<(&'static str, Value)>) -> ActionCall {
    ActionCall {
        action: Name::from_static(action),
        params: params
            .into_iter()
            .map(|(n, v)| (Name::from_static(n), v))
            .collect(),
    }
}

fn exact(field: &'static str, value: Value) -> FieldMatch {
    FieldMatch {
        field: Name::from_static(field),
        value: MatchValue::Exact(value),
    }
}

fn table_entry(table: &'static str, matches: Vec<FieldMatch>, action: TableAction) -> Entity {
    Entity::Table(TableEntry {
        table: Name::from_static(table),
        matches,
        action,
        priority: 0,
    })
}

impl Dataplane {
    pub fn new() -> Self {
        Dataplane {
            topology: Topology::default(),
            // Widths of the P4 fields: vrf_id, rif, nexthop_id, group_id are bit<16>.
            vrf_ids: Ids::new("VRF", u16::MAX as u32),
            rif_ids: Ids::new("router interface", u16::MAX as u32),
            nexthop_ids: Ids::new("nexthop", u16::MAX as u32),
            group_ids: Ids::new("ECMP group", u16::MAX as u32),
            nexthop_refs: Vec::new(),
            group_refs: Vec::new(),
            route_count: 0,
            refused: BTreeMap::new(),
            desired: BTreeMap::new(),
            settled: false,
        }
    }

    /// Every entity the switch should hold now, in dependency order (route entries last, built
    /// as they are iterated): `fib` is the RIB's FIB, every VRF's entries, as it stands after
    /// the last change translated.
    pub fn entities<'a>(
        &'a self,
        fib: impl Iterator<Item = (&'a rib::VrfName, IpNet, &'a FibAction)> + 'a,
    ) -> impl Iterator<Item = Entity> + 'a {
        let routes = fib.filter_map(|(vrf, prefix, action)| {
            let vrf_id = self.vrf_id(vrf)?;
            if !self.refused.is_empty() && self.refused.contains_key(&(vrf.clone(), prefix)) {
                return None; // below
            }
            let action = self.installed(Some(action), None)?;
            Some(route_entity((vrf_id, prefix), action))
        });
        let refused = self.refused.iter().filter_map(|((vrf, prefix), r)| {
            Some(route_entity((self.vrf_id(vrf)?, *prefix), r.installed?))
        });
        self.desired.values().cloned().chain(routes).chain(refused)
    }

    /// How many entities [`Dataplane::entities`] yields.
    pub fn entity_count(&self) -> usize {
        self.desired.len() + self.route_count
    }

    /// How many route entries hold other than the RIB's FIB says, because its action could
    /// not be programmed (each was logged when refused; each is tried again at every change).
    pub fn refused_routes(&self) -> usize {
        self.refused.len()
    }

    /// The VRF id a VRF name has in the tables.
    pub fn vrf_id(&self, vrf: &str) -> Option<u16> {
        self.vrf_ids.get(vrf).map(|v| v as u16)
    }

    /// Applies a new topology and a FIB delta; returns the updates that bring the switch from
    /// the previous state to the new one, in a safe order. A route that cannot be programmed
    /// is logged and refused (see [`Dataplane::refused_routes`]), the others go on; an error
    /// is the topology's (ids for VRFs or router interfaces run out), and then the delta's
    /// routes are all refused.
    pub fn apply(
        &mut self,
        topology: &Topology,
        delta: &FibDelta,
    ) -> Result<Vec<Update>, DataplaneError> {
        let touched = self.translate(topology, delta)?;
        Ok(self.updates(touched).into_vec())
    }

    /// [`Dataplane::apply`] of a delta that is not needed afterwards, with the updates left
    /// as [`Updates`]: the route entries' updates are built as they are written (on the
    /// write's thread, a chunk at a time), not here. The state is the new one on return.
    pub fn apply_owned(
        &mut self,
        topology: &Topology,
        delta: FibDelta,
    ) -> Result<Updates, DataplaneError> {
        let touched = self.translate(topology, &delta)?;
        drop(delta);
        Ok(self.updates(touched))
    }

    /// Brings the state to the new topology and delta; returns what changed. On an error the
    /// topology's part stopped before any route entry changed: the delta's entries are kept
    /// as refused ([`Dataplane::refuse_all`]) and tried again with the next change.
    fn translate(
        &mut self,
        topology: &Topology,
        delta: &FibDelta,
    ) -> Result<Touched, DataplaneError> {
        let mut touched = Touched::default();
        let result = self.apply_inner(topology, delta, &mut touched);
        self.vrf_ids.end_batch();
        self.rif_ids.end_batch();
        self.nexthop_ids.end_batch();
        self.group_ids.end_batch();
        self.settled = result.is_ok();
        if result.is_err() {
            self.refuse_all(delta);
        }
        result?;
        Ok(touched)
    }

    /// Records every change of a delta as refused: its entry keeps what the switch holds.
    fn refuse_all(&mut self, delta: &FibDelta) {
        let mut refused = std::mem::take(&mut self.refused);
        let mut recent = None;
        for change in delta.changes.iter() {
            let installed = self.held_before(&mut refused, change, &mut recent);
            let wanted = change.action.cloned();
            refused.insert(
                (change.vrf.clone(), change.prefix),
                Refused { installed, wanted },
            );
        }
        self.refused = refused;
    }

    /// What the switch holds for a change's entry before it: the entry's as refused (taken out
    /// of `refused`), else the action the change replaces, in the ids it holds.
    fn held_before(
        &self,
        refused: &mut BTreeMap<(rib::VrfName, IpNet), Refused>,
        change: rib::FibChangeRef<'_>,
        recent: &mut Option<(Adjacencies, RouteAction)>,
    ) -> Option<RouteAction> {
        if !refused.is_empty() {
            if let Some(r) = refused.remove(&(change.vrf.clone(), change.prefix)) {
                return r.installed;
            }
        }
        self.installed(change.old, Some(recent))
    }

    fn set(&mut self, touched: &mut Touched, key: Key, entity: Option<Entity>) {
        let old = match &entity {
            Some(e) => self.desired.insert(key.clone(), e.clone()),
            None => self.desired.remove(&key),
        };
        touched.entities.entry(key).or_insert(old);
    }

    fn apply_inner(
        &mut self,
        topology: &Topology,
        delta: &FibDelta,
        touched: &mut Touched,
    ) -> Result<(), DataplaneError> {
        if self.settled && self.topology == *topology {
            // Nothing but route entries (and what they reference) can change when the
            // topology did not; this runs per commit, on a busy BGP session many times a
            // second, so the topology is neither cloned nor diffed then.
            self.apply_routes(topology, delta, touched);
            return Ok(());
        }
        let old_topology = std::mem::replace(&mut self.topology, topology.clone());

        // VRF ids for new VRFs, in name order (so a cold start numbers them alphabetically).
        for vrf in &topology.vrfs {
            self.vrf_ids.get_or_alloc(vrf)?;
        }

        // my_station: the router MAC.
        if old_topology.router_mac != topology.router_mac {
            if let Some(mac) = old_topology.router_mac {
                self.set(touched, Key::MyStation(mac), None);
            }
            if let Some(mac) = topology.router_mac {
                let e = table_entry(
                    names::MY_STATION,
                    vec![exact("dst_mac", Value::from(mac.0))],
                    TableAction::Action(call(names::ADMIT_TO_L3, vec![])),
                );
                self.set(touched, Key::MyStation(mac), Some(e));
            }
        }

        // Interfaces: router interface (egress) and interface (ingress → VRF) entries.
        let names: BTreeSet<&String> = old_topology
            .interfaces
            .keys()
            .chain(topology.interfaces.keys())
            .collect();
        let mac_changed = old_topology.router_mac != topology.router_mac;
        for name in names {
            let old = old_topology.interfaces.get(name);
            let new = topology.interfaces.get(name);
            if old == new && !mac_changed {
                continue;
            }
            if let Some((port, vlan, _)) = old {
                self.set(touched, Key::Interface(*port, vlan.unwrap_or(0)), None);
            }
            match new {
                Some((port, vlan, vrf)) => {
                    let rif = self.rif_ids.get_or_alloc(name)? as u16;
                    let vrf_id = self.vrf_ids.get_or_alloc(vrf)? as u16;
                    let src_mac = topology
                        .router_mac
                        .map(|m| Value::from(m.0))
                        .unwrap_or_else(|| Value::from([0; 6]));
                    let egress = match vlan {
                        None => call(
                            names::SET_EGRESS,
                            vec![("port", u16_bytes(*port)), ("src_mac", src_mac)],
                        ),
                        Some(v) => call(
                            names::SET_EGRESS_VLAN,
                            vec![
                                ("port", u16_bytes(*port)),
                                ("src_mac", src_mac),
                                ("vlan_id", u16_bytes(*v)),
                            ],
                        ),
                    };
                    let rif_entry = table_entry(
                        names::ROUTER_INTERFACE,
                        vec![exact("rif", u16_bytes(rif))],
                        TableAction::Action(egress),
                    );
                    self.set(touched, Key::RouterInterface(rif), Some(rif_entry));
                    let intf_entry = table_entry(
                        names::INTERFACE,
                        vec![
                            exact("port", u16_bytes(*port)),
                            exact("vlan_id", u16_bytes(vlan.unwrap_or(0))),
                        ],
                        TableAction::Action(call(
                            names::SET_INTERFACE,
                            vec![("vrf_id", u16_bytes(vrf_id)), ("rif", u16_bytes(rif))],
                        )),
                    );
                    self.set(
                        touched,
                        Key::Interface(*port, vlan.unwrap_or(0)),
                        Some(intf_entry),
                    );
                }
                None => {
                    if let Some(rif) = self.rif_ids.release(name) {
                        self.set(touched, Key::RouterInterface(rif as u16), None);
                    }
                }
            }
        }

        // MPLS from the core: which interfaces accept labels, and which label is which VRF.
        for port in old_topology.core_ports.difference(&topology.core_ports) {
            self.set(touched, Key::MplsInterface(port.0, port.1), None);
        }
        for port in topology.core_ports.difference(&old_topology.core_ports) {
            let e = table_entry(
                names::MPLS_INTERFACE,
                vec![
                    exact("port", u16_bytes(port.0)),
                    exact("vlan_id", u16_bytes(port.1)),
                ],
                TableAction::Action(call(names::ENABLE_MPLS, vec![])),
            );
            self.set(touched, Key::MplsInterface(port.0, port.1), Some(e));
        }
        for (vrf, label) in &old_topology.vpn_labels {
            if topology.vpn_labels.get(vrf) != Some(label) {
                self.set(touched, Key::MplsVrf(*label), None);
            }
        }
        for (vrf, label) in &topology.vpn_labels {
            if old_topology.vpn_labels.get(vrf) == Some(label) {
                continue;
            }
            let vrf_id = self.vrf_ids.get_or_alloc(vrf)? as u16;
            let e = table_entry(
                names::MPLS_VRF,
                vec![exact("label", label_bytes(*label))],
                TableAction::Action(call(names::POP_TO_VRF, vec![("vrf_id", u16_bytes(vrf_id))])),
            );
            self.set(touched, Key::MplsVrf(*label), Some(e));
        }

        // FIB changes: route entries and the references they hold on nexthops and groups.
        self.apply_routes(topology, delta, touched);

        // Nexthops whose neighbor MAC or router interface changed.
        let adjs: Vec<(Adjacency, u32)> = self
            .nexthop_ids
            .by_key
            .iter()
            .map(|(adj, id)| (adj.clone(), *id))
            .collect();
        for (adj, id) in adjs {
            let rif_now = self.rif_ids.get(&*adj.interface);
            let key = Key::Nexthop(id as u16);
            let entity = self.nexthop_entity(&adj, rif_now);
            if self.desired.get(&key) != entity.as_ref() {
                self.set(touched, key, entity);
            }
        }

        // VRFs that left: their ids. Their route entries went above: the RIB withdraws a
        // VRF's routes in the delta that removes it.
        for vrf in old_topology.vrfs.difference(&topology.vrfs) {
            self.vrf_ids.release(vrf.as_str());
        }
        Ok(())
    }

    /// The route entries of a FIB delta, and the references they take and drop; then the
    /// entries refused before, tried again.
    ///
    /// Per change this is a counter on the new action and one on the old (what the switch
    /// holds: the action the change replaces, in the ids it holds). The ids of the last
    /// actions seen are kept ([`Recent`]), as consecutive changes mostly forward the same way
    /// (one BGP neighbor's routes) and replace the same way, and then nothing is looked up by
    /// adjacency at all.
    fn apply_routes(&mut self, topology: &Topology, delta: &FibDelta, touched: &mut Touched) {
        touched.routes.reserve(delta.changes.len());
        let mut earlier = std::mem::take(&mut self.refused);
        let mut recent = Recent {
            log: true,
            ..Recent::default()
        };
        for change in delta.changes.iter() {
            let installed = self.held_before(&mut earlier, change, &mut recent.old);
            let route = (change.vrf, change.prefix);
            self.set_route(
                topology,
                touched,
                &mut recent,
                route,
                installed,
                change.action,
            );
        }
        recent.log = false; // logged when first refused
        for ((vrf, prefix), r) in earlier {
            let route = (&vrf, prefix);
            self.set_route(
                topology,
                touched,
                &mut recent,
                route,
                r.installed,
                r.wanted.as_ref(),
            );
        }
        if recent.refused > 0 {
            error!(
                routes = recent.refused,
                "more routes not programmed, the switch keeps their entries (the first \
                 {REFUSALS_LOGGED} of this change are logged)"
            );
        }
    }

    /// Sets one route entry from what the switch holds to the FIB action the RIB wants. When
    /// that cannot be programmed (its VRF or a neighbor unknown to the topology, ids run
    /// out), the entry keeps what it holds and is kept as refused.
    fn set_route(
        &mut self,
        topology: &Topology,
        touched: &mut Touched,
        recent: &mut Recent,
        (vrf, prefix): (&rib::VrfName, IpNet),
        installed: Option<RouteAction>,
        wanted: Option<&FibAction>,
    ) {
        let (vrf_id, known) = recent.vrf(self, topology, vrf);
        let result = match (vrf_id, wanted) {
            (_, None) if installed.is_none() => return,
            (Some(id), None) => Ok((id, None, false)),
            (Some(id), Some(_)) if known => self
                .route_action(topology, touched, recent, (vrf, prefix), wanted)
                .map(|(action, held)| (id, action, held)),
            _ => Err(DataplaneError::UnknownVrf(vrf.to_string())),
        };
        let (vrf_id, new, held) = match result {
            Ok(translated) => translated,
            Err(e) => {
                if recent.log && recent.logged < REFUSALS_LOGGED {
                    recent.logged += 1;
                    error!(%vrf, %prefix, "route not programmed, the switch keeps its entry: {e}");
                } else if recent.log {
                    recent.refused += 1;
                }
                let wanted = wanted.cloned();
                self.refused
                    .insert((vrf.clone(), prefix), Refused { installed, wanted });
                return;
            }
        };
        if new == installed {
            return;
        }
        // The new reference first, so what old and new share stays in place.
        if let (Some(a), true) = (new, held) {
            self.count(a, 1);
        }
        touched.routes.push(((vrf_id, prefix), installed, new));
        match (installed, new) {
            (None, Some(_)) => self.route_count += 1,
            (Some(_), None) => self.route_count -= 1,
            _ => {}
        }
        if let Some(old) = installed {
            self.release(touched, old);
        }
    }

    /// The route action of a FIB action the RIB wants, with whether its ids were held
    /// already (then the caller counts the new reference); new ids are taken otherwise.
    fn route_action(
        &mut self,
        topology: &Topology,
        touched: &mut Touched,
        recent: &mut Recent,
        (vrf, prefix): (&rib::VrfName, IpNet),
        wanted: Option<&FibAction>,
    ) -> Result<(Option<RouteAction>, bool), DataplaneError> {
        let adjs = match wanted {
            None => return Ok((None, false)),
            Some(FibAction::Drop) => return Ok((Some(RouteAction::Drop), false)),
            Some(FibAction::Punt) => return Ok((Some(RouteAction::Punt), false)),
            Some(FibAction::Forward(adjs)) => adjs,
        };
        // Checked against the topology in this change already, and its ids found.
        if let Some(action) = self.recalled(recent.new.as_ref(), adjs) {
            return Ok((Some(action), true));
        }
        for adj in adjs.iter() {
            if !topology.interfaces.contains_key(&*adj.interface) {
                return Err(DataplaneError::UnknownInterface(adj.interface.to_string()));
            }
            if !topology
                .neighbors
                .contains_key(&(adj.interface.clone(), adj.address))
            {
                return Err(DataplaneError::UnknownNeighbor {
                    vrf: vrf.to_string(),
                    prefix,
                    adjacency: adj.clone(),
                });
            }
        }
        let held = self.held_action(adjs);
        let action = match held {
            Some(a) => a,
            // New ids, so never the entry's old action (which holds its ids).
            None => self.acquire(touched, adjs)?,
        };
        recent.new = Some((adjs.clone(), action));
        Ok((Some(action), held.is_some()))
    }

    /// What the switch holds for an entry whose installed FIB action is `action`: the action
    /// in the ids it holds (found by its adjacencies; `recent` is the last found, kept by the
    /// caller across a run of changes).
    fn installed(
        &self,
        action: Option<&FibAction>,
        recent: Option<&mut Option<(Adjacencies, RouteAction)>>,
    ) -> Option<RouteAction> {
        let adjs = match action? {
            FibAction::Drop => return Some(RouteAction::Drop),
            FibAction::Punt => return Some(RouteAction::Punt),
            FibAction::Forward(adjs) => adjs,
        };
        if let Some(action) = self.recalled(recent.as_deref().and_then(Option::as_ref), adjs) {
            return Some(action);
        }
        let action = self.held_action(adjs);
        // An installed action holds its ids until its last entry lets go of them.
        debug_assert!(action.is_some(), "no ids for an installed action: {adjs:?}");
        if let (Some(recent), Some(a)) = (recent, action) {
            *recent = Some((adjs.clone(), a));
        }
        action
    }

    /// The action kept for the last adjacencies seen ([`Recent`]), when `adjs` are those and
    /// its ids are still held.
    fn recalled(
        &self,
        last: Option<&(Adjacencies, RouteAction)>,
        adjs: &Adjacencies,
    ) -> Option<RouteAction> {
        let (last, action) = last?;
        ((Arc::ptr_eq(last, adjs) || last == adjs) && self.holds(*action)).then_some(*action)
    }

    /// Whether the ids of a route action are held (its count is above zero), so the action
    /// found for an adjacency set earlier in a change is still what that set has.
    fn holds(&self, action: RouteAction) -> bool {
        let (refs, id) = match action {
            RouteAction::Nexthop(id) => (&self.nexthop_refs, id),
            RouteAction::Group(id) => (&self.group_refs, id),
            RouteAction::Drop | RouteAction::Punt => return true,
        };
        refs.get(id as usize).is_some_and(|c| *c > 0)
    }

    /// The route action of adjacencies that have ids already.
    fn held_action(&self, adjs: &Adjacencies) -> Option<RouteAction> {
        if adjs.len() == 1 {
            self.nexthop_ids
                .get(&adjs[0])
                .map(|id| RouteAction::Nexthop(id as u16))
        } else {
            self.group_ids
                .get(adjs)
                .map(|id| RouteAction::Group(id as u16))
        }
    }

    /// Adds `by` to the count of a held action (which stays above zero).
    fn count(&mut self, action: RouteAction, by: i32) {
        let slot = match action {
            RouteAction::Nexthop(id) => &mut self.nexthop_refs[id as usize],
            RouteAction::Group(id) => &mut self.group_refs[id as usize],
            RouteAction::Drop | RouteAction::Punt => return,
        };
        *slot = slot.wrapping_add_signed(by);
    }

    /// Takes a reference on the entries adjacencies forward to, creating them (nexthops,
    /// members, group, ECMP entry) if they have none; returns the route action.
    fn acquire(
        &mut self,
        touched: &mut Touched,
        adjs: &Adjacencies,
    ) -> Result<RouteAction, DataplaneError> {
        if adjs.len() == 1 {
            return Ok(RouteAction::Nexthop(
                self.acquire_nexthop(touched, &adjs[0])? as u16,
            ));
        }
        if let Some(group) = self.group_ids.get(adjs) {
            self.group_refs[group as usize] += 1;
            return Ok(RouteAction::Group(group as u16));
        }
        // The group's id first, and the members' references given back if one of them has
        // none left: a refused route takes nothing.
        let group = self.group_ids.get_or_alloc(adjs)?;
        for (i, adj) in adjs.iter().enumerate() {
            if let Err(e) = self.acquire_nexthop(touched, adj) {
                for taken in &adjs[..i] {
                    if let Some(nh) = self.nexthop_ids.get(taken) {
                        self.release_nexthop(touched, nh);
                    }
                }
                self.group_ids.release(adjs);
                return Err(e);
            }
        }
        set_count(&mut self.group_refs, group, 1);
        // Sorted by member id: the canonical form reads return.
        let mut members: Vec<(u32, i32)> = adjs
            .iter()
            .map(|a| (self.nexthop_ids.get(a).unwrap_or(0), 1))
            .collect();
        members.sort_unstable();
        let g = Entity::Group(ActionProfileGroup {
            profile: Name::from_static(names::ECMP_SELECTOR),
            group_id: group,
            members,
            max_size: 0,
        });
        self.set(touched, Key::Group(group), Some(g));
        let e = table_entry(
            names::ECMP_GROUP,
            vec![exact("group_id", u16_bytes(group as u16))],
            TableAction::Group(group),
        );
        self.set(touched, Key::EcmpEntry(group as u16), Some(e));
        Ok(RouteAction::Group(group as u16))
    }

    /// Drops the reference a route entry's action holds, deleting the entries it pointed at
    /// when it was the last.
    fn release(&mut self, touched: &mut Touched, action: RouteAction) {
        match action {
            RouteAction::Nexthop(id) => self.release_nexthop(touched, u32::from(id)),
            RouteAction::Group(id) => {
                let count = &mut self.group_refs[id as usize];
                *count -= 1;
                if *count > 0 {
                    return;
                }
                let Some(adjs) = self.group_ids.key_of(u32::from(id)).cloned() else {
                    return;
                };
                self.group_ids.release(&adjs);
                self.set(touched, Key::Group(u32::from(id)), None);
                self.set(touched, Key::EcmpEntry(id), None);
                for adj in adjs.iter() {
                    if let Some(nh) = self.nexthop_ids.get(adj) {
                        self.release_nexthop(touched, nh);
                    }
                }
            }
            RouteAction::Drop | RouteAction::Punt => {}
        }
    }

    /// Takes a reference on an adjacency's nexthop (and member), creating them on the first;
    /// returns the nexthop id.
    fn acquire_nexthop(
        &mut self,
        touched: &mut Touched,
        adj: &Adjacency,
    ) -> Result<u32, DataplaneError> {
        if let Some(id) = self.nexthop_ids.get(adj) {
            self.nexthop_refs[id as usize] += 1;
            return Ok(id);
        }
        let id = self.nexthop_ids.get_or_alloc(adj)?;
        set_count(&mut self.nexthop_refs, id, 1);
        let rif = self.rif_ids.get(&*adj.interface);
        let entity = self.nexthop_entity(adj, rif);
        self.set(touched, Key::Nexthop(id as u16), entity);
        // Every nexthop is also an ECMP member (member id = nexthop id), so groups can
        // share members.
        let m = Entity::Member(ActionProfileMember {
            profile: Name::from_static(names::ECMP_SELECTOR),
            member_id: id,
            action: call(
                names::SET_NEXTHOP,
                vec![("nexthop_id", u16_bytes(id as u16))],
            ),
        });
        self.set(touched, Key::Member(id), Some(m));
        Ok(id)
    }

    fn release_nexthop(&mut self, touched: &mut Touched, id: u32) {
        let count = &mut self.nexthop_refs[id as usize];
        *count -= 1;
        if *count > 0 {
            return;
        }
        if let Some(adj) = self.nexthop_ids.key_of(id).cloned() {
            self.nexthop_ids.release(&adj);
            self.set(touched, Key::Nexthop(id as u16), None);
            self.set(touched, Key::Member(id), None);
        }
    }

    fn nexthop_entity(&self, adj: &Adjacency, rif: Option<u32>) -> Option<Entity> {
        let id = self.nexthop_ids.get(adj)?;
        let mac = self
            .topology
            .neighbors
            .get(&(adj.interface.clone(), adj.address))?;
        let rif = rif?;
        let mut params = vec![
            ("rif", u16_bytes(rif as u16)),
            ("dst_mac", Value::from(mac.0)),
        ];
        // Towards a remote PE: push its VPN label (20 bits in 3 bytes), and above it the
        // transport label of a static LSP when the PE is not the neighbor itself.
        let action = match (adj.vpn_label, adj.transport_label) {
            (None, _) => names::SET_NEIGHBOR,
            (Some(label), None) => {
                params.push(("vpn_label", label_bytes(label)));
                names::SET_VPN_NEIGHBOR
            }
            (Some(label), Some(transport)) => {
                params.push(("vpn_label", label_bytes(label)));
                params.push(("transport_label", label_bytes(transport)));
                names::SET_VPN_TRANSPORT_NEIGHBOR
            }
        };
        Some(table_entry(
            names::NEXTHOP,
            vec![exact("nexthop_id", u16_bytes(id as u16))],
            TableAction::Action(call(action, params)),
        ))
    }

    /// Turns touched keys into updates: inserts and modifies in dependency order (route
    /// entries last), then deletes in reverse dependency order. The route entries' updates
    /// are left in ids (see [`Updates`]).
    fn updates(&self, touched: Touched) -> Updates {
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        for (key, old) in touched.entities {
            match (old, self.desired.get(&key)) {
                (None, Some(new)) => writes.push(Update::insert(new.clone())),
                (Some(old), Some(new)) if &old != new => writes.push(Update::modify(new.clone())),
                (Some(old), None) => deletes.push(Update::delete(old)),
                _ => {}
            }
        }
        deletes.reverse();
        Updates {
            writes,
            routes: touched.routes,
            sorted: false,
            deletes,
            pos: 0,
        }
    }

    /// The updates that make a switch holding `actual` hold exactly what this data plane wants
    /// (after a controller restart, a switch restart, or a failed write); `fib` as for
    /// [`Dataplane::entities`].
    pub fn reconcile<'a>(
        &'a self,
        actual: &[Entity],
        fib: impl Iterator<Item = (&'a rib::VrfName, IpNet, &'a FibAction)> + 'a,
    ) -> Vec<Update> {
        let rank = |e: &Entity| -> u8 {
            match e {
                Entity::Table(t) => match t.table.as_str() {
                    names::ROUTER_INTERFACE => 0,
                    names::INTERFACE | names::MPLS_INTERFACE | names::MPLS_VRF => 1,
                    names::MY_STATION => 2,
                    names::NEXTHOP => 3,
                    names::ECMP_GROUP => 6,
                    _ => 7,
                },
                Entity::Member(_) => 4,
                Entity::Group(_) => 5,
            }
        };
        let desired: Vec<Entity> = self.entities(fib).collect();
        let want: BTreeMap<_, &Entity> = desired.iter().map(|e| (e.key(), e)).collect();
        let have: BTreeMap<_, &Entity> = actual.iter().map(|e| (e.key(), e)).collect();
        let mut writes: Vec<(u8, Update)> = Vec::new();
        let mut deletes: Vec<(u8, Update)> = Vec::new();
        for (k, e) in &want {
            match have.get(k) {
                None => writes.push((
                    rank(e),
                    Update {
                        kind: UpdateKind::Insert,
                        entity: (*e).clone(),
                    },
                )),
                Some(h) if h != e => writes.push((
                    rank(e),
                    Update {
                        kind: UpdateKind::Modify,
                        entity: (*e).clone(),
                    },
                )),
                _ => {}
            }
        }
        for (k, e) in &have {
            if !want.contains_key(k) {
                deletes.push((
                    rank(e),
                    Update {
                        kind: UpdateKind::Delete,
                        entity: (*e).clone(),
                    },
                ));
            }
        }
        writes.sort_by_key(|(r, _)| *r);
        deletes.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
        writes.into_iter().chain(deletes).map(|(_, u)| u).collect()
    }
}

/// The updates of one change, in write order: `writes` (inserts and modifies of entities other
/// than route entries, in dependency order), the route entries' (inserts and modifies in key
/// order, then deletes in reverse key order), then `deletes` (reverse dependency order).
///
/// Route entries are one per FIB change (a million from a new BGP session), so their updates
/// stay as the translation left them, 28 bytes each in ids, and are built into entities only
/// as they are written, a chunk at a time ([`Updates::next_chunk`]), on the thread that
/// writes: the whole list built at once took ~250 bytes of fresh memory per route, and
/// building it was half of the translation's time on the thread that runs the RIB.
#[derive(Debug, Default)]
pub struct Updates {
    writes: Vec<Update>,
    /// Route entries as they were set, (key, before, after); once `sorted`, one per key that
    /// changed, in write order.
    routes: Vec<(RouteKey, Option<RouteAction>, Option<RouteAction>)>,
    sorted: bool,
    deletes: Vec<Update>,
    /// How many updates [`Updates::next_chunk`] has handed out.
    pos: usize,
}

impl Updates {
    /// Whether there is nothing to write. Conservative: route entries set and set back within
    /// one change count as something, and then make no update.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.routes.is_empty() && self.deletes.is_empty()
    }

    /// Updates not handed out yet.
    pub fn remaining(&mut self) -> usize {
        self.sort();
        self.writes.len() + self.routes.len() + self.deletes.len() - self.pos
    }

    /// Orders the route entries' changes for writing (once): by key (stable: a key set twice
    /// keeps its first old value first; a delta's changes come in this order already, which
    /// the sort finds in one pass), repeats of a key merged, unchanged ones left out, deletes
    /// moved to the end in reverse key order.
    fn sort(&mut self) {
        if self.sorted {
            return;
        }
        self.sorted = true;
        let routes = &mut self.routes;
        routes.sort_by_key(|r| r.0);
        let mut deletes = Vec::new();
        let (mut i, mut kept) = (0, 0);
        while i < routes.len() {
            let (key, old, mut new) = routes[i];
            i += 1;
            while i < routes.len() && routes[i].0 == key {
                new = routes[i].2;
                i += 1;
            }
            match (old, new) {
                (Some(_), None) => deletes.push((key, old, None)),
                (_, Some(_)) if old != new => {
                    routes[kept] = (key, old, new);
                    kept += 1;
                }
                _ => {}
            }
        }
        routes.truncate(kept);
        routes.extend(deletes.into_iter().rev());
    }

    /// Replaces what `out` holds with the next at most `max` updates; false when none are
    /// left. `out` is meant to be reused, so a write of any size needs one chunk of memory.
    pub fn next_chunk(&mut self, max: usize, out: &mut Vec<Update>) -> bool {
        self.sort();
        out.clear();
        let (w, r) = (self.writes.len(), self.routes.len());
        let total = w + r + self.deletes.len();
        while out.len() < max && self.pos < total {
            let p = self.pos;
            self.pos += 1;
            if p < w {
                out.push(self.writes[p].clone());
            } else if p < w + r {
                let update = match self.routes[p - w] {
                    (key, None, Some(new)) => Update::insert(route_entity(key, new)),
                    (key, Some(_), Some(new)) => Update::modify(route_entity(key, new)),
                    (key, Some(old), None) => Update::delete(route_entity(key, old)),
                    (_, None, None) => continue, // left out by `sort`
                };
                out.push(update);
            } else {
                out.push(self.deletes[p - w - r].clone());
            }
        }
        !out.is_empty()
    }

    /// Every update, built at once.
    pub fn into_vec(mut self) -> Vec<Update> {
        let mut out = Vec::with_capacity(self.remaining());
        self.next_chunk(usize::MAX, &mut out);
        out
    }
}

/// The table entry of a route.
fn route_entity((vrf_id, prefix): RouteKey, action: RouteAction) -> Entity {
    let (table, addr) = match prefix.addr() {
        IpAddr::V4(a) => (names::IPV4_LPM, Value::from(a.octets())),
        IpAddr::V6(a) => (names::IPV6_LPM, Value::from(a.octets())),
    };
    let mut matches = Vec::with_capacity(2);
    matches.push(exact("vrf_id", u16_bytes(vrf_id)));
    // A /0 is a don't-care match, which P4Runtime requires to be left out.
    if prefix.prefix_len() > 0 {
        matches.push(FieldMatch {
            field: Name::from_static("dst_addr"),
            value: MatchValue::Lpm {
                value: addr,
                prefix_len: prefix.prefix_len() as u32,
            },
        });
    }
    // Names as constants and each list built at its size: this runs once per route written.
    const NEXTHOP_ID: Name = Name::from_static("nexthop_id");
    const GROUP_ID: Name = Name::from_static("group_id");
    let (action, params) = match action {
        RouteAction::Nexthop(id) => (names::SET_NEXTHOP, vec![(NEXTHOP_ID, u16_bytes(id))]),
        RouteAction::Group(id) => (names::SET_ECMP_GROUP, vec![(GROUP_ID, u16_bytes(id))]),
        RouteAction::Drop => (names::DROP, Vec::new()),
        RouteAction::Punt => (names::PUNT, Vec::new()),
    };
    let call = ActionCall {
        action: Name::from_static(action),
        params,
    };
    table_entry(table, matches, TableAction::Action(call))
}

#[cfg(test)]
mod tests;

/// Sets the count of a newly allocated id, growing the table as ids grow.
fn set_count(refs: &mut Vec<u32>, id: u32, count: u32) {
    if refs.len() <= id as usize {
        refs.resize(id as usize + 1, 0);
    }
    refs[id as usize] = count;
}
