//! The BGP instance of the running router: sessions (the `bgp` crate's speaker), what each
//! neighbor sent us (Adj-RIB-In) through import policy into the RIB, and what each neighbor is
//! told (Adj-RIB-Out) from the RIB's best paths through export policy.
//!
//! ```text
//! UPDATE ─► decode ─► Adj-RIB-In ─► loops, well-known communities, route-map in ─► RIB
//! RIB delta (BGP table / VPN changes) ─► export rules, route-map out, GateD ─► Adj-RIB-Out ─► UPDATE
//! ```
//!
//! A neighbor with a `vrf` is a CE: IPv4/IPv6 unicast routes of that VRF. A neighbor without
//! is a PE or route reflector: VPNv4/VPNv6 routes of the VPN table. The main loop owns both
//! this instance and the [`Router`]; nothing here blocks on anything but a neighbor's socket.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use bgp::packet::Family;
use bgp::session::{
    Event, Events, Negotiated, Neighbor as Session, NeighborConfig, NeighborEvent, Speaker,
    SpeakerConfig, State,
};
use bgp_rib::export::{prepare_counted, ExportNeighbor, Learned};
use bgp_rib::{
    as_path_loop, decode_update, pack, reflection_loop, AdjRibIn, AdjRibOut, AttrInterner, Nlri,
    PackContext, PeerInfo,
};
use ipnet::IpNet;
use policy::{Attrs, NeighborOptions, PeerType, RouteMapStats};
use rib::{CandidateKey, PathSource, PeerRef};
use tracing::{info, warn};

use crate::config::{BgpConfig, BgpNeighbor, Config};
use crate::router::Router;

/// One configured neighbor and what we know of its session.
struct Peer {
    cfg: BgpNeighbor,
    session: Session,
    negotiated: Option<Arc<Negotiated>>,
    /// What it sent us, and which of it import policy accepted (is in the RIB).
    adj_in: AdjRibIn,
    adj_out: BTreeMap<Family, AdjRibOut>,
    up_since: Option<Instant>,
    flaps: u32,
    last_down: Option<String>,
}

impl Peer {
    fn is_ibgp(&self, local_as: u32) -> bool {
        self.cfg.is_ibgp(local_as)
    }

    fn peer_ref(&self, local_as: u32) -> PeerRef {
        PeerRef {
            addr: self.cfg.address,
            router_id: self
                .negotiated
                .as_ref()
                .map_or(Ipv4Addr::UNSPECIFIED, |n| n.remote_id),
            ebgp: !self.is_ibgp(local_as),
            rr_client: self.cfg.route_reflector_client,
        }
    }

    fn peer_type(&self, local_as: u32) -> PeerType {
        if self.is_ibgp(local_as) {
            PeerType::Ibgp
        } else {
            PeerType::Ebgp
        }
    }

    fn is_up(&self) -> bool {
        self.negotiated.is_some()
    }

    /// Routes in its Adj-RIB-Out, all families.
    fn advertised(&self) -> usize {
        self.adj_out.values().map(|o| o.len()).sum()
    }

    fn neighbor(&self, local_as: u32) -> policy::Neighbor {
        let peer_type = self.peer_type(local_as);
        let mut options = NeighborOptions::default_for(peer_type);
        options.send_community = self.cfg.send_community;
        if let Some(b) = self.cfg.accept_blackhole {
            options.accept_blackhole = b;
        }
        options.graceful_shutdown = self.cfg.graceful_shutdown;
        options.honour_nopeer = self.cfg.honour_nopeer;
        options.nopeer_to_route_server = self.cfg.nopeer_to_route_server;
        policy::Neighbor {
            peer_type,
            relationship: self.cfg.relationship,
            options,
        }
    }

    fn negotiated_family(&self, f: Family) -> bool {
        self.negotiated
            .as_ref()
            .is_some_and(|n| n.context.families.contains(f))
    }
}

/// The BGP instance.
pub struct BgpInstance {
    cfg: BgpConfig,
    policy: Arc<policy::Policy>,
    /// The GateD export statements, shared by every neighbor with `gated-export`.
    gated: Arc<policy::GatedExport>,
    speaker: Speaker,
    peers: BTreeMap<IpAddr, Peer>,
    interner: AttrInterner,
    /// Hit counters of the neighbors' route-maps (in and out), by route-map name.
    map_stats: BTreeMap<String, RouteMapStats>,
}

fn family_of(nlri: &Nlri) -> Family {
    match nlri {
        Nlri::Unicast(IpNet::V4(_)) => Family::Ipv4Unicast,
        Nlri::Unicast(IpNet::V6(_)) => Family::Ipv6Unicast,
        Nlri::Vpn {
            prefix: IpNet::V4(_),
            ..
        } => Family::Vpnv4,
        Nlri::Vpn { .. } => Family::Vpnv6,
    }
}

/// Which families of a neighbor's Adj-RIB-Out hold routes, kept as an advertisement round
/// applies its changes: a change that leaves the neighbor nothing in a family where it holds
/// nothing changes nothing, and is passed over without looking the key up — in a full
/// table from one neighbor, that is every change (the routes are its own).
struct HeldFamilies {
    holds: [bool; Family::ALL.len()],
    /// Whether a change was passed over so (`set_out` would have touched the route-map's
    /// counters for it).
    passed_over_nothing_held: bool,
}

impl HeldFamilies {
    fn of(p: &Peer) -> Self {
        HeldFamilies {
            holds: Family::ALL.map(|f| Self::holds_any(p, f)),
            passed_over_nothing_held: false,
        }
    }

    fn holds_any(p: &Peer, f: Family) -> bool {
        p.adj_out.get(&f).is_some_and(|o| !o.is_empty())
    }

    fn slot(f: Family) -> usize {
        Family::ALL.iter().position(|a| *a == f).unwrap_or(0)
    }

