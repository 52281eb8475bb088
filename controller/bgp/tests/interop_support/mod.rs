//! Shared by the interop tests: starting and stopping daemons by PID, bounded waits on the
//! speaker's events, building UPDATEs, and the flows every daemon test runs (session up,
//! routes both ways, withdraw, route refresh, shutdown, graceful restart helper).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bgp::session::{
    Event, Events, GracefulRestartConfig, Negotiated, Neighbor, NeighborConfig,
    PeerGracefulRestart, Reason, Speaker, SpeakerConfig, StaleCause, State,
};
use bgp::{
    AsPath, AttrValue, Family, FamilySet, MpReach, NextHop, NlriList, Origin, PathAttribute, Update,
};
use ipnet::{Ipv4Net, Ipv6Net};
use tokio::time::{timeout_at, Instant};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// 127.N.<file>.<host>: N comes from the process id, so two test runs on one machine (other
/// engineers, CI) use different addresses and never take each other's ports; `file` keeps
/// the test files apart, `host` the tests of a file.
pub fn loopback(file: u8, host: u8) -> Ipv4Addr {
    let n = 16 + (std::process::id() % 224) as u8;
    Ipv4Addr::new(127, n, file, host)
}

/// Finds a daemon binary (Debian puts FRR's daemons in /usr/lib/frr).
pub fn find(bin: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/lib/frr", "/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(bin)).find(|p| p.is_file())
}

/// The one line a test prints when its daemon is missing.
pub fn skip(daemon: &str, what: &str) {
    println!("SKIP: {daemon} not installed: {what}");
}

/// A daemon this test started; killed by its PID when dropped (also on panic).
pub struct Daemon {
    pub name: &'static str,
    child: Option<Child>,
    pub dir: PathBuf,
}

impl Daemon {
    /// Starts `cmd` with stdout/stderr into `<dir>/<name>.out`.
    pub fn spawn(name: &'static str, dir: &Path, mut cmd: Command) -> Daemon {
        let out = std::fs::File::create(dir.join(format!("{name}.out"))).expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name,
            child: Some(child),
            dir: dir.to_path_buf(),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL by PID, as a crash would (no NOTIFICATION can be sent).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM by PID, then up to 5 s for it to exit before SIGKILL.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            for _ in 0..50 {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The daemon's own output, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.out", self.name))).unwrap_or_default()
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a CLI command (vtysh, gobgp, birdc) with a time limit; its stdout, or the error.
pub fn cli(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} {args:?}: timed out", program.display()));
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} {args:?}: {}: {}{}",
            program.display(),
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Polls `check` (a blocking CLI query) every 250 ms until it returns true, for up to `WAIT`.
pub async fn poll_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {WAIT:?} waiting for {what}");
}

/// Waits for an event of `peer` that `f` accepts, skipping the others; panics after `WAIT`.
pub async fn expect(
    events: &mut Events,
    peer: IpAddr,
    what: &str,
    mut f: impl FnMut(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        match timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if e.peer == peer && f(&e.event) => return e.event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event stream ended while waiting for {what}"),
            Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
        }
    }
}

pub async fn expect_state(events: &mut Events, peer: IpAddr, state: State) -> Event {
    expect(
        events,
        peer,
        &format!("{peer} {state}"),
        |e| matches!(e, Event::StateChanged { to, .. } if *to == state),
    )
    .await
}

/// Waits for `peer`'s session to come up; what was negotiated.
pub async fn expect_established(events: &mut Events, peer: IpAddr, what: &str) -> Arc<Negotiated> {
    let Event::Established(neg) =
        expect(events, peer, what, |e| matches!(e, Event::Established(_))).await
    else {
        unreachable!()
    };
    neg
}

/// Waits for `peer`'s session to go down; why, and the families whose routes were kept stale.
pub async fn expect_peer_down(
    events: &mut Events,
    peer: IpAddr,
    what: &str,
) -> (Reason, FamilySet) {
    let ev = expect(events, peer, what, |e| matches!(e, Event::PeerDown { .. })).await;
    let Event::PeerDown { reason, stale } = ev else {
        unreachable!()
    };
    (reason, stale)
}

