//! The JSON forms of the `show` commands (`"json": true`), documented in docs/operations.md.
//! Addresses, prefixes, RDs and RTs are strings in their usual notation; an RD or RT is
//! `ASN:N` or `A.B.C.D:N` (without the `RT:` of the text forms).

use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;
use p4rt::entity::Entity;
use policy::{Attrs, Origin, RouteMap, RouteMapStats};
use rib::{Forward, PathSource, PeerRef, Protocol, Rib, Route};
use serde::Serialize;

use super::{Response, VrfView};
use crate::show::{self, Family};

fn data<T: Serialize>(value: &T) -> Response {
    match serde_json::to_value(value) {
        Ok(v) => Response::Data(v),
        Err(e) => Response::Error(format!("% cannot encode the answer as JSON: {e}")),
    }
}

pub(super) fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Local => "local",
        Protocol::Connected => "connected",
        Protocol::Static => "static",
        Protocol::Bgp => "bgp",
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

#[derive(Serialize)]
struct Nexthop {
    address: String,
    interface: String,
    /// The VPN label pushed towards a remote PE.
    label: Option<u32>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ForwardJson {
    Attached { interface: String },
    Receive { interface: String },
    Blackhole,
    Nexthops { nexthops: Vec<Nexthop> },
    Unresolved { next_hop: String },
}

impl From<&Forward> for ForwardJson {
    fn from(f: &Forward) -> Self {
        match f {
            Forward::Attached { interface } => ForwardJson::Attached {
                interface: interface.to_string(),
            },
            Forward::Receive { interface } => ForwardJson::Receive {
                interface: interface.to_string(),
            },
            Forward::Blackhole => ForwardJson::Blackhole,
            Forward::Nexthops(adjs) => ForwardJson::Nexthops {
                nexthops: adjs
                    .iter()
                    .map(|a| Nexthop {
                        address: a.address.to_string(),
                        interface: a.interface.to_string(),
                        label: a.vpn_label,
                    })
                    .collect(),
            },
            Forward::Unresolved(nh) => ForwardJson::Unresolved {
                next_hop: nh.to_string(),
            },
        }
    }
}

/// Who put a path into the VPN table: a VRF of this router, or a BGP neighbor.
#[derive(Serialize)]
struct SourceJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    vrf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    neighbor: Option<String>,
}

impl From<&PathSource> for SourceJson {
    fn from(s: &PathSource) -> Self {
        match s {
            PathSource::Vrf(v) => SourceJson {
                vrf: Some(v.to_string()),
                neighbor: None,
            },
            PathSource::Peer(p) => SourceJson {
                vrf: None,
                neighbor: Some(p.to_string()),
            },
        }
    }
}

#[derive(Serialize)]
struct LeakedJson {
    rd: String,
    #[serde(flatten)]
    source: SourceJson,
    /// The protocol the route had where it came from.
    protocol: &'static str,
}

#[derive(Serialize)]
struct PeerJson {
    address: String,
    router_id: String,
    ebgp: bool,
}

impl From<&PeerRef> for PeerJson {
    fn from(p: &PeerRef) -> Self {
        PeerJson {
            address: p.addr.to_string(),
            router_id: p.router_id.to_string(),
            ebgp: p.ebgp,
        }
    }
}

#[derive(Serialize)]
struct RouteJson {
    prefix: String,
    protocol: &'static str,
    /// The `show ip route` code: `L`, `C`, `S`, `B`.
    code: &'static str,
    distance: u8,
    tag: u32,
    /// Set when the route was imported from the VPN table (leaked from another VRF, or a
    /// remote PE's).
    leaked: Option<LeakedJson>,
    /// The BGP neighbor the route was learned from.
    peer: Option<PeerJson>,
    forward: ForwardJson,
}

#[derive(Serialize)]
struct RouteTableJson {
    vrf: String,
    family: &'static str,
    routes: Vec<RouteJson>,
}

fn route_json(prefix: &IpNet, route: &Route) -> RouteJson {
    RouteJson {
        prefix: prefix.to_string(),
        protocol: protocol_name(route.protocol()),
        code: route.protocol().code(),
        distance: route.distance(),
        tag: route.tag(),
        leaked: route.leaked().map(|l| LeakedJson {
            rd: l.rd.to_string(),
            source: (&l.source).into(),
            protocol: protocol_name(l.protocol),
        }),
        peer: route.peer().map(Into::into),
        forward: (&**route.forward()).into(),
    }
}

