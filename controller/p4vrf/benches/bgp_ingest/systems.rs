//! The systems under test. Each is started by the bench in its own directory with its own
//! configuration, listens on its own loopback address, is asked how many of the routes it
//! holds through its own CLI (or our local API), and is stopped by its PID.
//!
//! | system | started as | "all routes in" means |
//! |---|---|---|
//! | p4vrf | `p4vrf run CONF --api-socket … --pid-file …` (embedded switch) | `show p4 summary --json`: `ingress.ipv4_vrf_lpm` entries = before + ROUTES; the time is the daemon's own clock at the return of its last switch write |
//! | BIRD | `bird -f -c CONF -s SOCK -P PID` | `birdc show protocols all`: the BGP channel's `Routes: N imported` = ROUTES (BIRD imports into its table synchronously) |
//! | GoBGP | `gobgpd -f CONF -t toml --api-hosts ADDR:50051` | `gobgp global rib summary -a ipv4|vpnv4`: `Destination: N` = ROUTES |
//! | FRR | `bgpd -Z -S -n -l ADDR -p PORT -P 0` (no zebra) | `show bgp … summary json`: the neighbor's `pfxRcd` = ROUTES, and the last prefix sent has a best path (`show bgp … PREFIX json`), i.e. the best-path work queue got to it |

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bgp_rib::Nlri;

use crate::stream::{Kind, CE_NEXT_HOP, EBGP_AS, LOCAL_AS, PE_NEXT_HOP, VPN_ADMIN};

/// Where a system listens and who connects.
#[derive(Clone, Debug)]
pub struct Setup {
    pub kind: Kind,
    pub routes: usize,
    /// The system's address (it listens on `addr:port`).
    pub addr: Ipv4Addr,
    pub port: u16,
    /// The bench's address (the neighbor it must accept).
    pub peer: Ipv4Addr,
    /// The last route of the stream.
    pub last: Nlri,
}

impl Setup {
    /// The AS the bench speaks as: an eBGP CE for unicast, an iBGP PE for VPN.
    pub fn peer_as(&self) -> u32 {
        match self.kind {
            Kind::Unicast => EBGP_AS,
            Kind::Vpn { .. } => LOCAL_AS,
        }
    }
}

/// What a poll saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Routes of the stream the system holds.
    pub routes: u64,
    /// Everything is in.
    pub done: bool,
    /// When the system itself says it finished (p4vrf: its last switch write).
    pub reported_at: Option<SystemTime>,
}

