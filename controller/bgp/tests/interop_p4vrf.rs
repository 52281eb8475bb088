//! Two p4vrf speakers against each other on loopback, and a hand-driven raw TCP peer for what
//! a well-behaved daemon never does (go silent, send garbage). No external daemon needed.
//! Addresses 127.N.1.x are this file's (N from the process id).

mod interop_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp::session::{
    cease, Event, Events, GracefulRestartConfig, NeighborConfig, Reason, SessionError, Speaker,
    SpeakerConfig, State,
};
use bgp::{
    frame, Action as Rfc7606, Capability, Context, Family, Finding, Message, Open, UpdateProblem,
};
use interop_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(v4(last))
}

fn v4(last: u8) -> Ipv4Addr {
    loopback(1, last)
}

async fn speaker(addr: IpAddr, port: u16) -> (Speaker, Events) {
    Speaker::bind(SpeakerConfig {
        listen: vec![SocketAddr::new(addr, port)],
        ..SpeakerConfig::default()
    })
    .await
    .expect("bind")
}

/// A neighbor of `me` (AS `my_as`) at `peer`:`port`, short timers for tests.
fn neighbor(me: u8, my_as: u32, peer: u8, peer_as: u32, port: u16) -> NeighborConfig {
    let mut c = NeighborConfig::new(ip(peer), my_as, peer_as, v4(me));
    c.remote_port = port;
    c.local_addr = Some(ip(me));
    c.hold_time = 9;
    c.families = [Family::Ipv4Unicast, Family::Ipv6Unicast]
        .into_iter()
        .collect();
    c.timers.connect_retry = Duration::from_secs(1);
    c.timers.idle_hold = Duration::from_millis(200);
    c.timers.max_backoff = Duration::from_secs(2);
    c
}

#[tokio::test]
async fn active_and_passive_exchange_routes_refresh_and_shut_down() {
    init_tracing();
    let (a, mut ea) = speaker(ip(1), 0).await;
    let (b, mut eb) = speaker(ip(2), 0).await;
    let b_port = b.local_addrs()[0].port();
    let na = a
        .add_neighbor(neighbor(1, 65001, 2, 65002, b_port))
        .unwrap();
    let mut pc = neighbor(2, 65002, 1, 65001, 179);
    pc.passive = true;
    pc.hold_time = 30;
    let nb = b.add_neighbor(pc).unwrap();
    assert!(matches!(
        na.send_update(&withdraw(&["10.0.0.0/8"])).await,
        Err(SessionError::NotEstablished(_))
    ));
    nb.start().await.unwrap();
    na.start().await.unwrap();

    let n = expect_established(&mut ea, ip(2), "A established").await;
    assert_eq!((n.hold_time, n.keepalive), (9, 3), "min(9, 30)");
    assert!(n.context.four_octet_as && n.context.extended_message && n.route_refresh);
    expect(&mut eb, ip(1), "B established", |e| {
        matches!(e, Event::Established(_))
    })
    .await;
    assert_eq!(na.state(), State::Established);
    assert_eq!(nb.negotiated().unwrap().remote_as, 65001);

    // A announces, then End-of-RIB.
    na.send_update(&announce(&["10.1.1.0/24", "10.1.2.0/24"], 65001, v4(1)))
        .await
        .unwrap();
    na.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    na.send_end_of_rib(Family::Ipv6Unicast).await.unwrap();
    let mut routes = Routes::default();
    routes
        .until(&mut eb, ip(1), "two routes at B", |r| r.v4.len() == 2)
        .await;
    expect(&mut eb, ip(1), "End-of-RIB", |e| {
        *e == Event::EndOfRib(Family::Ipv4Unicast)
    })
    .await;
    expect(&mut eb, ip(1), "End-of-RIB v6", |e| {
        *e == Event::EndOfRib(Family::Ipv6Unicast)
    })
    .await;
    assert!(matches!(
        na.send_end_of_rib(Family::Vpnv4).await,
        Err(SessionError::FamilyNotNegotiated { .. })
    ));

    // Withdraw one.
    na.send_update(&withdraw(&["10.1.1.0/24"])).await.unwrap();
    routes
        .until(&mut eb, ip(1), "withdrawal at B", |r| !r.has("10.1.1.0/24"))
        .await;
    assert!(routes.has("10.1.2.0/24"));

    // B asks A for a refresh: A's controller is told.
    nb.send_route_refresh(Family::Ipv4Unicast).await.unwrap();
    expect(&mut ea, ip(2), "route refresh request", |e| {
        *e == Event::RouteRefresh(Family::Ipv4Unicast)
    })
    .await;

    // B shuts the session down with a message; A sees why, and goes on trying.
    nb.shutdown(cease::ADMINISTRATIVE_SHUTDOWN, Some("maintenance"))
        .await
        .unwrap();
    let (reason, stale) = expect_peer_down(&mut ea, ip(2), "A down").await;
    assert_eq!(
        reason.to_string(),
        "received Cease/Administrative Shutdown \"maintenance\""
    );
    assert_eq!(stale.iter().count(), 0);
    expect_state(&mut eb, ip(1), State::Idle).await;
    // A restarts automatically; B is stopped, so A is refused until B starts again.
    expect_state(&mut ea, ip(2), State::Connect).await;
    nb.start().await.unwrap();
    expect_state(&mut ea, ip(2), State::Established).await;
    expect_state(&mut eb, ip(1), State::Established).await;

    a.shutdown().await;
    let ev = expect(&mut eb, ip(1), "B down after A's shutdown", |e| {
        matches!(e, Event::PeerDown { .. })
    })
    .await;
    assert!(
        matches!(&ev, Event::PeerDown { reason: Reason::NotificationReceived(n), .. } if n.code == 6 && n.subcode == 2),
        "{ev:?}"
    );
}

