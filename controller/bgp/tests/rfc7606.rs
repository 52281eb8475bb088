//! RFC 7606 (and RFC 4271 §6) error handling, one row per malformed case: the bytes, the
//! negotiated context, and the action the RFC asks for.

mod common;

use bgp::consts::attr as ty;
use bgp::*;
use common::*;

#[derive(Debug, PartialEq)]
enum Expect {
    Ok,
    /// Session reset with this NOTIFICATION code / subcode.
    Reset(u8, u8),
    /// Treat-as-withdraw, found on this attribute type (0: the attribute list).
    Withdraw(u8),
    /// Attribute discard of this attribute type.
    Discard(u8),
}
use Expect::*;

fn four() -> Context {
    Context::all()
}

fn two() -> Context {
    Context {
        four_octet_as: false,
        ..Context::all()
    }
}

fn v4_only() -> Context {
    Context {
        families: [Family::Ipv4Unicast].into_iter().collect(),
        ..Context::all()
    }
}

/// A well-formed announcement with `extra` attributes appended.
fn announce(extra: &[u8]) -> Vec<u8> {
    update(
        &[],
        &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1, extra]),
        &NLRI_10_8,
    )
}

/// An announcement where `replace` stands in for the attribute of the same type.
fn announce_with(replace: &[u8]) -> Vec<u8> {
    let t = replace[1];
    let base: [&[u8]; 3] = [&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1];
    let attrs: Vec<u8> = base
        .iter()
        .map(|a| if a[1] == t { replace } else { *a })
        .collect::<Vec<_>>()
        .concat();
    update(&[], &attrs, &NLRI_10_8)
}

fn mp(t: u8, value: &[u8]) -> Vec<u8> {
    attr(0x80, t, value)
}

const V6_NLRI: [u8; 7] = [48, 0x20, 0x01, 0x0d, 0xb8, 0, 1];

fn v6_reach(nh_len: u8, nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 2, 1, nh_len];
    v.extend(std::iter::repeat_n(0x20, usize::from(nh_len)));
    v.push(0);
    v.extend_from_slice(nlri);
    mp(ty::MP_REACH_NLRI, &v)
}

