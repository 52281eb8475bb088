"""VPNv4/VPNv6 end to end: a real BGP daemon as remote PE ↔ `p4vrf run` ↔ MPLS packets on bmv2.

Runs once with GoBGP and once with FRR's bgpd as the remote PE. Each time it starts a private
bmv2 (bmv2/start, 4 ports in a network namespace), the PE daemon and `p4vrf run --target
grpc://` with ptf-tests/vpn_e2e/p4vrf.toml (one VRF CUST, a `core = true` port, a global iBGP
neighbor = the PE), both BGP speakers on per-run loopback addresses 127.N.9.1/.2 (the PE's
core address 192.0.2.2 exists only in the data plane). Then, in order (the tests share the
processes and build on each other):

1. before the PE announces anything, the switch holds CUST's label → VRF entry and MPLS is
   enabled on the core port only; that entry set is the baseline;
2. the PE announces a VPNv4 and a VPNv6 route (RD 65000:200, RT 65000:100 = CUST's import,
   labels 2004 / 2006, next hop 192.0.2.2, a neighbor on the core interface; IPv4-mapped for
   VPNv6): exactly the expected entries appear (two `set_vpn_neighbor` next hops with the PE's
   labels towards the PE's MAC on the core rif, two LPM entries in CUST), and IPv4/IPv6
   packets from the CE leave the core port labelled (MACs, label, S, TC, TTLs checked);
3. the PE holds CUST's routes as VPN routes (RD 65000:100, label 1000, RT 65000:100, next hop
   192.0.2.1) and no others of ours; a packet with label 1000 from the core leaves a CE port as
   plain IP (TTL from the label); a label that is not ours, label TTL 1, and our label from a
   CE port are dropped;
4. the PE moves its VPNv4 route to another label: the next hop entry follows;
5. PE routes whose next hop is a neighbor on a CE interface, or nobody, stay inaccessible and
   write nothing;
6. the PE withdraws the VPNv4 route: its entries go, the IPv6 ones stay;
7. the PE dies (SIGKILL): the switch holds exactly the baseline again, nothing is labelled
   towards the PE, decap by our label still works;
8. the PE comes back empty: the session returns, the PE gets CUST's routes again, and a route
   it announces is installed again;
9. CUST's `vpn-label` is edited and p4vrf gets SIGHUP: the label → VRF entry moves, the PE
   receives CUST's routes with the new label, only the new label is decapsulated.

Skips with one line when bmv2 is missing or when not root, and with one line per PE daemon
that is not installed.
"""

