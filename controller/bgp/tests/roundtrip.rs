//! Hand-built messages for every feature: decode, check the typed view, re-encode to the
//! identical bytes.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp::consts::attr as ty;
use bgp::*;
use common::*;

fn four() -> Context {
    Context::all()
}

fn two() -> Context {
    Context {
        four_octet_as: false,
        ..Context::all()
    }
}

fn cap_param(caps: &[&[u8]]) -> Vec<u8> {
    let body = caps.concat();
    let mut p = vec![2, body.len() as u8];
    p.extend_from_slice(&body);
    p
}

fn open_body(params: &[u8]) -> Vec<u8> {
    let mut b = vec![4, 0xfd, 0xe9, 0, 180, 192, 0, 2, 1, params.len() as u8];
    b.extend_from_slice(params);
    b
}

const CAP_MP_V4: [u8; 6] = [1, 4, 0, 1, 0, 1];
const CAP_MP_VPNV6: [u8; 6] = [1, 4, 0, 2, 0, 128];
const CAP_RR: [u8; 2] = [2, 0];
const CAP_ERR: [u8; 2] = [70, 0];
const CAP_AS4: [u8; 6] = [65, 4, 0xfa, 0x56, 0xea, 0x01];
const CAP_EXT: [u8; 2] = [6, 0];
const CAP_GR: [u8; 12] = [64, 10, 0xc0, 0x78, 0, 1, 1, 0x80, 0, 1, 128, 0];
const CAP_HOSTNAME: [u8; 5] = [73, 3, 1, b'a', 0];

