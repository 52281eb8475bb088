//! End-to-end: the `p4vrf run` daemon (embedded switch) with FRR's bgpd and BIRD as CE
//! neighbors of a VRF, IPv4 and IPv6 unicast over one IPv4 session each way:
//!
//! * the CE's routes enter the VRF (`show bgp vrf … unicast`) and become P4 route entries
//!   (`show p4 entries`, read from the switch);
//! * the VRF's redistributed statics reach the CE with our IPv4 and IPv6 next hops
//!   (`next-hop`, `next-hop-ipv6`);
//! * a withdrawal at the CE removes its route and the P4 entry; killing the CE removes the rest.
//!
//! (GoBGP as a CE is covered by `seed_peers.rs`.) Loopback addresses 127.N.8.(16·test + host),
//! N from the process id; every daemon runs in its own temp dir and is killed by PID when the
//! test ends. Without bgpd/vtysh or bird/birdc the test prints one `SKIP:` line and passes.

mod support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// BGP port of every speaker (each on its own address).
const BGP_PORT: u16 = 1179;
/// This file's third address byte (`seed_peers.rs` uses 7).
const FILE: u8 = 8;

/// 127.N.8.(16·test + host).
fn ip(test: u8, host: u8) -> Ipv4Addr {
    let n = 16 + (std::process::id() % 224) as u8;
    Ipv4Addr::new(127, n, FILE, test * 16 + host)
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("p4vrf-vrf-ce-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// VRF CUST with interface e1 (10.0.0.1/24, 2001:db8::1/64; the CE's next hops 10.0.0.2 and
/// 2001:db8::2 are configured neighbors there), two redistributed statics, and the CE `ce` in
/// AS 65002 carrying both unicast families.
fn p4vrf_config(me: Ipv4Addr, ce: Ipv4Addr) -> String {
    format!(
        r#"[router]
mac = "02:00:00:00:00:01"

[[vrf]]
name = "CUST"
rd = "65001:1"
redistribute = ["static"]
  [[vrf.static]]
  prefix = "10.9.0.0/24"
  next-hop = ["10.0.0.2"]
  [[vrf.static]]
  prefix = "2001:db8:9::/48"
  next-hop = ["2001:db8::2"]

[[interface]]
name = "e1"
port = 1
vrf = "CUST"
address = ["10.0.0.1/24", "2001:db8::1/64"]
  [[interface.neighbor]]
  ip = "10.0.0.2"
  mac = "02:00:00:00:00:02"
  [[interface.neighbor]]
  ip = "2001:db8::2"
  mac = "02:00:00:00:00:02"

[bgp]
asn = 65001
router-id = "1.1.1.1"
listen = ["{me}:{BGP_PORT}"]

[[bgp.neighbor]]
address = "{ce}"
vrf = "CUST"
remote-as = 65002
port = {BGP_PORT}
local-address = "{me}"
connect-retry = 1
hold-time = 9
families = ["ipv4-unicast", "ipv6-unicast"]
next-hop = "10.0.0.1"
next-hop-ipv6 = "2001:db8::1"
"#
    )
}

/// `show p4 entries` holds a route entry for `prefix` towards a next hop.
fn has_route_entry(p4vrf: &P4vrf, prefix: &str) -> bool {
    p4vrf.show("p4 entries").lines().any(|l| {
        l.contains("_vrf_lpm ")
            && l.contains(&format!(" dst_addr={prefix} "))
            && l.contains("set_nexthop(")
    })
}

/// The line of `prefix` in `show bgp vrf CUST ipv4|ipv6 unicast`, if any.
fn bgp_vrf_line(p4vrf: &P4vrf, af: &str, prefix: &str) -> Option<String> {
    p4vrf
        .show(&format!("bgp vrf CUST {af} unicast"))
        .lines()
        .find(|l| l.contains(prefix))
        .map(str::to_string)
}

/// The common flow: the CE (already configured to announce 10.2.1.0/24, 10.2.2.0/24 and
/// 2001:db8:2::/48 with next hops 10.0.0.2 / 2001:db8::2) against the daemon; `ce_has(prefix,
/// next_hop)` reads the CE's table, `withdraw` withdraws 10.2.2.0/24 at the CE, `kill` kills it.
fn ce_flow(
    p4vrf: &P4vrf,
    ce_addr: Ipv4Addr,
    ce_has: impl Fn(&str, &str) -> bool,
    withdraw: impl FnOnce(),
    kill: impl FnOnce(),
) {
    p4vrf.wait_established(ce_addr.into());
    // The CE's routes, both families, in the VRF's BGP table and on the switch.
    for (af, prefix) in [
        ("ipv4", "10.2.1.0/24"),
        ("ipv4", "10.2.2.0/24"),
        ("ipv6", "2001:db8:2::/48"),
    ] {
        poll(&format!("{prefix} from the CE on the switch"), || {
            if has_route_entry(p4vrf, prefix) {
                Ok(())
            } else {
                Err(format!(
                    "{}\n{}",
                    p4vrf.show("p4 entries"),
                    p4vrf.show(&format!("bgp vrf CUST {af} unicast"))
                ))
            }
        });
        let line = bgp_vrf_line(p4vrf, af, prefix).expect("in the VRF's BGP table");
        assert!(
            line.starts_with("*> ") && line.contains("65002"),
            "{prefix}: {line}"
        );
    }
    // Our redistributed statics at the CE, with our next hop of each family.
    poll("the VRF's statics at the CE", || {
        if ce_has("10.9.0.0/24", "10.0.0.1") && ce_has("2001:db8:9::/48", "2001:db8::1") {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    });

    // A withdrawal at the CE removes the route and its P4 entry, nothing else.
    withdraw();
    poll("10.2.2.0/24 to leave the switch", || {
        if has_route_entry(p4vrf, "10.2.2.0/24") {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    });
    assert!(bgp_vrf_line(p4vrf, "ipv4", "10.2.2.0/24").is_none());
    assert!(has_route_entry(p4vrf, "10.2.1.0/24"));

    // The CE dies: everything it sent leaves, the statics stay.
    kill();
    poll("the CE's routes to leave the switch", || {
        if has_route_entry(p4vrf, "10.2.1.0/24") || has_route_entry(p4vrf, "2001:db8:2::/48") {
            Err(p4vrf.show("p4 entries"))
        } else {
            Ok(())
        }
    });
    assert!(has_route_entry(p4vrf, "10.9.0.0/24"));
    assert!(has_route_entry(p4vrf, "2001:db8:9::/48"));
    assert!(p4vrf.log().contains("session down"), "{}", p4vrf.log());
}

/// Prints the logs of the test's daemons when it fails.
struct LogsOnPanic(Vec<PathBuf>);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for l in &self.0 {
                let text = strip_ansi(&std::fs::read_to_string(l).unwrap_or_default());
                eprintln!("===== {} =====\n{text}", l.display());
            }
        }
    }
}

// ----- FRR -----------------------------------------------------------------------------------

/// bgpd without zebra (`-Z`), its vty socket and pid file in `dir`.
fn start_bgpd(bgpd: &Path, vtysh: &Path, dir: &Path, listen: Ipv4Addr, conf: &str) -> Proc {
    std::fs::write(dir.join("bgpd.conf"), conf).expect("write bgpd.conf");
    let mut cmd = Command::new(bgpd);
    cmd.args(["-Z", "-S", "-n", "-l"])
        .arg(listen.to_string())
        .args(["-p", &BGP_PORT.to_string(), "-P", "0", "-f"])
        .arg(dir.join("bgpd.conf"))
        .arg("-i")
        .arg(dir.join("bgpd.pid"))
        .arg("--vty_socket")
        .arg(dir);
    let mut p = Proc::spawn("bgpd", dir, cmd);
    poll("bgpd's vty", || {
        if !p.alive() {
            panic!("bgpd exited:\n{}", p.log());
        }
        vtysh_run(vtysh, dir, &["show bgp summary"])
    });
    p
}

fn vtysh_run(vtysh: &Path, dir: &Path, commands: &[&str]) -> Result<String, String> {
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec!["--vty_socket", &dir, "-d", "bgpd"];
    for c in commands {
        args.push("-c");
        args.push(c);
    }
    run_cli(vtysh, &args)
}

#[test]
fn frr_ce_exchanges_ipv4_and_ipv6_unicast_in_a_vrf_down_to_p4_entries() {
    let (Some(bgpd), Some(vtysh)) = (find("bgpd"), find("vtysh")) else {
        println!("SKIP: FRR (bgpd, vtysh) not installed: FRR CE in a VRF against the daemon");
        return;
    };
    let dir = temp_dir("frr");
    let (me, ce) = (ip(1, 1), ip(1, 2));
    // The CE announces its networks with next hops on the VRF's subnet (FRR's own address
    // would be a loopback one the VRF cannot reach), and takes ours as they come.
    let conf = format!(
        "hostname ce-frr\nlog stdout informational\n!\n\
         route-map TO-PE permit 10\n set ip next-hop 10.0.0.2\n set ipv6 next-hop global 2001:db8::2\n!\n\
         router bgp 65002\n bgp router-id {ce}\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n \
         neighbor {me} remote-as 65001\n neighbor {me} port {BGP_PORT}\n \
         neighbor {me} update-source {ce}\n neighbor {me} timers 3 9\n \
         neighbor {me} timers connect 1\n neighbor {me} disable-connected-check\n \
         address-family ipv4 unicast\n  network 10.2.1.0/24\n  network 10.2.2.0/24\n  \
         neighbor {me} route-map TO-PE out\n exit-address-family\n \
         address-family ipv6 unicast\n  network 2001:db8:2::/48\n  neighbor {me} activate\n  \
         neighbor {me} route-map TO-PE out\n exit-address-family\n!\n"
    );
    let p4vrf = P4vrf::start(&dir, &p4vrf_config(me, ce));
    let mut frr = start_bgpd(&bgpd, &vtysh, &dir, ce, &conf);
    let _logs = LogsOnPanic(vec![dir.join("p4vrf.log"), dir.join("bgpd.log")]);

    let ce_has = |prefix: &str, next_hop: &str| {
        let af = if prefix.contains(':') { "ipv6" } else { "ipv4" };
        vtysh_run(
            &vtysh,
            &dir,
            &[&format!("show bgp {af} unicast {prefix} json")],
        )
        .is_ok_and(|j| j.contains(&format!("\"ip\":\"{next_hop}\"")))
    };
    ce_flow(
        &p4vrf,
        ce,
        ce_has,
        || {
            vtysh_run(
                &vtysh,
                &dir,
                &[
                    "configure terminal",
                    "router bgp 65002",
                    "address-family ipv4 unicast",
                    "no network 10.2.2.0/24",
                ],
            )
            .expect("vtysh: withdraw 10.2.2.0/24");
        },
        || frr.kill(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- BIRD ----------------------------------------------------------------------------------

fn birdc_run(birdc: &Path, dir: &Path, args: &[&str]) -> Result<String, String> {
    let ctl = dir.join("bird.ctl");
    let ctl = ctl.to_string_lossy().into_owned();
    let mut all = vec!["-s", &ctl];
    all.extend_from_slice(args);
    let out = run_cli(birdc, &all)?;
    // birdc exits 0 even when the command failed; errors start with a code ≥ 8000.
    if out
        .lines()
        .any(|l| l.starts_with("syntax error") || l.starts_with("80"))
    {
        return Err(out);
    }
    Ok(out)
}

#[test]
fn bird_ce_exchanges_ipv4_and_ipv6_unicast_in_a_vrf_down_to_p4_entries() {
    let (Some(bird), Some(birdc)) = (find("bird"), find("birdc")) else {
        println!("SKIP: BIRD (bird, birdc) not installed: BIRD CE in a VRF against the daemon");
        return;
    };
    let dir = temp_dir("bird");
    let (me, ce) = (ip(2, 1), ip(2, 2));
    // Static routes, sent with the CE's addresses on the VRF's subnet as next hops (`next hop
    // address`: its session address is a loopback one the VRF cannot reach); one protocol for
    // 10.2.2.0/24 so it can be withdrawn alone.
    let conf = format!(
        "router id {ce};\nlog stderr all;\nprotocol device {{ }}\n\
         protocol static s4 {{ ipv4; route 10.2.1.0/24 via 10.0.0.2%lo onlink; }}\n\
         protocol static s4b {{ ipv4; route 10.2.2.0/24 via 10.0.0.2%lo onlink; }}\n\
         protocol static s6 {{ ipv6; route 2001:db8:2::/48 via 2001:db8::2%lo onlink; }}\n\
         protocol bgp to_pe {{\n  local {ce} port {BGP_PORT} as 65002;\n  \
         neighbor {me} port {BGP_PORT} as 65001;\n  strict bind yes;\n  multihop;\n  \
         hold time 9;\n  keepalive time 3;\n  connect retry time 1;\n  connect delay time 1;\n  \
         ipv4 {{ import all; export all; next hop self; next hop address 10.0.0.2; }};\n  \
         ipv6 {{ import all; export all; next hop self; next hop address 2001:db8::2; }};\n}}\n"
    );
    std::fs::write(dir.join("bird.conf"), &conf).expect("write bird.conf");
    let p4vrf = P4vrf::start(&dir, &p4vrf_config(me, ce));
    let mut cmd = Command::new(&bird);
    cmd.arg("-f")
        .arg("-c")
        .arg(dir.join("bird.conf"))
        .arg("-s")
        .arg(dir.join("bird.ctl"))
        .arg("-P")
        .arg(dir.join("bird.pid"));
    let mut bird_proc = Proc::spawn("bird", &dir, cmd);
    poll("bird's control socket", || {
        if !bird_proc.alive() {
            panic!("bird exited:\n{}", bird_proc.log());
        }
        birdc_run(&birdc, &dir, &["show", "status"])
    });
    let _logs = LogsOnPanic(vec![dir.join("p4vrf.log"), dir.join("bird.log")]);

    let ce_has = |prefix: &str, next_hop: &str| {
        birdc_run(&birdc, &dir, &["show", "route", prefix, "all"]).is_ok_and(|out| {
            out.lines().any(|l| l.starts_with(prefix))
                && out
                    .lines()
                    .any(|l| l.contains("BGP.next_hop:") && l.contains(next_hop))
        })
    };
    ce_flow(
        &p4vrf,
        ce,
        ce_has,
        || {
            birdc_run(&birdc, &dir, &["disable", "s4b"]).expect("birdc disable s4b");
        },
        || bird_proc.kill(),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