    /// Whether a change to `nlri` is left out of this round: it leaves nothing where nothing
    /// is held, or the delta taken ahead changed the key again (`ahead`, asked only for the
    /// changes that would do something), whose write reports it once done.
    fn passes_over(&mut self, nlri: Nlri, nothing: bool, ahead: impl FnOnce() -> bool) -> bool {
        if nothing && !self.holds[Self::slot(family_of(&nlri))] {
            self.passed_over_nothing_held = true;
            return true;
        }
        ahead()
    }

    /// After a change to `nlri` was applied.
    fn update(&mut self, p: &Peer, nlri: Nlri) {
        let f = family_of(&nlri);
        self.holds[Self::slot(f)] = Self::holds_any(p, f);
    }
}

fn session_config(b: &BgpConfig, n: &BgpNeighbor) -> NeighborConfig {
    let mut c = NeighborConfig::new(n.address, b.asn, n.remote_as, b.router_id);
    c.remote_port = n.port;
    c.local_addr = n.local_address;
    c.passive = n.passive;
    c.hold_time = n.hold_time;
    c.timers.connect_retry = std::time::Duration::from_secs(n.connect_retry.into());
    c.families = n.families.iter().copied().collect();
    c.graceful_restart = n.graceful_restart;
    c
}

impl BgpInstance {
    /// Binds the listeners and starts every neighbor's session.
    pub async fn start(config: &Config) -> anyhow::Result<Option<(BgpInstance, Events)>> {
        let Some(cfg) = config.bgp.clone() else {
            return Ok(None);
        };
        let (speaker, events) = Speaker::bind(SpeakerConfig {
            listen: cfg.listen.clone(),
            ..Default::default()
        })
        .await?;
        let mut inst = BgpInstance {
            cfg: cfg.clone(),
            policy: config.policy.0.clone(),
            gated: Arc::new(config.policy.0.gated_export.clone()),
            speaker,
            peers: BTreeMap::new(),
            interner: AttrInterner::new(),
            map_stats: BTreeMap::new(),
        };
        for n in cfg.neighbors.values() {
            inst.add_peer(n.clone()).await?;
        }
        info!(
            asn = cfg.asn,
            router_id = %cfg.router_id,
            neighbors = cfg.neighbors.len(),
            "BGP started"
        );
        Ok(Some((inst, events)))
    }

    async fn add_peer(&mut self, n: BgpNeighbor) -> anyhow::Result<()> {
        let session = self.speaker.add_neighbor(session_config(&self.cfg, &n))?;
        session.start().await?;
        self.peers.insert(
            n.address,
            Peer {
                adj_in: AdjRibIn::new(n.soft_reconfiguration_inbound),
                cfg: n,
                session,
                negotiated: None,
                adj_out: BTreeMap::new(),
                up_since: None,
                flaps: 0,
                last_down: None,
            },
        );
        Ok(())
    }

    /// Applies a new configuration: neighbors added and removed; a neighbor whose session
    /// parameters changed is reset; one whose policy alone changed is re-evaluated in place
    /// (inbound from the kept pre-policy routes or by ROUTE-REFRESH, outbound by recomputing
    /// its Adj-RIB-Out) — no reset.
    pub async fn reconfigure(&mut self, config: &Config, router: &mut Router) {
        let Some(cfg) = config.bgp.clone() else {
            warn!("the [bgp] section was removed; restart p4vrf to stop BGP");
            return;
        };
        let policy_changed = format!("{:?}", self.policy) != format!("{:?}", config.policy.0);
        self.policy = config.policy.0.clone();
        self.gated = Arc::new(config.policy.0.gated_export.clone());
        let old = std::mem::replace(&mut self.cfg, cfg.clone());
        let gone: Vec<IpAddr> = self
            .peers
            .keys()
            .filter(|a| !cfg.neighbors.contains_key(a))
            .copied()
            .collect();
        for a in gone {
            info!(neighbor = %a, "neighbor removed");
            let _ = self.speaker.remove_neighbor(a).await;
            self.peer_down(a, router, "removed from the configuration");
            self.peers.remove(&a);
        }
        for (a, n) in &cfg.neighbors {
            let reset = match self.peers.get(a) {
                None => true,
                Some(p) => {
                    session_config(&old, &p.cfg) != session_config(&cfg, n)
                        || p.cfg.vrf != n.vrf
                        || p.cfg.soft_reconfiguration_inbound != n.soft_reconfiguration_inbound
                }
            };
            if reset {
                if self.peers.contains_key(a) {
                    info!(neighbor = %a, "session parameters changed: resetting the session");
                    let _ = self.speaker.remove_neighbor(*a).await;
                    self.peer_down(*a, router, "session parameters changed");
                    self.peers.remove(a);
                }
                if let Err(e) = self.add_peer(n.clone()).await {
                    warn!(neighbor = %a, "cannot start the session: {e:#}");
                }
                continue;
            }
            let p = self.peers.get_mut(a).expect("present");
            let in_changed = policy_changed || p.cfg.route_map_in != n.route_map_in;
            p.cfg = n.clone();
            if !p.is_up() {
                continue;
            }
            if in_changed {
                self.reimport(*a, router).await;
            }
            // Outbound: recompute everything; the Adj-RIB-Out sends only the difference.
            self.full_table(*a, router);
        }
    }

