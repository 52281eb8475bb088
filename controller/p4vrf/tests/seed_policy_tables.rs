//! Seeds 000, 001 and 004 as table state: the example configurations
//! (`examples/seed-000`, `examples/seed-004`) applied through `Router::apply`, written to the
//! embedded switch (and to bmv2 when it is installed) and read back. Each test asserts the
//! entries the seed demands and the ones it forbids, then snapshots the P4 entries and the
//! `show` output. Embedded and bmv2 read-backs must match the same reviewed snapshot.

mod common;

use std::collections::BTreeSet;

use p4rt::entity::Entity;
use p4rt::target::{EmbeddedTarget, Target};
use p4vrf::config::{self, Config};
use p4vrf::router::Router;
use p4vrf::show::{self, Family};
use policy::Community;
use rib::{RouteDistinguisher, RouteTarget};

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path("snapshots");
    s
}

fn example_path(seed: &str) -> std::path::PathBuf {
    common::repo_root().join(format!("examples/{seed}/p4vrf.toml"))
}

fn example_text(seed: &str) -> String {
    std::fs::read_to_string(example_path(seed)).expect("example exists")
}

fn example(seed: &str) -> Config {
    config::load(&example_path(seed)).unwrap_or_else(|e| panic!("{seed} is invalid:\n{e}"))
}

/// The example's text with one line replaced (the line must be there, so an edit of the
/// example cannot silently turn a test into a no-op).
fn example_edited(seed: &str, from: &str, to: &str) -> Config {
    let text = example_text(seed);
    assert!(text.contains(from), "{seed} no longer contains `{from}`");
    config::parse(seed, &text.replacen(from, to, 1)).expect("edited example is valid")
}

fn rd(s: &str) -> RouteDistinguisher {
    s.parse().unwrap()
}

