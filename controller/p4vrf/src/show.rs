//! `show` output in the style network engineers know from IOS: `show ip route vrf`,
//! `show ip bgp vpnv4 all [detail]`, and a canonical dump of the P4 entries.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use p4rt::entity::{Entity, MatchValue};
use policy::{Attrs, Origin};
use rib::{
    CandidateRef, Forward, PathSource, PeerRef, Protocol, Rib, Route, RouteDistinguisher, VpnPath,
};

/// Address family of a `show` command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn holds(self, prefix: &IpNet) -> bool {
        matches!(
            (self, prefix),
            (Family::Ipv4, IpNet::V4(_)) | (Family::Ipv6, IpNet::V6(_))
        )
    }
}

fn via(route: &Route) -> String {
    let origin = route
        .leaked()
        .map(|l| match &l.source {
            PathSource::Vrf(v) => format!(" ({v})"),
            PathSource::Peer(p) => format!(" (from {p})"),
        })
        .unwrap_or_default();
    match &**route.forward() {
        Forward::Attached { interface } | Forward::Receive { interface } => {
            format!("is directly connected{origin}, {interface}")
        }
        Forward::Blackhole => format!(
            "[{}/0] is directly connected{origin}, Null0",
            route.distance()
        ),
        Forward::Unresolved(nh) => format!("via {nh} (inaccessible)"),
        Forward::Nexthops(adjs) => {
            let hops: Vec<String> = adjs
                .iter()
                .map(|a| {
                    let label = a
                        .vpn_label
                        .map(|l| format!(", label {l}"))
                        .unwrap_or_default();
                    format!("via {}{origin}, {}{label}", a.address, a.interface)
                })
                .collect();
            format!(
                "[{}/0] {}",
                route.distance(),
                hops.join("\n                               ")
            )
        }
    }
}

/// `show ip route vrf NAME` / `show ipv6 route vrf NAME`.
pub fn ip_route_vrf(rib: &Rib, vrf: &str, family: Family) -> String {
    let mut out = String::new();
    let cmd = match family {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ipv6",
    };
    let _ = writeln!(out, "p4vrf# show {cmd} route vrf {vrf}");
    let _ = writeln!(out, "Routing Table: {vrf}");
    let _ = writeln!(out, "Codes: L - local, C - connected, S - static, B - BGP");
    let _ = writeln!(
        out,
        "       + - leaked from another VRF (source VRF in parentheses)"
    );
    let _ = writeln!(out);
    let Some(table) = rib.table(vrf) else {
        let _ = writeln!(out, "% VRF {vrf} does not exist");
        return out;
    };
    let routes: Vec<(IpNet, &Route)> = table
        .iter()
        .filter(|(p, _)| family.holds(p))
        .filter_map(|(p, e)| e.best_route().map(|r| (p, r)))
        .collect();
    if routes.is_empty() {
        let _ = writeln!(out, "(no routes)");
    }
    for (prefix, route) in routes {
        let code = format!(
            "{}{}",
            route.protocol().code(),
            if route.leaked().is_some() { " +" } else { "" }
        );
        let tag = if route.tag() != 0 {
            format!(", tag {}", route.tag())
        } else {
            String::new()
        };
        let _ = writeln!(out, "{code:<6}{prefix} {}{tag}", via(route));
    }
    out
}

fn origin_code(origin: Origin) -> &'static str {
    match origin {
        Origin::Igp => "i",
        Origin::Egp => "e",
        Origin::Incomplete => "?",
    }
}

fn unspecified(family: Family) -> String {
    match family {
        Family::Ipv4 => Ipv4Addr::UNSPECIFIED.to_string(),
        Family::Ipv6 => Ipv6Addr::UNSPECIFIED.to_string(),
    }
}

