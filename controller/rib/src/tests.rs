use super::*;
use proptest::prelude::*;
use std::ops::Range;

fn rt(s: &str) -> RouteTarget {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn policy(rd: &str, import: &[&str], export: &[&str]) -> VrfPolicy {
    VrfPolicy {
        rd: Some(rd.parse().unwrap()),
        import: import.iter().map(|s| rt(s)).collect(),
        export: export.iter().map(|s| rt(s)).collect(),
        redistribute: [(Protocol::Connected, None), (Protocol::Static, None)]
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

fn connected(rib: &mut Rib, vrf: &str, intf: &str, subnet: &str) {
    let interface: Arc<str> = Arc::from(intf);
    rib.upsert_route(
        vrf,
        net(subnet),
        Route::local(Protocol::Connected, Forward::Attached { interface }, 0),
    )
    .unwrap();
}

fn static_via(rib: &mut Rib, vrf: &str, prefix: &str, intf: &str, gw: &str) {
    let adj = Adjacency::new(Arc::from(intf), ip(gw));
    rib.upsert_route(
        vrf,
        net(prefix),
        Route::local(Protocol::Static, Forward::Nexthops(vec![adj].into()), 0),
    )
    .unwrap();
}

fn fwd(intf: &str, gw: &str) -> FibAction {
    FibAction::Forward(vec![Adjacency::new(Arc::from(intf), ip(gw))].into())
}

/// The seed 001 lab: C shares with A and B; A and B stay apart.
fn seed_lab() -> Rib {
    let mut rib = Rib::new();
    rib.upsert_vrf("VRF-A", policy("65535:1", &["65535:3"], &["65535:1"]));
    rib.upsert_vrf("VRF-B", policy("65535:2", &["65535:3"], &["65535:2"]));
    rib.upsert_vrf(
        "VRF-C",
        policy("65535:3", &["65535:1", "65535:2"], &["65535:3"]),
    );
    for (vrf, intf, n) in [
        ("VRF-A", "Ethernet1", 1),
        ("VRF-B", "Ethernet2", 2),
        ("VRF-C", "Ethernet3", 3),
    ] {
        connected(&mut rib, vrf, intf, &format!("10.{n}.0.0/24"));
        rib.add_neighbor(intf, ip(&format!("10.{n}.0.2")));
        static_via(
            &mut rib,
            vrf,
            &format!("10.{n}.1.0/24"),
            intf,
            &format!("10.{n}.0.2"),
        );
    }
    rib
}

#[test]
fn seed_lab_leaks_c_to_a_and_b_and_keeps_a_and_b_apart() {
    let mut rib = seed_lab();
    rib.take_delta();
    let a = rib.fib("VRF-A").unwrap();
    let b = rib.fib("VRF-B").unwrap();
    let c = rib.fib("VRF-C").unwrap();
    // A reaches C's subnet, host and static route through C's adjacency: one entry each.
    assert_eq!(
        a.get(&net("10.3.0.2/32")),
        Some(&fwd("Ethernet3", "10.3.0.2"))
    );
    assert_eq!(
        a.get(&net("10.3.1.0/24")),
        Some(&fwd("Ethernet3", "10.3.0.2"))
    );
    assert_eq!(a.get(&net("10.3.0.0/24")), Some(&FibAction::Drop));
    // A does not see B, and B does not see A.
    assert!(a.keys().all(|p| !net("10.2.0.0/16").contains(&p)));
    assert!(b.keys().all(|p| !net("10.1.0.0/16").contains(&p)));
    // C sees both.
    assert_eq!(
        c.get(&net("10.1.1.0/24")),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    assert_eq!(
        c.get(&net("10.2.0.2/32")),
        Some(&fwd("Ethernet2", "10.2.0.2"))
    );
    // The leaked route says where it came from.
    let leaked = rib.table("VRF-C").unwrap()[&net("10.1.1.0/24")]
        .best_route()
        .unwrap();
    assert_eq!(leaked.protocol(), Protocol::Bgp);
    let src = leaked.leaked().unwrap();
    assert_eq!(
        (&src.source, src.protocol),
        (&PathSource::Vrf(Arc::from("VRF-A")), Protocol::Static)
    );
    assert_eq!(src.rd.to_string(), "65535:1");
}

#[test]
fn vpn_table_is_keyed_by_rd_and_carries_export_rts() {
    let mut rib = seed_lab();
    rib.take_delta();
    let vpn = rib.vpn_table();
    assert_eq!(vpn.len(), 6);
    let key = ("65535:2".parse().unwrap(), net("10.2.1.0/24"));
    let path = vpn[&key].get(&PathSource::Vrf(Arc::from("VRF-B"))).unwrap();
    assert_eq!(
        path.route_targets().collect::<Vec<_>>(),
        vec![rt("65535:2")]
    );
    assert_eq!(path.protocol(), Protocol::Static);
}

#[test]
fn overlapping_prefixes_in_different_vrfs_stay_separate() {
    let mut rib = Rib::new();
    rib.upsert_vrf("red", policy("1:1", &[], &["1:1"]));
    rib.upsert_vrf("blue", policy("1:2", &[], &["1:2"]));
    rib.upsert_vrf("shared", policy("1:3", &["1:1"], &[]));
    connected(&mut rib, "red", "e1", "192.168.0.0/24");
    connected(&mut rib, "blue", "e2", "192.168.0.0/24");
    rib.add_neighbor("e1", ip("192.168.0.9"));
    rib.add_neighbor("e2", ip("192.168.0.9"));
    rib.take_delta();
    assert_eq!(rib.vpn_table().len(), 2, "same prefix, two RDs");
    assert_eq!(
        rib.fib("red").unwrap()[&net("192.168.0.9/32")],
        fwd("e1", "192.168.0.9")
    );
    assert_eq!(
        rib.fib("blue").unwrap()[&net("192.168.0.9/32")],
        fwd("e2", "192.168.0.9")
    );
    // `shared` imports only red's RT: the host resolves to red's adjacency, not blue's.
    assert_eq!(
        rib.fib("shared").unwrap()[&net("192.168.0.9/32")],
        fwd("e1", "192.168.0.9")
    );
}

#[test]
fn route_target_both_imports_and_exports() {
    let mut rib = Rib::new();
    // `route-target both 9:9` on two VRFs: each sees the other's routes.
    rib.upsert_vrf("x", policy("9:1", &["9:9"], &["9:9"]));
    rib.upsert_vrf("y", policy("9:2", &["9:9"], &["9:9"]));
    connected(&mut rib, "x", "ex", "10.9.1.0/24");
    connected(&mut rib, "y", "ey", "10.9.2.0/24");
    rib.take_delta();
    assert!(rib.fib("x").unwrap().contains_key(&net("10.9.2.0/24")));
    assert!(rib.fib("y").unwrap().contains_key(&net("10.9.1.0/24")));
    // A VRF does not import its own export.
    let x = rib.table("x").unwrap();
    assert_eq!(x[&net("10.9.1.0/24")].candidates.len(), 1);
}

#[test]
fn own_route_beats_leaked_route_for_the_same_prefix() {
    let mut rib = seed_lab();
    // C also has its own static for A's 10.1.1.0/24: static (1) beats leaked BGP (200).
    static_via(&mut rib, "VRF-C", "10.1.1.0/24", "Ethernet3", "10.3.0.2");
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-C").unwrap()[&net("10.1.1.0/24")],
        fwd("Ethernet3", "10.3.0.2")
    );
    // C exports its own static with RT 65535:3, so B imports it (A keeps its own).
    assert_eq!(
        rib.fib("VRF-B").unwrap()[&net("10.1.1.0/24")],
        fwd("Ethernet3", "10.3.0.2")
    );
    // Withdraw it: the leaked route takes over again in C and B loses it, as a delta.
    rib.withdraw_route("VRF-C", net("10.1.1.0/24"), Protocol::Static)
        .unwrap();
    let delta = rib.take_delta();
    assert_eq!(
        delta.changes,
        vec![
            FibChange {
                vrf: Arc::from("VRF-B"),
                prefix: net("10.1.1.0/24"),
                old: Some(fwd("Ethernet3", "10.3.0.2")),
                action: None
            },
            FibChange {
                vrf: Arc::from("VRF-C"),
                prefix: net("10.1.1.0/24"),
                old: Some(fwd("Ethernet3", "10.3.0.2")),
                action: Some(fwd("Ethernet1", "10.1.0.2")),
            },
        ]
    );
}

#[test]
fn withdrawing_the_source_withdraws_the_leak() {
    let mut rib = seed_lab();
    rib.take_delta();
    rib.withdraw_route("VRF-A", net("10.1.1.0/24"), Protocol::Static)
        .unwrap();
    let delta = rib.take_delta();
    let mut got: Vec<(String, String, bool)> = delta
        .changes
        .iter()
        .map(|c| (c.vrf.to_string(), c.prefix.to_string(), c.action.is_some()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("VRF-A".into(), "10.1.1.0/24".into(), false),
            ("VRF-C".into(), "10.1.1.0/24".into(), false)
        ]
    );
}

#[test]
fn changing_import_rts_removes_stale_leaks() {
    let mut rib = seed_lab();
    rib.take_delta();
    // C stops importing A.
    rib.upsert_vrf("VRF-C", policy("65535:3", &["65535:2"], &["65535:3"]));
    rib.take_delta();
    let c = rib.fib("VRF-C").unwrap();
    assert!(c.keys().all(|p| !net("10.1.0.0/16").contains(&p)), "{c:?}");
    assert!(c.contains_key(&net("10.2.1.0/24")));
}

#[test]
fn changing_the_rd_moves_the_vpn_paths() {
    let mut rib = seed_lab();
    rib.take_delta();
    rib.upsert_vrf("VRF-A", policy("65535:100", &["65535:3"], &["65535:1"]));
    rib.take_delta();
    let rds: BTreeSet<String> = rib
        .vpn_table()
        .keys()
        .map(|(rd, _)| rd.to_string())
        .collect();
    assert!(
        rds.contains("65535:100") && !rds.contains("65535:1"),
        "{rds:?}"
    );
    assert_eq!(
        rib.fib("VRF-C").unwrap()[&net("10.1.1.0/24")],
        fwd("Ethernet1", "10.1.0.2")
    );
}

#[test]
fn removing_a_vrf_removes_its_fib_and_its_leaks() {
    let mut rib = seed_lab();
    rib.take_delta();
    rib.remove_vrf("VRF-A");
    let delta = rib.take_delta();
    assert!(delta.changes.iter().all(|c| c.action.is_none()));
    assert!(rib.fib("VRF-A").is_none());
    let c = rib.fib("VRF-C").unwrap();
    assert!(c.keys().all(|p| !net("10.1.0.0/16").contains(&p)));
}

#[test]
fn neighbor_host_entries_follow_the_neighbor() {
    let mut rib = seed_lab();
    rib.take_delta();
    rib.add_neighbor("Ethernet1", ip("10.1.0.7"));
    let delta = rib.take_delta();
    let changed: BTreeSet<String> = delta
        .changes
        .iter()
        .map(|c| format!("{} {}", c.vrf, c.prefix))
        .collect();
    assert_eq!(
        changed,
        ["VRF-A 10.1.0.7/32", "VRF-C 10.1.0.7/32"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    rib.remove_neighbor("Ethernet1", ip("10.1.0.7"));
    assert_eq!(rib.take_delta().changes.len(), 2);
}

#[test]
fn no_rd_means_no_vpn_participation() {
    let mut rib = Rib::new();
    rib.upsert_vrf(
        "lonely",
        VrfPolicy {
            redistribute: [(Protocol::Connected, None)].into_iter().collect(),
            ..Default::default()
        },
    );
    connected(&mut rib, "lonely", "e", "10.0.0.0/24");
    rib.take_delta();
    assert!(rib.vpn_table().is_empty());
}

#[test]
fn only_redistributed_protocols_are_exported() {
    let mut rib = seed_lab();
    let mut p = policy("65535:1", &["65535:3"], &["65535:1"]);
    p.redistribute.remove(&Protocol::Static);
    rib.upsert_vrf("VRF-A", p);
    rib.take_delta();
    assert!(!rib.fib("VRF-C").unwrap().contains_key(&net("10.1.1.0/24")));
    assert!(rib.fib("VRF-C").unwrap().contains_key(&net("10.1.0.0/24")));
}

// ----- property: any sequence of changes ends where a cold start on the final state ends ---------

#[derive(Clone, Debug)]
enum Op {
    Vrf {
        vrf: usize,
        rd: u8,
        import: Vec<u8>,
        export: Vec<u8>,
        conn: bool,
        stat: bool,
    },
    RemoveVrf(usize),
    Connected {
        vrf: usize,
        intf: usize,
        subnet: u8,
        add: bool,
    },
    Static {
        vrf: usize,
        prefix: u8,
        intf: usize,
        host: u8,
        add: bool,
    },
    Neighbor {
        intf: usize,
        host: u8,
        add: bool,
    },
    /// A CE route: next hop 10.0.0.host, from neighbor `peer`.
    PeerRoute {
        vrf: usize,
        prefix: u8,
        peer: u8,
        host: u8,
        pref: u8,
        add: bool,
    },
    /// Several CE routes of one attribute set at once (`Rib::upsert_peer_routes`), as one
    /// UPDATE brings them; a prefix may repeat.
    PeerRoutes {
        vrf: usize,
        prefixes: Vec<u8>,
        peer: u8,
        host: u8,
        pref: u8,
    },
    /// Several VPN paths of one attribute set at once (`Rib::upsert_vpn_paths`), each with
    /// its RD, prefix and label.
    VpnPaths {
        paths: Vec<(u8, u8, u32)>,
        rt: u8,
        host: u8,
    },
    /// A remote PE's VPN path with one RT, next hop 10.0.0.host.
    VpnPath {
        rd: u8,
        prefix: u8,
        rt: u8,
        host: u8,
        label: u32,
        add: bool,
    },
    Core(Vec<usize>),
    MaxPaths(usize, u8),
    /// Static LSPs: (PE 10.0.0.to, core interface, first hop 10.0.0.via, label); PEs 4 and 5
    /// are never neighbors, so their paths resolve only through an LSP.
    Lsps(Vec<(u8, usize, u8, u32)>),
}

const VRFS: [&str; 3] = ["v0", "v1", "v2"];
const INTFS: [&str; 3] = ["e0", "e1", "e2"];

fn op() -> impl Strategy<Value = Op> {
    let rts = proptest::collection::vec(0u8..3, 0..3);
    prop_oneof![
        (
            0..3usize,
            0u8..4,
            rts.clone(),
            rts,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(vrf, rd, import, export, conn, stat)| Op::Vrf {
                vrf,
                rd,
                import,
                export,
                conn,
                stat
            }),
        (0..3usize).prop_map(Op::RemoveVrf),
        (0..3usize, 0..3usize, 0u8..3, any::<bool>()).prop_map(|(vrf, intf, subnet, add)| {
            Op::Connected {
                vrf,
                intf,
                subnet,
                add,
            }
        }),
        (0..3usize, 0u8..4, 0..3usize, 1u8..4, any::<bool>()).prop_map(
            |(vrf, prefix, intf, host, add)| Op::Static {
                vrf,
                prefix,
                intf,
                host,
                add
            }
        ),
        neighbor_op(0..3, 1..4),
        (0..3usize, 0u8..4, 1u8..3, 1u8..4, 0u8..3, any::<bool>()).prop_map(
            |(vrf, prefix, peer, host, pref, add)| Op::PeerRoute {
                vrf,
                prefix,
                peer,
                host,
                pref,
                add
            }
        ),
        (
            0..3usize,
            proptest::collection::vec(0u8..4, 1..4),
            1u8..3,
            1u8..4,
            0u8..3
        )
            .prop_map(|(vrf, prefixes, peer, host, pref)| Op::PeerRoutes {
                vrf,
                prefixes,
                peer,
                host,
                pref
            }),
        (
            proptest::collection::vec((1u8..3, 0u8..4, 16u32..18), 1..4),
            0u8..3,
            1u8..6
        )
            .prop_map(|(paths, rt, host)| Op::VpnPaths { paths, rt, host }),
        vpn_path_op(0..3),
        proptest::collection::vec(0..3usize, 0..3).prop_map(Op::Core),
        (0..3usize, 1u8..3).prop_map(|(v, n)| Op::MaxPaths(v, n)),
        lsps_op(0..3, 1..4),
    ]
}

/// A neighbor 10.0.0.host on interface `intfs`, added or removed.
fn neighbor_op(intfs: Range<usize>, hosts: Range<u8>) -> impl Strategy<Value = Op> {
    (intfs, hosts, any::<bool>()).prop_map(|(intf, host, add)| Op::Neighbor { intf, host, add })
}

/// A remote PE's path with a route target of `rts`, next hop 10.0.0.1 to .5 (4 and 5 are
/// never neighbors: they resolve only through an LSP).
fn vpn_path_op(rts: Range<u8>) -> impl Strategy<Value = Op> {
    (1u8..3, 0u8..4, rts, 1u8..6, 16u32..18, any::<bool>()).prop_map(
        |(rd, prefix, rt, host, label, add)| Op::VpnPath {
            rd,
            prefix,
            rt,
            host,
            label,
            add,
        },
    )
}

/// Up to two static LSPs towards PEs 10.0.0.1 to .5, on an interface of `intfs` through a
/// first hop 10.0.0.via (`vias`), label implicit null (3) or a real one.
fn lsps_op(intfs: Range<usize>, vias: Range<u8>) -> impl Strategy<Value = Op> {
    let lsp = (1u8..6, intfs, vias, prop_oneof![Just(3u32), 100u32..102]);
    proptest::collection::vec(lsp, 0..3).prop_map(Op::Lsps)
}

/// Ops for the core-link property: mostly remote PE paths, LSPs and the neighbors and core
/// interfaces they resolve through, with some of everything else that touches them.
fn core_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => vpn_path_op(0..2),
        3 => lsps_op(0..2, 1..3),
        3 => neighbor_op(0..2, 1..3),
        1 => proptest::collection::vec(0..2usize, 0..3).prop_map(Op::Core),
        1 => (0..2usize, any::<bool>()).prop_map(|(intf, add)| Op::Connected {
            vrf: 0,
            intf,
            subnet: 0,
            add,
        }),
        1 => op(),
    ]
}

fn lsps(spec: &[(u8, usize, u8, u32)]) -> BTreeMap<IpAddr, Lsp> {
    spec.iter()
        .map(|(to, intf, via, label)| {
            (
                ip(&format!("10.0.0.{to}")),
                Lsp {
                    interface: Arc::from(INTFS[*intf]),
                    next_hop: ip(&format!("10.0.0.{via}")),
                    label: *label,
                },
            )
        })
        .collect()
}

/// The final state of a sequence of ops, replayable as a cold start.
#[derive(Default, Clone)]
struct World {
    vrfs: BTreeMap<usize, VrfPolicy>,
    routes: BTreeMap<(usize, IpNet, Protocol), Route>,
    neighbors: BTreeSet<(usize, u8)>,
    peer_routes: BTreeMap<(usize, IpNet, u8), Arc<Attrs>>,
    vpn_paths: BTreeMap<(u8, IpNet), (u32, Arc<Attrs>)>,
    core: BTreeSet<Arc<str>>,
    lsps: BTreeMap<IpAddr, Lsp>,
}

fn peer_ref(peer: u8) -> PeerRef {
    PeerRef {
        addr: ip(&format!("10.0.0.{peer}")),
        router_id: format!("{peer}.{peer}.{peer}.{peer}").parse().unwrap(),
        ebgp: true,
        rr_client: false,
    }
}

fn pe_ref() -> PeerRef {
    PeerRef {
        addr: ip("10.9.9.9"),
        router_id: "9.9.9.9".parse().unwrap(),
        ebgp: false,
        rr_client: false,
    }
}

fn apply(rib: &mut Rib, world: &mut World, op: &Op) {
    match op {
        Op::Vrf {
            vrf,
            rd,
            import,
            export,
            conn,
            stat,
        } => {
            let p = VrfPolicy {
                rd: (*rd > 0).then(|| format!("1:{rd}").parse().unwrap()),
                import: import.iter().map(|r| rt(&format!("2:{r}"))).collect(),
                export: export.iter().map(|r| rt(&format!("2:{r}"))).collect(),
                redistribute: [(Protocol::Connected, *conn), (Protocol::Static, *stat)]
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(p, _)| (p, None))
                    .collect(),
                ..Default::default()
            };
            let mut p = p;
            if let Some(old) = world.vrfs.get(vrf) {
                p.decision = old.decision;
            }
            rib.upsert_vrf(VRFS[*vrf], p.clone());
            world.vrfs.insert(*vrf, p);
        }
        Op::RemoveVrf(vrf) => {
            rib.remove_vrf(VRFS[*vrf]);
            world.vrfs.remove(vrf);
            world.routes.retain(|(v, _, _), _| v != vrf);
            world.peer_routes.retain(|(v, _, _), _| v != vrf);
        }
        Op::Connected {
            vrf,
            intf,
            subnet,
            add,
        } => {
            if !world.vrfs.contains_key(vrf) {
                return;
            }
            let prefix = net(&format!("10.{subnet}.0.0/24"));
            let key = (*vrf, prefix, Protocol::Connected);
            if *add {
                let r = Route::local(
                    Protocol::Connected,
                    Forward::Attached {
                        interface: Arc::from(INTFS[*intf]),
                    },
                    0,
                );
                rib.upsert_route(VRFS[*vrf], prefix, r.clone()).unwrap();
                world.routes.insert(key, r);
            } else {
                rib.withdraw_route(VRFS[*vrf], prefix, Protocol::Connected)
                    .unwrap();
                world.routes.remove(&key);
            }
        }
        Op::Static {
            vrf,
            prefix,
            intf,
            host,
            add,
        } => {
            if !world.vrfs.contains_key(vrf) {
                return;
            }
            let prefix = net(&format!("10.{prefix}.0.0/16"));
            let key = (*vrf, prefix, Protocol::Static);
            if *add {
                let adj = Adjacency::new(Arc::from(INTFS[*intf]), ip(&format!("10.0.0.{host}")));
                let r = Route::local(
                    Protocol::Static,
                    Forward::Nexthops(vec![adj].into()),
                    *host as u32,
                );
                rib.upsert_route(VRFS[*vrf], prefix, r.clone()).unwrap();
                world.routes.insert(key, r);
            } else {
                rib.withdraw_route(VRFS[*vrf], prefix, Protocol::Static)
                    .unwrap();
                world.routes.remove(&key);
            }
        }
        Op::Neighbor { intf, host, add } => {
            let a = ip(&format!("10.0.0.{host}"));
            if *add {
                rib.add_neighbor(INTFS[*intf], a);
                world.neighbors.insert((*intf, *host));
            } else {
                rib.remove_neighbor(INTFS[*intf], a);
                world.neighbors.remove(&(*intf, *host));
            }
        }
        Op::PeerRoute {
            vrf,
            prefix,
            peer,
            host,
            pref,
            add,
        } => {
            if !world.vrfs.contains_key(vrf) {
                return;
            }
            let prefix = net(&format!("10.{prefix}.0.0/16"));
            if *add {
                let attrs = bgp_attrs(&format!("10.0.0.{host}"), &[65000 + *peer as u32], |a| {
                    a.local_pref = Some(100 + *pref as u32)
                });
                let added = rib
                    .upsert_peer_route(VRFS[*vrf], prefix, peer_ref(*peer), attrs.clone())
                    .unwrap();
                let had = world.peer_routes.insert((*vrf, prefix, *peer), attrs);
                assert_eq!(added, had.is_none(), "added, as the speaker counts it");
            } else {
                let removed = rib
                    .withdraw_peer_route(VRFS[*vrf], prefix, peer_ref(*peer).addr)
                    .unwrap();
                let had = world.peer_routes.remove(&(*vrf, prefix, *peer));
                assert_eq!(removed, had.is_some(), "removed, as the speaker counts it");
            }
        }
        Op::PeerRoutes {
            vrf,
            prefixes,
            peer,
            host,
            pref,
        } => {
            if !world.vrfs.contains_key(vrf) {
                return;
            }
            let prefixes: Vec<IpNet> = prefixes
                .iter()
                .map(|p| net(&format!("10.{p}.0.0/16")))
                .collect();
            let attrs = bgp_attrs(&format!("10.0.0.{host}"), &[65000 + *peer as u32], |a| {
                a.local_pref = Some(100 + *pref as u32)
            });
            let added = rib
                .upsert_peer_routes(
                    VRFS[*vrf],
                    peer_ref(*peer),
                    attrs.clone(),
                    prefixes.iter().copied(),
                )
                .unwrap();
            let mut new = 0;
            for prefix in prefixes {
                let had = world
                    .peer_routes
                    .insert((*vrf, prefix, *peer), attrs.clone());
                new += usize::from(had.is_none());
            }
            assert_eq!(added, new, "added, as the speaker counts it");
        }
        Op::VpnPaths { paths, rt: r, host } => {
            let attrs = bgp_attrs(&format!("10.0.0.{host}"), &[], |a| {
                a.ext_communities =
                    policy::ExtCommunities::new([policy::ExtCommunity::route_target(rt(&format!(
                        "2:{r}"
                    )))])
            });
            let paths: Vec<(u8, IpNet, u32)> = paths
                .iter()
                .map(|(rd, p, label)| (*rd, net(&format!("10.{p}.0.0/16")), *label))
                .collect();
            let added = rib.upsert_vpn_paths(
                pe_ref(),
                attrs.clone(),
                paths.iter().map(|(rd, prefix, label)| {
                    (format!("7:{rd}").parse().unwrap(), *prefix, *label)
                }),
            );
            let mut new = 0;
            for (rd, prefix, label) in paths {
                let had = world.vpn_paths.insert((rd, prefix), (label, attrs.clone()));
                new += usize::from(had.is_none());
            }
            assert_eq!(added, new, "added, as the speaker counts it");
        }
        Op::VpnPath {
            rd,
            prefix,
            rt: r,
            host,
            label,
            add,
        } => {
            let rd_v: RouteDistinguisher = format!("7:{rd}").parse().unwrap();
            let prefix = net(&format!("10.{prefix}.0.0/16"));
            if *add {
                let attrs = bgp_attrs(&format!("10.0.0.{host}"), &[], |a| {
                    a.ext_communities =
                        policy::ExtCommunities::new([policy::ExtCommunity::route_target(rt(
                            &format!("2:{r}"),
                        ))])
                });
                let added = rib.upsert_vpn_path(rd_v, prefix, pe_ref(), *label, attrs.clone());
                let had = world.vpn_paths.insert((*rd, prefix), (*label, attrs));
                assert_eq!(added, had.is_none(), "added, as the speaker counts it");
            } else {
                let removed = rib.withdraw_vpn_path(rd_v, prefix, pe_ref().addr);
                let had = world.vpn_paths.remove(&(*rd, prefix));
                assert_eq!(removed, had.is_some(), "removed, as the speaker counts it");
            }
        }
        Op::Core(intfs) => {
            let set: BTreeSet<Arc<str>> = intfs.iter().map(|i| Arc::from(INTFS[*i])).collect();
            rib.set_core_interfaces(set.clone());
            world.core = set;
        }
        Op::MaxPaths(vrf, n) => {
            if let Some(p) = world.vrfs.get_mut(vrf) {
                p.decision.maximum_paths = *n;
                rib.upsert_vrf(VRFS[*vrf], p.clone());
            }
        }
        Op::Lsps(spec) => {
            let map = lsps(spec);
            rib.set_lsps(map.clone());
            world.lsps = map;
        }
    }
}

/// The topology (core interfaces, LSPs) goes in first, so the routes resolve once, as they
/// arrive: the delta path's re-resolution is what the comparison checks.
fn cold_start(world: &World) -> Rib {
    let mut rib = Rib::new();
    rib.set_core_interfaces(world.core.clone());
    rib.set_lsps(world.lsps.clone());
    for (vrf, p) in &world.vrfs {
        rib.upsert_vrf(VRFS[*vrf], p.clone());
    }
    for ((vrf, prefix, _), r) in &world.routes {
        rib.upsert_route(VRFS[*vrf], *prefix, r.clone()).unwrap();
    }
    for (intf, host) in &world.neighbors {
        rib.add_neighbor(INTFS[*intf], ip(&format!("10.0.0.{host}")));
    }
    for ((vrf, prefix, peer), attrs) in &world.peer_routes {
        rib.upsert_peer_route(VRFS[*vrf], *prefix, peer_ref(*peer), attrs.clone())
            .unwrap();
    }
    for ((rd, prefix), (label, attrs)) in &world.vpn_paths {
        let rd_v: RouteDistinguisher = format!("7:{rd}").parse().unwrap();
        rib.upsert_vpn_path(rd_v, *prefix, pe_ref(), *label, attrs.clone());
    }
    rib.take_delta();
    rib
}

fn all_fibs(rib: &Rib) -> BTreeMap<String, BTreeMap<IpNet, FibAction>> {
    rib.vrf_names()
        .map(|v| (v.to_string(), rib.fib(v).unwrap().to_map()))
        .filter(|(_, f)| !f.is_empty())
        .collect()
}

fn all_table_keys(rib: &Rib) -> BTreeMap<String, Vec<IpNet>> {
    rib.vrf_names()
        .map(|v| (v.to_string(), rib.table(v).unwrap().keys().collect()))
        .filter(|(_, keys): &(String, Vec<IpNet>)| !keys.is_empty())
        .collect()
}

/// Applies `ops` (taking a delta after every `every`-th), then checks the delta path against
/// a cold start of the final state.
fn check_delta_equals_cold_start(ops: &[Op], every: usize) -> Result<(), TestCaseError> {
    let mut rib = Rib::new();
    let mut world = World::default();
    // The FIB a consumer rebuilds from deltas alone must equal the RIB's own FIB, and the
    // BGP table a consumer (the speaker) follows through `bgp_changed` must equal the RIB's.
    let mut replayed = Replayed::default();
    for (i, op) in ops.iter().enumerate() {
        apply(&mut rib, &mut world, op);
        if i % every == 0 {
            replayed.take(&mut rib);
        }
    }
    replayed.take(&mut rib);
    let cold = cold_start(&world);
    prop_assert_eq!(all_fibs(&rib), all_fibs(&cold));
    // No entry lingers (say, one a withdrawal emptied) that a cold start would not have.
    prop_assert_eq!(all_table_keys(&rib), all_table_keys(&cold));
    let flat: BTreeMap<(String, IpNet), FibAction> = all_fibs(&cold)
        .into_iter()
        .flat_map(|(v, f)| f.into_iter().map(move |(p, a)| ((v.clone(), p), a)))
        .collect();
    prop_assert_eq!(replayed.fib, flat);
    prop_assert_eq!(rib.vpn_table(), cold.vpn_table());
    prop_assert_eq!(all_bgp(&rib), all_bgp(&cold));
    prop_assert_eq!(replayed.bgp, all_bgp(&cold));
    // A neighbor's routes as the RIB lists them (what a session going down withdraws).
    for (vrf, name) in VRFS.iter().enumerate() {
        for peer in 0..8u8 {
            let mut listed = rib.peer_prefixes(name, peer_ref(peer).addr);
            listed.sort();
            let expected: Vec<IpNet> = world
                .peer_routes
                .keys()
                .filter(|(v, _, p)| *v == vrf && *p == peer)
                .map(|(_, prefix, _)| *prefix)
                .collect();
            prop_assert_eq!(listed, expected);
        }
    }
    let mut listed = rib.peer_vpn_keys(pe_ref().addr);
    listed.sort();
    let expected: Vec<VpnKey> = world
        .vpn_paths
        .keys()
        .map(|(rd, prefix)| (format!("7:{rd}").parse().unwrap(), *prefix))
        .collect();
    let mut expected = expected;
    expected.sort();
    prop_assert_eq!(listed, expected);
    prop_assert!(rib.peer_vpn_keys(peer_ref(1).addr).is_empty());
    Ok(())
}

/// A core link to start from: VRF v0 (RD 1:1) importing RT 2:0, 10.0.0.0/24 connected on e0,
/// e0 a core interface, 10.0.0.1 a neighbor there. From scratch the chain behind a remote
/// PE's path (a VRF importing its RT, a connected subnet on a core interface, the PE or an
/// LSP's first hop a neighbor there) came together in 1 case of 2,000; from this link, with
/// [`core_op`], about 6 % of the cases end with PE paths in a VRF's FIB, some through LSPs
/// with a transport label, and many more pass through such states. Negative control: with
/// `Rib::set_lsps` not re-resolving, this property fails and the one from scratch passes.
fn core_link() -> Vec<Op> {
    vec![
        Op::Vrf {
            vrf: 0,
            rd: 1,
            import: vec![0],
            export: vec![],
            conn: true,
            stat: false,
        },
        Op::Connected {
            vrf: 0,
            intf: 0,
            subnet: 0,
            add: true,
        },
        Op::Core(vec![0]),
        Op::Neighbor {
            intf: 0,
            host: 1,
            add: true,
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn delta_path_equals_cold_start(ops in proptest::collection::vec(op(), 1..40), every in 1usize..5) {
        check_delta_equals_cold_start(&ops, every)?;
    }

    /// The same from a core link: VPN paths of remote PEs, static LSPs (their changes, their
    /// first hop's neighbor and core interface coming and going) and label changes.
    #[test]
    fn delta_path_equals_cold_start_over_a_core_link(
        ops in proptest::collection::vec(core_op(), 1..40),
        every in 1usize..5,
    ) {
        let mut all = core_link();
        all.extend(ops);
        check_delta_equals_cold_start(&all, every)?;
    }
}

/// What a consumer of the deltas alone knows: the FIB, and the BGP table entries it was told
/// changed, read back when told.
#[derive(Default)]
struct Replayed {
    fib: BTreeMap<(String, IpNet), FibAction>,
    bgp: BTreeMap<(String, IpNet), BgpBest>,
}

impl Replayed {
    fn take(&mut self, rib: &mut Rib) {
        let delta = rib.take_delta();
        for c in delta.changes {
            // Each change says what it replaces (what the data plane reads instead of a copy
            // of the FIB): the entry as the deltas so far left it, and never itself.
            let key = (c.vrf.to_string(), c.prefix);
            let was = match c.action {
                Some(a) => self.fib.insert(key, a),
                None => self.fib.remove(&key),
            };
            assert_eq!(c.old, was, "{} {}", c.vrf, c.prefix);
            assert_ne!(c.old.as_ref(), self.fib.get(&(c.vrf.to_string(), c.prefix)));
        }
        for (key, from) in delta.vpn_changed {
            let sources = rib.vpn_table().get(&key).map(|paths| {
                paths
                    .keys()
                    .map(|s| match s {
                        PathSource::Peer(a) => Some(**a),
                        PathSource::Vrf(_) => None,
                    })
                    .collect::<BTreeSet<_>>()
            });
            let expected = match sources {
                None => BestFrom::Nothing,
                Some(s) if s.len() == 1 && s.first() != Some(&None) => {
                    BestFrom::Neighbor(s.first().copied().flatten().expect("one neighbor"))
                }
                Some(_) => BestFrom::Elsewhere,
            };
            assert_eq!(from, expected, "{key:?}");
        }
        for ((vrf, prefix), from) in delta.bgp_changed {
            let best = rib.bgp_best(&vrf, &prefix);
            // The delta's word on where the best path came from is the table's.
            let expected = match best.as_ref().map(|b| &b.key) {
                None => BestFrom::Nothing,
                Some(CandidateKey::Peer(addr)) => BestFrom::Neighbor(*addr),
                Some(_) => BestFrom::Elsewhere,
            };
            assert_eq!(from, expected, "{vrf} {prefix}");
            match best {
                Some(b) => {
                    self.bgp.insert((vrf.to_string(), prefix), b);
                }
                None => {
                    self.bgp.remove(&(vrf.to_string(), prefix));
                }
            }
        }
    }
}

/// Every VRF's BGP table: (VRF, prefix) → best path.
fn all_bgp(rib: &Rib) -> BTreeMap<(String, IpNet), BgpBest> {
    let mut out = BTreeMap::new();
    for vrf in rib.vrf_names() {
        for (prefix, entry) in rib.table(vrf).into_iter().flatten() {
            if let Some(b) = entry.bgp_best() {
                out.insert((vrf.to_string(), prefix), b);
            }
        }
    }
    out
}

#[test]
fn removed_vrf_with_static_is_gone() {
    let mut rib = Rib::new();
    let mut world = World::default();
    let ops = vec![
        Op::Vrf {
            vrf: 2,
            rd: 1,
            import: vec![],
            export: vec![],
            conn: false,
            stat: true,
        },
        Op::Vrf {
            vrf: 0,
            rd: 0,
            import: vec![0],
            export: vec![],
            conn: false,
            stat: false,
        },
        Op::Static {
            vrf: 0,
            prefix: 3,
            intf: 0,
            host: 1,
            add: true,
        },
        Op::Static {
            vrf: 2,
            prefix: 3,
            intf: 0,
            host: 1,
            add: true,
        },
        Op::RemoveVrf(0),
    ];
    for op in &ops {
        apply(&mut rib, &mut world, op);
        let d = rib.take_delta();
        eprintln!("{op:?} -> {d:?}");
    }
    assert!(rib.fib("v0").is_none(), "{:?}", rib.fib("v0"));
}

// ----- policy in the RIB: redistribution route-maps, export / import maps -------------------

fn compiled(text: &str) -> policy::Policy {
    policy::parse("test.toml", text).unwrap()
}

fn map(p: &policy::Policy, name: &str) -> MapRef {
    MapRef::new(p.route_maps[name].clone())
}

const SEED_000: &str = r#"
[[route-map]]
name = "StaticToBGP"
[[route-map.entry]]
seq = 10
action = "permit"
match.tag = [123]
set.community = ["no-export"]
set.community-additive = true
"#;

/// Seed 000: `redistribute static route-map StaticToBGP` takes only the static routes tagged
/// 123 into BGP, each with NO_EXPORT added; untagged statics stay out of BGP (and the VPN).
#[test]
fn seed_000_redistribute_static_route_map_matches_tag_and_sets_no_export() {
    let p = compiled(SEED_000);
    let mut rib = Rib::new();
    let mut pol = policy("65001:1", &[], &["65001:1"]);
    pol.redistribute = [(Protocol::Static, Some(map(&p, "StaticToBGP")))]
        .into_iter()
        .collect();
    rib.upsert_vrf("CUST", pol);
    rib.upsert_route(
        "CUST",
        net("10.1.2.0/24"),
        Route::local(Protocol::Static, Forward::Blackhole, 123),
    )
    .unwrap();
    rib.upsert_route(
        "CUST",
        net("10.9.9.0/24"),
        Route::local(Protocol::Static, Forward::Blackhole, 0),
    )
    .unwrap();
    let delta = rib.take_delta();
    let best = rib.bgp_best("CUST", &net("10.1.2.0/24")).unwrap();
    assert!(best
        .attrs
        .communities
        .contains(&policy::Community::NO_EXPORT));
    assert_eq!(best.attrs.tag, 123);
    assert_eq!(best.attrs.weight, decision::LOCAL_WEIGHT);
    assert!(rib.bgp_best("CUST", &net("10.9.9.0/24")).is_none());
    // Both are in the FIB (the route-map filters BGP, not forwarding).
    assert_eq!(rib.fib("CUST").unwrap().len(), 2);
    assert!(delta
        .bgp_changed
        .contains(&((Arc::from("CUST"), net("10.1.2.0/24")), BestFrom::Elsewhere)));
    // Only the tagged one reaches the VPN table, with NO_EXPORT and the export RT.
    let vpn = rib.vpn_table();
    assert_eq!(vpn.len(), 1);
    let path = vpn.values().next().unwrap().iter().next().unwrap();
    assert!(path
        .attrs
        .communities
        .contains(&policy::Community::NO_EXPORT));
    assert_eq!(
        path.route_targets().collect::<Vec<_>>(),
        vec![rt("65001:1")]
    );
    assert_eq!(rib.route_map_stats()["StaticToBGP"].hits, vec![1]);
}

/// Seed 004: a route-map can set the route targets; a VRF importing only that RT gets only
/// the routes the map marked, as single-lookup entries towards the exporter's next hop.
#[test]
fn seed_004_export_map_setting_route_targets_selects_what_leaks() {
    let p = compiled(
        r#"
[[prefix-list]]
name = "SHARED"
[[prefix-list.entry]]
seq = 5
action = "permit"
prefix = "10.1.1.0/24"

[[route-map]]
name = "MarkShared"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["SHARED"]
set.extcommunity-rt = ["65000:99"]
set.extcommunity-rt-additive = true
[[route-map.entry]]
seq = 20
action = "permit"
"#,
    );
    let mut rib = seed_lab();
    let mut a = policy("65535:1", &["65535:3"], &["65535:1"]);
    a.export_map = Some(map(&p, "MarkShared"));
    rib.upsert_vrf("VRF-A", a);
    rib.upsert_vrf("SHARED", policy("65535:9", &["65000:99"], &[]));
    rib.take_delta();
    let shared = rib.fib("SHARED").unwrap();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(
        shared.get(&net("10.1.1.0/24")),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    // VRF-C still gets everything VRF-A exports (the map added an RT, it removed none).
    assert!(rib.fib("VRF-C").unwrap().contains_key(&net("10.1.0.0/24")));
}

/// Seed 001's selective leaking: an export map that permits only some prefixes.
#[test]
fn export_map_leaks_only_the_selected_prefixes() {
    let p = compiled(
        r#"
[[prefix-list]]
name = "ONLY-STATIC"
[[prefix-list.entry]]
seq = 5
action = "permit"
prefix = "10.1.1.0/24"

[[route-map]]
name = "A-OUT"
[[route-map.entry]]
seq = 10
action = "permit"
match.prefix-list = ["ONLY-STATIC"]
"#,
    );
    let mut rib = seed_lab();
    rib.take_delta();
    let mut a = policy("65535:1", &["65535:3"], &["65535:1"]);
    a.export_map = Some(map(&p, "A-OUT"));
    rib.upsert_vrf("VRF-A", a);
    let delta = rib.take_delta();
    let c = rib.fib("VRF-C").unwrap();
    assert!(c.contains_key(&net("10.1.1.0/24")));
    assert!(!c.contains_key(&net("10.1.0.0/24")));
    assert!(!c.contains_key(&net("10.1.0.2/32")));
    // The delta took the stale leaks out of VRF-C.
    assert!(delta
        .changes
        .iter()
        .any(|ch| &**ch.vrf == "VRF-C" && ch.prefix == net("10.1.0.0/24") && ch.action.is_none()));
    // Removing the map brings them back.
    rib.upsert_vrf("VRF-A", policy("65535:1", &["65535:3"], &["65535:1"]));
    rib.take_delta();
    assert!(rib.fib("VRF-C").unwrap().contains_key(&net("10.1.0.0/24")));
}

#[test]
fn import_map_filters_and_rewrites_what_a_vrf_takes_in() {
    let p = compiled(
        r#"
[[route-map]]
name = "C-IN"
[[route-map.entry]]
seq = 10
action = "deny"
match.tag = [7]
[[route-map.entry]]
seq = 20
action = "permit"
set.local-preference = 300
"#,
    );
    let mut rib = seed_lab();
    rib.upsert_route(
        "VRF-A",
        net("10.1.7.0/24"),
        Route::local(Protocol::Static, Forward::Blackhole, 7),
    )
    .unwrap();
    let mut c = policy("65535:3", &["65535:1", "65535:2"], &["65535:3"]);
    c.import_map = Some(map(&p, "C-IN"));
    rib.upsert_vrf("VRF-C", c);
    rib.take_delta();
    let table = rib.table("VRF-C").unwrap();
    assert!(!table.contains_key(&net("10.1.7.0/24")));
    let leaked = table[&net("10.1.1.0/24")].best_route().unwrap();
    assert_eq!(leaked.attrs.local_pref, Some(300));
    // A's own table still has it.
    assert!(rib.fib("VRF-A").unwrap().contains_key(&net("10.1.7.0/24")));
}

#[test]
fn recompiling_an_unchanged_route_map_is_not_a_change() {
    let a = map(&compiled(SEED_000), "StaticToBGP");
    let b = map(&compiled(SEED_000), "StaticToBGP");
    assert_eq!(a, b);
    let c = map(&compiled(&SEED_000.replace("123", "124")), "StaticToBGP");
    assert_ne!(a, c);
}

// ----- BGP routes: CE neighbors, remote PEs, decision process, multipath ----------------------

fn ce(addr: &str, id: &str) -> PeerRef {
    PeerRef {
        addr: ip(addr),
        router_id: id.parse().unwrap(),
        ebgp: true,
        rr_client: false,
    }
}

fn bgp_attrs(next_hop: &str, as_path: &[u32], f: impl FnOnce(&mut Attrs)) -> Arc<Attrs> {
    let mut a = Attrs::new(policy::SourceProtocol::Bgp);
    a.next_hop = policy::NextHop::Addr(ip(next_hop));
    a.as_path = policy::AsPath::from_sequence(as_path.to_vec());
    f(&mut a);
    Arc::new(a)
}

#[test]
fn ce_route_resolves_through_a_neighbor_and_leaks_like_a_local_one() {
    let mut rib = seed_lab();
    rib.upsert_peer_route(
        "VRF-A",
        net("172.16.0.0/16"),
        ce("10.1.0.2", "1.1.1.1"),
        bgp_attrs("10.1.0.2", &[65010], |_| {}),
    )
    .unwrap();
    // Next hop 10.1.0.9 is not a neighbor: inaccessible, kept but not forwarding.
    rib.upsert_peer_route(
        "VRF-A",
        net("172.17.0.0/16"),
        ce("10.1.0.2", "1.1.1.1"),
        bgp_attrs("10.1.0.9", &[65010], |_| {}),
    )
    .unwrap();
    rib.take_delta();
    let a = rib.fib("VRF-A").unwrap();
    assert_eq!(
        a.get(&net("172.16.0.0/16")),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    assert!(!a.contains_key(&net("172.17.0.0/16")));
    // CE routes are exported to the VPN table and leak into C.
    assert_eq!(
        rib.fib("VRF-C").unwrap().get(&net("172.16.0.0/16")),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    // The neighbor appears: the route resolves and forwards.
    rib.add_neighbor("Ethernet1", ip("10.1.0.9"));
    let delta = rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&net("172.17.0.0/16")),
        Some(&fwd("Ethernet1", "10.1.0.9"))
    );
    assert!(delta
        .changes
        .iter()
        .any(|c| c.prefix == net("172.17.0.0/16") && &**c.vrf == "VRF-C"));
    // Withdrawn: gone everywhere.
    rib.withdraw_peer_route("VRF-A", net("172.16.0.0/16"), ip("10.1.0.2"))
        .unwrap();
    rib.take_delta();
    assert!(!rib
        .fib("VRF-A")
        .unwrap()
        .contains_key(&net("172.16.0.0/16")));
    assert!(!rib
        .fib("VRF-C")
        .unwrap()
        .contains_key(&net("172.16.0.0/16")));
}

/// A neighbor's routes through one next hop hold one `RouteVia` (forwarding and origin),
/// whatever their attribute sets, also after their next hop resolves anew; another next hop
/// is another via.
#[test]
fn a_neighbors_routes_through_one_next_hop_share_one_via() {
    let mut rib = seed_lab();
    let peer = ce("10.1.0.2", "1.1.1.1");
    let add = |rib: &mut Rib, p: &str, nh: &str, asn: u32| {
        rib.upsert_peer_route("VRF-A", net(p), peer, bgp_attrs(nh, &[asn], |_| {}))
            .unwrap();
    };
    add(&mut rib, "172.16.0.0/16", "10.1.0.2", 65010);
    add(&mut rib, "172.17.0.0/16", "10.1.0.9", 65010);
    add(&mut rib, "172.18.0.0/16", "10.1.0.9", 65020);
    rib.take_delta();
    let vias = |rib: &Rib| -> Vec<*const RouteVia> {
        let table = rib.table("VRF-A").unwrap();
        ["172.16.0.0/16", "172.17.0.0/16", "172.18.0.0/16"]
            .iter()
            .map(|p| {
                let e = table.get(&net(p)).expect("in the table");
                e.candidates
                    .get(CandidateRef::Peer(&peer.addr))
                    .expect("the neighbor's route")
                    .via_ptr()
            })
            .collect()
    };
    let before = vias(&rib);
    assert_eq!(
        before[1], before[2],
        "one next hop, two attribute sets: one via"
    );
    assert_ne!(before[0], before[1], "another next hop: another via");
    // 10.1.0.9 becomes a neighbor: both routes now forward through it, still sharing.
    rib.add_neighbor("Ethernet1", ip("10.1.0.9"));
    rib.take_delta();
    let after = vias(&rib);
    assert_eq!(after[1], after[2]);
    assert_ne!(after[1], before[1], "re-resolved: a new via");
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&net("172.18.0.0/16")),
        Some(&fwd("Ethernet1", "10.1.0.9"))
    );
}

/// A prefix with more candidates than an entry's bits index (`selection`: 8,188 for the
/// selected one, 4,092 for the BGP best path) selects as any other: the indexes move to the
/// entry's held box and back as candidates come and go.
#[test]
fn a_prefix_with_thousands_of_candidates_selects_its_best() {
    let mut rib = seed_lab();
    let p = net("192.0.2.0/24");
    let peer = |i: u32| {
        ce(
            &std::net::Ipv4Addr::from(0x0b00_0000 + i).to_string(),
            "1.1.1.1",
        )
    };
    let n = 8_300;
    // The last neighbor's route has the highest local-pref: the best sits at index n - 1.
    for i in 0..n {
        let pref = if i == n - 1 { 200 } else { 100 };
        rib.upsert_peer_route(
            "VRF-A",
            p,
            peer(i),
            bgp_attrs("10.1.0.2", &[65010], |a| a.local_pref = Some(pref)),
        )
        .unwrap();
    }
    rib.take_delta();
    let best = |rib: &Rib| {
        let entry = rib.table("VRF-A").unwrap().get(&p).unwrap();
        let key = |k: Option<CandidateRef>| k.map(CandidateRef::to_owned);
        (
            key(entry.best_key()),
            key(entry.bgp_best_key()),
            entry.held.wide().is_some(),
        )
    };
    let expect = |i: u32, wide| {
        let k = Some(CandidateKey::Peer(peer(i).addr));
        (k.clone(), k, wide)
    };
    assert_eq!(best(&rib), expect(n - 1, true), "index 8,299: held wide");
    assert_eq!(
        rib.bgp_best("VRF-A", &p).unwrap().attrs.local_pref,
        Some(200)
    );
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&p),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    // Candidates before it leave: its index falls below both limits, the box goes.
    for i in 0..4_300 {
        rib.withdraw_peer_route("VRF-A", p, peer(i).addr).unwrap();
    }
    assert_eq!(best(&rib), expect(n - 1, false), "kept on its candidate");
    rib.take_delta();
    assert_eq!(best(&rib), expect(n - 1, false), "index 3,999");
    // A better route from the first neighbor left: the best is at 0, the rest unchanged.
    rib.upsert_peer_route(
        "VRF-A",
        p,
        peer(4_300),
        bgp_attrs("10.1.0.2", &[65010], |a| a.local_pref = Some(300)),
    )
    .unwrap();
    rib.take_delta();
    assert_eq!(best(&rib), expect(4_300, false));
    // The best leaves: the next delta selects among the others again.
    rib.withdraw_peer_route("VRF-A", p, peer(4_300).addr)
        .unwrap();
    rib.take_delta();
    assert_eq!(best(&rib), expect(n - 1, false));
    assert_eq!(
        rib.bgp_best("VRF-A", &p).unwrap().attrs.local_pref,
        Some(200)
    );
}

#[test]
fn decision_process_and_maximum_paths_shape_the_fib() {
    let mut rib = seed_lab();
    rib.add_neighbor("Ethernet1", ip("10.1.0.3"));
    let mut a = policy("65535:1", &["65535:3"], &["65535:1"]);
    a.decision.maximum_paths = 4;
    rib.upsert_vrf("VRF-A", a);
    let p = net("192.0.2.0/24");
    rib.upsert_peer_route(
        "VRF-A",
        p,
        ce("10.1.0.2", "2.2.2.2"),
        bgp_attrs("10.1.0.2", &[65010], |_| {}),
    )
    .unwrap();
    rib.upsert_peer_route(
        "VRF-A",
        p,
        ce("10.1.0.3", "3.3.3.3"),
        bgp_attrs("10.1.0.3", &[65010], |_| {}),
    )
    .unwrap();
    rib.take_delta();
    let both = FibAction::Forward(
        vec![
            Adjacency::new(Arc::from("Ethernet1"), ip("10.1.0.2")),
            Adjacency::new(Arc::from("Ethernet1"), ip("10.1.0.3")),
        ]
        .into(),
    );
    assert_eq!(rib.fib("VRF-A").unwrap().get(&p), Some(&both));
    // A longer AS path on one: it drops out of the group.
    rib.upsert_peer_route(
        "VRF-A",
        p,
        ce("10.1.0.3", "3.3.3.3"),
        bgp_attrs("10.1.0.3", &[65010, 65010], |_| {}),
    )
    .unwrap();
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&p),
        Some(&fwd("Ethernet1", "10.1.0.2"))
    );
    // Higher local-pref on the longer one wins outright.
    rib.upsert_peer_route(
        "VRF-A",
        p,
        ce("10.1.0.3", "3.3.3.3"),
        bgp_attrs("10.1.0.3", &[65010, 65010], |a| a.local_pref = Some(200)),
    )
    .unwrap();
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&p),
        Some(&fwd("Ethernet1", "10.1.0.3"))
    );
    assert_eq!(
        rib.bgp_best("VRF-A", &p).unwrap().key,
        CandidateKey::Peer(ip("10.1.0.3"))
    );
}

