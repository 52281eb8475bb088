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
        .switch_entities()
        .into_iter()
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
    let mut actual: Vec<Entity> = router.switch_entities();
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
    let repair = router.reconcile(&actual);
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

/// A topology with VRF `a`, its interface `e1` and the neighbor 10.0.0.2 there; that
/// neighbor's adjacency.
fn one_vrf_topology() -> (Topology, Adjacency) {
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
    (topology, adj)
}

/// A delta of one change.
fn change(vrf: &str, prefix: &str, old: Option<FibAction>, action: Option<FibAction>) -> FibDelta {
    FibDelta {
        changes: vec![rib::FibChange {
            vrf: Arc::from(vrf),
            prefix: prefix.parse().unwrap(),
            old,
            action,
        }]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

#[test]
fn route_entries_of_a_vrf_that_left_the_topology_go_with_it() {
    let (topology, adj) = one_vrf_topology();
    let forward = FibAction::Forward([adj].into());
    let mut dp = Dataplane::new();
    dp.apply(
        &topology,
        &change("a", "10.9.0.0/16", None, Some(forward.clone())),
    )
    .unwrap();
    assert_eq!(
        dp.entity_count(),
        6,
        "rif, interface, my_station, nexthop, member, route"
    );
    // The VRF and its interface leave; the RIB withdraws the VRF's routes in the same delta.
    let mut without = topology.clone();
    without.vrfs.clear();
    without.interfaces.clear();
    let withdrawn = change("a", "10.9.0.0/16", Some(forward), None);
    let updates = dp.apply(&without, &withdrawn).unwrap();
    assert!(
        updates.iter().all(|u| u.kind == UpdateKind::Delete),
        "{updates:?}"
    );
    assert_eq!(table_of(&updates[0]), names::IPV4_LPM);
    assert_eq!(dp.entity_count(), 1, "only my_station is left");
    assert_eq!(dp.vrf_id("a"), None);
}

/// A route the data plane cannot program (its neighbor unknown to the topology, or no ECMP
/// group id left) keeps what the switch held, is listed as refused, and is programmed by a
/// later change once it can be; nothing it took is left behind.
#[test]
fn a_route_that_cannot_be_programmed_keeps_its_entry_until_it_can_be() {
    let (mut topology, adj) = one_vrf_topology();
    let other = Adjacency::new(Arc::from("e1"), "10.0.0.3".parse().unwrap());
    let to = |adjs: &[&Adjacency]| FibAction::Forward(adjs.iter().map(|a| (*a).clone()).collect());
    let mut dp = Dataplane::new();
    dp.apply(
        &topology,
        &change("a", "10.9.0.0/16", None, Some(to(&[&adj]))),
    )
    .unwrap();
    let before = dp.entity_count();
    // To a neighbor the topology does not have: refused, the entry stays.
    let updates = dp
        .apply(
            &topology,
            &change("a", "10.9.0.0/16", Some(to(&[&adj])), Some(to(&[&other]))),
        )
        .unwrap();
    assert_eq!(updates, vec![]);
    assert_eq!(dp.refused_routes(), 1);
    assert_eq!(dp.entity_count(), before);
    let fib_now = [(
        Arc::from("a"),
        "10.9.0.0/16".parse().unwrap(),
        to(&[&other]),
    )];
    let entities = |dp: &Dataplane| -> Vec<Entity> {
        dp.entities(fib_now.iter().map(|(v, p, a)| (v, *p, a)))
            .collect()
    };
    let held = entities(&dp);
    assert_eq!(held.len(), before);
    assert!(held.contains(&route_entity(
        (1, "10.9.0.0/16".parse().unwrap()),
        RouteAction::Nexthop(1)
    )));
    // An unrelated change while the neighbor is still unknown: tried again, still refused.
    let unrelated = change("a", "10.8.0.0/16", None, Some(FibAction::Drop));
    let updates = dp.apply(&topology, &unrelated).unwrap();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(dp.refused_routes(), 1);
    // The neighbor is configured: the next change programs the route, the old nexthop goes.
    topology.neighbors.insert(
        (other.interface.clone(), other.address),
        Mac([2, 0, 0, 0, 0, 3]),
    );
    let updates = dp.apply(&topology, &FibDelta::default()).unwrap();
    assert_eq!(dp.refused_routes(), 0);
    let kinds: Vec<(UpdateKind, String)> = updates.iter().map(|u| (u.kind, table_of(u))).collect();
    assert_eq!(
        kinds,
        vec![
            (UpdateKind::Insert, names::NEXTHOP.to_string()),
            (UpdateKind::Insert, "member".to_string()),
            (UpdateKind::Modify, names::IPV4_LPM.to_string()),
            (UpdateKind::Delete, "member".to_string()),
            (UpdateKind::Delete, names::NEXTHOP.to_string()),
        ]
    );

    // Out of ECMP group ids: an ECMP route is refused and takes no nexthop with it.
    let mut dp = Dataplane::new();
    dp.group_ids = Ids::new("ECMP group", 0);
    let ecmp = to(&[&adj, &other]);
    let updates = dp
        .apply(
            &topology,
            &change("a", "10.7.0.0/16", None, Some(ecmp.clone())),
        )
        .unwrap();
    assert_eq!(dp.refused_routes(), 1);
    assert!(
        updates
            .iter()
            .all(|u| !matches!(table_of(u).as_str(), "member")
                && table_of(u) != names::NEXTHOP
                && table_of(u) != names::IPV4_LPM),
        "{updates:?}"
    );
    assert!(dp.nexthop_ids.by_key.is_empty());
    // Withdrawn while refused: nothing was installed, nothing to delete.
    let updates = dp
        .apply(
            &topology,
            &change("a", "10.7.0.0/16", Some(ecmp.clone()), None),
        )
        .unwrap();
    assert!(
        updates.iter().all(|u| table_of(u) != names::IPV4_LPM),
        "{updates:?}"
    );
    assert_eq!(dp.refused_routes(), 0);

    // Out of nexthop ids at the second member: the first member's nexthop and the group's id
    // are given back.
    let mut dp = Dataplane::new();
    dp.nexthop_ids = Ids::new("nexthop", 1);
    let updates = dp
        .apply(&topology, &change("a", "10.6.0.0/16", None, Some(ecmp)))
        .unwrap();
    assert_eq!(dp.refused_routes(), 1);
    assert!(dp.nexthop_ids.by_key.is_empty());
    assert!(dp.group_ids.by_key.is_empty());
    assert!(
        updates.iter().all(|u| !matches!(
            table_of(u).as_str(),
            "member" | "group" | names::NEXTHOP | names::ECMP_GROUP | names::IPV4_LPM
        )),
        "{updates:?}"
    );
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

/// Random deltas (announces to single nexthops and ECMP sets, drops, punts, withdraws of
/// present and absent prefixes, keys repeated within a delta) against a model FIB: after each,
/// the updates applied to a model switch give exactly the desired entities, written in a safe
/// order (a route is written only when what it points at is there), every route forwards to
/// the model's neighbors, and every nexthop and group count is the number of its references.
#[test]
fn random_deltas_keep_switch_routes_and_counts_exact() {
    use p4rt::entity::EntityKey;

    let mut topology = Topology::default();
    for vrf in ["v", "w"] {
        topology.vrfs.insert(vrf.into());
    }
    topology
        .interfaces
        .insert("e1".into(), (1, None, "v".into()));
    let adj = |i: u8| Adjacency {
        interface: Arc::from("e1"),
        address: IpAddr::from([10, 0, 0, i]),
        vpn_label: None,
        transport_label: None,
    };
    for i in 1..=4 {
        topology.neighbors.insert(
            (Arc::from("e1"), IpAddr::from([10, 0, 0, i])),
            Mac([2, 0, 0, 0, 0, i]),
        );
    }
    // Single adjacencies and ECMP sets, shared as the RIB shares them.
    let sets: Vec<Adjacencies> = [&[1][..], &[2], &[3], &[4], &[1, 2], &[2, 3, 4], &[1, 4]]
        .iter()
        .map(|ids| ids.iter().map(|i| adj(*i)).collect())
        .collect();
    let vrfs: [rib::VrfName; 2] = [Arc::from("v"), Arc::from("w")];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut dp = Dataplane::new();
    let mut switch: BTreeMap<EntityKey, Entity> = BTreeMap::new();
    let mut fib: BTreeMap<(usize, IpNet), FibAction> = BTreeMap::new();
    let mut largest = 0;
    for round in 0..3000 {
        // Few prefixes and small deltas, so that entries are often the last reference on
        // what they point at; a few large ones, then everything withdrawn.
        let (prefixes, n) = if round % 100 < 95 { (5, 6) } else { (80, 60) };
        // Each change with the action it replaces, as the RIB gives them: the model's as the
        // changes before it left it (a key may repeat), and never the same as the new one.
        let mut wanted: Vec<(usize, IpNet, Option<FibAction>)> = Vec::new();
        if round % 100 == 99 {
            wanted.extend(fib.keys().map(|(vrf, prefix)| (*vrf, *prefix, None)));
        }
        for _ in 0..rand(n) {
            let vrf = rand(2) as usize;
            let prefix: IpNet = format!("10.{}.0.0/16", rand(prefixes)).parse().unwrap();
            let action = match rand(10) {
                0..=2 => None,
                3 => Some(FibAction::Drop),
                4 => Some(FibAction::Punt),
                // An equal set in a new allocation now and then.
                5 => Some(FibAction::Forward(
                    sets[rand(7) as usize].iter().cloned().collect(),
                )),
                _ => Some(FibAction::Forward(sets[rand(7) as usize].clone())),
            };
            wanted.push((vrf, prefix, action));
        }
        wanted.sort_by_key(|c| c.0);
        let mut changes = Vec::new();
        for (vrf, prefix, action) in wanted {
            let old = match &action {
                Some(a) => fib.insert((vrf, prefix), a.clone()),
                None => fib.remove(&(vrf, prefix)),
            };
            if old != action {
                changes.push(rib::FibChange {
                    vrf: vrfs[vrf].clone(),
                    prefix,
                    old,
                    action,
                });
            }
        }
        let delta = FibDelta {
            changes: changes.into_iter().collect(),
            ..Default::default()
        };
        let updates = if round % 2 == 0 {
            dp.apply(&topology, &delta).unwrap()
        } else {
            dp.apply_owned(&topology, delta).unwrap().into_vec()
        };
        for u in updates {
            let key = u.entity.key();
            match u.kind {
                UpdateKind::Insert => assert!(switch.insert(key, u.entity.clone()).is_none()),
                UpdateKind::Modify => assert!(switch.insert(key, u.entity.clone()).is_some()),
                UpdateKind::Delete => assert!(switch.remove(&key).is_some()),
            }
            if u.kind == UpdateKind::Delete {
                continue;
            }
            if let Entity::Table(t) = &u.entity {
                if let TableAction::Action(call) = &t.action {
                    let table = match call.action.as_str() {
                        names::SET_NEXTHOP => names::NEXTHOP,
                        names::SET_ECMP_GROUP => names::ECMP_GROUP,
                        _ => continue,
                    };
                    let id = call.params[0].1.clone();
                    assert!(
                        switch.values().any(|e| matches!(e, Entity::Table(x)
                            if x.table == table && x.matches[0].value == MatchValue::Exact(id.clone()))),
                        "route written before what it points at"
                    );
                }
            }
        }
        largest = largest.max(fib.len());
        let fib_entries = fib
            .iter()
            .map(|((vrf, prefix), a)| (&vrfs[*vrf], *prefix, a));
        let want: BTreeMap<EntityKey, Entity> =
            dp.entities(fib_entries).map(|e| (e.key(), e)).collect();
        assert_eq!(switch, want, "round {round}");

        // Every route forwards as the model says.
        /// The neighbor MACs of adjacencies (10.0.0.i has 2:0:0:0:0:i).
        fn macs(adjs: &[Adjacency]) -> BTreeSet<[u8; 6]> {
            adjs.iter()
                .map(|a| match a.address {
                    IpAddr::V4(v4) => [2, 0, 0, 0, 0, v4.octets()[3]],
                    IpAddr::V6(_) => unreachable!(),
                })
                .collect()
        }
        let mac_of_nexthop = |id: u16| -> [u8; 6] {
            let key = Key::Nexthop(id);
            let Some(Entity::Table(t)) = dp.desired.get(&key) else {
                panic!("no nexthop {id}")
            };
            let TableAction::Action(call) = &t.action else {
                panic!()
            };
            call.params[1].1.as_ref().try_into().unwrap()
        };
        // The route entries as the model switch holds them, in ids.
        let routes: BTreeMap<RouteKey, RouteAction> = switch
            .values()
            .filter_map(|e| match e {
                Entity::Table(t) if t.table == names::IPV4_LPM => Some(t),
                _ => None,
            })
            .map(|t| {
                let (MatchValue::Exact(vrf), MatchValue::Lpm { value, prefix_len }) =
                    (&t.matches[0].value, &t.matches[1].value)
                else {
                    panic!("{t:?}")
                };
                let vrf = u16::from_be_bytes(vrf.as_ref().try_into().unwrap());
                let addr: [u8; 4] = value.as_ref().try_into().unwrap();
                let prefix = IpNet::new(IpAddr::from(addr), *prefix_len as u8).unwrap();
                let TableAction::Action(call) = &t.action else {
                    panic!("{t:?}")
                };
                let id = || u16::from_be_bytes(call.params[0].1.as_ref().try_into().unwrap());
                let action = match call.action.as_str() {
                    names::SET_NEXTHOP => RouteAction::Nexthop(id()),
                    names::SET_ECMP_GROUP => RouteAction::Group(id()),
                    names::DROP => RouteAction::Drop,
                    names::PUNT => RouteAction::Punt,
                    other => panic!("{other}"),
                };
                ((vrf, prefix), action)
            })
            .collect();
        assert_eq!(routes.len(), fib.len());
        assert_eq!(dp.route_count, fib.len());
        for ((vrf, prefix), action) in &fib {
            let id = dp.vrf_id(&vrfs[*vrf]).unwrap();
            let got = routes.get(&(id, *prefix)).copied();
            match (action, got) {
                (FibAction::Drop, Some(RouteAction::Drop)) => {}
                (FibAction::Punt, Some(RouteAction::Punt)) => {}
                (FibAction::Forward(adjs), Some(RouteAction::Nexthop(nh))) => {
                    assert_eq!(adjs.len(), 1);
                    assert_eq!(BTreeSet::from([mac_of_nexthop(nh)]), macs(adjs));
                }
                (FibAction::Forward(adjs), Some(RouteAction::Group(g))) => {
                    let Some(Entity::Group(group)) = dp.desired.get(&Key::Group(u32::from(g)))
                    else {
                        panic!("no group {g}")
                    };
                    let got: BTreeSet<[u8; 6]> = group
                        .members
                        .iter()
                        .map(|(m, _)| mac_of_nexthop(*m as u16))
                        .collect();
                    assert_eq!(got, macs(adjs));
                }
                other => panic!("{prefix} in {vrf}: {other:?}"),
            }
        }

        // Counts: references from routes, and from groups on their nexthops.
        let mut nexthop_refs = vec![0u32; dp.nexthop_refs.len()];
        let mut group_refs = vec![0u32; dp.group_refs.len()];
        for action in routes.values() {
            match *action {
                RouteAction::Nexthop(id) => nexthop_refs[id as usize] += 1,
                RouteAction::Group(id) => group_refs[id as usize] += 1,
                _ => {}
            }
        }
        for adjs in dp.group_ids.by_key.keys() {
            for a in adjs.iter() {
                nexthop_refs[dp.nexthop_ids.get(a).unwrap() as usize] += 1;
            }
        }
        assert_eq!(nexthop_refs, dp.nexthop_refs, "round {round}");
        assert_eq!(group_refs, dp.group_refs, "round {round}");
        for (id, refs) in nexthop_refs.iter().enumerate() {
            assert_eq!(*refs > 0, dp.nexthop_ids.key_of(id as u32).is_some());
        }
        for (id, refs) in group_refs.iter().enumerate() {
            assert_eq!(*refs > 0, dp.group_ids.key_of(id as u32).is_some());
        }
    }
    assert!(largest > 40, "the model FIB stayed small: {largest}");
}
