//! Side-by-side decode of the same UPDATE batch (see `../common/input.rs`) by our codec,
//! zettabgp, netgauze-bgp-pkt and bgpkit-parser, with allocations counted.
//!
//! `cargo run --release` from this directory. Each library is asked for what it offers as
//! "decode a whole UPDATE message" with a 4-octet AS session and no ADD-PATH; every message
//! must decode without error, and (where the library makes it cheap to check) the prefix count
//! must come out right, so nobody wins by skipping work.

#[path = "../../common/input.rs"]
mod input;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: usize = 30;

/// Decodes the batch ROUNDS times (best of 3 runs); `f` returns the prefixes it decoded
/// (or None where counting is not cheap).
fn run(name: &str, batch: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> Option<usize>) {
    let counted: Option<usize> = batch.iter().map(|m| f(m)).sum();
    if let Some(c) = counted {
        assert_eq!(
            c,
            input::PREFIXES,
            "{name} decoded the wrong number of prefixes"
        );
    }
    let mut best = f64::MAX;
    let mut allocs = 0.0;
    for _ in 0..3 {
        let a0 = ALLOCS.load(Ordering::Relaxed);
        let t0 = Instant::now();
        for _ in 0..ROUNDS {
            for m in batch {
                black_box(f(m));
            }
        }
        let n = (batch.len() * ROUNDS) as f64;
        best = best.min(t0.elapsed().as_nanos() as f64 / n);
        allocs = (ALLOCS.load(Ordering::Relaxed) - a0) as f64 / n;
    }
    let mpps = input::PREFIXES as f64 / batch.len() as f64 / best * 1e3;
    println!(
        "| {name:<22} | {best:>8.0} | {mpps:>7.2} | {allocs:>6.1} | {} |",
        if counted.is_some() { "yes" } else { "no" }
    );
}

fn main() {
    let batch = input::batch();
    let bytes: usize = batch.iter().map(Vec::len).sum();
    println!(
        "batch: {} UPDATEs ({} IPv4 x 20 prefixes, {} VPNv4 x 10), {} prefixes, {} octets; best of 3 x {ROUNDS} rounds\n",
        batch.len(),
        input::IPV4_UPDATES,
        input::VPNV4_UPDATES,
        input::PREFIXES,
        bytes
    );
    println!("| codec | ns/UPDATE | M prefixes/s | allocs/UPDATE | prefix count checked |");
    println!("|---|---:|---:|---:|---|");

    let ctx = bgp::Context::all();
    run("p4vrf bgp (frame only)", &batch, |m| {
        let f = bgp::frame(m, &ctx).ok().flatten()?;
        black_box(f.update()?.ok()?);
        None
    });
    run("p4vrf bgp (full)", &batch, |m| {
        let d = bgp::Message::decode(m, &ctx).expect("p4vrf bgp");
        let bgp::Message::Update(u) = d.message else {
            unreachable!()
        };
        Some(u.nlri.len() + u.mp_reach().map_or(0, |r| r.nlri.len()))
    });

    let params = {
        use zettabgp::prelude::*;
        let mut p = BgpSessionParams::new(
            65001,
            90,
            BgpTransportMode::IPv4,
            std::net::Ipv4Addr::new(192, 0, 2, 9),
            vec![
                BgpCapability::SafiIPv4u,
                BgpCapability::SafiVPNv4u,
                BgpCapability::CapASN32(65001),
            ],
        );
        p.has_as32bit = true;
        p.fuzzy_pathid = false;
        p
    };
    run("zettabgp 0.6", &batch, |m| {
        use zettabgp::prelude::*;
        let (_, len) = params.decode_message_head(m).expect("zettabgp head");
        let mut u = BgpUpdateMessage::new();
        u.decode_from(&params, &m[19..19 + len]).expect("zettabgp");
        Some(u.updates.len() + u.get_mpupdates().map_or(0, |r| r.addrs.len()))
    });

    run("netgauze-bgp-pkt 0.13", &batch, |m| {
        use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
        use netgauze_bgp_pkt::BgpMessage;
        use netgauze_parse_utils::reader::SliceReader;
        use netgauze_parse_utils::traits::ParseFromWithOneInput;
        let mut pctx =
            BgpParsingContext::new(true, HashMap::new(), HashMap::new(), true, true, true, true);
        let mut cur = SliceReader::new(m);
        let msg = BgpMessage::parse(&mut cur, &mut pctx).expect("netgauze");
        black_box(msg);
        None
    });

    let bytes_batch: Vec<bytes::Bytes> = batch
        .iter()
        .map(|m| bytes::Bytes::from(m.clone()))
        .collect();
    let mut i = 0;
    run("bgpkit-parser 0.23", &batch, |_| {
        use bgpkit_parser::models::AsnLength;
        use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
        let mut b = bytes_batch[i % bytes_batch.len()].clone();
        i += 1;
        let msg = parse_bgp_message(&mut b, false, &AsnLength::Bits32).expect("bgpkit");
        black_box(msg);
        None
    });

    malformed_table();
}

