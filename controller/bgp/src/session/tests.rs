//! The state machine, one input at a time: every transition that matters, collisions and
//! the graceful restart helper. No sockets, no clocks.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::consts::notify;
use crate::{
    Action as Rfc7606, AfiSafi, AsPath, AttrValue, Capability, DecodeError, Family, FamilySet,
    Finding, GracefulRestart, GracefulRestartFamily, Message, MpUnreach, NlriList, Notification,
    Open, Origin, PathAttribute, RouteRefresh, Update, UpdateProblem,
};

use super::config::{GracefulRestartConfig, NeighborConfig};
use super::fsm::{Action, ConnId, Direction, Event, Fsm, Input, Reason, StaleCause, State, Timer};
use super::notification::{cease_notification, fsm_error};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn cfg() -> NeighborConfig {
    let mut c = NeighborConfig::new(PEER, 65001, 65002, LOCAL_ID);
    c.hold_time = 9;
    c.families = [Family::Ipv4Unicast, Family::Ipv6Unicast]
        .into_iter()
        .collect();
    c.timers.connect_retry = Duration::from_secs(5);
    c.timers.idle_hold = Duration::from_secs(1);
    c.timers.max_backoff = Duration::from_secs(8);
    c
}

fn gr_cfg() -> NeighborConfig {
    let mut c = cfg();
    c.graceful_restart = Some(GracefulRestartConfig {
        restart_time: 120,
        stale_routes_time: Duration::from_secs(300),
    });
    c
}

fn mp(f: Family) -> Capability {
    Capability::Multiprotocol {
        family: f.afi_safi(),
        reserved: 0,
    }
}

/// The peer's OPEN: AS 65002, id 10.0.0.9 (above ours), hold 30, both unicast families.
fn peer_open() -> Open {
    Open::new(
        65002,
        30,
        Ipv4Addr::new(10, 0, 0, 9),
        vec![
            mp(Family::Ipv4Unicast),
            mp(Family::Ipv6Unicast),
            Capability::RouteRefresh,
            Capability::FourOctetAs(65002),
        ],
    )
}

/// The same with graceful restart for IPv4 unicast (F bit as given), restart time 90.
fn peer_open_gr(forwarding: bool) -> Open {
    let mut o = peer_open();
    o.capability_params[0].push(Capability::GracefulRestart(GracefulRestart {
        flags: 0,
        restart_time: 90,
        families: vec![GracefulRestartFamily {
            family: Family::Ipv4Unicast.afi_safi(),
            flags: if forwarding {
                GracefulRestartFamily::FORWARDING_STATE
            } else {
                0
            },
        }],
    }));
    o
}

fn msg(conn: ConnId, message: Message) -> Input {
    Input::Message {
        conn,
        message,
        findings: vec![],
    }
}

fn sent(a: &[Action]) -> Vec<(ConnId, Message)> {
    a.iter()
        .filter_map(|a| match a {
            Action::Send { conn, message } => Some((*conn, message.clone())),
            _ => None,
        })
        .collect()
}

fn closed(a: &[Action]) -> Vec<(ConnId, Option<Notification>)> {
    a.iter()
        .filter_map(|a| match a {
            Action::Close { conn, notification } => Some((*conn, notification.clone())),
            _ => None,
        })
        .collect()
}

