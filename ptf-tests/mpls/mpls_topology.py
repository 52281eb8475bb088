"""The MPLS L3VPN test topology: one module shared by the pytest driver (which writes the
entries over P4Runtime) and the PTF tests (which send and expect packets), so the two cannot
disagree about a MAC, a label or a prefix.

Switch ports (bmv2/start --ports 4, PTF port i is veth h<i>):

    port 0  CE of VRF 2 (untagged)          rif 5
    port 1  CE of VRF 1 (untagged)          rif 1
    port 2  the MPLS core (untagged)        rif 2   and VLAN 100 on the same port: rif 4
    port 3  a second CE of VRF 1 (untagged) rif 3

Our VPN labels (per-VRF allocation): 1000 → VRF 1, 2000 → VRF 2. Labelled packets are
accepted (mpls_interface) on the two core interfaces only, port 2 untagged and VLAN 100; the CE
ports have no mpls_interface entry, so a labelled packet from a CE is dropped.
Remote PE routes in VRF 1: 172.16.0.0/16 (2001:db8:16::/48) via an LSP (transport label
3016 pushed on top of VPN label 116 towards the core router P), 172.17.0.0/16
(2001:db8:17::/48) via a directly connected remote PE (implicit null: VPN label 117 only),
172.18.0.0/16 through an ECMP group of both VPN next hops, 172.19.0.0/16 over the tagged core
subinterface. VRF 2 imports (leaks) 172.16.0.0/16 with VRF 1's VPN next hop.
"""

ROUTER_MAC = "02:00:00:00:00:01"

CE1_MAC = "02:00:00:00:01:02"  # VRF 1, port 1
CE3_MAC = "02:00:00:00:03:02"  # VRF 1, port 3
CE0_MAC = "02:00:00:00:00:02"  # VRF 2, port 0
P_MAC = "02:00:00:00:0f:01"  # core router (LSP next hop), port 2
PE2_MAC = "02:00:00:00:0f:02"  # directly connected remote PE, port 2

PORT_VRF2_CE, PORT_CE1, PORT_CORE, PORT_CE3 = 0, 1, 2, 3
CORE_VLAN = 100

VRF1, VRF2 = 1, 2
VRF_CORE = 99  # what `interface` gives the core rifs; never looked up for labelled packets

LABEL_VRF1, LABEL_VRF2 = 1000, 2000  # our VPN labels (mpls_vrf)
VPN_LABEL_PE1 = 116  # remote PE's VPN label for 172.16/16, behind P
TRANSPORT_LABEL_PE1 = 3016  # LSP towards that PE
VPN_LABEL_PE2 = 117  # directly connected remote PE's VPN label
TRANSPORT_LABEL_VLAN = 3019  # LSP over the tagged core subinterface
UNKNOWN_LABEL = 4242

# router interfaces: rif -> (port, vlan or 0)
RIFS = {1: (PORT_CE1, 0), 2: (PORT_CORE, 0), 3: (PORT_CE3, 0), 4: (PORT_CORE, CORE_VLAN), 5: (PORT_VRF2_CE, 0)}
RIF_VRF = {1: VRF1, 2: VRF_CORE, 3: VRF1, 4: VRF_CORE, 5: VRF2}

# next hops: id -> (action, params)
NEXTHOPS = {
    1: ("set_neighbor", {"rif": 1, "dst_mac": CE1_MAC}),
    3: ("set_neighbor", {"rif": 3, "dst_mac": CE3_MAC}),
    5: ("set_neighbor", {"rif": 5, "dst_mac": CE0_MAC}),
    10: ("set_vpn_transport_neighbor",
         {"rif": 2, "dst_mac": P_MAC, "vpn_label": VPN_LABEL_PE1, "transport_label": TRANSPORT_LABEL_PE1}),
    11: ("set_vpn_neighbor", {"rif": 2, "dst_mac": PE2_MAC, "vpn_label": VPN_LABEL_PE2}),
    12: ("set_vpn_transport_neighbor",
         {"rif": 4, "dst_mac": P_MAC, "vpn_label": VPN_LABEL_PE1, "transport_label": TRANSPORT_LABEL_VLAN}),
}
ECMP_GROUPS = {7: [10, 11]}

# (vrf, prefix) -> ("nexthop", id) | ("ecmp", group) | ("punt", None)
ROUTES = {
    (VRF1, "10.1.0.0/24"): ("nexthop", 1),
    (VRF1, "10.3.0.0/24"): ("nexthop", 3),
    (VRF1, "10.1.0.1/32"): ("punt", None),  # the router's own address in VRF 1
    (VRF1, "172.16.0.0/16"): ("nexthop", 10),
    (VRF1, "172.17.0.0/16"): ("nexthop", 11),
    (VRF1, "172.18.0.0/16"): ("ecmp", 7),
    (VRF1, "172.19.0.0/16"): ("nexthop", 12),
    (VRF1, "2001:db8:1::/64"): ("nexthop", 1),
    (VRF1, "2001:db8:16::/48"): ("nexthop", 10),
    (VRF1, "2001:db8:17::/48"): ("nexthop", 11),
    (VRF2, "10.5.0.0/24"): ("nexthop", 5),
    (VRF2, "172.16.0.0/16"): ("nexthop", 10),  # leaked from VRF 1
}

MPLS_VRF = {LABEL_VRF1: VRF1, LABEL_VRF2: VRF2}

# (port, vlan or 0) of the interfaces that accept labelled packets (mpls_interface): the core
# rifs 2 and 4, not the CE ones.
MPLS_INTERFACES = [(PORT_CORE, 0), (PORT_CORE, CORE_VLAN)]

# hosts
CE1_IP, CE1_IP6 = "10.1.0.2", "2001:db8:1::2"
CE3_IP = "10.3.0.2"
CE0_IP = "10.5.0.2"
ROUTER_VRF1_IP = "10.1.0.1"
REMOTE1_IP, REMOTE1_IP6 = "172.16.5.5", "2001:db8:16::5"  # behind the PE reached through P
REMOTE2_IP, REMOTE2_IP6 = "172.17.5.5", "2001:db8:17::5"  # behind the directly connected PE
REMOTE_ECMP_IP = "172.18.5.5"
REMOTE_VLAN_IP = "172.19.5.5"


def punted_packet():
    """The labelled packet the PTF tests send from the core to the router's own address in VRF 1
    (a `punt` route); the driver expects it back, byte for byte, as a PacketIn."""
    from scapy.contrib.mpls import MPLS
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    return bytes(
        Ether(dst=ROUTER_MAC, src=P_MAC, type=0x8847)
        / MPLS(label=LABEL_VRF1, cos=0, s=1, ttl=50)
        / IP(src=REMOTE1_IP, dst=ROUTER_VRF1_IP, ttl=64)
        / UDP(sport=1234, dport=179)
        / (b"\x00" * 20)
    )