#[tokio::test]
async fn ipv6_transport_and_multiprotocol_families() {
    init_tracing();
    // Both speakers on [::1] (the only IPv6 loopback address), told apart by their ports.
    let lo6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let (a, mut ea) = speaker(lo6, 0).await;
    let (b, mut eb) = speaker(lo6, 0).await;
    let families: bgp::FamilySet = [Family::Ipv6Unicast, Family::Vpnv4, Family::Vpnv6]
        .into_iter()
        .collect();
    let mut ca = NeighborConfig::new(lo6, 65001, 65002, v4(70));
    ca.remote_port = b.local_addrs()[0].port();
    ca.families = families;
    ca.timers.connect_retry = Duration::from_secs(1);
    let mut cb = NeighborConfig::new(lo6, 65002, 65001, v4(71));
    cb.passive = true;
    cb.families = [Family::Ipv6Unicast, Family::Vpnv4].into_iter().collect();
    let na = a.add_neighbor(ca).unwrap();
    let nb = b.add_neighbor(cb).unwrap();
    nb.start().await.unwrap();
    na.start().await.unwrap();
    let n = expect_established(&mut ea, lo6, "A established over IPv6").await;
    assert_eq!(
        n.context.families.iter().collect::<Vec<_>>(),
        [Family::Ipv6Unicast, Family::Vpnv4],
        "the intersection"
    );
    expect_state(&mut eb, lo6, State::Established).await;

    // An IPv6 route and a VPNv4 route travel in MP_REACH_NLRI.
    let v6 = bgp::Update {
        attributes: vec![
            bgp::PathAttribute::new(bgp::AttrValue::Origin(bgp::Origin::Igp)),
            bgp::PathAttribute::new(bgp::AttrValue::AsPath(bgp::AsPath::sequence(&[65001]))),
            bgp::PathAttribute::new(bgp::AttrValue::MpReach(bgp::MpReach {
                next_hop: bgp::NextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: None,
                },
                nlri: bgp::NlriList::Ipv6(vec!["2001:db8:70::/48".parse().unwrap()]),
            })),
        ],
        ..bgp::Update::default()
    };
    let rd = bgp::Rd::Known("65001:7".parse::<bgp::RouteDistinguisher>().unwrap());
    let vpn = bgp::Update {
        attributes: vec![
            bgp::PathAttribute::new(bgp::AttrValue::Origin(bgp::Origin::Igp)),
            bgp::PathAttribute::new(bgp::AttrValue::AsPath(bgp::AsPath::sequence(&[65001]))),
            bgp::PathAttribute::new(bgp::AttrValue::MpReach(bgp::MpReach {
                next_hop: bgp::NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
                nlri: bgp::NlriList::Vpnv4(vec![bgp::VpnPrefix {
                    labels: bgp::LabelStack::single(100),
                    rd,
                    prefix: net("10.70.0.0/24"),
                }]),
            })),
        ],
        ..bgp::Update::default()
    };
    na.send_updates(&[v6.clone(), vpn.clone()]).await.unwrap();
    for (want, what) in [(&v6, "IPv6 route"), (&vpn, "VPNv4 route")] {
        let ev = expect(&mut eb, lo6, what, |e| matches!(e, Event::Update { .. })).await;
        assert_eq!(
            ev,
            Event::Update {
                update: want.clone(),
                findings: vec![]
            }
        );
    }
    // Vpnv6 was not agreed on: refused before it reaches the wire.
    assert!(matches!(
        na.send_end_of_rib(Family::Vpnv6).await,
        Err(SessionError::FamilyNotNegotiated { .. })
    ));
}

