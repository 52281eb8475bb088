//! What a route is, where it came from, and how it forwards.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

use policy::Attrs;
use vpn_types::{RouteDistinguisher, RouteTarget};

use crate::shared::Shared;

/// VRF names are shared everywhere (tables, VPN paths, dirty sets): one allocation each.
pub type VrfName = Arc<str>;

/// The protocol a route came from, in IOS `show ip route` terms.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Protocol {
    /// The interface address itself, a /32 or /128 delivered to the router (`L`). First, so
    /// that on a /32 or /128 interface the address is received rather than dropped.
    Local,
    /// A subnet of an interface address (`C`).
    Connected,
    /// A configured static route (`S`).
    Static,
    /// A route learned through BGP, including routes leaked from another VRF (`B`).
    Bgp,
}

impl Protocol {
    /// The one-letter code of `show ip route`.
    pub fn code(self) -> &'static str {
        match self {
            Protocol::Connected => "C",
            Protocol::Local => "L",
            Protocol::Static => "S",
            Protocol::Bgp => "B",
        }
    }

    /// Administrative distance; lower wins between protocols for one prefix. Routes leaked
    /// from another VRF of this router are locally originated BGP routes, distance 200 as in IOS.
    pub fn default_distance(self) -> u8 {
        match self {
            Protocol::Connected | Protocol::Local => 0,
            Protocol::Static => 1,
            Protocol::Bgp => 200,
        }
    }
}

/// An IP neighbor on an interface: what a nexthop entry in the switch is made of. Towards a
/// remote PE it also carries the VPN label to push (the PE's label for the route's VRF), and
/// when the PE is not adjacent the transport label of the static LSP towards it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Adjacency {
    pub interface: Arc<str>,
    pub address: IpAddr,
    pub vpn_label: Option<u32>,
    /// Pushed above the VPN label; `None` when the PE is the neighbor itself or the LSP's
    /// label is implicit null (3).
    pub transport_label: Option<u32>,
}

/// A static LSP towards a remote PE that is not adjacent: VPN paths with the PE as next hop
/// forward to `next_hop` on the core interface `interface`, pushing `label` (3, implicit null,
/// pushes nothing) above the VPN label.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Lsp {
    pub interface: Arc<str>,
    pub next_hop: IpAddr,
    pub label: u32,
}

impl Adjacency {
    /// A plain (unlabelled) neighbor.
    pub fn new(interface: Arc<str>, address: IpAddr) -> Self {
        Adjacency {
            interface,
            address,
            vpn_label: None,
            transport_label: None,
        }
    }
}

impl fmt::Display for Adjacency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.address, self.interface)?;
        if let Some(label) = self.vpn_label {
            write!(f, " label {label}")?;
        }
        if let Some(label) = self.transport_label {
            write!(f, " transport label {label}")?;
        }
        Ok(())
    }
}

/// One or more (ECMP) adjacencies, sorted and deduplicated. Shared: the RIB hands out one copy
/// per distinct list, so the routes through one neighbor (and their FIB entries, VPN paths and
/// leaked copies) hold one allocation between them.
pub type Adjacencies = Arc<[Adjacency]>;

/// How a route forwards, already resolved to adjacencies where it has next hops.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Forward {
    /// A directly connected subnet: hosts on it are reached through their neighbor
    /// (adjacency) entries; anything else in the subnet is dropped (no ARP/ND glean).
    Attached { interface: Arc<str> },
    /// An address of the router itself: punted to the CPU.
    Receive { interface: Arc<str> },
    /// Null0.
    Blackhole,
    /// One or more (ECMP) next hops, sorted and deduplicated.
    Nexthops(Adjacencies),
    /// A BGP next hop no neighbor of the router reaches (`inaccessible`): the route stays in
    /// the table, is never selected and never forwards.
    Unresolved(IpAddr),
}

/// A BGP neighbor a path was learned from: what the decision process needs to know of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PeerRef {
    pub addr: IpAddr,
    /// The neighbor's BGP identifier (tie-breaker, and ORIGINATOR_ID when reflecting).
    pub router_id: Ipv4Addr,
    /// External (eBGP, distance 20) or internal (iBGP, distance 200).
    pub ebgp: bool,
    /// The neighbor is one of our route-reflector clients (RFC 4456).
    pub rr_client: bool,
}

