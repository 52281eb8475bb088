//! End-to-end: the `p4vrf run` daemon (embedded switch) with real GoBGP neighbors, one test
//! per behaviour the seeds describe (000: customer statics tagged 123 carry NO_EXPORT over
//! iBGP; 002: NOPEER and bilateral peers; 003: GateD export statements), plus withdrawals,
//! session loss, graceful restart (helper), RFC 7999 blackholes and unknown optional
//! transitive attributes passed on.
//!
//! Each test has its own temp dir and loopback addresses 127.N.7.(16·test + host), N from the
//! process id (as `controller/bgp/tests/interop_support` does), so tests of this file run in
//! parallel and never collide with another run. Every daemon is killed by its PID when the
//! test ends, also when it panics; on failure the logs are printed. Every wait is bounded.
//! Without `gobgpd`/`gobgp` each test prints one `SKIP:` line and passes.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::*;
/// BGP port of every speaker (each on its own address).
const BGP_PORT: u16 = 1179;
/// gRPC API port of each gobgpd (on its own address).
const API_PORT: u16 = 50051;
/// This file's third address byte (the `bgp` crate's interop tests use 1 to 4).
const FILE: u8 = 7;

const NO_EXPORT: u32 = 0xFFFF_FF01;
const NOPEER: u32 = 0xFFFF_FF04;
const BLACKHOLE: u32 = 0xFFFF_029A;
const fn community(asn: u32, value: u32) -> u32 {
    (asn << 16) | value
}

/// 127.N.7.(16·test + host).
fn ip(test: u8, host: u8) -> Ipv4Addr {
    let n = 16 + (std::process::id() % 224) as u8;
    Ipv4Addr::new(127, n, FILE, test * 16 + host)
}

/// gobgpd and gobgp, or `None` after printing the one SKIP line.
fn gobgp_tools(what: &str) -> Option<(PathBuf, PathBuf)> {
    match (find("gobgpd"), find("gobgp")) {
        (Some(d), Some(c)) => Some((d, c)),
        _ => {
            println!("SKIP: gobgpd not installed: {what}");
            None
        }
    }
}

// ----- GoBGP -------------------------------------------------------------------------------

/// A route as a GoBGP neighbor of p4vrf holds it (only paths p4vrf sent).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    next_hop: String,
    med: Option<u32>,
    communities: Vec<u32>,
}

/// What `gobgp neighbor -j` says about the session with p4vrf.
#[derive(Clone, Debug, PartialEq)]
struct SessionView {
    established: bool,
    uptime: Option<f64>,
    opens_received: f64,
}

struct GoBgp {
    proc: Proc,
    gobgp: PathBuf,
    addr: Ipv4Addr,
    /// p4vrf's address: paths from it are what p4vrf advertised.
    p4vrf: Ipv4Addr,
}

/// How a test's gobgpd differs from a plain one.
#[derive(Clone, Copy, Debug, Default)]
struct Mode {
    /// Graceful restart for IPv4 unicast (RFC 4724) with this restart time in seconds.
    graceful_restart: Option<u16>,
    /// Started with `-r`: back from a restart, the R and F bits set in its OPEN.
    restarting: bool,
    /// The session with p4vrf starts administratively down (`gobgp neighbor ADDR enable`).
    admin_down: bool,
    /// gobgpd connects to p4vrf (at once when enabled) instead of waiting for it.
    active: bool,
}