/// The seed lab with a core link (VRF `core`, interface Core1, 192.168.0.0/30) and the PE
/// 192.168.0.2 up on it as a neighbor (Core1 not yet a core interface); the PE, the RD its
/// paths use and attributes carrying the RT 65535:3, which VRF-A and VRF-B import.
fn lab_with_an_adjacent_pe() -> (Rib, PeerRef, RouteDistinguisher, Arc<Attrs>) {
    let mut rib = seed_lab();
    rib.upsert_vrf("core", VrfPolicy::default());
    connected(&mut rib, "core", "Core1", "192.168.0.0/30");
    rib.add_neighbor("Core1", ip("192.168.0.2"));
    let pe = PeerRef {
        addr: ip("192.168.0.2"),
        router_id: "9.9.9.9".parse().unwrap(),
        ebgp: false,
        rr_client: false,
    };
    let rd: RouteDistinguisher = "65000:100".parse().unwrap();
    let attrs = bgp_attrs("192.168.0.2", &[], |a| {
        a.ext_communities =
            policy::ExtCommunities::new([policy::ExtCommunity::route_target(rt("65535:3"))]);
    });
    (rib, pe, rd, attrs)
}

#[test]
fn remote_pe_vpn_paths_import_with_the_vpn_label_over_a_core_interface() {
    let (mut rib, pe, rd, attrs) = lab_with_an_adjacent_pe();
    rib.upsert_vpn_path(rd, net("198.51.100.0/24"), pe, 3001, attrs);
    rib.take_delta();
    // Not a core interface yet: inaccessible, nothing imported into the FIB.
    assert!(!rib
        .fib("VRF-A")
        .unwrap()
        .contains_key(&net("198.51.100.0/24")));
    rib.set_core_interfaces([Arc::from("Core1")].into_iter().collect());
    let delta = rib.take_delta();
    let labelled = FibAction::Forward(
        vec![Adjacency {
            interface: Arc::from("Core1"),
            address: ip("192.168.0.2"),
            vpn_label: Some(3001),
            transport_label: None,
        }]
        .into(),
    );
    for vrf in ["VRF-A", "VRF-B"] {
        assert_eq!(
            rib.fib(vrf).unwrap().get(&net("198.51.100.0/24")),
            Some(&labelled),
            "{vrf}"
        );
    }
    assert!(!rib
        .fib("VRF-C")
        .unwrap()
        .contains_key(&net("198.51.100.0/24")));
    assert!(delta
        .vpn_changed
        .iter()
        .any(|(key, _)| *key == (rd, net("198.51.100.0/24"))));
    rib.withdraw_vpn_path(rd, net("198.51.100.0/24"), ip("192.168.0.2"));
    rib.take_delta();
    assert!(!rib
        .fib("VRF-A")
        .unwrap()
        .contains_key(&net("198.51.100.0/24")));
    assert!(rib.vpn_table().get(&(rd, net("198.51.100.0/24"))).is_none());
}