    /// Inbound policy changed: re-run it over the kept pre-policy routes (soft
    /// reconfiguration), or ask the neighbor to send its routes again (RFC 2918).
    async fn reimport(&mut self, addr: IpAddr, router: &mut Router) {
        let Some(p) = self.peers.get(&addr) else {
            return;
        };
        if p.adj_in.soft_reconfig() {
            let all: Vec<bgp_rib::Announcement> = p.adj_in.iter_pre_policy().collect();
            info!(neighbor = %addr, routes = all.len(), "re-applying inbound policy (soft reconfiguration)");
            self.import_all(addr, all, router);
        } else if p.negotiated.as_ref().is_some_and(|n| n.route_refresh) {
            for f in p.cfg.families.clone() {
                if p.negotiated_family(f) {
                    info!(neighbor = %addr, family = ?f, "inbound policy changed: sending ROUTE-REFRESH");
                    if let Err(e) = p.session.send_route_refresh(f).await {
                        warn!(neighbor = %addr, "route refresh: {e}");
                    }
                }
            }
        } else {
            warn!(neighbor = %addr, "inbound policy changed, but the neighbor has no route refresh and soft-reconfiguration inbound is off: the change applies to new routes only");
        }
    }

    /// Handles one session event; RIB changes are left for the caller's [`Router::commit`]
    /// and [`BgpInstance::advertise`].
    pub async fn handle(&mut self, ev: NeighborEvent, router: &mut Router) {
        let addr = ev.peer;
        if !self.peers.contains_key(&addr) {
            return;
        }
        match ev.event {
            Event::StateChanged { from, to, reason } => {
                tracing::debug!(neighbor = %addr, ?from, ?to, ?reason, "state");
            }
            Event::Established(neg) => {
                let p = self.peers.get_mut(&addr).expect("present");
                info!(neighbor = %addr, remote_as = neg.remote_as, remote_id = %neg.remote_id, "session established");
                p.negotiated = Some(neg.clone());
                p.up_since = Some(Instant::now());
                p.adj_out.clear();
                self.full_table(addr, router);
                self.flush(addr).await;
                let p = self.peers.get(&addr).expect("present");
                for f in p.cfg.families.clone() {
                    if p.negotiated_family(f) {
                        let _ = p.session.send_end_of_rib(f).await;
                    }
                }
            }
            Event::PeerDown { reason, stale } => {
                let stale_families: Vec<Family> = stale.iter().collect();
                let why = format!("{reason:?}");
                if stale_families.is_empty() {
                    self.peer_down(addr, router, &why);
                } else {
                    // One walk of the RIB for the neighbor's routes, split by family.
                    let in_rib = self.rib_keys(addr, router.rib());
                    let p = self.peers.get_mut(&addr).expect("present");
                    info!(neighbor = %addr, "session down ({why}); keeping its routes as stale (graceful restart)");
                    for f in stale_families {
                        p.adj_in
                            .mark_stale(f, in_rib.iter().filter(|n| n.family() == f).copied());
                    }
                    p.negotiated = None;
                    p.up_since = None;
                    p.flaps += 1;
                    p.last_down = Some(why);
                    p.adj_out.clear();
                }
            }
            Event::StaleFlush { family, .. } => {
                let p = self.peers.get_mut(&addr).expect("present");
                let gone = p.adj_in.flush_stale(family);
                for n in gone {
                    self.withdraw(addr, n, router);
                }
            }
            Event::Update { update, findings } => {
                for f in &findings {
                    warn!(neighbor = %addr, "RFC 7606: {f:?}");
                }
                let local_as = self.cfg.asn;
                let p = self.peers.get_mut(&addr).expect("present");
                let info = PeerInfo {
                    remote_as: p.cfg.remote_as,
                    peer_type: p.peer_type(local_as),
                };
                let mut inbound = decode_update(&update, &info);
                inbound.intern(&mut self.interner);
                // Sets no route holds any more (withdrawn, replaced) go once the set doubled.
                self.interner.purge_if_grown();
                let withdrawn = p.adj_in.apply_update(&inbound);
                for n in withdrawn {
                    self.withdraw(addr, n, router);
                }
                for r in &inbound.reach {
                    self.import_group(addr, &r.attrs, &r.routes, router);
                }
            }
            Event::EndOfRib(f) => {
                let p = self.peers.get(&addr).expect("present");
                info!(
                    neighbor = %addr,
                    family = ?f,
                    received = p.adj_in.len(),
                    accepted = p.adj_in.accepted_len(),
                    "End-of-RIB received"
                );
            }
            Event::RouteRefresh(f) => {
                info!(neighbor = %addr, family = ?f, "ROUTE-REFRESH received: sending the table again");
                if let Some(out) = self
                    .peers
                    .get_mut(&addr)
                    .and_then(|p| p.adj_out.get_mut(&f))
                {
                    out.refresh_all();
                }
                self.flush(addr).await;
            }
        }
    }

    /// The session went down: everything it sent leaves the RIB.
    fn peer_down(&mut self, addr: IpAddr, router: &mut Router, why: &str) {
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let accepted = p.adj_in.accepted_len();
        if p.is_up() {
            info!(neighbor = %addr, routes_removed = accepted, "session down: {why}");
            p.flaps += 1;
        }
        p.negotiated = None;
        p.up_since = None;
        p.last_down = Some(why.to_string());
        p.adj_out.clear();
        // Its routes in the RIB, as the RIB lists them (the Adj-RIB-In keeps no set of them).
        for n in self.rib_keys(addr, router.rib()) {
            self.withdraw(addr, n, router);
        }
        if let Some(p) = self.peers.get_mut(&addr) {
            p.adj_in.clear();
        }
    }

    /// A neighbor's routes in the RIB, as the RIB lists them, in no order: in its VRF for a
    /// neighbor of a VRF, in the VPN table for a global one. These are the routes import
    /// policy accepted.
    fn rib_keys(&self, addr: IpAddr, rib: &rib::Rib) -> Vec<Nlri> {
        let Some(p) = self.peers.get(&addr) else {
            return Vec::new();
        };
        match &p.cfg.vrf {
            Some(vrf) => rib
                .peer_prefixes(vrf, addr)
                .into_iter()
                .map(Nlri::Unicast)
                .collect(),
            None => rib
                .peer_vpn_keys(addr)
                .into_iter()
                .map(|(rd, prefix)| Nlri::Vpn { rd, prefix })
                .collect(),
        }
    }