#[test]
fn open_with_every_capability_round_trips() {
    let params = cat(&[
        &cap_param(&[&CAP_MP_V4, &CAP_MP_VPNV6]),
        &cap_param(&[&CAP_RR]),
        &cap_param(&[&CAP_ERR]),
        &cap_param(&[&CAP_AS4]),
        &cap_param(&[&CAP_EXT]),
        &cap_param(&[&CAP_GR]),
        &cap_param(&[&CAP_HOSTNAME]),
    ]);
    let Message::Open(o) = round_trip(&msg(1, &open_body(&params)), &Context::default()) else {
        panic!("not an OPEN")
    };
    assert_eq!(o.capability_params.len(), 7);
    assert_eq!((o.my_as, o.hold_time, o.asn()), (65001, 180, 4_200_000_001));
    assert_eq!(o.bgp_id, Ipv4Addr::new(192, 0, 2, 1));
    let caps: Vec<&Capability> = o.capabilities().collect();
    assert_eq!(
        caps[1],
        &Capability::Multiprotocol {
            family: AfiSafi::new(2, 128),
            reserved: 0
        }
    );
    assert!(caps.contains(&&Capability::RouteRefresh));
    assert!(caps.contains(&&Capability::EnhancedRouteRefresh));
    assert!(caps.contains(&&Capability::ExtendedMessage));
    let gr = caps
        .iter()
        .find_map(|c| match c {
            Capability::GracefulRestart(g) => Some(g),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        gr.flags,
        GracefulRestart::RESTART_STATE | GracefulRestart::NOTIFICATION
    );
    assert_eq!(gr.restart_time, 120);
    assert_eq!(
        gr.families[0].flags,
        GracefulRestartFamily::FORWARDING_STATE
    );
    assert_eq!(gr.families[1].family, Family::Vpnv4.afi_safi());
    assert!(matches!(caps[7], Capability::Unknown { code: 73, .. }));
    assert_eq!(
        o.families().iter().collect::<Vec<_>>(),
        [Family::Ipv4Unicast, Family::Vpnv6]
    );

    // All capabilities in one parameter is another layout that must survive as is.
    let one = cap_param(&[&CAP_MP_V4, &CAP_RR, &CAP_AS4, &CAP_GR]);
    round_trip(&msg(1, &open_body(&one)), &Context::default());
    // No optional parameters at all.
    round_trip(&msg(1, &open_body(&[])), &Context::default());
}

#[test]
fn open_with_rfc9072_extended_parameters_round_trips() {
    let caps = [CAP_MP_V4.as_slice(), &CAP_AS4].concat();
    let mut params = vec![2, 0, caps.len() as u8];
    params.extend_from_slice(&caps);
    let mut b = vec![4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 255, 255];
    b.extend_from_slice(&(params.len() as u16).to_be_bytes());
    b.extend_from_slice(&params);
    let Message::Open(o) = round_trip(&msg(1, &b), &Context::default()) else {
        panic!()
    };
    assert!(o.extended_params);
    assert_eq!(o.asn(), 4_200_000_001);
}

#[test]
fn keepalive_notification_and_route_refresh_round_trip() {
    assert_eq!(round_trip(&msg(4, &[]), &four()), Message::Keepalive);
    let n = round_trip(&msg(3, &[6, 2, 3, b'b', b'y', b'e']), &four());
    assert_eq!(
        n,
        Message::Notification(Notification {
            code: 6,
            subcode: 2,
            data: vec![3, b'b', b'y', b'e']
        })
    );
    let r = round_trip(&msg(5, &[0, 1, 0, 1]), &four());
    assert_eq!(
        r,
        Message::RouteRefresh(RouteRefresh {
            afi: 1,
            subtype: RouteRefresh::NORMAL,
            safi: 1
        })
    );
    round_trip(&msg(5, &[0, 2, RouteRefresh::BORR, 128]), &four());
    round_trip(&msg(5, &[0, 2, RouteRefresh::EORR, 128]), &four());
}

fn full_ipv4_attrs() -> Vec<u8> {
    cat(&[
        &attr(0x40, ty::ORIGIN, &[2]),
        // Extended length on a short AS_PATH: kept on re-encode.
        &attr(
            0x50,
            ty::AS_PATH,
            &[
                3, 1, 0, 0, 0xfe, 0x4c, // (65100)
                4, 2, 0, 0, 0xfe, 0x4d, 0, 0, 0xfe, 0x4e, // [65101 65102]
                2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01, // 65001 4200000001
                1, 2, 0, 0, 0, 1, 0, 0, 0, 2, // {1,2}
            ],
        ),
        &attr(0x40, ty::NEXT_HOP, &[192, 0, 2, 1]),
        &attr(0x80, ty::MULTI_EXIT_DISC, &[0, 0, 0, 100]),
        &attr(0x40, ty::LOCAL_PREF, &[0, 0, 0, 200]),
        &attr(0x40, ty::ATOMIC_AGGREGATE, &[]),
        &attr(
            0xc0,
            ty::AGGREGATOR,
            &[0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 2],
        ),
        &attr(
            0xc0,
            ty::COMMUNITIES,
            &[
                0xfd, 0xe9, 0, 100, 0xff, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0x02, 0xff, 0xff,
                0xff, 0x03, 0xff, 0xff, 0xff, 0x04, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0x02, 0x9a,
            ],
        ),
        &attr(0x80, ty::ORIGINATOR_ID, &[192, 0, 2, 3]),
        &attr(0x80, ty::CLUSTER_LIST, &[192, 0, 2, 4, 192, 0, 2, 5]),
        &attr(
            0xc0,
            ty::EXTENDED_COMMUNITIES,
            &[
                0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 100, // RT 65001:100
                0x01, 0x02, 192, 0, 2, 1, 0, 7, // RT 192.0.2.1:7
                0x02, 0x02, 0xfa, 0x56, 0xea, 0x01, 0, 9, // RT 4200000001:9
                0x00, 0x03, 0xfd, 0xe9, 0, 0, 0, 1, // SoO 65001:1
                0x01, 0x03, 192, 0, 2, 1, 0, 1, // SoO 192.0.2.1:1
                0x02, 0x03, 0xfa, 0x56, 0xea, 0x01, 0, 2, // SoO 4200000001:2
                0x03, 0x0c, 0, 0, 0, 0, 0, 8, // encapsulation: raw
            ],
        ),
        &attr(
            0xc0,
            ty::LARGE_COMMUNITY,
            &[
                0xfa, 0x56, 0xea, 0x01, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0xfd, 0xe9, 0, 0, 0, 3, 0, 0,
                0, 4,
            ],
        ),
        // Unknown optional transitive (partial already set) and non-transitive: kept raw.
        &attr(0xe0, 99, &[1, 2, 3]),
        &attr(0x80, 100, &[0x0a, 0x0b]),
    ])
}

#[test]
fn ipv4_update_with_every_attribute_round_trips() {
    let withdrawn = [16, 172, 16, 8, 11];
    // 10.1.1.0/24, 192.0.2.1/32, 0.0.0.0/0, 198.51.100.128/25, and a /23 with a host bit set.
    let nlri = [
        24, 10, 1, 1, 32, 192, 0, 2, 1, 0, 25, 198, 51, 100, 128, 23, 10, 0, 1,
    ];
    let m = round_trip(&update(&withdrawn, &full_ipv4_attrs(), &nlri), &four());
    let Message::Update(u) = m else { panic!() };
    assert_eq!(u.withdrawn.len(), 2);
    assert_eq!(u.nlri.len(), 5);
    assert_eq!(u.nlri[4].to_string(), "10.0.1.0/23");
    assert_eq!(
        u.as_path().unwrap().to_string(),
        "(65100) [65101 65102] 65001 4200000001 {1,2}"
    );
    assert_eq!(u.as_path().unwrap().path_len(), 3);
    let Some(AttrValue::Communities(cs)) = u.attribute(ty::COMMUNITIES) else {
        panic!()
    };
    assert_eq!(
        &cs[1..],
        &[
            Community::NO_EXPORT,
            Community::NO_ADVERTISE,
            Community::NO_EXPORT_SUBCONFED,
            Community::NOPEER,
            Community::GRACEFUL_SHUTDOWN,
            Community::BLACKHOLE
        ]
    );
    let Some(AttrValue::ExtCommunities(ecs)) = u.attribute(ty::EXTENDED_COMMUNITIES) else {
        panic!()
    };
    let rts: Vec<String> = ecs.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        rts,
        [
            "RT:65001:100",
            "RT:192.0.2.1:7",
            "RT:4200000001:9",
            "SoO:65001:1",
            "SoO:192.0.2.1:1",
            "SoO:4200000001:2",
            "0x030c000000000008"
        ]
    );
    let Some(AttrValue::LargeCommunities(lcs)) = u.attribute(ty::LARGE_COMMUNITY) else {
        panic!()
    };
    assert_eq!(lcs[0].to_string(), "4200000001:1:2");
    assert_eq!(
        u.attribute(ty::AGGREGATOR),
        Some(&AttrValue::Aggregator(Aggregator {
            asn: 4_200_000_001,
            addr: Ipv4Addr::new(192, 0, 2, 2)
        }))
    );
    assert_eq!(
        u.attribute(ty::CLUSTER_LIST),
        Some(&AttrValue::ClusterList(vec![
            Ipv4Addr::new(192, 0, 2, 4),
            Ipv4Addr::new(192, 0, 2, 5)
        ]))
    );
}

