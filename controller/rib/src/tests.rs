use super::*;
use proptest::prelude::*;

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
        redistribute_connected: true,
        redistribute_static: true,
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
    let adj = Adjacency {
        interface: Arc::from(intf),
        address: ip(gw),
    };
    rib.upsert_route(
        vrf,
        net(prefix),
        Route::local(Protocol::Static, Forward::Nexthops(vec![adj]), 0),
    )
    .unwrap();
}

fn fwd(intf: &str, gw: &str) -> FibAction {
    FibAction::Forward(vec![Adjacency {
        interface: Arc::from(intf),
        address: ip(gw),
    }])
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
    assert!(a.keys().all(|p| !net("10.2.0.0/16").contains(p)));
    assert!(b.keys().all(|p| !net("10.1.0.0/16").contains(p)));
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
    assert_eq!(leaked.protocol, Protocol::Bgp);
    let src = leaked.leaked.as_ref().unwrap();
    assert_eq!((&*src.vrf, src.protocol), ("VRF-A", Protocol::Static));
    assert_eq!(src.rd.to_string(), "65535:1");
}

#[test]
fn vpn_table_is_keyed_by_rd_and_carries_export_rts() {
    let mut rib = seed_lab();
    rib.take_delta();
    let vpn = rib.vpn_table();
    assert_eq!(vpn.len(), 6);
    let key = ("65535:2".parse().unwrap(), net("10.2.1.0/24"));
    let path = &vpn[&key][&PathSource::Vrf(Arc::from("VRF-B"))];
    assert_eq!(path.route_targets, vec![rt("65535:2")]);
    assert_eq!(path.protocol, Protocol::Static);
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
                action: None
            },
            FibChange {
                vrf: Arc::from("VRF-C"),
                prefix: net("10.1.1.0/24"),
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
    assert!(c.keys().all(|p| !net("10.1.0.0/16").contains(p)), "{c:?}");
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
    assert!(c.keys().all(|p| !net("10.1.0.0/16").contains(p)));
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
            redistribute_connected: true,
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
    p.redistribute_static = false;
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
        (0..3usize, 1u8..4, any::<bool>()).prop_map(|(intf, host, add)| Op::Neighbor {
            intf,
            host,
            add
        }),
    ]
}

/// The final state of a sequence of ops, replayable as a cold start.
#[derive(Default, Clone)]
struct World {
    vrfs: BTreeMap<usize, VrfPolicy>,
    routes: BTreeMap<(usize, IpNet, Protocol), Route>,
    neighbors: BTreeSet<(usize, u8)>,
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
                redistribute_connected: *conn,
                redistribute_static: *stat,
            };
            rib.upsert_vrf(VRFS[*vrf], p.clone());
            world.vrfs.insert(*vrf, p);
        }
        Op::RemoveVrf(vrf) => {
            rib.remove_vrf(VRFS[*vrf]);
            world.vrfs.remove(vrf);
            world.routes.retain(|(v, _, _), _| v != vrf);
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
                let adj = Adjacency {
                    interface: Arc::from(INTFS[*intf]),
                    address: ip(&format!("10.0.0.{host}")),
                };
                let r = Route::local(Protocol::Static, Forward::Nexthops(vec![adj]), *host as u32);
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
    }
}

fn cold_start(world: &World) -> Rib {
    let mut rib = Rib::new();
    for (vrf, p) in &world.vrfs {
        rib.upsert_vrf(VRFS[*vrf], p.clone());
    }
    for ((vrf, prefix, _), r) in &world.routes {
        rib.upsert_route(VRFS[*vrf], *prefix, r.clone()).unwrap();
    }
    for (intf, host) in &world.neighbors {
        rib.add_neighbor(INTFS[*intf], ip(&format!("10.0.0.{host}")));
    }
    rib.take_delta();
    rib
}

fn all_fibs(rib: &Rib) -> BTreeMap<String, BTreeMap<IpNet, FibAction>> {
    rib.vrf_names()
        .map(|v| (v.to_string(), rib.fib(v).unwrap().clone()))
        .filter(|(_, f)| !f.is_empty())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn delta_path_equals_cold_start(ops in proptest::collection::vec(op(), 1..40), every in 1usize..5) {
        let mut rib = Rib::new();
        let mut world = World::default();
        // The FIB a consumer rebuilds from deltas alone must equal the RIB's own FIB.
        let mut replayed: BTreeMap<(String, IpNet), FibAction> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            apply(&mut rib, &mut world, op);
            if i % every == 0 {
                for c in rib.take_delta().changes {
                    match c.action {
                        Some(a) => { replayed.insert((c.vrf.to_string(), c.prefix), a); }
                        None => { replayed.remove(&(c.vrf.to_string(), c.prefix)); }
                    }
                }
            }
        }
        for c in rib.take_delta().changes {
            match c.action {
                Some(a) => { replayed.insert((c.vrf.to_string(), c.prefix), a); }
                None => { replayed.remove(&(c.vrf.to_string(), c.prefix)); }
            }
        }
        let cold = cold_start(&world);
        prop_assert_eq!(all_fibs(&rib), all_fibs(&cold));
        let flat: BTreeMap<(String, IpNet), FibAction> = all_fibs(&cold)
            .into_iter()
            .flat_map(|(v, f)| f.into_iter().map(move |(p, a)| ((v.clone(), p), a)))
            .collect();
        prop_assert_eq!(replayed, flat);
        prop_assert_eq!(rib.vpn_table(), cold.vpn_table());
    }
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
