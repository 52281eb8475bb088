//! The invariant that keeps the controller honest: after any sequence of configurations applied
//! live, the switch holds what a cold start on the final configuration writes — no stale leaked
//! routes after RT or VRF changes, no orphaned nexthops or groups. Every intermediate batch must
//! also be accepted by the (rule-enforcing) embedded switch, which checks the update ordering.
//!
//! IDs (VRF ids, nexthop ids, group ids) may legitimately differ between the two paths, so the
//! switches are compared after resolving every route to what it does: the egress ports, source
//! and destination MACs and VLANs it forwards to, or drop/punt.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use p4rt::entity::{Entity, MatchValue, TableAction};
use p4rt::target::Target;
use p4vrf::config;
use p4vrf::router::Router;
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct VrfSpec {
    import: Vec<u8>,
    export: Vec<u8>,
    connected: bool,
    statics: bool,
    routes: Vec<(u8, Vec<u8>, bool)>, // (prefix index, next-hop neighbor indexes, blackhole)
}

#[derive(Clone, Debug)]
struct IntfSpec {
    vrf: usize,
    vlan: Option<u16>,
    mac_variant: u8,
    second_neighbor: bool,
}

#[derive(Clone, Debug)]
struct Spec {
    vrfs: Vec<Option<VrfSpec>>,
    interfaces: Vec<Option<IntfSpec>>,
    router_mac: u8,
}

fn vrf_spec() -> impl Strategy<Value = VrfSpec> {
    let rts = proptest::collection::vec(0u8..3, 0..3);
    let route = (
        0u8..3,
        proptest::collection::vec(0u8..6, 1..3),
        any::<bool>(),
    );
    (
        rts.clone(),
        rts,
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(route, 0..3),
    )
        .prop_map(|(import, export, connected, statics, routes)| VrfSpec {
            import,
            export,
            connected,
            statics,
            routes,
        })
}

