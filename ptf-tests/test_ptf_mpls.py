"""Packet tests of the MPLS L3VPN (PE) part of p4/p4vrf.p4 on bmv2.

This tests the pipeline alone, so this driver writes the VPN entries itself (also what the
controller does not write, such as transport labels; test_ptf_vpn_e2e.py has p4vrf write them
from real BGP routes), over P4Runtime from Python (PyPI `p4runtime` + `grpcio`), with the ids
of p4/build/p4vrf.p4info.binpb: it starts a private bmv2 with the committed program
(bmv2/start --json), becomes primary (election id 1, device id 1), writes the topology of
ptf-tests/mpls/mpls_topology.py, then runs the PTF tests of ptf-tests/mpls/ inside the
switch's namespace. It keeps the stream open while
they run and collects PacketIns, to check that a labelled packet punted by its VRF reaches the
CPU with its label. Skips with one line when bmv2 is not installed.
"""

import importlib.util
import ipaddress
import os
import pathlib
import queue
import shutil
import subprocess
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = pathlib.Path(__file__).resolve().parent
NAME = "mpls"
P4INFO = ROOT / "p4/build/p4vrf.p4info.binpb"
DEVICE_JSON = ROOT / "p4/build/p4vrf.json"
DEVICE_ID = 1
ELECTION_ID = (0, 1)  # (high, low)
EXPECTED_TESTS = 15