/// A PE's VPN paths with one label hold one `PathVia` (forwarding, origin, label, protocol),
/// whatever their attribute sets, also after the PE resolves anew; another label is another
/// via.
#[test]
fn a_pes_paths_with_one_label_share_one_via() {
    let (mut rib, pe, rd, attrs) = lab_with_an_adjacent_pe();
    let other_attrs = bgp_attrs("192.168.0.2", &[65010], |a| {
        a.ext_communities = attrs.ext_communities.clone();
    });
    rib.upsert_vpn_path(rd, net("198.51.100.0/24"), pe, 3001, attrs.clone());
    rib.upsert_vpn_path(rd, net("198.51.101.0/24"), pe, 3001, other_attrs);
    rib.upsert_vpn_path(rd, net("198.51.102.0/24"), pe, 3002, attrs);
    rib.take_delta();
    let vias = |rib: &Rib| -> Vec<*const PathVia> {
        let source = PathSource::Peer(Arc::new(pe.addr));
        ["198.51.100.0/24", "198.51.101.0/24", "198.51.102.0/24"]
            .iter()
            .map(|p| {
                let paths = rib
                    .vpn_table()
                    .get(&(rd, net(p)))
                    .expect("in the VPN table");
                std::ptr::from_ref(paths.get(&source).expect("the PE's path").via())
            })
            .collect()
    };
    let before = vias(&rib);
    assert_eq!(
        before[0], before[1],
        "one label, two attribute sets: one via"
    );
    assert_ne!(before[0], before[2], "another label: another via");
    // The core interface makes the PE reachable: the paths resolve anew, still sharing.
    rib.set_core_interfaces([Arc::from("Core1")].into_iter().collect());
    rib.take_delta();
    let after = vias(&rib);
    assert_eq!(after[0], after[1]);
    assert_ne!(after[0], after[2]);
    assert_ne!(after[0], before[0], "re-resolved: a new via");
    let path = |p| {
        rib.vpn_table()
            .get(&(rd, net(p)))
            .unwrap()
            .get_index(0)
            .unwrap()
            .clone()
    };
    assert_eq!(path("198.51.101.0/24").label(), Some(3001));
    assert_eq!(path("198.51.102.0/24").label(), Some(3002));
    assert!(matches!(
        **path("198.51.100.0/24").forward(),
        Forward::Nexthops(_)
    ));
}

