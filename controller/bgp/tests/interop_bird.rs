//! Interop with BIRD 2 (Debian package `bird2`): each test writes its own bird.conf into a
//! temp dir, starts `bird -f -c <conf> -s <dir>/bird.ctl -P <dir>/bird.pid` (foreground),
//! drives it with `birdc -s <dir>/bird.ctl` and kills it by PID at the end (Drop guard).
//! `strict bind` keeps BIRD's listener on its own 127.N.4.x address; nothing leaves loopback.

mod interop_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use bgp::session::{NeighborConfig, State};
use bgp::{Family, FamilySet};
use interop_support::*;

const BIRD_PORT: u16 = 10179;

fn ip(last: u8) -> Ipv4Addr {
    loopback(4, last)
}

struct Bird {
    daemon: Daemon,
    bird: PathBuf,
    birdc: PathBuf,
}

impl Bird {
    fn tools() -> Option<(PathBuf, PathBuf)> {
        Some((find("bird")?, find("birdc")?))
    }

    fn start(dir: &Path, tools: &(PathBuf, PathBuf), conf: &str) -> Bird {
        std::fs::write(dir.join("bird.conf"), conf).expect("write bird.conf");
        let b = Bird {
            daemon: Daemon::spawn("bird", dir, bird_command(&tools.0, dir)),
            bird: tools.0.clone(),
            birdc: tools.1.clone(),
        };
        b.wait_for_socket();
        b
    }

    fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// Kills bird and starts it again with extra flags (`-R`: graceful restart recovery).
    fn restart_with(&mut self, extra: &[&str]) {
        self.daemon.kill();
        let dir = self.daemon.dir.clone();
        let _ = std::fs::remove_file(dir.join("bird.ctl"));
        let mut cmd = bird_command(&self.bird, &dir);
        cmd.args(extra);
        self.daemon = Daemon::spawn("bird", &dir, cmd);
        self.wait_for_socket();
    }

    fn wait_for_socket(&self) {
        self.daemon
            .wait_ready("", || self.birdc(&["show", "status"]).is_ok());
    }

    fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let ctl = self.daemon.dir.join("bird.ctl");
        let ctl = ctl.to_string_lossy().into_owned();
        let mut all = vec!["-s", &ctl];
        all.extend_from_slice(args);
        let out = cli(&self.birdc, &all)?;
        // birdc exits 0 even when the command failed; errors start with a code ≥ 8000.
        if out
            .lines()
            .any(|l| l.starts_with("syntax error") || l.starts_with("80"))
        {
            return Err(out);
        }
        Ok(out)
    }

    /// `birdc show route`: does BIRD's table hold `prefix`?
    fn has_route(&self, prefix: &str) -> bool {
        self.birdc(&["show", "route"]).is_ok_and(|out| {
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(prefix))
        })
    }

    /// The `show route all table <table>` entry of `net` (`10.0.0.0/24`, or `<rd> <prefix>`
    /// in a VPN table): its first line and attribute lines, if BIRD has it.
    fn route(&self, table: &str, net: &str) -> Option<String> {
        let out = self.birdc(&["show", "route", "all", "table", table]).ok()?;
        let mut entry: Option<String> = None;
        for line in out.lines() {
            if line.starts_with(char::is_whitespace) {
                if let Some(e) = entry.as_mut() {
                    e.push_str(line);
                    e.push('\n');
                }
            } else if entry.is_some() {
                break;
            } else if line.starts_with(&format!("{net} ")) {
                entry = Some(format!("{line}\n"));
            }
        }
        entry
    }

    /// BIRD holds our VPN route `r`: RD, prefix, label, route target and next hop.
    fn has_vpn_route(&self, r: &VpnRoute) -> bool {
        let table = if r.is_v6() { "vpntab6" } else { "vpntab4" };
        let net = format!("{} {}", r.rd, r.prefix);
        self.route(table, &net).is_some_and(|e| {
            e.contains(&format!("\tBGP.next_hop: {}\n", doc_next_hop(r)))
                && e.contains(&format!("\tBGP.ext_community: {}\n", bird_rt(r.rt)))
                && e.contains(&format!("\tBGP.mpls_label_stack: {}\n", r.label))
        })
    }

    /// `bird --version` prints to stderr.
    fn version(&self) -> String {
        Command::new(&self.bird)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&[o.stdout, o.stderr].concat()).into_owned())
            .unwrap_or_default()
    }
}