fn events(a: &[Action]) -> Vec<Event> {
    a.iter()
        .filter_map(|a| match a {
            Action::Report(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn started(a: &[Action], t: Timer) -> Option<Duration> {
    a.iter().rev().find_map(|a| match a {
        Action::StartTimer { timer, after } if *timer == t => Some(*after),
        _ => None,
    })
}

fn stopped(a: &[Action], t: Timer) -> bool {
    a.contains(&Action::StopTimer(t))
}

fn transitions(a: &[Action]) -> Vec<(State, State)> {
    events(a)
        .into_iter()
        .filter_map(|e| match e {
            Event::StateChanged { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect()
}

fn last_reason(a: &[Action]) -> Reason {
    events(a)
        .into_iter()
        .filter_map(|e| match e {
            Event::StateChanged { reason, .. } => Some(reason),
            _ => None,
        })
        .next_back()
        .expect("a state change")
}

fn notif(code: u8, subcode: u8) -> Notification {
    Notification {
        code,
        subcode,
        data: vec![],
    }
}

/// Started, outgoing connection 1 up: OpenSent.
fn open_sent(c: NeighborConfig) -> Fsm {
    let mut f = Fsm::new(c);
    f.step(Input::ManualStart);
    f.step(Input::Connected {
        conn: 1,
        direction: Direction::Outgoing,
    });
    assert_eq!(f.state(), State::OpenSent);
    f
}

fn established_with(c: NeighborConfig, o: Open) -> Fsm {
    let mut f = open_sent(c);
    f.step(msg(1, Message::Open(o)));
    f.step(msg(1, Message::Keepalive));
    assert_eq!(f.state(), State::Established);
    f
}

fn established() -> Fsm {
    established_with(cfg(), peer_open())
}

fn update_v4(prefix: &str, path: &[u32]) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::sequence(path))),
            PathAttribute::new(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
        ],
        nlri: vec![prefix.parse().unwrap()],
    }
}

// ----- starting and connecting ------------------------------------------------------------

#[test]
fn manual_start_active_connects_and_runs_connect_retry() {
    let mut f = Fsm::new(cfg());
    assert_eq!(f.state(), State::Idle);
    let a = f.step(Input::ManualStart);
    assert!(a.contains(&Action::Connect));
    assert_eq!(
        started(&a, Timer::ConnectRetry),
        Some(Duration::from_secs(5))
    );
    assert_eq!(transitions(&a), [(State::Idle, State::Connect)]);
    assert_eq!(last_reason(&a), Reason::ManualStart);
    // A second start changes nothing.
    assert!(f.step(Input::ManualStart).is_empty());
}

#[test]
fn manual_start_passive_only_listens() {
    let mut c = cfg();
    c.passive = true;
    let mut f = Fsm::new(c);
    let a = f.step(Input::ManualStart);
    assert!(!a.contains(&Action::Connect));
    assert_eq!(started(&a, Timer::ConnectRetry), None);
    assert_eq!(f.state(), State::Active);
    // ConnectRetry never makes a passive neighbor connect.
    assert!(!f
        .step(Input::TimerExpired(Timer::ConnectRetry))
        .contains(&Action::Connect));
    assert_eq!(f.state(), State::Active);
    let a = f.step(Input::Connected {
        conn: 7,
        direction: Direction::Incoming,
    });
    assert_eq!(f.state(), State::OpenSent);
    assert!(matches!(sent(&a)[..], [(7, Message::Open(_))]));
}

#[test]
fn connect_retry_backs_off_up_to_the_bound() {
    let mut f = Fsm::new(cfg());
    f.step(Input::ManualStart);
    let mut seen = vec![];
    for _ in 0..5 {
        let a = f.step(Input::TimerExpired(Timer::ConnectRetry));
        assert_eq!(a.first(), Some(&Action::CancelConnect));
        assert!(a.contains(&Action::Connect));
        seen.push(started(&a, Timer::ConnectRetry).unwrap().as_secs());
        assert_eq!(f.state(), State::Connect);
    }
    assert_eq!(
        seen,
        [8, 8, 8, 8, 8],
        "5 s doubled is capped at max_backoff 8 s"
    );
    let mut c = cfg();
    c.timers.max_backoff = Duration::from_secs(60);
    let mut f = Fsm::new(c);
    f.step(Input::ManualStart);
    let secs: Vec<_> = (0..5)
        .map(|_| {
            let a = f.step(Input::TimerExpired(Timer::ConnectRetry));
            started(&a, Timer::ConnectRetry).unwrap().as_secs()
        })
        .collect();
    assert_eq!(secs, [10, 20, 40, 60, 60]);
}

#[test]
fn connect_failure_goes_active_and_connect_retry_tries_again() {
    let mut f = Fsm::new(cfg());
    f.step(Input::ManualStart);
    let a = f.step(Input::ConnectFailed {
        error: "connection refused".into(),
    });
    assert_eq!(transitions(&a), [(State::Connect, State::Active)]);
    assert_eq!(
        last_reason(&a),
        Reason::ConnectFailed("connection refused".into())
    );
    let a = f.step(Input::TimerExpired(Timer::ConnectRetry));
    assert!(a.contains(&Action::Connect));
    assert_eq!(transitions(&a), [(State::Active, State::Connect)]);
    assert_eq!(last_reason(&a), Reason::ConnectRetryExpired);
    // A failure report without an attempt in flight is ignored.
    f.step(Input::ConnectFailed { error: "x".into() });
    assert!(f
        .step(Input::ConnectFailed { error: "x".into() })
        .is_empty());
}

#[test]
fn incoming_connection_while_connecting_keeps_our_attempt_for_collision_detection() {
    let mut f = Fsm::new(cfg());
    f.step(Input::ManualStart);
    let a = f.step(Input::Connected {
        conn: 3,
        direction: Direction::Incoming,
    });
    assert!(!a.contains(&Action::CancelConnect));
    assert!(stopped(&a, Timer::ConnectRetry));
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(240)));
    assert_eq!(f.state(), State::OpenSent);
    assert_eq!(last_reason(&a), Reason::Connected(Direction::Incoming));
    // Our attempt completes too: a collision, resolved when its OPEN arrives.
    let a = f.step(Input::Connected {
        conn: 4,
        direction: Direction::Outgoing,
    });
    assert!(matches!(sent(&a)[..], [(4, Message::Open(_))]));
    assert_eq!(f.primary_conn(), Some(3));
    assert_eq!(f.pending_conn(), Some(4));
    // An attempt that was cancelled (by a reset) and completes anyway is closed at once.
    f.step(Input::TimerExpired(Timer::Hold));
    let a = f.step(Input::Connected {
        conn: 5,
        direction: Direction::Outgoing,
    });
    assert_eq!(closed(&a), [(5, None)]);
}

#[test]
fn idle_refuses_connections_until_started() {
    let mut f = Fsm::new(cfg());
    let a = f.step(Input::Connected {
        conn: 1,
        direction: Direction::Incoming,
    });
    assert_eq!(closed(&a), [(1, Some(cease_notification(5, None)))]);
    assert_eq!(f.state(), State::Idle);
}

// ----- OPEN exchange ------------------------------------------------------------------------

#[test]
fn open_then_keepalive_reaches_established_with_negotiated_timers() {
    let mut f = open_sent(cfg());
    let a = f.step(msg(1, Message::Open(peer_open())));
    assert_eq!(sent(&a), [(1, Message::Keepalive)]);
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(9)));
    assert_eq!(started(&a, Timer::Keepalive), Some(Duration::from_secs(3)));
    assert_eq!(transitions(&a), [(State::OpenSent, State::OpenConfirm)]);
    assert!(f.context_for(1).four_octet_as);
    assert!(
        !f.context_for(2).four_octet_as,
        "other connections: pre-OPEN"
    );

    let a = f.step(msg(1, Message::Keepalive));
    assert_eq!(transitions(&a), [(State::OpenConfirm, State::Established)]);
    let n = match &events(&a)[1] {
        Event::Established(n) => n.clone(),
        e => panic!("{e:?}"),
    };
    assert_eq!((n.hold_time, n.keepalive), (9, 3));
    assert_eq!(n.remote_as, 65002);
    assert!(n.route_refresh);
    assert!(!n.context.extended_message);
    assert_eq!(
        n.context.families,
        [Family::Ipv4Unicast, Family::Ipv6Unicast]
            .into_iter()
            .collect()
    );
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(9)));
}