#[test]
fn a_remote_pe_behind_a_static_lsp_forwards_with_both_labels() {
    let mut rib = seed_lab();
    rib.upsert_vrf("core", VrfPolicy::default());
    connected(&mut rib, "core", "Core1", "192.168.0.0/30");
    rib.set_core_interfaces([Arc::from("Core1")].into_iter().collect());
    // The PE 10.255.9.9 is two hops away: its loopback is not on any core subnet.
    let pe = PeerRef {
        addr: ip("10.255.9.9"),
        router_id: "9.9.9.9".parse().unwrap(),
        ebgp: false,
        rr_client: false,
    };
    let rd: RouteDistinguisher = "65000:100".parse().unwrap();
    let prefix = net("198.51.100.0/24");
    let attrs = bgp_attrs("10.255.9.9", &[], |a| {
        a.ext_communities =
            policy::ExtCommunities::new([policy::ExtCommunity::route_target(rt("65535:3"))]);
    });
    rib.upsert_vpn_path(rd, prefix, pe, 3001, attrs.clone());
    rib.take_delta();
    assert!(
        !rib.fib("VRF-A").unwrap().contains_key(&prefix),
        "no path to the PE yet"
    );

    let lsp = |label| Lsp {
        interface: Arc::from("Core1"),
        next_hop: ip("192.168.0.2"),
        label,
    };
    rib.set_lsps([(ip("10.255.9.9"), lsp(7001))].into());
    rib.take_delta();
    assert!(
        !rib.fib("VRF-A").unwrap().contains_key(&prefix),
        "the LSP's neighbor is not up"
    );
    let via = |transport_label| {
        FibAction::Forward(
            vec![Adjacency {
                interface: Arc::from("Core1"),
                address: ip("192.168.0.2"),
                vpn_label: Some(3001),
                transport_label,
            }]
            .into(),
        )
    };
    // The neighbor comes: the path resolves through the LSP.
    rib.add_neighbor("Core1", ip("192.168.0.2"));
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&prefix),
        Some(&via(Some(7001)))
    );
    let second = net("198.51.101.0/24");
    rib.upsert_vpn_path(rd, second, pe, 3001, attrs.clone());
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&second),
        Some(&via(Some(7001)))
    );
    // Implicit null: only the VPN label.
    rib.set_lsps([(ip("10.255.9.9"), lsp(3))].into());
    rib.take_delta();
    assert_eq!(rib.fib("VRF-A").unwrap().get(&prefix), Some(&via(None)));
    assert_eq!(rib.fib("VRF-A").unwrap().get(&second), Some(&via(None)));
    // A path learned after the change resolves as things now are, not as a cache had them.
    let third = net("198.51.102.0/24");
    rib.upsert_vpn_path(rd, third, pe, 3001, attrs);
    rib.take_delta();
    assert_eq!(rib.fib("VRF-A").unwrap().get(&third), Some(&via(None)));
    // The LSP goes: inaccessible again.
    rib.set_lsps(BTreeMap::new());
    rib.take_delta();
    assert!(!rib.fib("VRF-A").unwrap().contains_key(&prefix));
    // Back, then its neighbor leaves.
    rib.set_lsps([(ip("10.255.9.9"), lsp(7001))].into());
    rib.take_delta();
    assert_eq!(
        rib.fib("VRF-A").unwrap().get(&prefix),
        Some(&via(Some(7001)))
    );
    rib.remove_neighbor("Core1", ip("192.168.0.2"));
    rib.take_delta();
    assert!(!rib.fib("VRF-A").unwrap().contains_key(&prefix));
}