#[tokio::test]
async fn collision_leaves_one_session_on_both_sides() {
    init_tracing();
    // Both active, both listening on fixed ports: each connects to the other at once.
    for round in 0..3u8 {
        let (x, y) = (10 + 2 * round, 11 + 2 * round);
        let (a, mut ea) = speaker(ip(x), 11179).await;
        let (b, mut eb) = speaker(ip(y), 11179).await;
        let na = a.add_neighbor(neighbor(x, 65001, y, 65001, 11179)).unwrap();
        let nb = b.add_neighbor(neighbor(y, 65001, x, 65001, 11179)).unwrap();
        tokio::join!(async { na.start().await.unwrap() }, async {
            nb.start().await.unwrap()
        });
        expect_state(&mut ea, ip(y), State::Established).await;
        expect_state(&mut eb, ip(x), State::Established).await;
        // Stable: nothing else happens for a while, and UPDATEs flow on the survivor.
        na.send_update(&announce_ibgp(&["10.9.0.0/16"], v4(x)))
            .await
            .unwrap();
        let mut routes = Routes::default();
        routes
            .until(&mut eb, ip(x), "route over the surviving connection", |r| {
                r.has("10.9.0.0/16")
            })
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(na.state(), State::Established);
        assert_eq!(nb.state(), State::Established);
        while let Some(e) = ea.try_recv() {
            assert!(
                !matches!(e.event, Event::PeerDown { .. }),
                "A went down: {e:?}"
            );
        }
    }
}

#[tokio::test]
async fn graceful_restart_helper_keeps_routes_of_a_crashed_peer() {
    init_tracing();
    let gr = GracefulRestartConfig {
        restart_time: 30,
        stale_routes_time: Duration::from_secs(30),
    };
    let (a, mut ea) = speaker(ip(30), 0).await;
    let mut ca = neighbor(30, 65001, 31, 65002, 179);
    ca.passive = true;
    ca.graceful_restart = Some(gr);
    let na = a.add_neighbor(ca).unwrap();
    na.start().await.unwrap();
    let a_port = a.local_addrs()[0].port();

    // B: a GR-capable peer whose OPEN claims forwarding state for IPv4 (a restarting
    // speaker would); our helper-mode OPEN claims none, so B is a raw peer here.
    let mut b = RawPeer::connect(ip(31), SocketAddr::new(ip(30), a_port)).await;
    b.handshake(65002, 9, v4(31), gr_caps(false)).await;
    expect_state(&mut ea, ip(31), State::Established).await;
    b.send(&Message::Update(announce(&["10.31.0.0/16"], 65002, v4(31))))
        .await;
    expect_their_route(&mut ea, ip(31), "B's route", "10.31.0.0/16").await;

    // B crashes: the TCP connection closes without a NOTIFICATION.
    drop(b);
    let (_, stale) = expect_peer_down(&mut ea, ip(31), "peer down").await;
    assert_eq!(stale.iter().collect::<Vec<_>>(), [Family::Ipv4Unicast]);

    // B restarts (R bit), re-announces and sends End-of-RIB: the stale routes are flushed.
    let mut b = RawPeer::connect(ip(31), SocketAddr::new(ip(30), a_port)).await;
    b.handshake(65002, 9, v4(31), gr_caps(true)).await;
    let n = expect_established(&mut ea, ip(31), "back").await;
    assert!(n.graceful_restart.is_some_and(|g| g.restarting));
    b.send(&Message::Update(announce(&["10.31.0.0/16"], 65002, v4(31))))
        .await;
    b.send(&Message::Update(bgp::Update::default())).await;
    expect_stale_flush_at_end_of_rib(&mut ea, ip(31), "stale flush").await;
    drop(a);
}