def load_topology():
    spec = importlib.util.spec_from_file_location("mpls_topology", HERE / "mpls/mpls_topology.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


T = load_topology()


def find_tool(name):
    found = shutil.which(name)
    if found:
        return found
    for d in (os.environ.get("P4_TOOLCHAIN", "") + "/bin", "/opt/p4/bin"):
        p = pathlib.Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


# --------------------------------------------------------------------------- P4Runtime


def canonical(value, bitwidth):
    """P4Runtime canonical byte string: big-endian, no leading zero bytes (0 is one zero byte)."""
    assert 0 <= value < (1 << bitwidth), f"{value} does not fit in {bitwidth} bits"
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def mac(text):
    return int(text.replace(":", ""), 16)


class P4Info:
    """Name → id lookups over the committed P4Info."""

    def __init__(self, path):
        from p4.config.v1 import p4info_pb2

        self.info = p4info_pb2.P4Info()
        self.info.ParseFromString(path.read_bytes())
        self.tables = {t.preamble.name: t for t in self.info.tables}
        self.actions = {a.preamble.name: a for a in self.info.actions}
        self.profiles = {p.preamble.name: p for p in self.info.action_profiles}

    def action(self, name, **params):
        from p4.v1 import p4runtime_pb2

        a = self.actions["ingress." + name]
        by_name = {p.name: p for p in a.params}
        assert set(params) == set(by_name), f"{name}: params {sorted(params)} != {sorted(by_name)}"
        out = p4runtime_pb2.Action(action_id=a.preamble.id)
        for pname, value in params.items():
            p = by_name[pname]
            out.params.add(param_id=p.id, value=canonical(value, p.bitwidth))
        return out

    def entry(self, table, match, action=None, group_id=None):
        """match: {field name: int (exact) | (int, prefix_len) (lpm)}."""
        from p4.config.v1 import p4info_pb2
        from p4.v1 import p4runtime_pb2

        t = self.tables["ingress." + table]
        fields = {f.name: f for f in t.match_fields}
        e = p4runtime_pb2.TableEntry(table_id=t.preamble.id)
        for fname, value in match.items():
            f = fields[fname]
            fm = e.match.add(field_id=f.id)
            if f.match_type == p4info_pb2.MatchField.EXACT:
                fm.exact.value = canonical(value, f.bitwidth)
            elif f.match_type == p4info_pb2.MatchField.LPM:
                v, plen = value
                fm.lpm.value, fm.lpm.prefix_len = canonical(v, f.bitwidth), plen
            else:
                raise AssertionError(f"{table}.{fname}: unsupported match type")
        if action is not None:
            e.action.action.CopyFrom(action)
        else:
            e.action.action_profile_group_id = group_id
        return e


class Switch:
    """A P4Runtime primary client: arbitration on the stream, writes, and PacketIns."""

    def __init__(self, addr, p4info):
        import grpc
        from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc

        self.pb = p4runtime_pb2
        self.p4info = p4info
        self.channel = grpc.insecure_channel(addr)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.requests = queue.Queue()
        self.arbitration = queue.Queue()
        self.packet_ins = queue.Queue()
        self.stream = self.stub.StreamChannel(iter(self.requests.get, None))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        req = p4runtime_pb2.StreamMessageRequest()
        req.arbitration.device_id = DEVICE_ID
        req.arbitration.election_id.high, req.arbitration.election_id.low = ELECTION_ID
        self.requests.put(req)
        reply = self.arbitration.get(timeout=10)
        assert reply.status.code == 0, f"not primary: {reply}"

    def _read(self):
        try:
            for msg in self.stream:
                kind = msg.WhichOneof("update")
                if kind == "arbitration":
                    self.arbitration.put(msg.arbitration)
                elif kind == "packet":
                    self.packet_ins.put(msg.packet)
        except Exception:  # the stream ends with an error status when closed
            pass

    def set_pipeline(self):
        req = self.pb.SetForwardingPipelineConfigRequest(
            device_id=DEVICE_ID, action=self.pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT
        )
        req.election_id.high, req.election_id.low = ELECTION_ID
        req.config.p4info.CopyFrom(self.p4info.info)
        req.config.p4_device_config = DEVICE_JSON.read_bytes()
        self.stub.SetForwardingPipelineConfig(req, timeout=30)

    def write(self, entities):
        """One INSERT batch; `entities` are TableEntry / ActionProfileMember / ActionProfileGroup."""
        req = self.pb.WriteRequest(device_id=DEVICE_ID)
        req.election_id.high, req.election_id.low = ELECTION_ID
        for ent in entities:
            u = req.updates.add(type=self.pb.Update.INSERT)
            field = {
                "TableEntry": "table_entry",
                "ActionProfileMember": "action_profile_member",
                "ActionProfileGroup": "action_profile_group",
            }[type(ent).__name__]
            getattr(u.entity, field).CopyFrom(ent)
        self.stub.Write(req, timeout=30)

    def close(self):
        self.requests.put(None)
        self.channel.close()


def prefix(text):
    net = ipaddress.ip_network(text)
    return int(net.network_address), net.prefixlen


def program(sw):
    """Writes the topology of mpls_topology.py, next hops before the routes that use them."""
    pi = sw.p4info
    sw.write([
        pi.entry("router_interface", {"rif": rif},
                 pi.action("set_egress_vlan", port=port, src_mac=mac(T.ROUTER_MAC), vlan_id=vlan) if vlan
                 else pi.action("set_egress", port=port, src_mac=mac(T.ROUTER_MAC)))
        for rif, (port, vlan) in T.RIFS.items()
    ])
    sw.write([
        pi.entry("nexthop", {"nexthop_id": nh},
                 pi.action(action, **{k: mac(v) if k == "dst_mac" else v for k, v in params.items()}))
        for nh, (action, params) in T.NEXTHOPS.items()
    ])
    profile = pi.profiles["ingress.ecmp_selector"].preamble.id
    members = sorted({m for ms in T.ECMP_GROUPS.values() for m in ms})
    sw.write([
        sw.pb.ActionProfileMember(action_profile_id=profile, member_id=m, action=pi.action("set_nexthop", nexthop_id=m))
        for m in members
    ])
    groups = []
    for gid, ms in T.ECMP_GROUPS.items():
        g = sw.pb.ActionProfileGroup(action_profile_id=profile, group_id=gid, max_size=len(ms))
        for m in ms:
            g.members.add(member_id=m, weight=1)
        groups.append(g)
    sw.write(groups)
    sw.write([pi.entry("ecmp_group", {"group_id": gid}, group_id=gid) for gid in T.ECMP_GROUPS])

    routes = []
    for (vrf, pfx), (kind, arg) in T.ROUTES.items():
        table = "ipv6_vrf_lpm" if ":" in pfx else "ipv4_vrf_lpm"
        action = {
            "nexthop": lambda: pi.action("set_nexthop", nexthop_id=arg),
            "ecmp": lambda: pi.action("set_ecmp_group", group_id=arg),
            "punt": lambda: pi.action("punt"),
        }[kind]()
        routes.append(pi.entry(table, {"vrf_id": vrf, "dst_addr": prefix(pfx)}, action))
    sw.write(routes)
    sw.write([
        pi.entry("mpls_vrf", {"label": label}, pi.action("pop_to_vrf", vrf_id=vrf))
        for label, vrf in T.MPLS_VRF.items()
    ])
    sw.write([
        pi.entry("mpls_interface", {"port": port, "vlan_id": vlan}, pi.action("enable_mpls"))
        for port, vlan in T.MPLS_INTERFACES
    ])
    sw.write([
        pi.entry("interface", {"port": port, "vlan_id": vlan}, pi.action("set_interface", vrf_id=T.RIF_VRF[rif], rif=rif))
        for rif, (port, vlan) in T.RIFS.items()
    ])
    sw.write([pi.entry("my_station", {"dst_mac": mac(T.ROUTER_MAC)}, pi.action("admit_to_l3"))])


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def switch():
    if not find_tool("simple_switch_grpc"):
        msg = "SKIP: simple_switch_grpc not found (PATH, $P4_TOOLCHAIN/bin, /opt/p4/bin): MPLS PTF packet tests not run"
        print(msg)
        pytest.skip(msg)
    if os.geteuid() != 0:
        pytest.skip("SKIP: MPLS PTF packet tests need root (network namespaces, raw sockets)")
    subprocess.run([str(ROOT / "bmv2/stop"), "--name", NAME], capture_output=True)
    out = subprocess.run(
        [str(ROOT / "bmv2/start"), "--name", NAME, "--ports", "4", "--json", str(DEVICE_JSON)],
        capture_output=True, text=True, timeout=120,
    )
    if out.returncode == 77:
        msg = out.stdout.strip().splitlines()[0]
        print(msg)
        pytest.skip(msg)
    try:
        assert out.returncode == 0, f"bmv2/start failed:\n{out.stdout}\n{out.stderr}"
        state = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
        sw = Switch(state["GRPC_ADDR"], P4Info(P4INFO))
        try:
            # bmv2 runs the JSON it was started with, but its P4Runtime server needs the P4Info
            # too: push the same pair (VERIFY_AND_COMMIT).
            sw.set_pipeline()
            program(sw)
            yield state, sw
        finally:
            sw.close()
    finally:
        subprocess.run([str(ROOT / "bmv2/stop"), "--name", NAME], capture_output=True)


def run_ptf(state, test_dir):
    cmd = ["ip", "netns", "exec", state["NETNS"], str(ROOT / ".venv/bin/ptf"), "--test-dir", str(HERE / test_dir)]
    for port in range(4):
        cmd += ["--interface", f"{port}@h{port}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=HERE)
    print(result.stdout[-4000:], result.stderr[-4000:])
    assert result.returncode == 0, f"PTF {test_dir} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result


def test_mpls_l3vpn_packets(switch):
    """Encap (transport + VPN label, implicit null, leaked, ECMP, tagged core), decap by VPN
    label (TTL from the label), drops (unknown label, two labels, label TTL 1, any label from a
    CE port), plain IP unchanged; and the one labelled packet punted by its VRF reaches the CPU
    as received (the same packet sent from a CE port is not punted)."""
    state, sw = switch
    result = run_ptf(state, "mpls")
    assert f"Ran {EXPECTED_TESTS} tests" in result.stdout + result.stderr

    sent = T.punted_packet()
    punted = []
    while not sw.packet_ins.empty():
        punted.append(sw.packet_ins.get())
    assert len(punted) == 1, f"expected one PacketIn, got {len(punted)}"
    assert punted[0].payload == sent, f"punted packet differs:\n{punted[0].payload.hex()}\n{sent.hex()}"
    assert [(m.metadata_id, m.value) for m in punted[0].metadata][:1] == [(1, canonical(T.PORT_CORE, 9))]