/// A table holds a million of these: their sizes are a budget (`docs/benchmarks.md`, "BGP
/// ingest"). A field that grows one breaks this test rather than the benchmark quietly.
#[test]
#[cfg(target_pointer_width = "64")]
fn table_entries_stay_small() {
    use std::mem::size_of;
    // The forwarding, the origin, the protocol and the distance in one shared `RouteVia`.
    assert_eq!(size_of::<Route>(), 16);
    // The label held plus one, so its `Option` needs no tag (`VpnLabel`).
    assert_eq!(size_of::<Option<VpnLabel>>(), 4);
    // The forwarding, the origin, the label and the protocol in one shared `PathVia`.
    assert_eq!(size_of::<VpnPath>(), 16);
    assert_eq!(size_of::<PathSource>(), 16);
    // The candidates are routes alone, their keys read from them (`Candidates`), with no tag
    // beside them (`small_map::Packed`).
    assert_eq!(size_of::<Candidates>(), 16);
    assert_eq!(size_of::<(IpNet, PrefixEntry)>(), 56);
    // A VPN entry's paths are paths alone, their sources read from them (`VpnPaths`); a
    // VPNv4 key is 8 bytes (`table::VpnV4Key`, its RD a number), a VPNv6 one 32.
    // With no tag beside them (`small_map::Packed`).
    assert_eq!(size_of::<(table::VpnV4Key, VpnEntry)>(), 24);
    assert_eq!(size_of::<(VpnKey, VpnEntry)>(), 48);
}