#[tokio::test]
async fn hold_timer_expiry_sends_notification_on_the_wire() {
    init_tracing();
    let (a, mut ea) = speaker(ip(40), 0).await;
    let mut c = neighbor(40, 65001, 41, 65002, 179);
    c.passive = true;
    c.hold_time = 3;
    let na = a.add_neighbor(c).unwrap();
    na.start().await.unwrap();
    let mut b = RawPeer::connect(ip(41), a.local_addrs()[0]).await;
    b.handshake(65002, 3, v4(41), vec![]).await;
    expect_state(&mut ea, ip(41), State::Established).await;
    // Silence: after 3 s our hold timer expires and we say so before closing.
    let started = tokio::time::Instant::now();
    let n = b.read_notification().await;
    assert_eq!((n.code, n.subcode), (4, 0));
    assert!(started.elapsed() >= Duration::from_secs(2));
    let ev = expect(&mut ea, ip(41), "peer down", |e| {
        matches!(e, Event::PeerDown { .. })
    })
    .await;
    assert!(matches!(
        ev,
        Event::PeerDown {
            reason: Reason::HoldTimerExpired,
            ..
        }
    ));
}

#[tokio::test]
async fn malformed_update_resets_and_treat_as_withdraw_does_not() {
    init_tracing();
    let (a, mut ea) = speaker(ip(50), 0).await;
    let mut c = neighbor(50, 65001, 51, 65002, 179);
    c.passive = true;
    let na = a.add_neighbor(c).unwrap();
    na.start().await.unwrap();
    let mut b = RawPeer::connect(ip(51), a.local_addrs()[0]).await;
    b.handshake(65002, 90, v4(51), vec![Capability::FourOctetAs(65002)])
        .await;
    expect_state(&mut ea, ip(51), State::Established).await;

    // COMMUNITIES of length 5: RFC 7606 treat-as-withdraw, the session stays.
    let mut body = vec![0, 0];
    let attrs: Vec<u8> = [
        &[0x40, 1, 1, 0][..],                      // ORIGIN IGP
        &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea][..], // AS_PATH 65002 (4-octet session)
        &[0x40, 3, 4, 192, 0, 2, 1][..],           // NEXT_HOP
        &[0xc0, 8, 5, 0, 0, 0, 1, 2][..],          // COMMUNITIES, bad length
    ]
    .concat();
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    body.extend_from_slice(&[16, 10, 51]); // 10.51.0.0/16
    b.send_raw(2, &body).await;
    let ev = expect(&mut ea, ip(51), "treat-as-withdraw", |e| {
        matches!(e, Event::Update { .. })
    })
    .await;
    let Event::Update { update, findings } = ev else {
        unreachable!()
    };
    assert_eq!(update.withdrawn, vec![net("10.51.0.0/16")]);
    assert_eq!(findings.len(), 1);
    assert_eq!(na.state(), State::Established);

    // An NLRI prefix longer than 32 bits: session reset with 3/10, NOTIFICATION on the wire.
    b.send_raw(2, &[0, 0, 0, 0, 33, 10, 0, 0, 0, 0]).await;
    let n = b.read_notification().await;
    assert_eq!((n.code, n.subcode), (3, 10));
    expect_state(&mut ea, ip(51), State::Idle).await;
}

/// The next UPDATE event of `peer`: the update and its RFC 7606 findings.
async fn next_update(events: &mut Events, peer: IpAddr, what: &str) -> (bgp::Update, Vec<Finding>) {
    let ev = expect(events, peer, what, |e| matches!(e, Event::Update { .. })).await;
    let Event::Update { update, findings } = ev else {
        unreachable!()
    };
    (update, findings)
}

/// An UPDATE body: no withdrawn routes, `attrs`, then `nlri` (already encoded).
fn update_body(attrs: &[&[u8]], nlri: &[u8]) -> Vec<u8> {
    let attrs = attrs.concat();
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(&attrs);
    body.extend_from_slice(nlri);
    body
}

// Well-formed attributes for a 4-octet session with peer AS 65002.
const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
const AS_PATH_65002: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea];
const NEXT_HOP_DOC: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];