#[test]
fn the_open_we_send_says_who_we_are() {
    let mut f = Fsm::new(cfg());
    f.step(Input::ManualStart);
    let a = f.step(Input::Connected {
        conn: 1,
        direction: Direction::Outgoing,
    });
    let Message::Open(o) = &sent(&a)[0].1 else {
        panic!()
    };
    assert_eq!((o.asn(), o.hold_time, o.bgp_id), (65001, 9, LOCAL_ID));
    assert!(o.capabilities().any(|c| *c == Capability::RouteRefresh));
    assert!(o.capabilities().any(|c| *c == Capability::ExtendedMessage));
}

#[test]
fn zero_hold_time_means_no_keepalives_and_no_hold_timer() {
    let mut o = peer_open();
    o.hold_time = 0;
    let mut f = open_sent(cfg());
    let a = f.step(msg(1, Message::Open(o)));
    assert!(stopped(&a, Timer::Hold));
    assert!(stopped(&a, Timer::Keepalive));
    assert_eq!(started(&a, Timer::Hold), None);
    assert_eq!(started(&a, Timer::Keepalive), None);
    let a = f.step(msg(1, Message::Keepalive));
    assert_eq!(started(&a, Timer::Hold), None);
    assert_eq!(f.state(), State::Established);
}

#[test]
fn bad_peer_as_is_refused_with_open_error() {
    let mut o = peer_open();
    o.capability_params[0].retain(|c| !matches!(c, Capability::FourOctetAs(_)));
    o.my_as = 65099;
    let mut f = open_sent(cfg());
    let a = f.step(msg(1, Message::Open(o)));
    assert_eq!(closed(&a), [(1, Some(notif(2, 2)))]);
    assert_eq!(f.state(), State::Idle);
    assert!(matches!(last_reason(&a), Reason::OpenRejected { .. }));
    assert_eq!(
        last_reason(&a).to_string(),
        "OPEN rejected (peer AS 65099 is not the configured AS 65002), sent OPEN Message Error/Bad Peer AS"
    );
    // Errors restart automatically after the idle hold time.
    assert_eq!(started(&a, Timer::IdleHold), Some(Duration::from_secs(1)));
}

#[test]
fn four_octet_peer_as_through_as_trans() {
    let mut c = cfg();
    c.remote_as = 4_200_000_002;
    let o = Open::new(
        4_200_000_002,
        90,
        Ipv4Addr::new(10, 0, 0, 9),
        vec![Capability::FourOctetAs(4_200_000_002)],
    );
    assert_eq!(o.my_as, 23456);
    let f = established_with(c.clone(), o);
    assert_eq!(f.negotiated().unwrap().remote_as, 4_200_000_002);
    // Without the capability, AS_TRANS is just AS 23456.
    let o = Open::new(23456, 90, Ipv4Addr::new(10, 0, 0, 9), vec![]);
    let mut f = open_sent(c);
    let a = f.step(msg(1, Message::Open(o)));
    assert_eq!(closed(&a), [(1, Some(notif(2, 2)))]);
}

