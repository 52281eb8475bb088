"""PTF packet tests of the MPLS L3VPN PE pipeline (p4/p4vrf.p4) on bmv2.

The switch was programmed by ptf-tests/test_ptf_mpls.py with the topology of mpls_topology.py
(read that first). Every expected packet is built in full and PTF compares every byte, so MACs,
ethertypes, label values, TC, S bits, label TTLs, IP TTL / hop limit and the IPv4 header
checksum (scapy computes it for the expected packet) are all checked.

Encap (CE → core): labels pushed below the MACs, VPN label at the bottom with S=1, the transport
label on top with S=0, TC 0, every label TTL = the decremented IP TTL (uniform model).
Decap (core → CE): the VPN label selects the VRF; the IP TTL becomes the label's TTL, minus one.
"""

import ptf
import ptf.dataplane
import ptf.testutils as tu
from ptf.base_tests import BaseTest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether

from mpls_topology import (
    CE0_IP, CE0_MAC, CE1_IP, CE1_IP6, CE1_MAC, CE3_IP, CE3_MAC, CORE_VLAN, LABEL_VRF1, LABEL_VRF2,
    P_MAC, PE2_MAC, PORT_CE1, PORT_CE3, PORT_CORE, PORT_VRF2_CE, REMOTE1_IP, REMOTE1_IP6,
    REMOTE2_IP, REMOTE2_IP6, REMOTE_ECMP_IP, REMOTE_VLAN_IP, ROUTER_MAC, ROUTER_VRF1_IP,
    TRANSPORT_LABEL_PE1, TRANSPORT_LABEL_VLAN, UNKNOWN_LABEL, VPN_LABEL_PE1, VPN_LABEL_PE2,
    punted_packet,
)

ETH_MPLS = 0x8847


def udp4(src, dst, ttl=64, sport=1234, eth_dst=ROUTER_MAC, eth_src=CE1_MAC):
    return tu.simple_udp_packet(eth_dst=eth_dst, eth_src=eth_src, ip_src=src, ip_dst=dst, ip_ttl=ttl,
                                udp_sport=sport)


def udp6(src, dst, hlim=64, eth_dst=ROUTER_MAC, eth_src=CE1_MAC):
    return tu.simple_udpv6_packet(eth_dst=eth_dst, eth_src=eth_src, ipv6_src=src, ipv6_dst=dst,
                                  ipv6_hlim=hlim)


def ip_part(pkt):
    """The IP packet (header, UDP, payload) of an Ethernet frame built above."""
    return pkt[IP] if IP in pkt else pkt[IPv6]


def labelled(eth_dst, eth_src, labels, inner, vlan=None):
    """Ethernet [802.1Q] + a label stack (top first, (label, ttl) pairs; S=1 on the last) + IP."""
    if vlan is None:
        pkt = Ether(dst=eth_dst, src=eth_src, type=ETH_MPLS)
    else:
        pkt = Ether(dst=eth_dst, src=eth_src, type=0x8100) / Dot1Q(prio=0, id=0, vlan=vlan, type=ETH_MPLS)
    for i, (label, ttl) in enumerate(labels):
        pkt = pkt / MPLS(label=label, cos=0, s=int(i == len(labels) - 1), ttl=ttl)
    return pkt / inner


class MplsTest(BaseTest):
    def setUp(self):
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()

    def forward(self, in_port, pkt, out_port, exp):
        tu.send_packet(self, in_port, pkt)
        tu.verify_packet(self, exp, out_port)
        tu.verify_no_other_packets(self)

    def all_dropped(self, sends):
        """Sends every (port, packet) and then checks that nothing at all came out."""
        for port, pkt in sends:
            tu.send_packet(self, port, pkt)
        tu.verify_no_other_packets(self, timeout=1)


# --------------------------------------------------------------------------- encap, CE → core


class EncapIpv4TransportAndVpnLabel(MplsTest):
    """VRF 1 → remote PE behind P: transport label 3016 on top, VPN label 116 (S=1) below, both
    with TTL = IP TTL − 1, the IP TTL decremented and its checksum right, MACs P / router."""

    def runTest(self):
        for ttl in (64, 10):
            pkt = udp4(CE1_IP, REMOTE1_IP, ttl=ttl)
            inner = ip_part(udp4(CE1_IP, REMOTE1_IP, ttl=ttl - 1))
            exp = labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_PE1, ttl - 1), (VPN_LABEL_PE1, ttl - 1)], inner)
            self.forward(PORT_CE1, pkt, PORT_CORE, exp)