/// `ip route vrf NAME` / `ipv6 route vrf NAME` (the VRF exists: checked by the caller).
pub(super) fn ip_route(rib: &Rib, vrf: &str, family: Family) -> Response {
    let routes = rib
        .table(vrf)
        .into_iter()
        .flatten()
        .filter(|(p, _)| {
            matches!(
                (family, p),
                (Family::Ipv4, IpNet::V4(_)) | (Family::Ipv6, IpNet::V6(_))
            )
        })
        .filter_map(|(p, e)| e.best_route().map(|r| route_json(&p, r)))
        .collect();
    data(&RouteTableJson {
        vrf: vrf.to_string(),
        family: family_name(family),
        routes,
    })
}

#[derive(Serialize)]
struct ImportedFromJson {
    rd: String,
    #[serde(flatten)]
    source: SourceJson,
}

/// A BGP path's attributes as both BGP table views show them.
#[derive(Serialize)]
struct AttrsJson {
    next_hop: String,
    origin: &'static str,
    med: Option<u32>,
    local_pref: Option<u32>,
    weight: u32,
    as_path: String,
    tag: u32,
    communities: Vec<String>,
    ext_communities: Vec<String>,
    large_communities: Vec<String>,
    /// Optional transitive attributes of types we do not know, passed on as received (with
    /// the partial bit); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unrecognized_attributes: Vec<OpaqueJson>,
}

#[derive(Serialize)]
struct OpaqueJson {
    #[serde(rename = "type")]
    type_code: u8,
    flags: u8,
    /// The value in hex.
    value: String,
}