fn rt(s: &str) -> RouteTarget {
    s.parse().unwrap()
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

/// The switch's entries as `show p4 entries` lines, to look entries up by what they say.
struct Entries(Vec<String>);

impl Entries {
    fn of(entities: &[Entity]) -> Self {
        Entries(entities.iter().map(show::entity_line).collect())
    }

    /// The VRF id the data plane gave the VRF of an (untagged) port.
    fn vrf_of_port(&self, port: u16) -> u32 {
        let head =
            format!("ingress.interface port={port} vlan_id=0 -> ingress.set_interface(vrf_id=");
        let line = self
            .0
            .iter()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no interface entry for port {port}:\n{:#?}", self.0));
        line[head.len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The action of the IPv4 LPM entry for `prefix` in VRF `vrf_id`, if there is one.
    fn lpm(&self, vrf_id: u32, prefix: &str) -> Option<&str> {
        let head = format!("ingress.ipv4_vrf_lpm vrf_id={vrf_id} dst_addr={prefix} -> ");
        self.0.iter().find_map(|l| l.strip_prefix(head.as_str()))
    }

    fn has(&self, vrf_id: u32, prefix: &str) -> bool {
        self.lpm(vrf_id, prefix).is_some()
    }

    /// Every IPv4 LPM prefix of a VRF.
    fn prefixes(&self, vrf_id: u32) -> BTreeSet<String> {
        let head = format!("ingress.ipv4_vrf_lpm vrf_id={vrf_id} dst_addr=");
        self.0
            .iter()
            .filter_map(|l| l.strip_prefix(head.as_str()))
            .map(|rest| rest.split(' ').next().unwrap().to_string())
            .collect()
    }
}

async fn read(target: &impl Target) -> Vec<Entity> {
    target.read_all().await.expect("read back")
}

// ----- seed 000 -------------------------------------------------------------------------------

const SEED_000: &str = "seed-000";

/// Applies seed 000 on `target`, asserts what the seed demands of the switch's tables and
/// returns the router and what the switch holds.
async fn seed_000_on(target: &impl Target) -> (Router, Vec<Entity>) {
    let mut router = Router::new();
    common::apply(&mut router, target, example(SEED_000)).await;
    let entities = read(target).await;
    let e = Entries::of(&entities);
    let customers = e.vrf_of_port(1);
    let core = e.vrf_of_port(2);

    // Every static is routed in its own VRF, tagged or not: the route-map filters BGP only.
    assert_eq!(e.lpm(customers, "10.1.2.0/24"), Some("ingress.drop()"));
    assert_eq!(e.lpm(customers, "192.168.99.0/24"), Some("ingress.drop()"));
    let to_customer = e.lpm(customers, "10.1.3.0/24").expect("10.1.3.0/24 routed");
    assert!(
        to_customer.starts_with("ingress.set_nexthop("),
        "{to_customer}"
    );
    assert_eq!(e.lpm(customers, "10.1.9.0/24"), Some(to_customer));

    // What entered BGP reaches CORE (it imports RT 65001:1): exactly the two tag-123 statics,
    // Null0 as a drop and the other towards the customer's nexthop (one lookup).
    assert_eq!(e.lpm(core, "10.1.2.0/24"), Some("ingress.drop()"));
    assert_eq!(e.lpm(core, "10.1.3.0/24"), Some(to_customer));
    // The untagged statics and the connected subnet (not redistributed) did not.
    for absent in [
        "10.1.9.0/24",
        "192.168.99.0/24",
        "10.1.0.0/24",
        "10.1.0.2/32",
    ] {
        assert!(!e.has(core, absent), "{absent} leaked into CORE");
    }
    let core_prefixes: Vec<String> = e.prefixes(core).into_iter().collect();
    assert_eq!(
        core_prefixes,
        [
            "10.1.2.0/24",
            "10.1.3.0/24",
            "10.100.0.0/24",
            "10.100.0.1/32",
            "10.100.0.2/32"
        ]
    );
    (router, entities)
}

/// The RIB side of seed 000: the tag-123 statics are in the VRF's BGP table and the VPN table
/// with NO_EXPORT added (and the export RT); the untagged ones are in neither.
fn assert_seed_000_bgp(router: &Router) {
    let rib = router.rib();
    for tagged in ["10.1.2.0/24", "10.1.3.0/24"] {
        let best = rib
            .bgp_best("CUSTOMERS", &net(tagged))
            .unwrap_or_else(|| panic!("{tagged} is not in BGP"));
        assert!(best.attrs.communities.contains(&Community::NO_EXPORT));
        assert_eq!(best.attrs.tag, 123);
        let paths = &rib.vpn_table()[&(rd("65001:1"), net(tagged))];
        let path = paths.iter().next().unwrap();
        // `additive`: NO_EXPORT is added to what the route had (nothing), and is all it has.
        assert_eq!(
            path.attrs.communities.iter().collect::<Vec<_>>(),
            vec![&Community::NO_EXPORT]
        );
        assert_eq!(
            path.route_targets().collect::<Vec<_>>(),
            vec![rt("65001:1")]
        );
    }
    for untagged in ["10.1.9.0/24", "192.168.99.0/24", "10.1.0.0/24"] {
        assert!(rib.bgp_best("CUSTOMERS", &net(untagged)).is_none());
        assert!(!rib
            .vpn_table()
            .contains_key(&(rd("65001:1"), net(untagged))));
    }
    let stats = &rib.route_map_stats()["StaticToBGP"];
    assert_eq!(
        stats.hits,
        vec![2],
        "sequence 10 matched the two tag-123 statics"
    );
    assert_eq!(stats.permitted, 2);
    assert_eq!(stats.implicit_denied, 2, "the two untagged statics");
}

fn seed_000_show(router: &Router) -> String {
    let rib = router.rib();
    let mut out = String::new();
    for vrf in ["CUSTOMERS", "CORE"] {
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv4));
    }
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, true));
    let policy = &router.config().expect("applied").policy.0;
    out.push_str(&show::route_map(
        policy,
        rib.route_map_stats(),
        Some("StaticToBGP"),
    ));
    out
}

#[tokio::test]
async fn seed_000_static_tagged_123_enters_bgp_with_no_export_untagged_does_not() {
    let target: EmbeddedTarget = common::embedded().await;
    let (mut router, entities) = seed_000_on(&target).await;
    assert_seed_000_bgp(&router);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_000_p4_entries", show::p4_entries(&entities));
        insta::assert_snapshot!("seed_000_show", seed_000_show(&router));
    });

    // Control: with the route-map matching another tag, nothing enters BGP, and the live
    // change takes the leaked statics out of CORE on the switch.
    common::apply(
        &mut router,
        &target,
        example_edited(SEED_000, "match.tag = [123]", "match.tag = [124]"),
    )
    .await;
    let rib = router.rib();
    assert!(rib.vpn_table().is_empty(), "{:?}", rib.vpn_table());
    let e = Entries::of(&read(&target).await);
    let core = e.vrf_of_port(2);
    assert!(!e.has(core, "10.1.2.0/24") && !e.has(core, "10.1.3.0/24"));
    assert!(
        e.has(e.vrf_of_port(1), "10.1.2.0/24"),
        "still routed locally"
    );
}