class EncapIpv6TransportAndVpnLabel(MplsTest):
    def runTest(self):
        pkt = udp6(CE1_IP6, REMOTE1_IP6, hlim=64)
        inner = ip_part(udp6(CE1_IP6, REMOTE1_IP6, hlim=63))
        exp = labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_PE1, 63), (VPN_LABEL_PE1, 63)], inner)
        self.forward(PORT_CE1, pkt, PORT_CORE, exp)


class EncapImplicitNullOneLabel(MplsTest):
    """Directly connected remote PE: only its VPN label (S=1), to the PE's MAC."""

    def runTest(self):
        inner4 = ip_part(udp4(CE1_IP, REMOTE2_IP, ttl=63))
        self.forward(PORT_CE1, udp4(CE1_IP, REMOTE2_IP), PORT_CORE,
                     labelled(PE2_MAC, ROUTER_MAC, [(VPN_LABEL_PE2, 63)], inner4))
        inner6 = ip_part(udp6(CE1_IP6, REMOTE2_IP6, hlim=63))
        self.forward(PORT_CE1, udp6(CE1_IP6, REMOTE2_IP6), PORT_CORE,
                     labelled(PE2_MAC, ROUTER_MAC, [(VPN_LABEL_PE2, 63)], inner6))


class EncapTaggedCoreSubinterface(MplsTest):
    """Core reached over VLAN 100: the tag is pushed and carries ethertype 0x8847."""

    def runTest(self):
        inner = ip_part(udp4(CE1_IP, REMOTE_VLAN_IP, ttl=63))
        exp = labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_VLAN, 63), (VPN_LABEL_PE1, 63)], inner, vlan=CORE_VLAN)
        self.forward(PORT_CE1, udp4(CE1_IP, REMOTE_VLAN_IP), PORT_CORE, exp)


class EncapLeakedRoute(MplsTest):
    """VRF 2 imports VRF 1's VPN route: same next hop, same labels, one lookup."""

    def runTest(self):
        pkt = udp4(CE0_IP, REMOTE1_IP, eth_src=CE0_MAC)
        inner = ip_part(udp4(CE0_IP, REMOTE1_IP, ttl=63))
        exp = labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_PE1, 63), (VPN_LABEL_PE1, 63)], inner)
        self.forward(PORT_VRF2_CE, pkt, PORT_CORE, exp)


class EncapEcmpOverVpnNexthops(MplsTest):
    """An ECMP group of the two VPN next hops: every flow leaves with one member's exact
    encapsulation, the same one for every packet of the flow, and both members are used."""

    def runTest(self):
        used = set()
        for sport in range(1000, 1016):
            inner = ip_part(udp4(CE1_IP, REMOTE_ECMP_IP, ttl=63, sport=sport))
            choices = [
                labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_PE1, 63), (VPN_LABEL_PE1, 63)], inner),
                labelled(PE2_MAC, ROUTER_MAC, [(VPN_LABEL_PE2, 63)], inner),
            ]
            picked = []
            for _ in range(2):
                tu.send_packet(self, PORT_CE1, udp4(CE1_IP, REMOTE_ECMP_IP, sport=sport))
                result = tu.dp_poll(self, device_number=0, port_number=PORT_CORE, timeout=2)
                self.assertIsInstance(result, self.dataplane.PollSuccess, f"flow {sport}: nothing on the core port")
                match = [i for i, exp in enumerate(choices) if ptf.dataplane.match_exp_pkt(exp, result.packet)]
                self.assertEqual(len(match), 1, f"flow {sport}: packet matches no member's encapsulation")
                picked.append(match[0])
            self.assertEqual(picked[0], picked[1], f"flow {sport} changed members")
            used.add(picked[0])
        tu.verify_no_other_packets(self)
        self.assertEqual(used, {0, 1}, "16 flows all hashed to one member")