    /// Import policy on received routes, into the RIB or out of it. Without an inbound
    /// route-map the verdict depends on the attribute set alone (loops, well-known
    /// communities), which the routes of one UPDATE share: it is worked out once per set.
    fn import_all(
        &mut self,
        addr: IpAddr,
        announced: Vec<bgp_rib::Announcement>,
        router: &mut Router,
    ) {
        let per_set = self
            .peers
            .get(&addr)
            .is_some_and(|p| p.cfg.route_map_in.is_none());
        let mut memo: Option<(Arc<Attrs>, Option<Arc<Attrs>>)> = None;
        for a in announced {
            let verdict = match &memo {
                Some((seen, v)) if per_set && Arc::ptr_eq(seen, &a.attrs) => v.clone(),
                _ => {
                    let v = self.verdict(addr, a.nlri.prefix(), &a.attrs);
                    if per_set {
                        memo = Some((a.attrs.clone(), v.clone()));
                    }
                    v
                }
            };
            self.install(addr, a.nlri, a.label, verdict, router);
        }
    }

    /// What import policy makes of a received path: loops, well-known communities, the
    /// inbound route-map; the interned attributes to install, or `None` when refused.
    fn verdict(&mut self, addr: IpAddr, prefix: IpNet, attrs: &Arc<Attrs>) -> Option<Arc<Attrs>> {
        let local_as = self.cfg.asn;
        let (router_id, cluster_id) = (self.cfg.router_id, self.cfg.cluster_id);
        let p = self.peers.get(&addr)?;
        let looped = as_path_loop(attrs, local_as, None)
            || (p.is_ibgp(local_as) && reflection_loop(attrs, router_id, cluster_id));
        if looped {
            return None;
        }
        let route = policy::Route {
            prefix,
            attrs: attrs.clone(),
        };
        let policy::Received::Accept { route, .. } =
            policy::on_receive(route, &p.neighbor(local_as))
        else {
            return None;
        };
        let out = match &p.cfg.route_map_in {
            None => route.attrs,
            Some(m) => {
                let st = self
                    .map_stats
                    .entry(m.name().to_string())
                    .or_insert_with(|| m.map.new_stats());
                m.map.evaluate(&route, st).into_route()?.attrs.clone()
            }
        };
        // Received sets are interned already; only a set policy changed needs it.
        Some(if Arc::ptr_eq(&out, attrs) {
            out
        } else {
            self.interner.intern_arc(out)
        })
    }

    /// Import policy on the routes of one UPDATE that share an attribute set: without an
    /// inbound route-map the verdict is worked out once for all of them ([`Self::import_all`]
    /// says why), and the neighbor's RIB identity once, so the per-route work is the RIB
    /// upsert (the Adj-RIB-In only counts what it added).
    fn import_group(
        &mut self,
        addr: IpAddr,
        attrs: &Arc<Attrs>,
        routes: &[(Nlri, Option<u32>)],
        router: &mut Router,
    ) {
        let Some(&(first, _)) = routes.first() else {
            return;
        };
        let per_set = self
            .peers
            .get(&addr)
            .is_some_and(|p| p.cfg.route_map_in.is_none());
        if !per_set {
            for &(nlri, label) in routes {
                let verdict = self.verdict(addr, nlri.prefix(), attrs);
                self.install(addr, nlri, label, verdict, router);
            }
            return;
        }
        match self.verdict(addr, first.prefix(), attrs) {
            Some(accepted) => self.install_many(addr, routes, &accepted, router),
            None => {
                for &(nlri, label) in routes {
                    self.install(addr, nlri, label, None, router);
                }
            }
        }
    }

    /// [`Self::install`] of routes import policy accepted, all with `attrs`.
    fn install_many(
        &mut self,
        addr: IpAddr,
        routes: &[(Nlri, Option<u32>)],
        attrs: &Arc<Attrs>,
        router: &mut Router,
    ) {
        let local_as = self.cfg.asn;
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let peer = p.peer_ref(local_as);
        let rib = router.rib_mut();
        // The RIB takes the set's routes at once; a route of a family this neighbor does not
        // carry (or a VPN route without a label) is left out and not marked accepted.
        let taken = |&(nlri, label): &(Nlri, Option<u32>)| match (nlri, &p.cfg.vrf) {
            (Nlri::Unicast(_), Some(_)) => true,
            (Nlri::Vpn { .. }, None) => label.is_some(),
            _ => false,
        };
        let added = match &p.cfg.vrf {
            Some(vrf) => {
                let prefixes = routes.iter().filter_map(|(nlri, _)| match nlri {
                    Nlri::Unicast(prefix) => Some(*prefix),
                    Nlri::Vpn { .. } => None,
                });
                rib.upsert_peer_routes(vrf, peer, attrs.clone(), prefixes)
                    .ok()
            }
            None => {
                let paths = routes.iter().filter_map(|&(nlri, label)| match nlri {
                    Nlri::Vpn { rd, prefix } => Some((rd, prefix, label?)),
                    Nlri::Unicast(_) => None,
                });
                Some(rib.upsert_vpn_paths(peer, attrs.clone(), paths))
            }
        };
        match added {
            Some(added) => {
                p.adj_in.accepted(
                    added,
                    routes.iter().filter(|r| taken(r)).map(|(nlri, _)| nlri),
                );
                for (nlri, _) in routes.iter().filter(|r| !taken(r)) {
                    p.adj_in.refused(nlri);
                }
            }
            // The VRF is not in the RIB: received, in no RIB.
            None => routes.iter().for_each(|(nlri, _)| p.adj_in.refused(nlri)),
        }
    }

