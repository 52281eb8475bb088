//! Interop with GoBGP (Debian package `gobgpd`): each test writes its own gobgpd.toml into a
//! temp dir, starts `gobgpd -f <toml> --api-hosts <addr>:<port> --pprof-disable`, drives it
//! with `gobgp -u <addr> -p <port>` and kills it by PID at the end (Drop guard).
//! Addresses 127.N.3.x are this file's (N from the process id); nothing leaves loopback.

mod interop_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use bgp::session::{Event, NeighborConfig, State};
use bgp::{Family, FamilySet};
use interop_support::*;

const GOBGP_PORT: u16 = 10179;
const API_PORT: u16 = 50151;
/// GoBGP treats loopback next hops as invalid (treat-as-withdraw); a documentation address
/// is only carried as an attribute value here.
const NEXT_HOP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn ip(last: u8) -> Ipv4Addr {
    loopback(3, last)
}

struct GoBgp {
    daemon: Daemon,
    gobgpd: PathBuf,
    gobgp: PathBuf,
    api: Ipv4Addr,
}

impl GoBgp {
    fn tools() -> Option<(PathBuf, PathBuf)> {
        Some((find("gobgpd")?, find("gobgp")?))
    }

    fn start(dir: &Path, tools: &(PathBuf, PathBuf), api: Ipv4Addr, toml: &str) -> GoBgp {
        std::fs::write(dir.join("gobgpd.toml"), toml).expect("write gobgpd.toml");
        let g = GoBgp {
            daemon: Daemon::spawn("gobgpd", dir, gobgpd_command(&tools.0, api, dir)),
            gobgpd: tools.0.clone(),
            gobgp: tools.1.clone(),
            api,
        };
        g.wait_for_api();
        g
    }

    fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// Kills gobgpd and starts it again with extra flags (`-r`: the restart bit of RFC 4724).
    fn restart_with(&mut self, extra: &[&str]) {
        self.daemon.kill();
        let dir = self.daemon.dir.clone();
        let mut cmd = gobgpd_command(&self.gobgpd, self.api, &dir);
        cmd.args(extra);
        self.daemon = Daemon::spawn("gobgpd", &dir, cmd);
        self.wait_for_api();
    }

    fn wait_for_api(&self) {
        self.daemon.wait_ready("", || self.cli(&["global"]).is_ok());
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let host = self.api.to_string();
        let port = API_PORT.to_string();
        let mut all = vec!["-u", &host, "-p", &port];
        all.extend_from_slice(args);
        cli(&self.gobgp, &all)
    }

    fn add(&self, prefix: &str, next_hop: Ipv4Addr) {
        let nh = next_hop.to_string();
        self.cli(&["global", "rib", "-a", "ipv4", "add", prefix, "nexthop", &nh])
            .expect("gobgp add");
    }

    fn del(&self, prefix: &str) {
        self.cli(&["global", "rib", "-a", "ipv4", "del", prefix])
            .expect("gobgp del");
    }

    /// `gobgp global rib -a ipv4 -j`: does the RIB hold `prefix`?
    fn has_route(&self, prefix: &str) -> bool {
        self.cli(&["global", "rib", "-a", "ipv4", "-j"])
            .is_ok_and(|j| j.contains(&format!("\"{prefix}\"")))
    }

    fn version(&self) -> String {
        cli(&self.gobgpd, &["--version"]).unwrap_or_default()
    }
}

fn gobgpd_command(gobgpd: &Path, api: Ipv4Addr, dir: &Path) -> Command {
    let mut cmd = Command::new(gobgpd);
    cmd.arg("-f")
        .arg(dir.join("gobgpd.toml"))
        .args(["-t", "toml", "-p", "--pprof-disable", "--api-hosts"])
        .arg(format!("{api}:{API_PORT}"));
    cmd
}

