//! The tokio side: a [`Speaker`] listens and owns one task per neighbor; a [`Neighbor`] is
//! the handle a controller drives; [`Events`] is the one stream of what happened.
//!
//! Each neighbor task owns its [`Fsm`], its timers and its connections, and is the only one
//! to touch them, so there are no locks on the session path. UPDATEs we send do not pass
//! through the task: once Established, the handle holds the connection's bounded write
//! queue, so a controller sending faster than the peer reads simply waits.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use crate::{
    frame, AttrValue, Context, EncodeError, Family, Message, MpUnreach, NlriList, Notification,
    PathAttribute, RouteRefresh, Update,
};

use super::config::{ConfigError, NeighborConfig};
use super::fsm::{Action, ConnId, Direction, Event, Fsm, Input, State};
use super::negotiate::Negotiated;
use super::notification::{cease, cease_notification};
use super::timers::{Jitter, TimerSet};
use super::transport::{self, Connection, WriteFailed};

/// Where to listen. Tests use 127.0.0.x and high ports; port 0 picks a free one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeakerConfig {
    pub listen: Vec<SocketAddr>,
    /// Events buffered for a slow controller before neighbor tasks wait for it.
    pub event_queue: usize,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig {
            listen: Vec::new(),
            event_queue: 1024,
        }
    }
}

/// Something that happened to one neighbor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborEvent {
    pub peer: IpAddr,
    pub event: Event,
}

/// The stream of all neighbors' events, in order per neighbor.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<NeighborEvent>,
}

impl Events {
    /// The next event; `None` once the speaker and every neighbor task are gone.
    pub async fn recv(&mut self) -> Option<NeighborEvent> {
        self.rx.recv().await
    }

    /// An event already waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<NeighborEvent> {
        self.rx.try_recv().ok()
    }
}

/// What the controller can get wrong, or what the network took away.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("neighbor {0} is already configured")]
    Duplicate(IpAddr),
    #[error("no neighbor {0}")]
    NoSuchNeighbor(IpAddr),
    #[error("neighbor {0} is not Established")]
    NotEstablished(IpAddr),
    #[error("neighbor {peer}: address family {family} was not negotiated")]
    FamilyNotNegotiated { peer: IpAddr, family: Family },
    #[error("neighbor {0} did not advertise the route refresh capability")]
    NoRouteRefresh(IpAddr),
    #[error("neighbor {peer}: {source}")]
    Encode { peer: IpAddr, source: EncodeError },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("neighbor {0}: its task has ended")]
    Gone(IpAddr),
}

enum Command {
    Start,
    Stop(Notification),
    Incoming(TcpStream),
    /// Stop, then end the task.
    Remove(Notification),
}

/// What an Established session lends its handle: the write queue and how to encode.
#[derive(Clone)]
struct Session {
    queue: mpsc::Sender<Vec<u8>>,
    negotiated: Arc<Negotiated>,
}

/// A handle on one neighbor; cheap to clone.
#[derive(Clone)]
pub struct Neighbor {
    addr: IpAddr,
    local_addr: Option<IpAddr>,
    cmd: mpsc::Sender<Command>,
    state: watch::Receiver<State>,
    session: watch::Receiver<Option<Session>>,
}

impl std::fmt::Debug for Neighbor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbor")
            .field("addr", &self.addr)
            .field("state", &self.state())
            .finish()
    }
}

