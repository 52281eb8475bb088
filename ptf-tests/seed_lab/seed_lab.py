"""PTF packet tests of the seed lab (examples/seed-lab/p4vrf.toml) on bmv2.

The switch was programmed by `p4vrf run ... --target grpc://...`; these tests only send and
receive packets. Ports: 1 = VRF-A (Ethernet1), 2 = VRF-B (Ethernet2), 3 = VRF-C (Ethernet3).

Expected: VRF-C reaches A and B, A and B reach C (leaked routes, one lookup, forwarded with the
neighbor's MAC, the router's source MAC, TTL/hop limit minus one and a correct IPv4 checksum);
A and B cannot reach each other; TTL 1 and unknown destinations are dropped.
"""

import ptf
import ptf.testutils as tu
from ptf.base_tests import BaseTest

ROUTER_MAC = "02:00:00:00:00:01"

# port: (VRF, host MAC, host IPv4, host IPv6, a static prefix behind the host (v4, v6))
HOSTS = {
    1: ("VRF-A", "02:00:00:00:0a:02", "10.1.0.2", "2001:db8:a::2", "10.1.1.7", "2001:db8:a:1::7"),
    2: ("VRF-B", "02:00:00:00:0b:02", "10.2.0.2", "2001:db8:b::2", "10.2.1.7", "2001:db8:b:1::7"),
    3: ("VRF-C", "02:00:00:00:0c:02", "10.3.0.2", "2001:db8:c::2", "10.3.1.7", "2001:db8:c:1::7"),
}


class SeedLabTest(BaseTest):
    def setUp(self):
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()

    def v4(self, in_port, dst, ttl=64):
        _, mac, src, _, _, _ = HOSTS[in_port]
        return tu.simple_udp_packet(eth_dst=ROUTER_MAC, eth_src=mac, ip_src=src, ip_dst=dst, ip_ttl=ttl)

    def v6(self, in_port, dst, hlim=64):
        _, mac, _, src, _, _ = HOSTS[in_port]
        return tu.simple_udpv6_packet(eth_dst=ROUTER_MAC, eth_src=mac, ipv6_src=src, ipv6_dst=dst, ipv6_hlim=hlim)

    def expect_v4(self, in_port, out_port, dst):
        """Routed: neighbor's MAC, router's MAC, TTL 63; scapy recomputes the checksum of the
        expected packet, and PTF compares every byte, so a wrong checksum fails."""
        _, mac, src, _, _, _ = HOSTS[in_port]
        out_mac = HOSTS[out_port][1]
        pkt = self.v4(in_port, dst)
        exp = tu.simple_udp_packet(eth_dst=out_mac, eth_src=ROUTER_MAC, ip_src=src, ip_dst=dst, ip_ttl=63)
        tu.send_packet(self, in_port, pkt)
        tu.verify_packet(self, exp, out_port)
        tu.verify_no_other_packets(self)

    def expect_v6(self, in_port, out_port, dst):
        _, mac, _, src, _, _ = HOSTS[in_port]
        out_mac = HOSTS[out_port][1]
        pkt = self.v6(in_port, dst)
        exp = tu.simple_udpv6_packet(eth_dst=out_mac, eth_src=ROUTER_MAC, ipv6_src=src, ipv6_dst=dst, ipv6_hlim=63)
        tu.send_packet(self, in_port, pkt)
        tu.verify_packet(self, exp, out_port)
        tu.verify_no_other_packets(self)

    def expect_drop(self, in_port, pkt):
        tu.send_packet(self, in_port, pkt)
        tu.verify_no_other_packets(self, timeout=1)


class AReachesC(SeedLabTest):
    """VRF-A → VRF-C: leaked connected host and leaked static, IPv4 and IPv6."""

    def runTest(self):
        self.expect_v4(1, 3, HOSTS[3][2])  # C's host on its connected subnet
        self.expect_v4(1, 3, HOSTS[3][4])  # behind C's static route
        self.expect_v6(1, 3, HOSTS[3][3])
        self.expect_v6(1, 3, HOSTS[3][5])


class BReachesC(SeedLabTest):
    def runTest(self):
        self.expect_v4(2, 3, HOSTS[3][4])
        self.expect_v6(2, 3, HOSTS[3][5])


class CReachesAAndB(SeedLabTest):
    def runTest(self):
        for dst_port in (1, 2):
            self.expect_v4(3, dst_port, HOSTS[dst_port][2])
            self.expect_v4(3, dst_port, HOSTS[dst_port][4])
            self.expect_v6(3, dst_port, HOSTS[dst_port][3])
            self.expect_v6(3, dst_port, HOSTS[dst_port][5])


class AAndBAreIsolated(SeedLabTest):
    def runTest(self):
        self.expect_drop(1, self.v4(1, HOSTS[2][2]))
        self.expect_drop(1, self.v4(1, HOSTS[2][4]))
        self.expect_drop(1, self.v6(1, HOSTS[2][5]))
        self.expect_drop(2, self.v4(2, HOSTS[1][4]))
        self.expect_drop(2, self.v6(2, HOSTS[1][3]))


class TtlOneIsDropped(SeedLabTest):
    def runTest(self):
        self.expect_drop(1, self.v4(1, HOSTS[3][4], ttl=1))
        self.expect_drop(1, self.v6(1, HOSTS[3][5], hlim=1))
        # TTL 2 still forwards (and leaves with 1).
        _, mac, src, _, _, _ = HOSTS[1]
        tu.send_packet(self, 1, self.v4(1, HOSTS[3][4], ttl=2))
        exp = tu.simple_udp_packet(eth_dst=HOSTS[3][1], eth_src=ROUTER_MAC, ip_src=src, ip_dst=HOSTS[3][4], ip_ttl=1)
        tu.verify_packet(self, exp, 3)


class UnknownDestinationIsDropped(SeedLabTest):
    def runTest(self):
        self.expect_drop(1, self.v4(1, "192.0.2.1"))
        self.expect_drop(3, self.v6(3, "2001:db8:ffff::1"))
        # A host on C's subnet that is not a configured neighbor: no adjacency, dropped.
        self.expect_drop(1, self.v4(1, "10.3.0.99"))


class WrongRouterMacIsDropped(SeedLabTest):
    def runTest(self):
        _, mac, src, _, _, _ = HOSTS[1]
        pkt = tu.simple_udp_packet(eth_dst="02:00:00:00:00:99", eth_src=mac, ip_src=src, ip_dst=HOSTS[3][4])
        self.expect_drop(1, pkt)
