"""Packet tests of the seed lab on bmv2, programmed by the real `p4vrf run --target grpc://`.

Starts a private bmv2 with bmv2/start (4 ports in a network namespace), starts p4vrf against
it (it stays running, so the SIGHUP test exercises the live delta path), then runs the PTF test
directories inside the namespace. Skips with one line when bmv2 is not installed.
"""

import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = pathlib.Path(__file__).resolve().parent
NAME = "ptf"


def find_tool(name):
    found = shutil.which(name)
    if found:
        return found
    for d in (os.environ.get("P4_TOOLCHAIN", "") + "/bin", "/opt/p4/bin"):
        p = pathlib.Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


@pytest.fixture(scope="module")
def switch():
    if not find_tool("simple_switch_grpc"):
        msg = "SKIP: simple_switch_grpc not found (PATH, $P4_TOOLCHAIN/bin, /opt/p4/bin): PTF packet tests not run"
        print(msg)
        pytest.skip(msg)
    if os.geteuid() != 0:
        pytest.skip("SKIP: PTF packet tests need root (network namespaces, raw sockets)")
    subprocess.run(["cargo", "build", "-p", "p4vrf", "--locked", "-q"], cwd=ROOT, check=True)
    subprocess.run([str(ROOT / "bmv2/stop"), "--name", NAME], capture_output=True)
    out = subprocess.run(
        [str(ROOT / "bmv2/start"), "--name", NAME, "--ports", "4", "--no-p4"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"bmv2/start failed:\n{out.stdout}\n{out.stderr}"
    state = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    try:
        yield state
    finally:
        subprocess.run([str(ROOT / "bmv2/stop"), "--name", NAME], capture_output=True)


@pytest.fixture(scope="module")
def p4vrf(switch, tmp_path_factory):
    work = tmp_path_factory.mktemp("p4vrf")
    config = work / "p4vrf.toml"
    shutil.copy(ROOT / "examples/seed-lab/p4vrf.toml", config)
    pidfile, log = work / "p4vrf.pid", work / "p4vrf.log"
    target_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target_dir / "debug" / "p4vrf"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(
            [str(binary), "run", str(config), "--target", "grpc://" + switch["GRPC_ADDR"], "--pid-file", str(pidfile),
             "--api-socket", str(pidfile.parent / "api.sock")],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 60
    while not pidfile.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("p4vrf did not program the switch:\n" + log.read_text())
        time.sleep(0.1)
    try:
        yield {"config": config, "pidfile": pidfile, "log": log}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_ptf(switch, test_dir, params=None):
    cmd = ["ip", "netns", "exec", switch["NETNS"], str(ROOT / ".venv/bin/ptf"), "--test-dir", str(HERE / test_dir)]
    for port in range(4):
        cmd += ["--interface", f"{port}@h{port}"]
    if params:
        cmd += ["--test-params", ";".join(f"{k}='{v}'" for k, v in params.items())]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=HERE)
    print(result.stdout[-4000:], result.stderr[-4000:])
    assert result.returncode == 0, f"PTF {test_dir} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result


def test_seed_lab_packets(switch, p4vrf):
    """Leaked routes forward (v4/v6, MACs, TTL, checksum); A and B isolated; TTL 1 and unknown
    destinations dropped."""
    result = run_ptf(switch, "seed_lab")
    assert "Ran 7 tests" in result.stdout + result.stderr


def test_switch_reboot_is_reprogrammed(switch, p4vrf):
    """The switch restarts (empty: no pipeline, no entries) under a running p4vrf: p4vrf sees
    its P4Runtime stream drop, reconnects, pushes the pipeline and writes the whole state again;
    then every seed-lab packet test passes again."""
    log = p4vrf["log"]
    before = log.read_text().count("switch reconnected and programmed")
    out = subprocess.run([str(ROOT / "bmv2/restart"), "--name", NAME], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"bmv2/restart failed:\n{out.stdout}\n{out.stderr}"
    deadline = time.time() + 30
    while log.read_text().count("switch reconnected and programmed") == before:
        assert time.time() < deadline, "p4vrf did not reprogram the restarted switch:\n" + log.read_text()[-3000:]
        time.sleep(0.2)
    result = run_ptf(switch, "seed_lab")
    assert "Ran 7 tests" in result.stdout + result.stderr


def test_leak_withdrawal_after_sighup(switch, p4vrf):
    """Removing VRF-C's static and sending SIGHUP removes the leaked entry in VRF-A."""
    result = run_ptf(switch, "leak_withdrawal", {k: str(v) for k, v in p4vrf.items()})
    assert "Ran 1 test" in result.stdout + result.stderr
