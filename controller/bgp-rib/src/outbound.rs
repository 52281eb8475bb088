//! Packing routes into UPDATE messages.
//!
//! An UPDATE carries one attribute set and any number of prefixes, so routes are grouped by
//! identical attributes (pointer first, then value — interned sets group for free) and each
//! group fills as many messages as its prefixes need, each as full as the session's maximum
//! message size allows (4096 octets, 65535 with RFC 8654 extended messages). IPv4 unicast
//! uses the classic WITHDRAWN / NLRI fields and NEXT_HOP; the other families use
//! MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), placed first among the attributes as RFC 7606
//! §5.1 asks.
//!
//! Sizes are computed, not guessed: the attribute set is encoded once with the session's
//! codec context (which adds AS4_PATH / AS4_AGGREGATOR for a 2-octet peer), and each prefix
//! adds its exact wire length; MP attribute headers are counted with the 2-octet (extended)
//! length, so the estimate can only be high by one octet. Tests encode every produced UPDATE
//! with the codec and check its length.
//!
//! What is *not* here: End-of-RIB (the session's job) and deciding what to send (the export
//! step): the attributes given are sent as they are, minus what never crosses this session —
//! LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST go only to internal (iBGP or confederation)
//! peers; weight and tag never leave the router.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use bgp::consts::flags;
use bgp::{
    Aggregator, AttrValue, Context, Family, LabelStack, Message, MpReach, MpUnreach, NlriList,
    PathAttribute, Update, VpnPrefix,
};
use ipnet::IpNet;
use policy::{Attrs, NextHop, Origin, SegmentType};

use crate::{Announcement, Nlri};

/// What packing needs to know about the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackContext {
    /// The negotiated codec context: 4-octet AS (else AS_TRANS + AS4_PATH are written) and
    /// extended messages (the size limit).
    pub codec: Context,
    /// iBGP or confederation-eBGP: LOCAL_PREF (and, for route reflection, ORIGINATOR_ID /
    /// CLUSTER_LIST) are sent.
    pub internal: bool,
    /// Our link-local address on a link shared with the peer: added after the global IPv6
    /// next hop (RFC 2545 §3). `None` for multihop and iBGP sessions.
    pub link_local: Option<Ipv6Addr>,
}

impl PackContext {
    /// Largest UPDATE this session may carry.
    pub fn max_len(&self) -> usize {
        self.codec.max_message_len()
    }
}

/// Why a route could not be packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("the route is not of the family being packed")]
    WrongFamily,
    #[error("no next hop address (unspecified or the unresolved `self` marker)")]
    NoNextHop,
    #[error("an IPv6 next hop for IPv4 routes needs RFC 8950, which is not negotiated")]
    NextHopFamily,
    #[error("a VPN route needs a label")]
    NoLabel,
    #[error("the attribute set does not fit in one message with even one prefix")]
    AttributesTooLarge,
}

/// The result of [`pack`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Withdrawal-only UPDATEs first, then announcements.
    pub updates: Vec<Update>,
    /// Routes that could not be sent, and why. Announcements refused for any reason but
    /// [`PackError::WrongFamily`] are *withdrawn* in `updates` instead: an older version of
    /// the route may have been advertised, and the peer must not keep it as if it were
    /// current.
    pub unsendable: Vec<(Nlri, PackError)>,
}

/// Routes sharing one attribute set: the set, and keys with their labels.
type Group<'a> = (&'a Arc<Attrs>, Vec<(Nlri, Option<u32>)>);

/// Octets every UPDATE has: header, withdrawn-routes length, total-attribute length.
const FIXED: usize = 19 + 2 + 2;
/// MP attribute header (flags, type, 2-octet length) plus AFI/SAFI.
const MP_HEADER: usize = 4 + 3;

