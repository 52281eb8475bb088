//! Interop with FRR's bgpd (Debian package `frr`), run without zebra or watchfrr: each test
//! writes its own bgpd.conf into a temp dir, starts `bgpd -Z -S -n -l <addr> -p <port>` with
//! its pid file and vty socket there, talks to it with `vtysh --vty_socket <dir> -d bgpd`,
//! and kills it by PID at the end (a Drop guard, so also on panic).
//! Addresses 127.N.2.x are this file's (N from the process id); nothing leaves loopback.

mod interop_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use bgp::session::{NeighborConfig, Reason, State};
use bgp::{Family, FamilySet};
use interop_support::*;

const FRR_PORT: u16 = 10179;
const NEXT_HOP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1); // FRR refuses 127/8 next hops

fn ip(last: u8) -> Ipv4Addr {
    loopback(2, last)
}

struct Frr {
    daemon: Daemon,
    bgpd: PathBuf,
    vtysh: PathBuf,
    listen: Ipv4Addr,
    conf: String,
}

impl Frr {
    fn tools() -> Option<(PathBuf, PathBuf)> {
        Some((find("bgpd")?, find("vtysh")?))
    }

    fn start(dir: &Path, tools: &(PathBuf, PathBuf), listen: Ipv4Addr, conf: &str) -> Frr {
        std::fs::write(dir.join("bgpd.conf"), conf).expect("write bgpd.conf");
        let frr = Frr {
            daemon: Daemon::spawn("bgpd", dir, bgpd_command(&tools.0, listen, dir)),
            bgpd: tools.0.clone(),
            vtysh: tools.1.clone(),
            listen,
            conf: conf.to_string(),
        };
        frr.wait_for_vty();
        frr
    }

    /// Kills bgpd and starts it again with the same configuration.
    fn restart(&mut self) {
        self.daemon.kill();
        let dir = self.daemon.dir.clone();
        let _ = std::fs::remove_file(dir.join("bgpd.vty"));
        self.daemon = Daemon::spawn("bgpd", &dir, bgpd_command(&self.bgpd, self.listen, &dir));
        self.wait_for_vty();
    }

    fn wait_for_vty(&self) {
        self.daemon
            .wait_ready(&self.conf, || self.vtysh(&["show bgp summary"]).is_ok());
    }

    fn vtysh(&self, commands: &[&str]) -> Result<String, String> {
        let dir = self.daemon.dir.to_string_lossy().into_owned();
        let mut args = vec!["--vty_socket", &dir, "-d", "bgpd"];
        for c in commands {
            args.push("-c");
            args.push(c);
        }
        cli(&self.vtysh, &args)
    }