fn bird_command(bird: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bird);
    cmd.arg("-f")
        .arg("-c")
        .arg(dir.join("bird.conf"))
        .arg("-s")
        .arg(dir.join("bird.ctl"))
        .arg("-P")
        .arg(dir.join("bird.pid"));
    cmd
}

/// bird.conf: two static routes (one protocol each, so one can be withdrawn alone) and one
/// BGP neighbor.
fn conf(me: Ipv4Addr, my_as: u32, peer: Ipv4Addr, peer_as: u32, extra: &str) -> String {
    conf_port(me, my_as, peer, BIRD_PORT, peer_as, extra)
}

fn conf_port(
    me: Ipv4Addr,
    my_as: u32,
    peer: Ipv4Addr,
    peer_port: u16,
    peer_as: u32,
    extra: &str,
) -> String {
    let third = me.octets()[3];
    format!(
        "router id {me};\nlog stderr all;\nprotocol device {{ }}\n\
         protocol static sa {{ ipv4; route 10.4.{third}.0/24 blackhole; }}\n\
         protocol static sb {{ ipv4; route 10.5.{third}.0/24 blackhole; }}\n\
         protocol bgp peer1 {{\n  local {me} port {BIRD_PORT} as {my_as};\n  \
         neighbor {peer} port {peer_port} as {peer_as};\n  strict bind yes;\n  multihop;\n  \
         hold time 9;\n  keepalive time 3;\n  connect retry time 1;\n  connect delay time 1;\n  {extra}\n  \
         ipv4 {{ import all; export all; next hop self; }};\n}}\n"
    )
}

fn config(me: Ipv4Addr, my_as: u32, peer: Ipv4Addr, peer_as: u32) -> NeighborConfig {
    daemon_neighbor(me, my_as, peer, peer_as, BIRD_PORT)
}

#[tokio::test]
async fn bird_we_connect_routes_both_ways_refresh_and_shutdown() {
    let Some(tools) = Bird::tools() else {
        skip(
            "bird2",
            "BIRD session (we active), routes both ways, withdraw, route refresh, shutdown",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, bird_ip) = (ip(1), ip(2));
    let peer = IpAddr::V4(bird_ip);
    let b = Bird::start(
        dir.path(),
        &tools,
        &conf(bird_ip, 65004, us, 65001, "passive yes;"),
    );
    println!("{}", b.version().trim());

    let (_speaker, mut events, n, _neg) =
        active_session_up(config(us, 65001, bird_ip, 65004), "BIRD").await;

    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "BIRD's routes", |r| {
            r.has("10.4.2.0/24") && r.has("10.5.2.0/24")
        })
        .await;

    our_routes_and_withdrawal(
        &n,
        "BIRD's table",
        ["10.41.0.0/24", "10.42.0.0/24"],
        us,
        |p| b.has_route(p),
    )
    .await;
    b.birdc(&["disable", "sb"]).expect("birdc disable sb");
    expect_their_withdrawal(
        &mut routes,
        &mut events,
        peer,
        "BIRD",
        "10.5.2.0/24",
        "10.4.2.0/24",
    )
    .await;

    route_refresh_resends(&n, &mut routes, &mut events, peer, "BIRD").await;

    b.birdc(&["disable", "peer1", "\"maintenance\""])
        .expect("birdc disable peer1");
    expect_admin_shutdown(&mut events, peer, "BIRD").await;
}