/// A gobgpd.toml with one neighbor for IPv4 unicast and VPNv4.
fn toml(me: Ipv4Addr, my_as: u32, peer: Ipv4Addr, peer_as: u32, transport: &str) -> String {
    format!(
        r#"[global.config]
  as = {my_as}
  router-id = "{me}"
  port = {GOBGP_PORT}
  local-address-list = ["{me}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{peer}"
    peer-as = {peer_as}
  [neighbors.transport.config]
    local-address = "{me}"
    {transport}
  [neighbors.timers.config]
    connect-retry = 1
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l3vpn-ipv4-unicast"
"#
    )
}

fn config(me: Ipv4Addr, my_as: u32, peer: Ipv4Addr, peer_as: u32) -> NeighborConfig {
    daemon_neighbor(me, my_as, peer, peer_as, GOBGP_PORT)
}

#[tokio::test]
async fn gobgp_we_connect_routes_both_ways_refresh_and_shutdown() {
    let Some(tools) = GoBgp::tools() else {
        skip(
            "gobgpd",
            "GoBGP session (we active), routes both ways, withdraw, route refresh, shutdown",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, gb) = (ip(1), ip(2));
    let peer = IpAddr::V4(gb);
    let g = GoBgp::start(
        dir.path(),
        &tools,
        gb,
        &toml(gb, 65003, us, 65001, "passive-mode = true"),
    );
    println!("{}", g.version());
    g.add("10.3.1.0/24", gb);
    g.add("10.3.2.0/24", gb);

    let mut c = config(us, 65001, gb, 65003);
    c.families = [Family::Ipv4Unicast, Family::Vpnv4, Family::Vpnv6]
        .into_iter()
        .collect();
    let (_speaker, mut events, n, neg) = active_session_up(c, "GoBGP").await;
    assert_eq!(
        neg.context.families.iter().collect::<Vec<_>>(),
        [Family::Ipv4Unicast, Family::Vpnv4]
    );

    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "GoBGP's routes", |r| {
            r.has("10.3.1.0/24") && r.has("10.3.2.0/24")
        })
        .await;

    // VPNv4 both ways: a labeled route with RD and route target from GoBGP ...
    g.cli(&[
        "global",
        "rib",
        "-a",
        "vpnv4",
        "add",
        "10.30.0.0/24",
        "label",
        "300",
        "rd",
        "65003:30",
        "rt",
        "65003:30",
        "nexthop",
        "192.0.2.254",
    ])
    .expect("gobgp vpnv4 add");
    let ev = expect(&mut events, peer, "GoBGP's VPNv4 route", |e| {
        matches!(e, Event::Update { update, .. } if update.mp_reach().is_some_and(|m| m.nlri.family() == Family::Vpnv4))
    })
    .await;
    let Event::Update { update, findings } = ev else {
        unreachable!()
    };
    assert!(findings.is_empty());
    let Some(bgp::NlriList::Vpnv4(vpn)) = update.mp_reach().map(|m| &m.nlri) else {
        unreachable!()
    };
    assert_eq!(vpn[0].prefix, net("10.30.0.0/24"));
    assert_eq!(vpn[0].rd.to_string(), "65003:30");
    assert_eq!(vpn[0].labels.as_slice()[0].value(), 300);
    // ... and one from us, in GoBGP's VPNv4 table.
    let ours = bgp::Update {
        attributes: vec![
            bgp::PathAttribute::new(bgp::AttrValue::Origin(bgp::Origin::Igp)),
            bgp::PathAttribute::new(bgp::AttrValue::AsPath(bgp::AsPath::sequence(&[65001]))),
            bgp::PathAttribute::new(bgp::AttrValue::MpReach(bgp::MpReach {
                next_hop: bgp::NextHop::V4(NEXT_HOP),
                nlri: bgp::NlriList::Vpnv4(vec![bgp::VpnPrefix {
                    labels: bgp::LabelStack::single(101),
                    rd: bgp::Rd::Known("65001:31".parse().expect("rd")),
                    prefix: net("10.130.0.0/24"),
                }]),
            })),
        ],
        ..bgp::Update::default()
    };
    n.send_update(&ours).await.unwrap();
    poll_until("our VPNv4 route in GoBGP", || {
        g.cli(&["global", "rib", "-a", "vpnv4"])
            .is_ok_and(|t| t.contains("65001:31:10.130.0.0/24"))
    })
    .await;

    our_routes_and_withdrawal(
        &n,
        "GoBGP's RIB",
        ["10.31.0.0/24", "10.32.0.0/24"],
        NEXT_HOP,
        |p| g.has_route(p),
    )
    .await;
    g.del("10.3.2.0/24");
    expect_their_withdrawal(
        &mut routes,
        &mut events,
        peer,
        "GoBGP",
        "10.3.2.0/24",
        "10.3.1.0/24",
    )
    .await;

    route_refresh_resends(&n, &mut routes, &mut events, peer, "GoBGP").await;

    let us_s = us.to_string();
    // `disable` drops the reason in gobgp 3.10; the deprecated `shutdown` sends it (RFC 9003).
    g.cli(&["neighbor", &us_s, "shutdown", "--reason", "maintenance"])
        .expect("gobgp neighbor shutdown");
    expect_admin_shutdown(&mut events, peer, "GoBGP").await;
}

#[tokio::test]
async fn gobgp_connects_to_us_ibgp_and_a_killed_daemon_is_seen() {
    let Some(tools) = GoBgp::tools() else {
        skip(
            "gobgpd",
            "GoBGP session (we passive, iBGP), killed daemon seen, reconnect",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, gb) = (ip(3), ip(4));
    let peer = IpAddr::V4(gb);
    let our_port = 10180;
    let (_speaker, mut events, n) =
        passive_neighbor(us, our_port, config(us, 65020, gb, 65020)).await;
    let mut g = GoBgp::start(
        dir.path(),
        &tools,
        gb,
        &toml(gb, 65020, us, 65020, &format!("remote-port = {our_port}")),
    );
    g.add("10.3.4.0/24", gb);

    let neg = expect_established(&mut events, peer, "GoBGP connects to us").await;
    assert!(neg.ibgp);
    let mut routes = expect_their_route(&mut events, peer, "GoBGP's route", "10.3.4.0/24").await;
    our_ibgp_route(&n, "GoBGP's RIB", "10.34.0.0/24", NEXT_HOP, |p| {
        g.has_route(p)
    })
    .await;

    g.daemon.kill();
    expect_peer_down_without_stale(&mut events, peer).await;

    g.restart();
    expect_state(&mut events, peer, State::Established).await;
    g.add("10.3.5.0/24", gb);
    routes
        .until(&mut events, peer, "route after reconnect", |r| {
            r.has("10.3.5.0/24")
        })
        .await;
}

#[tokio::test]
async fn gobgp_graceful_restart_helper_keeps_routes_when_killed() {
    let Some(tools) = GoBgp::tools() else {
        skip("gobgpd", "graceful restart helper against GoBGP");
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, gb) = (ip(5), ip(6));
    let peer = IpAddr::V4(gb);
    let gr = "passive-mode = true\n  [neighbors.graceful-restart.config]\n    enabled = true\n    \
              restart-time = 30";
    let toml = toml(gb, 65006, us, 65001, gr).replace(
        "afi-safi-name = \"ipv4-unicast\"",
        "afi-safi-name = \"ipv4-unicast\"\n    [neighbors.afi-safis.mp-graceful-restart.config]\n      \
         enabled = true",
    );
    let mut g = GoBgp::start(dir.path(), &tools, gb, &toml);
    g.add("10.3.6.0/24", gb);
    let mut c = config(us, 65001, gb, 65006);
    c.graceful_restart = helper_gr();
    let (_speaker, mut events, n) = active_neighbor(c).await;
    let (_neg, gr, _routes) = gr_session_up(
        &n,
        &mut events,
        peer,
        "Established with GoBGP",
        "GoBGP",
        "10.3.6.0/24",
    )
    .await;
    assert_eq!(gr.restart_time, 30);

    g.daemon.kill();
    expect_peer_down_keeping_stale(&mut events, peer).await;

    // gobgpd comes back with the restart bit; it holds its UPDATEs until our End-of-RIB.
    g.restart_with(&["-r"]);
    g.add("10.3.6.0/24", gb);
    let back = expect_gr_reestablished(&mut events, peer, "GoBGP back").await;
    end_of_rib_flushes_stale(&n, &mut events, peer, "stale routes flushed").await;
    // Started with -r, GoBGP sets the forwarding-state bit: the stale routes stay until its
    // End-of-RIB, which follows its re-announcement.
    assert!(back.preserved.contains(Family::Ipv4Unicast), "{back:?}");
}

/// `afi-safis` entries to append to [`toml`]'s neighbor.
fn more_families(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
                 afi-safi-name = \"{n}\"\n"
            )
        })
        .collect()
}