#[test]
fn readvertisement_sets_partial_and_drops_non_transitive_unknowns() {
    let attrs = cat(&[&ORIGIN_IGP, &attr(0xc0, 99, &[1]), &attr(0x80, 100, &[2])]);
    let Message::Update(mut u) = round_trip(&update(&[], &attrs, &[]), &four()) else {
        panic!()
    };
    prepare_for_readvertisement(&mut u.attributes);
    let bytes = Message::Update(u).to_bytes(&four()).unwrap();
    let expect = update(&[], &cat(&[&ORIGIN_IGP, &attr(0xe0, 99, &[1])]), &[]);
    assert_eq!(hex(&bytes), hex(&expect));
}

#[test]
fn two_octet_session_with_as4_path_round_trips_and_merges() {
    let attrs = cat(&[
        &ORIGIN_IGP,
        &attr(0x40, ty::AS_PATH, &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]),
        &NEXT_HOP_1,
        &attr(0xc0, ty::AGGREGATOR, &[0x5b, 0xa0, 192, 0, 2, 2]),
        &attr(
            0xc0,
            ty::AS4_PATH,
            &[2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01],
        ),
        &attr(
            0xc0,
            ty::AS4_AGGREGATOR,
            &[0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 2],
        ),
    ]);
    let Message::Update(u) = round_trip(&update(&[], &attrs, &NLRI_10_8), &two()) else {
        panic!()
    };
    assert_eq!(u.as_path().unwrap().to_string(), "65001 23456");
    assert_eq!(
        u.effective_as_path().unwrap().to_string(),
        "65001 4200000001"
    );
    assert_eq!(u.effective_aggregator().unwrap().asn, 4_200_000_001);
}