/// A VPN key's paths are found by their sources, read from the paths themselves, in source
/// order (local VRFs before neighbors), one per source.
#[test]
fn vpn_paths_are_keyed_by_their_sources() {
    let path = |source: PathSource, tag: u32| {
        let mut attrs = Attrs::new(policy::SourceProtocol::Bgp);
        attrs.tag = tag;
        VpnPath::new(
            Arc::new(attrs),
            PathVia::new(
                Protocol::Bgp,
                Arc::new(Forward::Blackhole),
                None,
                Arc::new(PathOrigin {
                    source,
                    route: None,
                }),
            ),
        )
    };
    let pe = |last: u8| PathSource::Peer(Arc::new(IpAddr::from([10, 0, 0, last])));
    let vrf = |name: &str| PathSource::Vrf(Arc::from(name));
    let mut paths = VpnPaths::new();
    for (source, tag) in [
        (pe(3), 1),
        (vrf("B"), 2),
        (pe(2), 3),
        (vrf("A"), 4),
        (pe(3), 5),
    ] {
        paths.insert(path(source, tag));
    }
    let keys: Vec<&PathSource> = paths.keys().collect();
    assert_eq!(keys, [&vrf("A"), &vrf("B"), &pe(2), &pe(3)]);
    assert_eq!(paths.get(&pe(3)).map(|p| p.attrs.tag), Some(5));
    assert_eq!(paths.remove(&vrf("B")).map(|p| p.attrs.tag), Some(2));
    assert!(!paths.contains_key(&vrf("B")));
    assert_eq!(paths.len(), 3);
}

