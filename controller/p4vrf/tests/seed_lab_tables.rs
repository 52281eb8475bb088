//! The seed lab's table state as snapshots: computed on the embedded switch and read back from
//! bmv2 must both match the same reviewed snapshot, so the snapshot says what a switch holds.

mod common;

use p4rt::target::Target;
use p4vrf::router::Router;
use p4vrf::show::{self, Family};

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path("snapshots");
    s
}

#[tokio::test]
async fn seed_lab_entries_on_the_embedded_switch() {
    let target = common::embedded().await;
    let mut router = Router::new();
    common::apply(&mut router, &target, common::seed_lab_config()).await;
    let entities = target.read_all().await.expect("read back");
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_lab_p4_entries", show::p4_entries(&entities));
    });
}

#[test]
fn seed_lab_routing_tables() {
    let mut router = Router::new();
    router
        .apply(common::seed_lab_config())
        .expect("translation");
    let rib = router.rib();
    let mut out = String::new();
    for vrf in ["VRF-A", "VRF-B", "VRF-C"] {
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv4));
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv6));
    }
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, false));
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, true));
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv6, false));
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_lab_show", out);
    });
}

#[tokio::test]
async fn seed_lab_entries_read_back_from_bmv2() {
    let Some((_bmv2, target)) = common::bmv2_target("snapshot", 4).await else {
        return;
    };
    let mut router = Router::new();
    common::apply(&mut router, &target, common::seed_lab_config()).await;
    let entities = target.read_all().await.expect("read back from bmv2");
    snapshot_settings().bind(|| {
        insta::assert_snapshot!("seed_lab_p4_entries", show::p4_entries(&entities));
    });
}