import ipaddress
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
WAIT = 30  # seconds; every wait is bounded by this
BGP_PORT = 1179  # of both speakers, each on its own loopback address

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
    """Why this module cannot run here at all (one line), or None."""
    if not find_tool("simple_switch_grpc", (os.environ.get("P4_TOOLCHAIN", "") + "/bin", "/opt/p4/bin")):
        return ("SKIP: simple_switch_grpc not found (PATH, $P4_TOOLCHAIN/bin, /opt/p4/bin): "
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


def run(argv, what):
    """Runs a CLI (10 s at most): its stdout, or an AssertionError with its output."""
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, f"{what}: exit {out.returncode}: {out.stdout}{out.stderr}"
    return out.stdout


def family_of(prefix):
    return "vpnv6" if ":" in prefix else "vpnv4"


# ----------------------------------------------------------------------------- the remote PEs


class Pe:
    """A remote PE daemon on loopback; `lab.start` / `lab.kill` run it by PID."""

    name = ""

    def __init__(self, lab):
        self.lab = lab

    def vpn_table(self, family):
        """The PE's table of a VPN family: {"RD:prefix": (labels, next hop, route targets)} with
        the next hop an ipaddress object (VPNv6: IPv4-mapped where the PE shows it so)."""
        raise NotImplementedError


class GoBgp(Pe):
    name = "gobgp"
    replaces_label_in_place = True
    API_PORT = 50051

    @staticmethod
    def tools():
        d, c = find_tool("gobgpd"), find_tool("gobgp")
        return (d, c) if d and c else None

    def start(self):
        gobgpd, _ = self.tools()
        lab = self.lab
        lab.start("pe", [gobgpd, "-f", str(lab.work / "gobgpd.toml"), "-t", "toml", "-p", "--pprof-disable",
                         "--api-hosts", f"{lab.pe_addr}:{self.API_PORT}"])
        poll("gobgpd's API", lambda: self.cli("neighbor") is not None)

    def cli(self, *args):
        return run([self.tools()[1], "-u", self.lab.pe_addr, "-p", str(self.API_PORT), *args], f"gobgp {args}")

    def established(self):
        peers = json.loads(self.cli("neighbor", "-j"))
        # session_state is the API enum: 6 = ESTABLISHED.
        return len(peers) == 1 and peers[0].get("state", {}).get("session_state") == 6

    def announce(self, prefix, label, next_hop):
        family = family_of(prefix)
        if family == "vpnv6" and "." in next_hop:
            next_hop = "::ffff:" + next_hop  # 6VPE: the IPv4 core address, IPv4-mapped
        self.cli("global", "rib", "-a", family, "add", prefix, "label", str(label), "rd", T.PE_RD, "rt", T.RT,
                 "nexthop", next_hop)

    def withdraw(self, prefix, label):
        self.cli("global", "rib", "-a", family_of(prefix), "del", prefix, "label", str(label), "rd", T.PE_RD)

    def vpn_table(self, family):
        out = {}
        for key, paths in json.loads(self.cli("global", "rib", "-a", family, "-j")).items():
            for path in paths:
                attrs = {a["type"]: a for a in path["attrs"]}
                rts = [c.get("value") for c in attrs.get(16, {}).get("value", [])]
                # GoBGP prints an IPv4-mapped next hop as the IPv4 address.
                nh = ipaddress.ip_address(attrs.get(14, {}).get("nexthop"))
                out[key] = (path["nlri"]["labels"], nh, rts)
        return out


class Frr(Pe):
    name = "frr"
    replaces_label_in_place = False

    def __init__(self, lab):
        super().__init__(lab)
        self.dir = lab.work / "frr"
        self.dir.mkdir(exist_ok=True)
        self.maps = 0

    @staticmethod
    def tools():
        d, c = find_tool("bgpd", ("/usr/lib/frr",)), find_tool("vtysh")
        return (d, c) if d and c else None

    def start(self):
        bgpd, _ = self.tools()
        lab = self.lab
        for stale in ("bgpd.vty", "bgpd.pid"):
            (self.dir / stale).unlink(missing_ok=True)
        # -Z no zebra, -S no user switch, -n no kernel routes, -P 0 no vty TCP port.
        lab.start("pe", [bgpd, "-Z", "-S", "-n", "-l", lab.pe_addr, "-p", str(BGP_PORT), "-P", "0",
                         "-f", str(lab.work / "bgpd.conf"), "-i", str(self.dir / "bgpd.pid"),
                         "--vty_socket", str(self.dir)])
        poll("bgpd's vty", lambda: self.vtysh("show bgp summary") is not None)

    def vtysh(self, *commands):
        argv = [self.tools()[1], "--vty_socket", str(self.dir), "-d", "bgpd"]
        for c in commands:
            argv += ["-c", c]
        out = run(argv, f"vtysh {commands}")
        assert "% " not in out, f"vtysh {commands}: {out}"
        return out

    def configure(self, *lines):
        self.vtysh("configure terminal", *lines, "end")

    def established(self):
        state = json.loads(self.vtysh(f"show bgp neighbors {self.lab.daemon_addr} json"))
        return state.get(self.lab.daemon_addr, {}).get("bgpState") == "Established"

    @staticmethod
    def af(prefix):
        return "ipv6" if ":" in prefix else "ipv4"

    def announce(self, prefix, label, next_hop):
        af = self.af(prefix)
        if af == "ipv6" and "." in next_hop:
            next_hop = "::ffff:" + next_hop
        # FRR takes the next hop of a `network` from its route-map when the network is created,
        # so every announcement gets a route-map of its own.
        self.maps += 1
        rmap = f"PE{self.maps}"
        lines = [f"route-map {rmap} permit 10", f"set extcommunity rt {T.RT}", f"set {af} vpn next-hop {next_hop}",
                 "exit", f"router bgp {T.ASN}", f"address-family {af} vpn"]
        lines.append(f"network {prefix} rd {T.PE_RD} label {label} route-map {rmap}")
        self.configure(*lines)

    def withdraw(self, prefix, label):
        self.configure(f"router bgp {T.ASN}", f"address-family {self.af(prefix)} vpn",
                       f"no network {prefix} rd {T.PE_RD} label {label}")

    def vpn_table(self, family):
        af = "ipv6" if family == "vpnv6" else "ipv4"
        table = json.loads(self.vtysh(f"show bgp {af} vpn json"))
        out = {}
        for rd, prefixes in table.get("routes", {}).get("routeDistinguishers", {}).items():
            for prefix in prefixes:
                detail = json.loads(self.vtysh(f"show bgp {af} vpn rd {rd} {prefix} json"))[rd]
                path = detail["paths"][0]
                rts = [c.removeprefix("RT:") for c in path.get("extendedCommunity", {}).get("string", "").split()]
                nh = ipaddress.ip_address(path["nexthops"][0]["ip"])
                out[f"{rd}:{prefix}"] = ([path["remoteLabel"]] if "remoteLabel" in path else [], nh, rts)
        return out


PES = {pe.name: pe for pe in (GoBgp, Frr)}
PE_PACKAGES = {"gobgp": "gobgpd/gobgp (Debian package gobgpd)", "frr": "FRR bgpd/vtysh (Debian package frr)"}


def pe_params():
    """One run per PE; a PE that is not installed is skipped by a mark (one `-rs` line)."""
    for name, pe in PES.items():
        marks = ()
        if pe.tools() is None:
            marks = pytest.mark.skip(
                reason=f"SKIP: {PE_PACKAGES[name]} not found (PATH, /usr/sbin, /usr/bin, /usr/lib/frr): "
                       f"VPN end-to-end PTF tests with {name} as PE not run")
        yield pytest.param(name, marks=marks, id=name)


# ----------------------------------------------------------------------------- the lab


class Lab:
    """bmv2 (by bmv2/start's state), the PE and p4vrf (by PID), their files in `work`."""

    def __init__(self, work, switch, pe_kind, p4vrf_bin):
        self.work, self.switch, self.p4vrf_bin = work, switch, p4vrf_bin
        self.daemon_addr, self.pe_addr = loopback(1), loopback(2)
        self.socket = work / "api.sock"
        for name in ("p4vrf.toml", "gobgpd.toml", "bgpd.conf"):
            text = (CASE / name).read_text()
            (work / name).write_text(text.replace("@DAEMON@", self.daemon_addr).replace("@PE@", self.pe_addr))
        self.procs = {}
        self.baseline = set()
        self.pe = PES[pe_kind](self)

    def up(self):
        """The PE (no routes yet), then p4vrf; returns once p4vrf has programmed the switch."""
        self.pe.start()
        pidfile = self.work / "p4vrf.pid"
        self.start("p4vrf", [self.p4vrf_bin, "run", str(self.work / "p4vrf.toml"),
                             "--target", "grpc://" + self.switch["GRPC_ADDR"],
                             "--pid-file", str(pidfile), "--api-socket", str(self.socket)])
        poll("p4vrf to program the switch", lambda: pidfile.exists() or self.dead("p4vrf"))
        assert not self.dead("p4vrf"), "p4vrf exited:\n" + self.log("p4vrf")

    def start(self, name, argv):
        with open(self.work / f"{name}.log", "a") as log:
            self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def dead(self, name):
        return self.procs[name].poll() is not None

    def log(self, name):
        return (self.work / f"{name}.log").read_text(errors="replace")[-4000:]

    def kill(self, name, sig=signal.SIGKILL):
        """Stops a process of ours by its PID (SIGKILL: as a crash)."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self):
        self.kill("p4vrf", signal.SIGTERM)
        self.kill("pe")

    def show(self, *words):
        out = run([self.p4vrf_bin, "show", "--socket", str(self.socket), "--json", *words], f"p4vrf show {words}")
        return json.loads(out)

    def entries(self):
        """`p4vrf show p4 entries`: the entries read back from bmv2, one line each."""
        return set(self.show("p4", "entries")["entries"])


@pytest.fixture(scope="module")
def p4vrf_bin():
    subprocess.run(["cargo", "build", "-p", "p4vrf", "--locked", "-q"], cwd=ROOT, check=True)
    target_dir = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target_dir / "debug" / "p4vrf")


@pytest.fixture(scope="module", params=list(pe_params()))
def lab(request, tmp_path_factory, p4vrf_bin):
    name = f"vpn{os.getpid()}"  # bmv2 namespace p4vrf-vpn<pid>: parallel runs never share one
    out = subprocess.run([str(ROOT / "bmv2/start"), "--name", name, "--ports", "4", "--no-p4"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode == 77:
        print(out.stdout.strip().splitlines()[0])
        pytest.skip(out.stdout.strip().splitlines()[0])
    lab = None
    try:
        assert out.returncode == 0, f"bmv2/start failed:\n{out.stdout}\n{out.stderr}"
        switch = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        lab = Lab(tmp_path_factory.mktemp(f"vpn_e2e_{request.param}"), switch, request.param, p4vrf_bin)
        lab.up()
        poll("the iBGP session p4vrf ↔ PE", lab.pe.established)
        # Before the PE announced anything: the state a session loss must return to.
        lab.baseline = lab.entries()
        yield lab
    finally:
        if lab is not None:
            lab.close()
            for proc in lab.procs:
                print(f"--- {proc} log (tail)\n{lab.log(proc)}")
        subprocess.run([str(ROOT / "bmv2/stop"), "--name", name], capture_output=True)


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


# ----------------------------------------------------------------------------- expected entries


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
        return lab.entries() == lab.baseline | vpn_entries(lab, routes)

    try:
        poll(f"the switch to hold exactly the baseline + {routes}", check)
    except BaseException:
        have, want = lab.entries(), lab.baseline | vpn_entries(lab, routes)
        print("missing:", sorted(want - have), "\nunexpected:", sorted(have - want))
        raise


def vpn_paths(lab, family, rd):
    """p4vrf's VPN table (`p4vrf show --json ...`) under one RD: {prefix: [path, ...]}."""
    words = ("ip", "bgp", "vpnv4", "all") if family == "vpnv4" else ("bgp", "vpnv6", "unicast", "all")
    for r in lab.show(*words)["route_distinguishers"]:
        if r["rd"] == rd:
            return {p["prefix"]: p["paths"] for p in r["prefixes"]}
    return {}


def our_routes_at_pe(lab, label):
    """Waits until the PE holds every CUST route with `label` (and the rest of what we send:
    RT 65000:100, next hop 192.0.2.1, IPv4-mapped for VPNv6 where the PE shows it) and
    returns the two tables."""
    tables = {}
    mapped = ipaddress.ip_address("::ffff:" + T.OUR_NEXT_HOP)
    for family, prefixes in (("vpnv4", T.OUR_VPNV4), ("vpnv6", T.OUR_VPNV6)):
        want = {f"{T.OUR_RD}:{p}" for p in prefixes}
        next_hops = {ipaddress.ip_address(T.OUR_NEXT_HOP)} | ({mapped} if family == "vpnv6" else set())

        def check(family=family, want=want, next_hops=next_hops):
            table = lab.pe.vpn_table(family)
            ok = all(k in table and table[k][0] == [label] and table[k][1] in next_hops and table[k][2] == [T.RT]
                     for k in want)
            return ok and table

        tables[family] = poll(f"CUST's {family} routes at the PE with label {label}, RT, next hop", check)
    return tables


# ----------------------------------------------------------------------------- the tests


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
    lab.pe.announce(T.PE_VPNV4, T.PE_LABEL_V4, T.PE_NEXT_HOP)
    lab.pe.announce(T.PE_VPNV6, T.PE_LABEL_V6, T.PE_NEXT_HOP)
    wait_entries(lab, {T.PE_VPNV4: T.PE_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "EncapToRemotePe")


def test_pe_has_our_routes_with_our_label_and_decap_works(lab):
    tables = our_routes_at_pe(lab, T.OUR_LABEL)
    for family, prefixes, own in (("vpnv4", T.OUR_VPNV4, T.PE_VPNV4), ("vpnv6", T.OUR_VPNV6, T.PE_VPNV6)):
        # Ours (RD 65000:100, no more) and the PE's own route: nothing reflected back.
        assert set(tables[family]) == {f"{T.OUR_RD}:{p}" for p in prefixes} | {f"{T.PE_RD}:{own}"}, tables[family]
    run_ptf(lab, "DecapFromCore", "LabelledDrops")


def test_label_change_at_pe_replaces_the_next_hop(lab):
    """The PE re-announces 172.16.0.0/16 with another label: the next hop with the old label
    goes, one with the new label replaces it. GoBGP sends the new label in place (an implicit
    withdrawal); FRR 8.4 sends nothing when a `network` is replaced by one differing only in
    its label (no UPDATE on the wire), so there the route is withdrawn first."""
    if not lab.pe.replaces_label_in_place:
        lab.pe.withdraw(T.PE_VPNV4, T.PE_LABEL_V4)
        wait_entries(lab, {T.PE_VPNV6: T.PE_LABEL_V6})
    lab.pe.announce(T.PE_VPNV4, T.PE_NEW_LABEL_V4, T.PE_NEXT_HOP)
    wait_entries(lab, {T.PE_VPNV4: T.PE_NEW_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "EncapToRemotePeV4", params={"v4_label": T.PE_NEW_LABEL_V4})


def test_pe_next_hop_resolves_only_over_the_core(lab):
    """VPN routes whose next hop is a neighbor on a CE interface (10.3.0.2, Ethernet3 is not
    `core`) or no neighbor at all (192.0.2.9) are kept as inaccessible and written nowhere."""
    bad = {"172.20.0.0/16": T.CE3_IP, "172.21.0.0/16": "192.0.2.9"}
    for prefix, nh in bad.items():
        lab.pe.announce(prefix, 2020, nh)
    paths = poll("p4vrf to hold the PE's two routes", lambda: (
        (t := vpn_paths(lab, "vpnv4", T.PE_RD)) and set(bad) <= t.keys() and t))
    for prefix, nh in bad.items():
        assert [(p["next_hop"], p["valid"], p["label"]) for p in paths[prefix]] == [(nh, False, 2020)], paths[prefix]
    wait_entries(lab, {T.PE_VPNV4: T.PE_NEW_LABEL_V4, T.PE_VPNV6: T.PE_LABEL_V6})
    for prefix in bad:
        lab.pe.withdraw(prefix, 2020)
    poll("p4vrf to drop them", lambda: not set(bad) & vpn_paths(lab, "vpnv4", T.PE_RD).keys())


def test_withdraw_at_pe_removes_its_entries(lab):
    lab.pe.withdraw(T.PE_VPNV4, T.PE_NEW_LABEL_V4)
    wait_entries(lab, {T.PE_VPNV6: T.PE_LABEL_V6})
    run_ptf(lab, "V4WithdrawnV6Forwards")


def test_pe_session_loss_restores_the_baseline(lab):
    lab.kill("pe")  # SIGKILL: no NOTIFICATION, the TCP connection just closes
    wait_entries(lab, {})
    run_ptf(lab, "PeGoneNothingLabelled")


def test_pe_restart_relearns_both_ways(lab):
    """The PE comes back (a new daemon, no routes): p4vrf reconnects, sends CUST's routes
    again and installs the PE's route again when it is announced."""
    lab.pe.start()
    poll("the iBGP session to come back", lab.pe.established)
    our_routes_at_pe(lab, T.OUR_LABEL)
    lab.pe.announce(T.PE_VPNV6, T.PE_LABEL_V6, T.PE_NEXT_HOP)
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
    our_routes_at_pe(lab, T.OUR_NEW_LABEL)
    run_ptf(lab, "DecapByLabel", params={"label": T.OUR_NEW_LABEL, "old_label": T.OUR_LABEL})