    /// Puts a received route into the RIB with the attributes import policy gave it, or
    /// takes it out when policy refused it (if an earlier version was in).
    fn install(
        &mut self,
        addr: IpAddr,
        nlri: Nlri,
        label: Option<u32>,
        verdict: Option<Arc<Attrs>>,
        router: &mut Router,
    ) {
        let local_as = self.cfg.asn;
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let Some(attrs) = verdict else {
            // Refused: an earlier version of it may be in the RIB.
            p.adj_in.refused(&nlri);
            self.withdraw(addr, nlri, router);
            return;
        };
        let peer = p.peer_ref(local_as);
        let rib = router.rib_mut();
        let added = match (nlri, &p.cfg.vrf) {
            (Nlri::Unicast(prefix), Some(vrf)) => {
                rib.upsert_peer_route(vrf, prefix, peer, attrs).ok()
            }
            (Nlri::Vpn { rd, prefix }, None) => {
                label.map(|label| rib.upsert_vpn_path(rd, prefix, peer, label, attrs))
            }
            _ => None, // a family this neighbor does not carry
        };
        match added {
            Some(added) => p.adj_in.accepted(usize::from(added), [&nlri]),
            None => p.adj_in.refused(&nlri),
        }
    }

    /// Takes a neighbor's route out of the RIB, if it is there, and counts it gone.
    fn withdraw(&mut self, addr: IpAddr, nlri: Nlri, router: &mut Router) {
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let rib = router.rib_mut();
        let removed = match (nlri, &p.cfg.vrf) {
            (Nlri::Unicast(prefix), Some(vrf)) => {
                rib.withdraw_peer_route(vrf, prefix, addr).unwrap_or(false)
            }
            (Nlri::Vpn { rd, prefix }, None) => rib.withdraw_vpn_path(rd, prefix, addr),
            _ => false,
        };
        if removed {
            p.adj_in.removed(1);
        }
    }

    fn export_neighbor(&self, p: &Peer) -> ExportNeighbor {
        let local_as = self.cfg.asn;
        let local = p
            .cfg
            .next_hop
            .or(p.cfg.local_address)
            .unwrap_or(IpAddr::V4(self.cfg.router_id));
        let mut x = ExportNeighbor::new(
            p.cfg.address,
            p.neighbor(local_as),
            local_as,
            p.cfg.remote_as,
            self.cfg.router_id,
            local,
        );
        x.cluster_id = self.cfg.cluster_id;
        x.rr_client = p.cfg.route_reflector_client;
        x.next_hop_self = p.cfg.next_hop_self;
        if let Some(v6) = p.cfg.next_hop_ipv6 {
            x.next_hop_v6 = Some(v6);
        }
        x.route_map_out = p.cfg.route_map_out.as_ref().map(|m| m.map.clone());
        if p.cfg.gated_export {
            x.gated_export = Some(self.gated.clone());
        }
        x
    }

    /// What one neighbor should hold for one key, per the RIB and export policy (`x`: the
    /// neighbor as export policy sees it, [`Self::export_neighbor`]).
    fn wanted(
        &mut self,
        addr: IpAddr,
        x: &ExportNeighbor,
        nlri: Nlri,
        router: &Router,
    ) -> Option<(Option<u32>, Arc<Attrs>)> {
        let p = self.peers.get(&addr)?;
        let rib = router.rib();
        let (route, learned, label) = match (&nlri, &p.cfg.vrf) {
            (Nlri::Unicast(prefix), Some(vrf)) => {
                let best = rib.bgp_best(vrf, prefix)?;
                let learned = match (&best.key, best.peer) {
                    (CandidateKey::Peer(_), Some(peer)) if peer.ebgp => {
                        Learned::Ebgp { peer: peer.addr }
                    }
                    (CandidateKey::Peer(_), Some(peer)) => Learned::Ibgp {
                        peer: peer.addr,
                        rr_client: peer.rr_client,
                        router_id: peer.router_id,
                    },
                    _ => Learned::Local,
                };
                (best.attrs.clone(), learned, None)
            }
            (Nlri::Vpn { rd, prefix }, None) => {
                let (source, path) = rib.vpn_best(&(*rd, *prefix))?;
                match source {
                    PathSource::Vrf(vrf) => (
                        path.attrs.clone(),
                        Learned::Local,
                        Some(router.vpn_label(vrf)?),
                    ),
                    PathSource::Peer(_) => {
                        let peer = *path.peer()?;
                        (
                            path.attrs.clone(),
                            Learned::Ibgp {
                                peer: peer.addr,
                                rr_client: peer.rr_client,
                                router_id: peer.router_id,
                            },
                            path.label(),
                        )
                    }
                }
            }
            _ => return None,
        };
        let route = policy::Route {
            prefix: nlri.prefix(),
            attrs: route,
        };
        let mut stats = x
            .route_map_out
            .as_ref()
            .map(|m| {
                self.map_stats
                    .remove(&m.name)
                    .unwrap_or_else(|| m.new_stats())
            })
            .unwrap_or_default();
        let result = prepare_counted(&route, &learned, x, &mut stats);
        if let Some(m) = &x.route_map_out {
            self.map_stats.insert(m.name.clone(), stats);
        }
        let attrs = result.ok()?;
        Some((
            label,
            if Arc::ptr_eq(&attrs, &route.attrs) {
                attrs
            } else {
                self.interner.intern_arc(attrs)
            },
        ))
    }