#[test]
fn internal_peer_with_our_identifier_is_refused() {
    let mut c = cfg();
    c.remote_as = 65001;
    let o = Open::new(65001, 90, LOCAL_ID, vec![Capability::FourOctetAs(65001)]);
    let mut f = open_sent(c);
    let a = f.step(msg(1, Message::Open(o)));
    assert_eq!(closed(&a), [(1, Some(notif(2, 3)))]);
}

#[test]
fn unacceptable_hold_time_and_no_common_family() {
    let mut o = peer_open();
    o.hold_time = 2;
    let mut f = open_sent(cfg());
    assert_eq!(
        closed(&f.step(msg(1, Message::Open(o)))),
        [(1, Some(notif(2, 6)))]
    );
    let o = Open::new(
        65002,
        90,
        Ipv4Addr::new(10, 0, 0, 9),
        vec![mp(Family::Vpnv4)],
    );
    let mut f = open_sent(cfg());
    let a = f.step(msg(1, Message::Open(o)));
    let (_, n) = &closed(&a)[0];
    let n = n.clone().unwrap();
    assert_eq!((n.code, n.subcode), (2, 7));
    assert!(!n.data.is_empty(), "lists the capabilities we wanted");
}

#[test]
fn unknown_capabilities_are_ignored() {
    let mut o = peer_open();
    o.capability_params.push(vec![
        Capability::Unknown {
            code: 73,
            value: b"\x03r01\x00".to_vec(),
        },
        Capability::Multiprotocol {
            family: AfiSafi::new(25, 65),
            reserved: 0,
        },
    ]);
    let f = established_with(cfg(), o);
    assert_eq!(f.negotiated().unwrap().context.families.iter().count(), 2);
}

#[test]
fn open_decode_errors_send_the_codec_notification() {
    let mut f = open_sent(cfg());
    let a = f.step(Input::DecodeError {
        conn: 1,
        error: DecodeError::UnsupportedVersion(3),
    });
    assert_eq!(
        closed(&a),
        [(
            1,
            Some(Notification {
                code: 2,
                subcode: 1,
                data: vec![0, 4]
            })
        )]
    );
    assert_eq!(f.state(), State::Idle);
}

// ----- timers ---------------------------------------------------------------------------

#[test]
fn hold_timer_expiry_in_every_state_that_has_one() {
    for setup in [0, 1, 2] {
        let mut f = match setup {
            0 => open_sent(cfg()),
            1 => {
                let mut f = open_sent(cfg());
                f.step(msg(1, Message::Open(peer_open())));
                f
            }
            _ => established(),
        };
        let before = f.state();
        let a = f.step(Input::TimerExpired(Timer::Hold));
        assert_eq!(closed(&a), [(1, Some(notif(4, 0)))], "{before}");
        assert_eq!(f.state(), State::Idle);
        assert_eq!(last_reason(&a), Reason::HoldTimerExpired);
        assert!(started(&a, Timer::IdleHold).is_some());
        let down = events(&a)
            .into_iter()
            .any(|e| matches!(e, Event::PeerDown { .. }));
        assert_eq!(down, before == State::Established);
    }
}

#[test]
fn keepalive_timer_sends_and_restarts() {
    let mut f = established();
    let a = f.step(Input::TimerExpired(Timer::Keepalive));
    assert_eq!(sent(&a), [(1, Message::Keepalive)]);
    assert_eq!(started(&a, Timer::Keepalive), Some(Duration::from_secs(3)));
    // Received KEEPALIVE / UPDATE restart the hold timer.
    let a = f.step(msg(1, Message::Keepalive));
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(9)));
    let a = f.step(msg(1, Message::Update(update_v4("10.0.0.0/8", &[65002]))));
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(9)));
}

#[test]
fn stale_timer_events_are_ignored() {
    let mut f = Fsm::new(cfg());
    assert!(f.step(Input::TimerExpired(Timer::Hold)).is_empty());
    assert!(f.step(Input::TimerExpired(Timer::Keepalive)).is_empty());
    assert!(f.step(Input::TimerExpired(Timer::IdleHold)).is_empty());
    assert_eq!(f.state(), State::Idle);
}

#[test]
fn automatic_restart_backs_off_and_resets_when_established() {
    let mut f = open_sent(cfg());
    let mut holds = vec![];
    for _ in 0..5 {
        let a = f.step(Input::TimerExpired(Timer::Hold));
        holds.push(started(&a, Timer::IdleHold).unwrap().as_secs());
        let a = f.step(Input::TimerExpired(Timer::IdleHold));
        assert_eq!(last_reason(&a), Reason::AutomaticStart);
        assert!(a.contains(&Action::Connect));
        f.step(Input::Connected {
            conn: 1,
            direction: Direction::Outgoing,
        });
    }
    assert_eq!(holds, [1, 2, 4, 8, 8]);
    f.step(msg(1, Message::Open(peer_open())));
    f.step(msg(1, Message::Keepalive));
    assert_eq!(f.failures(), 0);
    let a = f.step(Input::TimerExpired(Timer::Hold));
    assert_eq!(started(&a, Timer::IdleHold), Some(Duration::from_secs(1)));
}

