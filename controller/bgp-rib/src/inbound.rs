//! A received UPDATE as routes: wire attributes → one [`policy::Attrs`] per next hop.
//!
//! The codec has already applied RFC 7606 and the session the peer-dependent checks
//! (`bgp::session::inbound`); this module only translates. The translation is still
//! defensive about peer knowledge (LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST from an
//! external peer are ignored here too), so it is correct whatever the caller did before.
//!
//! **Shape of the result.** Attributes appear once per UPDATE, so all the routes announced in
//! one UPDATE share one attribute set — except the next hop: an UPDATE may carry IPv4 routes
//! in its NLRI field (next hop in NEXT_HOP) *and* routes of another family in MP_REACH_NLRI
//! (next hop inside it). [`Inbound::reach`] therefore holds at most two groups, each one
//! `Arc<Attrs>` with its routes, so the caller interns once per group
//! ([`Inbound::intern`]) instead of once per route.

use std::net::IpAddr;
use std::sync::Arc;

use bgp::consts::{attr, flags};
use bgp::{AttrValue, NlriList, Update};
use ipnet::IpNet;
use policy::{
    AsPath, AsSegment, Attrs, Communities, ExtCommunities, ExtCommunity, LargeCommunities,
    LargeCommunity, NextHop, OpaqueAttr, Origin, PeerType, RouteType, SegmentType, SourceProtocol,
};

use crate::{AttrInterner, Nlri};

/// What decoding needs to know about the neighbor an UPDATE came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The neighbor's AS (its member AS for a confederation neighbor); becomes
    /// [`Attrs::peer_as`] (GateD's `proto bgp as N`).
    pub remote_as: u32,
    /// iBGP, eBGP, or eBGP to another member AS of our confederation (which carries
    /// LOCAL_PREF and counts as internal, RFC 5065 §5.2).
    pub peer_type: PeerType,
}

/// Routes announced with one attribute set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    pub attrs: Arc<Attrs>,
    /// Route keys and, for VPN routes, the 20-bit label (the top of the received stack).
    pub routes: Vec<(Nlri, Option<u32>)>,
}

/// One UPDATE as route changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inbound {
    /// At most two groups: the NLRI field's routes, then MP_REACH_NLRI's.
    pub reach: Vec<Reach>,
    /// From the WITHDRAWN field and MP_UNREACH_NLRI, in that order.
    pub withdrawn: Vec<Nlri>,
    /// VPN routes (announced or withdrawn) whose RD has a type other than 0/1/2: the codec
    /// keeps them parseable, but the VPN table cannot key them, so they are left out.
    pub ignored: usize,
}

impl Inbound {
    /// Every announced route with its attributes.
    pub fn announcements(&self) -> impl Iterator<Item = crate::Announcement> + '_ {
        self.reach.iter().flat_map(|r| {
            r.routes.iter().map(|&(nlri, label)| crate::Announcement {
                nlri,
                label,
                attrs: r.attrs.clone(),
            })
        })
    }

    /// Number of announced routes.
    pub fn announced_len(&self) -> usize {
        self.reach.iter().map(|r| r.routes.len()).sum()
    }

    /// Replaces each group's attributes with the interned copy (one lookup per group).
    pub fn intern(&mut self, interner: &mut AttrInterner) {
        for r in &mut self.reach {
            r.attrs = interner.intern_arc(r.attrs.clone());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.reach.iter().all(|r| r.routes.is_empty()) && self.withdrawn.is_empty()
    }
}

