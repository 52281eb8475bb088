//! `show` output in the style network engineers know from IOS: `show ip route vrf`,
//! `show ip bgp vpnv4 all [detail]`, and a canonical dump of the P4 entries.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use p4rt::entity::{Entity, MatchValue};
use rib::{CandidateKey, Forward, PathSource, Protocol, Rib, Route, RouteDistinguisher, VpnPath};

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
        .leaked
        .as_ref()
        .map(|l| format!(" ({})", l.vrf))
        .unwrap_or_default();
    match &route.forward {
        Forward::Attached { interface } | Forward::Receive { interface } => {
            format!("is directly connected{origin}, {interface}")
        }
        Forward::Blackhole => format!(
            "[{}/0] is directly connected{origin}, Null0",
            route.distance
        ),
        Forward::Nexthops(adjs) => {
            let hops: Vec<String> = adjs
                .iter()
                .map(|a| format!("via {}{origin}, {}", a.address, a.interface))
                .collect();
            format!(
                "[{}/0] {}",
                route.distance,
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
    let routes: Vec<(&IpNet, &Route)> = table
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
            route.protocol.code(),
            if route.leaked.is_some() { " +" } else { "" }
        );
        let tag = if route.tag != 0 {
            format!(", tag {}", route.tag)
        } else {
            String::new()
        };
        let _ = writeln!(out, "{code:<6}{prefix} {}{tag}", via(route));
    }
    out
}

fn origin_code(protocol: Protocol) -> &'static str {
    // Redistributed routes have origin incomplete.
    match protocol {
        Protocol::Bgp => "i",
        _ => "?",
    }
}

fn next_hop(forward: &Forward, family: Family) -> String {
    match forward {
        Forward::Nexthops(adjs) if !adjs.is_empty() => adjs[0].address.to_string(),
        _ => match family {
            Family::Ipv4 => Ipv4Addr::UNSPECIFIED.to_string(),
            Family::Ipv6 => Ipv6Addr::UNSPECIFIED.to_string(),
        },
    }
}

/// One BGP path of a VRF's slice of the VPN table.
struct VpnRow<'a> {
    protocol: Protocol,
    forward: &'a Forward,
    tag: u32,
    route_targets: Vec<String>,
    /// For imported paths: RD and VRF they came from.
    imported_from: Option<(RouteDistinguisher, &'a str)>,
    best: bool,
}

/// A VRF's slice of the VPN table: its RD, its name, and its paths by prefix.
type VrfVpnView<'a> = (
    RouteDistinguisher,
    &'a str,
    BTreeMap<IpNet, Vec<VpnRow<'a>>>,
);

/// Each VRF with an RD, its paths by prefix: its own (sourced) and imported ones.
fn vpn_by_vrf(rib: &Rib, family: Family) -> Vec<VrfVpnView<'_>> {
    let mut out = Vec::new();
    for vrf in rib.vrf_names() {
        let Some(rd) = rib.vrf_policy(vrf).and_then(|p| p.rd) else {
            continue;
        };
        let mut rows: BTreeMap<IpNet, Vec<VpnRow>> = BTreeMap::new();
        for ((path_rd, prefix), paths) in rib.vpn_table().range((rd, IpNet::default())..) {
            if *path_rd != rd {
                break;
            }
            if !family.holds(prefix) {
                continue;
            }
            if let Some(p) = paths.get(&PathSource::Vrf(vrf.clone())) {
                rows.entry(*prefix).or_default().push(row(p, None));
            }
        }
        if let Some(table) = rib.table(vrf) {
            for (prefix, entry) in table.iter().filter(|(p, _)| family.holds(p)) {
                for (key, route) in &entry.candidates {
                    let (CandidateKey::Imported(src_rd, PathSource::Vrf(src)), Some(leak)) =
                        (key, &route.leaked)
                    else {
                        continue;
                    };
                    let path = rib
                        .vpn_table()
                        .get(&(*src_rd, *prefix))
                        .and_then(|m| m.get(&PathSource::Vrf(src.clone())));
                    let Some(path) = path else { continue };
                    let mut r = row(path, Some((*src_rd, &**src)));
                    r.protocol = leak.protocol;
                    rows.entry(*prefix).or_default().push(r);
                }
            }
        }
        // BGP best path among these: the sourced path, else the lowest RD (all are local,
        // weight 32768, so the decision process ends at its tie-breakers).
        for paths in rows.values_mut() {
            paths.sort_by_key(|r| r.imported_from.map(|(rd, _)| rd));
            if let Some(first) = paths.first_mut() {
                first.best = true;
            }
        }
        out.push((rd, &**vrf, rows));
    }
    out.sort_by_key(|(rd, _, _)| *rd);
    out
}