/// A route as it sits in one VRF's table.
///
/// A table holds a million of these, so it is two pointers: what many routes have in common
/// is shared, one copy per distinct value (the RIB interns them) — the attributes, and how the
/// route forwards, where it came from, its protocol and distance ([`RouteVia`]). 16 bytes,
/// where a `Forward` and a `PeerRef` inline made it 72, the leak source and the neighbor in
/// two pointers 40, the forwarding and the origin in two pointers 32, and the protocol and
/// distance beside the pointers 24. Its first word is never null nor odd: a prefix's
/// candidates keep their other states there ([`crate::small_map::Packed`]).
#[derive(Clone, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct Route {
    /// How it forwards, where it came from, its protocol and distance ([`Route::forward`],
    /// [`Route::origin`], [`Route::protocol`], [`Route::distance`]). First: see above.
    via: Shared<RouteVia>,
    /// Path attributes (tag, communities, AS path, …), interned and shared.
    pub attrs: Arc<Attrs>,
}

// SAFETY: a `Route` begins with a `Shared`, a non-null pointer to a `RouteVia` (aligned to 8).
unsafe impl crate::small_map::StartsWithPointer for Route {}

/// How a route forwards, where it came from, its protocol and its distance, shared by the
/// routes that have all four in common (a neighbor's routes through one next hop, the routes
/// imported from one RD and source): one pointer in every [`Route`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RouteVia {
    /// How it forwards; shared by the routes that forward alike.
    pub forward: Arc<Forward>,
    /// The neighbor it was learned from and, for a leaked route, where it was leaked from;
    /// `None` for the VRF's own routes ([`Route::peer`], [`Route::leaked`]).
    pub origin: Option<Arc<RouteOrigin>>,
    pub protocol: Protocol,
    /// Administrative distance: lower wins between protocols for one prefix.
    pub distance: u8,
}

impl RouteVia {
    pub fn new(
        protocol: Protocol,
        distance: u8,
        forward: Arc<Forward>,
        origin: Option<Arc<RouteOrigin>>,
    ) -> Arc<Self> {
        Arc::new(RouteVia {
            forward,
            origin,
            protocol,
            distance,
        })
    }
}

/// Where a route came from, beyond its VRF: the BGP neighbor that sent it (directly, or
/// through the VPN table) and, for a route imported from the VPN table, its RD, source and
/// original protocol. Shared by the routes of one origin (the RIB interns them), so a
/// [`RouteVia`] holds both in one pointer.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RouteOrigin {
    pub peer: Option<PeerRef>,
    pub leaked: Option<LeakSource>,
}

impl Route {
    /// A route of this VRF's own, with the protocol's default distance.
    pub fn local(protocol: Protocol, forward: Forward, tag: u32) -> Self {
        let mut attrs = Attrs::new(protocol.into());
        attrs.tag = tag;
        Route::new(
            Arc::new(attrs),
            RouteVia::new(
                protocol,
                protocol.default_distance(),
                Arc::new(forward),
                None,
            ),
        )
    }

    /// A route from its parts; the RIB shares `via` among the routes that have the same
    /// forwarding, origin, protocol and distance ([`Route::local`] makes its own).
    pub fn new(attrs: Arc<Attrs>, via: Arc<RouteVia>) -> Self {
        Route {
            via: Shared::new(via),
            attrs,
        }
    }

    /// The protocol it came from.
    pub fn protocol(&self) -> Protocol {
        self.via.protocol
    }

    /// Its administrative distance.
    pub fn distance(&self) -> u8 {
        self.via.distance
    }

    /// Its forwarding, origin, protocol and distance, as shared.
    pub fn via(&self) -> &RouteVia {
        &self.via
    }

    /// How it forwards.
    pub fn forward(&self) -> &Arc<Forward> {
        &self.via.forward
    }

    /// Where it came from; `None` for the VRF's own routes.
    pub fn origin(&self) -> Option<&Arc<RouteOrigin>> {
        self.via.origin.as_ref()
    }

    /// Replaces its forwarding, origin, protocol and distance (`via` as the RIB shares it).
    /// Among a prefix's candidates the origin and protocol must stay what they were: the
    /// route's key is read from them ([`Route::candidate`]).
    pub fn set_via(&mut self, via: Arc<RouteVia>) {
        self.via = Shared::new(via);
    }

    /// Which shared [`RouteVia`] it holds (the tests' check of the sharing).
    #[cfg(test)]
    pub(crate) fn via_ptr(&self) -> *const RouteVia {
        self.via.as_ptr()
    }

    /// The BGP neighbor the route was learned from (directly, or through the VPN table).
    pub fn peer(&self) -> Option<&PeerRef> {
        self.via.origin.as_deref()?.peer.as_ref()
    }

