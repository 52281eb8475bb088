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

mod route;

pub use route::{
    Adjacency, FibAction, Forward, LeakSource, PathSource, Protocol, Route, VpnPath, VrfName,
};
pub use vpn_types::{AdminValue, AdminValueError, RouteDistinguisher, RouteTarget};

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

/// A VRF's address-family policy: its RD, route targets and what it redistributes into BGP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VrfPolicy {
    /// Without an RD the VRF takes no part in the VPN table (as in IOS).
    pub rd: Option<RouteDistinguisher>,
    pub import: BTreeSet<RouteTarget>,
    pub export: BTreeSet<RouteTarget>,
    pub redistribute_connected: bool,
    pub redistribute_static: bool,
}

impl VrfPolicy {
    fn redistributes(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Connected => self.redistribute_connected,
            Protocol::Static => self.redistribute_static,
            Protocol::Local | Protocol::Bgp => false,
        }
    }
}

/// Which candidate of a prefix a route is; ordering breaks ties between equal distances.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum CandidateKey {
    /// One of the VRF's own routes (one per protocol and prefix).
    Own(Protocol),
    /// Imported from the VPN table: which RD:prefix path.
    Imported(RouteDistinguisher, PathSource),
}

/// All candidate routes of one prefix in one VRF, and which one is best.
#[derive(Clone, Debug, Default)]
pub struct PrefixEntry {
    pub candidates: BTreeMap<CandidateKey, Route>,
    /// The route selected by the last delta, kept as it was so the next delta knows what the
    /// FIB was derived from even after the candidate itself changed or left.
    pub best: Option<(CandidateKey, Route)>,
}

impl PrefixEntry {
    /// The selected route, if any.
    pub fn best_route(&self) -> Option<&Route> {
        self.best.as_ref().map(|(_, r)| r)
    }

    fn select(&self) -> Option<CandidateKey> {
        self.candidates
            .iter()
            .min_by(|(ka, ra), (kb, rb)| ra.distance.cmp(&rb.distance).then_with(|| ka.cmp(kb)))
            .map(|(k, _)| k.clone())
    }
}

#[derive(Debug, Default)]
struct VrfState {
    policy: VrfPolicy,
    table: BTreeMap<IpNet, PrefixEntry>,
    fib: BTreeMap<IpNet, FibAction>,
    /// Set by [`Rib::remove_vrf`]: the VRF empties itself and is dropped by the next delta.
    removing: bool,
}

/// One changed FIB entry: the action now in force, or `None` when the prefix is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FibChange {
    pub vrf: VrfName,
    pub prefix: IpNet,
    pub action: Option<FibAction>,
}

/// The FIB changes of one [`Rib::take_delta`], sorted by VRF and prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FibDelta {
    pub changes: Vec<FibChange>,
}

type VpnKey = (RouteDistinguisher, IpNet);

/// The routing state of the router: every VRF, the VPN table and the FIB.
#[derive(Debug, Default)]
pub struct Rib {
    vrfs: BTreeMap<VrfName, VrfState>,
    vpn: BTreeMap<VpnKey, BTreeMap<PathSource, VpnPath>>,
    /// Which VRFs import each RT: the VRFs a changed VPN path may need to reach.
    importers: BTreeMap<RouteTarget, BTreeSet<VrfName>>,
    /// Which VRFs hold a candidate imported from each VPN key: where a withdrawal must reach.
    imported_into: BTreeMap<VpnKey, BTreeSet<VrfName>>,
    /// Connected subnets of each interface, for neighbor host entries; counted, because a
    /// VRF being removed and its successor may briefly both hold the interface's subnet.
    attached: BTreeMap<Arc<str>, BTreeMap<IpNet, usize>>,
    neighbors_by_interface: BTreeMap<Arc<str>, BTreeSet<IpAddr>>,
    neighbors_by_address: BTreeMap<IpAddr, BTreeSet<Arc<str>>>,

    dirty_best: BTreeSet<(VrfName, IpNet)>,
    dirty_vpn: BTreeSet<VpnKey>,
    dirty_fib: BTreeSet<(VrfName, IpNet)>,
    reexport: BTreeSet<VrfName>,
    reimport: BTreeSet<VrfName>,
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

impl Rib {
    pub fn new() -> Self {
        Self::default()
    }

    // ----- changes ---------------------------------------------------------------------------