/// The BGP next hop of a path: the attribute when it has one (learned paths), else the
/// forwarding next hop (a static route's), else 0.0.0.0 (connected, leaked locally).
pub(crate) fn next_hop(attrs: &Attrs, forward: &Forward, family: Family) -> String {
    if let Some(a) = attrs.next_hop.addr() {
        return a.to_string();
    }
    match forward {
        Forward::Nexthops(adjs) if !adjs.is_empty() => adjs[0].address.to_string(),
        Forward::Unresolved(a) => a.to_string(),
        _ => unspecified(family),
    }
}

/// One BGP path of an RD's slice of the VPN table.
pub(crate) struct VpnRow<'a> {
    pub(crate) path: &'a VpnPath,
    /// Who put the path into the VPN table (for imported paths, the exporter).
    pub(crate) source: &'a PathSource,
    /// For imported paths: the RD they were imported from and where they came from.
    pub(crate) imported_from: Option<(RouteDistinguisher, &'a PathSource)>,
    /// The attributes as the importing VRF holds them (after its import map).
    pub(crate) attrs: &'a Attrs,
    pub(crate) best: bool,
}

/// An RD's slice of the VPN table: the RD, the VRF it belongs to (if local), and its paths by
/// prefix.
pub(crate) type RdView<'a> = (
    RouteDistinguisher,
    Option<&'a str>,
    BTreeMap<IpNet, Vec<VpnRow<'a>>>,
);

/// Every RD of the VPN table with its paths, and for each local VRF's RD the paths it
/// imported (shown under the importing VRF's RD, as IOS does).
pub(crate) fn vpn_by_rd(rib: &Rib, family: Family) -> Vec<RdView<'_>> {
    let mut views: BTreeMap<RouteDistinguisher, RdView> = BTreeMap::new();
    for vrf in rib.vrf_names() {
        if let Some(rd) = rib.vrf_policy(vrf).and_then(|p| p.rd) {
            views.insert(rd, (rd, Some(&**vrf), BTreeMap::new()));
        }
    }
    for ((rd, prefix), paths) in rib.vpn_table() {
        if !family.holds(&prefix) {
            continue;
        }
        let view = views.entry(rd).or_insert((rd, None, BTreeMap::new()));
        let best = rib.vpn_best(&(rd, prefix)).map(|(s, _)| s.clone());
        for (source, path) in paths.iter_keyed() {
            view.2.entry(prefix).or_default().push(VpnRow {
                path,
                source,
                imported_from: None,
                attrs: &path.attrs,
                best: best.as_ref() == Some(source),
            });
        }
    }
    for vrf in rib.vrf_names() {
        let Some(rd) = rib.vrf_policy(vrf).and_then(|p| p.rd) else {
            continue;
        };
        let Some(table) = rib.table(vrf) else {
            continue;
        };
        for (prefix, entry) in table.iter().filter(|(p, _)| family.holds(p)) {
            for (key, route) in entry.candidates.iter_keyed() {
                let CandidateRef::Imported(src_rd, source) = key else {
                    continue;
                };
                let Some(path) = rib
                    .vpn_table()
                    .get(&(*src_rd, prefix))
                    .and_then(|m| m.get(source))
                else {
                    continue;
                };
                let best = entry.bgp_best_key() == Some(key);
                let view = views.get_mut(&rd).expect("inserted above");
                view.2.entry(prefix).or_default().push(VpnRow {
                    path,
                    source,
                    imported_from: Some((*src_rd, source)),
                    attrs: &route.attrs,
                    best,
                });
            }
        }
    }
    views.into_values().collect()
}

/// Where a path of a VRF's BGP table came from.
pub(crate) enum VrfPathSource<'a> {
    /// One of the VRF's own routes, redistributed into BGP (after the redistribution map).
    Redistributed(Protocol),
    /// From a BGP neighbor inside the VRF (a CE), after its route-map in.
    Neighbor(&'a PeerRef),
    /// Imported from the VPN table by route target: the RD:prefix path and who put it there
    /// (another local VRF, or a remote PE with the VPN label it advertised).
    Imported {
        rd: RouteDistinguisher,
        source: &'a PathSource,
        label: Option<u32>,
    },
}