#[test]
fn encoding_for_a_two_octet_speaker_uses_as_trans_and_adds_as4_attributes() {
    let path = AsPath {
        segments: vec![
            AsSegment {
                kind: SegmentKind::ConfedSequence,
                asns: vec![4_200_000_100],
            },
            AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![65001, 4_200_000_001],
            },
        ],
    };
    let u = Update {
        withdrawn: vec![],
        attributes: vec![
            AttrValue::Origin(Origin::Igp).into(),
            AttrValue::AsPath(path.clone()).into(),
            AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into(),
            AttrValue::Aggregator(Aggregator {
                asn: 4_200_000_001,
                addr: Ipv4Addr::new(192, 0, 2, 2),
            })
            .into(),
        ],
        nlri: vec!["10.0.0.0/8".parse().unwrap()],
    };
    let bytes = Message::Update(u.clone()).to_bytes(&two()).unwrap();
    let expect = update(
        &[],
        &cat(&[
            &ORIGIN_IGP,
            &attr(
                0x40,
                ty::AS_PATH,
                &[3, 1, 0x5b, 0xa0, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0],
            ),
            // AS4_PATH leaves the confederation segment out (RFC 6793 §3).
            &attr(
                0xc0,
                ty::AS4_PATH,
                &[2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01],
            ),
            &NEXT_HOP_1,
            &attr(0xc0, ty::AGGREGATOR, &[0x5b, 0xa0, 192, 0, 2, 2]),
            &attr(
                0xc0,
                ty::AS4_AGGREGATOR,
                &[0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 2],
            ),
        ]),
        &NLRI_10_8,
    );
    assert_eq!(hex(&bytes), hex(&expect));
    let Message::Update(back) = round_trip(&bytes, &two()) else {
        panic!()
    };
    // The non-confed part comes back through the merge; the confed AS was squashed to
    // AS_TRANS, which is all a 2-octet confederation member could ever have seen.
    assert_eq!(
        back.effective_as_path().unwrap().to_string(),
        "(23456) 65001 4200000001"
    );
    // The same update for a 4-octet speaker has no AS4_* attributes.
    let bytes4 = Message::Update(u).to_bytes(&four()).unwrap();
    let Message::Update(back4) = round_trip(&bytes4, &four()) else {
        panic!()
    };
    assert_eq!(back4.as_path(), Some(&path));
    assert!(back4.attribute(ty::AS4_PATH).is_none());
}

fn mp_reach(afi: u16, safi: u8, nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = afi.to_be_bytes().to_vec();
    v.push(safi);
    v.push(nh.len() as u8);
    v.extend_from_slice(nh);
    v.push(0);
    v.extend_from_slice(nlri);
    attr(0x90, ty::MP_REACH_NLRI, &v)
}

fn mp_unreach(afi: u16, safi: u8, nlri: &[u8]) -> Vec<u8> {
    let mut v = afi.to_be_bytes().to_vec();
    v.push(safi);
    v.extend_from_slice(nlri);
    attr(0x90, ty::MP_UNREACH_NLRI, &v)
}

const V6_GLOBAL: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const V6_LL: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

#[test]
fn ipv6_unicast_with_link_local_next_hop_round_trips() {
    let nlri = cat(&[
        &[48, 0x20, 0x01, 0x0d, 0xb8, 0, 1],
        &[64, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0],
        &[128],
        &V6_GLOBAL,
    ]);
    let attrs = cat(&[
        &mp_reach(2, 1, &cat(&[&V6_GLOBAL, &V6_LL]), &nlri),
        &mp_unreach(2, 1, &[48, 0x20, 0x01, 0x0d, 0xb8, 0, 3]),
        &ORIGIN_IGP,
        &AS_PATH_65001,
    ]);
    let Message::Update(u) = round_trip(&update(&[], &attrs, &[]), &four()) else {
        panic!()
    };
    let reach = u.mp_reach().unwrap();
    assert_eq!(
        reach.next_hop,
        NextHop::V6 {
            global: Ipv6Addr::from(V6_GLOBAL),
            link_local: Some(Ipv6Addr::from(V6_LL))
        }
    );
    let NlriList::Ipv6(p) = &reach.nlri else {
        panic!()
    };
    assert_eq!(p[2].to_string(), "2001:db8::2/128");
    assert_eq!(u.mp_unreach().count(), 1);
    // Global-only next hop, and IPv4 unicast in MP_REACH with an RFC 8950 IPv6 next hop.
    round_trip(
        &update(
            &[],
            &cat(&[
                &mp_reach(2, 1, &V6_GLOBAL, &nlri),
                &ORIGIN_IGP,
                &AS_PATH_65001,
            ]),
            &[],
        ),
        &four(),
    );
    round_trip(
        &update(
            &[],
            &cat(&[
                &mp_reach(1, 1, &V6_GLOBAL, &NLRI_10_8),
                &ORIGIN_IGP,
                &AS_PATH_65001,
            ]),
            &[],
        ),
        &four(),
    );
}

