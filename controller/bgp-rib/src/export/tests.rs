//! One test (or table) per export rule.

use super::*;
use policy::{
    AsSegment, Communities, Community, ExtCommunities, ExtCommunity, LargeCommunities,
    LargeCommunity, Relationship, RouteType, SendCommunity, SourceProtocol,
};

const LOCAL_AS: u32 = 65000;
const OUR_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OUR_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const EBGP_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const IBGP_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const IBGP_PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A path learned over eBGP from AS 65002: MED 50, next hop the peer.
fn ebgp_route() -> Route {
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.route_type = RouteType::External;
    a.peer_as = Some(65002);
    a.as_path = AsPath::from_sequence(vec![65002, 65020]);
    a.next_hop = NextHop::Addr(EBGP_PEER);
    a.med = Some(50);
    a.weight = 32768;
    Route::new("203.0.113.0/24".parse().unwrap(), a)
}

/// A path learned over iBGP: LOCAL_PREF 200, next hop a border router.
fn ibgp_route() -> Route {
    let mut r = ebgp_route();
    let a = r.attrs_mut();
    a.route_type = RouteType::Internal;
    a.local_pref = Some(200);
    a.next_hop = NextHop::Addr(ip("10.0.0.9"));
    r
}

/// A redistributed static route (empty AS path, MED 5, tag 123).
fn local_route() -> Route {
    let mut a = Attrs::new(SourceProtocol::Static);
    a.med = Some(5);
    a.tag = 123;
    a.next_hop = NextHop::Addr(ip("10.1.0.2"));
    Route::new("10.1.2.0/24".parse().unwrap(), a)
}

fn learned_ibgp(rr_client: bool) -> Learned {
    Learned::Ibgp {
        peer: IBGP_PEER,
        rr_client,
        router_id: IBGP_PEER_ID,
    }
}

fn to_ibgp(addr: &str, rr_client: bool) -> ExportNeighbor {
    let mut n = ExportNeighbor::new(
        ip(addr),
        Neighbor::ibgp(),
        LOCAL_AS,
        LOCAL_AS,
        OUR_ID,
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    );
    n.rr_client = rr_client;
    n
}

fn to_ebgp(rel: Relationship) -> ExportNeighbor {
    ExportNeighbor::new(
        ip("198.51.100.9"),
        Neighbor::ebgp(rel),
        LOCAL_AS,
        65009,
        OUR_ID,
        IpAddr::V4(OUR_V4),
    )
}

fn to_confed() -> ExportNeighbor {
    let mut n = ExportNeighbor::new(
        ip("10.9.0.1"),
        Neighbor::confed(65101),
        65100,
        65101,
        OUR_ID,
        IpAddr::V4(Ipv4Addr::new(10, 9, 0, 2)),
    );
    n.confed_id = Some(LOCAL_AS);
    n
}

fn with_communities(mut r: Route, cs: &[Community]) -> Route {
    r.attrs_mut().communities = Communities::new(cs.iter().copied());
    r
}

#[test]
fn split_horizon_never_sends_a_path_back_to_its_peer() {
    let mut back = to_ebgp(Relationship::Peer);
    back.addr = EBGP_PEER;
    assert_eq!(
        prepare(&ebgp_route(), &Learned::Ebgp { peer: EBGP_PEER }, &back),
        Err(Suppressed::SplitHorizon)
    );
    // Even to a route-reflector client: the client sent it.
    let client = to_ibgp("10.0.0.2", true);
    assert_eq!(
        prepare(&ibgp_route(), &learned_ibgp(true), &client),
        Err(Suppressed::SplitHorizon)
    );
}

