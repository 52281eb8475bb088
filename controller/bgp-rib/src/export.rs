//! What one best path becomes towards one neighbor: the RFC 4271 / RFC 4456 / RFC 5065
//! outbound rules, the well-known communities and the neighbor's outbound policy, as one pure
//! function ([`prepare`]). The result is the attribute set to record in the neighbor's
//! [`crate::AdjRibOut`], or the reason the route is not advertised.
//!
//! Order of the steps (IOS's, see `docs/bgp-rib.md`):
//!
//! 1. **Split horizon**: never back to the peer the path came from.
//! 2. **iBGP → iBGP** only by reflection (RFC 4456 §6): from a client to everyone, from a
//!    non-client to clients only; a path whose CLUSTER_LIST holds our cluster id (or whose
//!    ORIGINATOR_ID is us) is a reflection loop.
//! 3. **Well-known communities** ([`policy::may_advertise`]) on the path as it is in our RIB,
//!    so a NO_EXPORT *added* by the outbound route-map is for the receiver to honour.
//! 4. **Outbound policy**: the route-map out, then the GateD export map for the neighbor's AS.
//!    Both see the route as it is in our RIB — before AS prepending and next-hop rewriting,
//!    as IOS's outbound route-map does — so `match as-path ^$` still means "originated in our
//!    AS".
//! 5. **Session rules** on the result: AS_PATH prepend (confederation-aware), next hop,
//!    LOCAL_PREF, MED, reflection attributes. A next hop or MED *changed by the outbound
//!    policy* is kept: `set ip next-hop` wins over next-hop-self, and a MED set for an eBGP
//!    neighbor is sent even though received MEDs are not passed on.
//! 6. **send-community**: the community attributes the neighbor is not sent are removed
//!    (including those the route-map added); weight and tag (never sent) are zeroed so that
//!    paths differing only in them share one outgoing attribute set.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use policy::{
    AsPath, AsSegment, Attrs, GatedExport, Neighbor, NextHop, PeerType, Route, RouteMap,
    RouteMapStats, SegmentType, Verdict,
};

/// Where the best path came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learned {
    /// Originated on this router: redistributed, aggregated, or leaked from another VRF.
    Local,
    /// From an iBGP neighbor (`router_id`: its BGP identifier, for ORIGINATOR_ID).
    Ibgp {
        peer: IpAddr,
        rr_client: bool,
        router_id: Ipv4Addr,
    },
    /// From an eBGP or confederation-eBGP neighbor.
    Ebgp { peer: IpAddr },
}

/// The neighbor a route is prepared for, and what we are towards it.
#[derive(Clone, Debug)]
pub struct ExportNeighbor {
    pub addr: IpAddr,
    /// Peer type, relationship and options (send-community, NOPEER handling) for the
    /// well-known community rules.
    pub neighbor: Neighbor,
    /// Our AS; inside a confederation, our member AS.
    pub local_as: u32,
    /// The confederation identifier when we are in one: what true eBGP neighbors see.
    pub confed_id: Option<u32>,
    /// The neighbor's AS (its member AS for a confederation neighbor): picks the GateD map.
    pub remote_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Our cluster id (the router id unless configured).
    pub cluster_id: Ipv4Addr,
    /// This neighbor is our route-reflector client.
    pub rr_client: bool,
    /// `neighbor … next-hop-self`: our address as next hop for eBGP-learned paths sent to
    /// this internal neighbor (not for reflected ones, as IOS without `all`).
    pub next_hop_self: bool,
    /// Our address on this session for IPv4 next hops.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Our global IPv6 address for IPv6 next hops; without one, IPv6 routes get the IPv4
    /// address (sent IPv4-mapped, 6PE / 6VPE).
    pub next_hop_v6: Option<Ipv6Addr>,
    pub route_map_out: Option<Arc<RouteMap>>,
    /// GateD export statements; the map for [`remote_as`](Self::remote_as) applies (without
    /// a statement for that AS, GateD exports only routes to attached interfaces).
    pub gated_export: Option<Arc<GatedExport>>,
}

impl ExportNeighbor {
    /// A neighbor with no policy, no reflection, our session address as the next hop, and
    /// router id = cluster id.
    pub fn new(
        addr: IpAddr,
        neighbor: Neighbor,
        local_as: u32,
        remote_as: u32,
        router_id: Ipv4Addr,
        local_addr: IpAddr,
    ) -> Self {
        let (next_hop_v4, next_hop_v6) = match local_addr {
            IpAddr::V4(a) => (Some(a), None),
            IpAddr::V6(a) => (None, Some(a)),
        };
        ExportNeighbor {
            addr,
            neighbor,
            local_as,
            confed_id: None,
            remote_as,
            router_id,
            cluster_id: router_id,
            rr_client: false,
            next_hop_self: false,
            next_hop_v4,
            next_hop_v6,
            route_map_out: None,
            gated_export: None,
        }
    }

