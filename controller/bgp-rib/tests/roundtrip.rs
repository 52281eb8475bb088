//! inbound(outbound(x)) == x: routes of all four families with generated attribute sets are
//! packed into UPDATEs, encoded with the codec (every message within the session's size
//! limit), decoded by the codec and by `decode_update`, and must come back identical.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bgp::{Context, Family, FamilySet, Message};
use bgp_rib::{decode_update, pack, Announcement, Nlri, PackContext, PeerInfo};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use policy::{
    AsPath, AsSegment, Attrs, Communities, Community, ExtCommunities, ExtCommunity,
    LargeCommunities, LargeCommunity, NextHop, Origin, PeerType, RouteType, SegmentType,
    SourceProtocol,
};
use proptest::prelude::*;
use vpn_types::{AdminValue, RouteDistinguisher};

/// The session a test case runs over.
#[derive(Clone, Copy, Debug)]
struct Session {
    internal: bool,
    four_octet_as: bool,
    extended_message: bool,
}

fn session() -> impl Strategy<Value = Session> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(internal, four, ext)| Session {
        internal,
        four_octet_as: four,
        extended_message: ext,
    })
}

fn asn(four_octet: bool) -> BoxedStrategy<u32> {
    if four_octet {
        prop_oneof![1u32..65535, 65536u32..=u32::MAX].boxed()
    } else {
        // A 2-octet session can carry 4-octet numbers (AS_TRANS + AS4_PATH), except inside
        // confederation segments, which AS4_PATH leaves out (RFC 6793 §3).
        (1u32..65535)
            .prop_filter("AS_TRANS", |a| *a != 23456)
            .boxed()
    }
}

/// An AS path: an optional confederation segment first, then sequences and sets, no two
/// sequences in a row (the wire cannot tell them from one).
fn as_path(s: Session) -> impl Strategy<Value = AsPath> {
    let confed = proptest::option::of((
        any::<bool>(),
        proptest::collection::vec(asn(s.four_octet_as), 1..4),
    ));
    let body = proptest::collection::vec(
        (
            any::<bool>(),
            proptest::collection::vec(asn(true).prop_filter("AS_TRANS", |a| *a != 23456), 1..5),
        ),
        0..4,
    );
    (confed, body).prop_map(|(confed, body)| {
        let mut segs = Vec::new();
        if let Some((seq, asns)) = confed {
            segs.push(AsSegment {
                kind: if seq {
                    SegmentType::ConfedSequence
                } else {
                    SegmentType::ConfedSet
                },
                asns,
            });
        }
        let mut last_seq = false;
        for (set, asns) in body {
            let seq = !set && !last_seq;
            segs.push(if seq {
                AsSegment::sequence(asns)
            } else {
                AsSegment::set(asns)
            });
            last_seq = seq;
        }
        AsPath::new(segs)
    })
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    // 2001:db8::/32: never IPv4-mapped (those decode as the IPv4 address they carry).
    any::<u128>().prop_map(|x| Ipv6Addr::from(0x2001_0db8u128 << 96 | (x >> 32)))
}

fn next_hop(family: Family) -> BoxedStrategy<NextHop> {
    let v4 = ipv4().prop_map(|a| NextHop::Addr(IpAddr::V4(a)));
    if family.is_ipv6() {
        // IPv6 routes may have an IPv4 next hop (sent IPv4-mapped: 6PE / 6VPE).
        prop_oneof![3 => ipv6().prop_map(|a| NextHop::Addr(IpAddr::V6(a))), 1 => v4].boxed()
    } else {
        v4.boxed()
    }
}