/// Packs `announcements` and `withdrawals` of `family` into UPDATEs for one session.
///
/// Withdrawals come first, so that a key given in both lists ends up announced.
/// Announcements are grouped by attribute set in order of first appearance; prefixes keep
/// their order within a group.
pub fn pack(
    family: Family,
    announcements: &[Announcement],
    withdrawals: &[Nlri],
    ctx: &PackContext,
) -> Packed {
    let mut out = Packed::default();
    let mut withdraw: Vec<Nlri> = Vec::with_capacity(withdrawals.len());
    for n in withdrawals {
        if n.family() == family {
            withdraw.push(*n);
        } else {
            out.unsendable.push((*n, PackError::WrongFamily));
        }
    }

    // Group by attribute set: pointer lookup first, value hash only for new pointers.
    let mut by_ptr: HashMap<*const Attrs, usize> = HashMap::new();
    // `Attrs` caches its text forms in a `OnceLock`, which equality and hashing ignore.
    #[allow(clippy::mutable_key_type)]
    let mut by_value: HashMap<&Attrs, usize> = HashMap::new();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for a in announcements {
        if a.nlri.family() != family {
            out.unsendable.push((a.nlri, PackError::WrongFamily));
            continue;
        }
        let idx = match by_ptr.get(&Arc::as_ptr(&a.attrs)) {
            Some(&i) => i,
            None => {
                let i = *by_value.entry(&a.attrs).or_insert_with(|| {
                    groups.push((&a.attrs, Vec::new()));
                    groups.len() - 1
                });
                by_ptr.insert(Arc::as_ptr(&a.attrs), i);
                i
            }
        };
        if let Some(g) = groups.get_mut(idx) {
            g.1.push((a.nlri, a.label));
        }
    }

    let mut announce_updates = Vec::new();
    for (attrs, routes) in groups {
        match pack_group(family, attrs, &routes, ctx, &mut announce_updates) {
            Ok(unlabelled) => {
                for n in unlabelled {
                    out.unsendable.push((n, PackError::NoLabel));
                    withdraw.push(n);
                }
            }
            Err(e) => {
                for (n, _) in routes {
                    out.unsendable.push((n, e));
                    withdraw.push(n);
                }
            }
        }
    }
    pack_withdrawals(family, &withdraw, ctx, &mut out.updates);
    out.updates.extend(announce_updates);
    out
}

/// Wire length of one prefix in an NLRI field (VPN: one label and the RD).
fn nlri_len(n: &Nlri) -> usize {
    let bytes = usize::from(n.prefix().prefix_len()).div_ceil(8);
    match n {
        Nlri::Unicast(_) => 1 + bytes,
        Nlri::Vpn { .. } => 1 + 3 + 8 + bytes,
    }
}

