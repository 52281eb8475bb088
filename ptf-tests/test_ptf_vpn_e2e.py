"""VPNv4/VPNv6 end to end: a real BGP daemon (GoBGP) as remote PE ↔ `p4vrf run` ↔ MPLS packets
on bmv2.

Starts a private bmv2 (bmv2/start, 4 ports in a network namespace), a gobgpd as the remote PE
and `p4vrf run --target grpc://` with ptf-tests/vpn_e2e/p4vrf.toml (one VRF CUST, a core port,
a global iBGP neighbor = the PE), both BGP speakers on per-run loopback addresses 127.N.9.1/.2.
Then, in order (the tests share the module's processes and build on each other):

1. the PE announces a VPNv4 and a VPNv6 route (RD 65000:200, RT 65000:100 = CUST's import,
   labels 2004 / 2006, next hop 192.0.2.2 = a neighbor on the `core = true` interface):
   exactly the expected entries appear (two `set_vpn_neighbor` next hops with the PE's labels
   towards the PE's MAC on the core rif, two LPM entries in CUST), and IPv4/IPv6 packets from
   the CE leave the core port labelled;
2. the PE holds CUST's routes as VPN routes (RD 65000:100, label 1000, RT, next hop 192.0.2.1;
   read with `gobgp global rib -a vpnv4|vpnv6 -j`), a packet with label 1000 from the core
   leaves a CE port as plain IP; a wrong label, label TTL 1, and our label from a CE port drop;
3. the PE withdraws the VPNv4 route: its entries go, the IPv6 ones stay, the IPv4 packet drops;
4. the PE dies (SIGKILL): the switch holds exactly what it held before the PE announced
   anything, nothing is labelled towards it, decap by our label still works.

Skips with one line when bmv2 or GoBGP is missing or when not root.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = pathlib.Path(__file__).resolve().parent
CASE = HERE / "vpn_e2e"
NAME = f"vpn{os.getpid()}"  # bmv2 namespace p4vrf-vpn<pid>: parallel runs never share one
API_PORT = 50051
WAIT = 30  # seconds; every wait is bounded by this

sys.path.insert(0, str(CASE))
import vpn_e2e_topology as T  # noqa: E402


def find_tool(name, dirs=()):
    found = shutil.which(name)
    if found:
        return found
    for d in (*dirs, "/usr/sbin", "/usr/bin"):
        p = pathlib.Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def missing():
    """Why this module cannot run here (one line), or None."""
    if not find_tool("simple_switch_grpc", (os.environ.get("P4_TOOLCHAIN", "") + "/bin", "/opt/p4/bin")):
        return ("SKIP: simple_switch_grpc not found (PATH, $P4_TOOLCHAIN/bin, /opt/p4/bin): "
                "VPN end-to-end PTF tests not run")
    if not (find_tool("gobgpd") and find_tool("gobgp")):
        return ("SKIP: gobgpd/gobgp not found (PATH, /usr/sbin, /usr/bin; Debian package gobgpd): "
                "VPN end-to-end PTF tests not run")
    if os.geteuid() != 0:
        return "SKIP: VPN end-to-end PTF tests need root (network namespaces, raw sockets)"
    return None


# One skip for the whole module, so `pytest -rs` prints one line.
if (_why := missing()) is not None:
    print(_why)
    pytest.skip(_why, allow_module_level=True)


def poll(what, check):
    """Calls `check` every 0.2 s until it returns a true value (returned), for up to WAIT s."""
    deadline = time.time() + WAIT
    last = None
    while time.time() < deadline:
        try:
            value = check()
        except Exception as e:  # noqa: BLE001 (a CLI that is not ready yet)
            value, last = None, e
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {WAIT} s waiting for {what} (last error: {last})")


def loopback(host):
    """127.N.9.host, N from the process id (as controller/p4vrf/tests/seed_peers.rs does)."""
    return f"127.{16 + os.getpid() % 224}.9.{host}"


class Lab:
    """The processes of this module: bmv2 (by bmv2/start's state), gobgpd and p4vrf (by PID)."""

    def __init__(self, work, switch, gobgpd, gobgp, p4vrf_bin):
        self.work, self.switch = work, switch
        self.daemon_addr, self.pe_addr = loopback(1), loopback(2)
        self.gobgp_bin, self.p4vrf_bin = gobgp, p4vrf_bin
        self.socket = work / "api.sock"
        subst = {"@DAEMON@": self.daemon_addr, "@PE@": self.pe_addr}
        for name in ("p4vrf.toml", "gobgpd.toml"):
            text = (CASE / name).read_text()
            for k, v in subst.items():
                text = text.replace(k, v)
            (work / name).write_text(text)
        self.gobgpd_bin = gobgpd
        self.procs = {}
        self.baseline = set()

    def up(self):
        """gobgpd (no routes yet), then p4vrf; returns once p4vrf has programmed the switch."""
        self.start_gobgpd()
        pidfile = self.work / "p4vrf.pid"
        self.start("p4vrf", [self.p4vrf_bin, "run", str(self.work / "p4vrf.toml"),
                             "--target", "grpc://" + self.switch["GRPC_ADDR"],
                             "--pid-file", str(pidfile), "--api-socket", str(self.socket)])
        poll("p4vrf to program the switch", lambda: pidfile.exists() or self.dead("p4vrf"))
        assert not self.dead("p4vrf"), "p4vrf exited:\n" + self.log("p4vrf")

    def start_gobgpd(self):
        self.start("gobgpd", [self.gobgpd_bin, "-f", str(self.work / "gobgpd.toml"), "-t", "toml", "-p",
                              "--pprof-disable", "--api-hosts", f"{self.pe_addr}:{API_PORT}"])
        poll("gobgpd's API", lambda: self.gobgp("neighbor") is not None)

    def start(self, name, argv):
        with open(self.work / f"{name}.log", "a") as log:
            self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def dead(self, name):
        return self.procs[name].poll() is not None

    def log(self, name):
        return (self.work / f"{name}.log").read_text(errors="replace")[-4000:]

    def kill(self, name, sig=signal.SIGKILL):
        """Stops a process of ours by its PID (SIGTERM first for p4vrf; SIGKILL = a crash)."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self):
        if "p4vrf" in self.procs:
            self.kill("p4vrf", signal.SIGTERM)
        if "gobgpd" in self.procs:
            self.kill("gobgpd")

    def gobgp(self, *args):
        """`gobgp -u PE -p 50051 ARGS`: stdout, or an AssertionError with stderr."""
        out = subprocess.run([self.gobgp_bin, "-u", self.pe_addr, "-p", str(API_PORT), *args],
                             capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, f"gobgp {' '.join(args)}: {out.stdout}{out.stderr}"
        return out.stdout

    def show(self, *words):
        out = subprocess.run([self.p4vrf_bin, "show", "--socket", str(self.socket), "--json", *words],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"p4vrf show {' '.join(words)}: {out.stdout}{out.stderr}"
        return json.loads(out.stdout)

    def entries(self):
        """`p4vrf show p4 entries`: the entries read back from bmv2, one line each."""
        return set(self.show("p4", "entries")["entries"])

    def established(self):
        peers = json.loads(self.gobgp("neighbor", "-j"))
        # session_state is the API enum: 6 = ESTABLISHED.
        return len(peers) == 1 and peers[0].get("state", {}).get("session_state") == 6

    def pe_vpn_table(self, family):
        """GoBGP's table of a VPN family: {"RD:prefix": (labels, next hop, extended communities)}."""
        table = json.loads(self.gobgp("global", "rib", "-a", family, "-j"))
        out = {}
        for key, paths in table.items():
            for path in paths:
                attrs = {a["type"]: a for a in path["attrs"]}
                rts = [c.get("value") for c in attrs.get(16, {}).get("value", [])]
                out[key] = (path["nlri"]["labels"], attrs.get(14, {}).get("nexthop"), rts)
        return out

    def pe_announce(self, family, prefix, label, action="add"):
        nh = T.PE_NEXT_HOP if family == "vpnv4" else "::ffff:" + T.PE_NEXT_HOP  # 6VPE, IPv4 core
        args = ["global", "rib", "-a", family, action, prefix, "label", str(label), "rd", T.PE_RD]
        if action == "add":
            args += ["rt", T.RT, "nexthop", nh]
        self.gobgp(*args)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    gobgpd, gobgp = find_tool("gobgpd"), find_tool("gobgp")
    subprocess.run(["cargo", "build", "-p", "p4vrf", "--locked", "-q"], cwd=ROOT, check=True)
    target_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    p4vrf_bin = str(target_dir / "debug" / "p4vrf")

    out = subprocess.run([str(ROOT / "bmv2/start"), "--name", NAME, "--ports", "4", "--no-p4"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode == 77:
        print(out.stdout.strip().splitlines()[0])
        pytest.skip(out.stdout.strip().splitlines()[0])
    lab = None
    try:
        assert out.returncode == 0, f"bmv2/start failed:\n{out.stdout}\n{out.stderr}"
        switch = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        lab = Lab(tmp_path_factory.mktemp("vpn_e2e"), switch, gobgpd, gobgp, p4vrf_bin)
        lab.up()
        poll("the iBGP session p4vrf ↔ PE", lab.established)
        # Before the PE announced anything: the state a session loss must return to.
        lab.baseline = lab.entries()
        yield lab
    finally:
        if lab is not None:
            lab.close()
            for name in lab.procs:
                print(f"--- {name} log (tail)\n{lab.log(name)}")
        subprocess.run([str(ROOT / "bmv2/stop"), "--name", NAME], capture_output=True)


def run_ptf(lab, *tests, params=None):
    """Runs the named classes of vpn_e2e/vpn_e2e.py inside the switch's namespace."""
    cmd = ["ip", "netns", "exec", lab.switch["NETNS"], str(ROOT / ".venv/bin/ptf"), "--test-dir", str(CASE),
           "--log-file", str(lab.work / "ptf.log")]
    for port in range(4):
        cmd += ["--interface", f"{port}@h{port}"]
    if params:
        cmd += ["--test-params", ";".join(f"{k}={v!r}" for k, v in params.items())]
    cmd += [f"vpn_e2e.{t}" for t in tests]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=lab.work)
    out, status = result.stdout + result.stderr, result.returncode
    print(out[-4000:])
    assert status == 0, f"PTF {tests} failed:\n{out[-6000:]}"
    assert f"Ran {len(tests)} test" in out, out[-2000:]


def ids(lines):
    """vrf_id of CUST and the rif of the core port, from the interface entries."""
    found = {}
    for line in lines:
        m = re.fullmatch(
            r"ingress\.interface port=(\d+) vlan_id=0 -> ingress\.set_interface\(vrf_id=(\d+), rif=(\d+)\)", line)
        if m:
            found[int(m[1])] = (int(m[2]), int(m[3]))
    return found[T.PORT_CE1][0], found[T.PORT_CORE][1]


def vpn_entries(lab, routes):
    """The entries a set of PE routes {prefix: label} must add to the baseline, with the
    next-hop ids read from the switch (one `set_vpn_neighbor` per label)."""
    cust, core_rif = ids(lab.baseline)
    current = lab.entries()
    want = set()
    for prefix, label in routes.items():
        table = "ipv6_vrf_lpm" if ":" in prefix else "ipv4_vrf_lpm"
        nh = next((m[1] for line in current if (m := re.fullmatch(
            rf"ingress\.{table} vrf_id={cust} dst_addr={re.escape(prefix)} -> ingress\.set_nexthop\(nexthop_id=(\d+)\)",
            line))), "?")
        want |= {
            f"ingress.{table} vrf_id={cust} dst_addr={prefix} -> ingress.set_nexthop(nexthop_id={nh})",
            f"ingress.nexthop nexthop_id={nh} -> ingress.set_vpn_neighbor(rif={core_rif}, "
            f"dst_mac={T.PE_MAC}, vpn_label={label})",
            f"ingress.ecmp_selector member {nh} -> ingress.set_nexthop(nexthop_id={nh})",
        }
    return want


def wait_entries(lab, routes):
    """Waits until the switch holds exactly the baseline plus the entries of `routes`."""
    def check():
        want = lab.baseline | vpn_entries(lab, routes)
        have = lab.entries()
        return have == want or None

    try:
        poll(f"the switch to hold exactly the baseline + {routes}", check)
    except BaseException:
        have, want = lab.entries(), lab.baseline | vpn_entries(lab, routes)
        print("missing:", sorted(want - have), "\nunexpected:", sorted(have - want))
        raise


def test_baseline_has_mpls_entries_for_the_core_port_only(lab):
    """Before any VPN route: CUST's label 1000 → CUST (mpls_vrf), MPLS enabled on the core
    port's (port, vlan) and on no CE port, no VPN next hop."""
    cust, _ = ids(lab.baseline)
    mpls = sorted(e for e in lab.baseline if e.startswith("ingress.mpls_"))
    assert mpls == [
        f"ingress.mpls_interface port={T.PORT_CORE} vlan_id=0 -> ingress.enable_mpls()",
        f"ingress.mpls_vrf label={T.OUR_LABEL} -> ingress.pop_to_vrf(vrf_id={cust})",
    ], mpls
    assert not [e for e in lab.baseline if "vpn" in e], lab.baseline


def test_pe_routes_become_labelled_forwarding(lab):
    lab.pe_announce("vpnv4", T.PE_VPNV4, T.PE_LABEL_V4)
    lab.pe_announce("vpnv6", T.PE_VPNV6, T.PE_LABEL_V6)
    wait_entries(lab, {T.PE_VPNV4: T.PE_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "EncapToRemotePe")


def test_pe_has_our_routes_with_our_label_and_decap_works(lab):
    for family, prefixes in (("vpnv4", T.OUR_VPNV4), ("vpnv6", T.OUR_VPNV6)):
        want = {f"{T.OUR_RD}:{p}" for p in prefixes}
        table = poll(f"CUST's {family} routes at the PE",
                     lambda f=family: (t := lab.pe_vpn_table(f)) and want <= t.keys() and t)
        # Ours (RD 65000:100) and nothing else but the PE's own route.
        assert set(table) - want == {f"{T.PE_RD}:{T.PE_VPNV4 if family == 'vpnv4' else T.PE_VPNV6}"}, table
        for key in want:
            labels, next_hop, rts = table[key]
            assert labels == [T.OUR_LABEL], (key, table[key])
            # VPNv6 too: our next hop goes IPv4-mapped (6VPE), which GoBGP prints as the IPv4
            # address.
            assert next_hop == T.OUR_NEXT_HOP, (key, table[key])
            assert rts == [T.RT], (key, table[key])
    run_ptf(lab, "DecapFromCore", "LabelledDrops")


def test_label_change_at_pe_replaces_the_next_hop(lab):
    """The PE re-announces 172.16.0.0/16 with another label (an implicit withdrawal): the
    next hop with the old label goes, one with the new label replaces it."""
    lab.pe_announce("vpnv4", T.PE_VPNV4, T.PE_NEW_LABEL_V4)
    wait_entries(lab, {T.PE_VPNV4: T.PE_NEW_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "EncapToRemotePeV4", params={"v4_label": T.PE_NEW_LABEL_V4})


def vpn_paths(lab, family, rd):
    """The daemon's VPN table (`p4vrf show --json ...`) under one RD: {prefix: [path, ...]}."""
    words = ("ip", "bgp", "vpnv4", "all") if family == "vpnv4" else ("bgp", "vpnv6", "unicast", "all")
    for r in lab.show(*words)["route_distinguishers"]:
        if r["rd"] == rd:
            return {p["prefix"]: p["paths"] for p in r["prefixes"]}
    return {}


def test_pe_next_hop_resolves_only_over_the_core(lab):
    """VPN routes whose next hop is a neighbor on a CE interface (10.3.0.2, Ethernet3 is not
    `core`) or no neighbor at all (192.0.2.9) are kept as inaccessible and written nowhere."""
    bad = {"172.20.0.0/16": T.CE3_IP, "172.21.0.0/16": "192.0.2.9"}
    for prefix, nh in bad.items():
        lab.gobgp("global", "rib", "-a", "vpnv4", "add", prefix, "label", "2020", "rd", T.PE_RD, "rt", T.RT,
                  "nexthop", nh)
    paths = poll("the daemon to hold the PE's two routes", lambda: (
        (t := vpn_paths(lab, "vpnv4", T.PE_RD)) and set(bad) <= t.keys() and t))
    for prefix, nh in bad.items():
        assert [(p["next_hop"], p["valid"], p["label"]) for p in paths[prefix]] == [(nh, False, 2020)], paths[prefix]
    wait_entries(lab, {T.PE_VPNV4: T.PE_NEW_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    for prefix in bad:
        lab.gobgp("global", "rib", "-a", "vpnv4", "del", prefix, "label", "2020", "rd", T.PE_RD)
    poll("the daemon to drop them", lambda: not set(bad) & vpn_paths(lab, "vpnv4", T.PE_RD).keys())


def test_withdraw_at_pe_removes_its_entries(lab):
    lab.pe_announce("vpnv4", T.PE_VPNV4, T.PE_NEW_LABEL_V4, action="del")
    wait_entries(lab, {T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "V4WithdrawnV6Forwards")


def test_pe_session_loss_restores_the_baseline(lab):
    lab.kill("gobgpd")  # SIGKILL: no NOTIFICATION, the TCP connection just closes
    wait_entries(lab, {})
    run_ptf(lab, "PeGoneNothingLabelled")


def test_pe_restart_relearns_both_ways(lab):
    """The PE comes back (a new gobgpd, empty): p4vrf reconnects, sends CUST's routes again
    and installs the PE's route again when it is re-announced."""
    lab.start_gobgpd()
    poll("the iBGP session to come back", lab.established)
    want = {f"{T.OUR_RD}:{p}" for p in T.OUR_VPNV4}
    poll("CUST's routes at the restarted PE", lambda: want <= lab.pe_vpn_table("vpnv4").keys())
    lab.pe_announce("vpnv6", T.PE_VPNV6, T.PE_LABEL_V6)
    wait_entries(lab, {T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "V4WithdrawnV6Forwards")


def test_our_label_change_on_sighup_reaches_pe_and_switch(lab):
    """CUST's `vpn-label` edited and SIGHUP: the mpls_vrf entry moves to the new label, the PE
    receives every CUST route again with it, and only the new label is decapsulated."""
    config = lab.work / "p4vrf.toml"
    text = config.read_text()
    assert f"vpn-label = {T.OUR_LABEL}\n" in text
    config.write_text(text.replace(f"vpn-label = {T.OUR_LABEL}\n", f"vpn-label = {T.OUR_NEW_LABEL}\n"))
    lab.procs["p4vrf"].send_signal(signal.SIGHUP)
    cust, _ = ids(lab.baseline)
    poll("the mpls_vrf entry to move to the new label", lambda: sorted(
        e for e in lab.entries() if e.startswith("ingress.mpls_vrf")) == [
        f"ingress.mpls_vrf label={T.OUR_NEW_LABEL} -> ingress.pop_to_vrf(vrf_id={cust})"])
    for family, prefixes in (("vpnv4", T.OUR_VPNV4), ("vpnv6", T.OUR_VPNV6)):
        want = {f"{T.OUR_RD}:{p}" for p in prefixes}
        poll(f"CUST's {family} routes at the PE with label {T.OUR_NEW_LABEL}", lambda f=family, w=want: all(
            lab.pe_vpn_table(f).get(k, ([],))[0] == [T.OUR_NEW_LABEL] for k in w))
    run_ptf(lab, "DecapByLabel", params={"label": T.OUR_NEW_LABEL, "old_label": T.OUR_LABEL})