#[test]
fn ibgp_reflection_matrix_follows_rfc_4456() {
    // (source is a client, target is a client) → reflected?
    let table = [
        (true, true, true),
        (true, false, true),
        (false, true, true),
        (false, false, false),
    ];
    for (from_client, to_client, sent) in table {
        let got = prepare(
            &ibgp_route(),
            &learned_ibgp(from_client),
            &to_ibgp("10.0.0.3", to_client),
        );
        if sent {
            let a = got.unwrap_or_else(|e| panic!("{from_client} {to_client}: {e}"));
            assert_eq!(a.originator_id, Some(IBGP_PEER_ID));
            assert_eq!(a.cluster_list, vec![OUR_ID]);
            // A reflector does not touch the next hop or LOCAL_PREF.
            assert_eq!(a.next_hop, NextHop::Addr(ip("10.0.0.9")));
            assert_eq!(a.local_pref, Some(200));
        } else {
            assert_eq!(got, Err(Suppressed::IbgpNoReflect));
        }
    }
    // eBGP-learned and local paths go to every iBGP neighbor, without reflection attributes.
    for (r, l) in [
        (ebgp_route(), Learned::Ebgp { peer: EBGP_PEER }),
        (local_route(), Learned::Local),
    ] {
        let a = prepare(&r, &l, &to_ibgp("10.0.0.3", false)).unwrap();
        assert_eq!((a.originator_id, a.cluster_list.len()), (None, 0));
    }
}

#[test]
fn reflection_keeps_an_existing_originator_and_prepends_the_cluster_id() {
    let mut r = ibgp_route();
    r.attrs_mut().originator_id = Some(Ipv4Addr::new(10, 0, 0, 77));
    r.attrs_mut().cluster_list = vec![Ipv4Addr::new(10, 0, 0, 88)];
    let mut to = to_ibgp("10.0.0.3", true);
    to.cluster_id = Ipv4Addr::new(10, 255, 0, 1);
    let a = prepare(&r, &learned_ibgp(false), &to).unwrap();
    assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 77)));
    assert_eq!(
        a.cluster_list,
        vec![Ipv4Addr::new(10, 255, 0, 1), Ipv4Addr::new(10, 0, 0, 88)]
    );
}

#[test]
fn reflection_loops_are_detected_and_never_reflected() {
    let cluster = Ipv4Addr::new(10, 255, 0, 1);
    let mut r = ibgp_route();
    assert!(!reflection_loop(&r.attrs, OUR_ID, cluster));
    r.attrs_mut().cluster_list = vec![Ipv4Addr::new(1, 1, 1, 1), cluster];
    assert!(reflection_loop(&r.attrs, OUR_ID, cluster));
    let mut to = to_ibgp("10.0.0.3", true);
    to.cluster_id = cluster;
    assert_eq!(
        prepare(&r, &learned_ibgp(true), &to),
        Err(Suppressed::ReflectionLoop)
    );
    let mut r = ibgp_route();
    r.attrs_mut().originator_id = Some(OUR_ID);
    assert!(reflection_loop(&r.attrs, OUR_ID, cluster));
    assert_eq!(
        prepare(&r, &learned_ibgp(true), &to),
        Err(Suppressed::ReflectionLoop)
    );
}

#[test]
fn as_path_loops_see_our_as_and_our_member_as() {
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.as_path = AsPath::from_sequence(vec![65002, LOCAL_AS]);
    assert!(as_path_loop(&a, LOCAL_AS, None));
    assert!(!as_path_loop(&a, 65001, None));
    a.as_path = AsPath::new(vec![
        AsSegment {
            kind: SegmentType::ConfedSequence,
            asns: vec![65101, 65100],
        },
        AsSegment::sequence(vec![65002]),
    ]);
    assert!(as_path_loop(&a, 65100, Some(LOCAL_AS)));
    assert!(!as_path_loop(&a, 65102, Some(LOCAL_AS)));
    // Outside a confederation, confed segments do not count.
    assert!(!as_path_loop(&a, 65100, None));
}

