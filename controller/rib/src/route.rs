//! What a route is, where it came from, and how it forwards.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use vpn_types::{RouteDistinguisher, RouteTarget};

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

/// An IP neighbor on an interface: what a nexthop entry in the switch is made of.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Adjacency {
    pub interface: Arc<str>,
    pub address: IpAddr,
}

impl fmt::Display for Adjacency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.address, self.interface)
    }
}

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
    Nexthops(Vec<Adjacency>),
}

/// A route as it sits in one VRF's table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Route {
    pub protocol: Protocol,
    pub distance: u8,
    pub forward: Forward,
    /// Route tag (IOS `tag`), carried through redistribution and leaking.
    pub tag: u32,
    /// Where a leaked route came from; `None` for the VRF's own routes.
    pub leaked: Option<LeakSource>,
}

impl Route {
    /// A route of this VRF's own, with the protocol's default distance.
    pub fn local(protocol: Protocol, forward: Forward, tag: u32) -> Self {
        Route {
            protocol,
            distance: protocol.default_distance(),
            forward,
            tag,
            leaked: None,
        }
    }
}

/// The origin of a route imported from the VPN table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LeakSource {
    pub rd: RouteDistinguisher,
    pub vrf: VrfName,
    /// The protocol the route had in its own VRF (`C`, `S`).
    pub protocol: Protocol,
}

/// Who put a path into the VPN table. Remote PEs (BGP peers) will be another variant.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum PathSource {
    /// Exported by a VRF of this router.
    Vrf(VrfName),
}

/// One path of an RD:prefix in the VPN table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VpnPath {
    pub protocol: Protocol,
    pub forward: Forward,
    pub tag: u32,
    pub route_targets: Vec<RouteTarget>,
}

/// What the data plane does for one prefix of one VRF.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum FibAction {
    /// Forward to one adjacency, or hash over several (ECMP), sorted.
    Forward(Vec<Adjacency>),
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