    /// Runs configuration commands under `router bgp <asn>`.
    fn configure(&self, asn: u32, lines: &[&str]) {
        let router = format!("router bgp {asn}");
        let mut cmds = vec!["configure terminal", router.as_str()];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds).expect("vtysh configure");
    }

    /// `show bgp ipv4 unicast json`: does the RIB hold `prefix`?
    fn has_route(&self, prefix: &str) -> bool {
        self.vtysh(&["show bgp ipv4 unicast json"])
            .is_ok_and(|j| j.contains(&format!("\"{prefix}\"")))
    }

    /// `show bgp ipv4|ipv6 vpn rd <rd> <prefix>`: FRR holds the VPN route `r` as we sent it
    /// (RD, prefix, label, route target, our next hop).
    fn has_vpn_route(&self, r: &VpnRoute) -> bool {
        let af = if r.is_v6() { "ipv6" } else { "ipv4" };
        let nh = doc_next_hop(r).to_string();
        self.vtysh(&[&format!("show bgp {af} vpn rd {} {}", r.rd, r.prefix)])
            .is_ok_and(|t| {
                t.contains(&format!("routing table entry for {},", r.key()))
                    && t.contains(&format!("\n    {nh} from "))
                    && t.contains(&format!("Extended Community: RT:{}\n", r.rt))
                    && t.contains(&format!("Remote label: {}\n", r.label))
            })
    }

    fn version(&self) -> String {
        cli(&self.bgpd, &["--version"])
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// bgpd alone: no zebra (-Z), no kernel routes (-n), no user switch (-S), BGP only on
/// `listen`, no vty TCP port (-P 0), files in `dir`.
fn bgpd_command(bgpd: &Path, listen: Ipv4Addr, dir: &Path) -> Command {
    let mut cmd = Command::new(bgpd);
    cmd.args(["-Z", "-S", "-n", "-l"])
        .arg(listen.to_string())
        .args(["-p", &FRR_PORT.to_string(), "-P", "0", "-f"])
        .arg(dir.join("bgpd.conf"))
        .arg("-i")
        .arg(dir.join("bgpd.pid"))
        .arg("--vty_socket")
        .arg(dir);
    cmd
}

fn config(me: Ipv4Addr, my_as: u32, peer: Ipv4Addr, peer_as: u32) -> NeighborConfig {
    daemon_neighbor(me, my_as, peer, peer_as, FRR_PORT)
}

#[tokio::test]
async fn frr_we_connect_routes_both_ways_refresh_and_shutdown() {
    let Some(tools) = Frr::tools() else {
        skip(
            "frr",
            "FRR session (we active), routes both ways, withdraw, route refresh, shutdown",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, frr_ip) = (ip(1), ip(2));
    let peer = IpAddr::V4(frr_ip);
    let conf = format!(
        "hostname frr-a\nlog stdout informational\n!\nrouter bgp 65002\n bgp router-id {frr_ip}\n \
         no bgp ebgp-requires-policy\n no bgp network import-check\n \
         neighbor {us} remote-as 65001\n neighbor {us} passive\n neighbor {us} timers 3 9\n \
         address-family ipv4 unicast\n  network 10.2.1.0/24\n  network 10.2.2.0/24\n \
         exit-address-family\n address-family ipv6 unicast\n  network 2001:db8:2::/48\n  \
         neighbor {us} activate\n exit-address-family\n!\n"
    );
    let frr = Frr::start(dir.path(), &tools, frr_ip, &conf);
    println!("{}", frr.version());

    let mut c = config(us, 65001, frr_ip, 65002);
    c.families = [Family::Ipv4Unicast, Family::Ipv6Unicast]
        .into_iter()
        .collect();
    let (_speaker, mut events, n, neg) = active_session_up(c, "FRR").await;

    // FRR announces its two networks.
    assert!(neg.context.families.contains(Family::Ipv6Unicast));
    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "FRR's routes", |r| {
            r.has("10.2.1.0/24") && r.has("10.2.2.0/24") && r.has6("2001:db8:2::/48")
        })
        .await;

    // IPv6 unicast over the IPv4 session, in MP_REACH_NLRI.
    n.send_update(&announce6(
        &["2001:db8:201::/48"],
        65001,
        "2001:db8::1".parse().unwrap(),
    ))
    .await
    .unwrap();
    poll_until("our IPv6 route in FRR's RIB", || {
        frr.vtysh(&["show bgp ipv6 unicast json"])
            .is_ok_and(|j| j.contains("\"2001:db8:201::/48\""))
    })
    .await;

    // We announce two routes; FRR's RIB shows them.
    // Then we withdraw the first: only the second is left.
    our_routes_and_withdrawal(
        &n,
        "FRR's RIB",
        ["10.201.1.0/24", "10.201.2.0/24"],
        NEXT_HOP,
        |p| frr.has_route(p),
    )
    .await;

    // FRR withdraws one of its networks.
    frr.configure(
        65002,
        &["address-family ipv4 unicast", "no network 10.2.2.0/24"],
    );
    expect_their_withdrawal(
        &mut routes,
        &mut events,
        peer,
        "FRR",
        "10.2.2.0/24",
        "10.2.1.0/24",
    )
    .await;

    // Route refresh: FRR sends its Adj-RIB-Out again.
    route_refresh_resends(&n, &mut routes, &mut events, peer, "FRR").await;

    // FRR shuts the session down with a message.
    frr.configure(
        65002,
        &[&format!("neighbor {us} shutdown message maintenance")],
    );
    let reason = expect_admin_shutdown(&mut events, peer, "FRR").await;
    assert!(matches!(reason, Reason::NotificationReceived(_)));
    drop(frr);
}

#[tokio::test]
async fn frr_connects_to_us_and_graceful_restart_keeps_routes_when_killed() {
    let Some(tools) = Frr::tools() else {
        skip(
            "frr",
            "FRR session (we passive), killed daemon seen, graceful restart helper against FRR",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, frr_ip) = (ip(3), ip(4));
    let peer = IpAddr::V4(frr_ip);
    let our_port = 10180;
    // iBGP this time; FRR connects to our port from its own address.
    let conf = format!(
        "hostname frr-b\nlog stdout informational\n!\nrouter bgp 65010\n bgp router-id {frr_ip}\n \
         no bgp network import-check\n bgp graceful-restart\n \
         bgp graceful-restart preserve-fw-state\n bgp graceful-restart restart-time 30\n \
         bgp graceful-restart select-defer-time 1\n \
         neighbor {us} remote-as 65010\n neighbor {us} port {our_port}\n \
         neighbor {us} update-source {frr_ip}\n neighbor {us} timers connect 1\n \
         neighbor {us} timers 3 9\n \
         address-family ipv4 unicast\n  network 10.4.1.0/24\n exit-address-family\n!\n"
    );
    let mut c = config(us, 65010, frr_ip, 65010);
    c.graceful_restart = helper_gr();
    let (_speaker, mut events, n) = passive_neighbor(us, our_port, c).await;
    let mut frr = Frr::start(dir.path(), &tools, frr_ip, &conf);

    let (neg, _gr, _routes) = gr_session_up(
        &n,
        &mut events,
        peer,
        "FRR connects to us",
        "FRR",
        "10.4.1.0/24",
    )
    .await;
    assert!(neg.ibgp);

    // bgpd is killed: no NOTIFICATION, the connection just closes; the routes stay, stale.
    frr.daemon.kill();
    expect_peer_down_keeping_stale(&mut events, peer).await;
    assert_ne!(n.state(), State::Established);

    // bgpd comes back (restart bit set), we send End-of-RIB, it re-announces and sends its
    // End-of-RIB: the stale routes are flushed.
    frr.restart();
    expect_gr_reestablished(&mut events, peer, "FRR back").await;
    end_of_rib_flushes_stale(&n, &mut events, peer, "stale routes flushed at End-of-RIB").await;
    drop(frr);
}

/// FRR's VPN routes: `network … rd … label … route-map` under `address-family ipv4|ipv6 vpn`
/// of the default instance (no VRF, so no kernel VRF device is needed); the route-maps set
/// the route targets. RDs and RTs of the three layouts.
const FRR_VPN: [VpnRoute; 4] = [
    VpnRoute {
        rd: "65002:20",
        prefix: "10.20.0.0/24",
        label: 200,
        rt: "65002:20",
    },
    VpnRoute {
        rd: "192.0.2.2:21",
        prefix: "10.21.0.0/24",
        label: 201,
        rt: "192.0.2.2:21",
    },
    VpnRoute {
        rd: "4200000002:22",
        prefix: "10.22.0.0/24",
        label: 202,
        rt: "4200000002:22",
    },
    VpnRoute {
        rd: "65002:26",
        prefix: "2001:db8:26::/48",
        label: 206,
        rt: "4200000002:26",
    },
];

#[tokio::test]
async fn frr_ipv6_vpn_and_communities_both_ways() {
    let Some(tools) = Frr::tools() else {
        skip(
            "frr",
            "FRR IPv6 unicast, VPNv4/VPNv6 and communities both ways, withdrawals",
        );
        return;
    };
    init_tracing();
    let dir = tempfile::tempdir().expect("temp dir");
    let (us, frr_ip) = (ip(5), ip(6));
    let peer = IpAddr::V4(frr_ip);
    let mut conf = String::from(
        "hostname frr-c\nlog stdout informational\n!\n\
         route-map COMM permit 10\n set community 65002:100 65002:200\n \
         set extcommunity rt 65002:300 192.0.2.2:301 4200000002:302\n \
         set large-community 4200000002:1:2\n!\n",
    );
    for (i, r) in FRR_VPN.iter().enumerate() {
        conf += &format!(
            "route-map VPN{i} permit 10\n set extcommunity rt {}\n!\n",
            r.rt
        );
    }
    conf += &format!(
        "router bgp 65002\n bgp router-id {frr_ip}\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n neighbor {us} remote-as 65001\n neighbor {us} passive\n \
         neighbor {us} timers 3 9\n address-family ipv4 unicast\n  \
         network 10.2.9.0/24 route-map COMM\n exit-address-family\n \
         address-family ipv6 unicast\n  network 2001:db8:21::/48\n  network 2001:db8:22::/48\n  \
         neighbor {us} activate\n exit-address-family\n"
    );
    for af in ["ipv4", "ipv6"] {
        conf += &format!(" address-family {af} vpn\n");
        for (i, r) in FRR_VPN.iter().enumerate() {
            if r.is_v6() == (af == "ipv6") {
                conf += &format!(
                    "  network {} rd {} label {} route-map VPN{i}\n",
                    r.prefix, r.rd, r.label
                );
            }
        }
        conf += &format!("  neighbor {us} activate\n exit-address-family\n");
    }
    conf += "!\n";
    let frr = Frr::start(dir.path(), &tools, frr_ip, &conf);

    let mut c = config(us, 65001, frr_ip, 65002);
    c.families = FamilySet::all();
    let (_speaker, mut events, n, neg) = active_session_up(c, "FRR").await;
    assert_eq!(neg.context.families, FamilySet::all(), "{neg:?}");

    // FRR's routes: IPv6 unicast, communities on an IPv4 route, VPN routes. eBGP: FRR's own
    // address as next hop; for VPNv6 over an IPv4 session its IPv4-mapped form.
    let mut routes = expect_daemon_families(&mut events, peer, "FRR", 2, &FRR_VPN, |r| {
        if r.is_v6() {
            format!("::ffff:{frr_ip}")
        } else {
            frr_ip.to_string()
        }
    })
    .await;

    // Ours: IPv6 unicast with withdrawal, communities, VPN routes with withdrawal.
    our_ipv6_routes_and_withdrawal(
        &n,
        "FRR",
        ["2001:db8:251::/48", "2001:db8:252::/48"],
        &[65001],
        |p| {
            frr.vtysh(&["show bgp ipv6 unicast json"])
                .is_ok_and(|j| j.contains(&format!("\"{p}\"")))
        },
    )
    .await;
    our_communities_arrive(&n, "FRR", "10.201.9.0/24", &[65001], NEXT_HOP, || {
        frr.vtysh(&["show bgp ipv4 unicast 10.201.9.0/24"])
            .is_ok_and(|t| {
                t.contains("Community: 65001:100 65001:200\n")
                    && t.contains(
                        "Extended Community: RT:65001:300 RT:192.0.2.1:301 RT:4200000001:302\n",
                    )
                    && t.contains("Large Community: 4200000001:1:2\n")
            })
    })
    .await;
    our_vpn_routes_and_withdrawal(&n, "FRR", &[65001], |r| frr.has_vpn_route(r)).await;

    // FRR withdraws an IPv6 network and a VPN network.
    frr.configure(
        65002,
        &["address-family ipv6 unicast", "no network 2001:db8:22::/48"],
    );
    let gone = FRR_VPN[1];
    frr.configure(
        65002,
        &[
            "address-family ipv4 vpn",
            &format!(
                "no network {} rd {} label {}",
                gone.prefix, gone.rd, gone.label
            ),
        ],
    );
    routes
        .until(&mut events, peer, "FRR's IPv6 and VPN withdrawals", |r| {
            !r.has6("2001:db8:22::/48") && !r.paths.contains_key(&gone.key())
        })
        .await;
    assert!(routes.has6("2001:db8:21::/48"));
    assert!(routes.paths.contains_key(&FRR_VPN[0].key()));
    drop(frr);
}