const RD0: [u8; 8] = [0, 0, 0xfd, 0xe9, 0, 0, 0, 100]; // 65001:100
const RD1: [u8; 8] = [0, 1, 192, 0, 2, 1, 0, 7]; // 192.0.2.1:7
const RD2: [u8; 8] = [0, 2, 0xfa, 0x56, 0xea, 0x01, 0, 9]; // 4200000001:9

#[test]
fn vpnv4_with_labels_and_all_rd_types_round_trips() {
    let nlri = cat(&[
        &[112, 0x00, 0x01, 0x01],
        &RD0,
        &[10, 1, 1],
        &[120, 0x00, 0x01, 0x11],
        &RD1,
        &[192, 0, 2, 1],
        // Two-label stack (100 without bottom-of-stack, then 101 with it).
        &[128, 0x00, 0x06, 0x40, 0x00, 0x06, 0x51],
        &RD2,
        &[10, 2],
        // A default route: label and RD only.
        &[88, 0x00, 0x01, 0x21],
        &RD0,
    ]);
    let nh = cat(&[&[0u8; 8], &[192, 0, 2, 1]]);
    let attrs = cat(&[
        &mp_reach(1, 128, &nh, &nlri),
        &ORIGIN_IGP,
        &AS_PATH_65001,
        &attr(
            0xc0,
            ty::EXTENDED_COMMUNITIES,
            &[0, 2, 0xfd, 0xe9, 0, 0, 0, 100],
        ),
    ]);
    let Message::Update(u) = round_trip(&update(&[], &attrs, &[]), &four()) else {
        panic!()
    };
    let reach = u.mp_reach().unwrap();
    assert_eq!(reach.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let NlriList::Vpnv4(p) = &reach.nlri else {
        panic!()
    };
    assert_eq!(p.len(), 4);
    assert_eq!(p[0].labels.as_slice()[0].value(), 16);
    assert_eq!(p[0].rd.to_string(), "65001:100");
    assert_eq!(p[1].rd.to_string(), "192.0.2.1:7");
    assert_eq!(p[1].prefix.to_string(), "192.0.2.1/32");
    assert_eq!(p[2].rd.known().unwrap().to_string(), "4200000001:9");
    let stack: Vec<(u32, bool)> = p[2]
        .labels
        .as_slice()
        .iter()
        .map(|l| (l.value(), l.bottom_of_stack()))
        .collect();
    assert_eq!(stack, [(100, false), (101, true)]);
    assert_eq!(p[3].prefix.to_string(), "0.0.0.0/0");

    // Withdrawals with the RFC 8277 0x800000 marker and the all-zero label field.
    let w = cat(&[
        &[112, 0x80, 0, 0],
        &RD0,
        &[10, 1, 1],
        &[112, 0, 0, 0],
        &RD1,
        &[10, 9, 9],
    ]);
    let Message::Update(u) = round_trip(&update(&[], &mp_unreach(1, 128, &w), &[]), &four()) else {
        panic!()
    };
    let NlriList::Vpnv4(p) = &u.mp_unreach().next().unwrap().withdrawn else {
        panic!()
    };
    assert_eq!(p[0].labels.as_slice(), &[Label::WITHDRAW]);
    assert_eq!(p[1].rd.to_string(), "192.0.2.1:7");
}

#[test]
fn vpnv6_with_link_local_pair_and_unknown_rd_type_round_trips() {
    let nh = cat(&[&[0u8; 8], &V6_GLOBAL, &[0u8; 8], &V6_LL]);
    let nlri = cat(&[
        &[136, 0x00, 0x3e, 0x81],
        &RD1,
        &[0x20, 0x01, 0x0d, 0xb8, 0, 0x10],
        // RD type 5 is not defined: kept verbatim.
        &[88 + 128, 0x00, 0x3e, 0x91],
        &[0, 5, 1, 2, 3, 4, 5, 6],
        &V6_GLOBAL,
    ]);
    let attrs = cat(&[&mp_reach(2, 128, &nh, &nlri), &ORIGIN_IGP, &AS_PATH_65001]);
    let Message::Update(u) = round_trip(&update(&[], &attrs, &[]), &four()) else {
        panic!()
    };
    let reach = u.mp_reach().unwrap();
    assert!(matches!(
        reach.next_hop,
        NextHop::V6 {
            link_local: Some(_),
            ..
        }
    ));
    let NlriList::Vpnv6(p) = &reach.nlri else {
        panic!()
    };
    assert_eq!(p[0].labels.as_slice()[0].value(), 1000);
    assert_eq!(p[0].prefix.to_string(), "2001:db8:10::/48");
    assert_eq!(
        p[1].rd,
        Rd::Unknown {
            type_code: 5,
            value: [1, 2, 3, 4, 5, 6]
        }
    );
    // VPNv6 over an IPv4 core: RD + IPv4-mapped IPv6 next hop (24 octets).
    let mapped = cat(&[
        &[0u8; 8],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1],
    ]);
    round_trip(
        &update(
            &[],
            &cat(&[
                &mp_reach(2, 128, &mapped, &nlri),
                &ORIGIN_IGP,
                &AS_PATH_65001,
            ]),
            &[],
        ),
        &four(),
    );
    let w = cat(&[&[136, 0x80, 0, 0], &RD1, &[0x20, 0x01, 0x0d, 0xb8, 0, 0x10]]);
    round_trip(&update(&[], &mp_unreach(2, 128, &w), &[]), &four());
}