    /// Creates a VRF or changes its policy. Changing the RD, export RTs or redistribution
    /// re-exports the VRF's routes; changing import RTs re-evaluates every VPN path for it.
    pub fn upsert_vrf(&mut self, name: &str, policy: VrfPolicy) {
        let name: VrfName = self.vrf_name(name);
        let is_new = !self.vrfs.contains_key(&name);
        let state = self.vrfs.entry(name.clone()).or_default();
        state.removing = false;
        let old = std::mem::replace(&mut state.policy, policy.clone());
        if is_new
            || old.rd != policy.rd
            || old.export != policy.export
            || old.redistribute_connected != policy.redistribute_connected
            || old.redistribute_static != policy.redistribute_static
        {
            self.reexport.insert(name.clone());
        }
        if old.import != policy.import {
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
        let own: Vec<(IpNet, Protocol)> = self.vrfs[&name]
            .table
            .iter()
            .flat_map(|(p, e)| {
                e.candidates.keys().filter_map(move |k| match k {
                    CandidateKey::Own(proto) => Some((*p, *proto)),
                    CandidateKey::Imported(..) => None,
                })
            })
            .collect();
        for (prefix, protocol) in own {
            // The VRF exists, so this cannot fail.
            let _ = self.withdraw_route(&name, prefix, protocol);
        }
        if let Some(state) = self.vrfs.get_mut(&name) {
            state.removing = true;
        }
    }

    /// Adds or replaces one of a VRF's own routes (connected, local or static) for a prefix.
    pub fn upsert_route(&mut self, vrf: &str, prefix: IpNet, route: Route) -> Result<(), RibError> {
        if route.protocol == Protocol::Bgp || route.leaked.is_some() {
            return Err(RibError::NotOwnProtocol(route.protocol));
        }
        let name = self.known_vrf(vrf)?;
        let prefix = prefix.trunc();
        let entry = self
            .vrfs
            .get_mut(&name)
            .expect("known")
            .table
            .entry(prefix)
            .or_default();
        let key = CandidateKey::Own(route.protocol);
        if entry.candidates.get(&key) == Some(&route) {
            return Ok(());
        }
        if let Some(Route {
            forward: Forward::Attached { interface },
            ..
        }) = entry.candidates.get(&key)
        {
            Self::unattach(&mut self.attached, interface, prefix);
        }
        if let (Protocol::Connected, Forward::Attached { interface }) =
            (route.protocol, &route.forward)
        {
            *self
                .attached
                .entry(interface.clone())
                .or_default()
                .entry(prefix)
                .or_default() += 1;
        }
        entry.candidates.insert(key, route);
        self.dirty_best.insert((name, prefix));
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
        if let Some(route) = entry.candidates.remove(&CandidateKey::Own(protocol)) {
            if let Forward::Attached { interface } = &route.forward {
                Self::unattach(&mut self.attached, interface, prefix);
            }
            self.dirty_best.insert((name, prefix));
        }
        Ok(())
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
            self.mark_neighbor(&interface, address);
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
        let interface: Arc<str> = Arc::from(interface);
        self.mark_neighbor(&interface, address);
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
        for (name, state) in &self.vrfs {
            if subnets.iter().any(|s| state.table.contains_key(s)) {
                self.dirty_fib.insert((name.clone(), host_prefix(address)));
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
            if let Some((vrf, prefix)) = self.dirty_best.pop_first() {
                self.select_best(&vrf, prefix);
                continue;
            }
            if let Some(key) = self.dirty_vpn.pop_first() {
                self.propagate_vpn(key);
                continue;
            }
            break;
        }
        let mut delta = FibDelta::default();
        for (vrf, prefix) in std::mem::take(&mut self.dirty_fib) {
            let action = self.compute_fib(&vrf, prefix);
            let Some(state) = self.vrfs.get_mut(&vrf) else {
                continue;
            };
            let changed = match &action {
                Some(a) => state.fib.insert(prefix, a.clone()).as_ref() != Some(a),
                None => state.fib.remove(&prefix).is_some(),
            };
            if changed {
                delta.changes.push(FibChange {
                    vrf: vrf.clone(),
                    prefix,
                    action,
                });
            }
        }
        self.vrfs
            .retain(|_, s| !(s.removing && s.table.is_empty() && s.fib.is_empty()));
        delta
    }

    /// Recomputes the best route of one prefix; on change, marks FIB keys and the export.
    fn select_best(&mut self, vrf: &VrfName, prefix: IpNet) {
        let Some(state) = self.vrfs.get_mut(vrf) else {
            return;
        };
        let Some(entry) = state.table.get_mut(&prefix) else {
            return;
        };
        let old_forward = entry.best_route().map(|r| r.forward.clone());
        entry.best = entry.select().map(|k| {
            let route = entry.candidates[&k].clone();
            (k, route)
        });
        let new_forward = entry.best_route().map(|r| r.forward.clone());
        if entry.candidates.is_empty() {
            // The one place a table entry leaves: after its FIB consequences are marked below.
            state.table.remove(&prefix);
        }
        // The route itself may have changed under the same key: always refresh FIB and export.
        self.dirty_fib.insert((vrf.clone(), prefix));
        // Host entries derived from the old subnet route: whatever the FIB holds inside it
        // (the neighbors they came from may already be gone).
        if let Some(Forward::Attached { .. }) = old_forward {
            let hosts: Vec<IpNet> = Self::fib_hosts_within(&state.fib, prefix).collect();
            for host in hosts {
                self.dirty_fib.insert((vrf.clone(), host));
            }
        }
        // Host entries the new subnet route brings: today's neighbors of its interface.
        if let Some(Forward::Attached { interface }) = new_forward {
            if let Some(hosts) = self.neighbors_by_interface.get(&interface) {
                for host in hosts.iter().filter(|h| prefix.contains(*h)) {
                    self.dirty_fib.insert((vrf.clone(), host_prefix(*host)));
                }
            }
        }
        self.export(vrf, prefix);
    }

    /// Host (/32, /128) FIB prefixes inside a subnet: a range scan, as a subnet's addresses
    /// are contiguous in prefix order.
    fn fib_hosts_within(
        fib: &BTreeMap<IpNet, FibAction>,
        subnet: IpNet,
    ) -> impl Iterator<Item = IpNet> + '_ {
        let first = IpNet::new(subnet.network(), 0).expect("0 is a valid length");
        let last = host_prefix(subnet.broadcast());
        fib.range(first..=last)
            .map(|(p, _)| *p)
            .filter(move |p| is_host(p) && subnet.contains(p))
    }

    /// Puts the VRF's best route for a prefix into the VPN table, or takes it out.
    fn export(&mut self, vrf: &VrfName, prefix: IpNet) {
        let Some(state) = self.vrfs.get(vrf) else {
            return;
        };
        let Some(rd) = state.policy.rd else {
            return;
        };
        let path = state
            .table
            .get(&prefix)
            .and_then(|e| e.best_route())
            .and_then(|r| {
                (r.leaked.is_none() && state.policy.redistributes(r.protocol)).then(|| VpnPath {
                    protocol: r.protocol,
                    forward: r.forward.clone(),
                    tag: r.tag,
                    route_targets: state.policy.export.iter().copied().collect(),
                })
            });
        let key = (rd, prefix);
        let source = PathSource::Vrf(vrf.clone());
        let paths = self.vpn.entry(key).or_default();
        let changed = match path {
            Some(p) => paths.insert(source, p.clone()).as_ref() != Some(&p),
            None => paths.remove(&source).is_some(),
        };
        if paths.is_empty() {
            self.vpn.remove(&key);
        }
        if changed {
            self.dirty_vpn.insert(key);
        }
    }

    /// Takes all of a VRF's paths out of the VPN table and exports its best routes afresh
    /// (after an RD, export RT or redistribution change).
    fn reexport_vrf(&mut self, vrf: &VrfName) {
        let source = PathSource::Vrf(vrf.clone());
        let stale: Vec<VpnKey> = self
            .vpn
            .iter()
            .filter(|(_, paths)| paths.contains_key(&source))
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            if let Some(paths) = self.vpn.get_mut(&key) {
                paths.remove(&source);
                if paths.is_empty() {
                    self.vpn.remove(&key);
                }
            }
            self.dirty_vpn.insert(key);
        }
        let prefixes: Vec<IpNet> = self
            .vrfs
            .get(vrf)
            .map(|s| s.table.keys().copied().collect())
            .unwrap_or_default();
        for prefix in prefixes {
            self.export(vrf, prefix);
        }
    }

