"""PTF packet tests of the VPN end to end: bmv2 programmed by the running `p4vrf run`, whose
VPN entries come from a real remote PE (GoBGP or FRR) over MP-BGP.

The driver (ptf-tests/test_ptf_vpn_e2e.py) runs these classes one phase at a time, by name,
between BGP events; see vpn_e2e_topology.py for the ports, labels and prefixes. Every expected
packet is built in full and PTF compares every byte: MACs, ethertype, label value, TC, S bit,
label TTL, IP TTL / hop limit and the IPv4 checksum.

Encap (CE → core, uniform TTL model): the PE's VPN label (S=1, TC 0) below the MACs, label TTL
= IP TTL after its decrement. Decap (core → CE): our label selects CUST, the IP TTL becomes the
label's TTL minus one.
"""

import ptf
import ptf.testutils as tu
from ptf.base_tests import BaseTest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from vpn_e2e_topology import (
    BEHIND_CE1_IP, BEHIND_CE1_IP6, CE1_IP, CE1_IP6, CE1_MAC, CE3_IP, CE3_MAC, OUR_LABEL, PE_LABEL_V4,
    PE_LABEL_V6, PE_MAC, PORT_CE1, PORT_CE3, PORT_CORE, REMOTE_IP, REMOTE_IP6, ROUTER_MAC,
)

ETH_MPLS = 0x8847


def udp4(src, dst, ttl=64, eth_dst=ROUTER_MAC, eth_src=CE1_MAC):
    return tu.simple_udp_packet(eth_dst=eth_dst, eth_src=eth_src, ip_src=src, ip_dst=dst, ip_ttl=ttl)


def udp6(src, dst, hlim=64, eth_dst=ROUTER_MAC, eth_src=CE1_MAC):
    return tu.simple_udpv6_packet(eth_dst=eth_dst, eth_src=eth_src, ipv6_src=src, ipv6_dst=dst, ipv6_hlim=hlim)


def ip_part(pkt):
    return pkt[IP] if IP in pkt else pkt[IPv6]


def labelled(eth_dst, eth_src, label, label_ttl, inner):
    """Ethernet + one label (S=1, TC 0) + IP."""
    return Ether(dst=eth_dst, src=eth_src, type=ETH_MPLS) / MPLS(label=label, cos=0, s=1, ttl=label_ttl) / inner


def from_core(label, label_ttl, inner_pkt):
    """A labelled packet as the remote PE sends it to us: its MAC, our router MAC."""
    return labelled(ROUTER_MAC, PE_MAC, label, label_ttl, ip_part(inner_pkt))


class VpnTest(BaseTest):
    def setUp(self):
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()

    def forward(self, in_port, pkt, out_port, exp):
        tu.send_packet(self, in_port, pkt)
        tu.verify_packet(self, exp, out_port)
        tu.verify_no_other_packets(self)

    def all_dropped(self, sends):
        """Sends every (port, packet), then checks that nothing at all came out."""
        for port, pkt in sends:
            tu.send_packet(self, port, pkt)
        tu.verify_no_other_packets(self, timeout=1)

    def encap_v4(self, ttl=64, label=PE_LABEL_V4):
        """CE → remote PE, IPv4: the PE's label to the PE's MAC out of the core port."""
        inner = ip_part(udp4(CE1_IP, REMOTE_IP, ttl=ttl - 1))
        exp = labelled(PE_MAC, ROUTER_MAC, label, ttl - 1, inner)
        self.forward(PORT_CE1, udp4(CE1_IP, REMOTE_IP, ttl=ttl), PORT_CORE, exp)

    def encap_v6(self, hlim=64):
        inner = ip_part(udp6(CE1_IP6, REMOTE_IP6, hlim=hlim - 1))
        exp = labelled(PE_MAC, ROUTER_MAC, PE_LABEL_V6, hlim - 1, inner)
        self.forward(PORT_CE1, udp6(CE1_IP6, REMOTE_IP6, hlim=hlim), PORT_CORE, exp)


# --------------------------------------------------------------- phase 1: the PE's routes up


class EncapToRemotePe(VpnTest):
    """IPv4 and IPv6 from the CE leave the core port with the label the PE announced for each
    family, TTL 64 → 63 on label and IP, and TTL 2 → 1 (still forwarded)."""

    def runTest(self):
        self.encap_v4()
        self.encap_v6()
        self.encap_v4(ttl=2)
        self.encap_v6(hlim=2)
        # TTL 1 is not labelled and sent: dropped.
        self.all_dropped([(PORT_CE1, udp4(CE1_IP, REMOTE_IP, ttl=1)), (PORT_CE1, udp6(CE1_IP6, REMOTE_IP6, hlim=1))])


