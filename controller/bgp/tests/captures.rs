//! Real OPEN / UPDATE / NOTIFICATION messages captured between FRR bgpd and gobgpd on
//! loopback (see `fixtures/README.md`): each must decode with the context its session
//! negotiated, produce no RFC 7606 finding, and re-encode to the identical bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use bgp::{AttrValue, Capability, Context, Message, Open};

fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frr-gobgp");
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

/// The two OPENs of the stream `sN-` negotiate its context.
fn stream_context(all: &BTreeMap<String, Vec<u8>>, stream: &str) -> Context {
    let opens: Vec<Open> = all
        .iter()
        .filter(|(n, _)| n.starts_with(stream) && n.ends_with("-open.bin"))
        .map(|(_, b)| open(b))
        .collect();
    assert_eq!(opens.len(), 2, "two OPENs in {stream}");
    Context::negotiated(&opens[0], &opens[1])
}

#[test]
fn every_captured_message_round_trips_byte_exact() {
    let all = fixtures();
    assert!(
        all.len() >= 40,
        "expected the captured messages, found {}",
        all.len()
    );
    let mut updates = 0;
    for (name, bytes) in &all {
        let stream = name.split('-').next().unwrap();
        let ctx = stream_context(&all, stream);
        let decoded = Message::decode(bytes, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            decoded.findings.is_empty(),
            "{name}: {:?}",
            decoded.findings
        );
        updates += usize::from(matches!(decoded.message, Message::Update(_)));
        let again = decoded.message.to_bytes(&ctx).unwrap();
        assert_eq!(&again, bytes, "{name} did not round-trip");
    }
    assert!(updates >= 30);
}

#[test]
fn captured_opens_carry_the_expected_capabilities() {
    let all = fixtures();
    let frr = open(&all["s0-frr-to-gobgp2-000-open.bin"]);
    let gobgp = open(&all["s0-gobgp2-to-frr-000-open.bin"]);
    assert_eq!(frr.asn(), 65001);
    assert_eq!(gobgp.asn(), 4_200_000_002);
    assert_eq!(gobgp.my_as, bgp::consts::AS_TRANS);
    let ctx = Context::negotiated(&frr, &gobgp);
    assert!(ctx.four_octet_as);
    for f in bgp::Family::ALL {
        assert!(ctx.families.contains(f), "{f} negotiated");
    }
    assert!(gobgp
        .capabilities()
        .any(|c| matches!(c, Capability::GracefulRestart(gr) if gr.restart_time == 90 && gr.families.len() == 4)));
    assert!(frr
        .capabilities()
        .any(|c| matches!(c, Capability::ExtendedMessage)));
    // FRR's hostname capability (73) is not ours: kept raw.
    assert!(frr
        .capabilities()
        .any(|c| matches!(c, Capability::Unknown { code: 73, .. })));
    // The session FRR runs with dont-capability-negotiate has no capabilities at all.
    let bare = open(&all["s2-frr-to-gobgp4-000-open.bin"]);
    assert_eq!(bare.capabilities().count(), 0);
}

#[test]
fn old_speaker_session_carries_as4_path_that_merges() {
    let all = fixtures();
    let ctx = stream_context(&all, "s2");
    assert!(!ctx.four_octet_as);
    let mut merged = 0;
    for (name, bytes) in all
        .iter()
        .filter(|(n, _)| n.starts_with("s2-frr") && n.ends_with("update.bin"))
    {
        let Message::Update(u) = Message::decode(bytes, &ctx).unwrap().message else {
            panic!("{name}")
        };
        if u.attribute(bgp::consts::attr::AS4_PATH).is_some() {
            assert_eq!(u.as_path().unwrap().to_string(), "65001 23456");
            assert_eq!(
                u.effective_as_path().unwrap().to_string(),
                "65001 4200000002"
            );
            assert_eq!(u.effective_aggregator().unwrap().asn, 4_200_000_002);
            merged += 1;
        }
    }
    assert!(merged >= 1);
}

#[test]
fn captured_vpn_routes_decode_with_labels_rds_and_route_targets() {
    let all = fixtures();
    let ctx = stream_context(&all, "s0");
    let mut seen = Vec::new();
    for (_, bytes) in all
        .iter()
        .filter(|(n, _)| n.starts_with("s0-gobgp2") && n.ends_with("update.bin"))
    {
        let Message::Update(u) = Message::decode(bytes, &ctx).unwrap().message else {
            continue;
        };
        let Some(reach) = u.mp_reach() else { continue };
        if let bgp::NlriList::Vpnv4(v) = &reach.nlri {
            for p in v {
                let rts: Vec<String> = u
                    .attributes
                    .iter()
                    .filter_map(|a| match &a.value {
                        AttrValue::ExtCommunities(e) => {
                            Some(e.iter().map(|c| c.to_string()).collect::<Vec<_>>())
                        }
                        _ => None,
                    })
                    .flatten()
                    .collect();
                seen.push(format!(
                    "{} {} label {} {}",
                    p.rd,
                    p.prefix,
                    p.labels.as_slice()[0].value(),
                    rts.join(",")
                ));
            }
        }
    }
    seen.sort();
    assert!(
        seen.contains(&"127.0.0.2:20 10.20.0.0/16 label 101 RT:127.0.0.2:20".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"65002:10 10.10.0.0/24 label 100 RT:65002:10".to_string()),
        "{seen:?}"
    );
}

/// FRR 8.4.4 put a peer without capabilities (`dont-capability-negotiate`) in the same update
/// group as 4-octet peers and sent them its 2-octet AS_PATH: a real malformed UPDATE. RFC 7606
/// §7.2 makes it treat-as-withdraw, so its three prefixes come out as withdrawals.
#[test]
fn real_frr_two_octet_as_path_in_four_octet_session_is_treated_as_withdraw() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malformed");
    let read = |n: &str| fs::read(dir.join(n)).unwrap();
    let ctx = Context::negotiated(
        &open(&read("frr-2octet-as-path-open-frr.bin")),
        &open(&read("frr-2octet-as-path-open-gobgp.bin")),
    );
    assert!(ctx.four_octet_as);
    let d = Message::decode(&read("frr-2octet-as-path-in-4octet-session.bin"), &ctx).unwrap();
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.findings[0].attr_type, bgp::consts::attr::AS_PATH);
    assert_eq!(d.findings[0].action, bgp::Action::TreatAsWithdraw);
    let Message::Update(u) = d.message else {
        panic!()
    };
    assert!(u.nlri.is_empty() && u.attributes.is_empty());
    let w: Vec<String> = u.withdrawn.iter().map(|p| p.to_string()).collect();
    assert_eq!(w, ["10.2.0.0/24", "10.3.2.0/24", "10.3.1.0/24"]);
}