/// How the gobgp 3.10 CLI reads and prints an RD or RT: a 4-octet AS in asdot
/// (`4200000001:33` is `64086.59905:33`). Given in plain form, a 4-octet AS is silently
/// turned into 65535 (type 0).
fn asdot(admin_value: &str) -> String {
    match admin_value.split_once(':') {
        Some((asn, v)) if !asn.contains('.') && asn.parse::<u32>().is_ok_and(|a| a > 65535) => {
            let a: u32 = asn.parse().unwrap();
            format!("{}.{}:{v}", a >> 16, a & 0xffff)
        }
        _ => admin_value.to_string(),
    }
}

/// GoBGP's VPN routes (`gobgp global rib -a vpnv4|vpnv6 add … label … rd … rt …`), RDs and
/// RTs of the three layouts.
const GOBGP_VPN: [VpnRoute; 5] = [
    VpnRoute {
        rd: "65003:30",
        prefix: "10.30.0.0/24",
        label: 300,
        rt: "65003:30",
    },
    VpnRoute {
        rd: "192.0.2.3:31",
        prefix: "10.31.0.0/24",
        label: 301,
        rt: "192.0.2.3:31",
    },
    VpnRoute {
        rd: "4200000003:32",
        prefix: "10.32.0.0/24",
        label: 302,
        rt: "4200000003:32",
    },
    VpnRoute {
        rd: "192.0.2.3:36",
        prefix: "2001:db8:36::/48",
        label: 306,
        rt: "192.0.2.3:36",
    },
    VpnRoute {
        rd: "4200000003:37",
        prefix: "2001:db8:37::/48",
        label: 307,
        rt: "65003:37",
    },
];

