//! Interop with BIRD 2 (Debian package `bird2`): each test writes its own bird.conf into a
//! temp dir, starts `bird -f -c <conf> -s <dir>/bird.ctl -P <dir>/bird.pid` (foreground),
//! drives it with `birdc -s <dir>/bird.ctl` and kills it by PID at the end (Drop guard).
//! `strict bind` keeps BIRD's listener on its own 127.N.4.x address; nothing leaves loopback.

mod interop_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bgp::session::{
    Event, GracefulRestartConfig, NeighborConfig, Reason, Speaker, SpeakerConfig, StaleCause, State,
};
use bgp::Family;
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
        let deadline = std::time::Instant::now() + WAIT;
        while self.birdc(&["show", "status"]).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "bird did not come up:\n{}",
                self.daemon.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
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
    let mut c = NeighborConfig::new(IpAddr::V4(peer), my_as, peer_as, me);
    c.local_addr = Some(IpAddr::V4(me));
    c.remote_port = BIRD_PORT;
    c.hold_time = 9;
    c.timers.connect_retry = Duration::from_secs(1);
    c.timers.idle_hold = Duration::from_millis(200);
    c.timers.max_backoff = Duration::from_secs(2);
    c
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

    let (speaker, mut events) = Speaker::bind(SpeakerConfig::default()).await.unwrap();
    let mut c = config(us, 65001, bird_ip, 65004);
    c.hold_time = 30; // the daemon's 9 s wins: the minimum
    let n = speaker.add_neighbor(c).unwrap();
    n.start().await.unwrap();
    let Event::Established(neg) = expect(&mut events, peer, "Established with BIRD", |e| {
        matches!(e, Event::Established(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(neg.context.four_octet_as && neg.route_refresh, "{neg:?}");
    assert_eq!((neg.hold_time, neg.remote_as), (9, 65004));

    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "BIRD's routes", |r| {
            r.has("10.4.2.0/24") && r.has("10.5.2.0/24")
        })
        .await;

    n.send_update(&announce(&["10.41.0.0/24", "10.42.0.0/24"], 65001, us))
        .await
        .unwrap();
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    poll_until("our routes in BIRD's table", || {
        b.has_route("10.41.0.0/24") && b.has_route("10.42.0.0/24")
    })
    .await;

    n.send_update(&withdraw(&["10.41.0.0/24"])).await.unwrap();
    poll_until("our withdrawal in BIRD's table", || {
        !b.has_route("10.41.0.0/24") && b.has_route("10.42.0.0/24")
    })
    .await;
    b.birdc(&["disable", "sb"]).expect("birdc disable sb");
    routes
        .until(&mut events, peer, "BIRD's withdrawal", |r| {
            !r.has("10.5.2.0/24")
        })
        .await;
    assert!(routes.has("10.4.2.0/24"));

    let before = routes.announcements;
    n.send_route_refresh(Family::Ipv4Unicast).await.unwrap();
    routes
        .until(
            &mut events,
            peer,
            "BIRD resending after ROUTE-REFRESH",
            |r| r.announcements > before,
        )
        .await;

    b.birdc(&["disable", "peer1", "\"maintenance\""])
        .expect("birdc disable peer1");
    let ev = expect(&mut events, peer, "BIRD's Cease", |e| {
        matches!(e, Event::PeerDown { .. })
    })
    .await;
    let Event::PeerDown { reason, .. } = ev else {
        unreachable!()
    };
    assert_eq!(
        reason.to_string(),
        "received Cease/Administrative Shutdown \"maintenance\""
    );
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
    let (speaker, mut events) = Speaker::bind(SpeakerConfig {
        listen: vec![SocketAddr::new(IpAddr::V4(us), our_port)],
        ..SpeakerConfig::default()
    })
    .await
    .unwrap();
    let mut c = config(us, 65040, bird_ip, 65040);
    c.passive = true;
    let n = speaker.add_neighbor(c).unwrap();
    n.start().await.unwrap();
    // BIRD connects to our port (`neighbor ... port`), listening itself on its own.
    let mut b = Bird::start(
        dir.path(),
        &tools,
        &conf_port(bird_ip, 65040, us, our_port, 65040, ""),
    );

    let Event::Established(neg) = expect(&mut events, peer, "BIRD connects to us", |e| {
        matches!(e, Event::Established(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(neg.ibgp);
    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "BIRD's routes", |r| r.has("10.4.4.0/24"))
        .await;
    n.send_update(&announce_ibgp(&["10.44.0.0/24"], us))
        .await
        .unwrap();
    poll_until("our iBGP route in BIRD's table", || {
        b.has_route("10.44.0.0/24")
    })
    .await;

    b.daemon.kill();
    let ev = expect(&mut events, peer, "peer down after kill", |e| {
        matches!(e, Event::PeerDown { .. })
    })
    .await;
    let Event::PeerDown { reason, stale } = ev else {
        unreachable!()
    };
    assert!(matches!(reason, Reason::ConnectionFailed(_)), "{reason:?}");
    assert_eq!(stale.iter().count(), 0);

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
    let (speaker, mut events) = Speaker::bind(SpeakerConfig::default()).await.unwrap();
    let mut c = config(us, 65001, bird_ip, 65006);
    c.graceful_restart = Some(GracefulRestartConfig {
        restart_time: 30,
        stale_routes_time: Duration::from_secs(30),
    });
    let n = speaker.add_neighbor(c).unwrap();
    n.start().await.unwrap();
    let Event::Established(neg) = expect(&mut events, peer, "Established with BIRD", |e| {
        matches!(e, Event::Established(_))
    })
    .await
    else {
        unreachable!()
    };
    let gr = neg.graceful_restart.expect("GR negotiated with BIRD");
    assert_eq!(gr.restart_time, 30);
    assert!(gr.families.contains(Family::Ipv4Unicast), "{gr:?}");
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    let mut routes = Routes::default();
    routes
        .until(&mut events, peer, "BIRD's route", |r| r.has("10.4.6.0/24"))
        .await;

    b.daemon.kill();
    let ev = expect(&mut events, peer, "peer down after kill", |e| {
        matches!(e, Event::PeerDown { .. })
    })
    .await;
    let Event::PeerDown { reason, stale } = ev else {
        unreachable!()
    };
    assert!(matches!(reason, Reason::ConnectionFailed(_)), "{reason:?}");
    assert!(stale.contains(Family::Ipv4Unicast), "routes kept stale");

    // bird -R: graceful restart recovery, restart bit set; its routes follow our End-of-RIB.
    b.restart_with(&["-R"]);
    let Event::Established(neg) = expect(&mut events, peer, "BIRD back", |e| {
        matches!(e, Event::Established(_))
    })
    .await
    else {
        unreachable!()
    };
    let back = neg.graceful_restart.expect("GR again");
    assert!(back.restarting, "{back:?}");
    n.send_end_of_rib(Family::Ipv4Unicast).await.unwrap();
    let ev = expect(&mut events, peer, "stale routes flushed", |e| {
        matches!(e, Event::StaleFlush { .. })
    })
    .await;
    // With -R, BIRD sets the forwarding-state bit: the stale routes stay until its End-of-RIB.
    assert!(back.preserved.contains(Family::Ipv4Unicast), "{back:?}");
    assert_eq!(
        ev,
        Event::StaleFlush {
            family: Family::Ipv4Unicast,
            cause: StaleCause::EndOfRib
        }
    );
}