/// Our side of a session with a daemon on `peer`:`remote_port` (from `me`), short timers.
pub fn daemon_neighbor(
    me: Ipv4Addr,
    my_as: u32,
    peer: Ipv4Addr,
    peer_as: u32,
    remote_port: u16,
) -> NeighborConfig {
    let mut c = NeighborConfig::new(IpAddr::V4(peer), my_as, peer_as, me);
    c.local_addr = Some(IpAddr::V4(me));
    c.remote_port = remote_port;
    c.hold_time = 9;
    c.timers.connect_retry = Duration::from_secs(1);
    c.timers.idle_hold = Duration::from_millis(200);
    c.timers.max_backoff = Duration::from_secs(2);
    c
}

/// Graceful restart helper mode as the interop tests configure it: 30 s restart, 30 s stale.
pub fn helper_gr() -> Option<GracefulRestartConfig> {
    Some(GracefulRestartConfig {
        restart_time: 30,
        stale_routes_time: Duration::from_secs(30),
    })
}

/// A speaker on the default config (not listening) with `c` as a neighbor, started: we connect.
pub async fn active_neighbor(c: NeighborConfig) -> (Speaker, Events, Neighbor) {
    let (speaker, events) = Speaker::bind(SpeakerConfig::default()).await.unwrap();
    let n = speaker.add_neighbor(c).unwrap();
    n.start().await.unwrap();
    (speaker, events, n)
}

/// We connect to the daemon (speaker on the default config): our hold time 30 loses to the
/// daemon's 9 s (the minimum); Established with 4-octet AS, route refresh, `remote_as`.
pub async fn active_session_up(
    mut c: NeighborConfig,
    daemon: &str,
) -> (Speaker, Events, Neighbor, Arc<Negotiated>) {
    let (peer, remote_as) = (c.remote_addr, c.remote_as);
    c.hold_time = 30; // the daemon's 9 s wins: the minimum
    let (speaker, mut events, n) = active_neighbor(c).await;
    let neg = expect_established(&mut events, peer, &format!("Established with {daemon}")).await;
    assert!(neg.context.four_octet_as && neg.route_refresh, "{neg:?}");
    assert_eq!((neg.hold_time, neg.remote_as), (9, remote_as));
    (speaker, events, n, neg)
}

/// The daemon connects to us: a speaker listening on `us`:`port` with `c` as a passive
/// neighbor, started.
pub async fn passive_neighbor(
    us: Ipv4Addr,
    port: u16,
    mut c: NeighborConfig,
) -> (Speaker, Events, Neighbor) {
    let (speaker, events) = Speaker::bind(SpeakerConfig {
        listen: vec![SocketAddr::new(IpAddr::V4(us), port)],
        ..SpeakerConfig::default()
    })
    .await
    .unwrap();
    c.passive = true;
    let n = speaker.add_neighbor(c).unwrap();
    n.start().await.unwrap();
    (speaker, events, n)
}

/// We announce `ours` (two IPv4 prefixes) and End-of-RIB, see both in the daemon's `rib`, then
/// withdraw the first and see only the second left.
pub async fn our_routes_and_withdrawal(
    n: &Neighbor,
    rib: &str,
    ours: [&str; 2],
    next_hop: Ipv4Addr,
    has_route: impl Fn(&str) -> bool,
) {
    n.send_update(&announce(&ours, 65001, next_hop))
        .await
        .unwrap();
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    poll_until(&format!("our routes in {rib}"), || {
        has_route(ours[0]) && has_route(ours[1])
    })
    .await;

    n.send_update(&withdraw(&[ours[0]])).await.unwrap();
    poll_until(&format!("our withdrawal in {rib}"), || {
        !has_route(ours[0]) && has_route(ours[1])
    })
    .await;
}

/// After the daemon withdrew `gone`: it leaves our routes, `kept` stays.
pub async fn expect_their_withdrawal(
    routes: &mut Routes,
    events: &mut Events,
    peer: IpAddr,
    daemon: &str,
    gone: &str,
    kept: &str,
) {
    routes
        .until(events, peer, &format!("{daemon}'s withdrawal"), |r| {
            !r.has(gone)
        })
        .await;
    assert!(routes.has(kept));
}