    /// Where a leaked route came from; `None` for the VRF's own routes and CE-learned ones.
    pub fn leaked(&self) -> Option<&LeakSource> {
        self.via.origin.as_deref()?.leaked.as_ref()
    }

    /// The route tag (IOS `tag`), carried through redistribution and leaking.
    pub fn tag(&self) -> u32 {
        self.attrs.tag
    }

    /// Whether the route can be selected: a BGP next hop that nothing reaches cannot.
    pub fn is_usable(&self) -> bool {
        !matches!(*self.via.forward, Forward::Unresolved(_))
    }
}

/// The origin of a route imported from the VPN table.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct LeakSource {
    pub rd: RouteDistinguisher,
    /// The VRF of this router that exported it, or the remote PE it came from.
    pub source: PathSource,
    /// The protocol the route had where it came from (`C`, `S`, `B`).
    pub protocol: Protocol,
}

/// A BGP neighbor's address as a [`PathSource`] holds it: shared (the RIB interns it), a
/// pointer where the address is 17 bytes. Path sources once sat beside every VPN table entry;
/// now they are in the shared [`PathOrigin`]s. Compares, orders, hashes and prints as the
/// address; `Arc::new(addr)` makes one for a look-up.
pub type NeighborAddr = Arc<IpAddr>;

/// Who put a path into the VPN table.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum PathSource {
    /// Exported by a VRF of this router.
    Vrf(VrfName),
    /// Learned over VPNv4/VPNv6 from a BGP neighbor (a remote PE or a route reflector).
    Peer(NeighborAddr),
}

impl fmt::Display for PathSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSource::Vrf(v) => write!(f, "VRF {v}"),
            PathSource::Peer(a) => write!(f, "{a}"),
        }
    }
}

/// One path of an RD:prefix in the VPN table.
///
/// A VPN table holds a million of these: two pointers, as a [`Route`] is. How it forwards,
/// where it came from, its label and protocol are shared ([`PathVia`]): a remote PE's paths
/// through one next hop with one label share one. 16 bytes, where the forwarding and the
/// origin as two pointers with the label and protocol beside them made it 32.
#[derive(Clone, PartialEq, Eq, Debug)]
#[repr(C)]
pub struct VpnPath {
    /// First: an RD:prefix's paths keep their other states in this word, as a prefix's
    /// candidates do ([`crate::small_map::Packed`]).
    via: Shared<PathVia>,
    /// Attributes as exported (after the export-map), route targets among the extended
    /// communities.
    pub attrs: Arc<Attrs>,
}

// SAFETY: a `VpnPath` begins with a `Shared`, a non-null pointer to a `PathVia` (aligned to 8).
unsafe impl crate::small_map::StartsWithPointer for VpnPath {}

/// How a VPN path forwards, where it came from, its label and protocol, shared by the paths
/// that have all four in common (the RIB interns them).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PathVia {
    /// For a local VRF's export, that VRF's forwarding; for a remote PE's path, the adjacency
    /// towards the PE with the PE's VPN label, or `Unresolved`. Shared, as in [`RouteVia`].
    pub forward: Arc<Forward>,
    /// Who put it into the VPN table (its key among the RD:prefix's paths) and the neighbor
    /// it was learned from; shared.
    pub origin: Arc<PathOrigin>,
    /// The VPN label a remote PE advertised; `None` for local exports ([`VpnPath::label`]).
    pub label: Option<VpnLabel>,
    pub protocol: Protocol,
}

impl PathVia {
    pub fn new(
        protocol: Protocol,
        forward: Arc<Forward>,
        label: Option<u32>,
        origin: Arc<PathOrigin>,
    ) -> Arc<Self> {
        Arc::new(PathVia {
            forward,
            origin,
            label: label.map(VpnLabel::new),
            protocol,
        })
    }
}

/// Where a VPN path came from: who put it into the VPN table, which is the path's key among
/// its RD:prefix's paths ([`VpnPath::source`], so no key is stored beside it), and the
/// neighbor it was learned from (a remote PE, or a local export's CE neighbor) as its route's
/// origin ([`VpnPath::as_route`]; never a leak source). Shared by the paths of one source
/// and neighbor (the RIB interns them).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PathOrigin {
    pub source: PathSource,
    pub route: Option<Arc<RouteOrigin>>,
}

/// A VPN label as a [`PathVia`] holds it: the label plus one, never zero, so that
/// `Option<VpnLabel>` is 4 bytes where an `Option<u32>` is 8. MPLS labels are 20 bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VpnLabel(NonZeroU32);

