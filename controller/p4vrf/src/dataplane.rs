//! What our P4 program's tables mean: turns the router's topology (interfaces, neighbors, the
//! router MAC) and FIB deltas into ordered P4Runtime updates, and owns the IDs the tables use
//! (VRF ids, router interfaces, nexthops, ECMP groups).
//!
//! What the switch should hold is kept here, keyed by what each entity is: route entries as
//! ids only (VRF id and prefix → nexthop id, ECMP group id, drop or punt: a few bytes each, with
//! no copy of the FIB), everything else (interfaces, nexthops, members, groups: a few per
//! interface or neighbor) as entities. Entities of routes are built when they are written or
//! read. A change touches some keys; the updates are the difference between each touched key's
//! old and new value, written in dependency order: inserts and modifies from router interfaces
//! up to routes, then deletes from routes down to router interfaces, so the switch never holds
//! a route pointing at a missing nexthop. `docs/p4-pipeline.md` has the tables.

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
    routes: BTreeMap<RouteKey, Option<RouteAction>>,
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
    nexthop_refs: BTreeMap<Adjacency, usize>,
    group_refs: BTreeMap<Adjacencies, usize>,
    /// Every route entry, in ids: the RIB keeps the FIB, this is only what the switch holds.
    routes: BTreeMap<RouteKey, RouteAction>,
    /// Every other entity.
    desired: BTreeMap<Key, Entity>,
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
            nexthop_refs: BTreeMap::new(),
            group_refs: BTreeMap::new(),
            routes: BTreeMap::new(),
            desired: BTreeMap::new(),
        }
    }

    /// Every entity the switch should hold now, in dependency order (route entries last, built
    /// as they are iterated).
    pub fn entities(&self) -> impl Iterator<Item = Entity> + '_ {
        self.desired.values().cloned().chain(
            self.routes
                .iter()
                .map(|(key, action)| route_entity(*key, *action)),
        )
    }

    /// How many entities [`Dataplane::entities`] yields.
    pub fn entity_count(&self) -> usize {
        self.desired.len() + self.routes.len()
    }

    /// The VRF id a VRF name has in the tables.
    pub fn vrf_id(&self, vrf: &str) -> Option<u16> {
        self.vrf_ids.get(vrf).map(|v| v as u16)
    }

    /// Applies a new topology and a FIB delta; returns the updates that bring the switch from
    /// the previous state to the new one, in a safe order. On error nothing changed.
    pub fn apply(
        &mut self,
        topology: &Topology,
        delta: &FibDelta,
    ) -> Result<Vec<Update>, DataplaneError> {
        self.check(topology, delta)?;
        let mut touched = Touched::default();
        let result = self.apply_inner(topology, delta, &mut touched);
        self.vrf_ids.end_batch();
        self.rif_ids.end_batch();
        self.nexthop_ids.end_batch();
        self.group_ids.end_batch();
        result?;
        Ok(self.updates(touched))
    }

    /// Refuses a change that refers to things the topology does not have, before touching state.
    fn check(&self, topology: &Topology, delta: &FibDelta) -> Result<(), DataplaneError> {
        for change in &delta.changes {
            if !topology.vrfs.contains(&*change.vrf) && change.action.is_some() {
                return Err(DataplaneError::UnknownVrf(change.vrf.to_string()));
            }
            if let Some(FibAction::Forward(adjs)) = &change.action {
                for adj in adjs.iter() {
                    if !topology.interfaces.contains_key(&*adj.interface) {
                        return Err(DataplaneError::UnknownInterface(adj.interface.to_string()));
                    }
                    if !topology
                        .neighbors
                        .contains_key(&(adj.interface.clone(), adj.address))
                    {
                        return Err(DataplaneError::UnknownNeighbor {
                            vrf: change.vrf.to_string(),
                            prefix: change.prefix,
                            adjacency: adj.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn set(&mut self, touched: &mut Touched, key: Key, entity: Option<Entity>) {
        let old = match &entity {
            Some(e) => self.desired.insert(key.clone(), e.clone()),
            None => self.desired.remove(&key),
        };
        touched.entities.entry(key).or_insert(old);
    }

    fn set_route(&mut self, touched: &mut Touched, key: RouteKey, action: Option<RouteAction>) {
        let old = match action {
            Some(a) => self.routes.insert(key, a),
            None => self.routes.remove(&key),
        };
        touched.routes.entry(key).or_insert(old);
    }

    fn apply_inner(
        &mut self,
        topology: &Topology,
        delta: &FibDelta,
        touched: &mut Touched,
    ) -> Result<(), DataplaneError> {
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
        for change in &delta.changes {
            let Some(vrf_id) = self.vrf_ids.get(&*change.vrf) else {
                continue; // the VRF is gone and so are its entries (below)
            };
            let key = (vrf_id as u16, change.prefix);
            let old = self.routes.get(&key).copied();
            if self.same(old, change.action.as_ref()) {
                continue;
            }
            // The new references first, so what old and new share stays in place.
            if let Some(a) = &change.action {
                self.reference(touched, a, 1)?;
            }
            if let Some(old) = old {
                self.unreference(touched, old)?;
            }
            let action = match &change.action {
                Some(a) => Some(self.route_action(a)?),
                None => None,
            };
            self.set_route(touched, key, action);
        }

        // Nexthops whose neighbor MAC or router interface changed.
        let adjs: Vec<Adjacency> = self.nexthop_refs.keys().cloned().collect();
        for adj in adjs {
            let rif_now = self.rif_ids.get(&*adj.interface);
            let key = Key::Nexthop(self.nexthop_ids.get(&adj).unwrap_or(0) as u16);
            let entity = self.nexthop_entity(&adj, rif_now);
            if self.desired.get(&key) != entity.as_ref() {
                self.set(touched, key, entity);
            }
        }

        // VRFs that left: their route entries go (the RIB has withdrawn them in this same
        // delta, so normally there are none left), then their ids.
        for vrf in old_topology.vrfs.difference(&topology.vrfs) {
            if let Some(id) = self.vrf_ids.get(vrf.as_str()) {
                let id = id as u16;
                let first = (id, IpNet::V4(Default::default()));
                let left: Vec<(RouteKey, RouteAction)> = self
                    .routes
                    .range(first..)
                    .take_while(|((v, _), _)| *v == id)
                    .map(|(k, a)| (*k, *a))
                    .collect();
                for (key, action) in left {
                    self.unreference(touched, action)?;
                    self.set_route(touched, key, None);
                }
            }
            self.vrf_ids.release(vrf.as_str());
        }
        Ok(())
    }

    /// Whether a route entry that does `old` already does `new`.
    fn same(&self, old: Option<RouteAction>, new: Option<&FibAction>) -> bool {
        match (old, new) {
            (None, None) => true,
            (Some(RouteAction::Drop), Some(FibAction::Drop))
            | (Some(RouteAction::Punt), Some(FibAction::Punt)) => true,
            (Some(RouteAction::Nexthop(id)), Some(FibAction::Forward(adjs))) if adjs.len() == 1 => {
                self.nexthop_ids.get(&adjs[0]) == Some(u32::from(id))
            }
            (Some(RouteAction::Group(id)), Some(FibAction::Forward(adjs))) if adjs.len() > 1 => {
                self.group_ids.get(adjs) == Some(u32::from(id))
            }
            _ => false,
        }
    }

    /// Drops the references a route entry's action holds (see [`Dataplane::reference`]).
    fn unreference(
        &mut self,
        touched: &mut Touched,
        action: RouteAction,
    ) -> Result<(), DataplaneError> {
        match action {
            RouteAction::Nexthop(id) => {
                if let Some(adj) = self.nexthop_ids.key_of(u32::from(id)).cloned() {
                    self.reference_nexthop(touched, &adj, -1)?;
                }
            }
            RouteAction::Group(id) => {
                if let Some(adjs) = self.group_ids.key_of(u32::from(id)).cloned() {
                    self.reference(touched, &FibAction::Forward(adjs), -1)?;
                }
            }
            RouteAction::Drop | RouteAction::Punt => {}
        }
        Ok(())
    }

    /// Adds (`+1`) or drops (`-1`) the references a FIB action holds, creating or deleting
    /// nexthop, member, group and ECMP entries as their counts leave or reach zero.
    fn reference(
        &mut self,
        touched: &mut Touched,
        action: &FibAction,
        by: isize,
    ) -> Result<(), DataplaneError> {
        let FibAction::Forward(adjs) = action else {
            return Ok(());
        };
        if adjs.len() == 1 {
            return self.reference_nexthop(touched, &adjs[0], by);
        }
        let count = self.group_refs.entry(adjs.clone()).or_insert(0);
        let was = *count;
        *count = (*count as isize + by) as usize;
        let now = *count;
        if now == 0 {
            self.group_refs.remove(adjs);
        }
        if was == 0 && now > 0 {
            for adj in adjs.iter() {
                self.reference_nexthop(touched, adj, 1)?;
            }
            let group = self.group_ids.get_or_alloc(adjs)?;
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
        } else if was > 0 && now == 0 {
            if let Some(group) = self.group_ids.release(adjs) {
                self.set(touched, Key::Group(group), None);
                self.set(touched, Key::EcmpEntry(group as u16), None);
            }
            for adj in adjs.iter() {
                self.reference_nexthop(touched, adj, -1)?;
            }
        }
        Ok(())
    }

    fn reference_nexthop(
        &mut self,
        touched: &mut Touched,
        adj: &Adjacency,
        by: isize,
    ) -> Result<(), DataplaneError> {
        let count = self.nexthop_refs.entry(adj.clone()).or_insert(0);
        let was = *count;
        *count = (*count as isize + by) as usize;
        let now = *count;
        if now == 0 {
            self.nexthop_refs.remove(adj);
        }
        if was == 0 && now > 0 {
            let id = self.nexthop_ids.get_or_alloc(adj)?;
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
        } else if was > 0 && now == 0 {
            if let Some(id) = self.nexthop_ids.release(adj) {
                self.set(touched, Key::Nexthop(id as u16), None);
                self.set(touched, Key::Member(id), None);
            }
        }
        Ok(())
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

    /// A FIB action in the ids of the entries it points at (referenced already).
    fn route_action(&self, action: &FibAction) -> Result<RouteAction, DataplaneError> {
        Ok(match action {
            FibAction::Forward(adjs) if adjs.len() == 1 => RouteAction::Nexthop(
                self.nexthop_ids
                    .get(&adjs[0])
                    .ok_or(DataplaneError::OutOfIds("nexthop"))? as u16,
            ),
            FibAction::Forward(adjs) => RouteAction::Group(
                self.group_ids
                    .get(adjs)
                    .ok_or(DataplaneError::OutOfIds("ECMP group"))? as u16,
            ),
            FibAction::Drop => RouteAction::Drop,
            FibAction::Punt => RouteAction::Punt,
        })
    }

    /// Turns touched keys into updates: inserts and modifies in dependency order (route
    /// entries last), then deletes in reverse dependency order.
    fn updates(&self, touched: Touched) -> Vec<Update> {
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
        let mut route_deletes = Vec::new();
        for (key, old) in touched.routes {
            match (old, self.routes.get(&key)) {
                (None, Some(new)) => writes.push(Update::insert(route_entity(key, *new))),
                (Some(old), Some(new)) if old != *new => {
                    writes.push(Update::modify(route_entity(key, *new)))
                }
                (Some(old), None) => route_deletes.push(Update::delete(route_entity(key, old))),
                _ => {}
            }
        }
        route_deletes.reverse();
        deletes.reverse();
        writes.extend(route_deletes);
        writes.extend(deletes);
        writes
    }

    /// The updates that make a switch holding `actual` hold exactly what this data plane wants
    /// (after a controller restart, a switch restart, or a failed write).
    pub fn reconcile(&self, actual: &[Entity]) -> Vec<Update> {
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
        let desired: Vec<Entity> = self.entities().collect();
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
    let call = match action {
        RouteAction::Nexthop(id) => call(names::SET_NEXTHOP, vec![("nexthop_id", u16_bytes(id))]),
        RouteAction::Group(id) => call(names::SET_ECMP_GROUP, vec![("group_id", u16_bytes(id))]),
        RouteAction::Drop => call(names::DROP, vec![]),
        RouteAction::Punt => call(names::PUNT, vec![]),
    };
    table_entry(table, matches, TableAction::Action(call))
}

#[cfg(test)]
mod tests;