#[tokio::test]
async fn seed_000_tables_read_back_from_bmv2() {
    let Some((_bmv2, target)) = common::bmv2_target("seed000", 4).await else {
        return;
    };
    let (router, entities) = seed_000_on(&target).await;
    assert_seed_000_bgp(&router);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_000_p4_entries", show::p4_entries(&entities));
    });
}

// ----- seeds 004 and 001 ----------------------------------------------------------------------

const SEED_004: &str = "seed-004";

/// The VRF ids of VRF-A, VRF-B and VRF-C (ports 1, 2, 3).
fn abc(e: &Entries) -> (u32, u32, u32) {
    (e.vrf_of_port(1), e.vrf_of_port(2), e.vrf_of_port(3))
}

/// Applies seed 004 on `target`, asserts the leaks the route targets set by the export maps
/// allow, and returns the router and what the switch holds.
async fn seed_004_on(target: &impl Target) -> (Router, Vec<Entity>) {
    let mut router = Router::new();
    common::apply(&mut router, target, example(SEED_004)).await;
    let entities = read(target).await;
    let e = Entries::of(&entities);
    let (a, b, c) = abc(&e);

    // VRF-C holds exactly its own routes, A's 10.1.1.0/24 (marked with the shared RT by
    // SHARE-A) and B's 10.2.1.0/24 (the one prefix LEAK-B lets out).
    let c_prefixes: Vec<String> = e.prefixes(c).into_iter().collect();
    assert_eq!(
        c_prefixes,
        [
            "10.1.1.0/24",
            "10.2.1.0/24",
            "10.3.0.0/24",
            "10.3.0.1/32",
            "10.3.0.2/32",
            "10.3.1.0/24"
        ]
    );
    // Each leak is one entry pointing at the exporting VRF's own nexthop: one lookup.
    let a_nh = e.lpm(a, "10.1.1.0/24").expect("VRF-A's static");
    assert!(a_nh.starts_with("ingress.set_nexthop("), "{a_nh}");
    assert_eq!(e.lpm(c, "10.1.1.0/24"), Some(a_nh));
    let b_nh = e.lpm(b, "10.2.1.0/24").expect("VRF-B's static");
    assert_eq!(e.lpm(c, "10.2.1.0/24"), Some(b_nh));

    // VRF-A and VRF-B get the services (RT 65535:3) and nothing of each other.
    let services = ["10.3.0.0/24", "10.3.0.2/32", "10.3.1.0/24"];
    for (vrf, own, other) in [(a, "10.1.", "10.2."), (b, "10.2.", "10.1.")] {
        for p in services {
            assert!(e.has(vrf, p), "{p} missing in vrf_id {vrf}");
        }
        for p in e.prefixes(vrf) {
            assert!(
                p.starts_with(own) || p.starts_with("10.3."),
                "vrf_id {vrf} holds {p}"
            );
            assert!(!p.starts_with(other));
        }
    }
    (router, entities)
}

/// The VPN table of seed 004: which paths exist and which route targets they carry.
fn assert_seed_004_vpn(router: &Router) {
    let rib = router.rib();
    let rts = |r: &str, p: &str| -> Option<Vec<RouteTarget>> {
        rib.vpn_table()
            .get(&(rd(r), net(p)))
            .map(|paths| paths.iter().next().unwrap().route_targets().collect())
    };
    // SHARE-A: the export RT on every route, the shared RT added to A-SHARED's prefix only.
    assert_eq!(
        rts("65535:1", "10.1.1.0/24"),
        Some(vec![rt("65535:1"), rt("65535:100")])
    );
    assert_eq!(rts("65535:1", "10.1.2.0/24"), Some(vec![rt("65535:1")]));
    assert_eq!(rts("65535:1", "10.1.0.0/24"), Some(vec![rt("65535:1")]));
    // LEAK-B: only 10.2.1.0/24 enters the VPN table.
    assert_eq!(rts("65535:2", "10.2.1.0/24"), Some(vec![rt("65535:2")]));
    assert_eq!(rts("65535:2", "10.2.2.0/24"), None);
    assert_eq!(rts("65535:2", "10.2.0.0/24"), None);
    let stats = rib.route_map_stats();
    assert_eq!(stats["SHARE-A"].hits, vec![1, 2]);
    assert_eq!(stats["LEAK-B"].hits, vec![1]);
    assert_eq!(stats["LEAK-B"].implicit_denied, 2);
}

