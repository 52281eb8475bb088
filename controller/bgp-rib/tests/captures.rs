//! Real UPDATEs captured between FRR 8.4.4 and gobgpd 3.10.0 (the `bgp` crate's fixtures,
//! `controller/bgp/tests/fixtures/README.md`), decoded by the codec and then by
//! [`bgp_rib::decode_update`]: the routes and attributes must be the ones the daemons were
//! configured to send, and packing them again must give the same routes back.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use bgp::{Context, Family, Message, Open};
use bgp_rib::{decode_update, pack, Announcement, Inbound, Nlri, PackContext, PeerInfo};
use policy::{Community, NextHop, Origin, PeerType, RouteType};

fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bgp/tests/fixtures/frr-gobgp");
    fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("fixture"))
        })
        .collect()
}

fn open(bytes: &[u8]) -> Open {
    match Message::decode(bytes, &Context::default()).unwrap().message {
        Message::Open(o) => o,
        m => panic!("not an OPEN: {m:?}"),
    }
}

/// The sender's AS, from its OPEN (`s0-frr-to-gobgp2-…` is sent by `frr`).
fn sender_as(all: &BTreeMap<String, Vec<u8>>, name: &str) -> u32 {
    let prefix: String = name.split('-').take(3).collect::<Vec<_>>().join("-");
    let (_, b) = all
        .iter()
        .find(|(n, _)| n.starts_with(&prefix) && n.ends_with("-open.bin"))
        .expect("sender's OPEN");
    open(b).asn()
}

fn stream_context(all: &BTreeMap<String, Vec<u8>>, stream: &str) -> Context {
    let opens: Vec<Open> = all
        .iter()
        .filter(|(n, _)| n.starts_with(stream) && n.ends_with("-open.bin"))
        .map(|(_, b)| open(b))
        .collect();
    Context::negotiated(&opens[0], &opens[1])
}

/// Every captured UPDATE: (file name, codec context, sender, decoded routes).
fn decoded() -> Vec<(String, Context, PeerInfo, Inbound)> {
    let all = fixtures();
    let mut out = Vec::new();
    for (name, bytes) in all.iter().filter(|(n, _)| n.ends_with("-update.bin")) {
        let stream = name.split('-').next().unwrap();
        let ctx = stream_context(&all, stream);
        let d = Message::decode(bytes, &ctx).unwrap();
        assert!(d.findings.is_empty(), "{name}");
        let Message::Update(u) = d.message else {
            panic!("{name}")
        };
        let from = PeerInfo {
            remote_as: sender_as(&all, name),
            peer_type: PeerType::Ebgp,
        };
        out.push((name.clone(), ctx, from, decode_update(&u, &from)));
    }
    out
}

fn show(inb: &Inbound) -> Vec<String> {
    inb.announcements()
        .map(|a| {
            format!(
                "{} label {:?} nh {:?} path [{}] origin {:?} med {:?} comm [{}] ext [{}] large [{}] agg {:?}",
                a.nlri,
                a.label,
                a.attrs.next_hop,
                a.attrs.as_path,
                a.attrs.origin,
                a.attrs.med,
                a.attrs.communities.text(),
                a.attrs.ext_communities.text(),
                a.attrs.large_communities.text(),
                a.attrs.aggregator,
            )
        })
        .collect()
}

#[test]
fn captured_updates_decode_to_sane_routes() {
    let all = decoded();
    assert!(all.len() >= 30);
    let (mut routes, mut withdrawals, mut families) = (0, 0, BTreeSet::new());
    for (name, _, from, inb) in &all {
        assert_eq!(inb.ignored, 0, "{name}");
        withdrawals += inb.withdrawn.len();
        for a in inb.announcements() {
            routes += 1;
            families.insert(a.nlri.family());
            let at = &a.attrs;
            assert!(matches!(at.next_hop, NextHop::Addr(_)), "{name}: {a:?}");
            assert_eq!(at.peer_as, Some(from.remote_as), "{name}");
            assert_eq!(at.route_type, RouteType::External);
            assert_eq!(at.local_pref, None, "{name}: no LOCAL_PREF from eBGP");
            // The sender put itself first (RFC 4271 §5.1.2).
            assert_eq!(at.as_path.first_as(), Some(from.remote_as), "{name}");
            assert_eq!(a.label.is_some(), a.nlri.family().is_vpn(), "{name}");
            if let Some(l) = a.label {
                assert!((16..1 << 20).contains(&l), "{name}: label {l}");
            }
        }
    }
    assert!(routes >= 20, "{routes} routes");
    assert!(withdrawals >= 1);
    assert_eq!(families.len(), 4, "{families:?}");
}