class EncapTtl(MplsTest):
    """TTL 2 leaves with IP TTL 1 and label TTLs 1; TTL 1 is dropped, IPv4 and IPv6."""

    def runTest(self):
        inner = ip_part(udp4(CE1_IP, REMOTE1_IP, ttl=1))
        exp = labelled(P_MAC, ROUTER_MAC, [(TRANSPORT_LABEL_PE1, 1), (VPN_LABEL_PE1, 1)], inner)
        self.forward(PORT_CE1, udp4(CE1_IP, REMOTE1_IP, ttl=2), PORT_CORE, exp)
        self.all_dropped([
            (PORT_CE1, udp4(CE1_IP, REMOTE1_IP, ttl=1)),
            (PORT_CE1, udp6(CE1_IP6, REMOTE1_IP6, hlim=1)),
        ])


# --------------------------------------------------------------------------- decap, core → CE


class DecapIpv4ByVpnLabel(MplsTest):
    """Label 1000 (VRF 1) from the core: plain IPv4 out of the CE port, CE MAC / router MAC,
    ethertype 0x0800, IP TTL = label TTL − 1 (not IP TTL − 1: uniform model)."""

    def runTest(self):
        for mpls_ttl, ip_ttl in ((50, 64), (50, 3), (200, 64)):
            pkt = labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, mpls_ttl)], ip_part(udp4(REMOTE1_IP, CE1_IP, ttl=ip_ttl)))
            exp = udp4(REMOTE1_IP, CE1_IP, ttl=mpls_ttl - 1, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
            self.forward(PORT_CORE, pkt, PORT_CE1, exp)


class DecapIpv6ByVpnLabel(MplsTest):
    def runTest(self):
        pkt = labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50)], ip_part(udp6(REMOTE1_IP6, CE1_IP6, hlim=64)))
        exp = udp6(REMOTE1_IP6, CE1_IP6, hlim=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, pkt, PORT_CE1, exp)


class DecapLabelSelectsVrf(MplsTest):
    """The label, not the core interface, picks the VRF: label 2000 reaches VRF 2's CE and not
    VRF 1's prefixes; the tagged core subinterface decapsulates the same way."""

    def runTest(self):
        pkt = labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF2, 50)], ip_part(udp4(REMOTE1_IP, CE0_IP)))
        exp = udp4(REMOTE1_IP, CE0_IP, ttl=49, eth_dst=CE0_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, pkt, PORT_VRF2_CE, exp)

        tagged = labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50)], ip_part(udp4(REMOTE1_IP, CE1_IP)), vlan=CORE_VLAN)
        exp = udp4(REMOTE1_IP, CE1_IP, ttl=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC)
        self.forward(PORT_CORE, tagged, PORT_CE1, exp)

        self.all_dropped([
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF2, 50)], ip_part(udp4(REMOTE1_IP, CE1_IP)))),
        ])


class DecapDrops(MplsTest):
    """Unknown label; a two-label stack (even with our VPN label at the bottom, or on top); a
    four-label stack (parser limit 3); label TTL 1 (IP TTL 1 after the pop); our label over a
    non-IP payload."""

    def runTest(self):
        inner = ip_part(udp4(REMOTE1_IP, CE1_IP))
        self.all_dropped([
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(UNKNOWN_LABEL, 50)], inner)),
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(TRANSPORT_LABEL_PE1, 50), (LABEL_VRF1, 50)], inner)),
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50), (LABEL_VRF1, 50)], inner)),
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50)] * 4, inner)),
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 1)], inner)),
            (PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50)], Ether(dst=CE1_MAC, src=P_MAC) / inner)),
        ])
        # Sanity: the same packet with a good single label does come out.
        self.forward(PORT_CORE, labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 2)], inner), PORT_CE1,
                     udp4(REMOTE1_IP, CE1_IP, ttl=1, eth_dst=CE1_MAC, eth_src=ROUTER_MAC))