fn attrs(s: Session, family: Family, remote_as: u32) -> impl Strategy<Value = Attrs> {
    let wire = (
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ],
        as_path(s),
        next_hop(family),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        // Now and then a set big enough to leave little room for prefixes.
        prop_oneof![
            9 => proptest::collection::vec(any::<u32>(), 0..6),
            1 => proptest::collection::vec(any::<u32>(), 200..900),
        ],
        proptest::collection::vec(any::<[u8; 8]>(), 0..4),
        proptest::collection::vec((any::<u32>(), any::<u32>(), any::<u32>()), 0..3),
    );
    let more = (
        proptest::option::of(ipv4()),
        proptest::collection::vec(ipv4(), 0..3),
        any::<bool>(),
        proptest::option::of((asn(true), ipv4())),
    );
    (wire, more).prop_map(
        move |((origin, path, nh, med, lp, comms, ext, large), (orig, clusters, atomic, agg))| {
            let mut a = Attrs::new(SourceProtocol::Bgp);
            a.route_type = if s.internal {
                RouteType::Internal
            } else {
                RouteType::External
            };
            a.peer_as = Some(remote_as);
            a.origin = origin;
            a.as_path = path;
            a.next_hop = nh;
            a.med = med;
            a.communities = Communities::new(comms.into_iter().map(Community));
            a.ext_communities = ExtCommunities::new(ext.into_iter().map(ExtCommunity));
            a.large_communities =
                LargeCommunities::new(large.into_iter().map(|(g, l1, l2)| LargeCommunity {
                    global: g,
                    local1: l1,
                    local2: l2,
                }));
            a.atomic_aggregate = atomic;
            a.aggregator = agg;
            if !s.four_octet_as {
                // RFC 6793 §4.2.3: an AGGREGATOR with a real 2-octet AS means "ignore
                // AS4_PATH"; a 4-octet aggregator travels as AS_TRANS + AS4_AGGREGATOR.
                if let Some((asn, _)) = &mut a.aggregator {
                    *asn |= 0x1_0000;
                }
            }
            if s.internal {
                a.local_pref = lp;
                a.originator_id = orig;
                a.cluster_list = clusters;
            }
            a
        },
    )
}

fn rd() -> impl Strategy<Value = RouteDistinguisher> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, value)| AdminValue::As2 { asn, value }),
        (ipv4(), any::<u16>()).prop_map(|(addr, value)| AdminValue::Ipv4 { addr, value }),
        (65536u32.., any::<u16>()).prop_map(|(asn, value)| AdminValue::As4 { asn, value }),
    ]
    .prop_map(RouteDistinguisher)
}