/// One path of a VRF's BGP table.
pub(crate) struct VrfBgpRow<'a> {
    pub(crate) source: VrfPathSource<'a>,
    /// The attributes as the VRF holds them (after redistribution, route-map in or import map).
    pub(crate) attrs: Arc<Attrs>,
    pub(crate) forward: &'a Forward,
    /// The VRF's BGP best path: what it advertises to its CEs and exports to the VPN table.
    pub(crate) best: bool,
}

/// A VRF's BGP table for one family, by prefix: the BGP paths (from CEs and imported) and the
/// redistributed own route where it is the BGP best path. (An own route that is redistributed
/// but loses to a BGP path is not listed: the RIB keeps its post-redistribution attributes only
/// for the best path. Locally originated routes win the decision process unless weight or
/// local preference say otherwise, so this is rare.) `None` when the VRF does not exist.
pub(crate) fn vrf_bgp_table<'a>(
    rib: &'a Rib,
    vrf: &str,
    family: Family,
) -> Option<Vec<(IpNet, Vec<VrfBgpRow<'a>>)>> {
    let table = rib.table(vrf)?;
    let mut out = Vec::new();
    for (prefix, entry) in table.iter().filter(|(p, _)| family.holds(p)) {
        let bgp_best = entry.bgp_best();
        let best_key = bgp_best.as_ref().map(|b| b.key.as_ref());
        let mut rows = Vec::new();
        for (key, route) in entry.candidates.iter_keyed() {
            let best = best_key == Some(key);
            let (source, attrs) = match key {
                CandidateRef::Own(protocol) => match (&bgp_best, best) {
                    (Some(b), true) => (VrfPathSource::Redistributed(protocol), b.attrs.clone()),
                    _ => continue,
                },
                CandidateRef::Peer(_) => match route.peer() {
                    Some(peer) => (VrfPathSource::Neighbor(peer), route.attrs.clone()),
                    None => continue,
                },
                CandidateRef::Imported(rd, source) => {
                    let label = rib
                        .vpn_table()
                        .get(&(*rd, prefix))
                        .and_then(|paths| paths.get(source))
                        .and_then(|path| path.label());
                    (
                        VrfPathSource::Imported {
                            rd: *rd,
                            source,
                            label,
                        },
                        route.attrs.clone(),
                    )
                }
            };
            rows.push(VrfBgpRow {
                source,
                attrs,
                forward: route.forward(),
                best,
            });
        }
        if !rows.is_empty() {
            // The best path first, as IOS and FRR list it.
            rows.sort_by_key(|r| !r.best);
            out.push((prefix, rows));
        }
    }
    Some(out)
}

/// `*>` valid and best, `* ` valid, blank when the next hop is unreachable.
fn status_code(valid: bool, best: bool) -> &'static str {
    match (valid, best) {
        (true, true) => "*>",
        (true, false) => "* ",
        (false, _) => "  ",
    }
}

/// One path of a BGP table listing: status, network (first path of a prefix only), next hop,
/// metric, local preference, weight, AS path and origin code, in IOS's columns.
fn path_line(out: &mut String, status: &str, network: Option<&IpNet>, next_hop: &str, a: &Attrs) {
    let network = network.map(ToString::to_string).unwrap_or_default();
    let path = a.as_path.text();
    let sep = if path.is_empty() { "" } else { " " };
    let _ = writeln!(
        out,
        "{status}  {network:<24} {next_hop:<24} {:>6} {:>6} {:>6} {path}{sep}{}",
        a.med.unwrap_or(0),
        a.local_pref.map(|l| l.to_string()).unwrap_or_default(),
        a.weight,
        origin_code(a.origin)
    );
}

