use std::path::PathBuf;
use std::sync::Arc;

use policy::{AsPath, Attrs, NextHop, Origin, SourceProtocol};
use proptest::prelude::*;
use rib::{BestFrom, PeerRef};

use super::*;
use crate::config;

/// The seed lab, whose VRF-A has the CE 10.1.0.2 on an interface.
fn seed_lab() -> Router {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-lab/p4vrf.toml");
    let text = std::fs::read_to_string(path).expect("the seed lab configuration");
    let mut router = Router::new();
    router
        .apply(config::parse("p4vrf.toml", &text).expect("valid"))
        .expect("applies");
    let _ = router.take_bgp_changes();
    router
}

const CE: &str = "10.1.0.2";

fn ce() -> PeerRef {
    PeerRef {
        addr: CE.parse().unwrap(),
        router_id: CE.parse().unwrap(),
        ebgp: true,
        rr_client: false,
    }
}

fn ce_attrs(med: u32) -> Arc<Attrs> {
    let mut attrs = Attrs::new(SourceProtocol::Bgp);
    attrs.next_hop = NextHop::Addr(CE.parse().unwrap());
    attrs.as_path = AsPath::from_sequence(vec![64512]);
    attrs.origin = Origin::Igp;
    attrs.med = Some(med);
    Arc::new(attrs)
}

fn learn(router: &mut Router, prefixes: &[&str], med: u32) {
    router
        .rib_mut()
        .upsert_peer_routes(
            "VRF-A",
            ce(),
            ce_attrs(med),
            prefixes.iter().map(|p| p.parse().unwrap()),
        )
        .unwrap();
}

/// VRF-A's changed prefixes of a change list, with the word each came with.
fn vrf_a(changes: &BgpChanges) -> Vec<(String, BestFrom)> {
    changes
        .vrf
        .iter()
        .filter(|((vrf, _), _)| &**vrf == "VRF-A")
        .map(|((_, prefix), from)| (prefix.to_string(), *from))
        .collect()
}

/// The daemon takes a delta while the previous one's write is in flight: the neighbors must
/// hear of each change only once the write carrying it is done, and not the older word for a
/// prefix the delta taken ahead changed again.
#[test]
fn a_delta_taken_ahead_waits_for_its_write_and_holds_back_the_keys_it_changed_again() {
    let mut router = seed_lab();
    let from_ce = BestFrom::Neighbor(CE.parse().unwrap());
    learn(&mut router, &["10.9.1.0/24", "10.9.2.0/24"], 1);
    let first = router.take_translation();
    first.translate().expect("translates");

    // The next delta, taken while the first one's write is "in flight": 10.9.2.0/24 is
    // withdrawn and 10.9.3.0/24 learned.
    router
        .rib_mut()
        .withdraw_peer_route("VRF-A", "10.9.2.0/24".parse().unwrap(), ce().addr)
        .unwrap();
    learn(&mut router, &["10.9.3.0/24"], 2);
    let second = router.take_translation_ahead();

    // The first write is done: its changes, but not 10.9.2.0/24, which the RIB now holds
    // withdrawn (the second delta's word, not written yet), nor anything of the second delta.
    let told = router.take_bgp_changes();
    assert_eq!(vrf_a(&told), [("10.9.1.0/24".to_string(), from_ce)]);

    second.translate().expect("translates");
    router.release_ahead();
    let mut told = vrf_a(&router.take_bgp_changes());
    told.sort();
    assert_eq!(
        told,
        [
            ("10.9.2.0/24".to_string(), BestFrom::Nothing),
            ("10.9.3.0/24".to_string(), from_ce),
        ]
    );
    // Released once: nothing more to tell, and nothing held back.
    router.release_ahead();
    assert!(vrf_a(&router.take_bgp_changes()).is_empty());
}

/// The speaker's way of taking the same changes: every mark, the keys ahead among them
/// answered on demand ([`Router::take_bgp_marks`], [`Router::keys_ahead`]) — the same
/// changes as [`Router::take_bgp_changes`] once those are left out.
#[test]
fn marks_with_the_keys_ahead_asked_leave_what_take_bgp_changes_leaves() {
    let mut router = seed_lab();
    let from_ce = BestFrom::Neighbor(CE.parse().unwrap());
    learn(&mut router, &["10.9.1.0/24", "10.9.2.0/24"], 1);
    router.take_translation().translate().expect("translates");
    assert!(
        !router
            .keys_ahead()
            .holds_vrf(&(VrfName::from("VRF-A"), "10.9.1.0/24".parse().unwrap())),
        "no delta ahead: no key held back"
    );
    router
        .rib_mut()
        .withdraw_peer_route("VRF-A", "10.9.2.0/24".parse().unwrap(), ce().addr)
        .unwrap();
    let _second = router.take_translation_ahead();

    let marks = router.take_bgp_marks();
    let ahead = router.keys_ahead();
    let mut marked = vrf_a(&marks);
    marked.sort();
    assert_eq!(
        marked,
        [
            ("10.9.1.0/24".to_string(), from_ce),
            ("10.9.2.0/24".to_string(), from_ce),
        ]
    );
    let held_back: Vec<String> = marks
        .vrf
        .iter()
        .filter(|(key, _)| &*key.0 == "VRF-A" && ahead.holds_vrf(key))
        .map(|((_, prefix), _)| prefix.to_string())
        .collect();
    assert_eq!(held_back, ["10.9.2.0/24"]);
    let rd: rib::RouteDistinguisher = "65000:1".parse().unwrap();
    assert!(!ahead.holds_vpn(&(rd, "10.9.2.0/24".parse().unwrap())));
}