#[tokio::test]
async fn bird_connects_to_us_ibgp_and_a_killed_daemon_is_seen() {
    let Some(tools) = Bird::tools() else {
        skip(
            "bird2",
            "BIRD session (we passive, iBGP), killed daemon seen, reconnect",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, bird_ip) = (ip(3), ip(4));
    let peer = IpAddr::V4(bird_ip);
    let our_port = 10180;
    let (_speaker, mut events, n) =
        passive_neighbor(us, our_port, config(us, 65040, bird_ip, 65040)).await;
    // BIRD connects to our port (`neighbor ... port`), listening itself on its own.
    let mut b = Bird::start(
        dir.path(),
        &tools,
        &conf_port(bird_ip, 65040, us, our_port, 65040, ""),
    );

    let neg = expect_established(&mut events, peer, "BIRD connects to us").await;
    assert!(neg.ibgp);
    let mut routes = expect_their_route(&mut events, peer, "BIRD's routes", "10.4.4.0/24").await;
    our_ibgp_route(&n, "BIRD's table", "10.44.0.0/24", us, |p| b.has_route(p)).await;

    b.daemon.kill();
    expect_peer_down_without_stale(&mut events, peer).await;

    b.restart();
    expect_state(&mut events, peer, State::Established).await;
    routes.v4.clear();
    routes
        .until(&mut events, peer, "BIRD's routes after reconnect", |r| {
            r.has("10.4.4.0/24")
        })
        .await;
}

#[tokio::test]
async fn bird_graceful_restart_helper_keeps_routes_when_killed() {
    let Some(tools) = Bird::tools() else {
        skip("bird2", "graceful restart helper against BIRD");
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, bird_ip) = (ip(5), ip(6));
    let peer = IpAddr::V4(bird_ip);
    let conf = conf(
        bird_ip,
        65006,
        us,
        65001,
        "passive yes;\n  graceful restart on;\n  graceful restart time 30;",
    )
    .replace(
        "log stderr all;",
        "log stderr all;\ngraceful restart wait 10;",
    );
    let mut b = Bird::start(dir.path(), &tools, &conf);
    let mut c = config(us, 65001, bird_ip, 65006);
    c.graceful_restart = helper_gr();
    let (_speaker, mut events, n) = active_neighbor(c).await;
    let (_neg, gr, _routes) = gr_session_up(
        &n,
        &mut events,
        peer,
        "Established with BIRD",
        "BIRD",
        "10.4.6.0/24",
    )
    .await;
    assert_eq!(gr.restart_time, 30);

    b.daemon.kill();
    expect_peer_down_keeping_stale(&mut events, peer).await;

    // bird -R: graceful restart recovery, restart bit set; its routes follow our End-of-RIB.
    b.restart_with(&["-R"]);
    let back = expect_gr_reestablished(&mut events, peer, "BIRD back").await;
    end_of_rib_flushes_stale(&n, &mut events, peer, "stale routes flushed").await;
    // With -R, BIRD sets the forwarding-state bit: the stale routes stay until its End-of-RIB.
    assert!(back.preserved.contains(Family::Ipv4Unicast), "{back:?}");
}

/// BIRD's VPN routes: static routes in vpn4/vpn6 tables (`route <rd> <prefix> via <gw>%lo
/// mpls <label> onlink`), RDs and RTs of the three layouts. BIRD 2.0.12 sends the route's own
/// label only when it keeps the gateway as next hop (iBGP); with `next hop self` it sends the
/// implicit-null label 3 (see docs/bgp-sessions.md).
const BIRD_VPN: [VpnRoute; 5] = [
    VpnRoute {
        rd: "65004:40",
        prefix: "10.40.0.0/24",
        label: 400,
        rt: "65004:40",
    },
    VpnRoute {
        rd: "192.0.2.4:41",
        prefix: "10.41.0.0/24",
        label: 401,
        rt: "192.0.2.4:41",
    },
    VpnRoute {
        rd: "4200000004:42",
        prefix: "10.42.0.0/24",
        label: 402,
        rt: "4200000004:42",
    },
    VpnRoute {
        rd: "65004:46",
        prefix: "2001:db8:46::/48",
        label: 406,
        rt: "192.0.2.4:46",
    },
    VpnRoute {
        rd: "4200000004:47",
        prefix: "2001:db8:47::/48",
        label: 407,
        rt: "4200000004:47",
    },
];

/// `rt` as a BIRD extended community literal: `(rt, 65004, 40)`.
fn bird_rt(rt: &str) -> String {
    let (admin, value) = rt.rsplit_once(':').expect("admin:value");
    format!("(rt, {admin}, {value})")
}

/// bird.conf for the families test: iBGP (so BIRD keeps its static routes' gateways and
/// labels), channels ipv4, ipv6, vpn4 mpls and vpn6 mpls; one static protocol per route
/// that gets withdrawn.
fn families_conf(me: Ipv4Addr, peer: Ipv4Addr) -> String {
    let mut c = format!(
        "router id {me};\nlog stderr all;\nvpn4 table vpntab4;\nvpn6 table vpntab6;\n\
         protocol device {{ }}\n\
         protocol static comm {{ ipv4; route 10.4.9.0/24 via 192.0.2.4%lo onlink {{\n  \
         bgp_community.add((65004, 100)); bgp_community.add((65004, 200));\n  \
         bgp_ext_community.add((rt, 65004, 300)); bgp_ext_community.add((rt, 192.0.2.4, 301));\n  \
         bgp_ext_community.add((rt, 4200000004, 302));\n  \
         bgp_large_community.add((4200000004, 1, 2)); }}; }}\n\
         protocol static v6a {{ ipv6; route 2001:db8:41::/48 via 2001:db8::4%lo onlink; }}\n\
         protocol static v6b {{ ipv6; route 2001:db8:42::/48 via 2001:db8::4%lo onlink; }}\n"
    );
    for (i, r) in BIRD_VPN.iter().enumerate() {
        let (fam, gw) = if r.is_v6() {
            ("vpn6", "2001:db8::4")
        } else {
            ("vpn4", "192.0.2.4")
        };
        c += &format!(
            "protocol static sv{i} {{ {fam} {{ table vpntab{}; }};\n  \
             route {} {} via {gw}%lo mpls {} onlink {{ bgp_ext_community.add({}); }}; }}\n",
            &fam[3..],
            r.rd,
            r.prefix,
            r.label,
            bird_rt(r.rt)
        );
    }
    c += &format!(
        "protocol bgp peer1 {{\n  local {me} port {BIRD_PORT} as 65004;\n  \
         neighbor {peer} port {BIRD_PORT} as 65004;\n  strict bind yes;\n  multihop;\n  \
         passive yes;\n  hold time 9;\n  keepalive time 3;\n  connect delay time 1;\n  \
         ipv4 {{ import all; export all; }};\n  ipv6 {{ import all; export all; }};\n  \
         vpn4 mpls {{ table vpntab4; import all; export all; }};\n  \
         vpn6 mpls {{ table vpntab6; import all; export all; }};\n}}\n"
    );
    c
}

#[tokio::test]
async fn bird_ipv6_vpn_and_communities_both_ways() {
    let Some(tools) = Bird::tools() else {
        skip(
            "bird2",
            "BIRD IPv6 unicast, VPNv4/VPNv6 and communities both ways, withdrawals",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, bird_ip) = (ip(7), ip(8));
    let peer = IpAddr::V4(bird_ip);
    let b = Bird::start(dir.path(), &tools, &families_conf(bird_ip, us));

    let mut c = config(us, 65004, bird_ip, 65004);
    c.families = FamilySet::all();
    let (_speaker, mut events, n, neg) = active_session_up(c, "BIRD").await;
    assert_eq!(neg.context.families, FamilySet::all(), "{neg:?}");
    assert!(neg.ibgp);

    let mut routes = expect_daemon_families(&mut events, peer, "BIRD", 4, &BIRD_VPN, |r| {
        if r.is_v6() {
            "2001:db8::4"
        } else {
            "192.0.2.4"
        }
        .to_string()
    })
    .await;
    assert_eq!(routes.path("2001:db8:41::/48").next_hop, "2001:db8::4");

    // Ours: IPv6 unicast with withdrawal, communities, VPN routes with withdrawal (iBGP:
    // empty AS path and LOCAL_PREF).
    our_ipv6_routes_and_withdrawal(
        &n,
        "BIRD",
        ["2001:db8:451::/48", "2001:db8:452::/48"],
        &[],
        |p| b.route("master6", p).is_some(),
    )
    .await;
    let rts = OUR_RTS.map(bird_rt).join(" ");
    let large = format!("({})", OUR_LARGE.replace(':', ", "));
    our_communities_arrive(&n, "BIRD", "10.49.0.0/24", &[], us, || {
        b.route("master4", "10.49.0.0/24").is_some_and(|r| {
            r.contains("\tBGP.community: (65001,100) (65001,200)\n")
                && r.contains(&format!("\tBGP.ext_community: {rts}\n"))
                && r.contains(&format!("\tBGP.large_community: {large}\n"))
        })
    })
    .await;
    our_vpn_routes_and_withdrawal(&n, "BIRD", &[], |r| b.has_vpn_route(r)).await;

    // BIRD withdraws an IPv6 route and a VPN route (their static protocols disabled).
    b.birdc(&["disable", "v6b"]).expect("birdc disable v6b");
    b.birdc(&["disable", "sv1"]).expect("birdc disable sv1");
    let gone = BIRD_VPN[1];
    routes
        .until(&mut events, peer, "BIRD's IPv6 and VPN withdrawals", |r| {
            !r.has6("2001:db8:42::/48") && !r.paths.contains_key(&gone.key())
        })
        .await;
    assert!(routes.has6("2001:db8:41::/48"));
    assert!(routes.paths.contains_key(&BIRD_VPN[0].key()));
}