impl GoBgp {
    fn vpn_family(r: &VpnRoute) -> &'static str {
        if r.is_v6() {
            "vpnv6"
        } else {
            "vpnv4"
        }
    }

    fn add_vpn(&self, r: &VpnRoute, next_hop: &str) {
        let (label, rd, rt) = (r.label.to_string(), asdot(r.rd), asdot(r.rt));
        let fam = Self::vpn_family(r);
        self.cli(&[
            "global", "rib", "-a", fam, "add", r.prefix, "label", &label, "rd", &rd, "rt", &rt,
            "nexthop", next_hop,
        ])
        .expect("gobgp vpn add");
    }

    /// The line of `gobgp global rib -a <family>` for `key` (`RD:prefix` or prefix), if any.
    fn rib_line(&self, family: &str, key: &str) -> Option<String> {
        let out = self.cli(&["global", "rib", "-a", family]).ok()?;
        out.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(key))
            .map(str::to_string)
    }

    /// GoBGP holds our VPN route `r`: RD, prefix, label, route target and next hop.
    fn has_vpn_route(&self, r: &VpnRoute) -> bool {
        let key = format!("{}:{}", asdot(r.rd), r.prefix);
        self.rib_line(Self::vpn_family(r), &key).is_some_and(|l| {
            l.contains(&format!(" [{}] ", r.label))
                && l.contains(&format!(" {} ", doc_next_hop(r)))
                && l.contains(&format!("{{Extcomms: [{}]}}", asdot(r.rt)))
        })
    }
}