    /// Re-evaluates every VPN key for one VRF (after its import RTs changed).
    fn reimport_vrf(&mut self, vrf: &VrfName) {
        let mut keys: BTreeSet<VpnKey> = self.vpn.keys().copied().collect();
        keys.extend(
            self.imported_into
                .iter()
                .filter(|(_, vrfs)| vrfs.contains(vrf))
                .map(|(k, _)| *k),
        );
        for key in keys {
            self.sync_import(vrf, key);
        }
    }

    /// Brings one changed VPN key to every VRF that imports it or held it.
    fn propagate_vpn(&mut self, key: VpnKey) {
        let mut targets: BTreeSet<VrfName> =
            self.imported_into.get(&key).cloned().unwrap_or_default();
        if let Some(paths) = self.vpn.get(&key) {
            for path in paths.values() {
                for rt in &path.route_targets {
                    if let Some(vrfs) = self.importers.get(rt) {
                        targets.extend(vrfs.iter().cloned());
                    }
                }
            }
        }
        for vrf in targets {
            self.sync_import(&vrf, key);
        }
    }

    /// Makes a VRF's imported candidates for one VPN key match the VPN table and its RTs.
    fn sync_import(&mut self, vrf: &VrfName, key: VpnKey) {
        let (rd, prefix) = key;
        let Some(state) = self.vrfs.get(vrf) else {
            return;
        };
        let mut wanted: BTreeMap<CandidateKey, Route> = BTreeMap::new();
        if let Some(paths) = self.vpn.get(&key) {
            for (source, path) in paths {
                let PathSource::Vrf(origin) = source;
                if origin == vrf {
                    continue;
                }
                if path
                    .route_targets
                    .iter()
                    .any(|rt| state.policy.import.contains(rt))
                {
                    wanted.insert(
                        CandidateKey::Imported(rd, source.clone()),
                        Route {
                            protocol: Protocol::Bgp,
                            distance: Protocol::Bgp.default_distance(),
                            forward: path.forward.clone(),
                            tag: path.tag,
                            leaked: Some(LeakSource {
                                rd,
                                vrf: origin.clone(),
                                protocol: path.protocol,
                            }),
                        },
                    );
                }
            }
        }
        let state = self.vrfs.get_mut(vrf).expect("checked above");
        let entry = state.table.entry(prefix).or_default();
        let current: BTreeMap<CandidateKey, Route> = entry
            .candidates
            .iter()
            .filter(|(k, _)| matches!(k, CandidateKey::Imported(r, _) if *r == rd))
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        if current != wanted {
            entry
                .candidates
                .retain(|k, _| !matches!(k, CandidateKey::Imported(r, _) if *r == rd));
            let holds = !wanted.is_empty();
            entry.candidates.extend(wanted);
            if holds {
                self.imported_into
                    .entry(key)
                    .or_default()
                    .insert(vrf.clone());
            } else if let Some(set) = self.imported_into.get_mut(&key) {
                set.remove(vrf);
                if set.is_empty() {
                    self.imported_into.remove(&key);
                }
            }
            self.dirty_best.insert((vrf.clone(), prefix));
        } else if entry.candidates.is_empty() && entry.best.is_none() {
            // Only an entry nothing was derived from may go here; others leave in select_best.
            state.table.remove(&prefix);
        }
    }

