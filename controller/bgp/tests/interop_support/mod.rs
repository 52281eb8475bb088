//! Shared by the interop tests: starting and stopping daemons by PID, bounded waits on the
//! speaker's events, and building UPDATEs.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bgp::session::{Event, Events, State};
use bgp::{AsPath, AttrValue, MpReach, NextHop, NlriList, Origin, PathAttribute, Update};
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