#[test]
fn well_known_communities_were_honoured_and_decode_as_sent() {
    let all = decoded();
    // frr.conf: 10.1.0.0/16 gets `community 65001:100 no-export`: FRR never sends it to
    // its (eBGP) neighbors.
    let no_export = Nlri::unicast("10.1.0.0/16".parse().unwrap());
    assert!(all
        .iter()
        .all(|(_, _, _, inb)| inb.announcements().all(|a| a.nlri != no_export)));
    // gobgpd's 192.0.2.0/24: origin EGP, MED 10, 65002:1 + BLACKHOLE + NO_ADVERTISE, a
    // large community. FRR (correctly) never passes it on.
    let target = Nlri::unicast("192.0.2.0/24".parse().unwrap());
    let mut seen = 0;
    for (name, _, _, inb) in &all {
        for a in inb.announcements().filter(|a| a.nlri == target) {
            assert!(name.starts_with("s0-gobgp2"), "{name}");
            seen += 1;
            let at = &a.attrs;
            assert_eq!(at.origin, Origin::Egp);
            assert_eq!(at.med, Some(10));
            assert_eq!(at.communities.text(), "65002:1 65535:666 65535:65282");
            assert!(at.communities.contains(&Community::BLACKHOLE));
            assert_eq!(at.large_communities.text(), "4200000002:1:1");
            // Our own export step would not send it anywhere either.
            let route = policy::Route {
                prefix: a.nlri.prefix(),
                attrs: a.attrs.clone(),
            };
            let to = bgp_rib::ExportNeighbor::new(
                "10.0.0.2".parse().unwrap(),
                policy::Neighbor::ibgp(),
                65001,
                65001,
                "10.0.0.1".parse().unwrap(),
                "10.0.0.1".parse().unwrap(),
            );
            let learned = bgp_rib::Learned::Ebgp {
                peer: "127.0.0.2".parse().unwrap(),
            };
            assert_eq!(
                bgp_rib::prepare(&route, &learned, &to),
                Err(bgp_rib::Suppressed::WellKnown(
                    policy::Suppressed::NoAdvertise
                ))
            );
        }
    }
    assert_eq!(seen, 1);
    // Re-advertised by FRR to AS 65003: FRR's AS prepended, AGGREGATOR passed on unchanged.
    let lines: Vec<String> = all
        .iter()
        .filter(|(n, ..)| n.starts_with("s1-frr"))
        .flat_map(|(_, _, _, inb)| show(inb))
        .collect();
    assert!(lines.iter().any(|l| l.starts_with("198.51.100.0/25")
        && l.contains("path [65001 4200000002]")
        && l.contains("agg Some((4200000002, 192.0.2.254))")));
}

#[test]
fn gobgp_vpn_routes_and_the_two_octet_session() {
    let all = decoded();
    let lines: Vec<String> = all
        .iter()
        .filter(|(n, ..)| n.starts_with("s0-gobgp2"))
        .flat_map(|(_, _, _, inb)| show(inb))
        .collect();
    assert!(
        lines.iter().any(
            |l| l.starts_with("127.0.0.2:20:10.20.0.0/16 label Some(101)")
                && l.contains("ext [RT:127.0.0.2:20]")
        ),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("65002:10:10.10.0.0/24 label Some(100)")),
        "{lines:#?}"
    );
    // FRR towards the 2-octet speaker: AS_PATH "65001 23456" + AS4_PATH give the real path.
    let mut merged = 0;
    for (name, ctx, _, inb) in all.iter().filter(|(n, ..)| n.starts_with("s2-frr")) {
        assert!(!ctx.four_octet_as);
        for a in inb.announcements() {
            assert!(!a.attrs.as_path.asns().any(|x| x == 23456), "{name}");
            if a.attrs.as_path.text() == "65001 4200000002" {
                merged += 1;
            }
        }
    }
    assert!(merged >= 1);
}

#[test]
fn captured_routes_pack_and_decode_back_unchanged() {
    for (name, ctx, from, inb) in decoded() {
        for family in Family::ALL {
            let ann: Vec<Announcement> = inb
                .announcements()
                .filter(|a| a.nlri.family() == family)
                .collect();
            let wd: Vec<Nlri> = inb
                .withdrawn
                .iter()
                .copied()
                .filter(|n| n.family() == family)
                .collect();
            if ann.is_empty() && wd.is_empty() {
                continue;
            }
            let pc = PackContext {
                codec: ctx,
                internal: false,
                link_local: None,
            };
            let packed = pack(family, &ann, &wd, &pc);
            assert!(
                packed.unsendable.is_empty(),
                "{name}: {:?}",
                packed.unsendable
            );
            let (mut back_ann, mut back_wd) = (Vec::new(), Vec::new());
            for u in packed.updates {
                let bytes = Message::Update(u).to_bytes(&ctx).unwrap();
                let Message::Update(u) = Message::decode(&bytes, &ctx).unwrap().message else {
                    panic!()
                };
                let b = decode_update(&u, &from);
                back_ann.extend(b.announcements());
                back_wd.extend(b.withdrawn);
            }
            assert_eq!(back_ann, ann, "{name} {family}");
            assert_eq!(back_wd, wd, "{name} {family}");
        }
    }
}