/// A process we started; killed by its PID when dropped.
pub struct Proc {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, dir: &Path, mut cmd: Command) -> Result<Proc, String> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc {
            child: Some(child),
            log,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// SIGTERM by PID, up to 10 s to exit, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a CLI with a time limit; its standard output.
pub fn cli(program: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
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
            "{} {args:?}: {}: {text}{}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Finds a program on PATH or where Debian puts daemons.
pub fn find(bin: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/lib/frr", "/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(bin)).find(|p| p.is_file())
}

/// The first `n` non-empty lines of a CLI answer, on one line.
fn first_lines(text: &str, n: usize) -> Option<String> {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (!lines.is_empty()).then(|| lines.join(" / "))
}

/// Waits for `check` to succeed, up to `wait`.
fn wait_for(
    what: &str,
    wait: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("timed out waiting for {what}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub trait System {
    fn name(&self) -> &'static str;
    fn version(&self) -> String;
    /// Writes the configuration into `dir`, starts, and returns once it accepts the session.
    fn start(&mut self, setup: &Setup, dir: &Path) -> Result<(), String>;
    /// The processes whose memory and CPU time count.
    fn pids(&self) -> Vec<u32>;
    /// Called once the session is up and the system idle, before the first UPDATE.
    fn baseline(&mut self, _setup: &Setup) -> Result<(), String> {
        Ok(())
    }
    fn poll(&mut self, setup: &Setup) -> Result<Progress, String>;
    /// How the system shows the last route of the stream, once all are in: evidence that
    /// it holds a usable best path, not only a count.
    fn last_route(&self, _setup: &Setup) -> Option<String> {
        None
    }
    /// Still running? (Its log tail, if not.)
    fn check_alive(&mut self) -> Result<(), String>;
    fn stop(&mut self);
    /// What exactly was measured, for the printout.
    fn measured(&self, kind: Kind) -> String;
}

fn check_proc(proc: &mut Option<Proc>, name: &str) -> Result<(), String> {
    match proc {
        Some(p) => {
            if p.alive() {
                Ok(())
            } else {
                Err(format!("{name} exited:\n{}", p.log_tail()))
            }
        }
        None => Err(format!("{name} is not running")),
    }
}

// ----- p4vrf ---------------------------------------------------------------------------------

pub struct P4vrf {
    pub bin: PathBuf,
    proc: Option<Proc>,
    socket: PathBuf,
    lpm_before: i64,
}

impl P4vrf {
    pub fn new(bin: PathBuf) -> Self {
        P4vrf {
            bin,
            proc: None,
            socket: PathBuf::new(),
            lpm_before: 0,
        }
    }

    fn config(setup: &Setup) -> String {
        let mut c = String::from("[router]\nmac = \"02:00:00:00:00:01\"\n\n");
        let (a, p, peer) = (setup.addr, setup.port, setup.peer);
        match setup.kind {
            Kind::Unicast => {
                c.push_str(&format!(
                    r#"[[vrf]]
name = "CUST"

[[interface]]
name = "e1"
port = 1
vrf = "CUST"
address = ["10.0.0.1/24"]
  [[interface.neighbor]]
  ip = "{CE_NEXT_HOP}"
  mac = "02:00:00:00:00:02"

[bgp]
asn = {LOCAL_AS}
router-id = "{a}"
listen = ["{a}:{p}"]

[[bgp.neighbor]]
address = "{peer}"
remote-as = {EBGP_AS}
vrf = "CUST"
passive = true
"#
                ));
            }
            Kind::Vpn { vrfs } => {
                c.push_str(&format!(
                    r#"[[vrf]]
name = "core"

[[interface]]
name = "core1"
port = 1
vrf = "core"
core = true
address = ["10.255.0.1/24"]
  [[interface.neighbor]]
  ip = "{PE_NEXT_HOP}"
  mac = "02:00:00:00:00:02"

"#
                ));
                for i in 0..vrfs {
                    c.push_str(&format!(
                        "[[vrf]]\nname = \"v{i:04}\"\nrd = \"{LOCAL_AS}:{i}\"\n\
                         route-target = {{ import = [\"{VPN_ADMIN}:{i}\"] }}\n\n"
                    ));
                }
                c.push_str(&format!(
                    r#"[bgp]
asn = {LOCAL_AS}
router-id = "{a}"
listen = ["{a}:{p}"]

[[bgp.neighbor]]
address = "{peer}"
remote-as = {LOCAL_AS}
passive = true
families = ["vpnv4"]
"#
                ));
            }
        }
        c
    }

    /// The built-in pipeline with room for the stream: `ingress.ipv4_vrf_lpm` holds 65,536
    /// entries in `p4/p4vrf.p4` (a leaf switch's FIB; bmv2 allocates the table up front), so
    /// the embedded switch is given a P4Info whose table is large enough for ROUTES (the next
    /// power of two above ROUTES + 65,536). Nothing else changes; the device config is the
    /// built-in one.
    fn pipeline(setup: &Setup, dir: &Path) -> Result<(PathBuf, PathBuf, i64), String> {
        use p4runtime_proto::p4::config::v1::P4Info;
        use p4runtime_proto::prost::Message;
        let mut info =
            P4Info::decode(p4vrf::pipeline::BUILTIN_P4INFO).map_err(|e| e.to_string())?;
        let size = ((setup.routes as i64 + 65_536) as u64).next_power_of_two() as i64;
        let mut found = false;
        for t in &mut info.tables {
            if t.preamble
                .as_ref()
                .is_some_and(|p| p.name == "ingress.ipv4_vrf_lpm")
            {
                t.size = t.size.max(size);
                found = true;
            }
        }
        if !found {
            return Err("no ingress.ipv4_vrf_lpm in the built-in P4Info".into());
        }
        let p4info = dir.join("p4vrf.p4info.binpb");
        let config = dir.join("p4vrf.json");
        std::fs::write(&p4info, info.encode_to_vec()).map_err(|e| e.to_string())?;
        std::fs::write(&config, p4vrf::pipeline::BUILTIN_DEVICE_CONFIG)
            .map_err(|e| e.to_string())?;
        Ok((p4info, config, size))
    }

    fn summary(&self) -> Result<serde_json::Value, String> {
        let req = p4vrf::api::Request::new(["p4", "summary"], true);
        match p4vrf::api::query(&self.socket, &req, Duration::from_secs(120)) {
            Ok(p4vrf::api::Response::Data(d)) => Ok(d),
            Ok(other) => Err(format!("{other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn lpm(d: &serde_json::Value) -> i64 {
        d["entries"]["ingress.ipv4_vrf_lpm"].as_i64().unwrap_or(0)
    }
}

impl System for P4vrf {
    fn name(&self) -> &'static str {
        "p4vrf"
    }

    fn version(&self) -> String {
        cli(&self.bin, &["--version"])
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
            + " (embedded target)"
    }

    fn start(&mut self, setup: &Setup, dir: &Path) -> Result<(), String> {
        let conf = dir.join("p4vrf.toml");
        std::fs::write(&conf, Self::config(setup)).map_err(|e| e.to_string())?;
        self.socket = dir.join("api.sock");
        let pid_file = dir.join("p4vrf.pid");
        let (p4info, device_config, _) = Self::pipeline(setup, dir)?;
        let mut cmd = Command::new(&self.bin);
        cmd.arg("run")
            .arg(&conf)
            .arg("--p4info")
            .arg(&p4info)
            .arg("--device-config")
            .arg(&device_config)
            .arg("--api-socket")
            .arg(&self.socket)
            .arg("--pid-file")
            .arg(&pid_file)
            .env("NO_COLOR", "1");
        if std::env::var_os("P4VRF_LOG").is_none() {
            cmd.env("P4VRF_LOG", "info");
        }
        let mut proc = Proc::spawn("p4vrf", dir, cmd)?;
        let pid = proc.pid().unwrap_or(0).to_string();
        wait_for(
            "p4vrf to program the switch",
            Duration::from_secs(120),
            || {
                if !proc.alive() {
                    return Err(format!("p4vrf exited:\n{}", proc.log_tail()));
                }
                match std::fs::read_to_string(&pid_file) {
                    Ok(s) if s.trim() == pid => Ok(()),
                    _ => Err("no pid file yet".into()),
                }
            },
        )?;
        self.proc = Some(proc);
        wait_for("p4vrf's API", Duration::from_secs(30), || {
            self.summary().map(|_| ())
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.proc.iter().filter_map(Proc::pid).collect()
    }

    fn baseline(&mut self, _setup: &Setup) -> Result<(), String> {
        self.lpm_before = Self::lpm(&self.summary()?);
        Ok(())
    }

    fn poll(&mut self, setup: &Setup) -> Result<Progress, String> {
        let d = self.summary()?;
        let routes = (Self::lpm(&d) - self.lpm_before).max(0) as u64;
        let done = routes >= setup.routes as u64;
        let reported_at = d["last_write"]["unix_ns"]
            .as_u64()
            .map(|ns| UNIX_EPOCH + Duration::from_nanos(ns));
        Ok(Progress {
            routes,
            done,
            reported_at,
        })
    }

    fn check_alive(&mut self) -> Result<(), String> {
        check_proc(&mut self.proc, "p4vrf")
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    fn measured(&self, kind: Kind) -> String {
        match kind {
            Kind::Unicast => "RIB (Adj-RIB-In, import policy, best path in VRF CUST) → FIB → P4 \
                              entries written to the embedded switch (its ipv4_vrf_lpm enlarged \
                              to hold ROUTES); time = the daemon's clock when its last switch \
                              write returned"
                .into(),
            Kind::Vpn { vrfs } => format!(
                "VPN table → each route imported by its RT into its VRF (of {vrfs}) → FIB → P4 \
                 entries (label push) written to the embedded switch (its ipv4_vrf_lpm \
                 enlarged to hold ROUTES); time = the daemon's clock when its last switch write \
                 returned"
            ),
        }
    }
}

// ----- BIRD ----------------------------------------------------------------------------------

pub struct Bird {
    bird: PathBuf,
    birdc: PathBuf,
    proc: Option<Proc>,
    socket: PathBuf,
}

impl Bird {
    pub fn find() -> Option<Self> {
        Some(Bird {
            bird: find("bird")?,
            birdc: find("birdc")?,
            proc: None,
            socket: PathBuf::new(),
        })
    }

    fn config(setup: &Setup, dir: &Path) -> String {
        let (a, p, peer) = (setup.addr, setup.port, setup.peer);
        let log = dir.join("bird.events");
        let mut c = format!(
            "router id {a};\nlog \"{}\" {{ info, warning, error, fatal }};\nprotocol device {{ }}\n",
            log.display()
        );
        match setup.kind {
            Kind::Unicast => c.push_str(&format!(
                "protocol static nexthops {{ ipv4; route 10.0.0.0/24 via \"lo\"; }}\n\
                 protocol bgp peer {{\n  local {a} port {p} as {LOCAL_AS};\n  \
                 neighbor {peer} as {EBGP_AS};\n  strict bind yes;\n  passive yes;\n  \
                 multihop;\n  ipv4 {{ import all; export none; }};\n}}\n"
            )),
            Kind::Vpn { .. } => c.push_str(&format!(
                "vpn4 table vpntab;\n\
                 protocol static nexthops {{ ipv4; route 10.255.0.0/24 via \"lo\"; }}\n\
                 protocol bgp peer {{\n  local {a} port {p} as {LOCAL_AS};\n  \
                 neighbor {peer} as {LOCAL_AS};\n  strict bind yes;\n  passive yes;\n  \
                 vpn4 mpls {{ table vpntab; igp table master4; import all; export none; }};\n}}\n"
            )),
        }
        c
    }

    fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let sock = self.socket.to_string_lossy().into_owned();
        let mut all = vec!["-s", sock.as_str()];
        all.extend_from_slice(args);
        cli(&self.birdc, &all)
    }
}

/// `Routes:         1000 imported, 0 exported, 1000 preferred` → 1000.
fn bird_imported(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Routes:"))
        .filter_map(|rest| rest.split(" imported").next()?.trim().parse::<u64>().ok())
        .reduce(|a, b| a + b)
}

impl System for Bird {
    fn name(&self) -> &'static str {
        "BIRD"
    }

    fn version(&self) -> String {
        Command::new(&self.bird)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stderr).trim().to_string()
                    + String::from_utf8_lossy(&o.stdout).trim()
            })
            .unwrap_or_default()
    }

    fn start(&mut self, setup: &Setup, dir: &Path) -> Result<(), String> {
        let conf = dir.join("bird.conf");
        std::fs::write(&conf, Self::config(setup, dir)).map_err(|e| e.to_string())?;
        self.socket = dir.join("bird.ctl");
        let mut cmd = Command::new(&self.bird);
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&self.socket)
            .arg("-P")
            .arg(dir.join("bird.pid"));
        self.proc = Some(Proc::spawn("bird", dir, cmd)?);
        let proc = &mut self.proc;
        let (birdc, sock) = (self.birdc.clone(), self.socket.clone());
        wait_for("BIRD's control socket", Duration::from_secs(30), || {
            check_proc(proc, "bird")?;
            cli(&birdc, &["-s", &sock.to_string_lossy(), "show", "status"]).map(|_| ())
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.proc.iter().filter_map(Proc::pid).collect()
    }

    fn poll(&mut self, setup: &Setup) -> Result<Progress, String> {
        let out = self.birdc(&["show", "protocols", "all", "peer"])?;
        let routes = bird_imported(&out).ok_or_else(|| format!("no Routes line in:\n{out}"))?;
        Ok(Progress {
            routes,
            done: routes >= setup.routes as u64,
            reported_at: None,
        })
    }

    fn check_alive(&mut self) -> Result<(), String> {
        check_proc(&mut self.proc, "bird")
    }

    fn last_route(&self, setup: &Setup) -> Option<String> {
        let net = match setup.last {
            Nlri::Unicast(p) => p.to_string(),
            Nlri::Vpn { rd, prefix } => format!("{rd} {prefix}"),
        };
        let table = match setup.kind {
            Kind::Unicast => "master4",
            Kind::Vpn { .. } => "vpntab",
        };
        let out = self.birdc(&["show", "route", "table", table, &net]).ok()?;
        let out: Vec<&str> = out.lines().filter(|l| !l.starts_with("BIRD ")).collect();
        first_lines(&out.join("\n"), 3)
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    fn measured(&self, kind: Kind) -> String {
        match kind {
            Kind::Unicast => "routes imported into its master4 table (best path chosen on \
                              import; next hop resolved recursively through a static \
                              10.0.0.0/24); no kernel protocol, so no FIB"
                .into(),
            Kind::Vpn { .. } => "routes imported into a vpn4 table only: BIRD 2.0.12 has no \
                                 l3vpn protocol, so nothing is imported into VRFs"
                .into(),
        }
    }
}

// ----- GoBGP ---------------------------------------------------------------------------------

pub struct GoBgp {
    gobgpd: PathBuf,
    gobgp: PathBuf,
    proc: Option<Proc>,
    api: String,
    /// Configure the VRFs (`[[vrfs]]`) in the VPN case (GOBGP_VRFS=1). Off by default:
    /// GoBGP 3.10 with 1,000 VRFs configured takes about a hundred routes a second, so a
    /// large run would not end in hours.
    pub vrfs: bool,
}

const GOBGP_API_PORT: u16 = 50051;

impl GoBgp {
    pub fn find() -> Option<Self> {
        Some(GoBgp {
            gobgpd: find("gobgpd")?,
            gobgp: find("gobgp")?,
            proc: None,
            api: String::new(),
            vrfs: std::env::var("GOBGP_VRFS").is_ok_and(|v| v == "1"),
        })
    }

    fn config(&self, setup: &Setup) -> String {
        let (a, p, peer) = (setup.addr, setup.port, setup.peer);
        let (peer_as, family) = match setup.kind {
            Kind::Unicast => (EBGP_AS, "ipv4-unicast"),
            Kind::Vpn { .. } => (LOCAL_AS, "l3vpn-ipv4-unicast"),
        };
        let mut c = format!(
            r#"[global.config]
  as = {LOCAL_AS}
  router-id = "{a}"
  port = {p}
  local-address-list = ["{a}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{peer}"
    peer-as = {peer_as}
  [neighbors.transport.config]
    local-address = "{a}"
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "{family}"
"#
        );
        if let (Kind::Vpn { vrfs }, true) = (setup.kind, self.vrfs) {
            for i in 0..vrfs {
                c.push_str(&format!(
                    "[[vrfs]]\n  [vrfs.config]\n    name = \"v{i:04}\"\n    id = {}\n    \
                     rd = \"{LOCAL_AS}:{i}\"\n    import-rt-list = [\"{VPN_ADMIN}:{i}\"]\n    \
                     export-rt-list = [\"{LOCAL_AS}:{i}\"]\n",
                    i + 1
                ));
            }
        }
        c
    }

    fn gobgp(&self, args: &[&str]) -> Result<String, String> {
        let port = GOBGP_API_PORT.to_string();
        let mut all = vec!["-u", self.api.as_str(), "-p", port.as_str()];
        all.extend_from_slice(args);
        cli(&self.gobgp, &all)
    }
}

/// `Destination: 1000, Path: 1000` → 1000.
fn gobgp_destinations(text: &str) -> Option<u64> {
    let rest = text.split("Destination:").nth(1)?;
    rest.split(',').next()?.trim().parse().ok()
}

impl System for GoBgp {
    fn name(&self) -> &'static str {
        "GoBGP"
    }

    fn version(&self) -> String {
        cli(&self.gobgpd, &["--version"])
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    fn start(&mut self, setup: &Setup, dir: &Path) -> Result<(), String> {
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, self.config(setup)).map_err(|e| e.to_string())?;
        self.api = setup.addr.to_string();
        let mut cmd = Command::new(&self.gobgpd);
        cmd.arg("-f")
            .arg(&conf)
            .args(["-t", "toml", "-p", "--pprof-disable", "--api-hosts"])
            .arg(format!("{}:{GOBGP_API_PORT}", setup.addr));
        self.proc = Some(Proc::spawn("gobgpd", dir, cmd)?);
        let family = match setup.kind {
            Kind::Unicast => "ipv4",
            Kind::Vpn { .. } => "vpnv4",
        };
        wait_for("gobgpd's API", Duration::from_secs(30), || {
            check_proc(&mut self.proc, "gobgpd")?;
            self.gobgp(&["global", "rib", "summary", "-a", family])
                .map(|_| ())
        })?;
        // The listener comes up with the configuration: give it the neighbor first.
        wait_for("gobgpd's neighbor", Duration::from_secs(30), || {
            self.gobgp(&["neighbor"]).and_then(|o| {
                if o.contains(&setup.peer.to_string()) {
                    Ok(())
                } else {
                    Err(o)
                }
            })
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.proc.iter().filter_map(Proc::pid).collect()
    }

    fn poll(&mut self, setup: &Setup) -> Result<Progress, String> {
        let family = match setup.kind {
            Kind::Unicast => "ipv4",
            Kind::Vpn { .. } => "vpnv4",
        };
        let out = self.gobgp(&["global", "rib", "summary", "-a", family])?;
        let routes =
            gobgp_destinations(&out).ok_or_else(|| format!("no Destination in:\n{out}"))?;
        Ok(Progress {
            routes,
            done: routes >= setup.routes as u64,
            reported_at: None,
        })
    }

    fn check_alive(&mut self) -> Result<(), String> {
        check_proc(&mut self.proc, "gobgpd")
    }

    fn last_route(&self, setup: &Setup) -> Option<String> {
        // GoBGP 3.10 looks routes up by prefix in unicast families only.
        let Nlri::Unicast(p) = setup.last else {
            return None;
        };
        let out = self
            .gobgp(&["global", "rib", "-a", "ipv4", &p.to_string()])
            .ok()?;
        first_lines(&out, 2)
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    fn measured(&self, kind: Kind) -> String {
        match kind {
            Kind::Unicast => "destinations in its global RIB (best path per destination); no \
                              zebra/FIB"
                .into(),
            Kind::Vpn { vrfs } if self.vrfs => format!(
                "destinations in its global vpnv4 RIB, with the {vrfs} VRFs configured \
                 ([[vrfs]] with their import RTs; GOBGP_VRFS=1)"
            ),
            Kind::Vpn { .. } => "destinations in its global vpnv4 RIB only: no VRFs configured \
                                 (GOBGP_VRFS=1 configures them; GoBGP 3.10 then takes about a \
                                 hundred routes a second)"
                .into(),
        }
    }
}

// ----- FRR -----------------------------------------------------------------------------------

pub struct Frr {
    bgpd: PathBuf,
    vtysh: PathBuf,
    proc: Option<Proc>,
    dir: PathBuf,
}

impl Frr {
    pub fn find() -> Option<Self> {
        Some(Frr {
            bgpd: find("bgpd")?,
            vtysh: find("vtysh")?,
            proc: None,
            dir: PathBuf::new(),
        })
    }

    fn config(setup: &Setup) -> String {
        let (a, peer) = (setup.addr, setup.peer);
        match setup.kind {
            Kind::Unicast => format!(
                "hostname bench\n!\nrouter bgp {LOCAL_AS}\n bgp router-id {a}\n \
                 no bgp ebgp-requires-policy\n no bgp network import-check\n \
                 neighbor {peer} remote-as {EBGP_AS}\n neighbor {peer} passive\n!\n"
            ),
            Kind::Vpn { .. } => format!(
                "hostname bench\n!\nrouter bgp {LOCAL_AS}\n bgp router-id {a}\n \
                 no bgp default ipv4-unicast\n no bgp network import-check\n \
                 neighbor {peer} remote-as {LOCAL_AS}\n neighbor {peer} passive\n \
                 address-family ipv4 vpn\n  neighbor {peer} activate\n \
                 exit-address-family\n!\n"
            ),
        }
    }

    fn vtysh(&self, command: &str) -> Result<String, String> {
        let dir = self.dir.to_string_lossy().into_owned();
        cli(
            &self.vtysh,
            &["--vty_socket", &dir, "-d", "bgpd", "-c", command],
        )
    }
}

/// The first `"pfxRcd": N` in FRR's summary JSON.
fn frr_pfx_rcd(json: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    fn find(v: &serde_json::Value) -> Option<u64> {
        match v {
            serde_json::Value::Object(m) => m
                .get("pfxRcd")
                .and_then(|x| x.as_u64())
                .or_else(|| m.values().find_map(find)),
            _ => None,
        }
    }
    find(&v)
}

impl System for Frr {
    fn name(&self) -> &'static str {
        "FRR"
    }

    fn version(&self) -> String {
        cli(&self.bgpd, &["--version"])
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
            .unwrap_or_default()
            + " (bgpd -Z, no zebra)"
    }

    fn start(&mut self, setup: &Setup, dir: &Path) -> Result<(), String> {
        let conf = dir.join("bgpd.conf");
        std::fs::write(&conf, Self::config(setup)).map_err(|e| e.to_string())?;
        self.dir = dir.to_path_buf();
        let mut cmd = Command::new(&self.bgpd);
        cmd.args(["-Z", "-S", "-n", "-l"])
            .arg(setup.addr.to_string())
            .args(["-p", &setup.port.to_string(), "-P", "0", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("bgpd.pid"))
            .arg("--vty_socket")
            .arg(dir);
        self.proc = Some(Proc::spawn("bgpd", dir, cmd)?);
        wait_for("bgpd's vty", Duration::from_secs(30), || {
            check_proc(&mut self.proc, "bgpd")?;
            self.vtysh("show bgp summary").map(|_| ())
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.proc.iter().filter_map(Proc::pid).collect()
    }

    fn poll(&mut self, setup: &Setup) -> Result<Progress, String> {
        let (summary, last) = match (setup.kind, setup.last) {
            (Kind::Unicast, n) => (
                "show bgp ipv4 unicast summary json".to_string(),
                format!("show bgp ipv4 unicast {} json", n.prefix()),
            ),
            (Kind::Vpn { .. }, n) => (
                "show bgp ipv4 vpn summary json".to_string(),
                format!(
                    "show bgp ipv4 vpn rd {} {} json",
                    n.rd().map(|r| r.to_string()).unwrap_or_default(),
                    n.prefix()
                ),
            ),
        };
        let out = self.vtysh(&summary)?;
        let routes = frr_pfx_rcd(&out).unwrap_or(0);
        let mut done = false;
        if routes >= setup.routes as u64 {
            // Received; has the best-path queue got to the last prefix?
            let out = self.vtysh(&last)?;
            done = out.contains("\"bestpath\"");
        }
        Ok(Progress {
            routes,
            done,
            reported_at: None,
        })
    }

    fn check_alive(&mut self) -> Result<(), String> {
        check_proc(&mut self.proc, "bgpd")
    }

    fn last_route(&self, setup: &Setup) -> Option<String> {
        let cmd = match setup.last {
            Nlri::Unicast(p) => format!("show bgp ipv4 unicast {p}"),
            Nlri::Vpn { rd, prefix } => format!("show bgp ipv4 vpn rd {rd} {prefix}"),
        };
        let out = self.vtysh(&cmd).ok()?;
        let best: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("best") || l.contains("routing table entry"))
            .collect();
        Some(
            best.join(" / ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    fn measured(&self, kind: Kind) -> String {
        match kind {
            Kind::Unicast => "pfxRcd of the neighbor = ROUTES and the last prefix sent has a \
                              best path in its BGP RIB; bgpd alone (-Z: no zebra, so no RIB/FIB \
                              install)"
                .into(),
            Kind::Vpn { .. } => "pfxRcd = ROUTES and the last prefix has a best path in its \
                                 VPNv4 RIB; without zebra there are no kernel VRFs, so no \
                                 import into VRFs"
                .into(),
        }
    }
}