#[test]
fn incoming_connection_during_idle_hold_is_accepted_at_once() {
    let mut f = open_sent(cfg());
    f.step(Input::TimerExpired(Timer::Hold));
    assert_eq!(f.state(), State::Idle);
    let a = f.step(Input::Connected {
        conn: 9,
        direction: Direction::Incoming,
    });
    assert!(stopped(&a, Timer::IdleHold));
    assert_eq!(
        transitions(&a),
        [
            (State::Idle, State::Active),
            (State::Active, State::OpenSent)
        ]
    );
}

// ----- NOTIFICATIONs and unexpected messages ------------------------------------------------

#[test]
fn notification_received_in_each_state_goes_idle_without_answering() {
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        let mut f = open_sent(cfg());
        if state >= State::OpenConfirm {
            f.step(msg(1, Message::Open(peer_open())));
        }
        if state == State::Established {
            f.step(msg(1, Message::Keepalive));
        }
        assert_eq!(f.state(), state);
        let n = cease_notification(2, Some("maintenance"));
        let a = f.step(msg(1, Message::Notification(n.clone())));
        assert_eq!(closed(&a), [(1, None)], "never answer a NOTIFICATION");
        assert_eq!(f.state(), State::Idle);
        assert_eq!(last_reason(&a), Reason::NotificationReceived(n.clone()));
        assert_eq!(
            last_reason(&a).to_string(),
            "received Cease/Administrative Shutdown \"maintenance\""
        );
        if state == State::Established {
            assert!(events(&a).contains(&Event::PeerDown {
                reason: Reason::NotificationReceived(n),
                stale: FamilySet::empty()
            }));
        }
    }
}

#[test]
fn unexpected_messages_are_fsm_errors_with_the_state_subcode() {
    let update = Message::Update(update_v4("10.0.0.0/8", &[65002]));
    let refresh = Message::RouteRefresh(RouteRefresh {
        afi: 1,
        subtype: 0,
        safi: 1,
    });
    let cases: Vec<(State, Message, u8)> = vec![
        (State::OpenSent, Message::Keepalive, 1),
        (State::OpenSent, update.clone(), 1),
        (State::OpenSent, refresh.clone(), 1),
        (State::OpenConfirm, Message::Open(peer_open()), 2),
        (State::OpenConfirm, update, 2),
        (State::OpenConfirm, refresh, 2),
        (State::Established, Message::Open(peer_open()), 3),
    ];
    for (state, m, sub) in cases {
        let mut f = open_sent(cfg());
        if state >= State::OpenConfirm {
            f.step(msg(1, Message::Open(peer_open())));
        }
        if state == State::Established {
            f.step(msg(1, Message::Keepalive));
        }
        let a = f.step(msg(1, m.clone()));
        assert_eq!(closed(&a), [(1, Some(fsm_error(sub)))], "{state} {m:?}");
        assert_eq!(f.state(), State::Idle);
    }
}

#[test]
fn malformed_update_resets_with_the_codec_notification() {
    let mut f = established();
    let error = DecodeError::Update {
        subcode: notify::update::OPTIONAL_ATTRIBUTE_ERROR,
        data: vec![0x80, 14, 1, 0],
        problem: UpdateProblem::MalformedMp("x"),
    };
    let n = error.notification();
    let a = f.step(Input::DecodeError { conn: 1, error });
    assert_eq!(closed(&a), [(1, Some(n.clone()))]);
    assert!(events(&a).contains(&Event::PeerDown {
        reason: Reason::NotificationSent(n),
        stale: FamilySet::empty()
    }));
}

#[test]
fn inputs_for_unknown_connections_are_ignored() {
    let mut f = established();
    assert!(f.step(msg(42, Message::Keepalive)).is_empty());
    assert!(f
        .step(Input::ConnectionFailed {
            conn: 42,
            error: "x".into()
        })
        .is_empty());
    assert_eq!(f.state(), State::Established);
}

// ----- stopping -----------------------------------------------------------------------------

#[test]
fn manual_stop_sends_cease_and_stays_down() {
    let mut f = established();
    let n = cease_notification(2, Some("bye"));
    let a = f.step(Input::ManualStop(n.clone()));
    assert_eq!(closed(&a), [(1, Some(n.clone()))]);
    assert_eq!(started(&a, Timer::IdleHold), None);
    assert!(events(&a).contains(&Event::PeerDown {
        reason: Reason::ManualStop(n.clone()),
        stale: FamilySet::empty()
    }));
    assert!(f.step(Input::TimerExpired(Timer::IdleHold)).is_empty());
    assert_eq!(f.state(), State::Idle);
    // Stopping while connecting sends nothing (there is no connection to send on).
    let mut f = Fsm::new(cfg());
    f.step(Input::ManualStart);
    let a = f.step(Input::ManualStop(n));
    assert!(a.contains(&Action::CancelConnect));
    assert!(closed(&a).is_empty());
    assert_eq!(f.state(), State::Idle);
}

