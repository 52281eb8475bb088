//! The RFC 4271 §8 finite state machine of one neighbor, with connection collision
//! detection (§6.8) and the graceful restart helper (RFC 4724 §4.2).
//!
//! It is pure: [`Fsm::handle`] takes one [`Input`] and appends the [`Action`]s the transport
//! must carry out (send, close, connect, start or stop a timer, report an [`Event`]). Nothing
//! here touches a socket or a clock, so every transition is a synchronous unit test.
//!
//! One state machine serves the neighbor, not one per connection: the connection it runs on
//! is the *primary*. A second connection that shows up while the primary is past Active
//! (the peer connected while our own connection was opening, or the peer restarted) is held
//! as *pending*: we send it our OPEN, and when its OPEN arrives the collision is resolved by
//! BGP identifier and only one connection survives — what RFC 4271 §6.8 describes with two
//! state machines, without the second machine.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

use crate::{
    Context, DecodeError, Family, FamilySet, Finding, Message, Notification, Open, RouteRefresh,
    Update,
};

use super::config::NeighborConfig;
use super::inbound;
use super::negotiate::{local_open, negotiate, Negotiated, OpenProblem};
use super::notification::{cease_notification, fsm_error, hold_timer_expired, Describe};

/// Identifies one TCP connection; the transport hands them out, never reusing one.
pub type ConnId = u64;

/// The six states of RFC 4271 §8.2.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}

/// Who opened a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outgoing,
    /// The peer connected to us.
    Incoming,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Outgoing => "outgoing",
            Direction::Incoming => "incoming",
        })
    }
}

/// The timers of a neighbor. DelayOpen is not implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    ConnectRetry,
    Hold,
    Keepalive,
    /// Rest in Idle after an error before the automatic restart (with backoff).
    IdleHold,
    /// Bounds how long a pending (colliding) connection may wait for the peer's OPEN.
    CollisionHold,
    /// The peer's restart time: its stale routes go when it does not come back in time.
    GracefulRestart,
    /// After the peer came back: its stale routes go when no End-of-RIB arrives in time.
    StaleRoutes,
}

impl Timer {
    pub const ALL: [Timer; 7] = [
        Timer::ConnectRetry,
        Timer::Hold,
        Timer::Keepalive,
        Timer::IdleHold,
        Timer::CollisionHold,
        Timer::GracefulRestart,
        Timer::StaleRoutes,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What happens to a neighbor (RFC 4271 §8.1 events, grouped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// ManualStart (and ManualStart_with_PassiveTcpEstablishment when configured passive).
    ManualStart,
    /// ManualStop: the NOTIFICATION to send (a Cease, see [`super::notification::cease_notification`]).
    ManualStop(Notification),
    TimerExpired(Timer),
    /// Our outgoing connection attempt failed (TcpConnectionFails before a connection).
    ConnectFailed {
        error: String,
    },
    /// Tcp_CR_Acked (outgoing) or TcpConnectionConfirmed (incoming).
    Connected {
        conn: ConnId,
        direction: Direction,
    },
    /// TcpConnectionFails on an established connection: reset, closed, write error.
    ConnectionFailed {
        conn: ConnId,
        error: String,
    },
    /// A message that decoded (UPDATE findings are RFC 7606 treat-as-withdraw / discard).
    Message {
        conn: ConnId,
        message: Message,
        findings: Vec<Finding>,
    },
    /// A message that did not decode: BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr.
    DecodeError {
        conn: ConnId,
        error: DecodeError,
    },
}

/// What the transport must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open an outgoing connection; report [`Input::Connected`] or [`Input::ConnectFailed`].
    Connect,
    /// Abandon the outgoing attempt in flight (its result must be ignored).
    CancelConnect,
    Send {
        conn: ConnId,
        message: Message,
    },
    /// Send the NOTIFICATION when there is one, then close.
    Close {
        conn: ConnId,
        notification: Option<Notification>,
    },
    StartTimer {
        timer: Timer,
        after: Duration,
    },
    StopTimer(Timer),
    /// Tell the controller.
    Report(Event),
}

/// What the controller hears about a neighbor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    /// The session is up; from now on UPDATEs flow.
    Established(Arc<Negotiated>),
    /// The Established session ended. The RIB drops every route learned from the peer
    /// except those of the `stale` families, which it keeps marked stale (graceful restart)
    /// until a [`Event::StaleFlush`] for their family.
    PeerDown { reason: Reason, stale: FamilySet },
    /// A received UPDATE, after RFC 7606 handling; findings say what was withdrawn or dropped.
    Update {
        update: Update,
        findings: Vec<Finding>,
    },
    /// The peer finished its initial announcement of a family (RFC 4724 §2).
    EndOfRib(Family),
    /// The peer asks us to send our Adj-RIB-Out of a family again (RFC 2918).
    RouteRefresh(Family),
    /// Remove the routes of `family` still marked stale.
    StaleFlush { family: Family, cause: StaleCause },
}