/// The three RFC 7606 outcomes a daemon cannot be made to produce, each on a live session
/// (raw peer → our socket → codec → FSM → events and the wire): attribute discard and
/// treat-as-withdraw keep the session and report the finding; a malformed MP_REACH_NLRI
/// resets it with 3/9 on the wire. (COMMUNITIES treat-as-withdraw and a bad NLRI field are
/// in `malformed_update_resets_and_treat_as_withdraw_does_not`; the codec's whole table is
/// `tests/rfc7606.rs`.)
#[tokio::test]
async fn rfc7606_discard_withdraw_and_reset_on_a_live_session() {
    init_tracing();
    let (a, mut ea) = speaker(ip(52), 0).await;
    let mut c = neighbor(52, 65001, 53, 65002, 179);
    c.passive = true;
    let na = a.add_neighbor(c).unwrap();
    na.start().await.unwrap();
    let mut b = RawPeer::connect(ip(53), a.local_addrs()[0]).await;
    let mp = |f: Family| Capability::Multiprotocol {
        family: f.afi_safi(),
        reserved: 0,
    };
    b.handshake(
        65002,
        90,
        v4(53),
        vec![
            Capability::FourOctetAs(65002),
            mp(Family::Ipv4Unicast),
            mp(Family::Ipv6Unicast),
        ],
    )
    .await;
    let neg = expect_established(&mut ea, ip(53), "raw peer up").await;
    assert!(neg.context.families.contains(Family::Ipv6Unicast));
    let peer = ip(53);

    // (a) AGGREGATOR of 5 octets (8 on a 4-octet session): attribute discard. The route is
    // accepted without it.
    let aggregator_bad: &[u8] = &[0xc0, 7, 5, 0, 0, 0xfd, 0xea, 10];
    b.send_raw(
        2,
        &update_body(
            &[ORIGIN_IGP, AS_PATH_65002, NEXT_HOP_DOC, aggregator_bad],
            &[16, 10, 52],
        ),
    )
    .await;
    let (update, findings) = next_update(&mut ea, peer, "attribute discard").await;
    assert_eq!(update.nlri, vec![net("10.52.0.0/16")]);
    assert!(update.attribute(7).is_none(), "AGGREGATOR discarded");
    assert!(update.attribute(3).is_some(), "the rest stands");
    assert_eq!(
        findings,
        [Finding {
            attr_type: 7,
            action: Rfc7606::AttributeDiscard,
            problem: UpdateProblem::BadLength(5),
        }]
    );

    // (b) ORIGIN value 7, then MED of 3 octets: treat-as-withdraw. The first withdraws the
    // route accepted above.
    let origin_bad: &[u8] = &[0x40, 1, 1, 7];
    b.send_raw(
        2,
        &update_body(&[origin_bad, AS_PATH_65002, NEXT_HOP_DOC], &[16, 10, 52]),
    )
    .await;
    let (update, findings) = next_update(&mut ea, peer, "treat-as-withdraw (ORIGIN)").await;
    assert!(
        update.nlri.is_empty() && update.attributes.is_empty(),
        "{update:?}"
    );
    assert_eq!(update.withdrawn, vec![net("10.52.0.0/16")]);
    assert_eq!(
        findings,
        [Finding {
            attr_type: 1,
            action: Rfc7606::TreatAsWithdraw,
            problem: UpdateProblem::InvalidOrigin(7),
        }]
    );
    let med_bad: &[u8] = &[0x80, 4, 3, 0, 0, 1];
    b.send_raw(
        2,
        &update_body(
            &[ORIGIN_IGP, AS_PATH_65002, NEXT_HOP_DOC, med_bad],
            &[16, 10, 53],
        ),
    )
    .await;
    let (update, findings) = next_update(&mut ea, peer, "treat-as-withdraw (MED)").await;
    assert_eq!(update.withdrawn, vec![net("10.53.0.0/16")]);
    assert!(update.nlri.is_empty());
    assert_eq!(
        findings,
        [Finding {
            attr_type: 4,
            action: Rfc7606::TreatAsWithdraw,
            problem: UpdateProblem::BadLength(3),
        }]
    );

    // The session is still up and carries well-formed UPDATEs.
    b.send(&Message::Update(announce(&["10.54.0.0/16"], 65002, v4(53))))
        .await;
    let (update, findings) = next_update(&mut ea, peer, "a good UPDATE after the bad ones").await;
    assert_eq!((update.nlri, findings), (vec![net("10.54.0.0/16")], vec![]));
    assert_eq!(na.state(), State::Established);

    // (c) MP_REACH_NLRI for IPv6 unicast with a 5-octet next hop: the NLRI after it cannot be
    // located, so session reset, NOTIFICATION 3/9 (optional attribute error) with the
    // attribute as data.
    let mp_reach_bad: &[u8] = &[
        0x80, 14, 15, 0, 2, 1, 5, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 32, 0x20, 0x01, 0x0d, 0xb8,
    ];
    b.send_raw(
        2,
        &update_body(&[ORIGIN_IGP, AS_PATH_65002, mp_reach_bad], &[]),
    )
    .await;
    let n = b.read_notification().await;
    assert_eq!((n.code, n.subcode), (3, 9), "{n:?}");
    assert_eq!(n.data, mp_reach_bad);
    assert!(b.closed_within(Duration::from_secs(5)).await);
    let (reason, _) = expect_peer_down(&mut ea, ip(53), "session reset").await;
    assert_eq!(reason, Reason::NotificationSent(n));
    assert_ne!(na.state(), State::Established);
}