class EncapToRemotePeV4(VpnTest):
    """IPv4 to the PE with the label given as test parameter `v4_label` (after the PE changed
    it)."""

    def runTest(self):
        self.encap_v4(label=int(tu.test_params_get()["v4_label"]))


# --------------------------------------------------------------- phase 2: our routes at the PE


class DecapFromCore(VpnTest):
    """What the PE sends with our label 1000 comes out of CUST's CE ports as plain IP: our MAC,
    the CE's MAC, IP TTL = label TTL − 1 (label TTL 50, IP TTL 64 → 49)."""

    def runTest(self):
        for dst in (BEHIND_CE1_IP, CE1_IP):
            pkt = from_core(OUR_LABEL, 50, udp4(REMOTE_IP, dst, eth_src=PE_MAC))
            exp = udp4(REMOTE_IP, dst, ttl=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
            self.forward(PORT_CORE, pkt, PORT_CE1, exp)
        for dst in (BEHIND_CE1_IP6, CE1_IP6):
            pkt = from_core(OUR_LABEL, 50, udp6(REMOTE_IP6, dst, eth_src=PE_MAC))
            exp = udp6(REMOTE_IP6, dst, hlim=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
            self.forward(PORT_CORE, pkt, PORT_CE1, exp)
        # The other CE port of CUST, by the same label.
        pkt = from_core(OUR_LABEL, 50, udp4(REMOTE_IP, CE3_IP, eth_src=PE_MAC))
        self.forward(PORT_CORE, pkt, PORT_CE3, udp4(REMOTE_IP, CE3_IP, ttl=49, eth_dst=CE3_MAC, eth_src=ROUTER_MAC))


class LabelledDrops(VpnTest):
    """Dropped: a label that is not ours (the PE's own 2004, and 1001) from the core; our label
    with TTL 1; our label from the CE ports (they have no mpls_interface entry, so a CE cannot
    pick a VRF by label)."""

    def runTest(self):
        v4 = udp4(REMOTE_IP, BEHIND_CE1_IP, eth_src=PE_MAC)
        self.all_dropped([
            (PORT_CORE, from_core(PE_LABEL_V4, 50, v4)),
            (PORT_CORE, from_core(OUR_LABEL + 1, 50, v4)),
            (PORT_CORE, from_core(OUR_LABEL, 1, v4)),
            (PORT_CE1, labelled(ROUTER_MAC, CE1_MAC, OUR_LABEL, 50, ip_part(udp4(CE1_IP, CE3_IP)))),
            (PORT_CE3, labelled(ROUTER_MAC, CE3_MAC, OUR_LABEL, 50, ip_part(udp4(CE3_IP, BEHIND_CE1_IP)))),
        ])
        # The same packet as the first ones, with our label, from the core: forwarded.
        exp = udp4(REMOTE_IP, BEHIND_CE1_IP, ttl=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, from_core(OUR_LABEL, 50, v4), PORT_CE1, exp)


# --------------------------------------------------------------- phase 3: the PE withdrew IPv4


class V4WithdrawnV6Forwards(VpnTest):
    """After the PE withdrew 172.16.0.0/16 only: IPv4 to it is dropped (CUST has no other route
    to it), IPv6 is still labelled with 2006."""

    def runTest(self):
        self.all_dropped([(PORT_CE1, udp4(CE1_IP, REMOTE_IP))])
        self.encap_v6()


# --------------------------------------------------------------- phase 4: the PE is gone


class PeGoneNothingLabelled(VpnTest):
    """After the PE's session died: nothing goes towards it any more (dropped, not labelled),
    while labelled packets to us still reach CUST (our label is ours, not the PE's)."""

    def runTest(self):
        self.all_dropped([(PORT_CE1, udp4(CE1_IP, REMOTE_IP)), (PORT_CE1, udp6(CE1_IP6, REMOTE_IP6))])
        pkt = from_core(OUR_LABEL, 50, udp6(REMOTE_IP6, BEHIND_CE1_IP6, eth_src=PE_MAC))
        exp = udp6(REMOTE_IP6, BEHIND_CE1_IP6, hlim=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, pkt, PORT_CE1, exp)


# --------------------------------------------------------------- last: our label changed (SIGHUP)


class DecapByLabel(VpnTest):
    """Our label is now the test parameter `label`: it is decapsulated into CUST, `old_label`
    (the one before the change) is dropped."""

    def runTest(self):
        params = tu.test_params_get()
        label, old = int(params["label"]), int(params["old_label"])
        v4 = udp4(REMOTE_IP, BEHIND_CE1_IP, eth_src=PE_MAC)
        self.all_dropped([(PORT_CORE, from_core(old, 50, v4))])
        exp = udp4(REMOTE_IP, BEHIND_CE1_IP, ttl=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, from_core(label, 50, v4), PORT_CE1, exp)