/// Packs one attribute group; returns the VPN routes left out for lack of a label.
fn pack_group(
    family: Family,
    attrs: &Attrs,
    routes: &[(Nlri, Option<u32>)],
    ctx: &PackContext,
    out: &mut Vec<Update>,
) -> Result<Vec<Nlri>, PackError> {
    let plain = path_attributes(attrs, family, ctx)?;
    // Encode the attribute set once to learn its exact size for this session.
    let probe = Message::Update(Update {
        withdrawn: Vec::new(),
        attributes: plain.clone(),
        nlri: Vec::new(),
    });
    let attrs_len = probe
        .to_bytes(&ctx.codec)
        .map_err(|_| PackError::AttributesTooLarge)?
        .len()
        - FIXED;
    let next_hop = if family == Family::Ipv4Unicast {
        None
    } else {
        Some(mp_next_hop(attrs.next_hop, family, ctx)?)
    };
    let overhead =
        FIXED + attrs_len + next_hop.map_or(0, |nh| MP_HEADER + 1 + next_hop_len(&nh, family) + 1);
    let budget = ctx.max_len().saturating_sub(overhead);

    let mut unlabelled = Vec::new();
    let mut chunk: Vec<(Nlri, Option<u32>)> = Vec::new();
    let mut used = 0;
    let flush = |chunk: &mut Vec<(Nlri, Option<u32>)>, out: &mut Vec<Update>| {
        if chunk.is_empty() {
            return;
        }
        let mut update = Update {
            withdrawn: Vec::new(),
            attributes: Vec::with_capacity(plain.len() + 1),
            nlri: Vec::new(),
        };
        match next_hop {
            None => {
                update.nlri = chunk
                    .iter()
                    .filter_map(|(n, _)| match n.prefix() {
                        IpNet::V4(p) => Some(p),
                        IpNet::V6(_) => None,
                    })
                    .collect();
            }
            Some(nh) => {
                let mut list = NlriList::empty(family);
                for &(n, label) in chunk.iter() {
                    push_nlri(&mut list, n, label.map(LabelStack::single));
                }
                update
                    .attributes
                    .push(PathAttribute::new(AttrValue::MpReach(MpReach {
                        next_hop: nh,
                        nlri: list,
                    })));
            }
        }
        update.attributes.extend(plain.iter().cloned());
        out.push(update);
        chunk.clear();
    };
    for &(n, label) in routes {
        if family.is_vpn() && label.is_none() {
            unlabelled.push(n);
            continue;
        }
        let len = nlri_len(&n);
        if len > budget {
            return Err(PackError::AttributesTooLarge);
        }
        if used + len > budget {
            flush(&mut chunk, out);
            used = 0;
        }
        chunk.push((n, label));
        used += len;
    }
    flush(&mut chunk, out);
    Ok(unlabelled)
}

/// Withdrawal-only UPDATEs: the WITHDRAWN field for IPv4 unicast, MP_UNREACH_NLRI otherwise
/// (VPN prefixes with the RFC 8277 §2.4 compatibility label 0x800000).
fn pack_withdrawals(family: Family, withdraw: &[Nlri], ctx: &PackContext, out: &mut Vec<Update>) {
    let budget = ctx.max_len()
        - FIXED
        - if family == Family::Ipv4Unicast {
            0
        } else {
            MP_HEADER
        };
    for chunk in chunks(withdraw, budget) {
        let mut update = Update::default();
        if family == Family::Ipv4Unicast {
            update.withdrawn = chunk
                .iter()
                .filter_map(|n| match n.prefix() {
                    IpNet::V4(p) => Some(p),
                    IpNet::V6(_) => None,
                })
                .collect();
        } else {
            let mut list = NlriList::empty(family);
            for &n in chunk {
                push_nlri(&mut list, n, Some(LabelStack::withdraw()));
            }
            update
                .attributes
                .push(PathAttribute::new(AttrValue::MpUnreach(MpUnreach {
                    withdrawn: list,
                })));
        }
        out.push(update);
    }
}

/// Splits `nlri` into runs whose wire length fits `budget`.
fn chunks(nlri: &[Nlri], budget: usize) -> Vec<&[Nlri]> {
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, n) in nlri.iter().enumerate() {
        let len = nlri_len(n);
        if used + len > budget && i > start {
            out.push(&nlri[start..i]);
            start = i;
            used = 0;
        }
        used += len;
    }
    if start < nlri.len() {
        out.push(&nlri[start..]);
    }
    out
}

/// Appends a key to a list of its family (keys of another family are skipped; callers have
/// filtered them).
fn push_nlri(list: &mut NlriList, n: Nlri, labels: Option<LabelStack>) {
    match (list, n) {
        (NlriList::Ipv4(v), Nlri::Unicast(IpNet::V4(p))) => v.push(p),
        (NlriList::Ipv6(v), Nlri::Unicast(IpNet::V6(p))) => v.push(p),
        (
            NlriList::Vpnv4(v),
            Nlri::Vpn {
                rd,
                prefix: IpNet::V4(p),
            },
        ) => v.push(VpnPrefix {
            labels: labels.unwrap_or_else(LabelStack::withdraw),
            rd: rd.into(),
            prefix: p,
        }),
        (
            NlriList::Vpnv6(v),
            Nlri::Vpn {
                rd,
                prefix: IpNet::V6(p),
            },
        ) => v.push(VpnPrefix {
            labels: labels.unwrap_or_else(LabelStack::withdraw),
            rd: rd.into(),
            prefix: p,
        }),
        _ => {}
    }
}