fn prefix(v6: bool) -> BoxedStrategy<IpNet> {
    if v6 {
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
            .boxed()
    } else {
        (any::<u32>(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
            .boxed()
    }
}

fn nlri(family: Family) -> BoxedStrategy<(Nlri, Option<u32>)> {
    let p = prefix(family.is_ipv6());
    if family.is_vpn() {
        (rd(), p, 16u32..(1 << 20))
            .prop_map(|(rd, p, label)| (Nlri::vpn(rd, p), Some(label)))
            .boxed()
    } else {
        p.prop_map(|p| (Nlri::unicast(p), None)).boxed()
    }
}

type Routes = Vec<(Nlri, Option<u32>)>;

/// A session, a family, 1–4 attribute sets each with routes, and withdrawals.
#[derive(Debug, Clone)]
struct Case {
    session: Session,
    family: Family,
    remote_as: u32,
    groups: Vec<(Attrs, Routes)>,
    withdrawn: Vec<Nlri>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        session(),
        prop_oneof![
            Just(Family::Ipv4Unicast),
            Just(Family::Ipv6Unicast),
            Just(Family::Vpnv4),
            Just(Family::Vpnv6)
        ],
        1u32..=u32::MAX,
    )
        .prop_flat_map(|(s, family, remote_as)| {
            let group = (
                attrs(s, family, remote_as),
                proptest::collection::vec(nlri(family), 1..400),
            );
            (
                proptest::collection::vec(group, 1..5),
                proptest::collection::vec(nlri(family).prop_map(|(n, _)| n), 0..80),
            )
                .prop_map(move |(groups, withdrawn)| Case {
                    session: s,
                    family,
                    remote_as,
                    groups,
                    withdrawn,
                })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inbound_of_outbound_is_identity(c in case()) {
        // Unique keys: a key announced twice (or announced and withdrawn) has no single
        // expected outcome.
        let mut expected: BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)> = BTreeMap::new();
        for (attrs, routes) in &c.groups {
            let attrs = Arc::new(attrs.clone());
            for &(nlri, label) in routes {
                expected.insert(nlri, (label, attrs.clone()));
            }
        }
        let ann: Vec<Announcement> = expected
            .iter()
            .map(|(n, (label, attrs))| Announcement { nlri: *n, label: *label, attrs: attrs.clone() })
            .collect();
        let mut withdrawn: Vec<Nlri> = c.withdrawn.iter().copied()
            .filter(|n| !expected.contains_key(n)).collect();
        withdrawn.sort();
        withdrawn.dedup();

        let codec = Context {
            four_octet_as: c.session.four_octet_as,
            extended_message: c.session.extended_message,
            families: FamilySet::all(),
        };
        let pc = PackContext { codec, internal: c.session.internal, link_local: None };
        let packed = pack(c.family, &ann, &withdrawn, &pc);
        prop_assert!(packed.unsendable.is_empty(), "{:?}", packed.unsendable);

        let from = PeerInfo {
            remote_as: c.remote_as,
            peer_type: if c.session.internal { PeerType::Ibgp } else { PeerType::Ebgp },
        };
        let mut got: BTreeMap<Nlri, (Option<u32>, Arc<Attrs>)> = BTreeMap::new();
        let mut got_withdrawn = Vec::new();
        for u in packed.updates {
            let bytes = Message::Update(u).to_bytes(&codec).expect("encodes");
            prop_assert!(bytes.len() <= codec.max_message_len());
            let d = Message::decode(&bytes, &codec).expect("decodes");
            prop_assert!(d.findings.is_empty(), "{:?}", d.findings);
            let Message::Update(u) = d.message else { unreachable!() };
            let inb = decode_update(&u, &from);
            prop_assert_eq!(inb.ignored, 0);
            got_withdrawn.extend(inb.withdrawn.iter().copied());
            for a in inb.announcements() {
                prop_assert!(got.insert(a.nlri, (a.label, a.attrs)).is_none());
            }
        }
        got_withdrawn.sort();
        prop_assert_eq!(got_withdrawn, withdrawn);
        prop_assert_eq!(got.len(), expected.len());
        for (n, (label, attrs)) in &expected {
            let (l, a) = &got[n];
            prop_assert_eq!(l, label);
            // An IPv4 next hop of IPv6 routes is sent IPv4-mapped and read back as IPv4.
            prop_assert_eq!(&**a, &**attrs, "{}", n);
        }
    }
}

/// Ten thousand VPNv4 routes with one attribute set on a 4096-octet session: every message
/// within the limit and nearly full.
#[test]
fn a_large_vpn_table_fills_messages_within_the_limit() {
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.next_hop = NextHop::Addr("192.0.2.1".parse().unwrap());
    a.as_path = AsPath::from_sequence(vec![65001]);
    a.local_pref = Some(100);
    a.ext_communities =
        ExtCommunities::new([ExtCommunity::route_target("65000:1".parse().unwrap())]);
    let attrs = Arc::new(a);
    let rd: RouteDistinguisher = "65000:1".parse().unwrap();
    let ann: Vec<Announcement> = (0..10_000u32)
        .map(|i| Announcement {
            nlri: Nlri::vpn(
                rd,
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0A00_0000 | (i << 8)), 24).unwrap()),
            ),
            label: Some(16 + i),
            attrs: attrs.clone(),
        })
        .collect();
    let withdraw: Vec<Nlri> = ann.iter().take(3000).map(|a| a.nlri).collect();
    let pc = PackContext {
        codec: Context {
            families: FamilySet::all(),
            ..Context::default()
        },
        internal: true,
        link_local: None,
    };
    let packed = pack(Family::Vpnv4, &ann, &withdraw, &pc);
    assert!(packed.unsendable.is_empty());
    let mut routes = 0;
    let n = packed.updates.len();
    for (i, u) in packed.updates.into_iter().enumerate() {
        let bytes = Message::Update(u.clone()).to_bytes(&pc.codec).unwrap();
        assert!(bytes.len() <= 4096);
        if let Some(r) = u.mp_reach() {
            routes += r.nlri.len();
            // Room for less than one more route (15 octets), except in the last message.
            assert!(
                i == n - 1 || bytes.len() + 15 > 4096,
                "{} octets",
                bytes.len()
            );
        }
    }
    assert_eq!(routes, 10_000);
}