fn row<'a>(p: &'a VpnPath, imported_from: Option<(RouteDistinguisher, &'a str)>) -> VpnRow<'a> {
    VpnRow {
        protocol: p.protocol,
        forward: &p.forward,
        tag: p.tag,
        route_targets: p.route_targets.iter().map(|rt| rt.to_string()).collect(),
        imported_from,
        best: false,
    }
}

/// `show ip bgp vpnv4 all` (and `show bgp vpnv6 unicast all`), optionally with `detail`.
pub fn bgp_vpn_all(rib: &Rib, family: Family, detail: bool) -> String {
    let mut out = String::new();
    let cmd = match family {
        Family::Ipv4 => "show ip bgp vpnv4 all",
        Family::Ipv6 => "show bgp vpnv6 unicast all",
    };
    let _ = writeln!(out, "p4vrf# {cmd}{}", if detail { " detail" } else { "" });
    let vrfs = vpn_by_vrf(rib, family);
    if !detail {
        let _ = writeln!(out, "Status codes: * valid, > best");
        let _ = writeln!(out, "Origin codes: i - IGP, e - EGP, ? - incomplete");
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "     {:<24} {:<24} Metric LocPrf Weight Path",
            "Network", "Next Hop"
        );
    }
    for (rd, vrf, rows) in vrfs {
        let _ = writeln!(out, "Route Distinguisher: {rd} (default for vrf {vrf})");
        for (prefix, paths) in &rows {
            if detail {
                let best_index = paths.iter().position(|p| p.best).map_or(0, |i| i + 1);
                let _ = writeln!(out, "BGP routing table entry for {rd}:{prefix}");
                let _ = writeln!(
                    out,
                    "  Paths: ({} available, best #{best_index}, table {vrf})",
                    paths.len()
                );
                for p in paths {
                    match p.imported_from {
                        Some((src_rd, src)) => {
                            let _ =
                                writeln!(out, "  Imported path from {src_rd}:{prefix} (vrf {src})");
                        }
                        None => {
                            let _ = writeln!(out, "  Local (via vrf {vrf})");
                        }
                    }
                    let _ = writeln!(out, "    {} from 0.0.0.0", next_hop(p.forward, family));
                    let _ = writeln!(
                        out,
                        "      Origin incomplete, metric 0, localpref 100, weight 32768, valid, {}{}",
                        if p.imported_from.is_some() { "imported" } else { "sourced" },
                        if p.best { ", best" } else { "" }
                    );
                    if p.tag != 0 {
                        let _ = writeln!(out, "      Tag: {}", p.tag);
                    }
                    if !p.route_targets.is_empty() {
                        let _ = writeln!(
                            out,
                            "      Extended Community: {}",
                            p.route_targets.join(" ")
                        );
                    }
                }
            } else {
                for (i, p) in paths.iter().enumerate() {
                    let status = if p.best { "*>" } else { "* " };
                    let network = if i == 0 {
                        prefix.to_string()
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        " {status}  {network:<24} {:<24} {:>6} {:>6} {:>6} {}",
                        next_hop(p.forward, family),
                        0,
                        "",
                        32768,
                        origin_code(p.protocol)
                    );
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
            let mut s = t.table.clone();
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