impl VpnLabel {
    pub fn new(label: u32) -> Self {
        debug_assert!(label < 1 << 20, "an MPLS label is 20 bits: {label}");
        VpnLabel(NonZeroU32::MIN.saturating_add(label))
    }

    pub fn get(self) -> u32 {
        self.0.get() - 1
    }
}

impl fmt::Debug for VpnLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

impl VpnPath {
    /// A path from its parts; the RIB shares `via` among the paths that have the same
    /// forwarding, origin, label and protocol.
    pub fn new(attrs: Arc<Attrs>, via: Arc<PathVia>) -> Self {
        VpnPath {
            via: Shared::new(via),
            attrs,
        }
    }

    /// Its forwarding, origin, label and protocol, as shared.
    pub fn via(&self) -> &PathVia {
        &self.via
    }

    /// Replaces its forwarding, origin, label and protocol (`via` as the RIB shares it).
    /// Among an RD:prefix's paths the origin's source must stay what it was: the path's key is
    /// read from it ([`VpnPath::source`]).
    pub fn set_via(&mut self, via: Arc<PathVia>) {
        self.via = Shared::new(via);
    }

    /// How it forwards.
    pub fn forward(&self) -> &Arc<Forward> {
        &self.via.forward
    }

    /// Who put it into the VPN table and the neighbor it was learned from.
    pub fn origin(&self) -> &Arc<PathOrigin> {
        &self.via.origin
    }

    /// The protocol the route had where it was exported (`B` for a remote PE's).
    pub fn protocol(&self) -> Protocol {
        self.via.protocol
    }

    /// The VPN label a remote PE advertised; `None` for local exports.
    pub fn label(&self) -> Option<u32> {
        self.via.label.map(VpnLabel::get)
    }

    /// Who put the path into the VPN table.
    pub fn source(&self) -> &PathSource {
        &self.via.origin.source
    }

    /// The BGP neighbor the path was learned from.
    pub fn peer(&self) -> Option<&PeerRef> {
        self.via.origin.route.as_deref()?.peer.as_ref()
    }

    /// The route targets among the path's extended communities.
    pub fn route_targets(&self) -> impl Iterator<Item = RouteTarget> + '_ {
        self.attrs
            .ext_communities
            .iter()
            .filter_map(|c| c.as_route_target())
    }

    /// The path as a [`Route`] for the decision process and policy (its forwarding and
    /// origin in a new [`RouteVia`]: for comparisons, not for a table).
    pub fn as_route(&self) -> Route {
        Route::new(
            self.attrs.clone(),
            RouteVia::new(
                Protocol::Bgp,
                Protocol::Bgp.default_distance(),
                self.via.forward.clone(),
                self.via.origin.route.clone(),
            ),
        )
    }
}

/// A VPN table entry's paths are keyed by their sources.
impl crate::Keyed for VpnPath {
    type Key<'a> = &'a PathSource;

    fn key(&self) -> &PathSource {
        self.source()
    }

    fn cmp_key(&self, key: &&PathSource) -> std::cmp::Ordering {
        self.source().cmp(*key)
    }
}

/// What the data plane does for one prefix of one VRF.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum FibAction {
    /// Forward to one adjacency, or hash over several (ECMP), sorted.
    Forward(Adjacencies),
    Drop,
    Punt,
}

impl fmt::Display for FibAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FibAction::Forward(adjs) => {
                let parts: Vec<String> = adjs.iter().map(|a| a.to_string()).collect();
                write!(f, "forward {}", parts.join(", "))
            }
            FibAction::Drop => f.write_str("drop"),
            FibAction::Punt => f.write_str("punt"),
        }
    }
}

/// How policy (`match source-protocol`, GateD `proto`) sees a RIB protocol. The RIB's local
/// (`L`) routes are the interface addresses: attached, like connected ones.
impl From<Protocol> for policy::route::SourceProtocol {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Local | Protocol::Connected => policy::route::SourceProtocol::Connected,
            Protocol::Static => policy::route::SourceProtocol::Static,
            Protocol::Bgp => policy::route::SourceProtocol::Bgp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpn_labels_round_trip_over_twenty_bits() {
        for label in [0, 1, 3, 16, 1000, (1 << 20) - 1] {
            assert_eq!(VpnLabel::new(label).get(), label);
            assert_eq!(format!("{:?}", VpnLabel::new(label)), label.to_string());
        }
        assert_ne!(VpnLabel::new(0), VpnLabel::new(1));
    }
}