#[tokio::test]
async fn wrong_peer_as_is_refused_on_the_wire() {
    init_tracing();
    let (a, mut ea) = speaker(ip(60), 0).await;
    let mut c = neighbor(60, 65001, 61, 65002, 179);
    c.passive = true;
    let na = a.add_neighbor(c).unwrap();
    na.start().await.unwrap();
    let mut b = RawPeer::connect(ip(61), a.local_addrs()[0]).await;
    let _their_open = b.read_message().await;
    b.send(&Message::Open(Open::new(
        65099,
        90,
        v4(61),
        vec![Capability::FourOctetAs(65099)],
    )))
    .await;
    let n = b.read_notification().await;
    assert_eq!((n.code, n.subcode), (2, 2));
    let ev = expect_state(&mut ea, ip(61), State::Idle).await;
    assert!(
        matches!(
            &ev,
            Event::StateChanged {
                reason: Reason::OpenRejected { .. },
                ..
            }
        ),
        "{ev:?}"
    );
    // Connections from unknown addresses are refused without a word.
    let mut stranger = RawPeer::connect(ip(62), a.local_addrs()[0]).await;
    assert!(stranger.closed_within(Duration::from_secs(5)).await);
}

// ----- a raw peer -------------------------------------------------------------------------

fn gr_caps(restarting: bool) -> Vec<Capability> {
    vec![
        Capability::FourOctetAs(65002),
        Capability::GracefulRestart(bgp::GracefulRestart {
            flags: if restarting {
                bgp::GracefulRestart::RESTART_STATE
            } else {
                0
            },
            restart_time: 60,
            families: vec![bgp::GracefulRestartFamily {
                family: Family::Ipv4Unicast.afi_safi(),
                flags: bgp::GracefulRestartFamily::FORWARDING_STATE,
            }],
        }),
    ]
}

/// A BGP peer driven by hand: exactly the bytes the test says, nothing on its own.
struct RawPeer {
    s: TcpStream,
    buf: Vec<u8>,
    ctx: Context,
}

impl RawPeer {
    async fn connect(from: IpAddr, to: SocketAddr) -> RawPeer {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(from, 0)).unwrap();
        let s = timeout(WAIT, sock.connect(to))
            .await
            .expect("connect timeout")
            .expect("connect");
        RawPeer {
            s,
            buf: Vec::new(),
            ctx: Context::default(),
        }
    }

    async fn send(&mut self, m: &Message) {
        let bytes = m.to_bytes(&self.ctx).unwrap();
        self.s.write_all(&bytes).await.unwrap();
    }

    async fn send_raw(&mut self, msg_type: u8, body: &[u8]) {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(msg_type);
        m.extend_from_slice(body);
        self.s.write_all(&m).await.unwrap();
    }

    async fn read_message(&mut self) -> Message {
        loop {
            if let Some(f) = frame(&self.buf, &self.ctx).unwrap() {
                let len = f.len();
                let m = f.decode(&self.ctx).unwrap().message;
                self.buf.drain(..len);
                return m;
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(WAIT, self.s.read(&mut chunk))
                .await
                .expect("read timeout")
                .expect("read");
            assert!(n > 0, "connection closed while waiting for a message");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads until a NOTIFICATION (KEEPALIVEs are skipped).
    async fn read_notification(&mut self) -> bgp::Notification {
        loop {
            match self.read_message().await {
                Message::Notification(n) => return n,
                Message::Keepalive => continue,
                m => panic!("expected a NOTIFICATION, got {m:?}"),
            }
        }
    }

    /// Their OPEN, our OPEN, KEEPALIVEs both ways.
    async fn handshake(&mut self, asn: u32, hold: u16, id: Ipv4Addr, caps: Vec<Capability>) {
        let Message::Open(theirs) = self.read_message().await else {
            panic!("expected OPEN")
        };
        let ours = Open::new(asn, hold, id, caps);
        self.send(&Message::Open(ours.clone())).await;
        self.ctx = Context::negotiated(&ours, &theirs);
        assert_eq!(self.read_message().await, Message::Keepalive);
        self.send(&Message::Keepalive).await;
    }

    async fn closed_within(&mut self, d: Duration) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            timeout(d, self.s.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}