    /// Our next hop for a prefix of this address family.
    fn own_next_hop(&self, prefix: &IpNet) -> Option<IpAddr> {
        match prefix {
            IpNet::V4(_) => self.next_hop_v4.map(IpAddr::V4),
            IpNet::V6(_) => self
                .next_hop_v6
                .map(IpAddr::V6)
                .or(self.next_hop_v4.map(IpAddr::V4)),
        }
    }
}

/// Why a route is not advertised to a neighbor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Suppressed {
    #[error("learned from this neighbor")]
    SplitHorizon,
    #[error("learned over iBGP and neither side is a route-reflector client")]
    IbgpNoReflect,
    #[error("reflection loop: our cluster id is in CLUSTER_LIST or we are ORIGINATOR_ID")]
    ReflectionLoop,
    #[error(transparent)]
    WellKnown(policy::Suppressed),
    #[error("denied by the outbound route-map")]
    RouteMapDeny,
    #[error("restricted by the GateD export policy for the neighbor's AS")]
    GatedRestrict,
    #[error("no GateD export policy for the neighbor's AS: only attached routes are exported")]
    GatedNotAttached,
    #[error("no local address of the route's family on this session for the next hop")]
    NoNextHop,
}

/// True for a reflection loop (RFC 4456 §8): the path's ORIGINATOR_ID is our router id, or
/// its CLUSTER_LIST already holds our cluster id. Such a path is ignored on receipt (treat it
/// as a withdrawal) and never reflected.
pub fn reflection_loop(attrs: &Attrs, router_id: Ipv4Addr, cluster_id: Ipv4Addr) -> bool {
    attrs.originator_id == Some(router_id) || attrs.cluster_list.contains(&cluster_id)
}

/// True when the path already went through our AS (RFC 4271 §9.1.2): the confederation
/// identifier (or our AS outside a confederation) in a non-confederation segment, or our
/// member AS in a confederation segment (RFC 5065 §5.4).
pub fn as_path_loop(attrs: &Attrs, local_as: u32, confed_id: Option<u32>) -> bool {
    let outer = confed_id.unwrap_or(local_as);
    attrs.as_path.segments().iter().any(|s| match s.kind {
        SegmentType::Sequence | SegmentType::Set => s.asns.contains(&outer),
        SegmentType::ConfedSequence | SegmentType::ConfedSet => {
            confed_id.is_some() && s.asns.contains(&local_as)
        }
    })
}

/// The attributes `best` is advertised with to `to`, or why it is not (see the module
/// documentation for the order of the rules).
pub fn prepare(
    best: &Route,
    learned: &Learned,
    to: &ExportNeighbor,
) -> Result<Arc<Attrs>, Suppressed> {
    let mut stats = RouteMapStats::default();
    prepare_counted(best, learned, to, &mut stats)
}