/// The delta's marks remember where their entries are: taking in a batch of CE routes and
/// one of VPN paths looks each entry up by hash once, and every later pass (selection, FIB,
/// import, the importing VRFs' record) finds it by its hint.
#[test]
fn marks_find_their_entries_without_looking_them_up_again() {
    let (mut rib, pe, rd, attrs) = lab_with_an_adjacent_pe();
    rib.set_core_interfaces([Arc::from("Core1")].into_iter().collect());
    rib.take_delta();
    let prefixes: Vec<IpNet> = (0..100).map(|i| net(&format!("198.51.{i}.0/24"))).collect();
    rib.upsert_vpn_paths(pe, attrs, prefixes.iter().map(|p| (rd, *p, 3001)));
    let ce = bgp_attrs("10.1.1.2", &[65010], |_| {});
    let ce_prefixes = (0..100).map(|i| net(&format!("203.0.{i}.0/24")));
    rib.upsert_peer_routes("VRF-A", peer_ref(1), ce, ce_prefixes)
        .unwrap();
    rib.take_delta();
    let fib = rib.fib("VRF-A").unwrap();
    assert!(prefixes.iter().all(|p| fib.contains_key(p)), "imported");
    assert_eq!(rib.vpn.hint_misses(), 0, "VPN table");
    for (name, state) in &rib.vrfs {
        assert_eq!(state.table.hint_misses(), 0, "VRF {name}");
    }
}

