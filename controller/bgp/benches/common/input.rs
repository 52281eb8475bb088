//! The benchmark input, shared by `benches/decode.rs` and `benches/compare`: a deterministic
//! batch of UPDATEs shaped like a PE's full feed — IPv4 unicast with communities and VPNv4
//! with labels, RDs and route targets — built with our encoder (and checked by decoding).

use std::net::Ipv4Addr;

use bgp::{
    AsPath, AttrValue, Community, Context, ExtCommunity, Family, LabelStack, Message, MpReach,
    NextHop, NlriList, Origin, Update, VpnPrefix,
};

/// IPv4 UPDATEs in the batch (each with 20 /24 prefixes).
pub const IPV4_UPDATES: usize = 1000;
/// VPNv4 UPDATEs in the batch (each with 10 labeled prefixes).
pub const VPNV4_UPDATES: usize = 1000;
/// Prefixes in the whole batch.
pub const PREFIXES: usize = IPV4_UPDATES * 20 + VPNV4_UPDATES * 10;

fn common_attrs(i: u32) -> Vec<bgp::PathAttribute> {
    vec![
        AttrValue::Origin(Origin::Igp).into(),
        AttrValue::AsPath(AsPath::sequence(&[
            65001,
            4_200_000_000 + i % 50,
            64512 + i % 7,
            65100,
        ]))
        .into(),
    ]
}

/// The batch as wire messages (header included), for a 4-octet AS session.
pub fn batch() -> Vec<Vec<u8>> {
    let ctx = Context::all();
    let mut out = Vec::new();
    for i in 0..IPV4_UPDATES as u32 {
        let mut attributes = common_attrs(i);
        attributes.push(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, (i % 200) as u8 + 1)).into());
        attributes.push(AttrValue::Med(i % 100).into());
        attributes.push(
            AttrValue::Communities(vec![
                Community::new(65001, (i % 300) as u16),
                Community::NO_EXPORT,
            ])
            .into(),
        );
        let nlri = (0..20u32)
            .map(|k| {
                let n = i * 20 + k;
                let [_, _, c, d] = n.to_be_bytes();
                format!("10.{c}.{d}.0/24").parse().unwrap_or_default()
            })
            .collect();
        let u = Update {
            withdrawn: vec![],
            attributes,
            nlri,
        };
        out.push(Message::Update(u).to_bytes(&ctx).expect("encodes"));
    }
    for i in 0..VPNV4_UPDATES as u32 {
        let rd: bgp::RouteDistinguisher = format!("65001:{}", i % 64).parse().expect("rd");
        let rt: bgp::RouteTarget = format!("65001:{}", i % 64).parse().expect("rt");
        let prefixes = (0..10u32)
            .map(|k| {
                let n = i * 10 + k;
                let [_, _, c, d] = n.to_be_bytes();
                VpnPrefix {
                    labels: LabelStack::single(16 + n % 1000),
                    rd: rd.into(),
                    prefix: format!("172.{}.{d}.0/24", 16 + c % 16)
                        .parse()
                        .unwrap_or_default(),
                }
            })
            .collect();
        let mut attributes = vec![AttrValue::MpReach(MpReach {
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            nlri: NlriList::Vpnv4(prefixes),
        })
        .into()];
        attributes.extend(common_attrs(i));
        attributes.push(AttrValue::LocalPref(100).into());
        attributes.push(
            AttrValue::ExtCommunities(vec![
                ExtCommunity::RouteTarget(rt),
                ExtCommunity::RouteTarget("65001:999".parse().expect("rt")),
            ])
            .into(),
        );
        let u = Update {
            withdrawn: vec![],
            attributes,
            nlri: vec![],
        };
        out.push(Message::Update(u).to_bytes(&ctx).expect("encodes"));
    }
    debug_assert!(ctx.families.contains(Family::Vpnv4));
    out
}