impl Neighbor {
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    /// Follows the state (for "wait until Established" without reading the event stream).
    pub fn watch_state(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    /// What the session negotiated, while it is Established.
    pub fn negotiated(&self) -> Option<Arc<Negotiated>> {
        self.session.borrow().as_ref().map(|s| s.negotiated.clone())
    }

    /// ManualStart: connect (or wait for the peer, when passive), and restart automatically
    /// after errors until stopped.
    pub async fn start(&self) -> Result<(), SessionError> {
        self.command(Command::Start).await
    }

    /// ManualStop with a Cease NOTIFICATION (e.g. [`cease::ADMINISTRATIVE_SHUTDOWN`])
    /// carrying an RFC 9003 shutdown message when given. The neighbor stays Idle until
    /// started again.
    pub async fn shutdown(&self, subcode: u8, message: Option<&str>) -> Result<(), SessionError> {
        self.command(Command::Stop(cease_notification(subcode, message)))
            .await
    }

    /// Sends one UPDATE; waits while the write queue is full.
    pub async fn send_update(&self, update: &Update) -> Result<(), SessionError> {
        self.send_updates(std::slice::from_ref(update)).await
    }

    /// Sends UPDATEs as one write (one buffer for the whole batch).
    pub async fn send_updates(&self, updates: &[Update]) -> Result<(), SessionError> {
        let s = self.session()?;
        let ctx = s.negotiated.context;
        let mut bytes = Vec::new();
        for u in updates {
            self.check_families(u, &ctx)?;
            Message::Update(u.clone())
                .encode(&ctx, &mut bytes)
                .map_err(|source| SessionError::Encode {
                    peer: self.addr,
                    source,
                })?;
        }
        self.enqueue(&s, bytes).await
    }

    /// Sends the End-of-RIB marker of a family (RFC 4724 §2), after the initial UPDATEs.
    pub async fn send_end_of_rib(&self, family: Family) -> Result<(), SessionError> {
        let s = self.session()?;
        self.require_family(&s, family)?;
        let update = match family {
            Family::Ipv4Unicast => Update::default(),
            f => Update {
                attributes: vec![PathAttribute::new(AttrValue::MpUnreach(MpUnreach {
                    withdrawn: NlriList::empty(f),
                }))],
                ..Update::default()
            },
        };
        let bytes = Message::Update(update)
            .to_bytes(&s.negotiated.context)
            .map_err(|source| SessionError::Encode {
                peer: self.addr,
                source,
            })?;
        self.enqueue(&s, bytes).await
    }

    /// Asks the peer to send its routes of a family again (RFC 2918); refused when the peer
    /// did not advertise route refresh, as the RFC requires.
    pub async fn send_route_refresh(&self, family: Family) -> Result<(), SessionError> {
        let s = self.session()?;
        self.require_family(&s, family)?;
        if !s.negotiated.route_refresh {
            return Err(SessionError::NoRouteRefresh(self.addr));
        }
        let a = family.afi_safi();
        let msg = Message::RouteRefresh(RouteRefresh {
            afi: a.afi,
            subtype: RouteRefresh::NORMAL,
            safi: a.safi,
        });
        let bytes = msg
            .to_bytes(&s.negotiated.context)
            .map_err(|source| SessionError::Encode {
                peer: self.addr,
                source,
            })?;
        self.enqueue(&s, bytes).await
    }

    fn session(&self) -> Result<Session, SessionError> {
        self.session
            .borrow()
            .clone()
            .ok_or(SessionError::NotEstablished(self.addr))
    }

    fn require_family(&self, s: &Session, family: Family) -> Result<(), SessionError> {
        if s.negotiated.context.families.contains(family) {
            Ok(())
        } else {
            Err(SessionError::FamilyNotNegotiated {
                peer: self.addr,
                family,
            })
        }
    }

    /// MP_REACH / MP_UNREACH of a family the peer did not agree to would only be discarded.
    fn check_families(&self, u: &Update, ctx: &Context) -> Result<(), SessionError> {
        let mp = u
            .mp_reach()
            .map(|m| m.nlri.family())
            .into_iter()
            .chain(u.mp_unreach().map(|m| m.withdrawn.family()));
        for family in mp {
            if !ctx.families.contains(family) {
                return Err(SessionError::FamilyNotNegotiated {
                    peer: self.addr,
                    family,
                });
            }
        }
        Ok(())
    }

    async fn enqueue(&self, s: &Session, bytes: Vec<u8>) -> Result<(), SessionError> {
        s.queue
            .send(bytes)
            .await
            .map_err(|_| SessionError::NotEstablished(self.addr))
    }

    async fn command(&self, c: Command) -> Result<(), SessionError> {
        self.cmd
            .send(c)
            .await
            .map_err(|_| SessionError::Gone(self.addr))
    }
}

struct Shared {
    neighbors: Mutex<HashMap<IpAddr, (Neighbor, JoinHandle<()>)>>,
    events: mpsc::Sender<NeighborEvent>,
    next_conn: AtomicU64,
}

/// A BGP speaker: listeners plus neighbors. Dropping it aborts every task at once (the
/// peers see the TCP connections close, as after a crash); [`Speaker::shutdown`] is the
/// polite way, with a Cease to every peer.
pub struct Speaker {
    shared: Arc<Shared>,
    listeners: Vec<JoinHandle<()>>,
    local_addrs: Vec<SocketAddr>,
}

impl Speaker {
    /// Binds the listeners and returns the speaker with its event stream.
    pub async fn bind(cfg: SpeakerConfig) -> Result<(Speaker, Events), SessionError> {
        let (events, rx) = mpsc::channel(cfg.event_queue.max(1));
        let shared = Arc::new(Shared {
            neighbors: Mutex::new(HashMap::new()),
            events,
            next_conn: AtomicU64::new(1),
        });
        let mut listeners = Vec::new();
        let mut local_addrs = Vec::new();
        for addr in cfg.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| SessionError::Listen { addr, source })?;
            let local = l
                .local_addr()
                .map_err(|source| SessionError::Listen { addr, source })?;
            info!(%local, "BGP listening");
            local_addrs.push(local);
            listeners.push(tokio::spawn(accept_loop(l, Arc::downgrade(&shared))));
        }
        Ok((
            Speaker {
                shared,
                listeners,
                local_addrs,
            },
            Events { rx },
        ))
    }

    /// The addresses actually listened on (port 0 resolved).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Adds a neighbor in Idle; call [`Neighbor::start`] to bring it up.
    pub fn add_neighbor(&self, cfg: NeighborConfig) -> Result<Neighbor, SessionError> {
        cfg.validate()?;
        let addr = cfg.remote_addr;
        let mut map = lock(&self.shared.neighbors);
        if map.contains_key(&addr) {
            return Err(SessionError::Duplicate(addr));
        }
        let (cmd, cmd_rx) = mpsc::channel(64);
        let (state_tx, state) = watch::channel(State::Idle);
        let (session_tx, session) = watch::channel(None);
        let handle = Neighbor {
            addr,
            local_addr: cfg.local_addr,
            cmd,
            state,
            session,
        };
        let (failed_tx, failed_rx) = mpsc::unbounded_channel();
        let (connect_tx, connect_rx) = mpsc::unbounded_channel();
        let task = NeighborTask {
            peer: addr,
            remote: SocketAddr::new(addr, cfg.remote_port),
            local_addr: cfg.local_addr,
            fsm: Fsm::new(cfg),
            timers: TimerSet::default(),
            jitter: Jitter::default(),
            conns: Vec::with_capacity(2),
            attempt: None,
            connect_tx,
            failed_tx,
            events: self.shared.events.clone(),
            state_tx,
            session_tx,
            shared: Arc::downgrade(&self.shared),
            actions: Vec::new(),
        };
        let join = tokio::spawn(task.run(cmd_rx, failed_rx, connect_rx));
        map.insert(addr, (handle.clone(), join));
        Ok(handle)
    }

    pub fn neighbor(&self, addr: IpAddr) -> Option<Neighbor> {
        lock(&self.shared.neighbors)
            .get(&addr)
            .map(|(n, _)| n.clone())
    }

    /// Stops the neighbor with Cease/Peer De-configured and ends its task.
    pub async fn remove_neighbor(&self, addr: IpAddr) -> Result<(), SessionError> {
        let entry = lock(&self.shared.neighbors).remove(&addr);
        let (n, join) = entry.ok_or(SessionError::NoSuchNeighbor(addr))?;
        let _ = n
            .cmd
            .send(Command::Remove(cease_notification(
                cease::PEER_DECONFIGURED,
                None,
            )))
            .await;
        finish(join).await;
        Ok(())
    }

    /// Sends every peer a Cease/Administrative Shutdown and ends all tasks.
    pub async fn shutdown(mut self) {
        self.listeners.drain(..).for_each(|l| l.abort());
        let all: Vec<_> = lock(&self.shared.neighbors).drain().collect();
        for (_, (n, join)) in all {
            let bye = cease_notification(cease::ADMINISTRATIVE_SHUTDOWN, None);
            let _ = n.cmd.send(Command::Remove(bye)).await;
            finish(join).await;
        }
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.listeners.iter().for_each(|l| l.abort());
        for (_, (_, join)) in lock(&self.shared.neighbors).drain() {
            join.abort();
        }
    }
}

