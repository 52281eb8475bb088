use super::*;
use crate::config;
use crate::router::Router;

const SEED_LAB: &str = include_str!("../../../../examples/seed-lab/p4vrf.toml");

fn table_of(u: &Update) -> String {
    match &u.entity {
        Entity::Table(t) => t.table.to_string(),
        Entity::Member(_) => "member".into(),
        Entity::Group(_) => "group".into(),
    }
}

fn rank(table: &str) -> usize {
    [
        names::ROUTER_INTERFACE,
        names::INTERFACE,
        names::MY_STATION,
        names::NEXTHOP,
        "member",
        "group",
        names::ECMP_GROUP,
        names::IPV4_LPM,
    ]
    .iter()
    .position(|t| *t == table)
    .unwrap_or(7)
}

#[test]
fn cold_start_inserts_bottom_up() {
    let mut router = Router::new();
    let updates = router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap();
    assert!(updates.iter().all(|u| u.kind == UpdateKind::Insert));
    let ranks: Vec<usize> = updates.iter().map(|u| rank(&table_of(u))).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "not bottom-up: {ranks:?}"
    );
    // 3 rifs, 3 interfaces, 1 my_station, 6 nexthops (v4+v6 host per port), 6 members.
    let count = |t: &str| updates.iter().filter(|u| table_of(u) == t).count();
    assert_eq!(count(names::ROUTER_INTERFACE), 3);
    assert_eq!(count(names::INTERFACE), 3);
    assert_eq!(count(names::MY_STATION), 1);
    assert_eq!(count(names::NEXTHOP), 6);
    // VRF ids are numbered by name on a cold start.
    assert_eq!(router.dataplane().vrf_id("VRF-A"), Some(1));
    assert_eq!(router.dataplane().vrf_id("VRF-C"), Some(3));
}

#[test]
fn a_leaked_route_points_at_the_exporting_vrfs_nexthop() {
    let mut router = Router::new();
    router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap();
    let routes: Vec<TableEntry> = router
        .dataplane()
        .entities()
        .filter_map(|e| match e {
            Entity::Table(t) if t.table == names::IPV4_LPM => Some(t),
            _ => None,
        })
        .collect();
    let action_for = |vrf: u16, prefix: [u8; 4], len: u32| {
        routes
            .iter()
            .find(|t| {
                t.matches[0].value == MatchValue::Exact(vrf.to_be_bytes().to_vec().into())
                    && t.matches[1].value
                        == MatchValue::Lpm {
                            value: prefix.to_vec().into(),
                            prefix_len: len,
                        }
            })
            .map(|t| t.action.clone())
    };
    // 10.3.1.0/24 is VRF-C's static via 10.3.0.2; in VRF-A (id 1) and VRF-C (id 3) it is the
    // same action with the same nexthop id: one lookup, no recirculation.
    let in_c = action_for(3, [10, 3, 1, 0], 24).expect("C has its own route");
    let in_a = action_for(1, [10, 3, 1, 0], 24).expect("A has the leaked route");
    assert_eq!(in_a, in_c);
    // VRF-B (id 2) does not see VRF-A's 10.1.1.0/24.
    assert!(action_for(2, [10, 1, 1, 0], 24).is_none());
}