/// Without a delta ahead, the changes of several deltas come sorted, each key once with its
/// latest word (as before deltas could be taken ahead).
#[test]
fn changes_of_several_deltas_come_once_each_with_the_latest_word() {
    let mut router = seed_lab();
    learn(&mut router, &["10.9.2.0/24", "10.9.1.0/24"], 1);
    router.take_translation().translate().unwrap();
    router
        .rib_mut()
        .withdraw_peer_route("VRF-A", "10.9.2.0/24".parse().unwrap(), ce().addr)
        .unwrap();
    router.take_translation().translate().unwrap();
    assert_eq!(
        vrf_a(&router.take_bgp_changes()),
        [
            (
                "10.9.1.0/24".to_string(),
                BestFrom::Neighbor(CE.parse().unwrap())
            ),
            ("10.9.2.0/24".to_string(), BestFrom::Nothing),
        ]
    );
}

fn prefix(i: u16) -> IpNet {
    let [hi, lo] = i.to_be_bytes();
    if i.is_multiple_of(5) {
        format!("2001:db8:{hi:x}:{lo:x}::/64").parse().unwrap()
    } else {
        format!("10.{hi}.{lo}.0/24").parse().unwrap()
    }
}

/// A list of changes with a number to tell them apart.
type Changes<K> = Vec<(K, u16)>;

/// What `drop_keys_ahead` leaves of `pending`, and what a naive filter leaves.
fn dropped_both_ways<K: KeyWord + Clone + std::fmt::Debug>(
    pending: Changes<K>,
    ahead: Changes<K>,
) -> (Changes<K>, Changes<K>) {
    let expected: Vec<_> = pending
        .iter()
        .filter(|(k, _)| !ahead.iter().any(|(a, _)| a == k))
        .cloned()
        .collect();
    let mut pending = pending;
    drop_keys_ahead(&mut pending, &ahead);
    (pending, expected)
}

/// The words keys are matched by ([`KeyWord`]) tell apart a VRF's prefixes and the same prefix
/// under other VRFs or RDs, so a delta touching one prefix in many VRFs does not pile their
/// keys on one word; a VRF's name is hashed once for a run of its keys and gives the same
/// word when met again later (another `Arc` of the same name included).
#[test]
fn change_keys_words_tell_vrfs_rds_and_prefixes_apart() {
    let seed = foldhash::fast::RandomState::default();
    let (mut words, mut vpn_words) = (HashSet::new(), HashSet::new());
    let mut memo = None;
    for v in 0..200 {
        let name = VrfName::from(format!("vrf-{v}"));
        for i in 0..50u16 {
            words.insert((name.clone(), prefix(i)).word(&mut memo, &seed));
            let rd: rib::RouteDistinguisher = format!("65000:{v}").parse().unwrap();
            vpn_words.insert((rd, prefix(i)).word(&mut (), &seed));
        }
    }
    assert_eq!((words.len(), vpn_words.len()), (200 * 50, 200 * 50));
    let again = (VrfName::from("vrf-7"), prefix(3));
    assert!(words.contains(&again.word(&mut memo, &seed)));
    assert!(words.contains(&again.word(&mut None, &seed)));
}

proptest! {
    /// Exactly the keys ahead leave, the others stay in their order: keys that share a
    /// prefix under another VRF stay.
    #[test]
    fn dropping_keys_ahead_keeps_exactly_the_others_in_order(
        pending in proptest::collection::vec((0u8..3, 0u16..6000), 0..2500),
        ahead in proptest::collection::vec((0u8..3, 0u16..6000), 0..2500),
    ) {
        // Names made apart on each side, so that equal names are not the same pointer.
        let key = |&(vrf, i): &(u8, u16)| ((VrfName::from(format!("vrf-{vrf}")), prefix(i)), i);
        let (kept, expected) =
            dropped_both_ways(pending.iter().map(key).collect(), ahead.iter().map(key).collect());
        prop_assert_eq!(kept, expected);
    }

    /// The same for VPN keys: keys that share a prefix under another RD stay.
    #[test]
    fn dropping_vpn_keys_ahead_keeps_exactly_the_others_in_order(
        pending in proptest::collection::vec((0u8..3, 0u16..6000), 0..2500),
        ahead in proptest::collection::vec((0u8..3, 0u16..6000), 0..2500),
    ) {
        let key = |&(rd, i): &(u8, u16)| {
            let rd: rib::RouteDistinguisher = format!("65000:{rd}").parse().unwrap();
            ((rd, prefix(i)), i)
        };
        let (kept, expected) =
            dropped_both_ways(pending.iter().map(key).collect(), ahead.iter().map(key).collect());
        prop_assert_eq!(kept, expected);
    }
}