/// `show bgp vrf NAME ipv4|ipv6 unicast`: the VRF's BGP table, one line per path.
pub fn bgp_vrf_unicast(rib: &Rib, vrf: &str, family: Family) -> Option<String> {
    let table = vrf_bgp_table(rib, vrf, family)?;
    let af = match family {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    };
    let mut out = String::new();
    let _ = writeln!(out, "p4vrf# show bgp vrf {vrf} {af} unicast");
    let rd = rib
        .vrf_policy(vrf)
        .and_then(|p| p.rd)
        .map_or_else(|| "none".to_string(), |rd| rd.to_string());
    let _ = writeln!(out, "BGP table of vrf {vrf} (route distinguisher {rd})");
    table_header(
        &mut out,
        "* valid, > best, i internal, r redistributed, x imported",
    );
    let mut paths = 0;
    for (prefix, rows) in &table {
        for (i, r) in rows.iter().enumerate() {
            paths += 1;
            let a: &Attrs = &r.attrs;
            let valid = !matches!(r.forward, Forward::Unresolved(_));
            let kind = match r.source {
                VrfPathSource::Redistributed(_) => "r",
                VrfPathSource::Neighbor(p) if !p.ebgp => "i",
                VrfPathSource::Neighbor(_) => " ",
                VrfPathSource::Imported { .. } => "x",
            };
            let network = (i == 0).then_some(prefix);
            let nh = next_hop(a, r.forward, family);
            let status = format!("{}{kind}", status_code(valid, r.best));
            path_line(&mut out, &status, network, &nh, a);
            if let VrfPathSource::Imported { rd, source, label } = &r.source {
                let from = match source {
                    PathSource::Vrf(v) => format!("vrf {v}"),
                    PathSource::Peer(p) => format!("neighbor {p}"),
                };
                let label = label.map(|l| format!(", label {l}")).unwrap_or_default();
                let _ = writeln!(out, "        imported from {rd}:{prefix} ({from}{label})");
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Displayed {} routes and {paths} total paths",
        table.len()
    );
    Some(out)
}

/// A community as IOS shows it: the well-known ones by name (`no-export`), the rest `ASN:NN`.
pub fn community_name(c: &policy::Community) -> String {
    c.well_known_name()
        .map_or_else(|| c.to_string(), str::to_string)
}

fn communities_lines(out: &mut String, attrs: &Attrs) {
    if !attrs.communities.is_empty() {
        let c: Vec<String> = attrs.communities.iter().map(community_name).collect();
        let _ = writeln!(out, "      Community: {}", c.join(" "));
    }
    if !attrs.ext_communities.is_empty() {
        let c: Vec<String> = attrs
            .ext_communities
            .iter()
            .map(|c| c.to_string())
            .collect();
        let _ = writeln!(out, "      Extended Community: {}", c.join(" "));
    }
    if !attrs.large_communities.is_empty() {
        let c: Vec<String> = attrs
            .large_communities
            .iter()
            .map(|c| c.to_string())
            .collect();
        let _ = writeln!(out, "      Large Community: {}", c.join(" "));
    }
    for o in attrs.opaque.iter().flat_map(|o| o.iter()) {
        let _ = writeln!(
            out,
            "      Unrecognized attribute: type {}, flags 0x{:02X}, {} bytes (passed on, partial)",
            o.type_code,
            o.flags,
            o.value.len()
        );
    }
}

/// The legend and column heads of a BGP table listing (one [`path_line`] per path follows).
fn table_header(out: &mut String, status_codes: &str) {
    let _ = writeln!(out, "Status codes: {status_codes}");
    let _ = writeln!(out, "Origin codes: i - IGP, e - EGP, ? - incomplete");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "     {:<24} {:<24} Metric LocPrf Weight Path",
        "Network", "Next Hop"
    );
}

/// `show ip bgp vpnv4 all` (and `show bgp vpnv6 unicast all`), optionally with `detail`.
pub fn bgp_vpn_all(rib: &Rib, family: Family, detail: bool) -> String {
    let mut out = String::new();
    let cmd = match family {
        Family::Ipv4 => "show ip bgp vpnv4 all",
        Family::Ipv6 => "show bgp vpnv6 unicast all",
    };
    let _ = writeln!(out, "p4vrf# {cmd}{}", if detail { " detail" } else { "" });
    let views = vpn_by_rd(rib, family);
    if !detail {
        table_header(&mut out, "* valid, > best");
    }
    for (rd, vrf, rows) in views {
        match vrf {
            Some(vrf) => {
                let _ = writeln!(out, "Route Distinguisher: {rd} (default for vrf {vrf})");
            }
            None => {
                let _ = writeln!(out, "Route Distinguisher: {rd}");
            }
        }
        for (prefix, paths) in &rows {
            if detail {
                let best_index = paths.iter().position(|p| p.best).map_or(0, |i| i + 1);
                let _ = writeln!(out, "BGP routing table entry for {rd}:{prefix}");
                let table = vrf.map(|v| format!(", table {v}")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  Paths: ({} available, best #{best_index}{table})",
                    paths.len()
                );
                for p in paths {
                    let a = p.attrs;
                    match (p.imported_from, p.path.peer()) {
                        (Some((src_rd, PathSource::Vrf(src))), _) => {
                            let _ =
                                writeln!(out, "  Imported path from {src_rd}:{prefix} (vrf {src})");
                        }
                        (Some((src_rd, PathSource::Peer(peer))), _) => {
                            let _ = writeln!(
                                out,
                                "  Imported path from {src_rd}:{prefix} (neighbor {peer})"
                            );
                        }
                        (None, Some(_)) if p.path.label().is_some() => {
                            let path = a.as_path.text();
                            let _ =
                                writeln!(out, "  {}", if path.is_empty() { "Local" } else { path });
                        }
                        (None, _) => {
                            let _ = writeln!(out, "  Local (via vrf {})", vrf.unwrap_or("?"));
                        }
                    }
                    let from = p
                        .path
                        .peer()
                        .map(|x| format!("{} ({})", x.addr, x.router_id))
                        .unwrap_or_else(|| unspecified(family));
                    let _ = writeln!(
                        out,
                        "    {} from {from}",
                        next_hop(a, p.path.forward(), family)
                    );
                    let _ = writeln!(
                        out,
                        "      Origin {}, metric {}, localpref {}, weight {}, valid, {}{}",
                        match a.origin {
                            Origin::Igp => "IGP",
                            Origin::Egp => "EGP",
                            Origin::Incomplete => "incomplete",
                        },
                        a.med.unwrap_or(0),
                        a.local_pref.unwrap_or(100),
                        a.weight,
                        match (p.imported_from.is_some(), p.path.peer()) {
                            (true, _) => "imported",
                            (false, Some(peer)) if peer.ebgp => "external",
                            (false, Some(_)) => "internal",
                            (false, None) => "sourced",
                        },
                        if p.best { ", best" } else { "" }
                    );
                    if a.tag != 0 {
                        let _ = writeln!(out, "      Tag: {}", a.tag);
                    }
                    communities_lines(&mut out, a);
                    if let Some(label) = p.path.label() {
                        let _ = writeln!(out, "      mpls labels in/out nolabel/{label}");
                    }
                    if let Forward::Unresolved(nh) = &**p.path.forward() {
                        let _ = writeln!(out, "      Next hop {nh} inaccessible");
                    }
                }
            } else {
                for (i, p) in paths.iter().enumerate() {
                    let a = p.attrs;
                    let valid = !matches!(**p.path.forward(), Forward::Unresolved(_));
                    let network = (i == 0).then_some(prefix);
                    let nh = next_hop(a, p.path.forward(), family);
                    let status = format!(" {}", status_code(valid, p.best));
                    path_line(&mut out, &status, network, &nh, a);
                }
            }
        }
    }
    out
}

fn format_value(table: &str, field: &str, bytes: &[u8]) -> String {
    let mut value: u128 = 0;
    for b in bytes.iter().take(16) {
        value = (value << 8) | u128::from(*b);
    }
    if field == "dst_addr" && table.ends_with("ipv4_vrf_lpm") {
        Ipv4Addr::from(value as u32).to_string()
    } else if field == "dst_addr" && table.ends_with("ipv6_vrf_lpm") {
        Ipv6Addr::from(value).to_string()
    } else if field.ends_with("mac") {
        let b = (value as u64).to_be_bytes();
        format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[2], b[3], b[4], b[5], b[6], b[7]
        )
    } else {
        value.to_string()
    }
}

/// One entity as a stable line, with values decoded by what the fields are (addresses, MACs,
/// numbers): the form the snapshots use, and the same whether the entity was computed or read
/// back from a switch (values are canonicalised first).
pub fn entity_line(entity: &Entity) -> String {
    match entity {
        Entity::Table(t) => {
            let mut s = t.table.to_string();
            for m in &t.matches {
                let v = match &m.value {
                    MatchValue::Exact(b) | MatchValue::Optional(b) => {
                        format_value(&t.table, &m.field, b)
                    }
                    MatchValue::Lpm { value, prefix_len } => {
                        format!("{}/{prefix_len}", format_value(&t.table, &m.field, value))
                    }
                    other => other.to_string(),
                };
                let _ = write!(s, " {}={v}", m.field);
            }
            if t.priority != 0 {
                let _ = write!(s, " priority={}", t.priority);
            }
            match &t.action {
                p4rt::entity::TableAction::Action(a) => {
                    let params: Vec<String> = a
                        .params
                        .iter()
                        .map(|(n, v)| format!("{n}={}", format_value("", n, v)))
                        .collect();
                    let _ = write!(s, " -> {}({})", a.action, params.join(", "));
                }
                other => {
                    let _ = write!(s, " -> {other}");
                }
            }
            s
        }
        Entity::Member(m) => {
            let params: Vec<String> = m
                .action
                .params
                .iter()
                .map(|(n, v)| format!("{n}={}", format_value("", n, v)))
                .collect();
            format!(
                "{} member {} -> {}({})",
                m.profile,
                m.member_id,
                m.action.action,
                params.join(", ")
            )
        }
        Entity::Group(g) => {
            let members: Vec<String> = g.members.iter().map(|(m, w)| format!("{m}x{w}")).collect();
            format!(
                "{} group {} -> [{}]",
                g.profile,
                g.group_id,
                members.join(", ")
            )
        }
    }
}

/// `show p4 entries`: every entity, one line each, in the entities' own order (table, then key
/// values as numbers), so `vrf_id=10` follows `vrf_id=9` and `10.10.0.0` follows `10.2.0.0`.
pub fn p4_entries<'a>(entities: impl IntoIterator<Item = &'a Entity>) -> String {
    let mut sorted: Vec<&Entity> = entities.into_iter().collect();
    sorted.sort();
    let mut out = String::from("p4vrf# show p4 entries\n");
    for e in sorted {
        out.push_str(&entity_line(e));
        out.push('\n');
    }
    out
}