fn intf_spec() -> impl Strategy<Value = IntfSpec> {
    (
        0usize..3,
        proptest::option::of(10u16..12),
        0u8..2,
        any::<bool>(),
    )
        .prop_map(|(vrf, vlan, mac_variant, second_neighbor)| IntfSpec {
            vrf,
            vlan,
            mac_variant,
            second_neighbor,
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec(proptest::option::of(vrf_spec()), 3),
        proptest::collection::vec(proptest::option::of(intf_spec()), 3),
        1u8..3,
    )
        .prop_map(|(vrfs, interfaces, router_mac)| Spec {
            vrfs,
            interfaces,
            router_mac,
        })
}

/// Renders a spec as a configuration file; anything the spec gets wrong (a next hop in a VRF
/// with no such neighbor) is simply left out so the file is always valid.
fn render(spec: &Spec) -> String {
    let mut t = format!("[router]\nmac = \"02:00:00:00:00:0{}\"\n", spec.router_mac);
    // Neighbors per VRF: (interface index, neighbor host) → address.
    let mut neighbors: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, intf) in spec.interfaces.iter().enumerate() {
        let Some(intf) = intf else { continue };
        if spec.vrfs[intf.vrf].is_none() {
            continue;
        }
        let list = neighbors.entry(intf.vrf).or_default();
        list.push(format!("10.{i}.0.2"));
        if intf.second_neighbor {
            list.push(format!("10.{i}.0.3"));
        }
    }
    for (v, vrf) in spec.vrfs.iter().enumerate() {
        let Some(vrf) = vrf else { continue };
        let list = |l: &[u8]| {
            l.iter()
                .map(|r| format!("\"9:{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut redist = Vec::new();
        if vrf.connected {
            redist.push("\"connected\"");
        }
        if vrf.statics {
            redist.push("\"static\"");
        }
        let _ = write!(
            t,
            "[[vrf]]\nname = \"v{v}\"\nrd = \"1:{v}\"\nroute-target = {{ import = [{}], export = [{}] }}\nredistribute = [{}]\n",
            list(&vrf.import),
            list(&vrf.export),
            redist.join(", ")
        );
        let mut seen = BTreeSet::new();
        for (prefix, hops, blackhole) in &vrf.routes {
            if !seen.insert(*prefix) {
                continue;
            }
            let available = neighbors.get(&v).cloned().unwrap_or_default();
            let hops: BTreeSet<String> = hops
                .iter()
                .filter_map(|h| available.get(*h as usize).cloned())
                .collect();
            let _ = write!(t, "[[vrf.static]]\nprefix = \"172.16.{prefix}.0/24\"\n");
            if *blackhole || hops.is_empty() {
                t.push_str("blackhole = true\n");
            } else {
                let hops: Vec<String> = hops.iter().map(|h| format!("\"{h}\"")).collect();
                let _ = writeln!(t, "next-hop = [{}]", hops.join(", "));
            }
        }
    }
    for (i, intf) in spec.interfaces.iter().enumerate() {
        let Some(intf) = intf else { continue };
        if spec.vrfs[intf.vrf].is_none() {
            continue;
        }
        let _ = write!(t, "[[interface]]\nname = \"e{i}\"\nport = {i}\nvrf = \"v{}\"\naddress = [\"10.{i}.0.1/24\"]\n", intf.vrf);
        if let Some(vlan) = intf.vlan {
            let _ = writeln!(t, "vlan = {vlan}");
        }
        let _ = write!(
            t,
            "[[interface.neighbor]]\nip = \"10.{i}.0.2\"\nmac = \"02:00:00:00:{i}{}:02\"\n",
            intf.mac_variant
        );
        if intf.second_neighbor {
            let _ = write!(
                t,
                "[[interface.neighbor]]\nip = \"10.{i}.0.3\"\nmac = \"02:00:00:00:{i}0:03\"\n"
            );
        }
    }
    t
}

/// Where a path leaves: the router interface's action parameters (port, source MAC, VLAN) and
/// the neighbor's MAC.
type Path = (Vec<(p4rt::Name, p4rt::Value)>, Vec<u8>);

/// The switch as what it does: routes by (VRF, prefix), ingress interfaces by (port, VLAN),
/// and how many router MACs are admitted.
type Behaviour = (
    BTreeMap<(String, String), Resolved>,
    BTreeMap<Vec<u8>, String>,
    usize,
);

/// What a route does, with ids resolved away.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Resolved {
    Action(String),
    /// (egress port, source MAC, VLAN) and destination MAC of every path.
    Paths(BTreeSet<Path>),
}

fn exact_u(entry: &p4rt::entity::TableEntry, field: &str) -> Vec<u8> {
    entry
        .matches
        .iter()
        .find(|m| m.field == field)
        .map(|m| match &m.value {
            MatchValue::Exact(v) => v.to_vec(),
            other => panic!("{field} is not exact: {other:?}"),
        })
        .unwrap_or_default()
}

fn param(call: &p4rt::entity::ActionCall, name: &str) -> Vec<u8> {
    call.params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_vec())
        .unwrap_or_default()
}

/// The switch's tables as what they do: (VRF name, prefix) → resolved action, the ingress
/// interfaces as (port, vlan) → VRF name, and the router MACs admitted.
fn resolve(router: &Router, entities: &[Entity]) -> Behaviour {
    let vrf_name = |id: &[u8]| -> String {
        let id = id.iter().fold(0u16, |a, b| (a << 8) | u16::from(*b));
        let config = router.config().expect("config");
        config
            .vrfs
            .keys()
            .find(|n| router.dataplane().vrf_id(n) == Some(id))
            .cloned()
            .unwrap_or(format!("?{id}"))
    };
    let mut rifs = BTreeMap::new();
    let mut nexthops = BTreeMap::new();
    let mut members = BTreeMap::new();
    let mut groups = BTreeMap::new();
    let mut ecmp = BTreeMap::new();
    let mut interfaces = BTreeMap::new();
    let mut stations = 0;
    for e in entities {
        match e {
            Entity::Table(t) => match (&t.table[..], &t.action) {
                ("ingress.router_interface", TableAction::Action(a)) => {
                    rifs.insert(exact_u(t, "rif"), a.params.clone());
                }
                ("ingress.nexthop", TableAction::Action(a)) => {
                    nexthops.insert(
                        exact_u(t, "nexthop_id"),
                        (param(a, "rif"), param(a, "dst_mac")),
                    );
                }
                ("ingress.ecmp_group", TableAction::Group(g)) => {
                    ecmp.insert(exact_u(t, "group_id"), *g);
                }
                ("ingress.interface", TableAction::Action(a)) => {
                    let mut key = exact_u(t, "port");
                    key.extend(exact_u(t, "vlan_id"));
                    interfaces.insert(key, vrf_name(&param(a, "vrf_id")));
                }
                ("ingress.my_station", _) => stations += 1,
                _ => {}
            },
            Entity::Member(m) => {
                members.insert(m.member_id, param(&m.action, "nexthop_id"));
            }
            Entity::Group(g) => {
                groups.insert(
                    g.group_id,
                    g.members.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
                );
            }
        }
    }
    let path = |nh: &[u8]| {
        let (rif, mac) = nexthops
            .get(nh)
            .unwrap_or_else(|| panic!("route to missing nexthop {nh:?}"));
        let egress = rifs
            .get(rif)
            .unwrap_or_else(|| panic!("nexthop to missing rif {rif:?}"));
        (egress.clone(), mac.clone())
    };
    let mut routes = BTreeMap::new();
    for e in entities {
        let Entity::Table(t) = e else { continue };
        if !t.table.ends_with("_vrf_lpm") {
            continue;
        }
        let TableAction::Action(a) = &t.action else {
            panic!("lpm entry without direct action")
        };
        let prefix = t
            .matches
            .iter()
            .find(|m| m.field == "dst_addr")
            .map(|m| m.value.to_string())
            .unwrap_or("default".into());
        let resolved = match a.action.as_str() {
            "ingress.set_nexthop" => {
                Resolved::Paths([path(&param(a, "nexthop_id"))].into_iter().collect())
            }
            "ingress.set_ecmp_group" => {
                let gid = ecmp.get(&param(a, "group_id")).expect("ecmp entry");
                let ms = groups.get(gid).expect("group");
                Resolved::Paths(
                    ms.iter()
                        .map(|m| path(members.get(m).expect("member")))
                        .collect(),
                )
            }
            other => Resolved::Action(other.to_string()),
        };
        routes.insert((vrf_name(&exact_u(t, "vrf_id")), prefix), resolved);
    }
    // Nothing orphaned: every nexthop, member and group is used.
    let used_groups: BTreeSet<u32> = ecmp.values().copied().collect();
    assert_eq!(used_groups.len(), groups.len(), "orphaned ECMP groups");
    (routes, interfaces, stations)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn live_changes_end_where_a_cold_start_ends(specs in proptest::collection::vec(spec(), 1..6)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let live = common::embedded().await;
            let mut live_router = Router::new();
            let mut last = None;
            for spec in &specs {
                let text = render(spec);
                let config = config::parse("gen.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
                common::apply(&mut live_router, &live, config.clone()).await;
                last = Some(config);
            }
            let cold = common::embedded().await;
            let mut cold_router = Router::new();
            common::apply(&mut cold_router, &cold, last.unwrap()).await;

            let live_entities = live.read_all().await.unwrap();
            let cold_entities = cold.read_all().await.unwrap();
            assert_eq!(live_entities.len(), cold_entities.len(), "entity counts differ (orphans or missing)");
            assert_eq!(resolve(&live_router, &live_entities), resolve(&cold_router, &cold_entities));
        });
    }
}