/// Why stale routes are flushed (RFC 4724 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleCause {
    /// The peer sent End-of-RIB for the family: what it did not re-announce is gone.
    EndOfRib,
    /// The peer did not come back within its restart time.
    RestartTimer,
    /// The peer came back but sent no End-of-RIB within `stale_routes_time`.
    StaleTimer,
    /// The peer came back without the forwarding-state bit (or family) in its capability.
    NotPreserved,
    /// The neighbor was stopped.
    Stopped,
}

/// Why a state changed; shown in logs and carried in events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    ManualStart,
    /// Idle hold time elapsed after an error (or an incoming connection ended the rest).
    AutomaticStart,
    ManualStop(Notification),
    ConnectRetryExpired,
    Connected(Direction),
    ConnectFailed(String),
    ConnectionFailed(String),
    OpenReceived,
    KeepaliveReceived,
    HoldTimerExpired,
    NotificationReceived(Notification),
    /// We reset the session over a malformed message or one unexpected in this state.
    NotificationSent(Notification),
    OpenRejected {
        problem: OpenProblem,
        notification: Notification,
    },
    /// Connection collision (RFC 4271 §6.8) resolved; the connection kept.
    CollisionResolved {
        kept: Direction,
    },
    /// A new connection from a graceful-restart peer replaced its Established session.
    PeerRestarted,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ManualStart => f.write_str("manual start"),
            Reason::AutomaticStart => f.write_str("automatic start"),
            Reason::ManualStop(n) => write!(f, "manual stop, sent {}", Describe(n)),
            Reason::ConnectRetryExpired => f.write_str("connect retry timer expired"),
            Reason::Connected(d) => write!(f, "{d} connection up"),
            Reason::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            Reason::ConnectionFailed(e) => write!(f, "connection failed: {e}"),
            Reason::OpenReceived => f.write_str("OPEN received"),
            Reason::KeepaliveReceived => f.write_str("KEEPALIVE received"),
            Reason::HoldTimerExpired => f.write_str("hold timer expired"),
            Reason::NotificationReceived(n) => write!(f, "received {}", Describe(n)),
            Reason::NotificationSent(n) => write!(f, "sent {}", Describe(n)),
            Reason::OpenRejected {
                problem,
                notification,
            } => write!(
                f,
                "OPEN rejected ({problem}), sent {}",
                Describe(notification)
            ),
            Reason::CollisionResolved { kept } => {
                write!(f, "connection collision, kept the {kept} connection")
            }
            Reason::PeerRestarted => f.write_str("peer restarted (new connection)"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Conn {
    id: ConnId,
    direction: Direction,
}

/// The state machine of one neighbor.
#[derive(Debug)]
pub struct Fsm {
    cfg: NeighborConfig,
    local_open: Open,
    state: State,
    /// Started and not stopped: errors lead to an automatic restart after the idle hold.
    enabled: bool,
    /// An outgoing connection attempt is in flight.
    connecting: bool,
    primary: Option<Conn>,
    pending: Option<Conn>,
    /// Set from the accepted OPEN (OpenConfirm) until the session ends.
    negotiated: Option<Arc<Negotiated>>,
    /// RFC 4271's ConnectRetryCounter: consecutive failures, drives the backoff.
    failures: u32,
    /// Families whose routes the RIB holds as stale for this peer.
    stale: FamilySet,
}

impl Fsm {
    /// A neighbor in Idle; nothing happens before [`Input::ManualStart`].
    pub fn new(cfg: NeighborConfig) -> Self {
        Fsm {
            local_open: local_open(&cfg),
            cfg,
            state: State::Idle,
            enabled: false,
            connecting: false,
            primary: None,
            pending: None,
            negotiated: None,
            failures: 0,
            stale: FamilySet::empty(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &NeighborConfig {
        &self.cfg
    }

    /// What the OPENs agreed on (OpenConfirm and Established).
    pub fn negotiated(&self) -> Option<&Arc<Negotiated>> {
        self.negotiated.as_ref()
    }

    /// Families whose routes are held as stale (graceful restart).
    pub fn stale_families(&self) -> FamilySet {
        self.stale
    }

    /// Consecutive failures (RFC 4271 ConnectRetryCounter).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The connection the session runs on, if any.
    pub fn primary_conn(&self) -> Option<ConnId> {
        self.primary.map(|c| c.id)
    }

    /// The colliding connection waiting for its OPEN, if any.
    pub fn pending_conn(&self) -> Option<ConnId> {
        self.pending.map(|c| c.id)
    }

    /// How to decode what arrives on `conn`: the negotiated context on the primary once its
    /// OPEN was accepted, the pre-OPEN default otherwise.
    pub fn context_for(&self, conn: ConnId) -> Context {
        match (&self.negotiated, self.primary) {
            (Some(n), Some(p)) if p.id == conn => n.context,
            _ => Context::default(),
        }
    }

    /// Feeds one input; the actions to carry out are appended to `out`.
    pub fn handle(&mut self, input: Input, out: &mut Vec<Action>) {
        match input {
            Input::ManualStart => self.manual_start(out),
            Input::ManualStop(n) => self.manual_stop(n, out),
            Input::TimerExpired(t) => self.timer_expired(t, out),
            Input::ConnectFailed { error } => self.connect_failed(error, out),
            Input::Connected { conn, direction } => self.connected(
                Conn {
                    id: conn,
                    direction,
                },
                out,
            ),
            Input::ConnectionFailed { conn, error } => {
                if self.pending.is_some_and(|p| p.id == conn) {
                    debug!(peer = %self.cfg.remote_addr, %error, "pending connection failed");
                    self.drop_pending(None, out);
                } else if self.primary.is_some_and(|p| p.id == conn) {
                    self.primary_failed(error, out);
                }
            }
            Input::Message {
                conn,
                message,
                findings,
            } => {
                if self.pending.is_some_and(|p| p.id == conn) {
                    self.pending_message(message, out);
                } else if self.primary.is_some_and(|p| p.id == conn) {
                    self.message(message, findings, out);
                }
            }
            Input::DecodeError { conn, error } => {
                let n = error.notification();
                if self.pending.is_some_and(|p| p.id == conn) {
                    debug!(peer = %self.cfg.remote_addr, %error, "pending connection sent garbage");
                    self.drop_pending(Some(n), out);
                } else if self.primary.is_some_and(|p| p.id == conn) {
                    info!(peer = %self.cfg.remote_addr, %error, "resetting the session");
                    self.reset(Reason::NotificationSent(n.clone()), Some(n), false, out);
                }
            }
        }
    }

    /// Convenience for tests and simple drivers: the actions of one input.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        self.handle(input, &mut out);
        out
    }

    // ----- events -------------------------------------------------------------------------

    fn manual_start(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Idle {
            return;
        }
        self.enabled = true;
        self.failures = 0;
        self.start(Reason::ManualStart, out);
    }

    fn manual_stop(&mut self, n: Notification, out: &mut Vec<Action>) {
        self.enabled = false;
        out.push(Action::StopTimer(Timer::IdleHold));
        if self.state != State::Idle {
            let notify = (self.state >= State::OpenSent).then(|| n.clone());
            self.reset(Reason::ManualStop(n), notify, false, out);
        }
        self.failures = 0;
        self.flush_all_stale(StaleCause::Stopped, out);
    }

    fn timer_expired(&mut self, t: Timer, out: &mut Vec<Action>) {
        match (t, self.state) {
            (Timer::ConnectRetry, State::Connect) => {
                // The attempt took too long: start over (RFC 4271 §8.2.2, Connect state).
                out.push(Action::CancelConnect);
                self.failures = self.failures.saturating_add(1);
                self.connect(out);
            }
            (Timer::ConnectRetry, State::Active) if !self.cfg.passive => {
                self.connect(out);
                self.go(State::Connect, Reason::ConnectRetryExpired, out);
            }
            (Timer::Hold, State::OpenSent | State::OpenConfirm | State::Established) => {
                let n = hold_timer_expired();
                self.reset(Reason::HoldTimerExpired, Some(n), false, out);
            }
            (Timer::Keepalive, State::OpenConfirm | State::Established) => {
                if let Some(p) = self.primary {
                    out.push(Action::Send {
                        conn: p.id,
                        message: Message::Keepalive,
                    });
                }
                self.start_keepalive(out);
            }
            (Timer::IdleHold, State::Idle) if self.enabled => {
                self.start(Reason::AutomaticStart, out);
            }
            (Timer::CollisionHold, _) if self.pending.is_some() => {
                self.drop_pending(Some(hold_timer_expired()), out);
            }
            (Timer::GracefulRestart, _) => self.flush_all_stale(StaleCause::RestartTimer, out),
            (Timer::StaleRoutes, _) => self.flush_all_stale(StaleCause::StaleTimer, out),
            // A timer the transport fired just before our StopTimer reached it.
            _ => {
                debug!(peer = %self.cfg.remote_addr, timer = ?t, state = %self.state, "timer ignored")
            }
        }
    }

    fn connect_failed(&mut self, error: String, out: &mut Vec<Action>) {
        if !self.connecting {
            return;
        }
        self.connecting = false;
        if self.state == State::Connect {
            // Keep listening; the ConnectRetry timer (still running) tries again.
            self.failures = self.failures.saturating_add(1);
            self.go(State::Active, Reason::ConnectFailed(error), out);
        }
    }

    fn connected(&mut self, c: Conn, out: &mut Vec<Action>) {
        if c.direction == Direction::Outgoing {
            if !self.connecting {
                // A cancelled attempt that completed anyway.
                out.push(Action::Close {
                    conn: c.id,
                    notification: None,
                });
                return;
            }
            self.connecting = false;
        }
        match self.state {
            State::Idle if self.enabled && c.direction == Direction::Incoming => {
                // The peer is back before our idle hold is over: no reason to make it wait.
                out.push(Action::StopTimer(Timer::IdleHold));
                self.go(State::Active, Reason::AutomaticStart, out);
                self.connected(c, out);
            }
            State::Idle => out.push(Action::Close {
                conn: c.id,
                notification: Some(cease_notification(
                    super::notification::cease::CONNECTION_REJECTED,
                    None,
                )),
            }),
            State::Connect | State::Active => {
                // An outgoing attempt still in flight is kept: cancelling it would kill the
                // peer's incoming connection, and if the peer does the same both die (seen
                // with two speakers starting together). If it completes, it is a collision.
                out.push(Action::StopTimer(Timer::ConnectRetry));
                self.primary = Some(c);
                self.send_open(c.id, out);
                out.push(Action::StartTimer {
                    timer: Timer::Hold,
                    after: self.cfg.timers.open_hold,
                });
                self.go(State::OpenSent, Reason::Connected(c.direction), out);
            }
            State::OpenSent | State::OpenConfirm | State::Established => {
                // A second connection: hold it until its OPEN says who should win.
                if self.pending.is_some() {
                    self.drop_pending(None, out);
                }
                debug!(peer = %self.cfg.remote_addr, direction = %c.direction, state = %self.state,
                    "second connection, waiting for its OPEN");
                self.pending = Some(c);
                self.send_open(c.id, out);
                out.push(Action::StartTimer {
                    timer: Timer::CollisionHold,
                    after: self.cfg.timers.open_hold,
                });
            }
        }
    }

    fn primary_failed(&mut self, error: String, out: &mut Vec<Action>) {
        let reason = Reason::ConnectionFailed(error);
        if let Some(p) = self.pending.take() {
            // The other connection carries on; it has sent its OPEN (RFC 4271 §6.8: each
            // connection has its own state machine, and this one is in OpenSent).
            out.push(Action::StopTimer(Timer::CollisionHold));
            self.teardown(reason.clone(), None, true, out);
            self.primary = Some(p);
            out.push(Action::StartTimer {
                timer: Timer::Hold,
                after: self.cfg.timers.open_hold,
            });
            self.go(State::OpenSent, reason, out);
            return;
        }
        match self.state {
            State::OpenSent => {
                // RFC 4271 §8.2.2: back to Active, listening, ConnectRetry restarted.
                self.teardown(reason.clone(), None, false, out);
                self.failures = self.failures.saturating_add(1);
                if !self.cfg.passive {
                    self.start_connect_retry(out);
                }
                self.go(State::Active, reason, out);
            }
            State::OpenConfirm | State::Established => {
                // A TCP failure, not a NOTIFICATION: graceful restart keeps the routes.
                self.reset(reason, None, true, out);
            }
            _ => {}
        }
    }

    fn message(&mut self, message: Message, findings: Vec<Finding>, out: &mut Vec<Action>) {
        match (self.state, message) {
            (_, Message::Notification(n)) => {
                info!(peer = %self.cfg.remote_addr, notification = %Describe(&n), "NOTIFICATION received");
                self.reset(Reason::NotificationReceived(n), None, false, out);
            }
            (State::OpenSent, Message::Open(o)) => self.open_received(o, out),
            (State::OpenConfirm, Message::Keepalive) => self.established(out),
            (State::Established, Message::Keepalive) => self.restart_hold(out),
            (State::Established, Message::Update(u)) => {
                self.restart_hold(out);
                self.update_received(u, findings, out);
            }
            (State::Established, Message::RouteRefresh(r)) => {
                self.restart_hold(out);
                self.route_refresh_received(r, out);
            }
            (state, m) => {
                let subcode = match state {
                    State::OpenSent => super::notification::fsm_error::UNEXPECTED_IN_OPEN_SENT,
                    State::OpenConfirm => {
                        super::notification::fsm_error::UNEXPECTED_IN_OPEN_CONFIRM
                    }
                    State::Established => super::notification::fsm_error::UNEXPECTED_IN_ESTABLISHED,
                    _ => super::notification::fsm_error::UNSPECIFIED,
                };
                info!(peer = %self.cfg.remote_addr, %state, msg_type = m.msg_type(),
                    "unexpected message, FSM error");
                let n = fsm_error(subcode);
                self.reset(Reason::NotificationSent(n.clone()), Some(n), false, out);
            }
        }
    }

    fn open_received(&mut self, o: Open, out: &mut Vec<Action>) {
        match negotiate(&self.cfg, &self.local_open, &o) {
            Ok(n) => self.accept_open(n, Reason::OpenReceived, out),
            Err(problem) => {
                let notification = problem.notification(&self.local_open);
                info!(peer = %self.cfg.remote_addr, %problem, "OPEN rejected");
                self.reset(
                    Reason::OpenRejected {
                        problem,
                        notification: notification.clone(),
                    },
                    Some(notification),
                    false,
                    out,
                );
            }
        }
    }

    /// OpenSent → OpenConfirm on the primary with an accepted OPEN.
    fn accept_open(&mut self, n: Negotiated, reason: Reason, out: &mut Vec<Action>) {
        let Some(p) = self.primary else { return };
        out.push(Action::StopTimer(Timer::ConnectRetry));
        out.push(Action::Send {
            conn: p.id,
            message: Message::Keepalive,
        });
        self.negotiated = Some(Arc::new(n));
        self.restart_hold(out);
        self.start_keepalive(out);
        self.go(State::OpenConfirm, reason, out);
    }

    fn established(&mut self, out: &mut Vec<Action>) {
        let Some(n) = self.negotiated.clone() else {
            return;
        };
        self.failures = 0;
        self.restart_hold(out);
        self.go(State::Established, Reason::KeepaliveReceived, out);
        out.push(Action::Report(Event::Established(n.clone())));
        if self.stale.iter().next().is_some() {
            // RFC 4724 §4.2: the peer is back. Families it no longer preserves go now; the
            // rest wait for their End-of-RIB, bounded by the stale routes timer.
            out.push(Action::StopTimer(Timer::GracefulRestart));
            let keep = n.graceful_restart.map(|g| g.preserved).unwrap_or_default();
            for family in self.stale.iter().filter(|f| !keep.contains(*f)) {
                out.push(Action::Report(Event::StaleFlush {
                    family,
                    cause: StaleCause::NotPreserved,
                }));
            }
            self.stale = self.stale.iter().filter(|f| keep.contains(*f)).collect();
            if self.stale.iter().next().is_some() {
                let after = self
                    .cfg
                    .graceful_restart
                    .map(|g| g.stale_routes_time)
                    .unwrap_or_default();
                out.push(Action::StartTimer {
                    timer: Timer::StaleRoutes,
                    after,
                });
            }
        }
    }

    fn update_received(&mut self, update: Update, findings: Vec<Finding>, out: &mut Vec<Action>) {
        let Some(n) = &self.negotiated else { return };
        let sender = inbound::Sender::of(n, self.cfg.enforce_first_as);
        let (update, findings) = inbound::check(sender, update, findings);
        // A treat-as-withdraw that left nothing is not an End-of-RIB.
        if let Some(family) = update.end_of_rib().filter(|_| findings.is_empty()) {
            if self.stale.contains(family) {
                out.push(Action::Report(Event::StaleFlush {
                    family,
                    cause: StaleCause::EndOfRib,
                }));
                self.stale = self.stale.iter().filter(|f| *f != family).collect();
                if self.stale.iter().next().is_none() {
                    out.push(Action::StopTimer(Timer::StaleRoutes));
                }
            }
            out.push(Action::Report(Event::EndOfRib(family)));
            return;
        }
        if !findings.is_empty() {
            debug!(peer = %self.cfg.remote_addr, ?findings, "UPDATE with RFC 7606 findings");
        }
        out.push(Action::Report(Event::Update { update, findings }));
    }

    fn route_refresh_received(&mut self, r: RouteRefresh, out: &mut Vec<Action>) {
        let family = Family::from_afi_safi(crate::AfiSafi::new(r.afi, r.safi));
        let negotiated = self.negotiated.as_ref().map(|n| n.context.families);
        match (family, negotiated) {
            // BoRR / EoRR belong to enhanced route refresh, which we do not advertise.
            (Some(f), Some(set)) if set.contains(f) && r.subtype == RouteRefresh::NORMAL => {
                out.push(Action::Report(Event::RouteRefresh(f)));
            }
            // RFC 2918 §4: a refresh for a family not negotiated is ignored.
            _ => debug!(peer = %self.cfg.remote_addr, ?r, "ROUTE-REFRESH ignored"),
        }
    }

    fn pending_message(&mut self, message: Message, out: &mut Vec<Action>) {
        let o = match message {
            Message::Open(o) => o,
            Message::Notification(n) => {
                debug!(peer = %self.cfg.remote_addr, notification = %Describe(&n), "pending connection closed by peer");
                return self.drop_pending(None, out);
            }
            _ => {
                let n = fsm_error(super::notification::fsm_error::UNEXPECTED_IN_OPEN_SENT);
                return self.drop_pending(Some(n), out);
            }
        };
        let n = match negotiate(&self.cfg, &self.local_open, &o) {
            Ok(n) => n,
            Err(problem) => {
                info!(peer = %self.cfg.remote_addr, %problem, "OPEN on the second connection rejected");
                let notification = problem.notification(&self.local_open);
                return self.drop_pending(Some(notification), out);
            }
        };
        let Some(pending) = self.pending else { return };
        let collision = cease_notification(
            super::notification::cease::CONNECTION_COLLISION_RESOLUTION,
            None,
        );
        match self.state {
            State::Established => {
                let restarting = self
                    .negotiated
                    .as_ref()
                    .is_some_and(|n| n.graceful_restart.is_some());
                if restarting {
                    // RFC 4724 §4.2: a new connection means the peer restarted; the old
                    // session ends as if its TCP connection had failed.
                    self.pending = None;
                    out.push(Action::StopTimer(Timer::CollisionHold));
                    self.teardown(Reason::PeerRestarted, None, true, out);
                    self.primary = Some(pending);
                    self.accept_open(n, Reason::PeerRestarted, out);
                } else {
                    // RFC 4271 §6.8: an Established connection always wins.
                    self.drop_pending(Some(collision), out);
                }
            }
            State::OpenSent | State::OpenConfirm => {
                let primary_dir = self.primary.map(|p| p.direction);
                let keep_new = if primary_dir == Some(pending.direction) {
                    // Two connections from the same side: the older one was abandoned.
                    true
                } else {
                    pending.direction == self.winner(&n)
                };
                if keep_new {
                    info!(peer = %self.cfg.remote_addr, kept = %pending.direction, "connection collision");
                    out.push(Action::StopTimer(Timer::CollisionHold));
                    if let Some(old) = self.primary.take() {
                        out.push(Action::Close {
                            conn: old.id,
                            notification: Some(collision),
                        });
                    }
                    self.pending = None;
                    self.primary = Some(pending);
                    self.negotiated = None;
                    self.accept_open(
                        n,
                        Reason::CollisionResolved {
                            kept: pending.direction,
                        },
                        out,
                    );
                } else {
                    if let Some(kept) = primary_dir {
                        info!(peer = %self.cfg.remote_addr, %kept, "connection collision");
                    }
                    self.drop_pending(Some(collision), out);
                }
            }
            _ => self.drop_pending(None, out),
        }
    }

    /// RFC 4271 §6.8: the connection opened by the speaker with the higher BGP identifier
    /// survives; with equal identifiers (possible between ASes, RFC 6286 §2.3) the one
    /// opened by the speaker with the higher AS number.
    fn winner(&self, n: &Negotiated) -> Direction {
        let local = (u32::from(self.cfg.router_id), self.cfg.local_as);
        let remote = (u32::from(n.remote_id), n.remote_as);
        if local > remote {
            Direction::Outgoing
        } else {
            Direction::Incoming
        }
    }

    // ----- helpers ------------------------------------------------------------------------

    fn start(&mut self, reason: Reason, out: &mut Vec<Action>) {
        out.push(Action::StopTimer(Timer::IdleHold));
        if self.cfg.passive {
            self.go(State::Active, reason, out);
        } else {
            self.connect(out);
            self.go(State::Connect, reason, out);
        }
    }

    fn connect(&mut self, out: &mut Vec<Action>) {
        self.connecting = true;
        out.push(Action::Connect);
        self.start_connect_retry(out);
    }

    fn start_connect_retry(&self, out: &mut Vec<Action>) {
        let t = &self.cfg.timers;
        out.push(Action::StartTimer {
            timer: Timer::ConnectRetry,
            after: t.backoff(t.connect_retry, self.failures),
        });
    }

    fn send_open(&self, conn: ConnId, out: &mut Vec<Action>) {
        out.push(Action::Send {
            conn,
            message: Message::Open(self.local_open.clone()),
        });
    }

    fn restart_hold(&self, out: &mut Vec<Action>) {
        match self.negotiated.as_ref().map(|n| n.hold_time) {
            Some(0) => out.push(Action::StopTimer(Timer::Hold)),
            Some(h) => out.push(Action::StartTimer {
                timer: Timer::Hold,
                after: Duration::from_secs(u64::from(h)),
            }),
            None => {}
        }
    }

    fn start_keepalive(&self, out: &mut Vec<Action>) {
        match self.negotiated.as_ref().map(|n| n.keepalive) {
            Some(0) | None => out.push(Action::StopTimer(Timer::Keepalive)),
            Some(k) => out.push(Action::StartTimer {
                timer: Timer::Keepalive,
                after: Duration::from_secs(u64::from(k)),
            }),
        }
    }

    fn drop_pending(&mut self, notification: Option<Notification>, out: &mut Vec<Action>) {
        if let Some(p) = self.pending.take() {
            out.push(Action::StopTimer(Timer::CollisionHold));
            out.push(Action::Close {
                conn: p.id,
                notification,
            });
        }
    }

    /// Ends the session: teardown, Idle, and (unless stopped) the automatic restart after
    /// the idle hold time, which grows with consecutive failures.
    fn reset(
        &mut self,
        reason: Reason,
        notification: Option<Notification>,
        graceful: bool,
        out: &mut Vec<Action>,
    ) {
        self.drop_pending(None, out);
        self.teardown(reason.clone(), notification, graceful, out);
        if self.connecting {
            self.connecting = false;
            out.push(Action::CancelConnect);
        }
        out.push(Action::StopTimer(Timer::ConnectRetry));
        if self.enabled {
            let t = &self.cfg.timers;
            out.push(Action::StartTimer {
                timer: Timer::IdleHold,
                after: t.backoff(t.idle_hold, self.failures),
            });
            self.failures = self.failures.saturating_add(1);
        }
        self.go(State::Idle, reason, out);
    }

    /// Closes the primary connection and, when leaving Established, tells the RIB what to do
    /// with the peer's routes. Does not change the state.
    fn teardown(
        &mut self,
        reason: Reason,
        notification: Option<Notification>,
        graceful: bool,
        out: &mut Vec<Action>,
    ) {
        if let Some(p) = self.primary.take() {
            out.push(Action::Close {
                conn: p.id,
                notification,
            });
        }
        out.push(Action::StopTimer(Timer::Hold));
        out.push(Action::StopTimer(Timer::Keepalive));
        let negotiated = self.negotiated.take();
        if self.state != State::Established {
            return;
        }
        let gr = negotiated
            .as_ref()
            .and_then(|n| n.graceful_restart)
            .filter(|_| graceful);
        let stale = gr.map(|g| g.families).unwrap_or_default();
        // Log the transition before the event that depends on it.
        self.go(State::Idle, reason.clone(), out);
        out.push(Action::Report(Event::PeerDown { reason, stale }));
        self.stale = stale;
        out.push(Action::StopTimer(Timer::StaleRoutes));
        match gr {
            Some(g) if stale.iter().next().is_some() => out.push(Action::StartTimer {
                timer: Timer::GracefulRestart,
                after: Duration::from_secs(u64::from(g.restart_time)),
            }),
            _ => out.push(Action::StopTimer(Timer::GracefulRestart)),
        }
    }

    fn flush_all_stale(&mut self, cause: StaleCause, out: &mut Vec<Action>) {
        if self.stale.iter().next().is_none() {
            return;
        }
        for family in self.stale.iter() {
            info!(peer = %self.cfg.remote_addr, %family, ?cause, "flushing stale routes");
            out.push(Action::Report(Event::StaleFlush { family, cause }));
        }
        self.stale = FamilySet::empty();
        out.push(Action::StopTimer(Timer::GracefulRestart));
        out.push(Action::StopTimer(Timer::StaleRoutes));
    }

    /// Changes state; the transition is logged and reported.
    fn go(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        info!(peer = %self.cfg.remote_addr, %from, %to, %reason, "BGP state change");
        out.push(Action::Report(Event::StateChanged { from, to, reason }));
    }
}

/// The NOTIFICATION behind a reason, when there is one (sent or received).
pub fn reason_notification(reason: &Reason) -> Option<&Notification> {
    match reason {
        Reason::ManualStop(n) | Reason::NotificationReceived(n) | Reason::NotificationSent(n) => {
            Some(n)
        }
        Reason::OpenRejected { notification, .. } => Some(notification),
        _ => None,
    }
}
