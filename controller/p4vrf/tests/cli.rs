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