fn cases() -> Vec<(&'static str, Context, Vec<u8>, Expect)> {
    let ok_reach = v6_reach(16, &V6_NLRI);
    vec![
        ("well-formed", four(), announce(&[]), Ok),
        // --- message header (RFC 4271 §6.1) ---
        (
            "bad marker",
            four(),
            {
                let mut m = msg(4, &[]);
                m[3] = 0;
                m
            },
            Reset(1, 1),
        ),
        (
            "length below 19",
            four(),
            {
                let mut m = msg(4, &[]);
                m[17] = 18;
                m
            },
            Reset(1, 2),
        ),
        ("keepalive with a body", four(), msg(4, &[0]), Reset(1, 2)),
        ("unknown message type", four(), msg(9, &[]), Reset(1, 3)),
        (
            "update shorter than 23",
            four(),
            msg(2, &[0, 0, 0]),
            Reset(1, 2),
        ),
        (
            "notification shorter than 21",
            four(),
            msg(3, &[6]),
            Reset(1, 2),
        ),
        (
            "route refresh with extra octets",
            four(),
            msg(5, &[0, 1, 0, 1, 0]),
            Reset(7, 1),
        ),
        // --- OPEN (RFC 4271 §6.2) ---
        (
            "open version 3",
            four(),
            msg(1, &[3, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 0]),
            Reset(2, 1),
        ),
        (
            "open hold time 2",
            four(),
            msg(1, &[4, 0xfd, 0xe9, 0, 2, 192, 0, 2, 1, 0]),
            Reset(2, 6),
        ),
        (
            "open BGP identifier 0",
            four(),
            msg(1, &[4, 0xfd, 0xe9, 0, 90, 0, 0, 0, 0, 0]),
            Reset(2, 3),
        ),
        (
            "open auth parameter (type 1)",
            four(),
            msg(1, &[4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 3, 1, 1, 0]),
            Reset(2, 4),
        ),
        (
            "open capability overruns",
            four(),
            msg(1, &[4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 4, 2, 2, 65, 4]),
            Reset(2, 0),
        ),
        (
            "open parameters overrun",
            four(),
            msg(1, &[4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 9, 2, 2, 2, 0]),
            Reset(2, 0),
        ),
        // --- UPDATE field lengths (RFC 7606 §4, §5.3) ---
        (
            "withdrawn length overruns",
            four(),
            msg(2, &[0, 9, 8, 10, 0, 0]),
            Reset(3, 1),
        ),
        (
            "attribute length overruns",
            four(),
            msg(2, &[0, 0, 0, 9, 0x40, 1, 1, 0]),
            Reset(3, 1),
        ),
        (
            "withdrawn prefix /33",
            four(),
            update(&[33, 1, 2, 3, 4, 5], &[], &[]),
            Reset(3, 10),
        ),
        (
            "NLRI prefix cut short",
            four(),
            update(
                &[],
                &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1]),
                &[24, 10, 1],
            ),
            Reset(3, 10),
        ),
        (
            "last attribute overruns the list",
            four(),
            update(
                &[],
                &cat(&[
                    &ORIGIN_IGP,
                    &AS_PATH_65001,
                    &NEXT_HOP_1,
                    &[0xc0, 8, 8, 0, 0, 0, 1],
                ]),
                &NLRI_10_8,
            ),
            Withdraw(ty::COMMUNITIES),
        ),
        (
            "fewer than 3 octets left",
            four(),
            update(
                &[],
                &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1, &[0xc0, 8]]),
                &NLRI_10_8,
            ),
            Withdraw(ty::COMMUNITIES),
        ),
        (
            "extended length header cut",
            four(),
            update(
                &[],
                &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &NEXT_HOP_1, &[0xd0, 8, 0]]),
                &NLRI_10_8,
            ),
            Withdraw(ty::COMMUNITIES),
        ),
        (
            "MP_REACH cut by the list end",
            four(),
            update(
                &[],
                &cat(&[&ORIGIN_IGP, &AS_PATH_65001, &[0x80, 14, 30, 0, 2, 1]]),
                &[],
            ),
            Reset(3, 5),
        ),
        // --- well-known attributes (RFC 7606 §7.1–7.5) ---
        (
            "ORIGIN length 2",
            four(),
            announce_with(&attr(0x40, 1, &[0, 0])),
            Withdraw(ty::ORIGIN),
        ),
        (
            "ORIGIN value 3",
            four(),
            announce_with(&attr(0x40, 1, &[3])),
            Withdraw(ty::ORIGIN),
        ),
        (
            "ORIGIN flagged optional",
            four(),
            announce_with(&attr(0xc0, 1, &[0])),
            Withdraw(ty::ORIGIN),
        ),
        (
            "ORIGIN with partial bit is fine",
            four(),
            announce_with(&attr(0x60, 1, &[0])),
            Ok,
        ),
        (
            "AS_PATH zero-length segment",
            four(),
            announce_with(&attr(0x40, 2, &[2, 0])),
            Withdraw(ty::AS_PATH),
        ),
        (
            "AS_PATH unknown segment type",
            four(),
            announce_with(&attr(0x40, 2, &[5, 1, 0, 0, 0, 1])),
            Withdraw(ty::AS_PATH),
        ),
        (
            "AS_PATH segment overrun",
            four(),
            announce_with(&attr(0x40, 2, &[2, 2, 0, 0, 0, 1])),
            Withdraw(ty::AS_PATH),
        ),
        (
            "AS_PATH one trailing octet",
            four(),
            announce_with(&attr(0x40, 2, &[2, 1, 0, 0, 0, 1, 2])),
            Withdraw(ty::AS_PATH),
        ),
        (
            "AS_PATH 2-octet form on 4-octet session",
            four(),
            announce_with(&attr(0x40, 2, &[2, 1, 0xfd, 0xe9])),
            Withdraw(ty::AS_PATH),
        ),
        (
            "empty AS_PATH is fine (iBGP)",
            four(),
            announce_with(&attr(0x40, 2, &[])),
            Ok,
        ),
        (
            "NEXT_HOP length 5",
            four(),
            announce_with(&attr(0x40, 3, &[1, 2, 3, 4, 5])),
            Withdraw(ty::NEXT_HOP),
        ),
        (
            "MED length 3",
            four(),
            announce(&attr(0x80, 4, &[0, 0, 1])),
            Withdraw(ty::MULTI_EXIT_DISC),
        ),
        (
            "MED flagged transitive",
            four(),
            announce(&attr(0xc0, 4, &[0, 0, 0, 1])),
            Withdraw(ty::MULTI_EXIT_DISC),
        ),
        (
            "LOCAL_PREF length 2",
            four(),
            announce(&attr(0x40, 5, &[0, 1])),
            Withdraw(ty::LOCAL_PREF),
        ),
        // --- attribute discard (§7.6, §7.7; RFC 6793 §6) ---
        (
            "ATOMIC_AGGREGATE length 1",
            four(),
            announce(&attr(0x40, 6, &[0])),
            Discard(ty::ATOMIC_AGGREGATE),
        ),
        (
            "AGGREGATOR 6 octets on 4-octet session",
            four(),
            announce(&attr(0xc0, 7, &[0, 1, 192, 0, 2, 1])),
            Discard(ty::AGGREGATOR),
        ),
        (
            "AGGREGATOR 8 octets on 2-octet session",
            two(),
            announce_with_two(&attr(0xc0, 7, &[0, 0, 0, 1, 192, 0, 2, 1])),
            Discard(ty::AGGREGATOR),
        ),
        (
            "AS4_PATH malformed",
            two(),
            announce_with_two(&attr(0xc0, 17, &[2, 1, 0, 1])),
            Discard(ty::AS4_PATH),
        ),
        (
            "AS4_PATH from a 4-octet speaker",
            four(),
            announce(&attr(0xc0, 17, &[2, 1, 0, 0, 0, 1])),
            Discard(ty::AS4_PATH),
        ),
        (
            "AS4_AGGREGATOR length 6",
            two(),
            announce_with_two(&attr(0xc0, 18, &[0, 1, 192, 0, 2, 1])),
            Discard(ty::AS4_AGGREGATOR),
        ),
        (
            "AS4_AGGREGATOR flagged non-transitive",
            two(),
            announce_with_two(&attr(0x80, 18, &[0, 0, 0, 1, 192, 0, 2, 1])),
            Discard(ty::AS4_AGGREGATOR),
        ),
        // --- optional attributes (§7.8–7.10, §7.14, RFC 8092 §6) ---
        (
            "COMMUNITIES length 5",
            four(),
            announce(&attr(0xc0, 8, &[0, 0, 0, 1, 2])),
            Withdraw(ty::COMMUNITIES),
        ),
        (
            "ORIGINATOR_ID length 5",
            four(),
            announce(&attr(0x80, 9, &[1, 2, 3, 4, 5])),
            Withdraw(ty::ORIGINATOR_ID),
        ),
        (
            "CLUSTER_LIST empty",
            four(),
            announce(&attr(0x80, 10, &[])),
            Withdraw(ty::CLUSTER_LIST),
        ),
        (
            "CLUSTER_LIST length 6",
            four(),
            announce(&attr(0x80, 10, &[1, 2, 3, 4, 5, 6])),
            Withdraw(ty::CLUSTER_LIST),
        ),
        (
            "EXTENDED_COMMUNITIES length 7",
            four(),
            announce(&attr(0xc0, 16, &[0; 7])),
            Withdraw(ty::EXTENDED_COMMUNITIES),
        ),
        (
            "LARGE_COMMUNITY length 13",
            four(),
            announce(&attr(0xc0, 32, &[0; 13])),
            Withdraw(ty::LARGE_COMMUNITY),
        ),
        // --- MP_REACH / MP_UNREACH (§7.11, §3 (g)) ---
        (
            "MP_REACH next hop length 5",
            four(),
            update(
                &[],
                &cat(&[&v6_reach(5, &V6_NLRI), &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Reset(3, 9),
        ),
        (
            "MP_REACH prefix /129",
            four(),
            update(
                &[],
                &cat(&[&v6_reach(16, &[129, 0]), &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Reset(3, 9),
        ),
        (
            "MP_REACH shorter than AFI/SAFI",
            four(),
            update(
                &[],
                &cat(&[&mp(14, &[0, 2]), &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Reset(3, 9),
        ),
        (
            "MP_REACH without reserved octet",
            four(),
            update(
                &[],
                &cat(&[
                    &mp(14, &[0, 1, 1, 4, 192, 0, 2, 1]),
                    &ORIGIN_IGP,
                    &AS_PATH_65001,
                ]),
                &[],
            ),
            Reset(3, 9),
        ),
        (
            "MP_REACH flagged transitive",
            four(),
            update(
                &[],
                &cat(&[&attr(0xc0, 14, &ok_reach[3..]), &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Reset(3, 4),
        ),
        (
            "MP_REACH twice",
            four(),
            update(
                &[],
                &cat(&[&ok_reach, &ok_reach, &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Reset(3, 1),
        ),
        (
            "MP_UNREACH twice",
            four(),
            update(&[], &cat(&[&mp(15, &[0, 2, 1]), &mp(15, &[0, 2, 1])]), &[]),
            Reset(3, 1),
        ),
        (
            "MP_UNREACH VPN prefix too short for its RD",
            four(),
            update(
                &[],
                &mp(15, &[0, 1, 128, 80, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                &[],
            ),
            Reset(3, 9),
        ),
        (
            "MP_REACH of a family not negotiated",
            v4_only(),
            update(&[], &cat(&[&ok_reach, &ORIGIN_IGP, &AS_PATH_65001]), &[]),
            Discard(ty::MP_REACH_NLRI),
        ),
        (
            "MP_REACH of an unknown family",
            four(),
            update(
                &[],
                &cat(&[&mp(14, &[0, 25, 70, 0, 0]), &ORIGIN_IGP, &AS_PATH_65001]),
                &[],
            ),
            Discard(ty::MP_REACH_NLRI),
        ),
        (
            "MP_REACH alone needs no NEXT_HOP",
            four(),
            update(&[], &cat(&[&ok_reach, &ORIGIN_IGP, &AS_PATH_65001]), &[]),
            Ok,
        ),
        // --- presence and duplicates (§3 (d), (g)) ---
        (
            "duplicate ORIGIN",
            four(),
            announce(&attr(0x40, 1, &[1])),
            Discard(ty::ORIGIN),
        ),
        (
            "missing ORIGIN",
            four(),
            update(&[], &cat(&[&AS_PATH_65001, &NEXT_HOP_1]), &NLRI_10_8),
            Withdraw(ty::ORIGIN),
        ),
        (
            "missing AS_PATH",
            four(),
            update(&[], &cat(&[&ORIGIN_IGP, &NEXT_HOP_1]), &NLRI_10_8),
            Withdraw(ty::AS_PATH),
        ),
        (
            "missing NEXT_HOP",
            four(),
            update(&[], &cat(&[&ORIGIN_IGP, &AS_PATH_65001]), &NLRI_10_8),
            Withdraw(ty::NEXT_HOP),
        ),
        (
            "MP_REACH missing AS_PATH",
            four(),
            update(&[], &cat(&[&ok_reach, &ORIGIN_IGP]), &[]),
            Withdraw(ty::AS_PATH),
        ),
        (
            "withdraw-only needs nothing",
            four(),
            update(&NLRI_10_8, &[], &[]),
            Ok,
        ),
        // --- unknown attributes (RFC 4271 §6.3, §9) ---
        (
            "unrecognized well-known",
            four(),
            announce(&attr(0x40, 99, &[1])),
            Reset(3, 2),
        ),
        (
            "unknown optional non-transitive is kept",
            four(),
            announce(&attr(0x80, 99, &[1])),
            Ok,
        ),
        (
            "unknown optional transitive is kept",
            four(),
            announce(&attr(0xc0, 99, &[1])),
            Ok,
        ),
    ]
}

/// The base announcement for a 2-octet session (2-octet AS_PATH) plus `extra`.
fn announce_with_two(extra: &[u8]) -> Vec<u8> {
    update(
        &[],
        &cat(&[
            &ORIGIN_IGP,
            &attr(0x40, 2, &[2, 1, 0xfd, 0xe9]),
            &NEXT_HOP_1,
            extra,
        ]),
        &NLRI_10_8,
    )
}

fn outcome(ctx: &Context, bytes: &[u8]) -> (Expect, Option<Decoded>) {
    match Message::decode(bytes, ctx) {
        Err(e) => {
            let n = e.notification();
            (Reset(n.code, n.subcode), None)
        }
        Result::Ok(d) => {
            let strongest = d.findings.iter().max_by_key(|f| f.action);
            let e = match strongest {
                None => Ok,
                Some(f) if f.action == Action::TreatAsWithdraw => Withdraw(f.attr_type),
                Some(f) => Discard(f.attr_type),
            };
            (e, Some(d))
        }
    }
}

#[test]
fn every_malformed_case_gets_the_rfc_action() {
    let mut failures = Vec::new();
    let cases = cases();
    for (name, ctx, bytes, want) in &cases {
        let (got, _) = outcome(ctx, bytes);
        if &got != want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(cases.len() >= 60);
}

#[test]
fn treat_as_withdraw_turns_every_announced_prefix_into_a_withdrawal() {
    // IPv4 NLRI and an IPv6 MP_REACH, with a bad COMMUNITIES.
    let bytes = update(
        &[8, 11],
        &cat(&[
            &v6_reach(16, &V6_NLRI),
            &ORIGIN_IGP,
            &AS_PATH_65001,
            &NEXT_HOP_1,
            &attr(0xc0, 8, &[1, 2, 3]),
        ]),
        &NLRI_10_8,
    );
    let (e, d) = outcome(&four(), &bytes);
    assert_eq!(e, Withdraw(ty::COMMUNITIES));
    let Some(Decoded {
        message: Message::Update(u),
        ..
    }) = d
    else {
        panic!()
    };
    let w: Vec<String> = u.withdrawn.iter().map(|p| p.to_string()).collect();
    assert_eq!(w, ["11.0.0.0/8", "10.0.0.0/8"]);
    assert!(u.nlri.is_empty() && u.mp_reach().is_none());
    let un: Vec<&MpUnreach> = u.mp_unreach().collect();
    assert_eq!(un.len(), 1);
    assert_eq!(un[0].withdrawn.len(), 1);
    assert_eq!(un[0].withdrawn.family(), Family::Ipv6Unicast);
    assert_eq!(u.attributes.len(), 1, "only the withdrawal is left");
}

#[test]
fn discard_keeps_the_rest_and_the_strongest_action_wins() {
    let bytes = announce(&cat(&[
        &attr(0x40, 6, &[0]),
        &attr(0xc0, 8, &[0xff, 0xff, 0xff, 0x01]),
    ]));
    let (e, d) = outcome(&four(), &bytes);
    assert_eq!(e, Discard(ty::ATOMIC_AGGREGATE));
    let d = d.unwrap();
    let Message::Update(u) = &d.message else {
        panic!()
    };
    assert_eq!(u.nlri.len(), 1);
    assert!(u.attribute(ty::ATOMIC_AGGREGATE).is_none());
    assert!(u.attribute(ty::COMMUNITIES).is_some());

    let both = announce(&cat(&[&attr(0x40, 6, &[0]), &attr(0xc0, 8, &[1])]));
    let (e, d) = outcome(&four(), &both);
    assert_eq!(e, Withdraw(ty::COMMUNITIES));
    assert_eq!(d.unwrap().findings.len(), 2);
}

#[test]
fn notifications_carry_the_rfc_data() {
    let bad_type = msg(9, &[]);
    let n = Message::decode(&bad_type, &four())
        .unwrap_err()
        .notification();
    assert_eq!(n.data, [9]);
    let mut short = msg(4, &[]);
    short[17] = 18;
    let n = Message::decode(&short, &four()).unwrap_err().notification();
    assert_eq!(n.data, [0, 18], "Bad Message Length carries the length");
    let v3 = msg(1, &[3, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1, 0]);
    let n = Message::decode(&v3, &four()).unwrap_err().notification();
    assert_eq!(n.data, [0, 4], "the version we support");
    // Attribute errors carry the whole attribute.
    let wk = attr(0x40, 99, &[1]);
    let n = Message::decode(&announce(&wk), &four())
        .unwrap_err()
        .notification();
    assert_eq!(n.data, wk);
    let bad_nh = v6_reach(5, &V6_NLRI);
    let n = Message::decode(
        &update(&[], &cat(&[&bad_nh, &ORIGIN_IGP, &AS_PATH_65001]), &[]),
        &four(),
    )
    .unwrap_err()
    .notification();
    assert_eq!(n.data, bad_nh);
    // A NOTIFICATION built from an error encodes as a valid message.
    let bytes = Message::Notification(n).to_bytes(&four()).unwrap();
    round_trip(&bytes, &four());
}