/// Translates a decoded UPDATE from `from`.
///
/// * AS_PATH: the codec's RFC 6793 §4.2.3 merge of AS_PATH and AS4_PATH
///   ([`Update::effective_as_path`]), all four segment kinds kept; same for AGGREGATOR.
/// * Next hop: NEXT_HOP for the NLRI field; MP_REACH's for its routes, where the codec has
///   already dropped the zero RD of VPN next hops. Of an IPv6 global + link-local pair the
///   global address is kept (the link-local one only makes sense on the shared link, and the
///   RIB resolves next hops by address). An IPv4-mapped IPv6 next hop (6PE / 6VPE, RFC 4798,
///   RFC 4659 §3.2.1.2) becomes the IPv4 address it stands for.
/// * LOCAL_PREF is taken only from internal and confederation peers (RFC 4271 §5.1.5,
///   RFC 5065 §5.2); ORIGINATOR_ID / CLUSTER_LIST likewise (RFC 4456 §8, RFC 7606 §7.9–7.10).
/// * Optional attributes of types the codec does not know: transitive ones are kept verbatim
///   in [`Attrs::opaque`], to be passed on with the partial bit (RFC 4271 §5); non-transitive
///   ones are dropped (they must not be passed on, and nothing here reads them).
/// * A missing ORIGIN (impossible after the codec's RFC 7606 check) reads as INCOMPLETE,
///   the least preferred value.
/// * Loop checks need our own identity and are left to the caller, on the result: a path
///   with our AS in it ([`crate::as_path_loop`], RFC 4271 §9.1.2) or a reflection loop
///   ([`crate::reflection_loop`], RFC 4456 §8) is to be treated as a withdrawal (kept in a
///   soft-reconfiguration [`crate::AdjRibIn`] all the same, as received).
pub fn decode_update(update: &Update, from: &PeerInfo) -> Inbound {
    let mut out = Inbound::default();
    for p in &update.withdrawn {
        out.withdrawn.push(Nlri::unicast(IpNet::V4(*p)));
    }
    for u in update.mp_unreach() {
        keys(&u.withdrawn, &mut out.ignored, |n, _| out.withdrawn.push(n));
    }

    let reach = update.mp_reach().filter(|m| !m.nlri.is_empty());
    if update.nlri.is_empty() && reach.is_none() {
        return out;
    }
    let base = base_attrs(update, from);
    if !update.nlri.is_empty() {
        let mut a = base.clone();
        a.next_hop = match update.attribute(attr::NEXT_HOP) {
            Some(AttrValue::NextHop(n)) => NextHop::Addr(IpAddr::V4(*n)),
            _ => NextHop::Unspecified,
        };
        out.reach.push(Reach {
            attrs: Arc::new(a),
            routes: update
                .nlri
                .iter()
                .map(|p| (Nlri::unicast(IpNet::V4(*p)), None))
                .collect(),
        });
    }
    if let Some(m) = reach {
        let mut a = base;
        a.next_hop = NextHop::Addr(match m.next_hop {
            bgp::NextHop::V4(v4) => IpAddr::V4(v4),
            bgp::NextHop::V6 { global, .. } => match global.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(global),
            },
        });
        let mut routes = Vec::with_capacity(m.nlri.len());
        keys(&m.nlri, &mut out.ignored, |n, label| {
            routes.push((n, label))
        });
        out.reach.push(Reach {
            attrs: Arc::new(a),
            routes,
        });
    }
    out
}

/// Calls `f` with each route key of `list` and its top label (VPN); counts unusable RDs.
fn keys(list: &NlriList, ignored: &mut usize, mut f: impl FnMut(Nlri, Option<u32>)) {
    match list {
        NlriList::Ipv4(v) => v.iter().for_each(|p| f(Nlri::unicast(IpNet::V4(*p)), None)),
        NlriList::Ipv6(v) => v.iter().for_each(|p| f(Nlri::unicast(IpNet::V6(*p)), None)),
        NlriList::Vpnv4(v) => {
            for p in v {
                vpn_key(p.rd, IpNet::V4(p.prefix), &p.labels, ignored, &mut f)
            }
        }
        NlriList::Vpnv6(v) => {
            for p in v {
                vpn_key(p.rd, IpNet::V6(p.prefix), &p.labels, ignored, &mut f)
            }
        }
    }
}