class DecapOnlyFromCoreInterfaces(MplsTest):
    """VRF isolation: a CE port has no mpls_interface entry, so a labelled packet from it is
    dropped whatever its label — the VRF 2 CE cannot reach VRF 1 (or its router address, a
    punt route: the driver checks that only one PacketIn arrives) with VRF 1's VPN label, nor
    VRF 1's CE VRF 2 with VRF 2's, nor either its own VRF; tagged (VLAN 100) on a CE port
    neither. The very same packets sent from the core are decapsulated."""

    def runTest(self):
        to_vrf1 = labelled(ROUTER_MAC, CE0_MAC, [(LABEL_VRF1, 50)], ip_part(udp4(CE0_IP, CE1_IP)))
        to_vrf2 = labelled(ROUTER_MAC, CE1_MAC, [(LABEL_VRF2, 50)], ip_part(udp4(CE1_IP, CE0_IP)))
        own_vrf = labelled(ROUTER_MAC, CE1_MAC, [(LABEL_VRF1, 50)], ip_part(udp4(CE1_IP, CE3_IP)))
        self.all_dropped([
            (PORT_VRF2_CE, to_vrf1),
            (PORT_VRF2_CE, labelled(ROUTER_MAC, CE0_MAC, [(LABEL_VRF1, 50)],
                                    ip_part(udp6("2001:db8:5::2", CE1_IP6)))),
            (PORT_VRF2_CE, labelled(ROUTER_MAC, CE0_MAC, [(LABEL_VRF1, 50)],
                                    ip_part(udp4(CE0_IP, ROUTER_VRF1_IP)))),
            (PORT_VRF2_CE, labelled(ROUTER_MAC, CE0_MAC, [(LABEL_VRF1, 50)], ip_part(udp4(CE0_IP, CE1_IP)),
                                    vlan=CORE_VLAN)),
            (PORT_CE1, to_vrf2),
            (PORT_CE1, own_vrf),
            (PORT_CE3, labelled(ROUTER_MAC, CE3_MAC, [(LABEL_VRF2, 50)], ip_part(udp4(CE3_IP, CE0_IP)))),
        ])
        # Sanity: the same labelled packets from the core are forwarded.
        self.forward(PORT_CORE, to_vrf1, PORT_CE1,
                     udp4(CE0_IP, CE1_IP, ttl=49, eth_dst=CE1_MAC, eth_src=ROUTER_MAC))
        self.forward(PORT_CORE, to_vrf2, PORT_VRF2_CE,
                     udp4(CE1_IP, CE0_IP, ttl=49, eth_dst=CE0_MAC, eth_src=ROUTER_MAC))


class DecapThenEncap(MplsTest):
    """A VRF 1 packet from the core to another remote PE of VRF 1 (hub and spoke): popped,
    routed, and pushed again with the other PE's label and the TTL carried through."""

    def runTest(self):
        pkt = labelled(ROUTER_MAC, P_MAC, [(LABEL_VRF1, 50)], ip_part(udp4(REMOTE1_IP, REMOTE2_IP)))
        exp = labelled(PE2_MAC, ROUTER_MAC, [(VPN_LABEL_PE2, 49)], ip_part(udp4(REMOTE1_IP, REMOTE2_IP, ttl=49)))
        self.forward(PORT_CORE, pkt, PORT_CORE, exp)


class LabelledPuntReachesCpuAsReceived(MplsTest):
    """A labelled packet to the router's own address in VRF 1 is punted; nothing leaves on a
    port. The driver checks the PacketIn: the packet as received, label included."""

    def runTest(self):
        self.all_dropped([(PORT_CORE, Ether(punted_packet()))])


# --------------------------------------------------------------------------- plain IP


class PlainIpRoutesAsBefore(MplsTest):
    """Unlabelled traffic inside VRF 1: forwarded as plain IP, TTL − 1, right MACs, no label."""

    def runTest(self):
        self.forward(PORT_CE1, udp4(CE1_IP, CE3_IP), PORT_CE3,
                     udp4(CE1_IP, CE3_IP, ttl=63, eth_dst=CE3_MAC, eth_src=ROUTER_MAC))
        self.forward(PORT_CE3, udp6("2001:db8:3::2", CE1_IP6, eth_src=CE3_MAC), PORT_CE1,
                     udp6("2001:db8:3::2", CE1_IP6, hlim=63, eth_dst=CE1_MAC, eth_src=ROUTER_MAC))
        self.forward(PORT_CE3, udp4(CE3_IP, CE1_IP, eth_src=CE3_MAC), PORT_CE1,
                     udp4(CE3_IP, CE1_IP, ttl=63, eth_dst=CE1_MAC, eth_src=ROUTER_MAC))