#[test]
fn connection_failure_in_open_sent_goes_active() {
    let mut f = open_sent(cfg());
    let a = f.step(Input::ConnectionFailed {
        conn: 1,
        error: "reset".into(),
    });
    assert_eq!(transitions(&a), [(State::OpenSent, State::Active)]);
    assert!(started(&a, Timer::ConnectRetry).is_some());
    // In OpenConfirm and Established: Idle.
    let mut f = established();
    let a = f.step(Input::ConnectionFailed {
        conn: 1,
        error: "closed by the peer".into(),
    });
    assert_eq!(transitions(&a), [(State::Established, State::Idle)]);
    assert_eq!(
        last_reason(&a).to_string(),
        "connection failed: closed by the peer"
    );
}

// ----- UPDATEs, End-of-RIB, route refresh -----------------------------------------------------

#[test]
fn updates_and_end_of_rib_are_reported() {
    let mut f = established();
    let u = update_v4("10.1.0.0/16", &[65002, 65100]);
    let a = f.step(msg(1, Message::Update(u.clone())));
    assert_eq!(
        events(&a),
        [Event::Update {
            update: u,
            findings: vec![]
        }]
    );
    let a = f.step(msg(1, Message::Update(Update::default())));
    assert_eq!(events(&a), [Event::EndOfRib(Family::Ipv4Unicast)]);
    let eor6 = Update {
        attributes: vec![PathAttribute::new(AttrValue::MpUnreach(MpUnreach {
            withdrawn: NlriList::empty(Family::Ipv6Unicast),
        }))],
        ..Update::default()
    };
    let a = f.step(msg(1, Message::Update(eor6)));
    assert_eq!(events(&a), [Event::EndOfRib(Family::Ipv6Unicast)]);
}

#[test]
fn treat_as_withdraw_that_empties_an_update_is_not_end_of_rib() {
    let mut f = established();
    let finding = Finding {
        attr_type: 8,
        action: Rfc7606::TreatAsWithdraw,
        problem: UpdateProblem::BadLength(5),
    };
    let a = f.step(Input::Message {
        conn: 1,
        message: Message::Update(Update::default()),
        findings: vec![finding.clone()],
    });
    assert_eq!(
        events(&a),
        [Event::Update {
            update: Update::default(),
            findings: vec![finding]
        }]
    );
}

#[test]
fn external_peer_must_put_its_as_first() {
    let mut f = established();
    let a = f.step(msg(1, Message::Update(update_v4("10.1.0.0/16", &[65100]))));
    let Event::Update { update, findings } = &events(&a)[0] else {
        panic!()
    };
    assert!(update.nlri.is_empty());
    assert_eq!(update.withdrawn, vec!["10.1.0.0/16".parse().unwrap()]);
    assert_eq!(findings[0].action, Rfc7606::TreatAsWithdraw);
}

#[test]
fn route_refresh_for_negotiated_families_only() {
    let mut f = established();
    let rr = |afi, safi, subtype| Message::RouteRefresh(RouteRefresh { afi, subtype, safi });
    let a = f.step(msg(1, rr(2, 1, 0)));
    assert_eq!(events(&a), [Event::RouteRefresh(Family::Ipv6Unicast)]);
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(9)));
    assert!(
        events(&f.step(msg(1, rr(1, 128, 0)))).is_empty(),
        "not negotiated"
    );
    assert!(
        events(&f.step(msg(1, rr(1, 1, 1)))).is_empty(),
        "BoRR without ERR"
    );
    assert!(
        events(&f.step(msg(1, rr(99, 1, 0)))).is_empty(),
        "unknown AFI"
    );
    assert_eq!(f.state(), State::Established);
}

// ----- connection collisions (RFC 4271 §6.8) --------------------------------------------------

fn with_id(mut o: Open, id: [u8; 4]) -> Open {
    o.bgp_id = Ipv4Addr::from(id);
    o
}

