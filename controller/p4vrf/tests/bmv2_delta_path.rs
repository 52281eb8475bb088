//! The live delta path on a real switch: a sequence of configurations applied to bmv2 and to
//! the embedded switch by two routers. After every step both switches must hold exactly the
//! same entries — so every batch the controller computes (ECMP members and groups, VLAN
//! interfaces, neighbor MAC changes, VRF and route removals) is accepted by bmv2 in the order
//! it is written, and the embedded switch's answers are a faithful model of bmv2's.

mod common;

use p4rt::target::Target;
use p4vrf::config;
use p4vrf::router::Router;
use p4vrf::show;

/// The seed lab, then variations of it that exercise every kind of entity and change.
fn steps() -> Vec<(&'static str, String)> {
    let seed =
        std::fs::read_to_string(common::repo_root().join("examples/seed-lab/p4vrf.toml")).unwrap();
    let ecmp = seed.clone()
        + "\n[[interface]]\nname = \"Ethernet4.100\"\nport = 0\nvlan = 100\nvrf = \"VRF-C\"\n\
           address = [\"10.4.0.1/24\"]\n\
           [[interface.neighbor]]\nip = \"10.4.0.2\"\nmac = \"02:00:00:00:0d:02\"\n";
    // VRF-C's 10.3.2.0/24 becomes ECMP over Ethernet3 and the VLAN subinterface; it is leaked,
    // so VRF-A and VRF-B point at the same group.
    let ecmp = ecmp.replacen(
        "prefix = \"10.3.2.0/24\"\n  next-hop = [\"10.3.0.2\"]",
        "prefix = \"10.3.2.0/24\"\n  next-hop = [\"10.3.0.2\", \"10.4.0.2\"]",
        1,
    );
    let mac_change = ecmp.replace("02:00:00:00:0c:02", "02:00:00:00:0c:99");
    let rt_change = mac_change.replace(
        "route-target = { export = [\"65535:3\"], import = [\"65535:1\", \"65535:2\"] }",
        "route-target = { export = [\"65535:3\"], import = [\"65535:2\"] }",
    );
    let fewer = rt_change.replace(", \"10.4.0.2\"]", "]");
    vec![
        ("seed lab", seed.clone()),
        ("ECMP over a VLAN subinterface", ecmp),
        ("neighbor MAC change", mac_change),
        ("VRF-C stops importing VRF-A", rt_change),
        ("ECMP back to one next hop", fewer),
        ("back to the seed lab", seed),
    ]
}

#[tokio::test]
async fn bmv2_holds_what_the_embedded_switch_holds_after_every_change() {
    let Some((_bmv2, switch)) = common::bmv2_target("delta", 4).await else {
        return;
    };
    let model = common::embedded().await;
    let (mut on_bmv2, mut on_model) = (Router::new(), Router::new());
    for (what, text) in steps() {
        let config = config::parse(what, &text).unwrap_or_else(|e| panic!("{what}: {e}"));
        common::apply(&mut on_bmv2, &switch, config.clone()).await;
        common::apply(&mut on_model, &model, config).await;
        let real = switch.read_all().await.expect("read bmv2");
        let modelled = model.read_all().await.expect("read embedded");
        assert!(!real.is_empty());
        assert_eq!(
            show::p4_entries(&real),
            show::p4_entries(&modelled),
            "after step `{what}` bmv2 and the embedded switch differ"
        );
        if what == "ECMP over a VLAN subinterface" {
            let text = show::p4_entries(&real);
            assert!(text.contains("ingress.ecmp_selector group"), "{text}");
            assert!(text.contains("set_egress_vlan(port=0"), "{text}");
        }
    }
}
