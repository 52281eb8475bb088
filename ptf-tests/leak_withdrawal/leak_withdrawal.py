"""A leaked prefix whose source route is removed stops forwarding after the configuration is
re-applied (SIGHUP to the running `p4vrf run`), while the rest keeps forwarding; and a broken
configuration sent the same way is rejected whole, leaving the switch as it was.

Test params (from the pytest driver): config = path of the running configuration (a copy),
pidfile = p4vrf's PID file, log = p4vrf's log file.
"""

import os
import signal
import time

import ptf
import ptf.testutils as tu
from ptf.base_tests import BaseTest

ROUTER_MAC = "02:00:00:00:00:01"
A_MAC, A_IP = "02:00:00:00:0a:02", "10.1.0.2"
C_MAC = "02:00:00:00:0c:02"
REMOVED = "10.3.1.0/24"  # VRF-C's static, leaked into VRF-A and VRF-B
KEPT_DST = "10.3.2.7"    # behind VRF-C's other static


def udp(dst, ttl=64, eth_dst=ROUTER_MAC, eth_src=A_MAC):
    return tu.simple_udp_packet(eth_dst=eth_dst, eth_src=eth_src, ip_src=A_IP, ip_dst=dst, ip_ttl=ttl)


class LeakedPrefixStopsAfterSourceRemoved(BaseTest):
    def setUp(self):
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.dataplane.flush()
        params = tu.test_params_get()
        self.config, self.pidfile, self.log = params["config"], params["pidfile"], params["log"]

    def log_count(self, what):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read().count(what)

    def reload(self, text, expect):
        """Writes the configuration, sends SIGHUP, waits (bounded) for the log line `expect`."""
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        before = self.log_count(expect)
        with open(self.pidfile, encoding="utf-8") as f:
            os.kill(int(f.read().strip()), signal.SIGHUP)
        deadline = time.time() + 15
        while self.log_count(expect) == before:
            self.assertLess(time.time(), deadline, "p4vrf did not log %r within 15 s" % expect)
            time.sleep(0.1)

    def runTest(self):
        # Before: A reaches 10.3.1.7 through the leak.
        tu.send_packet(self, 1, udp("10.3.1.7"))
        tu.verify_packet(self, udp("10.3.1.7", 63, C_MAC, ROUTER_MAC), 3)

        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        block = '  [[vrf.static]]\n  prefix = "%s"\n  next-hop = ["10.3.0.2"]\n' % REMOVED
        self.assertIn(block, text)
        self.reload(text.replace(block, ""), "configuration applied")

        # After: the leaked prefix is gone from VRF-A; the other leak still forwards.
        tu.send_packet(self, 1, udp("10.3.1.7"))
        tu.verify_no_other_packets(self, timeout=1)
        tu.send_packet(self, 1, udp(KEPT_DST))
        tu.verify_packet(self, udp(KEPT_DST, 63, C_MAC, ROUTER_MAC), 3)
        tu.verify_no_other_packets(self)

        # A broken configuration is rejected whole: nothing changes on the switch.
        with open(self.config, encoding="utf-8") as f:
            good = f.read()
        broken = good.replace('next-hop = ["10.3.0.2"]', 'next-hop = ["10.3.0.99"]', 1)
        broken = broken.replace('rd = "65535:1"', 'rd = "65535"', 1)
        self.assertNotEqual(broken, good)
        self.reload(broken, "configuration rejected")
        tu.send_packet(self, 1, udp(KEPT_DST))
        tu.verify_packet(self, udp(KEPT_DST, 63, C_MAC, ROUTER_MAC), 3)
        tu.send_packet(self, 1, udp("10.3.1.7"))
        tu.verify_no_other_packets(self, timeout=1)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(good)