    /// Records in the neighbor's Adj-RIB-Out what it should hold for `nlri`; `nothing`: the
    /// caller knows it is nothing (no best path, or one learned from this neighbor).
    fn set_out(
        &mut self,
        addr: IpAddr,
        x: &ExportNeighbor,
        nlri: Nlri,
        router: &Router,
        nothing: bool,
    ) {
        let f = family_of(&nlri);
        let Some(p) = self.peers.get(&addr) else {
            return;
        };
        if !p.negotiated_family(f) {
            return;
        }
        if nothing && p.adj_out.get(&f).is_none_or(|o| o.get(&nlri).is_none()) {
            // Nothing to hold where nothing is held: no change (`AdjRibOut::set` would find
            // the same), only the route-map's counters `wanted` would have created.
            self.touch_map_stats(x);
            return;
        }
        let want = if nothing {
            self.touch_map_stats(x);
            None
        } else {
            self.wanted(addr, x, nlri, router)
        };
        if let Some(p) = self.peers.get_mut(&addr) {
            p.adj_out.entry(f).or_default().set(nlri, want);
        }
    }

    /// What `wanted` leaves behind even for a route it suppresses before the route-map: the
    /// map's (unchanged) counters.
    fn touch_map_stats(&mut self, x: &ExportNeighbor) {
        if let Some(m) = &x.route_map_out {
            if !self.map_stats.contains_key(&m.name) {
                self.map_stats.insert(m.name.clone(), m.new_stats());
            }
        }
    }

    /// Recomputes a neighbor's whole Adj-RIB-Out (session up, or its export policy changed).
    fn full_table(&mut self, addr: IpAddr, router: &Router) {
        let Some(p) = self.peers.get(&addr) else {
            return;
        };
        let mut keys: BTreeSet<Nlri> = p
            .adj_out
            .values()
            .flat_map(|o| o.iter().map(|(n, _, _)| *n))
            .collect();
        match &p.cfg.vrf {
            Some(vrf) => {
                if let Some(table) = router.rib().table(vrf) {
                    keys.extend(
                        table
                            .iter()
                            .filter(|(_, e)| e.has_bgp_best())
                            .map(|(prefix, _)| Nlri::Unicast(prefix)),
                    );
                }
            }
            None => keys.extend(
                router
                    .rib()
                    .vpn_table()
                    .keys()
                    .map(|(rd, prefix)| Nlri::Vpn { rd, prefix }),
            ),
        }
        let x = self.export_neighbor(p);
        for k in keys {
            self.set_out(addr, &x, k, router, false);
        }
    }

