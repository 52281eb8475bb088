//! The binary as a user runs it: `p4vrf check` and `p4vrf run --once`.

mod common;

use std::process::Command;

fn p4vrf() -> Command {
    Command::new(env!("CARGO_BIN_EXE_p4vrf"))
}

#[test]
fn check_accepts_the_seed_lab() {
    let out = p4vrf()
        .arg("check")
        .arg(common::repo_root().join("examples/seed-lab/p4vrf.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("OK (3 VRFs, 3 interfaces, 12 static routes)"),
        "{stdout}"
    );
}

#[test]
fn check_and_run_reject_bad_input_with_locations_and_program_nothing() {
    let dir = std::env::temp_dir().join(format!("p4vrf-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[router]\nmac = \"02:00:00:00:00:01\"\n\
         [[vrf]]\nname = \"A\"\nrd = \"65535:x\"\n\
         [[interface]]\nname = \"e1\"\nport = 1\nvrf = \"B\"\naddress = [\"10.0.0.1/24\"]\n",
    )
    .unwrap();
    let out = p4vrf().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = bad.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{file}:5:6: `65535:x` is not a valid route distinguisher"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{file}:9:7: interface `e1` refers to unknown VRF `B`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 error(s); nothing was applied"),
        "{stderr}"
    );

    // `run` refuses before connecting to anything: the target address is never contacted.
    let out = p4vrf()
        .args(["run"])
        .arg(&bad)
        .args(["--target", "grpc://127.0.0.1:1", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing was applied") && !stderr.contains("127.0.0.1:1"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_once_programs_the_embedded_switch_and_prints_the_tables() {
    let out = p4vrf()
        .args(["run"])
        .arg(common::repo_root().join("examples/seed-lab/p4vrf.toml"))
        .args(["--once", "--detail"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "p4vrf# show ip route vrf VRF-A",
        "B +   10.3.1.0/24 [200/0] via 10.3.0.2 (VRF-C), Ethernet3",
        "p4vrf# show ip bgp vpnv4 all",
        "Route Distinguisher: 65535:3 (default for vrf VRF-C)",
        "      Extended Community: RT:65535:1",
        "p4vrf# show p4 entries",
        "ingress.my_station dst_mac=02:00:00:00:00:01 -> ingress.admit_to_l3()",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    // VRF-A and VRF-B stay apart: no route of B in A's table.
    let a = stdout
        .split("p4vrf# show ipv6 route vrf VRF-A")
        .next()
        .unwrap();
    assert!(!a.contains("10.2."), "{a}");
}

#[test]
fn unknown_target_scheme_is_a_clear_error() {
    let out = p4vrf()
        .args(["run"])
        .arg(common::repo_root().join("examples/seed-lab/p4vrf.toml"))
        .args(["--target", "tcp://x", "--once"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--target must be `embedded` or `grpc://HOST:PORT`"),
        "{stderr}"
    );
}

/// A `p4vrf run` in the background; killed (SIGKILL) if a test fails before stopping it.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_for(path: &std::path::Path, daemon: &mut Daemon) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text.trim().to_string();
            }
        }
        if let Ok(Some(status)) = daemon.0.try_wait() {
            panic!("p4vrf run exited early: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {}",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn show_asks_a_running_daemon_over_its_socket_which_goes_away_with_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = std::env::temp_dir().join(format!("p4vrf-cli-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("s");
    let pid_file = dir.join("pid");
    let config = common::repo_root().join("examples/seed-lab/p4vrf.toml");

    // No daemon yet: `show` says so.
    let out = p4vrf()
        .args(["show", "--socket"])
        .arg(&socket)
        .args(["ip", "route", "vrf", "VRF-C"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "is `p4vrf run` running? (socket {})",
            socket.display()
        )),
        "{stderr}"
    );

    let mut daemon = Daemon(
        p4vrf()
            .arg("run")
            .arg(&config)
            .args(["--target", "embedded", "--api-socket"])
            .arg(&socket)
            .arg("--pid-file")
            .arg(&pid_file)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = wait_for(&pid_file, &mut daemon);
    assert!(std::fs::symlink_metadata(&socket)
        .unwrap()
        .file_type()
        .is_socket());

    let show = |args: &[&str]| {
        p4vrf()
            .args(["show", "--socket"])
            .arg(&socket)
            .args(args)
            .output()
            .unwrap()
    };
    let out = show(&["ip", "route", "vrf", "VRF-C"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "p4vrf# show ip route vrf VRF-C",
        "B +   10.1.1.0/24 [200/0] via 10.1.0.2 (VRF-A), Ethernet1, tag 123",
        "S     10.3.1.0/24 [1/0] via 10.3.0.2, Ethernet3",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }

    let out = show(&["--json", "ip", "bgp", "vpnv4", "all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(data["family"], "ipv4");
    let rds: Vec<&str> = data["route_distinguishers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rd| rd["rd"].as_str().unwrap())
        .collect();
    assert_eq!(rds, ["65535:1", "65535:2", "65535:3"]);
    assert_eq!(data["route_distinguishers"][2]["vrf"], "VRF-C");

    // The switch, read back by the daemon's main loop.
    let out = show(&["p4", "entries"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ingress.my_station dst_mac=02:00:00:00:00:01 -> ingress.admit_to_l3()"),
        "{stdout}"
    );
    let read_back = stdout.lines().filter(|l| l.contains(" -> ")).count();

    // What the daemon counted of its own writes: the same entries, and when it last wrote.
    let out = show(&["--json", "p4", "summary"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        data["total_entries"].as_u64(),
        Some(read_back as u64),
        "{data}"
    );
    assert!(data["entries"]["ingress.ipv4_vrf_lpm"].as_u64() > Some(0));
    let last_ns = data["last_write"]["unix_ns"].as_u64().unwrap();
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        last_ns <= now_ns && now_ns - last_ns < 600_000_000_000,
        "{data}"
    );
    let out = show(&["p4", "summary"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ingress.ipv4_vrf_lpm"), "{stdout}");
    assert!(stdout.contains("Last write: "), "{stdout}");

    let out = show(&["ip", "route", "vrf", "VRF-X"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "% VRF VRF-X does not exist\n"
    );

    // A second daemon on the same socket refuses to start.
    let out = p4vrf()
        .arg("run")
        .arg(&config)
        .arg("--api-socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another p4vrf daemon answers on"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket file is removed on exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn show_help_lists_the_commands() {
    let out = p4vrf().args(["show", "--help"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "--socket <PATH>",
        "--json",
        "ip route vrf NAME",
        "route-map [NAME]",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}