fn vpn_key(
    rd: bgp::Rd,
    prefix: IpNet,
    labels: &bgp::LabelStack,
    ignored: &mut usize,
    f: &mut impl FnMut(Nlri, Option<u32>),
) {
    match rd.known() {
        Some(rd) => f(
            Nlri::vpn(rd, prefix),
            labels.as_slice().first().map(|l| l.value()),
        ),
        None => *ignored += 1,
    }
}

/// Everything but the next hop.
fn base_attrs(update: &Update, from: &PeerInfo) -> Attrs {
    let internal = from.peer_type != PeerType::Ebgp;
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.route_type = if internal {
        RouteType::Internal
    } else {
        RouteType::External
    };
    a.peer_as = Some(from.remote_as);
    a.origin = Origin::Incomplete;
    a.as_path = update
        .effective_as_path()
        .map(|p| as_path_from_wire(&p))
        .unwrap_or_default();
    a.aggregator = update.effective_aggregator().map(|ag| (ag.asn, ag.addr));
    let mut opaque = Vec::new();
    for pa in &update.attributes {
        match &pa.value {
            AttrValue::Origin(o) => {
                a.origin = match o {
                    bgp::Origin::Igp => Origin::Igp,
                    bgp::Origin::Egp => Origin::Egp,
                    bgp::Origin::Incomplete => Origin::Incomplete,
                }
            }
            AttrValue::Med(m) => a.med = Some(*m),
            AttrValue::LocalPref(lp) if internal => a.local_pref = Some(*lp),
            AttrValue::AtomicAggregate => a.atomic_aggregate = true,
            AttrValue::Communities(cs) => {
                a.communities = Communities::new(cs.iter().map(|c| policy::Community(c.0)))
            }
            AttrValue::ExtCommunities(cs) => {
                a.ext_communities =
                    ExtCommunities::new(cs.iter().map(|c| ExtCommunity(c.to_bytes())))
            }
            AttrValue::LargeCommunities(cs) => {
                a.large_communities = LargeCommunities::new(cs.iter().map(|c| LargeCommunity {
                    global: c.global,
                    local1: c.local1,
                    local2: c.local2,
                }))
            }
            AttrValue::OriginatorId(id) if internal => a.originator_id = Some(*id),
            AttrValue::ClusterList(ids) if internal => a.cluster_list = ids.clone(),
            AttrValue::Unknown { type_code, value } if pa.flags & flags::TRANSITIVE != 0 => opaque
                .push(OpaqueAttr {
                    flags: pa.flags,
                    type_code: *type_code,
                    value: value.as_slice().into(),
                }),
            _ => {}
        }
    }
    if !opaque.is_empty() {
        a.opaque = Some(opaque.into());
    }
    a
}