    /// Brings every neighbor's Adj-RIB-Out up to date with what the RIB changed, and sends.
    ///
    /// A key whose paths all came from the neighbor itself (or that has none) goes to no
    /// neighbor but maybe that one, and not to it either (split horizon, the first export
    /// rule): for such keys the Adj-RIB-Out is only told "nothing", without the best path
    /// being copied out of the RIB and run through export — and when the Adj-RIB-Out holds
    /// nothing for the key either, not even that (`set_out`).
    ///
    /// Which keys those are, the delta says ([`rib::BestFrom`]: where a VRF prefix's best path
    /// or a VPN key's paths came from), so the RIB is not read again for them: that was a
    /// cache miss or two a key at a million keys, about 5 % of taking in a full table.
    pub async fn advertise(&mut self, router: &mut Router) {
        let changes = router.take_bgp_marks();
        // A VRF's changes are found by binary search (below): they come VRF by VRF.
        debug_assert!(changes.vrf.is_sorted_by_key(|((vrf, _), _)| vrf));
        let router: &Router = router;
        let ahead = router.keys_ahead();
        let addrs: Vec<IpAddr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_up())
            .map(|(a, _)| *a)
            .collect();
        for addr in addrs {
            let p = &self.peers[&addr];
            let (vrf, x) = (p.cfg.vrf.clone(), self.export_neighbor(p));
            let mut held = HeldFamilies::of(p);
            match vrf {
                Some(vrf) => {
                    // The list comes VRF by VRF in name order: this VRF's changes are one run.
                    let lo = changes.vrf.partition_point(|((v, _), _)| **v < *vrf);
                    let n = changes.vrf[lo..].partition_point(|((v, _), _)| **v == *vrf);
                    // The delta said where each best path came from: no table reads here.
                    for (key, from) in &changes.vrf[lo..lo + n] {
                        let nlri = Nlri::Unicast(key.1);
                        let nothing = from.leaves_nothing_for(addr);
                        if !held.passes_over(nlri, nothing, || ahead.holds_vrf(key)) {
                            self.set_out(addr, &x, nlri, router, nothing);
                            held.update(&self.peers[&addr], nlri);
                        }
                    }
                }
                None => {
                    for (key, from) in &changes.vpn {
                        let (rd, prefix) = *key;
                        let nlri = Nlri::Vpn { rd, prefix };
                        let nothing = from.leaves_nothing_for(addr);
                        if !held.passes_over(nlri, nothing, || ahead.holds_vpn(key)) {
                            self.set_out(addr, &x, nlri, router, nothing);
                            held.update(&self.peers[&addr], nlri);
                        }
                    }
                }
            }
            if held.passed_over_nothing_held {
                // What `set_out` leaves for a change it finds nothing to do for.
                self.touch_map_stats(&x);
            }
            self.flush(addr).await;
        }
    }

    /// Sends a neighbor's pending Adj-RIB-Out changes.
    async fn flush(&mut self, addr: IpAddr) {
        let local_as = self.cfg.asn;
        let Some(p) = self.peers.get_mut(&addr) else {
            return;
        };
        let Some(neg) = p.negotiated.clone() else {
            return;
        };
        let ctx = PackContext {
            codec: neg.context,
            internal: p.is_ibgp(local_as),
            link_local: None,
        };
        for (family, out) in p.adj_out.iter_mut() {
            if !out.has_pending() {
                continue;
            }
            let pending = out.take_pending();
            let packed = pack(*family, &pending.announce, &pending.withdraw, &ctx);
            for (n, why) in &packed.unsendable {
                warn!(neighbor = %addr, route = ?n, "not sent: {why}");
            }
            tracing::debug!(neighbor = %addr, family = ?family, announce = pending.announce.len(), withdraw = pending.withdraw.len(), "sending");
            if let Err(e) = p.session.send_updates(&packed.updates).await {
                warn!(neighbor = %addr, "send failed: {e}");
            }
        }
    }

    // ----- views for `show bgp …` ---------------------------------------------------------

    pub fn config(&self) -> &BgpConfig {
        &self.cfg
    }

    /// `show bgp summary`.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "BGP router identifier {}, local AS number {}",
            self.cfg.router_id, self.cfg.asn
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<39} {:>10} {:<12} {:>8} {:>8} {:>6} State/PfxRcd",
            "Neighbor", "AS", "VRF", "PfxSnt", "Up/Down", "Flaps"
        );
        for (a, p) in &self.peers {
            let state = match p.session.state() {
                State::Established => p.adj_in.accepted_len().to_string(),
                s => format!("{s:?}"),
            };
            let sent = p.advertised();
            let up = p
                .up_since
                .map(|t| format!("{}s", t.elapsed().as_secs()))
                .unwrap_or_else(|| "never".to_string());
            let _ = writeln!(
                out,
                "{:<39} {:>10} {:<12} {:>8} {:>8} {:>6} {}",
                a.to_string(),
                p.cfg.remote_as,
                p.cfg.vrf.as_deref().unwrap_or("(vpn)"),
                sent,
                up,
                p.flaps,
                state
            );
        }
        out
    }

    /// `show bgp neighbors [ADDR] [advertised-routes|received-routes]`.
    pub fn neighbors(
        &self,
        addr: Option<IpAddr>,
        what: Option<&str>,
        rib: &rib::Rib,
    ) -> Result<String, String> {
        use std::fmt::Write;
        let mut out = String::new();
        let peers: Vec<(&IpAddr, &Peer)> = match addr {
            Some(a) => match self.peers.get_key_value(&a) {
                Some(x) => vec![x],
                None => return Err(format!("% no such neighbor {a}")),
            },
            None => self.peers.iter().collect(),
        };
        for (a, p) in peers {
            match what {
                Some("advertised-routes") => {
                    let _ = writeln!(out, "Routes advertised to {a}:");
                    for o in p.adj_out.values() {
                        for (n, label, attrs) in o.iter() {
                            route_line(&mut out, n, label, attrs);
                        }
                    }
                }
                Some("received-routes") => {
                    let _ = writeln!(
                        out,
                        "Routes received from {a} (accepted by policy: {}):",
                        p.adj_in.accepted_len()
                    );
                    if !p.adj_in.soft_reconfig() {
                        let _ = writeln!(out, "% soft-reconfiguration inbound is off: received routes are not kept before policy; showing accepted keys");
                        for n in self.accepted_keys(*a, rib) {
                            let _ = writeln!(out, "  {}", nlri_text(&n));
                        }
                    } else {
                        for a in p.adj_in.iter_pre_policy() {
                            route_line(&mut out, &a.nlri, a.label, &a.attrs);
                        }
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "% unknown: {other} (advertised-routes or received-routes)"
                    ))
                }
                None => {
                    let _ = writeln!(
                        out,
                        "BGP neighbor is {a}, remote AS {}, {} link{}",
                        p.cfg.remote_as,
                        if p.is_ibgp(self.cfg.asn) {
                            "internal"
                        } else {
                            "external"
                        },
                        p.cfg
                            .vrf
                            .as_ref()
                            .map(|v| format!(", vrf {v}"))
                            .unwrap_or_default()
                    );
                    let _ = writeln!(out, "  BGP state = {:?}", p.session.state());
                    if let Some(n) = &p.negotiated {
                        let _ = writeln!(
                            out,
                            "  Remote router ID {}, hold time {}",
                            n.remote_id, n.hold_time
                        );
                        let fams: Vec<String> = n
                            .context
                            .families
                            .iter()
                            .map(|f| format!("{f:?}"))
                            .collect();
                        let _ = writeln!(out, "  Address families: {}", fams.join(", "));
                    }
                    let sc = p.cfg.send_community;
                    let _ = writeln!(
                        out,
                        "  Relationship {:?}; send-community standard {}, extended {}, large {}",
                        p.cfg.relationship, sc.standard, sc.extended, sc.large
                    );
                    let _ = writeln!(
                        out,
                        "  Prefixes accepted {}, advertised {}, flaps {}",
                        p.adj_in.accepted_len(),
                        p.advertised(),
                        p.flaps
                    );
                    if let Some(gr) = &p.cfg.graceful_restart {
                        let peer = p.negotiated.as_ref().map(|n| match &n.graceful_restart {
                            Some(g) => format!(
                                "negotiated, the neighbor's restart time {} s",
                                g.restart_time
                            ),
                            None => "not advertised by the neighbor".to_string(),
                        });
                        let _ = writeln!(
                            out,
                            "  Graceful restart helper: restart time {} s, stale-path time {} s{}; stale routes {}",
                            gr.restart_time,
                            gr.stale_routes_time.as_secs(),
                            peer.map(|t| format!(", {t}")).unwrap_or_default(),
                            p.adj_in.stale_len()
                        );
                    }
                    if let Some(d) = &p.last_down {
                        let _ = writeln!(out, "  Last reset: {d}");
                    }
                }
            }
        }
        Ok(out)
    }
}

fn nlri_text(n: &Nlri) -> String {
    match n {
        Nlri::Unicast(p) => p.to_string(),
        Nlri::Vpn { rd, prefix } => format!("{rd}:{prefix}"),
    }
}

