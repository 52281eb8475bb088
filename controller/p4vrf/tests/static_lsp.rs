//! A remote PE two hops away, reached through a static LSP (`[[interface.neighbor.lsp]]`): its
//! VPN route becomes a nexthop pushing the PE's VPN label under the LSP's transport label
//! (`set_vpn_transport_neighbor`), on the embedded switch and read back from bmv2, which
//! checks the action and its parameters against the real P4Info.

mod common;

use std::sync::Arc;

use p4rt::target::Target;
use p4vrf::config;
use p4vrf::router::Router;
use p4vrf::show;

/// The seed lab plus a core interface whose neighbor 192.168.0.2 is the path to the PE
/// 10.255.9.9 (transport label `label`).
fn config_with_lsp(label: u32) -> config::Config {
    let seed = std::fs::read_to_string(common::repo_root().join("examples/seed-lab/p4vrf.toml"))
        .expect("seed lab");
    let text = format!(
        "{seed}\n[[vrf]]\nname = \"core\"\n\n[[interface]]\nname = \"Core1\"\nport = 9\n\
         vrf = \"core\"\naddress = [\"192.168.0.1/30\"]\ncore = true\n  [[interface.neighbor]]\n  \
         ip = \"192.168.0.2\"\n  mac = \"02:00:00:00:c0:02\"\n    [[interface.neighbor.lsp]]\n    \
         to = \"10.255.9.9\"\n    label = {label}\n"
    );
    config::parse("p4vrf.toml", &text).expect("valid")
}

/// The PE's VPN route 65000:100:198.51.100.0/24 with RT 65535:3 (VRF-A and VRF-B import it)
/// and label 3001.
fn pe_route(router: &mut Router) {
    let mut attrs = policy::Attrs::new(policy::SourceProtocol::Bgp);
    attrs.next_hop = policy::NextHop::Addr("10.255.9.9".parse().unwrap());
    attrs.local_pref = Some(100);
    attrs.ext_communities = policy::ExtCommunities::new([policy::ExtCommunity::route_target(
        "65535:3".parse().unwrap(),
    )]);
    let pe = rib::PeerRef {
        addr: "10.255.9.9".parse().unwrap(),
        router_id: "10.255.9.9".parse().unwrap(),
        ebgp: false,
        rr_client: false,
    };
    router.rib_mut().upsert_vpn_path(
        "65000:100".parse().unwrap(),
        "198.51.100.0/24".parse().unwrap(),
        pe,
        3001,
        Arc::new(attrs),
    );
}

/// Applies the configuration and the PE's route, writes both; the entries read back.
async fn entries(target: &impl Target, label: u32) -> String {
    let mut router = Router::new();
    common::apply(&mut router, target, config_with_lsp(label)).await;
    pe_route(&mut router);
    let updates = router.commit().expect("translation");
    target
        .write(&updates)
        .await
        .unwrap_or_else(|e| panic!("switch refused the updates:\n{e}"));
    show::p4_entries(&target.read_all().await.expect("read back"))
}

fn check(text: &str, label: u32) {
    let nexthop = text
        .lines()
        .find(|l| l.starts_with("ingress.nexthop ") && l.contains("vpn_label=3001"))
        .unwrap_or_else(|| panic!("no labelled nexthop:\n{text}"));
    // The core interface's router interface: the one the plain neighbor entry uses.
    let rif = text
        .lines()
        .find(|l| l.contains("set_neighbor(") && l.ends_with("dst_mac=02:00:00:00:c0:02)"))
        .and_then(|l| l.split("rif=").nth(1))
        .and_then(|r| r.split(',').next())
        .expect("the LSP neighbor's own nexthop");
    let id = nexthop
        .split("nexthop_id=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("id");
    if label == 3 {
        assert!(
            nexthop.ends_with(&format!(
                "set_vpn_neighbor(rif={rif}, dst_mac=02:00:00:00:c0:02, vpn_label=3001)"
            )),
            "implicit null pushes the VPN label only: {nexthop}"
        );
    } else {
        assert!(
            nexthop.ends_with(&format!(
                "set_vpn_transport_neighbor(rif={rif}, dst_mac=02:00:00:00:c0:02, vpn_label=3001, transport_label={label})"
            )),
            "{nexthop}"
        );
    }
    // VRF-A (1) and VRF-B (2) import the route and point at that nexthop; VRF-C does not.
    for vrf in [1, 2] {
        let want =
            format!("ingress.ipv4_vrf_lpm vrf_id={vrf} dst_addr=198.51.100.0/24 -> ingress.set_nexthop(nexthop_id={id})");
        assert!(text.lines().any(|l| l == want), "{want} missing:\n{text}");
    }
    assert!(
        !text.contains("vrf_id=3 dst_addr=198.51.100.0/24"),
        "{text}"
    );
}

#[tokio::test]
async fn a_pe_behind_a_static_lsp_gets_both_labels_on_the_embedded_switch() {
    let target = common::embedded().await;
    check(&entries(&target, 7001).await, 7001);
    let target = common::embedded().await;
    check(&entries(&target, 3).await, 3);
}

#[tokio::test]
async fn a_pe_behind_a_static_lsp_gets_both_labels_read_back_from_bmv2() {
    let Some((_bmv2, target)) = common::bmv2_target("lsp", 10).await else {
        return;
    };
    check(&entries(&target, 7001).await, 7001);
}
