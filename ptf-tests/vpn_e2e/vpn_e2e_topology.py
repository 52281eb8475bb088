"""The VPN end-to-end topology: one module shared by the pytest driver
(ptf-tests/test_ptf_vpn_e2e.py: configures p4vrf and the remote PE — GoBGP, then FRR —,
checks the P4 entries and the PE's table) and the PTF tests of this directory (send and expect
packets), so the two cannot disagree about a MAC, a label or a prefix. It must agree with
p4vrf.toml here.

Switch ports (bmv2/start --ports 4, PTF port i is veth h<i>):

    port 1  Ethernet1  VRF CUST, CE-facing (CE host 10.1.0.2 / 2001:db8:1::2)
    port 2  Ethernet2  the MPLS core (core = true); the remote PE's core address 192.0.2.2
    port 3  Ethernet3  VRF CUST, CE-facing (host 10.3.0.2)

Remote PE (iBGP on loopback): VPNv4 172.16.0.0/16 with label 2004 and VPNv6
2001:db8:16::/48 with label 2006, RD 65000:200, RT 65000:100 (CUST imports it), next hop
192.0.2.2. It is adjacent (implicit null), so p4vrf pushes only the PE's VPN label.
Our side: CUST's VPN label is 1000, RD 65000:100, next hop 192.0.2.1.
"""

ROUTER_MAC = "02:00:00:00:00:01"
CE1_MAC = "02:00:00:00:01:02"  # CE on port 1 (IPv4 and IPv6 neighbor)
CE3_MAC = "02:00:00:00:03:02"  # host on port 3
PE_MAC = "02:00:00:00:0f:02"  # the remote PE's core interface, behind port 2

PORT_CE1, PORT_CORE, PORT_CE3 = 1, 2, 3

# ours
ASN = 65000
OUR_RD = "65000:100"
RT = "65000:100"
OUR_LABEL = 1000
OUR_NEW_LABEL = 1100  # after the last test edits `vpn-label` and sends SIGHUP
OUR_NEXT_HOP = "192.0.2.1"
# CUST's routes, which the PE must receive as VPN routes (connected and static, redistributed)
OUR_VPNV4 = ["10.1.0.0/24", "10.1.1.0/24", "10.3.0.0/24"]
OUR_VPNV6 = ["2001:db8:1::/64", "2001:db8:1:1::/64"]

# the remote PE's
PE_RD = "65000:200"
PE_NEXT_HOP = "192.0.2.2"
PE_VPNV4, PE_LABEL_V4 = "172.16.0.0/16", 2004
PE_VPNV6, PE_LABEL_V6 = "2001:db8:16::/48", 2006
PE_NEW_LABEL_V4 = 2104  # the label the PE moves 172.16.0.0/16 to, later

# hosts
CE1_IP, CE1_IP6 = "10.1.0.2", "2001:db8:1::2"
BEHIND_CE1_IP, BEHIND_CE1_IP6 = "10.1.1.7", "2001:db8:1:1::7"  # CUST's statics via the CE
CE3_IP = "10.3.0.2"
REMOTE_IP, REMOTE_IP6 = "172.16.5.5", "2001:db8:16::5"  # behind the remote PE