/// The codec's AS path as policy's (same four segment kinds, 4-octet numbers).
pub(crate) fn as_path_from_wire(p: &bgp::AsPath) -> AsPath {
    AsPath::new(
        p.segments
            .iter()
            .map(|s| AsSegment {
                kind: match s.kind {
                    bgp::SegmentKind::Sequence => SegmentType::Sequence,
                    bgp::SegmentKind::Set => SegmentType::Set,
                    bgp::SegmentKind::ConfedSequence => SegmentType::ConfedSequence,
                    bgp::SegmentKind::ConfedSet => SegmentType::ConfedSet,
                },
                asns: s.asns.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp::{
        Aggregator, Community, Label, LabelStack, MpReach, MpUnreach, PathAttribute, Rd, VpnPrefix,
    };
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn pa(v: AttrValue) -> PathAttribute {
        PathAttribute::new(v)
    }

    const EBGP: PeerInfo = PeerInfo {
        remote_as: 65002,
        peer_type: PeerType::Ebgp,
    };
    const IBGP: PeerInfo = PeerInfo {
        remote_as: 65000,
        peer_type: PeerType::Ibgp,
    };

    fn full_update() -> Update {
        Update {
            withdrawn: vec!["10.9.0.0/16".parse().unwrap()],
            attributes: vec![
                pa(AttrValue::Origin(bgp::Origin::Egp)),
                pa(AttrValue::AsPath(bgp::AsPath {
                    segments: vec![
                        bgp::AsSegment {
                            kind: bgp::SegmentKind::ConfedSequence,
                            asns: vec![65100],
                        },
                        bgp::AsSegment {
                            kind: bgp::SegmentKind::Sequence,
                            asns: vec![65002, 65003],
                        },
                        bgp::AsSegment {
                            kind: bgp::SegmentKind::Set,
                            asns: vec![65005, 65004],
                        },
                    ],
                })),
                pa(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
                pa(AttrValue::Med(7)),
                pa(AttrValue::LocalPref(300)),
                pa(AttrValue::AtomicAggregate),
                pa(AttrValue::Aggregator(Aggregator {
                    asn: 65003,
                    addr: Ipv4Addr::new(192, 0, 2, 3),
                })),
                pa(AttrValue::Communities(vec![
                    Community::NO_EXPORT,
                    Community::new(65002, 1),
                ])),
                pa(AttrValue::OriginatorId(Ipv4Addr::new(1, 1, 1, 1))),
                pa(AttrValue::ClusterList(vec![Ipv4Addr::new(2, 2, 2, 2)])),
                pa(AttrValue::ExtCommunities(vec![
                    bgp::ExtCommunity::RouteTarget("65000:1".parse().unwrap()),
                ])),
                pa(AttrValue::LargeCommunities(vec![bgp::LargeCommunity {
                    global: 1,
                    local1: 2,
                    local2: 3,
                }])),
            ],
            nlri: vec![
                "10.1.0.0/16".parse().unwrap(),
                "10.2.0.0/16".parse().unwrap(),
            ],
        }
    }

    #[test]
    fn every_attribute_is_mapped_from_an_internal_peer() {
        let inb = decode_update(&full_update(), &IBGP);
        assert_eq!(
            inb.withdrawn,
            vec![Nlri::unicast("10.9.0.0/16".parse().unwrap())]
        );
        assert_eq!(inb.reach.len(), 1);
        assert_eq!(inb.announced_len(), 2);
        let a = &inb.reach[0].attrs;
        assert_eq!(a.source, SourceProtocol::Bgp);
        assert_eq!(a.route_type, RouteType::Internal);
        assert_eq!(a.peer_as, Some(65000));
        assert_eq!(a.origin, Origin::Egp);
        assert_eq!(a.as_path.text(), "(65100) 65002 65003 {65005,65004}");
        assert_eq!(a.next_hop, NextHop::Addr("192.0.2.1".parse().unwrap()));
        assert_eq!(a.med, Some(7));
        assert_eq!(a.local_pref, Some(300));
        assert!(a.atomic_aggregate);
        assert_eq!(a.aggregator, Some((65003, Ipv4Addr::new(192, 0, 2, 3))));
        assert_eq!(a.communities.text(), "65002:1 65535:65281");
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(1, 1, 1, 1)));
        assert_eq!(a.cluster_list, vec![Ipv4Addr::new(2, 2, 2, 2)]);
        assert_eq!(a.ext_communities.text(), "RT:65000:1");
        assert_eq!(a.large_communities.text(), "1:2:3");
    }

    /// RFC 4271 §5 / §9.1.2.2 on the wire: an unknown optional transitive attribute comes in
    /// (one long enough to need the extended length), is kept with the route and goes out to
    /// the next peer with the partial bit set and the same value; an unknown optional
    /// non-transitive one is not passed on.
    #[test]
    fn unknown_optional_transitive_attributes_are_passed_on_partial_non_transitive_dropped() {
        use crate::{pack, Announcement, PackContext};
        use bgp::consts::flags::{EXTENDED_LENGTH, OPTIONAL, PARTIAL, TRANSITIVE};
        use bgp::{Context, Message};

        let long: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let mut u = full_update();
        u.attributes.push(PathAttribute {
            flags: OPTIONAL | TRANSITIVE | EXTENDED_LENGTH,
            value: AttrValue::Unknown {
                type_code: 0xF0,
                value: long.clone(),
            },
        });
        u.attributes.push(PathAttribute {
            flags: OPTIONAL,
            value: AttrValue::Unknown {
                type_code: 0xF1,
                value: vec![1, 2, 3, 4],
            },
        });
        let ctx = Context::all();
        let wire = Message::Update(u).to_bytes(&ctx).unwrap();
        let Message::Update(received) = Message::decode(&wire, &ctx).unwrap().message else {
            panic!("not an UPDATE");
        };

        let inb = decode_update(&received, &EBGP);
        let opaque = inb.reach[0].attrs.opaque.as_deref().expect("kept");
        assert_eq!(opaque.len(), 1, "the non-transitive one is not kept");
        assert_eq!((opaque[0].type_code, &*opaque[0].value), (0xF0, &long[..]));

        let announce: Vec<Announcement> = inb.reach[0]
            .routes
            .iter()
            .map(|(nlri, _)| Announcement {
                nlri: *nlri,
                label: None,
                attrs: inb.reach[0].attrs.clone(),
            })
            .collect();
        let ctx_out = PackContext {
            codec: ctx,
            internal: false,
            link_local: None,
        };
        let packed = pack(bgp::Family::Ipv4Unicast, &announce, &[], &ctx_out);
        assert!(packed.unsendable.is_empty());
        let wire = Message::Update(packed.updates[0].clone())
            .to_bytes(&ctx)
            .unwrap();
        let Message::Update(sent) = Message::decode(&wire, &ctx).unwrap().message else {
            panic!("not an UPDATE");
        };
        let unknown: Vec<(u8, u8, &[u8])> = sent
            .attributes
            .iter()
            .filter_map(|a| match &a.value {
                AttrValue::Unknown { type_code, value } => Some((a.flags, *type_code, &value[..])),
                _ => None,
            })
            .collect();
        assert_eq!(
            unknown,
            vec![(
                OPTIONAL | TRANSITIVE | PARTIAL | EXTENDED_LENGTH,
                0xF0,
                &long[..]
            )]
        );
        // A route without such attributes allocates nothing for them.
        assert!(decode_update(&full_update(), &EBGP).reach[0]
            .attrs
            .opaque
            .is_none());
    }

    #[test]
    fn external_peer_local_pref_and_reflection_attributes_are_ignored() {
        let inb = decode_update(&full_update(), &EBGP);
        let a = &inb.reach[0].attrs;
        assert_eq!(a.route_type, RouteType::External);
        assert_eq!(a.local_pref, None);
        assert_eq!(a.originator_id, None);
        assert!(a.cluster_list.is_empty());
        // A confederation peer is internal for LOCAL_PREF.
        let confed = PeerInfo {
            remote_as: 65101,
            peer_type: PeerType::ConfedEbgp { member_as: 65101 },
        };
        let a = decode_update(&full_update(), &confed).reach[0]
            .attrs
            .clone();
        assert_eq!(
            (a.route_type, a.local_pref),
            (RouteType::Internal, Some(300))
        );
    }

    #[test]
    fn two_octet_session_paths_are_merged_with_as4_path() {
        let mut u = full_update();
        u.attributes
            .retain(|a| !matches!(a.value, AttrValue::AsPath(_) | AttrValue::Aggregator(_)));
        u.attributes
            .push(pa(AttrValue::AsPath(bgp::AsPath::sequence(&[
                65002, 23456,
            ]))));
        u.attributes
            .push(pa(AttrValue::As4Path(bgp::AsPath::sequence(&[
                4_200_000_001,
            ]))));
        u.attributes.push(pa(AttrValue::Aggregator(Aggregator {
            asn: 23456,
            addr: Ipv4Addr::new(192, 0, 2, 9),
        })));
        u.attributes.push(pa(AttrValue::As4Aggregator(Aggregator {
            asn: 4_200_000_001,
            addr: Ipv4Addr::new(192, 0, 2, 9),
        })));
        let a = decode_update(&u, &EBGP).reach[0].attrs.clone();
        assert_eq!(a.as_path.text(), "65002 4200000001");
        assert_eq!(
            a.aggregator,
            Some((4_200_000_001, Ipv4Addr::new(192, 0, 2, 9)))
        );
    }

    #[test]
    fn mp_reach_gets_its_own_next_hop_group_and_labels() {
        let rd: vpn_types::RouteDistinguisher = "65000:7".parse().unwrap();
        let mut u = full_update();
        u.attributes.insert(
            0,
            pa(AttrValue::MpReach(MpReach {
                next_hop: bgp::NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: NlriList::Vpnv6(vec![
                    VpnPrefix {
                        labels: LabelStack::single(16001),
                        rd: rd.into(),
                        prefix: "2001:db8:1::/48".parse().unwrap(),
                    },
                    VpnPrefix {
                        labels: LabelStack::single(5),
                        rd: Rd::Unknown {
                            type_code: 7,
                            value: [0; 6],
                        },
                        prefix: "2001:db8:2::/48".parse().unwrap(),
                    },
                ]),
            })),
        );
        u.attributes.push(pa(AttrValue::MpUnreach(MpUnreach {
            withdrawn: NlriList::Vpnv4(vec![VpnPrefix {
                labels: {
                    let mut s = LabelStack::default();
                    s.push(Label::WITHDRAW);
                    s
                },
                rd: rd.into(),
                prefix: "10.0.0.0/8".parse().unwrap(),
            }]),
        })));
        let inb = decode_update(&u, &IBGP);
        assert_eq!(inb.reach.len(), 2);
        assert_eq!(inb.ignored, 1);
        let v6 = &inb.reach[1];
        assert_eq!(
            v6.attrs.next_hop,
            NextHop::Addr(IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()))
        );
        assert_eq!(
            v6.routes,
            vec![(
                Nlri::vpn(rd, "2001:db8:1::/48".parse().unwrap()),
                Some(16001)
            )]
        );
        // Same attributes apart from the next hop.
        let mut same = (*inb.reach[0].attrs).clone();
        same.next_hop = v6.attrs.next_hop;
        assert_eq!(same, *v6.attrs);
        assert_eq!(
            inb.withdrawn[1],
            Nlri::vpn(rd, "10.0.0.0/8".parse().unwrap())
        );
    }

    #[test]
    fn ipv4_mapped_next_hop_becomes_ipv4_and_pure_withdrawals_have_no_attrs() {
        let u = Update {
            withdrawn: vec![],
            attributes: vec![
                pa(AttrValue::MpReach(MpReach {
                    next_hop: bgp::NextHop::V6 {
                        global: Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped(),
                        link_local: None,
                    },
                    nlri: NlriList::Ipv6(vec!["2001:db8::/32".parse().unwrap()]),
                })),
                pa(AttrValue::Origin(bgp::Origin::Igp)),
                pa(AttrValue::AsPath(bgp::AsPath::default())),
            ],
            nlri: vec![],
        };
        let inb = decode_update(&u, &IBGP);
        assert_eq!(
            inb.reach[0].attrs.next_hop,
            NextHop::Addr("192.0.2.7".parse().unwrap())
        );
        assert!(inb.reach[0].attrs.as_path.is_empty());
        let w = Update {
            withdrawn: vec!["10.0.0.0/8".parse().unwrap()],
            ..Update::default()
        };
        let inb = decode_update(&w, &IBGP);
        assert!(inb.reach.is_empty());
        assert_eq!(inb.withdrawn.len(), 1);
    }
}