fn seed_004_show(router: &Router) -> String {
    let rib = router.rib();
    let mut out = String::new();
    for vrf in ["VRF-A", "VRF-B", "VRF-C"] {
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv4));
    }
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, true));
    let policy = &router.config().expect("applied").policy.0;
    out.push_str(&show::route_map(policy, rib.route_map_stats(), None));
    out
}

#[tokio::test]
async fn seed_004_route_map_sets_route_targets_and_leaks_only_selected_prefixes_into_p4_tables() {
    let target = common::embedded().await;
    let (router, entities) = seed_004_on(&target).await;
    assert_seed_004_vpn(&router);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_004_p4_entries", show::p4_entries(&entities));
        insta::assert_snapshot!("seed_004_show", seed_004_show(&router));
    });
}

#[tokio::test]
async fn seed_004_tables_read_back_from_bmv2() {
    let Some((_bmv2, target)) = common::bmv2_target("seed004", 4).await else {
        return;
    };
    let (router, entities) = seed_004_on(&target).await;
    assert_seed_004_vpn(&router);
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_004_p4_entries", show::p4_entries(&entities));
    });
}

/// Seed 001's selective leak, as a live change: VRF-B's export map is what keeps its other
/// routes out of VRF-C. Taking the map away leaks them all; putting it back takes them out
/// again, and the switch ends with exactly what a cold start writes.
#[tokio::test]
async fn seed_001_export_map_leaks_only_selected_prefixes() {
    let target = common::embedded().await;
    let (mut router, cold) = seed_004_on(&target).await;
    let e = Entries::of(&cold);
    let (_, b, c) = abc(&e);
    let hidden = ["10.2.0.0/24", "10.2.0.2/32", "10.2.2.0/24"];
    for p in hidden {
        assert!(e.has(b, p), "{p} is routed in VRF-B");
        assert!(!e.has(c, p), "{p} leaked into VRF-C through LEAK-B");
    }

    // Without the export map, VRF-C imports all of VRF-B (RT 65535:2): seed 001's plain leak.
    common::apply(
        &mut router,
        &target,
        example_edited(SEED_004, "export-map = \"LEAK-B\"", ""),
    )
    .await;
    let e = Entries::of(&read(&target).await);
    for p in hidden {
        assert_eq!(e.lpm(c, p), e.lpm(b, p), "{p} leaks without the map");
    }
    assert!(router
        .rib()
        .vpn_table()
        .contains_key(&(rd("65535:2"), net("10.2.2.0/24"))));

    // The map again: back to the selective leak, entry for entry.
    common::apply(&mut router, &target, example(SEED_004)).await;
    let mut now = read(&target).await;
    let mut cold = cold;
    now.sort();
    cold.sort();
    assert_eq!(show::p4_entries(&now), show::p4_entries(&cold));
}

/// The policy example of `docs/configuration.md` is a valid configuration whose maps do what
/// the page says: the export map adds the shared RT to A-SHARED's prefix only.
#[test]
fn configuration_doc_policy_example_is_valid() {
    let doc = std::fs::read_to_string(common::repo_root().join("docs/configuration.md"))
        .expect("docs/configuration.md");
    let blocks: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(
        !blocks.is_empty(),
        "no TOML example in docs/configuration.md"
    );
    for block in blocks {
        let mut text = block.to_string();
        // The example shows keys, not interfaces: give it Null0 statics, two tagged 123 (which
        // StaticToBGP lets into BGP) and one untagged (which it keeps out).
        text.push_str(
            "\n[[vrf.static]]\nprefix = \"10.1.1.0/24\"\nblackhole = true\ntag = 123\n\
             [[vrf.static]]\nprefix = \"10.1.2.0/24\"\nblackhole = true\ntag = 123\n\
             [[vrf.static]]\nprefix = \"10.1.9.0/24\"\nblackhole = true\n",
        );
        let config = config::parse("docs/configuration.md", &text)
            .unwrap_or_else(|e| panic!("docs example is invalid:\n{e}\n{text}"));
        let mut router = Router::new();
        router.apply(config).expect("translation");
        let rib = router.rib();
        let rts = |p: &str| -> Vec<RouteTarget> {
            rib.vpn_table()[&(rd("65535:1"), net(p))]
                .iter()
                .next()
                .unwrap()
                .route_targets()
                .collect()
        };
        assert_eq!(rts("10.1.1.0/24"), vec![rt("65535:1"), rt("65535:100")]);
        assert_eq!(rts("10.1.2.0/24"), vec![rt("65535:1")]);
        assert!(!rib
            .vpn_table()
            .contains_key(&(rd("65535:1"), net("10.1.9.0/24"))));
    }
}