/// The MP_REACH next hop for `family`. An IPv4 next hop of IPv6 routes is sent IPv4-mapped
/// (6PE / 6VPE: RFC 4798, RFC 4659 §3.2.1.2); the zero RD of VPN next hops is the codec's.
fn mp_next_hop(nh: NextHop, family: Family, ctx: &PackContext) -> Result<bgp::NextHop, PackError> {
    let addr = nh.addr().ok_or(PackError::NoNextHop)?;
    Ok(match (addr, family.is_ipv6()) {
        (IpAddr::V4(a), false) => bgp::NextHop::V4(a),
        (IpAddr::V4(a), true) => bgp::NextHop::V6 {
            global: a.to_ipv6_mapped(),
            link_local: None,
        },
        (IpAddr::V6(g), true) => bgp::NextHop::V6 {
            global: g,
            link_local: ctx.link_local,
        },
        (IpAddr::V6(_), false) => return Err(PackError::NextHopFamily),
    })
}

fn next_hop_len(nh: &bgp::NextHop, family: Family) -> usize {
    let rd = if family.is_vpn() { 8 } else { 0 };
    match nh {
        bgp::NextHop::V4(_) => rd + 4,
        bgp::NextHop::V6 {
            link_local: None, ..
        } => rd + 16,
        bgp::NextHop::V6 { .. } => 2 * (rd + 16),
    }
}

/// The path attributes other than MP_REACH_NLRI, in type-code order.
fn path_attributes(
    a: &Attrs,
    family: Family,
    ctx: &PackContext,
) -> Result<Vec<PathAttribute>, PackError> {
    let mut v = Vec::with_capacity(8);
    let mut push = |value| v.push(PathAttribute::new(value));
    push(AttrValue::Origin(match a.origin {
        Origin::Igp => bgp::Origin::Igp,
        Origin::Egp => bgp::Origin::Egp,
        Origin::Incomplete => bgp::Origin::Incomplete,
    }));
    push(AttrValue::AsPath(as_path_to_wire(&a.as_path)));
    if family == Family::Ipv4Unicast {
        match a.next_hop.addr() {
            Some(IpAddr::V4(n)) => push(AttrValue::NextHop(n)),
            Some(IpAddr::V6(_)) => return Err(PackError::NextHopFamily),
            None => return Err(PackError::NoNextHop),
        }
    }
    if let Some(m) = a.med {
        push(AttrValue::Med(m));
    }
    if ctx.internal {
        if let Some(lp) = a.local_pref {
            push(AttrValue::LocalPref(lp));
        }
    }
    if a.atomic_aggregate {
        push(AttrValue::AtomicAggregate);
    }
    if let Some((asn, addr)) = a.aggregator {
        push(AttrValue::Aggregator(Aggregator { asn, addr }));
    }
    if !a.communities.is_empty() {
        push(AttrValue::Communities(
            a.communities.iter().map(|c| bgp::Community(c.0)).collect(),
        ));
    }
    if ctx.internal {
        if let Some(id) = a.originator_id {
            push(AttrValue::OriginatorId(id));
        }
        if !a.cluster_list.is_empty() {
            push(AttrValue::ClusterList(a.cluster_list.clone()));
        }
    }
    if !a.ext_communities.is_empty() {
        push(AttrValue::ExtCommunities(
            a.ext_communities
                .iter()
                .map(|c| bgp::ExtCommunity::from_raw(c.0))
                .collect(),
        ));
    }
    if !a.large_communities.is_empty() {
        push(AttrValue::LargeCommunities(
            a.large_communities
                .iter()
                .map(|c| bgp::LargeCommunity {
                    global: c.global,
                    local1: c.local1,
                    local2: c.local2,
                })
                .collect(),
        ));
    }
    // Received optional transitive attributes we do not interpret go on, marked partial
    // (RFC 4271 §5: "the Partial bit ... MUST be set to 1" by a router passing one on).
    for o in a.opaque.iter().flat_map(|o| o.iter()) {
        v.push(PathAttribute {
            flags: (o.flags & !flags::EXTENDED_LENGTH) | flags::PARTIAL,
            value: AttrValue::Unknown {
                type_code: o.type_code,
                value: o.value.to_vec(),
            },
        });
    }
    Ok(v)
}