/// `show route-map [NAME]`, as IOS prints it: each sequence with its match and set clauses and
/// how many routes it matched (`stats`: the RIB's counters, [`Rib::route_map_stats`]). Without
/// a name, every route-map in name order.
pub fn route_map(
    policy: &policy::Policy,
    stats: &BTreeMap<String, policy::RouteMapStats>,
    name: Option<&str>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "p4vrf# show route-map{}",
        name.map(|n| format!(" {n}")).unwrap_or_default()
    );
    let maps: Vec<&policy::RouteMap> = match name {
        Some(n) => match policy.route_maps.get(n) {
            Some(m) => vec![&**m],
            None => {
                let _ = writeln!(out, "% route-map {n} not found");
                return out;
            }
        },
        None => policy.route_maps.values().map(|m| &**m).collect(),
    };
    for map in maps {
        let hits = stats.get(&map.name).map(|s| s.hits.as_slice());
        for (i, s) in map.sequences().iter().enumerate() {
            let action = match s.action {
                policy::Action::Permit => "permit",
                policy::Action::Deny => "deny",
            };
            let _ = writeln!(out, "route-map {}, {action}, sequence {}", map.name, s.seq);
            let _ = writeln!(out, "  Match clauses:");
            for m in &s.matches {
                let _ = writeln!(out, "    {m}");
            }
            let _ = writeln!(out, "  Set clauses:");
            for set in &s.sets {
                let _ = writeln!(out, "    {set}");
            }
            match s.continue_to {
                Some(policy::Continue::Next) => {
                    let _ = writeln!(out, "  Continue: next sequence");
                }
                Some(policy::Continue::Seq(n)) => {
                    let _ = writeln!(out, "  Continue: sequence {n}");
                }
                None => {}
            }
            let n = hits.and_then(|h| h.get(i)).copied().unwrap_or(0);
            let _ = writeln!(out, "  Policy routing matches: {n}");
        }
    }
    out
}