#[test]
fn removing_a_route_deletes_top_down_and_frees_its_nexthop() {
    let mut router = Router::new();
    let text = "[router]\nmac = \"02:00:00:00:00:01\"\n[[vrf]]\nname = \"a\"\n\
        [[vrf.static]]\nprefix = \"10.9.0.0/16\"\nnext-hop = [\"10.0.0.2\", \"10.0.0.3\"]\n\
        [[interface]]\nname = \"e1\"\nport = 1\nvrf = \"a\"\naddress = [\"10.0.0.1/24\"]\n\
        [[interface.neighbor]]\nip = \"10.0.0.2\"\nmac = \"02:00:00:00:00:02\"\n\
        [[interface.neighbor]]\nip = \"10.0.0.3\"\nmac = \"02:00:00:00:00:03\"\n";
    let updates = router
        .apply(config::parse("t.toml", text).unwrap())
        .unwrap();
    let groups = updates
        .iter()
        .filter(|u| matches!(u.entity, Entity::Group(_)))
        .count();
    assert_eq!(groups, 1, "two next hops make one ECMP group");
    // Drop the neighbor 10.0.0.3 and make the static single-path.
    let text2 = text.replace(", \"10.0.0.3\"", "").replace(
        "[[interface.neighbor]]\nip = \"10.0.0.3\"\nmac = \"02:00:00:00:00:03\"\n",
        "",
    );
    let updates = router
        .apply(config::parse("t.toml", &text2).unwrap())
        .unwrap();
    let kinds: Vec<(UpdateKind, String)> = updates.iter().map(|u| (u.kind, table_of(u))).collect();
    // The route is modified to the single nexthop first; then the ECMP entry, group, members
    // and the unused nexthop go, top-down.
    assert_eq!(kinds[0], (UpdateKind::Modify, names::IPV4_LPM.to_string()));
    let deletes: Vec<&String> = kinds
        .iter()
        .filter(|(k, _)| *k == UpdateKind::Delete)
        .map(|(_, t)| t)
        .collect();
    let ranks: Vec<usize> = deletes.iter().map(|t| rank(t)).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "not top-down: {deletes:?}"
    );
    assert!(deletes.contains(&&"group".to_string()));
    assert!(deletes.contains(&&names::NEXTHOP.to_string()));
}

#[test]
fn a_neighbor_mac_change_is_one_modify() {
    let mut router = Router::new();
    router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap();
    let changed = SEED_LAB.replacen("02:00:00:00:0a:02", "02:00:00:00:0a:99", 1);
    let updates = router
        .apply(config::parse("seed.toml", &changed).unwrap())
        .unwrap();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].kind, UpdateKind::Modify);
    assert_eq!(table_of(&updates[0]), names::NEXTHOP);
}