#[test]
fn end_of_rib_markers() {
    let Message::Update(u) = round_trip(&update(&[], &[], &[]), &four()) else {
        panic!()
    };
    assert_eq!(u.end_of_rib(), Some(Family::Ipv4Unicast));
    for f in Family::ALL {
        let a = f.afi_safi();
        let Message::Update(u) =
            round_trip(&update(&[], &mp_unreach(a.afi, a.safi, &[]), &[]), &four())
        else {
            panic!()
        };
        assert_eq!(u.end_of_rib(), Some(f));
    }
}

#[test]
fn extended_messages_need_the_capability() {
    // 2100 host routes: 10.5 kB of NLRI.
    let nlri: Vec<u8> = (0..2100u32)
        .flat_map(|i| {
            let [_, b, c, d] = i.to_be_bytes();
            [32, 10, b, c, d]
        })
        .collect();
    let m = update(
        &[],
        &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1]),
        &nlri,
    );
    assert!(m.len() > 4096);
    let Message::Update(u) = round_trip(&m, &four()) else {
        panic!()
    };
    assert_eq!(u.nlri.len(), 2100);
    let small = Context {
        extended_message: false,
        ..four()
    };
    let err = Message::decode(&m, &small).unwrap_err();
    assert_eq!(err.notification().code, 1);
    assert_eq!(err.notification().subcode, 2);
    assert!(matches!(
        Message::Update(u).to_bytes(&small),
        Err(EncodeError::TooLong { max: 4096, .. })
    ));
}

#[test]
fn frames_are_found_one_after_another_in_a_stream() {
    let ka = msg(4, &[]);
    let up = update(
        &[],
        &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1]),
        &NLRI_10_8,
    );
    let mut stream = cat(&[&ka, &up, &ka]);
    stream.truncate(stream.len() - 5);
    let ctx = four();
    let mut at = 0;
    let mut kinds = Vec::new();
    while let Some(f) = frame(&stream[at..], &ctx).unwrap() {
        kinds.push(f.msg_type);
        if let Some(uf) = f.update() {
            let uf = uf.unwrap();
            assert_eq!(uf.nlri, &NLRI_10_8);
            assert_eq!(uf.withdrawn.len(), 0);
        }
        at += f.len();
    }
    assert_eq!(kinds, [4, 2]);
    assert_eq!(
        stream.len() - at,
        14,
        "the cut KEEPALIVE waits for more bytes"
    );
}