/// ROUTE-REFRESH for IPv4 unicast: the daemon sends its Adj-RIB-Out again.
pub async fn route_refresh_resends(
    n: &Neighbor,
    routes: &mut Routes,
    events: &mut Events,
    peer: IpAddr,
    daemon: &str,
) {
    let before = routes.announcements;
    n.send_route_refresh(Family::Ipv4Unicast).await.unwrap();
    routes
        .until(
            events,
            peer,
            &format!("{daemon} resending after ROUTE-REFRESH"),
            |r| r.announcements > before,
        )
        .await;
}

/// The daemon shut the session down with the message "maintenance" (RFC 9003); the reason.
pub async fn expect_admin_shutdown(events: &mut Events, peer: IpAddr, daemon: &str) -> Reason {
    let (reason, _) = expect_peer_down(events, peer, &format!("{daemon}'s Cease")).await;
    assert_eq!(
        reason.to_string(),
        "received Cease/Administrative Shutdown \"maintenance\""
    );
    reason
}

/// After a SIGKILL of a daemon without graceful restart: the connection failed, nothing stale.
pub async fn expect_peer_down_without_stale(events: &mut Events, peer: IpAddr) {
    let (reason, stale) = expect_peer_down(events, peer, "peer down after kill").await;
    assert!(matches!(reason, Reason::ConnectionFailed(_)), "{reason:?}");
    assert_eq!(stale.iter().count(), 0, "no graceful restart configured");
}

/// A graceful restart session comes up (`what`): GR negotiated for IPv4 unicast with `daemon`,
/// we send End-of-RIB, the daemon's `prefix` arrives. Returns the negotiation, the daemon's
/// GR capability and its routes.
pub async fn gr_session_up(
    n: &Neighbor,
    events: &mut Events,
    peer: IpAddr,
    what: &str,
    daemon: &str,
    prefix: &str,
) -> (Arc<Negotiated>, PeerGracefulRestart, Routes) {
    let neg = expect_established(events, peer, what).await;
    let gr = neg
        .graceful_restart
        .unwrap_or_else(|| panic!("GR negotiated with {daemon}"));
    assert!(gr.families.contains(Family::Ipv4Unicast), "{gr:?}");
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    let routes = expect_their_route(events, peer, &format!("{daemon}'s route"), prefix).await;
    (neg, gr, routes)
}

/// The routes `peer` sends until `prefix` is among them (`what` names the wait).
pub async fn expect_their_route(
    events: &mut Events,
    peer: IpAddr,
    what: &str,
    prefix: &str,
) -> Routes {
    let mut routes = Routes::default();
    routes.until(events, peer, what, |r| r.has(prefix)).await;
    routes
}

/// We announce `prefix` over iBGP and see it in the daemon's `rib`.
pub async fn our_ibgp_route(
    n: &Neighbor,
    rib: &str,
    prefix: &str,
    next_hop: Ipv4Addr,
    has_route: impl Fn(&str) -> bool,
) {
    n.send_update(&announce_ibgp(&[prefix], next_hop))
        .await
        .unwrap();
    poll_until(&format!("our iBGP route in {rib}"), || has_route(prefix)).await;
}

/// After a SIGKILL of a GR daemon (no NOTIFICATION): the connection failed and its IPv4
/// unicast routes are kept, stale.
pub async fn expect_peer_down_keeping_stale(events: &mut Events, peer: IpAddr) {
    let (reason, stale) = expect_peer_down(events, peer, "peer down after kill").await;
    assert!(matches!(reason, Reason::ConnectionFailed(_)), "{reason:?}");
    assert!(stale.contains(Family::Ipv4Unicast), "routes kept stale");
}

/// The restarted daemon is back (`what`) with the restart bit set; its GR capability.
pub async fn expect_gr_reestablished(
    events: &mut Events,
    peer: IpAddr,
    what: &str,
) -> PeerGracefulRestart {
    let neg = expect_established(events, peer, what).await;
    let back = neg.graceful_restart.expect("GR again");
    assert!(back.restarting, "{back:?}");
    back
}

/// We send End-of-RIB to the restarted daemon; its End-of-RIB then flushes the stale IPv4
/// unicast routes (`what` names the wait).
pub async fn end_of_rib_flushes_stale(n: &Neighbor, events: &mut Events, peer: IpAddr, what: &str) {
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    expect_stale_flush_at_end_of_rib(events, peer, what).await;
}