#[test]
fn the_same_config_twice_writes_nothing() {
    let mut router = Router::new();
    router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap();
    assert!(router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn ids_freed_in_a_batch_are_not_reused_in_it() {
    let mut ids: Ids<&str> = Ids::new("test", 10);
    assert_eq!(ids.get_or_alloc(&"a").unwrap(), 1);
    ids.release(&"a");
    assert_eq!(ids.get_or_alloc(&"b").unwrap(), 2);
    ids.end_batch();
    assert_eq!(ids.get_or_alloc(&"c").unwrap(), 1);
}

#[test]
fn reconcile_fixes_a_switch_that_drifted() {
    let mut router = Router::new();
    router
        .apply(config::parse("seed.toml", SEED_LAB).unwrap())
        .unwrap();
    let mut actual: Vec<Entity> = router.dataplane().entities().collect();
    let removed = actual.remove(actual.len() - 1);
    let stray = Entity::Table(TableEntry {
        table: names::IPV4_LPM.into(),
        matches: vec![
            exact("vrf_id", vec![0, 9].into()),
            FieldMatch {
                field: "dst_addr".into(),
                value: MatchValue::Lpm {
                    value: vec![1, 2, 3, 0].into(),
                    prefix_len: 24,
                },
            },
        ],
        action: TableAction::Action(call(names::DROP, vec![])),
        priority: 0,
    });
    actual.push(stray.clone());
    let repair = router.dataplane().reconcile(&actual);
    assert_eq!(
        repair,
        vec![
            Update {
                kind: UpdateKind::Insert,
                entity: removed
            },
            Update {
                kind: UpdateKind::Delete,
                entity: stray
            }
        ]
    );
}

#[test]
fn ids_run_out_cleanly_and_come_back() {
    let mut ids: Ids<u32> = Ids::new("test", 3);
    for k in 0..3 {
        assert_eq!(ids.get_or_alloc(&k).unwrap(), k + 1);
    }
    assert_eq!(ids.get_or_alloc(&9), Err(DataplaneError::OutOfIds("test")));
    ids.release(&1);
    assert_eq!(
        ids.get_or_alloc(&9),
        Err(DataplaneError::OutOfIds("test")),
        "not in the same batch"
    );
    ids.end_batch();
    assert_eq!(ids.get_or_alloc(&9).unwrap(), 2);
}

#[test]
fn route_entries_of_a_vrf_that_left_the_topology_go_with_it() {
    let mut topology = Topology {
        router_mac: Some(Mac([2, 0, 0, 0, 0, 1])),
        ..Default::default()
    };
    topology.vrfs.insert("a".into());
    topology
        .interfaces
        .insert("e1".into(), (1, None, "a".into()));
    let adj = Adjacency::new(Arc::from("e1"), "10.0.0.2".parse().unwrap());
    topology.neighbors.insert(
        (adj.interface.clone(), adj.address),
        Mac([2, 0, 0, 0, 0, 2]),
    );
    let delta = FibDelta {
        changes: vec![rib::FibChange {
            vrf: Arc::from("a"),
            prefix: "10.9.0.0/16".parse().unwrap(),
            action: Some(FibAction::Forward([adj].into())),
        }],
        ..Default::default()
    };
    let mut dp = Dataplane::new();
    dp.apply(&topology, &delta).unwrap();
    assert_eq!(
        dp.entity_count(),
        6,
        "rif, interface, my_station, nexthop, member, route"
    );
    // The VRF and its interface leave without the RIB withdrawing the route (it always does
    // in the same delta; this is the safety net): nothing of it stays behind.
    let mut without = topology.clone();
    without.vrfs.clear();
    without.interfaces.clear();
    let updates = dp.apply(&without, &FibDelta::default()).unwrap();
    assert!(
        updates.iter().all(|u| u.kind == UpdateKind::Delete),
        "{updates:?}"
    );
    assert_eq!(table_of(&updates[0]), names::IPV4_LPM);
    assert_eq!(dp.entity_count(), 1, "only my_station is left");
    assert_eq!(dp.vrf_id("a"), None);
}

#[test]
fn updates_come_in_write_order_whole_or_in_chunks() {
    let key = |vrf: u16, net: &str| (vrf, net.parse::<IpNet>().unwrap());
    let entity = |id: u16| {
        table_entry(
            names::NEXTHOP,
            vec![exact("nexthop_id", u16_bytes(id))],
            TableAction::Action(call(names::DROP, vec![])),
        )
    };
    let (nh, group) = (RouteAction::Nexthop(1), RouteAction::Group(2));
    let make = || Updates {
        writes: vec![Update::insert(entity(1))],
        // As a change sets them: out of order, a key set twice, one set and set back.
        routes: vec![
            (key(2, "10.0.0.0/8"), None, Some(nh)),
            (key(1, "10.0.0.0/8"), Some(nh), None),
            (key(1, "10.1.0.0/16"), Some(nh), Some(group)),
            (key(2, "10.0.0.0/8"), Some(nh), Some(group)),
            (key(3, "10.0.0.0/8"), None, Some(nh)),
            (key(3, "10.0.0.0/8"), Some(nh), None),
            (key(1, "10.2.0.0/16"), Some(group), None),
        ],
        deletes: vec![Update::delete(entity(2))],
        ..Default::default()
    };
    let want = vec![
        Update::insert(entity(1)),
        Update::modify(route_entity(key(1, "10.1.0.0/16"), group)),
        Update::insert(route_entity(key(2, "10.0.0.0/8"), group)),
        Update::delete(route_entity(key(1, "10.2.0.0/16"), group)),
        Update::delete(route_entity(key(1, "10.0.0.0/8"), nh)),
        Update::delete(entity(2)),
    ];
    assert_eq!(make().into_vec(), want);
    for max in 1..=want.len() + 1 {
        let mut updates = make();
        assert!(!updates.is_empty());
        assert_eq!(updates.remaining(), want.len());
        let (mut got, mut chunk) = (Vec::new(), Vec::new());
        while updates.next_chunk(max, &mut chunk) {
            assert!(chunk.len() <= max);
            got.append(&mut chunk);
        }
        assert_eq!(got, want, "chunks of {max}");
        assert_eq!(updates.remaining(), 0);
    }
}