/// Waits a little for a task to end by itself, then aborts it.
async fn finish(join: JoinHandle<()>) {
    let abort = join.abort_handle();
    if timeout(Duration::from_secs(5), join).await.is_err() {
        abort.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the map leaves it usable: it is only a lookup table.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(l: TcpListener, shared: std::sync::Weak<Shared>) {
    loop {
        let (stream, remote) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let neighbor = lock(&shared.neighbors)
            .get(&remote.ip())
            .map(|(n, _)| n.clone());
        let Some(n) = neighbor else {
            info!(%remote, "connection from an unknown peer refused");
            continue;
        };
        if let (Some(want), Ok(local)) = (n.local_addr, stream.local_addr()) {
            if local.ip() != want {
                info!(%remote, %local, "connection to the wrong local address refused");
                continue;
            }
        }
        if n.cmd.try_send(Command::Incoming(stream)).is_err() {
            debug!(%remote, "neighbor busy, connection dropped");
        }
    }
}

type ConnectResult = (u64, io::Result<TcpStream>);

struct NeighborTask {
    peer: IpAddr,
    remote: SocketAddr,
    local_addr: Option<IpAddr>,
    fsm: Fsm,
    timers: TimerSet,
    jitter: Jitter,
    conns: Vec<Connection>,
    /// The outgoing attempt in flight: its number and task.
    attempt: Option<(u64, JoinHandle<()>)>,
    connect_tx: mpsc::UnboundedSender<ConnectResult>,
    failed_tx: mpsc::UnboundedSender<WriteFailed>,
    events: mpsc::Sender<NeighborEvent>,
    state_tx: watch::Sender<State>,
    session_tx: watch::Sender<Option<Session>>,
    shared: std::sync::Weak<Shared>,
    /// Reused between inputs.
    actions: Vec<Action>,
}

enum Wake {
    Command(Option<Command>),
    Connected(ConnectResult),
    WriteFailed(WriteFailed),
    Read(ConnId, io::Result<usize>),
    Timer,
}

impl NeighborTask {
    async fn run(
        mut self,
        mut cmd: mpsc::Receiver<Command>,
        mut failed: mpsc::UnboundedReceiver<WriteFailed>,
        mut connected: mpsc::UnboundedReceiver<ConnectResult>,
    ) {
        loop {
            let deadline = self.timers.next_deadline();
            let wake = {
                let conns = &mut self.conns;
                let read = poll_fn(|cx| {
                    for c in conns.iter_mut() {
                        if let Poll::Ready(r) = c.poll_fill(cx) {
                            return Poll::Ready((c.id, r));
                        }
                    }
                    Poll::Pending
                });
                tokio::select! {
                    c = cmd.recv() => Wake::Command(c),
                    Some(r) = connected.recv() => Wake::Connected(r),
                    Some(f) = failed.recv() => Wake::WriteFailed(f),
                    (id, r) = read => Wake::Read(id, r),
                    _ = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => Wake::Timer,
                }
            };
            match wake {
                Wake::Command(None) => break,
                Wake::Command(Some(Command::Remove(n))) => {
                    self.feed(Input::ManualStop(n)).await;
                    break;
                }
                Wake::Command(Some(Command::Start)) => self.feed(Input::ManualStart).await,
                Wake::Command(Some(Command::Stop(n))) => self.feed(Input::ManualStop(n)).await,
                Wake::Command(Some(Command::Incoming(stream))) => {
                    self.add_conn(stream, Direction::Incoming).await
                }
                Wake::Connected((attempt, result)) => {
                    if self.attempt.as_ref().map(|a| a.0) != Some(attempt) {
                        continue; // cancelled; the stream (if any) is dropped here
                    }
                    self.attempt = None;
                    match result {
                        Ok(stream) => self.add_conn(stream, Direction::Outgoing).await,
                        Err(e) => {
                            let error = e.to_string();
                            self.feed(Input::ConnectFailed { error }).await
                        }
                    }
                }
                Wake::WriteFailed(f) => {
                    let error = format!("write: {}", f.error);
                    self.feed(Input::ConnectionFailed {
                        conn: f.conn,
                        error,
                    })
                    .await
                }
                Wake::Read(id, Ok(0)) => {
                    self.process(id).await;
                    let error = "closed by the peer".to_string();
                    self.feed(Input::ConnectionFailed { conn: id, error }).await
                }
                Wake::Read(id, Ok(_)) => self.process(id).await,
                Wake::Read(id, Err(e)) => {
                    let error = format!("read: {e}");
                    self.feed(Input::ConnectionFailed { conn: id, error }).await
                }
                Wake::Timer => {
                    let now = Instant::now();
                    while let Some(t) = self.timers.pop_expired(now) {
                        self.feed(Input::TimerExpired(t)).await;
                    }
                }
            }
        }
        // Ending: whatever is left goes without a word (after a stop there is nothing left).
        if let Some((_, j)) = self.attempt.take() {
            j.abort();
        }
        for c in self.conns.drain(..) {
            c.close(None);
        }
        let _ = self.session_tx.send(None);
    }

    async fn add_conn(&mut self, stream: TcpStream, direction: Direction) {
        let id = match self.shared.upgrade() {
            Some(s) => s.next_conn.fetch_add(1, Ordering::Relaxed),
            None => return,
        };
        match Connection::new(id, stream, self.failed_tx.clone()) {
            Ok(c) => {
                debug!(peer = %self.peer, conn = id, remote = %c.remote, %direction, "TCP connection");
                self.conns.push(c);
                self.feed(Input::Connected {
                    conn: id,
                    direction,
                })
                .await;
            }
            Err(e) => {
                // The socket died between accept/connect and now.
                if direction == Direction::Outgoing {
                    let error = e.to_string();
                    self.feed(Input::ConnectFailed { error }).await;
                }
            }
        }
    }

    /// Frames and decodes what `id` has buffered, one message at a time: the context can
    /// change after each one (the OPEN), and the connection can be closed by any of them.
    async fn process(&mut self, id: ConnId) {
        loop {
            let ctx = self.fsm.context_for(id);
            let Some(c) = self.conns.iter_mut().find(|c| c.id == id) else {
                return;
            };
            let input = match frame(c.unread(), &ctx) {
                Ok(None) => {
                    c.compact();
                    return;
                }
                Ok(Some(f)) => {
                    let len = f.len();
                    let input = match f.decode(&ctx) {
                        Ok(d) => Input::Message {
                            conn: id,
                            message: d.message,
                            findings: d.findings,
                        },
                        Err(error) => Input::DecodeError { conn: id, error },
                    };
                    c.consume(len);
                    input
                }
                Err(error) => {
                    c.discard();
                    Input::DecodeError { conn: id, error }
                }
            };
            self.feed(input).await;
        }
    }

    async fn feed(&mut self, input: Input) {
        let mut actions = std::mem::take(&mut self.actions);
        self.fsm.handle(input, &mut actions);
        for a in actions.drain(..) {
            self.apply(a).await;
        }
        self.actions = actions;
        // Safety net: a connection the state machine no longer knows would be polled forever
        // (a closed socket is always readable). The FSM closes what it drops, so this should
        // never find anything.
        let (p, q) = (self.fsm.primary_conn(), self.fsm.pending_conn());
        while let Some(i) = self
            .conns
            .iter()
            .position(|c| Some(c.id) != p && Some(c.id) != q)
        {
            let c = self.conns.swap_remove(i);
            warn!(peer = %self.peer, conn = c.id, "closing a connection the FSM dropped");
            c.close(None);
        }
    }

    async fn apply(&mut self, a: Action) {
        match a {
            Action::Connect => {
                if let Some((_, j)) = self.attempt.take() {
                    j.abort();
                }
                let n = self
                    .shared
                    .upgrade()
                    .map(|s| s.next_conn.fetch_add(1, Ordering::Relaxed))
                    .unwrap_or(0);
                let (remote, local, tx) = (self.remote, self.local_addr, self.connect_tx.clone());
                debug!(peer = %self.peer, %remote, "connecting");
                let j = tokio::spawn(async move {
                    let r = transport::connect(remote, local).await;
                    let _ = tx.send((n, r));
                });
                self.attempt = Some((n, j));
            }
            Action::CancelConnect => {
                if let Some((_, j)) = self.attempt.take() {
                    j.abort();
                }
            }
            Action::Send { conn, message } => {
                let ctx = self.fsm.context_for(conn);
                let Some(c) = self.conns.iter().find(|c| c.id == conn) else {
                    return;
                };
                match message.to_bytes(&ctx) {
                    Ok(bytes) => {
                        if !c.try_send(bytes) {
                            // Only KEEPALIVEs can meet a full queue (UPDATEs fill it): the
                            // queued UPDATEs will reset the peer's hold timer anyway.
                            debug!(peer = %self.peer, conn, "write queue full, message skipped");
                        }
                    }
                    Err(e) => warn!(peer = %self.peer, error = %e, "cannot encode"),
                }
            }
            Action::Close { conn, notification } => {
                if let Some(i) = self.conns.iter().position(|c| c.id == conn) {
                    let c = self.conns.swap_remove(i);
                    let last = notification
                        .and_then(|n| Message::Notification(n).to_bytes(&Context::default()).ok());
                    c.close(last);
                }
            }
            Action::StartTimer { timer, after } => {
                let after = self.jitter.apply(timer, after);
                self.timers.start(timer, Instant::now(), after)
            }
            Action::StopTimer(timer) => self.timers.stop(timer),
            Action::Report(event) => {
                match &event {
                    Event::StateChanged { to, .. } => {
                        if *to != State::Established {
                            self.session_tx.send_replace(None);
                        }
                        self.state_tx.send_replace(*to);
                    }
                    Event::Established(n) => {
                        let queue = self
                            .fsm
                            .primary_conn()
                            .and_then(|id| self.conns.iter().find(|c| c.id == id))
                            .map(|c| c.queue.clone());
                        if let Some(queue) = queue {
                            self.session_tx.send_replace(Some(Session {
                                queue,
                                negotiated: n.clone(),
                            }));
                        }
                    }
                    _ => {}
                }
                self.report(NeighborEvent {
                    peer: self.peer,
                    event,
                })
                .await;
            }
        }
    }
}

impl NeighborTask {
    /// Queues an event for the controller. When the queue is full (a peer sending faster
    /// than the controller takes its UPDATEs in), this task waits for a quarter of the queue
    /// to be free, not for one slot: waiting for one slot, every event the controller takes
    /// would wake this task again (a cross-thread wake through the runtime, each about as
    /// costly as the UPDATE's decoding) to queue one more. Events stay in order: only this
    /// task queues this neighbor's.
    async fn report(&mut self, ev: NeighborEvent) {
        let ev = match self.events.try_send(ev) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
            Err(mpsc::error::TrySendError::Full(ev)) => ev,
        };
        let room = (self.events.max_capacity() / 4).max(1);
        // The permits go back at once (dropped): they only tell this task the queue has
        // room; the event then takes one like any other.
        drop(self.events.reserve_many(room).await);
        let _ = self.events.send(ev).await;
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