impl GoBgp {
    /// A gobgpd at `addr` in `asn` with one neighbor, p4vrf (AS 65001) at `p4vrf`, passive
    /// unless `mode` says otherwise.
    fn start(
        lab: &Lab,
        name: &str,
        tools: &(PathBuf, PathBuf),
        addr: Ipv4Addr,
        asn: u32,
        p4vrf: Ipv4Addr,
        mode: Mode,
    ) -> GoBgp {
        let admin_down = if mode.admin_down {
            "    admin-down = true\n"
        } else {
            ""
        };
        let (gr, mp_gr) = match mode.graceful_restart {
            Some(t) => (
                format!("  [neighbors.graceful-restart.config]\n    enabled = true\n    restart-time = {t}\n"),
                "    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n".to_string(),
            ),
            None => (String::new(), String::new()),
        };
        let passive = !mode.active;
        let toml = format!(
            r#"[global.config]
  as = {asn}
  router-id = "{addr}"
  port = {BGP_PORT}
  local-address-list = ["{addr}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{p4vrf}"
    peer-as = 65001
{admin_down}  [neighbors.transport.config]
    local-address = "{addr}"
    passive-mode = {passive}
    remote-port = {BGP_PORT}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
{gr}  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
{mp_gr}"#
        );
        let file = lab.dir.join(format!("{name}.toml"));
        std::fs::write(&file, toml).expect("write gobgpd toml");
        let mut cmd = Command::new(&tools.0);
        cmd.arg("-f")
            .arg(&file)
            .args(["-t", "toml", "-p", "--pprof-disable", "--api-hosts"])
            .arg(format!("{addr}:{API_PORT}"));
        if mode.restarting {
            cmd.arg("-r");
        }
        let mut g = GoBgp {
            proc: Proc::spawn(name, &lab.dir, cmd),
            gobgp: tools.1.clone(),
            addr,
            p4vrf,
        };
        poll(&format!("{name}'s API"), || {
            if !g.proc.alive() {
                panic!("{name} exited:\n{}", g.proc.log());
            }
            g.cli(&["global"]).map(|_| ())
        });
        g
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let host = self.addr.to_string();
        let port = API_PORT.to_string();
        let mut all = vec!["-u", &host, "-p", &port];
        all.extend_from_slice(args);
        run_cli(&self.gobgp, &all)
    }

    /// `gobgp global rib add PREFIX nexthop NH [community C,…]`.
    fn add(&self, prefix: &str, next_hop: &str, communities: &[&str]) {
        let joined = communities.join(",");
        let mut args = vec![
            "global", "rib", "-a", "ipv4", "add", prefix, "nexthop", next_hop,
        ];
        if !communities.is_empty() {
            args.extend(["community", &joined]);
        }
        self.cli(&args).expect("gobgp global rib add");
    }

    fn del(&self, prefix: &str) {
        self.cli(&["global", "rib", "-a", "ipv4", "del", prefix])
            .expect("gobgp global rib del");
    }

    /// The routes p4vrf advertised to this gobgpd, by prefix.
    fn received(&self) -> Result<BTreeMap<String, Seen>, String> {
        let text = self.cli(&["global", "rib", "-a", "ipv4", "-j"])?;
        let json = Json::parse(text.trim()).map_err(|e| format!("{e} in {text}"))?;
        let Json::Obj(prefixes) = json else {
            return Err(format!("not an object: {text}"));
        };
        let from = self.p4vrf.to_string();
        let mut out = BTreeMap::new();
        for (prefix, paths) in prefixes {
            for path in paths.arr() {
                if path.get("neighbor-ip").and_then(Json::str) != Some(&from) {
                    continue;
                }
                let mut seen = Seen {
                    next_hop: String::new(),
                    med: None,
                    communities: Vec::new(),
                };
                for a in path.get("attrs").map(Json::arr).unwrap_or_default() {
                    match a.get("type").and_then(Json::num).map(|t| t as u32) {
                        Some(3) => {
                            seen.next_hop = a
                                .get("nexthop")
                                .and_then(Json::str)
                                .unwrap_or_default()
                                .to_string();
                        }
                        Some(4) => {
                            seen.med = a
                                .get("metric")
                                .or_else(|| a.get("value"))
                                .and_then(Json::num)
                                .map(|m| m as u32);
                        }
                        Some(8) => {
                            seen.communities = a
                                .get("communities")
                                .map(Json::arr)
                                .unwrap_or_default()
                                .iter()
                                .filter_map(Json::num)
                                .map(|c| c as u32)
                                .collect();
                            seen.communities.sort_unstable();
                        }
                        _ => {}
                    }
                }
                out.insert(prefix.clone(), seen);
            }
        }
        Ok(out)
    }

    fn session(&self) -> Result<SessionView, String> {
        let text = self.cli(&["neighbor", "-j"])?;
        let json = Json::parse(text.trim()).map_err(|e| format!("{e} in {text}"))?;
        let n = json
            .arr()
            .first()
            .ok_or_else(|| format!("no neighbor in {text}"))?;
        Ok(SessionView {
            // gobgp's SessionState: 6 = ESTABLISHED.
            established: n.path(&["state", "session_state"]).and_then(Json::num) == Some(6.0),
            uptime: n
                .path(&["timers", "state", "uptime", "seconds"])
                .and_then(Json::num),
            opens_received: n
                .path(&["state", "messages", "received", "open"])
                .and_then(Json::num)
                .unwrap_or(0.0),
        })
    }

    /// Waits until the received routes satisfy `check`; they are returned.
    fn wait_for(
        &self,
        what: &str,
        check: impl Fn(&BTreeMap<String, Seen>) -> bool,
    ) -> BTreeMap<String, Seen> {
        poll(&format!("{} {what}", self.proc.name), || {
            let r = self.received()?;
            if check(&r) {
                Ok(r)
            } else {
                Err(format!("has {r:?}"))
            }
        })
    }
}

// ----- a lab: p4vrf and its neighbors ------------------------------------------------------

struct Lab {
    dir: PathBuf,
    p4vrf: Option<P4vrf>,
    /// Every gobgpd of the test, for the logs on failure (they are owned by the test).
    logs: Vec<PathBuf>,
}

impl Lab {
    fn new(test: &str) -> Lab {
        let dir =
            std::env::temp_dir().join(format!("p4vrf-seed-peers-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Lab {
            dir,
            p4vrf: None,
            logs: Vec::new(),
        }
    }

    fn gobgp(
        &mut self,
        name: &str,
        tools: &(PathBuf, PathBuf),
        addr: Ipv4Addr,
        asn: u32,
        p4vrf: Ipv4Addr,
    ) -> GoBgp {
        self.gobgp_in(name, tools, addr, asn, p4vrf, Mode::default())
    }

    /// [`Lab::gobgp`] of a gobgpd in another [`Mode`] (graceful restart, restarting, …).
    fn gobgp_in(
        &mut self,
        name: &str,
        tools: &(PathBuf, PathBuf),
        addr: Ipv4Addr,
        asn: u32,
        p4vrf: Ipv4Addr,
        mode: Mode,
    ) -> GoBgp {
        let g = GoBgp::start(self, name, tools, addr, asn, p4vrf, mode);
        self.logs.push(g.proc.log.clone());
        g
    }

    /// Writes the configuration and starts `p4vrf run` on it; returns once the switch is
    /// programmed.
    fn start_p4vrf(&mut self, config: &str) {
        self.p4vrf = Some(P4vrf::start(&self.dir, config));
    }

    fn daemon(&self) -> &P4vrf {
        self.p4vrf.as_ref().expect("p4vrf started")
    }

    fn log(&self) -> String {
        self.p4vrf.as_ref().map(P4vrf::log).unwrap_or_default()
    }

    fn show(&self, words: &str) -> String {
        self.daemon().show(words)
    }

    fn reload(&self, config: &str) {
        self.daemon().reload(config);
    }

    fn wait_established(&self, addr: Ipv4Addr) {
        self.daemon().wait_established(addr.into());
    }

    fn programmed(&self) -> Vec<u32> {
        self.daemon().programmed()
    }

    fn wait_programmed_after(&self, before: usize, what: &str) -> u32 {
        self.daemon().wait_programmed_after(before, what)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "===== p4vrf log ({}) =====\n{}",
                self.dir.display(),
                self.log()
            );
            for l in &self.logs {
                let text = strip_ansi(&std::fs::read_to_string(l).unwrap_or_default());
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("===== {} (last 40 lines) =====", l.display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        } else {
            self.p4vrf = None;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The part every test shares: the router, VRF CUST (with `vrf_extra` lines, e.g.
/// `redistribute`, and its statics), interface e1 10.0.0.1/24 with neighbor 10.0.0.2 (the next
/// hop CE routes use), and `[bgp]` AS 65001 listening on `me`.
fn base_config(me: Ipv4Addr, vrf_extra: &str, interfaces_extra: &str, rest: &str) -> String {
    format!(
        r#"[router]
mac = "02:00:00:00:00:01"

[[vrf]]
name = "CUST"
rd = "65001:1"
{vrf_extra}

[[interface]]
name = "e1"
port = 1
vrf = "CUST"
address = ["10.0.0.1/24"]
  [[interface.neighbor]]
  ip = "10.0.0.2"
  mac = "02:00:00:00:00:02"
{interfaces_extra}

[bgp]
asn = 65001
router-id = "1.1.1.1"
listen = ["{me}:{BGP_PORT}"]

{rest}
"#
    )
}

/// A CE neighbor of VRF CUST at `addr`, short timers, advertising next hop 10.0.0.1; `extra`
/// lines add `remote-as`, `template`, policy.
fn neighbor(me: Ipv4Addr, addr: Ipv4Addr, extra: &str) -> String {
    format!(
        r#"[[bgp.neighbor]]
address = "{addr}"
vrf = "CUST"
port = {BGP_PORT}
local-address = "{me}"
connect-retry = 1
hold-time = 9
next-hop = "10.0.0.1"
{extra}
"#
    )
}

fn keys(r: &BTreeMap<String, Seen>) -> Vec<&str> {
    r.keys().map(String::as_str).collect()
}

// ----- the tests ---------------------------------------------------------------------------

/// Seed 000: `redistribute static route-map StaticToBGP` (match tag 123, set community
/// no-export additive) puts 10.1.2.0/24 in BGP with NO_EXPORT; the iBGP neighbor gets it with
/// the community, the eBGP neighbor never. And the seed's warning: without send-community on
/// the iBGP session the community is lost (the next eBGP border would leak the route) — shown
/// by a SIGHUP to `send-community = []`, applied without resetting the session.
#[test]
fn seed_000_static_tagged_123_reaches_ibgp_with_no_export_and_never_the_ebgp_peer() {
    let Some(tools) = gobgp_tools("seed 000 end-to-end (NO_EXPORT over iBGP)") else {
        return;
    };
    let (me, ibgp_addr, ebgp_addr) = (ip(1, 1), ip(1, 2), ip(1, 3));
    let mut lab = Lab::new("seed000");
    let ibgp = lab.gobgp("gobgp-ibgp", &tools, ibgp_addr, 65001, me);
    let ebgp = lab.gobgp("gobgp-ebgp", &tools, ebgp_addr, 65002, me);

    let config = |send_community: &str| {
        base_config(
            me,
            r#"redistribute = [{ protocol = "static", route-map = "StaticToBGP" }]
  [[vrf.static]]
  prefix = "10.1.2.0/24"
  blackhole = true
  tag = 123
  [[vrf.static]]
  prefix = "10.9.0.0/24"
  blackhole = true"#,
            "",
            &format!(
                r#"[[route-map]]
name = "StaticToBGP"
[[route-map.entry]]
seq = 10
action = "permit"
match.tag = [123]
set.community = ["no-export"]
set.community-additive = true

[[bgp.template]]
name = "IBGP"
remote-as = 65001
send-community = {send_community}

{}
{}"#,
                neighbor(me, ibgp_addr, "template = \"IBGP\""),
                neighbor(
                    me,
                    ebgp_addr,
                    "remote-as = 65002\nsend-community = [\"all\"]"
                ),
            ),
        )
    };
    lab.start_p4vrf(&config(r#"["all"]"#));
    lab.wait_established(ibgp_addr);
    lab.wait_established(ebgp_addr);

    // A route of the eBGP neighbor with a community of its own, and one of the iBGP neighbor
    // (iBGP-learned routes do go to eBGP neighbors: it tells us the eBGP side is up to date).
    ebgp.add("192.0.2.0/24", "10.0.0.2", &["65002:7"]);
    ibgp.add("198.51.100.0/24", "10.0.0.2", &[]);

    let at_ibgp = ibgp.wait_for("gets 10.1.2.0/24 and 192.0.2.0/24", |r| {
        r.contains_key("10.1.2.0/24") && r.contains_key("192.0.2.0/24")
    });
    assert_eq!(
        keys(&at_ibgp),
        ["10.1.2.0/24", "192.0.2.0/24"],
        "{at_ibgp:?}"
    );
    assert_eq!(at_ibgp["10.1.2.0/24"].communities, [NO_EXPORT]);
    assert_eq!(at_ibgp["10.1.2.0/24"].next_hop, "10.0.0.1");
    assert_eq!(
        at_ibgp["192.0.2.0/24"].communities,
        [community(65002, 7)],
        "an eBGP route keeps its communities over iBGP"
    );

    let at_ebgp = ebgp.wait_for("gets 198.51.100.0/24", |r| {
        r.contains_key("198.51.100.0/24")
    });
    assert_eq!(
        keys(&at_ebgp),
        ["198.51.100.0/24"],
        "NO_EXPORT keeps 10.1.2.0/24 from the eBGP neighbor; the untagged 10.9.0.0/24 is \
         not redistributed at all: {at_ebgp:?}"
    );

    // Seed 000's warning: the iBGP session stops sending communities.
    let before = poll("the iBGP session in gobgp's view", || {
        ibgp.session().and_then(|s| {
            if s.established {
                Ok(s)
            } else {
                Err(format!("{s:?}"))
            }
        })
    });
    lab.reload(&config("[]"));
    let at_ibgp = ibgp.wait_for("gets 10.1.2.0/24 without communities", |r| {
        r.get("10.1.2.0/24")
            .is_some_and(|s| s.communities.is_empty())
            && r.get("192.0.2.0/24")
                .is_some_and(|s| s.communities.is_empty())
    });
    assert_eq!(
        keys(&at_ibgp),
        ["10.1.2.0/24", "192.0.2.0/24"],
        "{at_ibgp:?}"
    );
    let after = ibgp.session().expect("gobgp neighbor");
    assert!(after.established, "{after:?}");
    assert_eq!(
        (after.uptime, after.opens_received),
        (before.uptime, before.opens_received),
        "SIGHUP must not reset the session (same uptime, no new OPEN)"
    );
    let log = lab.log();
    assert!(
        !log.contains("resetting the session") && !log.contains("session down"),
        "{log}"
    );
    // The eBGP side is unchanged: still not the NO_EXPORT route.
    assert_eq!(keys(&ebgp.received().unwrap()), ["198.51.100.0/24"]);
}

/// Seed 002 (RFC 3765): NOPEER set on redistribution reaches the customer and the provider
/// but not the bilateral peer; a NOPEER route received from the provider reaches the
/// customer, not the peer — while the provider's route without NOPEER does reach the peer.
#[test]
fn seed_002_nopeer_route_reaches_customer_and_provider_but_not_peer() {
    let Some(tools) = gobgp_tools("seed 002 end-to-end (NOPEER)") else {
        return;
    };
    let (me, cust_addr, prov_addr, peer_addr) = (ip(2, 1), ip(2, 2), ip(2, 3), ip(2, 4));
    let mut lab = Lab::new("seed002");
    let customer = lab.gobgp("gobgp-customer", &tools, cust_addr, 65021, me);
    let provider = lab.gobgp("gobgp-provider", &tools, prov_addr, 65022, me);
    let peer = lab.gobgp("gobgp-peer", &tools, peer_addr, 65023, me);
    let ebgp = |addr, asn: u32, rel: &str| {
        neighbor(
            me,
            addr,
            &format!("remote-as = {asn}\nrelationship = \"{rel}\"\nsend-community = [\"all\"]"),
        )
    };
    lab.start_p4vrf(&base_config(
        me,
        r#"redistribute = [{ protocol = "static", route-map = "NoPeer" }]
  [[vrf.static]]
  prefix = "10.2.0.0/24"
  blackhole = true"#,
        "",
        &format!(
            r#"[[route-map]]
name = "NoPeer"
[[route-map.entry]]
seq = 10
action = "permit"
set.community = ["nopeer"]
set.community-additive = true

{}
{}
{}"#,
            ebgp(cust_addr, 65021, "customer"),
            ebgp(prov_addr, 65022, "provider"),
            ebgp(peer_addr, 65023, "peer"),
        ),
    ));
    for a in [cust_addr, prov_addr, peer_addr] {
        lab.wait_established(a);
    }
    provider.add("198.51.100.0/24", "10.0.0.2", &["65535:65284"]);
    provider.add("203.0.113.0/24", "10.0.0.2", &[]);

    let at_customer = customer.wait_for("gets three routes", |r| r.len() == 3);
    assert_eq!(
        keys(&at_customer),
        ["10.2.0.0/24", "198.51.100.0/24", "203.0.113.0/24"]
    );
    assert_eq!(at_customer["10.2.0.0/24"].communities, [NOPEER]);
    assert_eq!(at_customer["198.51.100.0/24"].communities, [NOPEER]);
    assert_eq!(at_customer["203.0.113.0/24"].communities, Vec::<u32>::new());

    let at_provider = provider.wait_for("gets 10.2.0.0/24", |r| r.contains_key("10.2.0.0/24"));
    assert_eq!(
        keys(&at_provider),
        ["10.2.0.0/24"],
        "its own routes are not sent back"
    );
    assert_eq!(at_provider["10.2.0.0/24"].communities, [NOPEER]);

    // The provider's route without NOPEER reaches the peer: by then both NOPEER routes have
    // been decided for it too.
    let at_peer = peer.wait_for("gets 203.0.113.0/24", |r| r.contains_key("203.0.113.0/24"));
    assert_eq!(
        keys(&at_peer),
        ["203.0.113.0/24"],
        "NOPEER routes are not advertised to a bilateral peer"
    );
}

/// Seed 003: GateD `export proto bgp as 65010` statements decide what AS 65010 gets, filter
/// by filter (`refines`, `exact … restrict`, the implied `all restrict`), with the metric of
/// the most specific level as MED; AS 65020 has no statement and gets only the routes to
/// attached interfaces.
#[test]
fn seed_003_gated_export_statements_decide_what_each_as_gets() {
    let Some(tools) = gobgp_tools("seed 003 end-to-end (GateD export)") else {
        return;
    };
    let (me, as10_addr, as20_addr) = (ip(3, 1), ip(3, 2), ip(3, 3));
    let mut lab = Lab::new("seed003");
    let as10 = lab.gobgp("gobgp-as65010", &tools, as10_addr, 65010, me);
    let as20 = lab.gobgp("gobgp-as65020", &tools, as20_addr, 65020, me);
    let mut statics = String::from(r#"redistribute = ["connected", "static"]"#);
    for p in [
        "10.10.0.0/16",
        "10.10.1.0/24",
        "10.10.2.0/24",
        "10.10.3.0/24",
        "10.20.0.0/24",
    ] {
        statics.push_str(&format!(
            "\n  [[vrf.static]]\n  prefix = \"{p}\"\n  blackhole = true"
        ));
    }
    lab.start_p4vrf(&base_config(
        me,
        &statics,
        r#"
[[interface]]
name = "e2"
port = 2
vrf = "CUST"
address = ["10.0.1.1/24"]"#,
        &format!(
            r#"# export proto bgp as 65010 metric 10 {{
#     proto direct ;
#     proto static metric 20 {{
#         10.10.0.0 masklen 16 refines ;
#         10.10.2.0 masklen 24 exact metric 30 ;
#         10.10.3.0 masklen 24 exact restrict ;
#     }} ;
# }} ;
[[gated-export]]
proto = "bgp"
as = 65010
metric = 10

[[gated-export.source]]
proto = "direct"

[[gated-export.source]]
proto = "static"
metric = 20
filter = [
  "10.10.0.0 masklen 16 refines",
  "10.10.2.0 masklen 24 exact metric 30",
  "10.10.3.0 masklen 24 exact restrict",
]

{}
{}"#,
            neighbor(me, as10_addr, "remote-as = 65010\ngated-export = true"),
            neighbor(me, as20_addr, "remote-as = 65020\ngated-export = true"),
        ),
    ));
    lab.wait_established(as10_addr);
    lab.wait_established(as20_addr);

    let want10: BTreeMap<&str, Option<u32>> = [
        ("10.0.0.0/24", Some(10)),  // proto direct: the destination's metric
        ("10.0.1.0/24", Some(10)),  //
        ("10.10.1.0/24", Some(20)), // refines 10.10/16: the source's metric
        ("10.10.2.0/24", Some(30)), // the filter's own metric
    ]
    .into_iter()
    .collect();
    // Not 10.10.0.0/16 (`refines` excludes the network itself), not 10.10.3.0/24 (`restrict`),
    // not 10.20.0.0/24 (no filter matches: the implied `all restrict`).
    let at10 = as10.wait_for("gets its four routes", |r| r.len() >= want10.len());
    let got10: BTreeMap<&str, Option<u32>> =
        at10.iter().map(|(p, s)| (p.as_str(), s.med)).collect();
    assert_eq!(got10, want10, "{at10:?}");

    let at20 = as20.wait_for("gets the attached routes", |r| r.len() >= 2);
    assert_eq!(
        keys(&at20),
        ["10.0.0.0/24", "10.0.1.0/24"],
        "no statement for AS 65020: only routes to attached interfaces: {at20:?}"
    );
    // Nothing else trickles in later.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(as10.received().unwrap().len(), want10.len());
    assert_eq!(as20.received().unwrap().len(), 2);
}

/// A CE's route is programmed and reaches the iBGP observer; `gobgp global rib del` withdraws
/// it everywhere; killing the CE's gobgpd (SIGKILL, no NOTIFICATION) removes all it sent.
#[test]
fn bgp_withdraw_and_session_loss_remove_routes_and_p4_entries() {
    let Some(tools) = gobgp_tools("withdraw and session loss end-to-end") else {
        return;
    };
    let (me, ce_addr, obs_addr) = (ip(4, 1), ip(4, 2), ip(4, 3));
    let mut lab = Lab::new("withdraw");
    let mut ce = lab.gobgp("gobgp-ce", &tools, ce_addr, 65002, me);
    let observer = lab.gobgp("gobgp-observer", &tools, obs_addr, 65001, me);
    lab.start_p4vrf(&base_config(
        me,
        "",
        "",
        &format!(
            "{}\n{}",
            neighbor(me, ce_addr, "remote-as = 65002"),
            neighbor(me, obs_addr, "remote-as = 65001"),
        ),
    ));
    lab.wait_established(ce_addr);
    lab.wait_established(obs_addr);

    let before = lab.programmed().len();
    ce.add("192.0.2.0/24", "10.0.0.2", &[]);
    let at_obs = observer.wait_for("gets 192.0.2.0/24", |r| r.contains_key("192.0.2.0/24"));
    assert_eq!(at_obs["192.0.2.0/24"].next_hop, "10.0.0.2", "{at_obs:?}");
    let n = lab.wait_programmed_after(before, "192.0.2.0/24 installed");
    assert_eq!(n, 1, "one route entry for 192.0.2.0/24 via 10.0.0.2");
    // The running daemon's view of the VRF's BGP table: the CE's path, best, AS 65002.
    let table = lab.show("bgp vrf CUST ipv4 unicast");
    let line = table
        .lines()
        .find(|l| l.contains("192.0.2.0/24"))
        .unwrap_or_else(|| panic!("192.0.2.0/24 missing:\n{table}"));
    assert!(
        line.starts_with("*> ") && line.ends_with("65002 ?"),
        "{line}"
    );
    let json = Json::parse(&lab.show("--json bgp vrf CUST ipv4 unicast")).expect("JSON");
    let path = &json.path(&["prefixes"]).expect("prefixes").arr()[0];
    assert_eq!(
        path.path(&["prefix"]).and_then(Json::str),
        Some("192.0.2.0/24")
    );
    let first = &path.path(&["paths"]).expect("paths").arr()[0];
    assert_eq!(first.path(&["kind"]).and_then(Json::str), Some("neighbor"));
    assert_eq!(
        first.path(&["peer", "address"]).and_then(Json::str),
        Some(&*ce_addr.to_string())
    );

    let before = lab.programmed().len();
    ce.del("192.0.2.0/24");
    observer.wait_for("loses 192.0.2.0/24", |r| !r.contains_key("192.0.2.0/24"));
    assert_eq!(lab.wait_programmed_after(before, "192.0.2.0/24 removed"), 1);

    ce.add("192.0.2.0/24", "10.0.0.2", &[]);
    ce.add("198.51.100.0/24", "10.0.0.2", &[]);
    observer.wait_for("gets both CE routes", |r| r.len() == 2);
    let before = lab.programmed().len();
    ce.proc.kill();
    observer.wait_for("loses everything the CE sent", |r| r.is_empty());
    let removed: u32 = poll("p4vrf to remove both routes from the switch", || {
        let p = lab.programmed();
        let n: u32 = p[before.min(p.len())..].iter().sum();
        if n >= 2 {
            Ok(n)
        } else {
            Err(format!("programmed {p:?}"))
        }
    });
    assert_eq!(removed, 2, "two route entries deleted");
    assert!(
        lab.log().contains("session down"),
        "p4vrf logs the session loss"
    );
}

/// The neighbor's `--json bgp summary` entry: (state, stale prefixes).
fn neighbor_state(lab: &Lab, addr: Ipv4Addr) -> (String, f64) {
    let json = Json::parse(&lab.show("--json bgp summary")).expect("JSON");
    let n = json
        .path(&["neighbors"])
        .map(Json::arr)
        .unwrap_or_default()
        .iter()
        .find(|n| n.get("neighbor").and_then(Json::str) == Some(&*addr.to_string()))
        .unwrap_or_else(|| panic!("{addr} missing from the summary"))
        .clone();
    (
        n.get("state")
            .and_then(Json::str)
            .unwrap_or_default()
            .to_string(),
        n.get("prefixes_stale").and_then(Json::num).unwrap_or(-1.0),
    )
}

/// Graceful restart, helper side (RFC 4724 §4.2), against GoBGP as the restarting speaker.
/// The CE is killed (no NOTIFICATION): its routes stay in the RIB, on the switch and at the
/// iBGP observer, marked stale. It comes back with `-r` announcing one of its two routes
/// and End-of-RIB: the other one goes, the one re-announced stays without being rewritten.
/// Killed again, not coming back: its route goes when its restart time (3 s, from its
/// second OPEN) runs out.
#[test]
fn bgp_graceful_restart_keeps_a_restarting_neighbors_routes_until_end_of_rib_or_its_restart_time() {
    let Some(tools) = gobgp_tools("graceful restart helper end-to-end") else {
        return;
    };
    let (me, ce_addr, obs_addr) = (ip(7, 1), ip(7, 2), ip(7, 3));
    let mut lab = Lab::new("graceful-restart");
    let first = Mode {
        graceful_restart: Some(120),
        ..Mode::default()
    };
    let mut ce = lab.gobgp_in("gobgp-ce", &tools, ce_addr, 65002, me, first);
    let observer = lab.gobgp("gobgp-observer", &tools, obs_addr, 65001, me);
    lab.start_p4vrf(&base_config(
        me,
        "",
        "",
        &format!(
            "{}\n{}",
            neighbor(
                me,
                ce_addr,
                "remote-as = 65002\ngraceful-restart = true\nstale-path-time = 60"
            ),
            neighbor(me, obs_addr, "remote-as = 65001"),
        ),
    ));
    lab.wait_established(ce_addr);
    lab.wait_established(obs_addr);
    let shown = lab.show(&format!("bgp neighbors {ce_addr}"));
    assert!(
        shown.contains("Graceful restart helper: restart time 120 s, stale-path time 60 s, negotiated, the neighbor's restart time 120 s; stale routes 0"),
        "{shown}"
    );

    let before = lab.programmed().len();
    ce.add("192.0.2.0/24", "10.0.0.2", &[]);
    ce.add("198.51.100.0/24", "10.0.0.2", &[]);
    observer.wait_for("gets both CE routes", |r| r.len() == 2);
    poll("both CE routes on the switch", || {
        let p = lab.programmed();
        let n: u32 = p[before.min(p.len())..].iter().sum();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("programmed {p:?}"))
        }
    });

    // The CE dies: its routes are kept, stale, and nothing is written to the switch.
    let before = lab.programmed().len();
    ce.proc.kill();
    poll(
        "p4vrf to keep the CE's routes as stale",
        || match neighbor_state(&lab, ce_addr) {
            (state, stale) if state != "Established" && stale == 2.0 => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    assert!(
        lab.log()
            .contains("keeping its routes as stale (graceful restart)"),
        "the stale routes are logged"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        lab.programmed().len(),
        before,
        "nothing written to the switch while the CE restarts"
    );
    assert_eq!(
        keys(&observer.received().expect("observer's table")),
        ["192.0.2.0/24", "198.51.100.0/24"],
        "the observer keeps both routes"
    );
    let table = lab.show("bgp vrf CUST ipv4 unicast");
    assert!(
        table.contains("192.0.2.0/24") && table.contains("198.51.100.0/24"),
        "{table}"
    );

    // Back with -r (R and F bits), announcing 192.0.2.0/24 only: End-of-RIB flushes the other.
    // It connects itself once enabled (p4vrf's own attempts back off while it is away).
    let second = Mode {
        graceful_restart: Some(3),
        restarting: true,
        admin_down: true,
        active: true,
    };
    ce = lab.gobgp_in("gobgp-ce-restarted", &tools, ce_addr, 65002, me, second);
    ce.add("192.0.2.0/24", "10.0.0.2", &[]);
    ce.cli(&["neighbor", &me.to_string(), "enable"])
        .expect("gobgp neighbor enable");
    observer.wait_for("loses only the route not re-announced", |r| {
        keys(r) == ["192.0.2.0/24"]
    });
    let deleted: u32 = poll("p4vrf to delete the stale route's entry", || {
        let p = lab.programmed();
        match p.get(before..) {
            Some(after) if !after.is_empty() => Ok(after.iter().sum()),
            _ => Err(format!("programmed {p:?}")),
        }
    });
    assert_eq!(
        deleted, 1,
        "one entry deleted, the re-announced one left alone"
    );
    poll(
        "no stale route left, the session up",
        || match neighbor_state(&lab, ce_addr) {
            (state, stale) if state == "Established" && stale == 0.0 => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // Killed again and not coming back: the route goes when the restart time (3 s) is over.
    let before = lab.programmed().len();
    ce.proc.kill();
    let killed = std::time::Instant::now();
    poll(
        "p4vrf to keep the CE's route as stale",
        || match neighbor_state(&lab, ce_addr) {
            (state, stale) if state != "Established" && stale == 1.0 => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    observer.wait_for("loses the route at the restart time", |r| r.is_empty());
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "kept for the restart time, gone after {:?}",
        killed.elapsed()
    );
    assert_eq!(
        lab.wait_programmed_after(before, "the stale route removed"),
        1
    );
    assert_eq!(neighbor_state(&lab, ce_addr).1, 0.0);
}

/// RFC 7999: a BLACKHOLE route from a neighbor with `accept-blackhole = true` is installed
/// (as a drop) and passed on inside the AS with NO_EXPORT added; the same community from a
/// neighbor without it gets the route refused.
#[test]
fn bgp_blackhole_community_from_an_accepted_neighbor_becomes_a_drop() {
    let Some(tools) = gobgp_tools("BLACKHOLE end-to-end") else {
        return;
    };
    let (me, trusted_addr, other_addr, obs_addr) = (ip(5, 1), ip(5, 2), ip(5, 3), ip(5, 4));
    let mut lab = Lab::new("blackhole");
    let trusted = lab.gobgp("gobgp-trusted", &tools, trusted_addr, 65002, me);
    let other = lab.gobgp("gobgp-other", &tools, other_addr, 65003, me);
    let observer = lab.gobgp("gobgp-observer", &tools, obs_addr, 65001, me);
    lab.start_p4vrf(&base_config(
        me,
        "",
        "",
        &format!(
            "{}\n{}\n{}",
            neighbor(
                me,
                trusted_addr,
                "remote-as = 65002\naccept-blackhole = true"
            ),
            neighbor(me, other_addr, "remote-as = 65003"),
            neighbor(
                me,
                obs_addr,
                "remote-as = 65001\nsend-community = [\"all\"]"
            ),
        ),
    ));
    for a in [trusted_addr, other_addr, obs_addr] {
        lab.wait_established(a);
    }

    let before = lab.programmed().len();
    trusted.add("192.0.2.66/32", "10.0.0.2", &["65535:666"]);
    let at_obs = observer.wait_for("gets 192.0.2.66/32", |r| r.contains_key("192.0.2.66/32"));
    let mut want = vec![BLACKHOLE, NO_EXPORT];
    want.sort_unstable();
    assert_eq!(
        at_obs["192.0.2.66/32"].communities, want,
        "an accepted BLACKHOLE gets NO_EXPORT (RFC 7999 §3.2)"
    );
    assert_eq!(
        lab.wait_programmed_after(before, "the blackhole installed"),
        1,
        "one drop entry"
    );

    // From a neighbor not allowed to: refused. Its next route (no community) shows the first
    // was decided.
    other.add("198.51.100.66/32", "10.0.0.2", &["65535:666"]);
    other.add("198.51.100.0/24", "10.0.0.2", &[]);
    let at_obs = observer.wait_for("gets 198.51.100.0/24", |r| {
        r.contains_key("198.51.100.0/24")
    });
    assert_eq!(
        keys(&at_obs),
        ["192.0.2.66/32", "198.51.100.0/24"],
        "the BLACKHOLE route of a neighbor without accept-blackhole is refused"
    );
    // Counted as received, not accepted; only the accepted one is in the RIB's list of it.
    let counts = |lab: &Lab| -> (f64, f64) {
        let json = Json::parse(&lab.show("--json bgp summary")).expect("JSON");
        let n = json
            .path(&["neighbors"])
            .expect("neighbors")
            .arr()
            .iter()
            .find(|n| n.path(&["neighbor"]).and_then(Json::str) == Some(&*other_addr.to_string()))
            .expect("the neighbor")
            .clone();
        let num = |k: &str| n.path(&[k]).and_then(Json::num).expect(k);
        (num("prefixes_received"), num("prefixes_accepted"))
    };
    assert_eq!(counts(&lab), (2.0, 1.0));
    let listed = lab.show(&format!("bgp neighbors {other_addr} received-routes"));
    assert!(
        listed.contains("198.51.100.0/24") && !listed.contains("198.51.100.66/32"),
        "{listed}"
    );
    // The refused route's withdrawal touches nothing in the RIB; the accepted one's does.
    other.del("198.51.100.66/32");
    poll("the refused route's withdrawal counted", || {
        match counts(&lab) {
            (1.0, 1.0) => Ok(()),
            c => Err(format!("counts {c:?}")),
        }
    });
    other.del("198.51.100.0/24");
    observer.wait_for("loses 198.51.100.0/24", |r| {
        !r.contains_key("198.51.100.0/24")
    });
    assert_eq!(counts(&lab), (0.0, 0.0));
}

/// RFC 4271 §5 end to end: a CE (this test's own BGP speaker, since no daemon lets one make
/// up attributes) sends a route with an unknown optional transitive attribute and an unknown
/// optional non-transitive one; GoBGP, another CE of the VRF, gets the route with the first,
/// value unchanged and the partial bit now set, and without the second.
#[test]
fn bgp_unknown_optional_transitive_attribute_is_passed_on_marked_partial() {
    use bgp::consts::flags::{OPTIONAL, PARTIAL, TRANSITIVE};
    use bgp::session::{Event, NeighborConfig, Speaker, SpeakerConfig};
    use bgp::{AttrValue, PathAttribute, Update};

    let Some(tools) = gobgp_tools("unknown attributes end-to-end") else {
        return;
    };
    let (me, sender_addr, rx_addr) = (ip(6, 1), ip(6, 2), ip(6, 3));
    let mut lab = Lab::new("unknown-attrs");
    let rx = lab.gobgp("gobgp-rx", &tools, rx_addr, 65003, me);
    lab.start_p4vrf(&base_config(
        me,
        "",
        "",
        &format!(
            "{}\n{}",
            neighbor(me, sender_addr, "remote-as = 65002"),
            neighbor(me, rx_addr, "remote-as = 65003"),
        ),
    ));

    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let value = vec![0xDE, 0xAD, 0xBE, 0xEF, 0x01];
    // The sender listens passively where p4vrf's neighbor entry points; kept alive (with its
    // session) until the end of the test.
    let _sender = rt.block_on(async {
        let (speaker, mut events) = Speaker::bind(SpeakerConfig {
            listen: vec![std::net::SocketAddr::new(sender_addr.into(), BGP_PORT)],
            ..SpeakerConfig::default()
        })
        .await
        .expect("bind the sender");
        let mut cfg = NeighborConfig::new(me.into(), 65002, 65001, sender_addr);
        cfg.passive = true;
        cfg.local_addr = Some(sender_addr.into());
        cfg.hold_time = 9;
        let n = speaker.add_neighbor(cfg).expect("neighbor");
        n.start().await.expect("start");
        tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(e) = events.recv().await {
                if matches!(e.event, Event::Established(_)) {
                    return;
                }
            }
            panic!("sender's events ended");
        })
        .await
        .expect("sender's session with p4vrf within 30 s");
        let unknown = |flags, type_code, value: &[u8]| PathAttribute {
            flags,
            value: AttrValue::Unknown {
                type_code,
                value: value.to_vec(),
            },
        };
        let update = Update {
            withdrawn: vec![],
            attributes: vec![
                PathAttribute::new(AttrValue::Origin(bgp::Origin::Igp)),
                PathAttribute::new(AttrValue::AsPath(bgp::AsPath::sequence(&[65002]))),
                PathAttribute::new(AttrValue::NextHop(Ipv4Addr::new(10, 0, 0, 2))),
                unknown(OPTIONAL | TRANSITIVE, 0xF0, &value),
                unknown(OPTIONAL, 0xF1, &[9, 9, 9]),
            ],
            nlri: vec!["10.77.0.0/24".parse().unwrap()],
        };
        n.send_update(&update).await.expect("send the UPDATE");
        (speaker, events, n)
    });
    lab.wait_established(rx_addr);

    // GoBGP's own view of the path's attributes (JSON: type, flags, value in base64).
    let attrs = poll("gobgp-rx to get 10.77.0.0/24 from p4vrf", || {
        let text = rx.cli(&["global", "rib", "-a", "ipv4", "10.77.0.0/24", "-j"])?;
        let json = Json::parse(text.trim()).map_err(|e| format!("{e} in {text}"))?;
        let path = json
            .get("10.77.0.0/24")
            .and_then(|p| p.arr().first())
            .ok_or_else(|| format!("not yet: {text}"))?;
        Ok(path
            .get("attrs")
            .map(Json::arr)
            .unwrap_or_default()
            .to_vec())
    });
    let types: Vec<u32> = attrs
        .iter()
        .filter_map(|a| a.get("type").and_then(Json::num))
        .map(|t| t as u32)
        .collect();
    assert!(
        types.contains(&0xF0),
        "the transitive one is passed on: {attrs:?}"
    );
    assert!(
        !types.contains(&0xF1),
        "the non-transitive one is not: {attrs:?}"
    );
    let passed = attrs
        .iter()
        .find(|a| a.get("type").and_then(Json::num) == Some(240.0))
        .expect("attribute 240");
    assert_eq!(
        passed.get("flags").and_then(Json::num),
        Some(f64::from(OPTIONAL | TRANSITIVE | PARTIAL)),
        "the partial bit is set: {passed:?}"
    );
    assert_eq!(
        passed.get("value").and_then(Json::str),
        Some("3q2+7wE="),
        "the value is unchanged (base64 of DE AD BE EF 01): {passed:?}"
    );
    // p4vrf's own view of the path shows what it keeps.
    let view = Json::parse(lab.show("bgp vrf CUST ipv4 unicast --json").trim()).expect("JSON");
    let text = format!("{view:?}");
    assert!(
        text.contains(
            r#"("type", Num(240.0)), ("flags", Num(192.0)), ("value", Str("deadbeef01"))"#
        ),
        "show bgp vrf CUST ipv4 unicast --json lists the kept attribute: {text}"
    );
}