#[cfg(test)]
mod route_map_tests {
    use super::*;

    const POLICY: &str = r#"
[[prefix-list]]
name = "SHARED"
entry = [{ seq = 5, action = "permit", prefix = "10.1.1.0/24" }]

[[route-map]]
name = "StaticToBGP"
[[route-map.entry]]
seq = 10
action = "permit"
match.tag = [123]
set.community = ["no-export"]
set.community-additive = true

[[route-map]]
name = "MarkShared"
[[route-map.entry]]
seq = 20
action = "permit"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["SHARED"]
set.extcommunity-rt = ["65535:100"]
set.extcommunity-rt-additive = true
continue = 20
"#;

    fn policy() -> policy::Policy {
        policy::parse("t.toml", POLICY).expect("valid policy")
    }

    #[test]
    fn show_route_map_prints_clauses_and_hit_counts_like_ios() {
        let p = policy();
        let map = &p.route_maps["StaticToBGP"];
        let mut st = map.new_stats();
        let mut r = policy::Route::new(
            "10.1.2.0/24".parse().unwrap(),
            policy::Attrs::new(policy::SourceProtocol::Static),
        );
        r.attrs_mut().tag = 123;
        map.evaluate(&r, &mut st);
        map.evaluate(&r, &mut st);
        let stats: BTreeMap<String, policy::RouteMapStats> =
            [("StaticToBGP".to_string(), st)].into_iter().collect();
        assert_eq!(
            route_map(&p, &stats, Some("StaticToBGP")),
            "p4vrf# show route-map StaticToBGP
route-map StaticToBGP, permit, sequence 10
  Match clauses:
    tag 123
  Set clauses:
    community no-export additive
  Policy routing matches: 2
"
        );
        // All maps, in name order, sequences in order; a map never run shows 0 matches.
        assert_eq!(
            route_map(&p, &stats, None),
            "p4vrf# show route-map
route-map MarkShared, permit, sequence 10
  Match clauses:
    ip address prefix-lists: SHARED
  Set clauses:
    extcommunity rt 65535:100 additive
  Continue: sequence 20
  Policy routing matches: 0
route-map MarkShared, permit, sequence 20
  Match clauses:
  Set clauses:
  Policy routing matches: 0
route-map StaticToBGP, permit, sequence 10
  Match clauses:
    tag 123
  Set clauses:
    community no-export additive
  Policy routing matches: 2
"
        );
        assert_eq!(
            route_map(&p, &stats, Some("NOPE")),
            "p4vrf# show route-map NOPE\n% route-map NOPE not found\n"
        );
    }
}