/// The well-known communities against every kind of neighbor (docs/policy.md's table).
#[test]
fn well_known_communities_per_neighbor_kind() {
    use policy::Suppressed as W;
    let kinds: [(&str, ExportNeighbor); 5] = [
        ("ibgp", to_ibgp("10.0.0.3", false)),
        ("confed", to_confed()),
        ("customer", to_ebgp(Relationship::Customer)),
        ("provider", to_ebgp(Relationship::Provider)),
        ("peer", to_ebgp(Relationship::Peer)),
    ];
    // Expected per kind, in the order above: None = sent.
    let table: [(Option<Community>, [Option<W>; 5]); 7] = [
        (None, [None; 5]),
        (
            Some(Community::NO_EXPORT),
            [
                None,
                None,
                Some(W::NoExport),
                Some(W::NoExport),
                Some(W::NoExport),
            ],
        ),
        (Some(Community::NO_ADVERTISE), [Some(W::NoAdvertise); 5]),
        (
            Some(Community::NO_EXPORT_SUBCONFED),
            [
                None,
                Some(W::NoExportSubconfed),
                Some(W::NoExportSubconfed),
                Some(W::NoExportSubconfed),
                Some(W::NoExportSubconfed),
            ],
        ),
        (
            Some(Community::NOPEER),
            [None, None, None, None, Some(W::NoPeer)],
        ),
        (Some(Community::GRACEFUL_SHUTDOWN), [None; 5]),
        (Some(Community::BLACKHOLE), [None; 5]),
    ];
    for (community, expected) in table {
        let r = with_communities(local_route(), community.as_slice());
        for ((name, to), want) in kinds.iter().zip(expected) {
            let got = prepare(&r, &Learned::Local, to).err();
            assert_eq!(
                got,
                want.map(Suppressed::WellKnown),
                "{community:?} to {name}"
            );
        }
    }
}

#[test]
fn send_community_strips_each_kind_alone() {
    let mut r = local_route();
    r.attrs_mut().communities = Communities::new([Community(0xFDE8_0001)]);
    r.attrs_mut().ext_communities =
        ExtCommunities::new([ExtCommunity::route_target("65000:1".parse().unwrap())]);
    r.attrs_mut().large_communities = LargeCommunities::new([LargeCommunity {
        global: 65000,
        local1: 1,
        local2: 2,
    }]);
    let all = SendCommunity::ALL;
    let table = [
        (all, (1, 1, 1)),
        (
            SendCommunity {
                standard: false,
                ..all
            },
            (0, 1, 1),
        ),
        (
            SendCommunity {
                extended: false,
                ..all
            },
            (1, 0, 1),
        ),
        (
            SendCommunity {
                large: false,
                ..all
            },
            (1, 1, 0),
        ),
        (SendCommunity::NONE, (0, 0, 0)),
    ];
    for kind in 0..3 {
        for (send, want) in table {
            let mut to = match kind {
                0 => to_ibgp("10.0.0.3", false),
                1 => to_ebgp(Relationship::Customer),
                _ => to_confed(),
            };
            to.neighbor.options.send_community = send;
            let a = prepare(&r, &Learned::Local, &to).unwrap();
            let got = (
                a.communities.len(),
                a.ext_communities.len(),
                a.large_communities.len(),
            );
            assert_eq!(got, want, "{send:?} kind {kind}");
        }
    }
}

#[test]
fn send_community_off_also_strips_what_the_route_map_added() {
    let p = policy::parse(
        "t.toml",
        r#"
        [[route-map]]
        name = "OUT"
        [[route-map.entry]]
        seq = 10
        action = "permit"
        set.community = ["no-export"]
        "#,
    )
    .unwrap();
    let mut to = to_ebgp(Relationship::Customer);
    to.route_map_out = Some(p.route_maps["OUT"].clone());
    // NO_EXPORT added on the way out is for the receiver: the route still goes.
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert!(a.communities.contains(&Community::NO_EXPORT));
    to.neighbor.options.send_community.standard = false;
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert!(a.communities.is_empty());
}

#[test]
fn to_ebgp_prepend_next_hop_self_no_local_pref_and_no_foreign_med() {
    let to = to_ebgp(Relationship::Customer);
    let a = prepare(&ibgp_route(), &learned_ibgp(false), &to).unwrap();
    assert_eq!(a.as_path.text(), "65000 65002 65020");
    assert_eq!(a.next_hop, NextHop::Addr(IpAddr::V4(OUR_V4)));
    assert_eq!(a.local_pref, None);
    // MED received from AS 65002 is not passed on to AS 65009.
    assert_eq!(a.med, None);
    assert_eq!((a.weight, a.tag), (0, 0));
    let a = prepare(&ebgp_route(), &Learned::Ebgp { peer: EBGP_PEER }, &to).unwrap();
    assert_eq!(a.med, None);
    // A locally originated route keeps its MED, and gets our AS as its whole path.
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert_eq!(a.med, Some(5));
    assert_eq!(a.as_path.text(), "65000");
    // So does a path originated elsewhere in our AS (empty AS path, learned over iBGP).
    let mut r = ibgp_route();
    r.attrs_mut().as_path = AsPath::default();
    let a = prepare(&r, &learned_ibgp(false), &to).unwrap();
    assert_eq!(a.med, Some(50));
}