#[test]
fn collision_keeps_the_connection_of_the_higher_identifier() {
    // Peer 10.0.0.9 > us 10.0.0.5: the peer's (incoming) connection wins.
    let mut f = open_sent(cfg());
    let a = f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    assert!(matches!(sent(&a)[..], [(2, Message::Open(_))]));
    assert!(started(&a, Timer::CollisionHold).is_some());
    assert_eq!(f.state(), State::OpenSent);
    assert_eq!(f.pending_conn(), Some(2));
    let a = f.step(msg(2, Message::Open(peer_open())));
    assert_eq!(closed(&a), [(1, Some(cease_notification(7, None)))]);
    assert_eq!(sent(&a), [(2, Message::Keepalive)]);
    assert_eq!(f.state(), State::OpenConfirm);
    assert_eq!(f.primary_conn(), Some(2));
    assert_eq!(
        last_reason(&a),
        Reason::CollisionResolved {
            kept: Direction::Incoming
        }
    );
    // The old connection's late messages no longer matter.
    assert!(f.step(msg(1, Message::Keepalive)).is_empty());
    f.step(msg(2, Message::Keepalive));
    assert_eq!(f.state(), State::Established);

    // Peer 10.0.0.1 < us: our outgoing connection wins, in OpenConfirm too.
    let mut f = open_sent(cfg());
    f.step(msg(1, Message::Open(with_id(peer_open(), [10, 0, 0, 1]))));
    assert_eq!(f.state(), State::OpenConfirm);
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let a = f.step(msg(2, Message::Open(with_id(peer_open(), [10, 0, 0, 1]))));
    assert_eq!(closed(&a), [(2, Some(cease_notification(7, None)))]);
    assert_eq!(f.primary_conn(), Some(1));
    assert_eq!(f.pending_conn(), None);
    assert_eq!(f.state(), State::OpenConfirm);
}

#[test]
fn collision_with_equal_identifiers_is_won_by_the_higher_as() {
    // External peer with our identifier; its AS 65002 > ours 65001: its connection wins.
    let mut f = open_sent(cfg());
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let a = f.step(msg(
        2,
        Message::Open(with_id(peer_open(), LOCAL_ID.octets())),
    ));
    assert_eq!(closed(&a), [(1, Some(cease_notification(7, None)))]);
    assert_eq!(f.primary_conn(), Some(2));
}

#[test]
fn established_session_wins_a_collision_without_graceful_restart() {
    let mut f = established();
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let a = f.step(msg(2, Message::Open(peer_open())));
    assert_eq!(closed(&a), [(2, Some(cease_notification(7, None)))]);
    assert_eq!(f.state(), State::Established);
    assert_eq!(f.primary_conn(), Some(1));
}

#[test]
fn pending_connection_failures_leave_the_session_alone() {
    let mut f = established();
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let a = f.step(Input::ConnectionFailed {
        conn: 2,
        error: "reset".into(),
    });
    assert_eq!(closed(&a), [(2, None)]);
    f.step(Input::Connected {
        conn: 3,
        direction: Direction::Incoming,
    });
    let a = f.step(Input::TimerExpired(Timer::CollisionHold));
    assert_eq!(closed(&a), [(3, Some(notif(4, 0)))]);
    f.step(Input::Connected {
        conn: 4,
        direction: Direction::Incoming,
    });
    let a = f.step(msg(4, Message::Keepalive));
    assert_eq!(closed(&a), [(4, Some(fsm_error(1)))]);
    let mut bad = peer_open();
    bad.my_as = 1;
    bad.capability_params.clear();
    f.step(Input::Connected {
        conn: 5,
        direction: Direction::Incoming,
    });
    let a = f.step(msg(5, Message::Open(bad)));
    assert_eq!(closed(&a), [(5, Some(notif(2, 2)))]);
    assert_eq!(f.state(), State::Established);
}

#[test]
fn when_the_primary_fails_the_pending_connection_takes_over() {
    let mut f = open_sent(cfg());
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let a = f.step(Input::ConnectionFailed {
        conn: 1,
        error: "reset".into(),
    });
    assert_eq!(f.primary_conn(), Some(2));
    assert_eq!(f.state(), State::OpenSent);
    assert_eq!(started(&a, Timer::Hold), Some(Duration::from_secs(240)));
    f.step(msg(2, Message::Open(peer_open())));
    f.step(msg(2, Message::Keepalive));
    assert_eq!(f.state(), State::Established);
}

// ----- graceful restart helper (RFC 4724) -----------------------------------------------------

fn stale_flushes(a: &[Action]) -> Vec<(Family, StaleCause)> {
    events(a)
        .into_iter()
        .filter_map(|e| match e {
            Event::StaleFlush { family, cause } => Some((family, cause)),
            _ => None,
        })
        .collect()
}

fn v4() -> FamilySet {
    [Family::Ipv4Unicast].into_iter().collect()
}

/// Established with GR, then the TCP connection drops: routes retained.
fn gr_down() -> Fsm {
    let mut f = established_with(gr_cfg(), peer_open_gr(true));
    let a = f.step(Input::ConnectionFailed {
        conn: 1,
        error: "closed by the peer".into(),
    });
    assert!(events(&a).contains(&Event::PeerDown {
        reason: Reason::ConnectionFailed("closed by the peer".into()),
        stale: v4()
    }));
    assert_eq!(
        started(&a, Timer::GracefulRestart),
        Some(Duration::from_secs(90))
    );
    assert_eq!(f.stale_families(), v4());
    f
}

fn reconnect(f: &mut Fsm, o: Open) -> Vec<Action> {
    f.step(Input::TimerExpired(Timer::IdleHold));
    f.step(Input::Connected {
        conn: 10,
        direction: Direction::Outgoing,
    });
    f.step(msg(10, Message::Open(o)));
    f.step(msg(10, Message::Keepalive))
}