/// A delta's marks keep each key's first place, whichever way repeats are found (by entry
/// position in a bit set, by key for absent keys and for few marks in a big table), and each
/// kept mark ends up pointing at its entry.
#[test]
fn repeated_marks_keep_their_first_place_and_find_their_entries() {
    let mut table: KeyedTable<u32, ()> = KeyedTable::new();
    for k in 0..64u32 {
        table.insert(k * 10, ());
    }
    let position =
        |table: &KeyedTable<u32, ()>, k: u32| table.get_hinted(&k, u32::MAX).map(|(at, _)| at);
    // (key, hint): stale and unknown hints, repeats, keys with no entry (5, 7).
    let marks = vec![
        (30, 0),
        (10, u32::MAX),
        (5, 3),
        (30, 3),
        (7, u32::MAX),
        (10, 1),
        (5, u32::MAX),
        (20, 999),
    ];
    let expected_keys = [30, 10, 5, 7, 20];
    // Enough marks for the bit set (8 * 16 >= 64 entries) ...
    let mut by_position = marks.clone();
    dedup_marks(&table, &mut by_position, |m| m.0, |m| &mut m.1);
    let keys: Vec<u32> = by_position.iter().map(|m| m.0).collect();
    assert_eq!(keys, expected_keys);
    for (k, at) in &by_position {
        if let Some(found) = position(&table, *k) {
            assert_eq!(*at, found, "mark of {k} points at its entry");
        }
    }
    // ... and too few for a table of 1,000 entries: by key.
    for k in 64..1000u32 {
        table.insert(k * 10, ());
    }
    let mut by_key = marks;
    dedup_marks(&table, &mut by_key, |m| m.0, |m| &mut m.1);
    let keys: Vec<u32> = by_key.iter().map(|m| m.0).collect();
    assert_eq!(keys, expected_keys);
}

proptest! {
    /// FIB changes come out in prefix order, each with its own action, whether the IPv4 fast
    /// path (prefixes packed into `u64`s) or the plain sort (any IPv6 prefix) takes them.
    #[test]
    fn fib_changes_come_out_in_prefix_order(
        v4 in proptest::collection::btree_set((any::<u32>(), 0u8..=32), 0..300),
        v6 in proptest::collection::btree_set((any::<u128>(), 0u8..=128), 0..3),
    ) {
        let mut changes: Vec<(IpNet, Option<FibAction>)> = v4
            .iter()
            .map(|&(a, l)| IpNet::V4(ipnet::Ipv4Net::new(std::net::Ipv4Addr::from_bits(a), l).unwrap()))
            .chain(v6.iter().map(|&(a, l)| {
                IpNet::V6(ipnet::Ipv6Net::new(std::net::Ipv6Addr::from_bits(a), l).unwrap())
            }))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, (i % 3 == 0).then_some(FibAction::Drop)))
            .collect();
        // The order marked: anything but sorted.
        changes.reverse();
        let third = changes.len() / 3;
        changes.rotate_left(third);
        let mut expected = changes.clone();
        expected.sort_by_key(|(p, _)| *p);
        let mut out = Vec::new();
        in_prefix_order(changes, |p, a| out.push((p, a)));
        prop_assert_eq!(out, expected);
    }
}