#[test]
fn to_ebgp_med_set_by_the_route_map_is_sent() {
    let p = policy::parse(
        "t.toml",
        r#"
        [[route-map]]
        name = "OUT"
        [[route-map.entry]]
        seq = 10
        action = "permit"
        set.metric = 70
        "#,
    )
    .unwrap();
    let mut to = to_ebgp(Relationship::Customer);
    to.route_map_out = Some(p.route_maps["OUT"].clone());
    let a = prepare(&ebgp_route(), &Learned::Ebgp { peer: EBGP_PEER }, &to).unwrap();
    assert_eq!(a.med, Some(70));
}

#[test]
fn confederation_member_gets_a_confed_sequence_true_ebgp_loses_it() {
    let mut r = ibgp_route();
    r.attrs_mut().as_path = AsPath::new(vec![
        AsSegment {
            kind: SegmentType::ConfedSequence,
            asns: vec![65102],
        },
        AsSegment::sequence(vec![65002]),
    ]);
    r.attrs_mut().originator_id = Some(Ipv4Addr::new(10, 0, 0, 77));
    r.attrs_mut().cluster_list = vec![Ipv4Addr::new(10, 0, 0, 88)];
    let a = prepare(&r, &learned_ibgp(false), &to_confed()).unwrap();
    assert_eq!(a.as_path.text(), "(65100 65102) 65002");
    // Inside the confederation: next hop, LOCAL_PREF and MED unchanged.
    assert_eq!(a.next_hop, NextHop::Addr(ip("10.0.0.9")));
    assert_eq!((a.local_pref, a.med), (Some(200), Some(50)));
    assert_eq!((a.originator_id, a.cluster_list.len()), (None, 0));
    // To a true eBGP neighbor of the confederation: confed segments go, the confederation
    // identifier is prepended.
    let mut to = to_ebgp(Relationship::Peer);
    to.local_as = 65100;
    to.confed_id = Some(LOCAL_AS);
    let a = prepare(&r, &learned_ibgp(false), &to).unwrap();
    assert_eq!(a.as_path.text(), "65000 65002");
    // A path that starts with a plain sequence gets a new confed segment in front.
    let a = prepare(&ibgp_route(), &learned_ibgp(false), &to_confed()).unwrap();
    assert_eq!(a.as_path.text(), "(65100) 65002 65020");
}

#[test]
fn to_ibgp_next_hop_rules() {
    let ours = NextHop::Addr(ip("10.0.0.1"));
    let ebgp = Learned::Ebgp { peer: EBGP_PEER };
    // eBGP-learned: next hop unchanged, unless next-hop-self.
    let mut to = to_ibgp("10.0.0.3", false);
    let a = prepare(&ebgp_route(), &ebgp, &to).unwrap();
    assert_eq!(a.next_hop, NextHop::Addr(EBGP_PEER));
    assert_eq!(a.local_pref, Some(100), "default LOCAL_PREF");
    assert_eq!(a.med, Some(50), "MED passes inside the AS");
    assert_eq!(a.as_path.text(), "65002 65020", "no prepend inside the AS");
    to.next_hop_self = true;
    assert_eq!(prepare(&ebgp_route(), &ebgp, &to).unwrap().next_hop, ours);
    // Local routes: always our address.
    to.next_hop_self = false;
    assert_eq!(
        prepare(&local_route(), &Learned::Local, &to)
            .unwrap()
            .next_hop,
        ours
    );
    // Reflected paths keep theirs even with next-hop-self (IOS without `all`).
    to.next_hop_self = true;
    to.rr_client = true;
    let a = prepare(&ibgp_route(), &learned_ibgp(false), &to).unwrap();
    assert_eq!(a.next_hop, NextHop::Addr(ip("10.0.0.9")));
}