/// [`prepare`], counting the outbound route-map's hits into `stats` (`show route-map`).
pub fn prepare_counted(
    best: &Route,
    learned: &Learned,
    to: &ExportNeighbor,
    stats: &mut RouteMapStats,
) -> Result<Arc<Attrs>, Suppressed> {
    let peer_type = to.neighbor.peer_type;

    // 1. Split horizon.
    if let Learned::Ibgp { peer, .. } | Learned::Ebgp { peer } = learned {
        if *peer == to.addr {
            return Err(Suppressed::SplitHorizon);
        }
    }

    // 2. iBGP-learned to iBGP: only by reflection.
    let reflect_from = match (learned, peer_type) {
        (
            Learned::Ibgp {
                rr_client,
                router_id,
                ..
            },
            PeerType::Ibgp,
        ) => {
            if !(*rr_client || to.rr_client) {
                return Err(Suppressed::IbgpNoReflect);
            }
            if reflection_loop(&best.attrs, to.router_id, to.cluster_id) {
                return Err(Suppressed::ReflectionLoop);
            }
            Some(*router_id)
        }
        _ => None,
    };

    // 3. Well-known communities, on the path as we hold it.
    policy::may_advertise(best, &to.neighbor).map_err(Suppressed::WellKnown)?;

    // 4. Outbound policy, on the route before any session rule.
    let mut route: Cow<'_, Route> = Cow::Borrowed(best);
    if let Some(map) = &to.route_map_out {
        match map.evaluate(best, stats) {
            Verdict::Deny => return Err(Suppressed::RouteMapDeny),
            Verdict::Permit(r) => route = r,
        }
    }
    if let Some(gated) = &to.gated_export {
        let map = gated.route_map_for(to.remote_as);
        let permitted = match map.evaluate(&route, &mut RouteMapStats::default()) {
            Verdict::Deny => None,
            Verdict::Permit(r) => Some(r.into_owned()),
        };
        match permitted {
            Some(r) => route = Cow::Owned(r),
            None if gated.has_policy(to.remote_as) => return Err(Suppressed::GatedRestrict),
            None => return Err(Suppressed::GatedNotAttached),
        }
    }
    let policy_next_hop = match route.attrs.next_hop {
        nh if nh == best.attrs.next_hop => None,
        NextHop::Unspecified => None,
        nh => Some(nh),
    };
    let policy_med = route.attrs.med != best.attrs.med;
    let mut a: Attrs = (*route.attrs).clone();

    // 5. Session rules.
    let own = || to.own_next_hop(&best.prefix).ok_or(Suppressed::NoNextHop);
    let local = *learned == Learned::Local;
    let internal_next_hop = |a: &Attrs| -> Result<IpAddr, Suppressed> {
        let self_by_config = to.next_hop_self && reflect_from.is_none();
        let keep = !(local || self_by_config);
        match a.next_hop {
            NextHop::Addr(addr) if keep => Ok(addr),
            _ => own(),
        }
    };
    let next_hop = match policy_next_hop {
        Some(NextHop::Addr(addr)) => addr,
        Some(_) => own()?,
        None => match peer_type {
            PeerType::Ebgp => own()?,
            PeerType::Ibgp | PeerType::ConfedEbgp { .. } => internal_next_hop(&a)?,
        },
    };
    a.next_hop = NextHop::Addr(next_hop);
    match peer_type {
        PeerType::Ebgp => {
            let outer = to.confed_id.unwrap_or(to.local_as);
            a.as_path = without_confed(&a.as_path).prepend(&[outer]);
            a.local_pref = None;
            // RFC 4271 §5.1.4: a MED received from a neighboring AS is not passed on to
            // other ASes. Ours are the MEDs of paths originated inside the AS (no AS outside
            // confederation segments) and those the outbound policy set.
            if !policy_med && !local && best.attrs.as_path.asns().next().is_some() {
                a.med = None;
            }
            a.originator_id = None;
            a.cluster_list = Vec::new();
        }
        PeerType::ConfedEbgp { .. } => {
            // RFC 5065 §5.3: our member AS into a leading AS_CONFED_SEQUENCE; LOCAL_PREF and
            // MED cross member-AS boundaries unchanged.
            a.as_path = prepend_confed(&a.as_path, to.local_as);
            a.local_pref.get_or_insert(100);
            a.originator_id = None;
            a.cluster_list = Vec::new();
        }
        PeerType::Ibgp => {
            a.local_pref.get_or_insert(100);
            if let Some(source_id) = reflect_from {
                a.originator_id.get_or_insert(source_id);
                a.cluster_list.insert(0, to.cluster_id);
            }
        }
    }

    // 6. send-community; fields that are never sent.
    let send = to.neighbor.options.send_community;
    if !send.standard {
        a.communities = Default::default();
    }
    if !send.extended {
        a.ext_communities = Default::default();
    }
    if !send.large {
        a.large_communities = Default::default();
    }
    a.weight = 0;
    a.tag = 0;
    Ok(Arc::new(a))
}

/// The path without its confederation segments (RFC 5065 §5.3, towards a true eBGP peer).
fn without_confed(p: &AsPath) -> AsPath {
    if !p
        .segments()
        .iter()
        .any(|s| matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet))
    {
        return p.clone();
    }
    AsPath::new(
        p.segments()
            .iter()
            .filter(|s| matches!(s.kind, SegmentType::Sequence | SegmentType::Set))
            .cloned()
            .collect(),
    )
}

/// `asn` put in front, into the leading AS_CONFED_SEQUENCE (a new one when the path does not
/// start with one or it is full).
fn prepend_confed(p: &AsPath, asn: u32) -> AsPath {
    let mut segs = p.segments().to_vec();
    match segs.first_mut() {
        Some(s)
            if s.kind == SegmentType::ConfedSequence
                && s.asns.len() < policy::route::MAX_SEGMENT_LEN =>
        {
            s.asns.insert(0, asn)
        }
        _ => segs.insert(
            0,
            AsSegment {
                kind: SegmentType::ConfedSequence,
                asns: vec![asn],
            },
        ),
    }
    AsPath::new(segs)
}

#[cfg(test)]
mod tests;