/// How each library reacts to a few RFC 7606 cases: `ok` (decoded, maybe with a note),
/// `err` (the whole message refused, i.e. a session reset in practice).
pub fn malformed_table() {
    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(2);
        m.extend_from_slice(body);
        m
    }
    fn upd(extra: &[u8]) -> Vec<u8> {
        let mut attrs = vec![
            0x40, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1,
        ];
        attrs.extend_from_slice(extra);
        let mut b = vec![0, 0];
        b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        b.extend_from_slice(&attrs);
        b.extend_from_slice(&[8, 10]);
        msg(&b)
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "COMMUNITIES length 5 (RFC: treat-as-withdraw)",
            upd(&[0xc0, 8, 5, 0, 0, 0, 1, 2]),
        ),
        (
            "ATOMIC_AGGREGATE length 1 (RFC: attribute discard)",
            upd(&[0x40, 6, 1, 0]),
        ),
        ("ORIGIN value 7 (RFC: treat-as-withdraw)", {
            let mut m = upd(&[]);
            m[26] = 7;
            m
        }),
        (
            "MP_REACH IPv6 next hop length 5 (RFC: session reset)",
            upd(&[0x80, 14, 11, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0, 0]),
        ),
        (
            "duplicate MED (RFC: discard the second)",
            upd(&[0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2]),
        ),
    ];
    println!("\n| case | p4vrf bgp | zettabgp | netgauze | bgpkit |");
    println!("|---|---|---|---|---|");
    let ctx = bgp::Context::all();
    for (name, m) in cases {
        let ours = match bgp::Message::decode(&m, &ctx) {
            Err(e) => {
                let n = e.notification();
                format!("reset {}/{}", n.code, n.subcode)
            }
            Ok(d) => match d.findings.iter().map(|f| f.action).max() {
                None => "ok".into(),
                Some(a) => format!("{a:?}"),
            },
        };
        let zetta = {
            use zettabgp::prelude::*;
            let p = BgpSessionParams::new(
                65001,
                90,
                BgpTransportMode::IPv4,
                std::net::Ipv4Addr::new(192, 0, 2, 9),
                vec![BgpCapability::SafiIPv6u, BgpCapability::CapASN32(65001)],
            );
            let mut u = BgpUpdateMessage::new();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                u.decode_from(&p, &m[19..]).is_ok()
            }));
            match r {
                Ok(true) => "ok",
                Ok(false) => "err",
                Err(_) => "panic",
            }
        };
        let netg = {
            use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
            use netgauze_bgp_pkt::BgpMessage;
            use netgauze_parse_utils::reader::SliceReader;
            use netgauze_parse_utils::traits::ParseFromWithOneInput;
            let mut pctx = BgpParsingContext::new(
                true,
                HashMap::new(),
                HashMap::new(),
                true,
                true,
                true,
                false,
            );
            match BgpMessage::parse(&mut SliceReader::new(&m), &mut pctx) {
                Ok(_) => "ok (lenient ctx)",
                Err(_) => "err",
            }
        };
        let kit = {
            use bgpkit_parser::models::AsnLength;
            use bgpkit_parser::parser::bgp::messages::parse_bgp_message;
            let mut b = bytes::Bytes::from(m.clone());
            match parse_bgp_message(&mut b, false, &AsnLength::Bits32) {
                Ok(_) => "ok",
                Err(_) => "err",
            }
        };
        println!("| {name} | {ours} | {zetta} | {netg} | {kit} |");
    }
}