#[test]
fn route_map_next_hop_wins_over_next_hop_self_and_sees_the_route_before_prepend() {
    let p = policy::parse(
        "t.toml",
        r#"
        [[as-path-list]]
        name = "LOCAL"
        entry = [{ action = "permit", regex = "^$" }]

        [[route-map]]
        name = "OUT"
        [[route-map.entry]]
        seq = 10
        action = "permit"
        match.as-path = ["LOCAL"]
        set.next-hop = "192.0.2.77"
        [[route-map.entry]]
        seq = 20
        action = "permit"
        set.next-hop = "self"
        "#,
    )
    .unwrap();
    let mut to = to_ebgp(Relationship::Customer);
    to.route_map_out = Some(p.route_maps["OUT"].clone());
    // `^$` matches: the route-map saw the path before our AS was prepended.
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert_eq!(a.next_hop, NextHop::Addr(ip("192.0.2.77")));
    assert_eq!(a.as_path.text(), "65000");
    let mut to = to_ibgp("10.0.0.3", false);
    to.next_hop_self = true;
    to.route_map_out = Some(p.route_maps["OUT"].clone());
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert_eq!(a.next_hop, NextHop::Addr(ip("192.0.2.77")));
    // `set ip next-hop self` is our session address.
    let a = prepare(&ebgp_route(), &Learned::Ebgp { peer: EBGP_PEER }, &to).unwrap();
    assert_eq!(a.next_hop, NextHop::Addr(ip("10.0.0.1")));
}

#[test]
fn route_map_deny_and_counters() {
    let p = policy::parse(
        "t.toml",
        r#"
        [[route-map]]
        name = "OUT"
        [[route-map.entry]]
        seq = 10
        action = "deny"
        match.tag = [123]
        [[route-map.entry]]
        seq = 20
        action = "permit"
        "#,
    )
    .unwrap();
    let map = p.route_maps["OUT"].clone();
    let mut to = to_ebgp(Relationship::Customer);
    to.route_map_out = Some(map.clone());
    let mut stats = map.new_stats();
    assert_eq!(
        prepare_counted(&local_route(), &Learned::Local, &to, &mut stats),
        Err(Suppressed::RouteMapDeny)
    );
    assert!(prepare_counted(
        &ebgp_route(),
        &Learned::Ebgp { peer: EBGP_PEER },
        &to,
        &mut stats
    )
    .is_ok());
    assert_eq!(stats.hits, vec![1, 1]);
}

#[test]
fn gated_export_restricts_and_defaults_to_attached_routes() {
    let p = policy::parse(
        "t.toml",
        r#"
        [[gated-export]]
        proto = "bgp"
        as = 65009
        metric = 10

        [[gated-export.source]]
        proto = "static"
        "#,
    )
    .unwrap();
    let gated = Arc::new(p.gated_export);
    let mut to = to_ebgp(Relationship::Customer);
    to.gated_export = Some(gated.clone());
    // AS 65009 has a statement: statics go (with its metric), BGP routes do not.
    let a = prepare(&local_route(), &Learned::Local, &to).unwrap();
    assert_eq!(a.med, Some(10));
    assert_eq!(
        prepare(&ebgp_route(), &Learned::Ebgp { peer: EBGP_PEER }, &to),
        Err(Suppressed::GatedRestrict)
    );
    // AS 65010 has none: only routes to attached interfaces.
    to.remote_as = 65010;
    assert_eq!(
        prepare(&local_route(), &Learned::Local, &to),
        Err(Suppressed::GatedNotAttached)
    );
    let mut connected = local_route();
    connected.attrs_mut().source = SourceProtocol::Connected;
    assert!(prepare(&connected, &Learned::Local, &to).is_ok());
}

#[test]
fn ipv6_routes_take_the_ipv6_address_else_the_ipv4_one() {
    let mut r = local_route();
    r.prefix = "2001:db8:1::/48".parse().unwrap();
    let mut to = to_ebgp(Relationship::Customer);
    assert_eq!(
        prepare(&r, &Learned::Local, &to).unwrap().next_hop,
        NextHop::Addr(IpAddr::V4(OUR_V4))
    );
    to.next_hop_v6 = Some("2001:db8::1".parse().unwrap());
    assert_eq!(
        prepare(&r, &Learned::Local, &to).unwrap().next_hop,
        NextHop::Addr(ip("2001:db8::1"))
    );
    // An IPv4 route on a session with only an IPv6 address has no next hop.
    to.next_hop_v4 = None;
    assert_eq!(
        prepare(&local_route(), &Learned::Local, &to),
        Err(Suppressed::NoNextHop)
    );
}