#[test]
fn graceful_restart_keeps_routes_until_end_of_rib() {
    let mut f = gr_down();
    let a = reconnect(&mut f, peer_open_gr(true));
    assert!(stopped(&a, Timer::GracefulRestart));
    assert_eq!(
        started(&a, Timer::StaleRoutes),
        Some(Duration::from_secs(300))
    );
    assert!(stale_flushes(&a).is_empty());
    // Fresh routes arrive, then End-of-RIB: the rest of the stale ones go.
    f.step(msg(10, Message::Update(update_v4("10.1.0.0/16", &[65002]))));
    let a = f.step(msg(10, Message::Update(Update::default())));
    assert_eq!(
        events(&a),
        [
            Event::StaleFlush {
                family: Family::Ipv4Unicast,
                cause: StaleCause::EndOfRib
            },
            Event::EndOfRib(Family::Ipv4Unicast)
        ]
    );
    assert!(stopped(&a, Timer::StaleRoutes));
    assert_eq!(f.stale_families(), FamilySet::empty());
}

#[test]
fn graceful_restart_timers_flush_when_the_peer_does_not_come_back() {
    let mut f = gr_down();
    let a = f.step(Input::TimerExpired(Timer::GracefulRestart));
    assert_eq!(
        stale_flushes(&a),
        [(Family::Ipv4Unicast, StaleCause::RestartTimer)]
    );
    // Came back but never sent End-of-RIB.
    let mut f = gr_down();
    reconnect(&mut f, peer_open_gr(true));
    let a = f.step(Input::TimerExpired(Timer::StaleRoutes));
    assert_eq!(
        stale_flushes(&a),
        [(Family::Ipv4Unicast, StaleCause::StaleTimer)]
    );
}

#[test]
fn graceful_restart_without_forwarding_state_flushes_at_once() {
    let mut f = gr_down();
    let a = reconnect(&mut f, peer_open_gr(false));
    assert_eq!(
        stale_flushes(&a),
        [(Family::Ipv4Unicast, StaleCause::NotPreserved)]
    );
    assert_eq!(started(&a, Timer::StaleRoutes), None);
    let mut f = gr_down();
    let a = reconnect(&mut f, peer_open());
    assert_eq!(
        stale_flushes(&a),
        [(Family::Ipv4Unicast, StaleCause::NotPreserved)]
    );
}

#[test]
fn graceful_restart_does_not_apply_to_notifications_or_stops() {
    let mut f = established_with(gr_cfg(), peer_open_gr(true));
    let a = f.step(msg(1, Message::Notification(cease_notification(2, None))));
    assert!(events(&a).iter().any(|e| matches!(
        e,
        Event::PeerDown { stale, .. } if *stale == FamilySet::empty()
    )));
    let mut f = established_with(gr_cfg(), peer_open_gr(true));
    let a = f.step(Input::TimerExpired(Timer::Hold));
    assert!(events(&a).iter().any(|e| matches!(
        e,
        Event::PeerDown { stale, .. } if *stale == FamilySet::empty()
    )));
    // Without our configuration there is no GR even if the peer advertises it.
    let mut f = established_with(cfg(), peer_open_gr(true));
    let a = f.step(Input::ConnectionFailed {
        conn: 1,
        error: "x".into(),
    });
    assert!(events(&a).iter().any(|e| matches!(
        e,
        Event::PeerDown { stale, .. } if *stale == FamilySet::empty()
    )));
    // Stopping the neighbor while it has stale routes flushes them.
    let mut f = gr_down();
    let a = f.step(Input::ManualStop(cease_notification(2, None)));
    assert_eq!(
        stale_flushes(&a),
        [(Family::Ipv4Unicast, StaleCause::Stopped)]
    );
}

#[test]
fn graceful_restart_peer_reconnecting_replaces_its_established_session() {
    let mut f = established_with(gr_cfg(), peer_open_gr(true));
    f.step(Input::Connected {
        conn: 2,
        direction: Direction::Incoming,
    });
    let mut o = peer_open_gr(true);
    o.capability_params[0].iter_mut().for_each(|c| {
        if let Capability::GracefulRestart(g) = c {
            g.flags = GracefulRestart::RESTART_STATE;
        }
    });
    let a = f.step(msg(2, Message::Open(o)));
    assert_eq!(closed(&a), [(1, None)]);
    assert!(events(&a).contains(&Event::PeerDown {
        reason: Reason::PeerRestarted,
        stale: v4()
    }));
    assert_eq!(
        transitions(&a),
        [
            (State::Established, State::Idle),
            (State::Idle, State::OpenConfirm)
        ]
    );
    assert_eq!(sent(&a), [(2, Message::Keepalive)]);
    let a = f.step(msg(2, Message::Keepalive));
    let Event::Established(n) = &events(&a)[1] else {
        panic!()
    };
    assert!(n.graceful_restart.unwrap().restarting);
    assert_eq!(f.stale_families(), v4());
}