#[test]
fn negotiation_takes_what_both_sides_sent() {
    let a = Open::new(
        65001,
        90,
        Ipv4Addr::new(192, 0, 2, 1),
        vec![
            Capability::Multiprotocol {
                family: Family::Vpnv4.afi_safi(),
                reserved: 0,
            },
            Capability::Multiprotocol {
                family: Family::Ipv6Unicast.afi_safi(),
                reserved: 0,
            },
            Capability::FourOctetAs(65001),
            Capability::ExtendedMessage,
        ],
    );
    let b = Open::new(
        4_200_000_001,
        90,
        Ipv4Addr::new(192, 0, 2, 2),
        vec![
            Capability::Multiprotocol {
                family: Family::Vpnv4.afi_safi(),
                reserved: 0,
            },
            Capability::FourOctetAs(4_200_000_001),
        ],
    );
    assert_eq!(b.my_as, 23456);
    let ctx = Context::negotiated(&a, &b);
    assert!(ctx.four_octet_as && !ctx.extended_message);
    assert_eq!(ctx.families.iter().collect::<Vec<_>>(), [Family::Vpnv4]);
    let bare = Open::new(65002, 90, Ipv4Addr::new(192, 0, 2, 3), vec![]);
    let ctx = Context::negotiated(&a, &bare);
    assert!(!ctx.four_octet_as);
    assert!(
        ctx.families.iter().next().is_none(),
        "a has no IPv4 unicast"
    );
    for o in [a, b, bare] {
        round_trip(&Message::Open(o).to_bytes(&ctx).unwrap(), &ctx);
    }
}

/// Found by the fuzzer: the four low flag bits are unused (RFC 4271 §4.3). They are ignored
/// on receipt and never sent, so decode → encode → decode is stable.
#[test]
fn unused_low_flag_bits_are_ignored_and_not_sent() {
    let attrs = cat(&[
        &attr(0x46, ty::ORIGIN, &[0]),
        &attr(0x54, ty::AS_PATH, &[2, 1, 0, 0, 0xfd, 0xe9]),
        &NEXT_HOP_1,
        &attr(0xa6, ty::MULTI_EXIT_DISC, &[0, 0, 0, 0]),
        &attr(0xc3, 99, &[7]),
    ]);
    let d = Message::decode(&update(&[], &attrs, &NLRI_10_8), &four()).unwrap();
    assert!(d.findings.is_empty());
    let bytes = d.message.to_bytes(&four()).unwrap();
    let expect = cat(&[
        &ORIGIN_IGP,
        &attr(0x50, ty::AS_PATH, &[2, 1, 0, 0, 0xfd, 0xe9]),
        &NEXT_HOP_1,
        &attr(0xa0, ty::MULTI_EXIT_DISC, &[0, 0, 0, 0]),
        &attr(0xc0, 99, &[7]),
    ]);
    assert_eq!(hex(&bytes), hex(&update(&[], &expect, &NLRI_10_8)));
    assert_eq!(Message::decode(&bytes, &four()).unwrap().message, d.message);
}

/// An UPDATE's route count adds its announced and withdrawn prefixes of every family (what
/// the daemon bounds a commit's batch by).
#[test]
fn route_count_adds_every_family_announced_and_withdrawn() {
    let v4 = |s: &str| s.parse::<ipnet::Ipv4Net>().unwrap();
    let v6 = |s: &str| s.parse::<ipnet::Ipv6Net>().unwrap();
    let update = Update {
        withdrawn: vec![v4("10.0.0.0/8"), v4("10.1.0.0/16")],
        attributes: vec![
            AttrValue::MpReach(MpReach {
                next_hop: NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
                nlri: NlriList::Ipv6(vec![v6("2001:db8:1::/48"), v6("2001:db8:2::/48")]),
            })
            .into(),
            AttrValue::MpUnreach(MpUnreach {
                withdrawn: NlriList::Ipv6(vec![v6("2001:db8:3::/48")]),
            })
            .into(),
            AttrValue::Origin(Origin::Igp).into(),
        ],
        nlri: vec![
            v4("192.0.2.0/24"),
            v4("198.51.100.0/24"),
            v4("203.0.113.0/24"),
        ],
    };
    assert_eq!(update.route_count(), 2 + 2 + 1 + 3);
    assert_eq!(Update::default().route_count(), 0);
}