#[tokio::test]
async fn gobgp_ipv6_vpn_and_communities_both_ways() {
    let Some(tools) = GoBgp::tools() else {
        skip(
            "gobgpd",
            "GoBGP IPv6 unicast, VPNv4/VPNv6 and communities both ways, withdrawals",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, gb) = (ip(7), ip(8));
    let peer = IpAddr::V4(gb);
    let toml = toml(gb, 65003, us, 65001, "passive-mode = true")
        + &more_families(&["ipv6-unicast", "l3vpn-ipv6-unicast"]);
    let g = GoBgp::start(dir.path(), &tools, gb, &toml);
    for p in ["2001:db8:31::/48", "2001:db8:32::/48"] {
        g.cli(&[
            "global",
            "rib",
            "-a",
            "ipv6",
            "add",
            p,
            "nexthop",
            "2001:db8::3",
        ])
        .expect("gobgp ipv6 add");
    }
    let gbs = gb.to_string();
    let rts = ["65003:300", "192.0.2.3:301", "4200000003:302"].map(asdot);
    let mut add = vec![
        "global",
        "rib",
        "-a",
        "ipv4",
        "add",
        "10.3.9.0/24",
        "nexthop",
        &gbs,
        "community",
        "65003:100,65003:200",
        "large-community",
        "4200000003:1:2",
        "rt",
    ];
    add.extend(rts.iter().map(String::as_str));
    g.cli(&add).expect("gobgp add with communities");
    for r in &GOBGP_VPN {
        g.add_vpn(
            r,
            if r.is_v6() {
                "2001:db8::3"
            } else {
                "192.0.2.3"
            },
        );
    }

    let mut c = config(us, 65001, gb, 65003);
    c.families = FamilySet::all();
    let (_speaker, mut events, n, neg) = active_session_up(c, "GoBGP").await;
    assert_eq!(neg.context.families, FamilySet::all(), "{neg:?}");

    let mut routes = expect_daemon_families(&mut events, peer, "GoBGP", 3, &GOBGP_VPN, |r| {
        if r.is_v6() {
            "2001:db8::3"
        } else {
            "192.0.2.3"
        }
        .to_string()
    })
    .await;
    assert_eq!(routes.path("2001:db8:31::/48").next_hop, "2001:db8::3");

    // Ours: IPv6 unicast with withdrawal, communities, VPN routes with withdrawal.
    our_ipv6_routes_and_withdrawal(
        &n,
        "GoBGP",
        ["2001:db8:351::/48", "2001:db8:352::/48"],
        &[65001],
        |p| g.rib_line("ipv6", p).is_some(),
    )
    .await;
    let want = format!(
        "{{Communities: 65001:100, 65001:200}} {{Extcomms: {}}} {{LargeCommunity: [ {OUR_LARGE}]}}",
        OUR_RTS.map(|rt| format!("[{}]", asdot(rt))).join(", ")
    );
    our_communities_arrive(&n, "GoBGP", "10.39.0.0/24", &[65001], NEXT_HOP, || {
        g.rib_line("ipv4", "10.39.0.0/24")
            .is_some_and(|l| l.contains(&want))
    })
    .await;
    our_vpn_routes_and_withdrawal(&n, "GoBGP", &[65001], |r| g.has_vpn_route(r)).await;

    // GoBGP withdraws an IPv6 route and a VPN route.
    g.cli(&["global", "rib", "-a", "ipv6", "del", "2001:db8:32::/48"])
        .expect("gobgp ipv6 del");
    let gone = GOBGP_VPN[4];
    let (rd, label) = (asdot(gone.rd), gone.label.to_string());
    g.cli(&[
        "global",
        "rib",
        "-a",
        "vpnv6",
        "del",
        gone.prefix,
        "label",
        &label,
        "rd",
        &rd,
    ])
    .expect("gobgp vpnv6 del");
    routes
        .until(&mut events, peer, "GoBGP's IPv6 and VPN withdrawals", |r| {
            !r.has6("2001:db8:32::/48") && !r.paths.contains_key(&gone.key())
        })
        .await;
    assert!(routes.has6("2001:db8:31::/48"));
    assert!(routes.paths.contains_key(&GOBGP_VPN[3].key()));
}
