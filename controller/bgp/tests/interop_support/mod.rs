//! Shared by the interop tests: starting and stopping daemons by PID, bounded waits on the
//! speaker's events, building UPDATEs, and the flows every daemon test runs (session up,
//! routes both ways, withdraw, route refresh, shutdown, graceful restart helper; IPv6
//! unicast, VPN routes and communities with every field of the received routes kept).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
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
    AsPath, AttrValue, Community, ExtCommunity, Family, FamilySet, LabelStack, LargeCommunity,
    MpReach, MpUnreach, NextHop, NlriList, Origin, PathAttribute, Rd, RouteDistinguisher,
    RouteTarget, Update, VpnPrefix,
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

    /// Has the process exited? (Until it is reaped, its /proc entry is a zombie.)
    pub fn exited(&self) -> bool {
        let Some(pid) = self.pid() else {
            return true;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z')),
        }
    }

    /// Waits until `ready` (the daemon answers its CLI), for up to [`WAIT`]; a daemon that
    /// exits meanwhile (a configuration it refused) fails the test at once, with its output
    /// and `context` (its configuration).
    pub fn wait_ready(&self, context: &str, mut ready: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + WAIT;
        while !ready() {
            assert!(
                !self.exited(),
                "{} exited during start-up:\n{context}\n{}",
                self.name,
                self.log()
            );
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not come up within {WAIT:?}:\n{context}\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Daemon {
    /// Kills the daemon; when the test is failing, prints the daemon's output first.
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!(
                "----- {} output ({}) -----\n{}",
                self.name,
                self.dir.display(),
                self.log()
            );
        }
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

/// Routes learned from one peer, kept from its Update events: the IPv4 / IPv6 unicast
/// prefixes, and every route of any family with what we decoded of it (`paths`).
#[derive(Debug, Default)]
pub struct Routes {
    pub v4: BTreeSet<Ipv4Net>,
    pub v6: BTreeSet<Ipv6Net>,
    /// Key: the prefix (`10.2.1.0/24`, `2001:db8::/48`) or, for VPN routes, `RD:prefix`
    /// (`65002:20:10.20.0.0/24`, `192.0.2.2:21:10.21.0.0/24`, `4200000002:22:…`).
    pub paths: BTreeMap<String, Received>,
    /// Every announcement seen, counting repeats (route refresh resends).
    pub announcements: usize,
}

/// What we decoded of one received route, as text so that assertions read like the
/// daemons' own output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// NEXT_HOP, or the MP_REACH next hop (`NextHop`'s display form).
    pub next_hop: String,
    /// The label values of a VPN route, top first.
    pub labels: Vec<u32>,
    /// COMMUNITIES as `asn:value`.
    pub communities: Vec<String>,
    /// EXTENDED_COMMUNITIES as displayed: route targets `RT:admin:value`.
    pub ext_communities: Vec<String>,
    /// LARGE_COMMUNITY as `global:local1:local2`.
    pub large_communities: Vec<String>,
}

impl Received {
    /// The communities of `u`; next hop and labels are filled in per prefix.
    fn communities_of(u: &Update) -> Received {
        let mut p = Received::default();
        for a in &u.attributes {
            match &a.value {
                AttrValue::Communities(c) => {
                    p.communities = c.iter().map(|c| c.to_string()).collect()
                }
                AttrValue::ExtCommunities(c) => {
                    p.ext_communities = c.iter().map(|c| c.to_string()).collect()
                }
                AttrValue::LargeCommunities(c) => {
                    p.large_communities = c.iter().map(|c| c.to_string()).collect()
                }
                _ => {}
            }
        }
        p
    }
}

/// `RD:prefix`, the key of a VPN route in [`Routes::paths`].
pub fn vpn_key<P: std::fmt::Display>(v: &VpnPrefix<P>) -> String {
    format!("{}:{}", v.rd, v.prefix)
}

/// The keys and label values of every prefix of `nlri`.
fn nlri_keys(nlri: &NlriList) -> Vec<(String, Vec<u32>)> {
    let labels = |s: &LabelStack| s.as_slice().iter().map(|l| l.value()).collect();
    match nlri {
        NlriList::Ipv4(v) => v.iter().map(|p| (p.to_string(), vec![])).collect(),
        NlriList::Ipv6(v) => v.iter().map(|p| (p.to_string(), vec![])).collect(),
        NlriList::Vpnv4(v) => v.iter().map(|p| (vpn_key(p), labels(&p.labels))).collect(),
        NlriList::Vpnv6(v) => v.iter().map(|p| (vpn_key(p), labels(&p.labels))).collect(),
    }
}

impl Routes {
    pub fn apply(&mut self, u: &Update) {
        for p in &u.withdrawn {
            self.v4.remove(p);
            self.paths.remove(&p.to_string());
        }
        for m in u.mp_unreach() {
            if let NlriList::Ipv6(ps) = &m.withdrawn {
                ps.iter().for_each(|p| {
                    self.v6.remove(p);
                });
            }
            for (key, _) in nlri_keys(&m.withdrawn) {
                self.paths.remove(&key);
            }
        }
        let common = Received::communities_of(u);
        let next_hop = u.attributes.iter().find_map(|a| match a.value {
            AttrValue::NextHop(nh) => Some(nh.to_string()),
            _ => None,
        });
        for p in &u.nlri {
            self.v4.insert(*p);
            self.announcements += 1;
            let path = Received {
                next_hop: next_hop.clone().unwrap_or_default(),
                ..common.clone()
            };
            self.paths.insert(p.to_string(), path);
        }
        if let Some(m) = u.mp_reach() {
            if let NlriList::Ipv6(ps) = &m.nlri {
                self.v6.extend(ps.iter().copied());
            }
            self.announcements += m.nlri.len();
            for (key, labels) in nlri_keys(&m.nlri) {
                let path = Received {
                    next_hop: m.next_hop.to_string(),
                    labels,
                    ..common.clone()
                };
                self.paths.insert(key, path);
            }
        }
    }

    /// The route with this key (see [`Routes::paths`]); panics with what we have if missing.
    pub fn path(&self, key: &str) -> &Received {
        self.paths
            .get(key)
            .unwrap_or_else(|| panic!("no route {key}; have {:#?}", self.paths))
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

/// IPv6 unicast withdrawal in MP_UNREACH_NLRI.
pub fn withdraw6(prefixes: &[&str]) -> Update {
    mp_unreach(NlriList::Ipv6(
        prefixes
            .iter()
            .map(|p| p.parse().expect("prefix"))
            .collect(),
    ))
}

fn mp_unreach(withdrawn: NlriList) -> Update {
    Update {
        attributes: vec![PathAttribute::new(AttrValue::MpUnreach(MpUnreach {
            withdrawn,
        }))],
        ..Update::default()
    }
}

/// ORIGIN, AS_PATH and for internal peers (`path` empty) LOCAL_PREF.
fn base_attributes(path: &[u32]) -> Vec<PathAttribute> {
    let mut attrs = vec![
        PathAttribute::new(AttrValue::Origin(Origin::Igp)),
        PathAttribute::new(AttrValue::AsPath(AsPath::sequence(path))),
    ];
    if path.is_empty() {
        attrs.push(PathAttribute::new(AttrValue::LocalPref(100)));
    }
    attrs
}

/// The communities the tests attach to an IPv4 route of ours, one attribute per kind:
/// standard, extended (route targets of all three layouts), large.
pub const OUR_COMMUNITIES: [&str; 2] = ["65001:100", "65001:200"];
pub const OUR_RTS: [&str; 3] = ["65001:300", "192.0.2.1:301", "4200000001:302"];
pub const OUR_LARGE: &str = "4200000001:1:2";

/// An IPv4 unicast announcement carrying [`OUR_COMMUNITIES`], [`OUR_RTS`] and [`OUR_LARGE`];
/// `path` empty for an internal peer.
pub fn announce_with_communities(prefix: &str, path: &[u32], next_hop: Ipv4Addr) -> Update {
    let mut attributes = base_attributes(path);
    attributes.push(PathAttribute::new(AttrValue::NextHop(next_hop)));
    attributes.push(PathAttribute::new(AttrValue::Communities(
        OUR_COMMUNITIES
            .iter()
            .map(|c| {
                let (a, v) = c.split_once(':').expect("asn:value");
                Community::new(a.parse().expect("asn"), v.parse().expect("value"))
            })
            .collect(),
    )));
    attributes.push(PathAttribute::new(AttrValue::ExtCommunities(
        OUR_RTS
            .iter()
            .map(|rt| ExtCommunity::RouteTarget(rt_of(rt)))
            .collect(),
    )));
    let l: Vec<u32> = OUR_LARGE
        .split(':')
        .map(|x| x.parse().expect("u32"))
        .collect();
    attributes.push(PathAttribute::new(AttrValue::LargeCommunities(vec![
        LargeCommunity {
            global: l[0],
            local1: l[1],
            local2: l[2],
        },
    ])));
    Update {
        attributes,
        nlri: vec![net(prefix)],
        ..Update::default()
    }
}

fn rt_of(text: &str) -> RouteTarget {
    text.parse().expect("route target")
}

/// One labeled VPN route as the tests write it: RD, prefix (IPv4 → VPNv4, IPv6 → VPNv6),
/// one label, one route target.
#[derive(Clone, Copy, Debug)]
pub struct VpnRoute {
    pub rd: &'static str,
    pub prefix: &'static str,
    pub label: u32,
    pub rt: &'static str,
}

impl VpnRoute {
    /// `RD:prefix`, as [`Routes::paths`] and GoBGP key it.
    pub fn key(&self) -> String {
        format!("{}:{}", self.rd, self.prefix)
    }

    pub fn is_v6(&self) -> bool {
        self.prefix.contains(':')
    }

    fn nlri(&self, labels: LabelStack) -> NlriList {
        let rd = Rd::Known(self.rd.parse::<RouteDistinguisher>().expect("rd"));
        if self.is_v6() {
            NlriList::Vpnv6(vec![VpnPrefix {
                labels,
                rd,
                prefix: self.prefix.parse().expect("prefix"),
            }])
        } else {
            NlriList::Vpnv4(vec![VpnPrefix {
                labels,
                rd,
                prefix: net(self.prefix),
            }])
        }
    }

    /// Its announcement with `next_hop` (`path` empty for an internal peer).
    pub fn announce(&self, path: &[u32], next_hop: NextHop) -> Update {
        let mut attributes = base_attributes(path);
        attributes.push(PathAttribute::new(AttrValue::ExtCommunities(vec![
            ExtCommunity::RouteTarget(rt_of(self.rt)),
        ])));
        attributes.push(PathAttribute::new(AttrValue::MpReach(MpReach {
            next_hop,
            nlri: self.nlri(LabelStack::single(self.label)),
        })));
        Update {
            attributes,
            ..Update::default()
        }
    }

    /// Its withdrawal (MP_UNREACH_NLRI, label field 0x800000 as RFC 8277 §2.4 asks).
    pub fn withdraw(&self) -> Update {
        mp_unreach(self.nlri(LabelStack::withdraw()))
    }
}

/// The next hop we give VPN routes of `r`'s family: documentation addresses, since the
/// daemons treat loopback next hops as invalid.
pub fn doc_next_hop(r: &VpnRoute) -> NextHop {
    if r.is_v6() {
        NextHop::V6 {
            global: "2001:db8::1".parse().expect("address"),
            link_local: None,
        }
    } else {
        NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
    }
}

/// The routes the tests send the daemons: VPNv4 with RDs of types 0, 1 and 2, VPNv6 with
/// types 0 and 2 (route targets in the same layouts).
pub const OUR_VPN_ROUTES: [VpnRoute; 5] = [
    VpnRoute {
        rd: "65001:31",
        prefix: "10.131.0.0/24",
        label: 1031,
        rt: "65001:31",
    },
    VpnRoute {
        rd: "192.0.2.1:32",
        prefix: "10.132.0.0/24",
        label: 1032,
        rt: "192.0.2.1:32",
    },
    VpnRoute {
        rd: "4200000001:33",
        prefix: "10.133.0.0/24",
        label: 1033,
        rt: "4200000001:33",
    },
    VpnRoute {
        rd: "65001:36",
        prefix: "2001:db8:136::/48",
        label: 1036,
        rt: "65001:36",
    },
    VpnRoute {
        rd: "4200000001:37",
        prefix: "2001:db8:137::/48",
        label: 1037,
        rt: "4200000001:37",
    },
];

/// We announce every route of [`OUR_VPN_ROUTES`] (each in its own UPDATE, since each has its
/// own route target), see each in the daemon's table (`has(route)` checks RD, prefix, label,
/// route target and next hop there), then withdraw the first VPNv4 and the first VPNv6 route
/// and see them go while the others stay.
pub async fn our_vpn_routes_and_withdrawal(
    n: &Neighbor,
    daemon: &str,
    path: &[u32],
    has: impl Fn(&VpnRoute) -> bool,
) {
    let updates: Vec<Update> = OUR_VPN_ROUTES
        .iter()
        .map(|r| r.announce(path, doc_next_hop(r)))
        .collect();
    n.send_updates(&updates).await.unwrap();
    for r in &OUR_VPN_ROUTES {
        poll_until(&format!("our VPN route {} in {daemon}", r.key()), || has(r)).await;
    }
    let (gone4, gone6) = (OUR_VPN_ROUTES[0], OUR_VPN_ROUTES[3]);
    n.send_updates(&[gone4.withdraw(), gone6.withdraw()])
        .await
        .unwrap();
    poll_until(&format!("our VPN withdrawals in {daemon}"), || {
        !has(&gone4) && !has(&gone6)
    })
    .await;
    for r in &OUR_VPN_ROUTES[1..] {
        if r.key() != gone6.key() {
            assert!(has(r), "{} left in {daemon}", r.key());
        }
    }
}

/// We announce `v6` (two IPv6 prefixes) in MP_REACH_NLRI with next hop 2001:db8::1, see both in
/// the daemon, withdraw the first in MP_UNREACH_NLRI and see only the second left.
pub async fn our_ipv6_routes_and_withdrawal(
    n: &Neighbor,
    daemon: &str,
    v6: [&str; 2],
    path: &[u32],
    has_route: impl Fn(&str) -> bool,
) {
    let mut attributes = base_attributes(path);
    attributes.push(PathAttribute::new(AttrValue::MpReach(MpReach {
        next_hop: NextHop::V6 {
            global: "2001:db8::1".parse().expect("address"),
            link_local: None,
        },
        nlri: NlriList::Ipv6(v6.iter().map(|p| p.parse().expect("prefix")).collect()),
    })));
    let u = Update {
        attributes,
        ..Update::default()
    };
    n.send_update(&u).await.unwrap();
    poll_until(&format!("our IPv6 routes in {daemon}"), || {
        has_route(v6[0]) && has_route(v6[1])
    })
    .await;
    n.send_update(&withdraw6(&[v6[0]])).await.unwrap();
    poll_until(&format!("our IPv6 withdrawal in {daemon}"), || {
        !has_route(v6[0]) && has_route(v6[1])
    })
    .await;
}

/// We announce `prefix` with all three kinds of communities; `check` sees them in the
/// daemon's table.
pub async fn our_communities_arrive(
    n: &Neighbor,
    daemon: &str,
    prefix: &str,
    path: &[u32],
    next_hop: Ipv4Addr,
    check: impl Fn() -> bool,
) {
    n.send_update(&announce_with_communities(prefix, path, next_hop))
        .await
        .unwrap();
    poll_until(&format!("our communities on {prefix} in {daemon}"), check).await;
}

/// Waits for a daemon's routes of every family, as the families tests of test file `n` (2 FRR,
/// 3 GoBGP, 4 BIRD) configure them: IPv6 2001:db8:n1::/48 and 2001:db8:n2::/48, IPv4
/// 10.n.9.0/24 with communities 6500n:100 6500n:200, route targets of the three types and a
/// large community, and the VPN routes `vpn`, each checked for its label, route target and
/// `next_hop(route)`. The routes, for the caller's own checks.
pub async fn expect_daemon_families(
    events: &mut Events,
    peer: IpAddr,
    daemon: &str,
    n: u8,
    vpn: &[VpnRoute],
    next_hop: impl Fn(&VpnRoute) -> String,
) -> Routes {
    let (v6a, v6b, v4) = (
        format!("2001:db8:{n}1::/48"),
        format!("2001:db8:{n}2::/48"),
        format!("10.{n}.9.0/24"),
    );
    let mut routes = Routes::default();
    routes
        .until(
            events,
            peer,
            &format!("{daemon}'s routes of every family"),
            |r| {
                r.has6(&v6a)
                    && r.has6(&v6b)
                    && r.has(&v4)
                    && vpn.iter().all(|v| r.paths.contains_key(&v.key()))
            },
        )
        .await;
    let comm = routes.path(&v4);
    let asn = 65000 + u32::from(n);
    assert_eq!(
        comm.communities,
        [format!("{asn}:100"), format!("{asn}:200")],
        "{comm:?}"
    );
    assert_eq!(
        comm.ext_communities,
        [
            format!("RT:{asn}:300"),
            format!("RT:192.0.2.{n}:301"),
            format!("RT:420000000{n}:302")
        ],
        "{comm:?}"
    );
    assert_eq!(
        comm.large_communities,
        [format!("420000000{n}:1:2")],
        "{comm:?}"
    );
    for r in vpn {
        assert_vpn_path(&routes, &r.key(), &[r.label], &[r.rt], &next_hop(r));
    }
    routes
}

/// Asserts the VPN route `key` arrived as the daemon was told to send it.
pub fn assert_vpn_path(routes: &Routes, key: &str, labels: &[u32], rts: &[&str], next_hop: &str) {
    let p = routes.path(key);
    assert_eq!(p.labels, labels, "labels of {key}: {p:?}");
    let want: Vec<String> = rts.iter().map(|rt| format!("RT:{rt}")).collect();
    assert_eq!(p.ext_communities, want, "route targets of {key}: {p:?}");
    assert_eq!(p.next_hop, next_hop, "next hop of {key}: {p:?}");
}

/// Logs of the speaker under test, when RUST_LOG asks for them.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