impl AttrsJson {
    fn new(a: &Attrs, forward: &Forward, family: Family) -> Self {
        AttrsJson {
            next_hop: show::next_hop(a, forward, family),
            origin: origin_name(a.origin),
            med: a.med,
            local_pref: a.local_pref,
            weight: a.weight,
            as_path: a.as_path.text().to_string(),
            tag: a.tag,
            communities: strings(a.communities.iter()),
            ext_communities: strings(a.ext_communities.iter()),
            large_communities: strings(a.large_communities.iter()),
            unrecognized_attributes: a
                .opaque
                .iter()
                .flat_map(|o| o.iter())
                .map(|o| OpaqueJson {
                    type_code: o.type_code,
                    flags: o.flags,
                    value: o.value.iter().map(|b| format!("{b:02x}")).collect(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct VpnPathJson {
    best: bool,
    /// False when the next hop is unreachable (`inaccessible`).
    valid: bool,
    /// Who put the path into the VPN table (the exporting VRF or the neighbor).
    source: SourceJson,
    /// Set for paths shown under an importing VRF's RD: the RD they were imported from.
    imported_from: Option<ImportedFromJson>,
    #[serde(flatten)]
    attrs: AttrsJson,
    route_targets: Vec<String>,
    /// The VPN label a remote PE advertised.
    label: Option<u32>,
    peer: Option<PeerJson>,
}

#[derive(Serialize)]
struct VpnPrefixJson {
    prefix: String,
    paths: Vec<VpnPathJson>,
}

#[derive(Serialize)]
struct RdJson {
    rd: String,
    /// The local VRF whose RD this is.
    vrf: Option<String>,
    prefixes: Vec<VpnPrefixJson>,
}

#[derive(Serialize)]
struct VpnJson {
    family: &'static str,
    route_distinguishers: Vec<RdJson>,
}

fn strings<'a, T: ToString + 'a>(items: impl IntoIterator<Item = &'a T>) -> Vec<String> {
    items.into_iter().map(ToString::to_string).collect()
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "igp",
        Origin::Egp => "egp",
        Origin::Incomplete => "incomplete",
    }
}

fn path_json(row: &show::VpnRow, family: Family) -> VpnPathJson {
    let a: &Attrs = row.attrs;
    VpnPathJson {
        best: row.best,
        valid: !matches!(**row.path.forward(), Forward::Unresolved(_)),
        source: row.source.into(),
        imported_from: row.imported_from.map(|(rd, src)| ImportedFromJson {
            rd: rd.to_string(),
            source: src.into(),
        }),
        attrs: AttrsJson::new(a, row.path.forward(), family),
        route_targets: a
            .ext_communities
            .iter()
            .filter_map(|c| c.as_route_target())
            .map(|rt| rt.0.to_string())
            .collect(),
        label: row.path.label(),
        peer: row.path.peer().map(Into::into),
    }
}

/// `ip bgp vpnv4 all` / `bgp vpnv6 unicast all` (with or without `detail`: the data is the
/// same).
pub(super) fn vpn(rib: &Rib, family: Family) -> Response {
    let route_distinguishers = show::vpn_by_rd(rib, family)
        .into_iter()
        .map(|(rd, vrf, rows)| RdJson {
            rd: rd.to_string(),
            vrf: vrf.map(str::to_string),
            prefixes: rows
                .iter()
                .map(|(prefix, paths)| VpnPrefixJson {
                    prefix: prefix.to_string(),
                    paths: paths.iter().map(|p| path_json(p, family)).collect(),
                })
                .collect(),
        })
        .collect();
    data(&VpnJson {
        family: family_name(family),
        route_distinguishers,
    })
}

#[derive(Serialize)]
struct SequenceJson {
    seq: u32,
    action: &'static str,
    #[serde(rename = "match")]
    matches: Vec<String>,
    #[serde(rename = "set")]
    sets: Vec<String>,
    /// `"next"`, a sequence number, or null.
    #[serde(rename = "continue")]
    continue_to: Option<serde_json::Value>,
    /// Routes this sequence matched.
    hits: u64,
}

#[derive(Serialize)]
struct RouteMapJson {
    name: String,
    sequences: Vec<SequenceJson>,
    permitted: u64,
    denied: u64,
    implicit_denied: u64,
}

#[derive(Serialize)]
struct RouteMapsJson {
    route_maps: Vec<RouteMapJson>,
}

/// `route-map [NAME]`, with the hit counters of the route-maps the RIB ran.
pub(super) fn route_maps(
    maps: &[&Arc<RouteMap>],
    stats: &BTreeMap<String, RouteMapStats>,
) -> Response {
    let route_maps = maps
        .iter()
        .map(|m| {
            let st = stats.get(&m.name).cloned().unwrap_or_else(|| m.new_stats());
            RouteMapJson {
                name: m.name.clone(),
                sequences: m
                    .sequences()
                    .iter()
                    .enumerate()
                    .map(|(i, s)| SequenceJson {
                        seq: s.seq,
                        action: match s.action {
                            policy::Action::Permit => "permit",
                            policy::Action::Deny => "deny",
                        },
                        matches: strings(&s.matches),
                        sets: strings(&s.sets),
                        continue_to: s.continue_to.map(|c| match c {
                            policy::route_map::Continue::Next => serde_json::json!("next"),
                            policy::route_map::Continue::Seq(n) => serde_json::json!(n),
                        }),
                        hits: st.hits.get(i).copied().unwrap_or(0),
                    })
                    .collect(),
                permitted: st.permitted,
                denied: st.denied,
                implicit_denied: st.implicit_denied,
            }
        })
        .collect();
    data(&RouteMapsJson { route_maps })
}

#[derive(Serialize)]
struct RedistributeJson {
    protocol: &'static str,
    route_map: Option<String>,
}

#[derive(Serialize)]
struct VrfJson {
    name: String,
    rd: Option<String>,
    import: Vec<String>,
    export: Vec<String>,
    /// Our VPN label for the VRF (only with an MPLS core).
    vpn_label: Option<u32>,
    interfaces: Vec<String>,
    redistribute: Vec<RedistributeJson>,
    export_map: Option<String>,
    import_map: Option<String>,
}

#[derive(Serialize)]
struct VrfsJson {
    vrfs: Vec<VrfJson>,
}

/// `vrf [NAME]`.
pub(super) fn vrfs(views: &[VrfView]) -> Response {
    let vrfs = views
        .iter()
        .map(|v| VrfJson {
            name: v.name.to_string(),
            rd: v.policy.rd.map(|rd| rd.to_string()),
            import: v.policy.import.iter().map(|rt| rt.0.to_string()).collect(),
            export: v.policy.export.iter().map(|rt| rt.0.to_string()).collect(),
            vpn_label: v.label,
            interfaces: v.interfaces.iter().map(|i| i.to_string()).collect(),
            redistribute: v
                .policy
                .redistribute
                .iter()
                .map(|(p, m)| RedistributeJson {
                    protocol: protocol_name(*p),
                    route_map: m.as_ref().map(|m| m.name().to_string()),
                })
                .collect(),
            export_map: v.policy.export_map.as_ref().map(|m| m.name().to_string()),
            import_map: v.policy.import_map.as_ref().map(|m| m.name().to_string()),
        })
        .collect();
    data(&VrfsJson { vrfs })
}

#[derive(Serialize)]
struct P4EntriesJson {
    count: usize,
    /// One canonical line per entity (the `show p4 entries` form), sorted.
    entries: Vec<String>,
}

/// `p4 entries`, from the entities read back from the switch.
pub(super) fn p4_entries(entities: &[Entity]) -> Response {
    let mut sorted: Vec<&Entity> = entities.iter().collect();
    sorted.sort();
    data(&P4EntriesJson {
        count: sorted.len(),
        entries: sorted.into_iter().map(show::entity_line).collect(),
    })
}

#[derive(Serialize)]
struct VrfPathJson {
    best: bool,
    /// False when the next hop is unreachable.
    valid: bool,
    /// `redistributed`, `neighbor` or `imported`.
    kind: &'static str,
    /// For redistributed paths: the protocol they came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'static str>,
    /// For paths from a neighbor of the VRF.
    #[serde(skip_serializing_if = "Option::is_none")]
    peer: Option<PeerJson>,
    /// For imported paths: the RD they were imported from and who put them in the VPN table.
    #[serde(skip_serializing_if = "Option::is_none")]
    imported_from: Option<ImportedFromJson>,
    /// For paths imported from a remote PE: the VPN label it advertised.
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<u32>,
    #[serde(flatten)]
    attrs: AttrsJson,
}

#[derive(Serialize)]
struct VrfPrefixJson {
    prefix: String,
    paths: Vec<VrfPathJson>,
}

#[derive(Serialize)]
struct VrfBgpJson {
    vrf: String,
    family: &'static str,
    rd: Option<String>,
    prefixes: Vec<VrfPrefixJson>,
}

/// `bgp vrf NAME ipv4|ipv6 unicast`.
pub(super) fn bgp_vrf(rib: &Rib, vrf: &str, family: Family) -> Response {
    let Some(table) = show::vrf_bgp_table(rib, vrf, family) else {
        return Response::Error(format!("% VRF {vrf} does not exist"));
    };
    let path = |r: &show::VrfBgpRow| {
        let a: &Attrs = &r.attrs;
        let (kind, protocol, peer, imported_from, label) = match &r.source {
            show::VrfPathSource::Redistributed(p) => {
                ("redistributed", Some(protocol_name(*p)), None, None, None)
            }
            show::VrfPathSource::Neighbor(p) => ("neighbor", None, Some((*p).into()), None, None),
            show::VrfPathSource::Imported { rd, source, label } => (
                "imported",
                None,
                None,
                Some(ImportedFromJson {
                    rd: rd.to_string(),
                    source: (*source).into(),
                }),
                *label,
            ),
        };
        VrfPathJson {
            best: r.best,
            valid: !matches!(r.forward, Forward::Unresolved(_)),
            kind,
            protocol,
            peer,
            imported_from,
            label,
            attrs: AttrsJson::new(a, r.forward, family),
        }
    };
    data(&VrfBgpJson {
        vrf: vrf.to_string(),
        family: family_name(family),
        rd: rib
            .vrf_policy(vrf)
            .and_then(|p| p.rd)
            .map(|rd| rd.to_string()),
        prefixes: table
            .iter()
            .map(|(prefix, rows)| VrfPrefixJson {
                prefix: prefix.to_string(),
                paths: rows.iter().map(path).collect(),
            })
            .collect(),
    })
}