/// The peer's End-of-RIB flushes its stale IPv4 unicast routes (`what` names the wait).
pub async fn expect_stale_flush_at_end_of_rib(events: &mut Events, peer: IpAddr, what: &str) {
    let ev = expect(events, peer, what, |e| {
        matches!(e, Event::StaleFlush { .. })
    })
    .await;
    assert_eq!(
        ev,
        Event::StaleFlush {
            family: Family::Ipv4Unicast,
            cause: StaleCause::EndOfRib
        }
    );
}

/// IPv4 and IPv6 unicast routes learned from one peer, kept from its Update events.
#[derive(Debug, Default)]
pub struct Routes {
    pub v4: BTreeSet<Ipv4Net>,
    pub v6: BTreeSet<Ipv6Net>,
    /// Every announcement seen, counting repeats (route refresh resends).
    pub announcements: usize,
}

impl Routes {
    pub fn apply(&mut self, u: &Update) {
        for p in &u.withdrawn {
            self.v4.remove(p);
        }
        for m in u.mp_unreach() {
            if let NlriList::Ipv6(ps) = &m.withdrawn {
                ps.iter().for_each(|p| {
                    self.v6.remove(p);
                });
            }
        }
        for p in &u.nlri {
            self.v4.insert(*p);
            self.announcements += 1;
        }
        if let Some(NlriList::Ipv6(ps)) = u.mp_reach().map(|m| &m.nlri) {
            self.v6.extend(ps.iter().copied());
            self.announcements += ps.len();
        }
    }

    pub fn has6(&self, p: &str) -> bool {
        self.v6.contains(&p.parse::<Ipv6Net>().expect("prefix"))
    }

    /// Applies this peer's updates until `done` holds; panics after `WAIT`.
    pub async fn until(
        &mut self,
        events: &mut Events,
        peer: IpAddr,
        what: &str,
        mut done: impl FnMut(&Routes) -> bool,
    ) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            match timeout_at(deadline, events.recv()).await {
                Ok(Some(e)) if e.peer == peer => {
                    if let Event::Update { update, .. } = &e.event {
                        self.apply(update);
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("event stream ended while waiting for {what}"),
                Err(_) => panic!("timed out after {WAIT:?} waiting for {what}; have {self:?}"),
            }
        }
    }

    pub fn has(&self, p: &str) -> bool {
        self.v4.contains(&net(p))
    }
}

pub fn net(p: &str) -> Ipv4Net {
    p.parse().expect("prefix")
}

/// An IPv4 unicast announcement as an external speaker of `asn` sends it.
pub fn announce(prefixes: &[&str], asn: u32, next_hop: Ipv4Addr) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::sequence(&[asn]))),
            PathAttribute::new(AttrValue::NextHop(next_hop)),
        ],
        nlri: prefixes.iter().map(|p| net(p)).collect(),
    }
}

/// An internal announcement (empty AS path, LOCAL_PREF).
pub fn announce_ibgp(prefixes: &[&str], next_hop: Ipv4Addr) -> Update {
    Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::default())),
            PathAttribute::new(AttrValue::NextHop(next_hop)),
            PathAttribute::new(AttrValue::LocalPref(100)),
        ],
        nlri: prefixes.iter().map(|p| net(p)).collect(),
    }
}

/// An IPv6 unicast announcement in MP_REACH_NLRI.
pub fn announce6(prefixes: &[&str], asn: u32, next_hop: std::net::Ipv6Addr) -> Update {
    Update {
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::sequence(&[asn]))),
            PathAttribute::new(AttrValue::MpReach(MpReach {
                next_hop: NextHop::V6 {
                    global: next_hop,
                    link_local: None,
                },
                nlri: NlriList::Ipv6(
                    prefixes
                        .iter()
                        .map(|p| p.parse().expect("prefix"))
                        .collect(),
                ),
            })),
        ],
        ..Update::default()
    }
}

pub fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|p| net(p)).collect(),
        ..Update::default()
    }
}

/// Logs of the speaker under test, when RUST_LOG asks for them.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