    /// The FIB action of one prefix in one VRF: its selected route, or else the host entry
    /// of a neighbor whose connected subnet this VRF selects (the longest such subnet).
    fn compute_fib(&self, vrf: &VrfName, prefix: IpNet) -> Option<FibAction> {
        let state = self.vrfs.get(vrf)?;
        if let Some(route) = state.table.get(&prefix).and_then(|e| e.best_route()) {
            return Some(match &route.forward {
                Forward::Attached { .. } | Forward::Blackhole => FibAction::Drop,
                Forward::Receive { .. } => FibAction::Punt,
                Forward::Nexthops(adjs) => FibAction::Forward(adjs.clone()),
            });
        }
        if !is_host(&prefix) {
            return None;
        }
        let address = prefix.addr();
        let mut found: Option<(u8, Arc<str>)> = None;
        for interface in self
            .neighbors_by_address
            .get(&address)
            .into_iter()
            .flatten()
        {
            for subnet in self
                .attached
                .get(interface)
                .into_iter()
                .flat_map(|s| s.keys())
            {
                if !subnet.contains(&address) {
                    continue;
                }
                let selects = state.table.get(subnet).and_then(|e| e.best_route()).is_some_and(
                    |r| matches!(&r.forward, Forward::Attached { interface: i } if i == interface),
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
        found.map(|(_, interface)| FibAction::Forward(vec![Adjacency { interface, address }]))
    }

    // ----- views ---------------------------------------------------------------------------

    /// VRF names, sorted.
    pub fn vrf_names(&self) -> impl Iterator<Item = &VrfName> {
        self.vrfs.keys()
    }

    /// A VRF's policy.
    pub fn vrf_policy(&self, vrf: &str) -> Option<&VrfPolicy> {
        self.vrfs.get(vrf).map(|s| &s.policy)
    }

    /// A VRF's routing table: every prefix with its candidates and selected route.
    pub fn table(&self, vrf: &str) -> Option<&BTreeMap<IpNet, PrefixEntry>> {
        self.vrfs.get(vrf).map(|s| &s.table)
    }

    /// A VRF's FIB as last computed by [`Rib::take_delta`].
    pub fn fib(&self, vrf: &str) -> Option<&BTreeMap<IpNet, FibAction>> {
        self.vrfs.get(vrf).map(|s| &s.fib)
    }

    /// The VPN table: RD:prefix → paths.
    pub fn vpn_table(&self) -> &BTreeMap<VpnKey, BTreeMap<PathSource, VpnPath>> {
        &self.vpn
    }

    /// Neighbors of an interface.
    pub fn neighbors(&self, interface: &str) -> impl Iterator<Item = &IpAddr> {
        self.neighbors_by_interface
            .get(interface)
            .into_iter()
            .flatten()
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