/// Policy's AS path in wire form; a segment longer than the one-octet count allows (255) is
/// split into consecutive segments of the same kind.
fn as_path_to_wire(p: &policy::AsPath) -> bgp::AsPath {
    let mut segments = Vec::with_capacity(p.segments().len());
    for s in p.segments() {
        let kind = match s.kind {
            SegmentType::Sequence => bgp::SegmentKind::Sequence,
            SegmentType::Set => bgp::SegmentKind::Set,
            SegmentType::ConfedSequence => bgp::SegmentKind::ConfedSequence,
            SegmentType::ConfedSet => bgp::SegmentKind::ConfedSet,
        };
        for c in s.asns.chunks(policy::route::MAX_SEGMENT_LEN) {
            segments.push(bgp::AsSegment {
                kind,
                asns: c.to_vec(),
            });
        }
    }
    bgp::AsPath { segments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{AsPath, AsSegment, Communities, Community, SourceProtocol};
    use std::net::Ipv4Addr;

    fn ctx(internal: bool) -> PackContext {
        PackContext {
            codec: Context::all(),
            internal,
            link_local: None,
        }
    }

    fn attrs(nh: &str) -> Arc<Attrs> {
        let mut a = Attrs::new(SourceProtocol::Bgp);
        a.next_hop = NextHop::Addr(nh.parse().unwrap());
        a.as_path = AsPath::from_sequence(vec![65001]);
        a.local_pref = Some(100);
        a.weight = 7;
        a.tag = 9;
        a.originator_id = Some(Ipv4Addr::new(1, 1, 1, 1));
        a.cluster_list = vec![Ipv4Addr::new(2, 2, 2, 2)];
        Arc::new(a)
    }

    fn v4(i: u32, len: u8) -> Nlri {
        Nlri::unicast(IpNet::V4(
            ipnet::Ipv4Net::new(Ipv4Addr::from(0x0A00_0000 | (i << 8)), len).unwrap(),
        ))
    }

    fn encoded(u: &Update, c: &PackContext) -> usize {
        Message::Update(u.clone()).to_bytes(&c.codec).unwrap().len()
    }

    #[test]
    fn ipv4_uses_classic_fields_and_internal_only_attributes_follow_the_session() {
        let a = attrs("192.0.2.1");
        let ann: Vec<Announcement> = (0..3)
            .map(|i| Announcement {
                nlri: v4(i, 24),
                label: None,
                attrs: a.clone(),
            })
            .collect();
        let p = pack(Family::Ipv4Unicast, &ann, &[v4(9, 24)], &ctx(false));
        assert!(p.unsendable.is_empty());
        assert_eq!(p.updates.len(), 2);
        assert_eq!(p.updates[0].withdrawn.len(), 1);
        assert!(p.updates[0].attributes.is_empty());
        let u = &p.updates[1];
        assert_eq!(u.nlri.len(), 3);
        let types: Vec<u8> = u.attributes.iter().map(|a| a.type_code()).collect();
        // ORIGIN, AS_PATH, NEXT_HOP: no LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST to eBGP.
        assert_eq!(types, vec![1, 2, 3]);
        let p = pack(Family::Ipv4Unicast, &ann, &[], &ctx(true));
        let types: Vec<u8> = p.updates[0]
            .attributes
            .iter()
            .map(|a| a.type_code())
            .collect();
        assert_eq!(types, vec![1, 2, 3, 5, 9, 10]);
    }

    #[test]
    fn many_prefixes_fill_messages_up_to_the_limit_and_no_further() {
        for extended in [false, true] {
            let mut c = ctx(true);
            c.codec.extended_message = extended;
            let a = attrs("192.0.2.1");
            let ann: Vec<Announcement> = (0..20_000)
                .map(|i| Announcement {
                    nlri: v4(i, 24),
                    label: None,
                    attrs: a.clone(),
                })
                .collect();
            let withdraw: Vec<Nlri> = (0..5000).map(|i| v4(i, 32)).collect();
            let p = pack(Family::Ipv4Unicast, &ann, &withdraw, &c);
            let total: usize = p.updates.iter().map(|u| u.nlri.len()).sum();
            assert_eq!(total, 20_000);
            let wtotal: usize = p.updates.iter().map(|u| u.withdrawn.len()).sum();
            assert_eq!(wtotal, 5000);
            for u in &p.updates {
                let len = encoded(u, &c);
                assert!(len <= c.max_len());
                // Full except the last of each kind: no room left for one more prefix.
                assert!(
                    len + 5 > c.max_len()
                        || u == p.updates.last().unwrap()
                        || !u.withdrawn.is_empty()
                );
            }
        }
    }

    #[test]
    fn groups_by_value_when_pointers_differ() {
        let ann: Vec<Announcement> = (0..4)
            .map(|i| Announcement {
                nlri: v4(i, 24),
                label: None,
                attrs: attrs(if i % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" }),
            })
            .collect();
        let p = pack(Family::Ipv4Unicast, &ann, &[], &ctx(true));
        assert_eq!(p.updates.len(), 2);
        assert_eq!(p.updates[0].nlri.len(), 2);
    }

    #[test]
    fn vpn_routes_carry_labels_and_withdrawals_the_compatibility_label() {
        let rd: vpn_types::RouteDistinguisher = "65000:1".parse().unwrap();
        let n = Nlri::vpn(rd, "10.1.0.0/16".parse().unwrap());
        let ann = [
            Announcement {
                nlri: n,
                label: Some(16001),
                attrs: attrs("192.0.2.1"),
            },
            Announcement {
                nlri: Nlri::vpn(rd, "10.2.0.0/16".parse().unwrap()),
                label: None,
                attrs: attrs("192.0.2.1"),
            },
        ];
        let p = pack(Family::Vpnv4, &ann, &[n], &ctx(true));
        assert_eq!(
            p.unsendable,
            vec![(
                Nlri::vpn(rd, "10.2.0.0/16".parse().unwrap()),
                PackError::NoLabel
            )]
        );
        let Some(AttrValue::MpUnreach(w)) = p.updates[0].attributes.first().map(|a| &a.value)
        else {
            panic!("{:?}", p.updates[0])
        };
        let NlriList::Vpnv4(w) = &w.withdrawn else {
            panic!()
        };
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].labels.as_slice()[0].raw(), 0x80_0000);
        let reach = p.updates[1].mp_reach().unwrap();
        assert_eq!(
            reach.next_hop,
            bgp::NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        let NlriList::Vpnv4(r) = &reach.nlri else {
            panic!()
        };
        assert_eq!(r[0].labels.as_slice()[0].value(), 16001);
        assert!(r[0].labels.as_slice()[0].bottom_of_stack());
        // MP_REACH first.
        assert_eq!(p.updates[1].attributes[0].type_code(), 14);
    }

    #[test]
    fn unsendable_routes_are_reported_and_withdrawn() {
        let mut a = (*attrs("192.0.2.1")).clone();
        a.next_hop = NextHop::SelfAddress;
        let ann = [Announcement {
            nlri: v4(1, 24),
            label: None,
            attrs: Arc::new(a.clone()),
        }];
        let p = pack(Family::Ipv4Unicast, &ann, &[], &ctx(true));
        assert_eq!(p.unsendable, vec![(v4(1, 24), PackError::NoNextHop)]);
        assert_eq!(p.updates.len(), 1);
        assert_eq!(p.updates[0].withdrawn.len(), 1);
        // Attributes too large for a 4096-octet message: 1100 communities.
        a.next_hop = NextHop::Addr("192.0.2.1".parse().unwrap());
        a.communities = Communities::new((0..1100).map(Community));
        let ann = [Announcement {
            nlri: v4(1, 24),
            label: None,
            attrs: Arc::new(a),
        }];
        let mut c = ctx(true);
        c.codec.extended_message = false;
        let p = pack(Family::Ipv4Unicast, &ann, &[], &c);
        assert_eq!(
            p.unsendable,
            vec![(v4(1, 24), PackError::AttributesTooLarge)]
        );
        // With extended messages it fits.
        c.codec.extended_message = true;
        let p = pack(Family::Ipv4Unicast, &ann, &[], &c);
        assert!(p.unsendable.is_empty());
        // The wrong family is refused; an IPv6 next hop for IPv4 too.
        let p = pack(Family::Ipv6Unicast, &ann, &[], &c);
        assert_eq!(p.unsendable, vec![(v4(1, 24), PackError::WrongFamily)]);
        let ann = [Announcement {
            nlri: v4(1, 24),
            label: None,
            attrs: attrs("2001:db8::1"),
        }];
        let p = pack(Family::Ipv4Unicast, &ann, &[], &c);
        assert_eq!(p.unsendable, vec![(v4(1, 24), PackError::NextHopFamily)]);
    }

    #[test]
    fn ipv6_next_hops_are_global_plus_link_local_or_ipv4_mapped() {
        let mut c = ctx(false);
        c.link_local = Some("fe80::1".parse().unwrap());
        let n = Nlri::unicast("2001:db8:1::/48".parse().unwrap());
        for (nh, want) in [
            (
                "2001:db8::1",
                bgp::NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
            ),
            (
                "192.0.2.1",
                bgp::NextHop::V6 {
                    global: "::ffff:192.0.2.1".parse().unwrap(),
                    link_local: None,
                },
            ),
        ] {
            let ann = [Announcement {
                nlri: n,
                label: None,
                attrs: attrs(nh),
            }];
            let p = pack(Family::Ipv6Unicast, &ann, &[], &c);
            assert_eq!(p.updates[0].mp_reach().unwrap().next_hop, want);
        }
    }

    #[test]
    fn long_segments_are_split_and_two_octet_sessions_get_as4_path() {
        let mut a = (*attrs("192.0.2.1")).clone();
        a.as_path = AsPath::new(vec![AsSegment::sequence(vec![4_200_000_000; 300])]);
        let ann = [Announcement {
            nlri: v4(1, 24),
            label: None,
            attrs: Arc::new(a),
        }];
        let mut c = ctx(false);
        c.codec.four_octet_as = false;
        let p = pack(Family::Ipv4Unicast, &ann, &[], &c);
        let u = &p.updates[0];
        assert_eq!(u.as_path().unwrap().segments.len(), 2);
        let bytes = Message::Update(u.clone()).to_bytes(&c.codec).unwrap();
        let back = Message::decode(&bytes, &c.codec).unwrap();
        let Message::Update(back) = back.message else {
            panic!()
        };
        assert_eq!(back.effective_as_path().unwrap().path_len(), 300);
        assert!(back.attribute(bgp::consts::attr::AS4_PATH).is_some());
    }
}