/// One route of `advertised-routes` / `received-routes`, IOS-like, with communities.
fn route_line(out: &mut String, n: &Nlri, label: Option<u32>, a: &Attrs) {
    use std::fmt::Write;
    let nh = a
        .next_hop
        .addr()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "self".into());
    let _ = write!(
        out,
        "  {:<28} next-hop {:<16} med {:<6} locprf {:<6} path [{}] origin {}",
        nlri_text(n),
        nh,
        a.med.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
        a.local_pref
            .map(|m| m.to_string())
            .unwrap_or_else(|| "-".into()),
        a.as_path.text(),
        a.origin.keyword()
    );
    if let Some(l) = label {
        let _ = write!(out, " label {l}");
    }
    if !a.communities.is_empty() {
        let _ = write!(out, " community {}", a.communities.text());
    }
    if !a.ext_communities.is_empty() {
        let c: Vec<String> = a.ext_communities.iter().map(|c| c.to_string()).collect();
        let _ = write!(out, " ext {}", c.join(" "));
    }
    if !a.large_communities.is_empty() {
        let c: Vec<String> = a.large_communities.iter().map(|c| c.to_string()).collect();
        let _ = write!(out, " large {}", c.join(" "));
    }
    let _ = writeln!(out);
}

// ----- the local API (`p4vrf show bgp …`) ------------------------------------------------------

impl BgpInstance {
    /// The neighbors as JSON (`show bgp summary --json`).
    fn summary_json(&self) -> serde_json::Value {
        let peers: Vec<serde_json::Value> = self
            .peers
            .iter()
            .map(|(a, p)| {
                serde_json::json!({
                    "neighbor": a.to_string(),
                    "remote_as": p.cfg.remote_as,
                    "vrf": p.cfg.vrf,
                    "state": format!("{:?}", p.session.state()),
                    "uptime_secs": p.up_since.map(|t| t.elapsed().as_secs()),
                    "prefixes_received": p.adj_in.len(),
                    "prefixes_accepted": p.adj_in.accepted_len(),
                    "prefixes_advertised": p.advertised(),
                    "flaps": p.flaps,
                    "last_reset": p.last_down,
                    "graceful_restart": p.cfg.graceful_restart.is_some(),
                    "prefixes_stale": p.adj_in.stale_len(),
                })
            })
            .collect();
        serde_json::json!({
            "router_id": self.cfg.router_id.to_string(),
            "local_as": self.cfg.asn,
            "neighbors": peers,
        })
    }

    /// The keys of a neighbor's routes import policy accepted, sorted (`received-routes`
    /// without soft reconfiguration).
    fn accepted_keys(&self, addr: IpAddr, rib: &rib::Rib) -> Vec<Nlri> {
        let mut keys = self.rib_keys(addr, rib);
        keys.sort_unstable();
        keys
    }

    /// A neighbor's advertised or received routes as JSON.
    fn routes_json(
        &self,
        addr: IpAddr,
        what: &str,
        rib: &rib::Rib,
    ) -> Result<serde_json::Value, String> {
        let p = self
            .peers
            .get(&addr)
            .ok_or_else(|| format!("% no such neighbor {addr}"))?;
        let route = |n: &Nlri, label: Option<u32>, a: &Attrs| {
            serde_json::json!({
                "prefix": nlri_text(n),
                "label": label,
                "next_hop": a.next_hop.addr().map(|x| x.to_string()),
                "as_path": a.as_path.text(),
                "origin": a.origin.keyword(),
                "med": a.med,
                "local_pref": a.local_pref,
                "communities": a.communities.iter().map(crate::show::community_name).collect::<Vec<_>>(),
                "ext_communities": a.ext_communities.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                "large_communities": a.large_communities.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            })
        };
        let routes: Vec<serde_json::Value> = match what {
            "advertised-routes" => p
                .adj_out
                .values()
                .flat_map(|o| o.iter().map(|(n, l, a)| route(n, l, a)))
                .collect(),
            "received-routes" if p.adj_in.soft_reconfig() => p
                .adj_in
                .iter_pre_policy()
                .map(|a| route(&a.nlri, a.label, &a.attrs))
                .collect(),
            "received-routes" => self
                .accepted_keys(addr, rib)
                .iter()
                .map(|n| serde_json::json!({ "prefix": nlri_text(n) }))
                .collect(),
            other => {
                return Err(format!(
                    "% unknown: {other} (advertised-routes or received-routes)"
                ))
            }
        };
        Ok(serde_json::json!({ "neighbor": addr.to_string(), what: routes }))
    }
}

impl crate::api::BgpShow for BgpInstance {
    fn route_map_stats(&self) -> Option<&BTreeMap<String, RouteMapStats>> {
        Some(&self.map_stats)
    }

    fn show(
        &self,
        words: &[String],
        json: bool,
        rib: &rib::Rib,
    ) -> Option<Result<crate::api::Output, String>> {
        use crate::api::Output;
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let w: &[&str] = match w.as_slice() {
            ["ip", rest @ ..] => rest,
            rest => rest,
        };
        let text_or = |text: Result<String, String>, data: Result<serde_json::Value, String>| {
            Some(if json {
                data.map(Output::Data)
            } else {
                text.map(Output::Text)
            })
        };
        match w {
            ["bgp", "summary"] => text_or(Ok(self.summary()), Ok(self.summary_json())),
            ["bgp", "neighbors"] => {
                text_or(self.neighbors(None, None, rib), Ok(self.summary_json()))
            }
            ["bgp", "neighbors", addr, rest @ ..] => {
                let Ok(a) = addr.parse::<IpAddr>() else {
                    return Some(Err(format!("% `{addr}` is not an IP address")));
                };
                match rest {
                    [] => text_or(self.neighbors(Some(a), None, rib), Ok(self.summary_json())),
                    [what] => text_or(
                        self.neighbors(Some(a), Some(what), rib),
                        self.routes_json(a, what, rib),
                    ),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}
