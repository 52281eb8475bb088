// p4vrf — multi-VRF IPv4/IPv6 router pipeline for v1model (bmv2
// simple_switch_grpc), with the PE side of MPLS L3VPN (RFC 4364): VPN routes
// push a VPN label (and a transport label), labelled packets from the core
// are mapped to a VRF by their VPN label.
//
// The control plane (controller/p4rt) addresses everything here by P4Info
// name: `ingress.<table>`, `ingress.<action>`, match fields by the @name of
// each key. Renaming any of them is a breaking change to the controller.
// docs/p4-pipeline.md describes the pipeline for humans; p4/regen rebuilds
// p4/build/ (bmv2 JSON + P4Info), which is committed.

#include <core.p4>
#include <v1model.p4>

#include "headers.p4"
#include "parser.p4"

// Ingress: all forwarding decisions and header rewrites.
//
//   parser_error or IPv4 checksum_error ─────────────────────────────► drop
//        │
//        ▼
//   ┌────────────────────┐ miss
//   │ interface          ├──────► drop    (port, vlan) → vrf_id, ingress rif
//   └────────┬───────────┘
//            ▼
//   ┌────────────────────┐ miss
//   │ my_station         ├──────► drop    dst mac is a router mac → route it
//   └────────┬───────────┘
//            ├─ labelled (MPLS, from the core):
//            │  ┌────────────────────┐ miss
//            │  │ mpls_interface     ├──────► drop    (port, vlan) accepts
//            │  └────────┬───────────┘                labelled packets
//            │    more than one label ────────────────────────────────► drop
//            │  ┌────────────────────┐ miss
//            │  │ mpls_vrf           ├──────► drop    VPN label → vrf_id;
//            │  └────────┬───────────┘                pop at the end
//            │           ▼
//            ├─ neither IPv4 nor IPv6 (ARP, ...) ─────────────────────► drop
//            ├─ IPv4 ──► ipv4_vrf_lpm ─┐
//            └─ IPv6 ──► ipv6_vrf_lpm ─┤  (vrf_id, dst) lpm, direct counters
//                                      ├─ drop (or miss) ─────────────► drop
//                                      ├─ punt ──► CPU_PORT, packet_in header,
//                                      │           packet otherwise unmodified
//                                      ├─ set_ecmp_group
//                                      │     ▼
//                                      │  ┌────────────────┐  action selector:
//                                      │  │ ecmp_group     │  hash(addresses,
//                                      │  └──────┬─────────┘  protocol, ports)
//                                      │         │ set_nexthop      miss ─► drop
//                                      ├─────────┘
//                                      └─ set_nexthop
//                                               ▼
//   ┌────────────────────┐ miss
//   │ nexthop            ├──────► drop    nexthop_id → egress rif, dst mac
//   └────────┬───────────┘                (, VPN label [, transport label])
//            ▼
//   ┌────────────────────┐ miss
//   │ router_interface   ├──────► drop    egress rif → port, src mac, vlan tag
//   └────────┬───────────┘
//            ▼
//   labelled: pop the label, TTL / hop limit := label TTL (uniform model)
//   TTL / hop limit <= 1 ──► drop; otherwise decrement; push, rewrite or
//   strip the VLAN tag; VPN next hop: push the VPN label (S=1) and the
//   transport label, both with the decremented TTL (compute_ipv4_checksum
//   then rewrites the IPv4 header checksum)
//
// A route leaked from VRF A into VRF B is an ipv4/ipv6_vrf_lpm entry with
// vrf_id = B whose action names A's nexthop (or ECMP group): one lookup, and
// nothing after the LPM tables knows about VRFs at all. A route imported from
// a remote PE is the same kind of entry, pointing at a VPN next hop.
control ingress(inout headers_t hdr,
                inout local_metadata_t meta,
                inout standard_metadata_t standard_metadata) {

    direct_counter(CounterType.packets_and_bytes) ipv4_vrf_lpm_counter;
    direct_counter(CounterType.packets_and_bytes) ipv6_vrf_lpm_counter;

    // One selector shared by all ECMP groups. 4096 members in total (1024
    // groups of 4 on average, or fewer but wider groups); 14 hash bits give
    // an even spread over groups much wider than any real ECMP fan-out.
    action_selector(HashAlgorithm.crc16, 32w4096, 32w14) ecmp_selector;

    // -----------------------------------------------------------------------
    // Actions
    // -----------------------------------------------------------------------

    // Drops the packet. The flag stops the rest of the apply block, since a
    // later action that sets egress_spec would otherwise undo mark_to_drop.
    action drop() {
        mark_to_drop(standard_metadata);
        meta.drop = true;
    }

    action set_interface(vrf_id_t vrf_id, rif_id_t rif) {
        meta.vrf_id = vrf_id;
        meta.ingress_rif = rif;
    }

    action admit_to_l3() {
        meta.admit_to_l3 = true;
    }

    // The ingress interface is core-facing: labelled packets from it may be
    // looked up in mpls_vrf.
    action enable_mpls() {
        meta.mpls_enabled = true;
    }

    action set_nexthop(nexthop_id_t nexthop_id) {
        meta.nexthop_valid = true;
        meta.nexthop_id = nexthop_id;
    }

    action set_ecmp_group(ecmp_group_id_t group_id) {
        meta.ecmp_valid = true;
        meta.ecmp_group_id = group_id;
    }

    // Sends the packet, unmodified, to the CPU with its ingress port.
    action punt() {
        meta.punt = true;
        standard_metadata.egress_spec = CPU_PORT;
        hdr.packet_in.setValid();
        hdr.packet_in.ingress_port = standard_metadata.ingress_port;
        hdr.packet_in._pad = 0;
    }

    action set_neighbor(rif_id_t rif, mac_addr_t dst_mac) {
        meta.egress_rif = rif;
        hdr.ethernet.dst_addr = dst_mac;
    }

    // A remote PE (BGP VPN next hop) that is directly connected, or whose
    // transport label is implicit null: only the VPN label is pushed. `rif`
    // and `dst_mac` are the core-facing interface and the next router's MAC.
    // The label is pushed at the end of apply (see set_egress).
    action set_vpn_neighbor(rif_id_t rif, mac_addr_t dst_mac,
                            mpls_label_t vpn_label) {
        meta.egress_rif = rif;
        hdr.ethernet.dst_addr = dst_mac;
        meta.push_vpn = true;
        meta.vpn_label = vpn_label;
    }

    // A remote PE reached through an LSP: the VPN label is pushed, then the
    // transport label (towards the remote PE, as learned from LDP / SR /
    // static configuration) on top of it.
    action set_vpn_transport_neighbor(rif_id_t rif, mac_addr_t dst_mac,
                                      mpls_label_t vpn_label,
                                      mpls_label_t transport_label) {
        meta.egress_rif = rif;
        hdr.ethernet.dst_addr = dst_mac;
        meta.push_vpn = true;
        meta.vpn_label = vpn_label;
        meta.push_transport = true;
        meta.transport_label = transport_label;
    }

    // A labelled packet from the core whose (only) label is one of our VPN
    // labels: the label selects the VRF, whose LPM table is looked up next.
    // The label is popped, and the IP TTL taken from it, at the end of apply:
    // a packet that the VRF punts goes to the CPU with its label, as
    // received, which tells the controller its VRF.
    action pop_to_vrf(vrf_id_t vrf_id) {
        meta.vrf_id = vrf_id;
        meta.mpls_pop = true;
        meta.mpls_ttl = hdr.mpls[0].ttl;
    }

    // Untagged egress. The incoming 802.1Q tag, if any, is stripped at the
    // end of apply (v1model on bmv2 cannot make setValid/setInvalid
    // conditional inside an action, so actions only record the decision).
    action set_egress(port_t port, mac_addr_t src_mac) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.src_addr = src_mac;
        meta.egress_tagged = false;
        meta.egress_vlan_id = 0;
    }

    // Tagged egress: the VLAN id of an incoming tag is rewritten (its PCP and
    // DEI kept), or a new tag with PCP 0 is pushed — at the end of apply.
    action set_egress_vlan(port_t port, mac_addr_t src_mac, vlan_id_t vlan_id) {
        standard_metadata.egress_spec = port;
        hdr.ethernet.src_addr = src_mac;
        meta.egress_tagged = true;
        meta.egress_vlan_id = vlan_id;
    }

    // -----------------------------------------------------------------------
    // Tables
    // -----------------------------------------------------------------------

    // Classifies the packet into a router interface and so a VRF: one entry
    // per L3 (sub)interface. vlan_id 0 is the untagged interface of a port
    // (a priority-tagged frame, VID 0, counts as untagged). Unknown
    // (port, vlan) pairs are not routed. 1024 = 64 ports x 16 subinterfaces,
    // the same as router_interface, since every rif has one (port, vlan).
    @name("interface")
    table interface_table {
        key = {
            standard_metadata.ingress_port : exact @name("port");
            meta.vlan_id                   : exact @name("vlan_id");
        }
        actions = {
            set_interface;
            @defaultonly drop;
        }
        const default_action = drop();
        size = 1024;
    }

    // Router MACs: only frames addressed to one of them are routed, the rest
    // (other unicast, broadcast, multicast) are dropped. 64 leaves room for a
    // system MAC, per-VRF or per-interface MACs and VRRP virtual MACs.
    table my_station {
        key = {
            hdr.ethernet.dst_addr : exact @name("dst_mac");
        }
        actions = {
            admit_to_l3;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        size = 64;
    }

    // The (sub)interfaces on which labelled packets are accepted: the
    // core-facing ones. A labelled packet from any other interface (a CE
    // port) is dropped before mpls_vrf, so that a CE cannot reach another
    // VRF by sending that VRF's VPN label. A table of its own, keyed like
    // `interface`, because a flag in set_interface would change an action
    // the controller already writes. 1024: at most one entry per entry of
    // `interface` (every routed (sub)interface could be core-facing).
    table mpls_interface {
        key = {
            standard_metadata.ingress_port : exact @name("port");
            meta.vlan_id                   : exact @name("vlan_id");
        }
        actions = {
            enable_mpls;
            @defaultonly NoAction;
        }
        const default_action = NoAction();
        size = 1024;
    }

    // VPN labels we allocated (one per VRF, or per VRF and address family),
    // as the top label of packets from the core: the core's penultimate hop
    // has already popped the transport label. 4096: a VRF needs a label only
    // if it has local interfaces (at most 1024, see `interface`); two
    // families each and room for a second label per VRF during a
    // make-before-break label change gives 1024 x 2 x 2.
    table mpls_vrf {
        key = {
            hdr.mpls[0].label : exact @name("label");
        }
        actions = {
            pop_to_vrf;
            @defaultonly drop;
        }
        const default_action = drop();
        size = 4096;
    }

    // The IPv4 FIBs of all VRFs in one table, keyed by VRF. Leaked routes are
    // plain entries of the importing VRF. 65536 entries in total over all
    // VRFs: the order of a data-centre leaf's LPM; bmv2 itself has no limit,
    // this is the capacity the controller plans for.
    table ipv4_vrf_lpm {
        key = {
            meta.vrf_id      : exact @name("vrf_id");
            hdr.ipv4.dst_addr : lpm  @name("dst_addr");
        }
        actions = {
            set_nexthop;
            set_ecmp_group;
            drop;
            punt;
        }
        const default_action = drop();
        counters = ipv4_vrf_lpm_counter;
        size = 65536;
    }

    // The IPv6 FIBs of all VRFs. A quarter of the IPv4 size: an IPv6 prefix
    // costs up to four times the key width of an IPv4 one in hardware LPM,
    // and IPv6 tables are typically provisioned at that ratio.
    table ipv6_vrf_lpm {
        key = {
            meta.vrf_id       : exact @name("vrf_id");
            hdr.ipv6.dst_addr : lpm   @name("dst_addr");
        }
        actions = {
            set_nexthop;
            set_ecmp_group;
            drop;
            punt;
        }
        const default_action = drop();
        counters = ipv6_vrf_lpm_counter;
        size = 16384;
    }

    // ECMP: a group is a set of members of ecmp_selector, each member a
    // set_nexthop. The selector hashes the fields marked `selector` and picks
    // one member; fields of headers absent from the packet are left out of
    // the hash. 1024 groups: one per distinct set of next hops, which is far
    // fewer than routes (groups are shared by all routes, and all VRFs, with
    // the same next-hop set).
    table ecmp_group {
        key = {
            meta.ecmp_group_id     : exact    @name("group_id");
            hdr.ipv4.src_addr      : selector @name("ipv4_src");
            hdr.ipv4.dst_addr      : selector @name("ipv4_dst");
            hdr.ipv6.src_addr      : selector @name("ipv6_src");
            hdr.ipv6.dst_addr      : selector @name("ipv6_dst");
            hdr.ipv4.protocol      : selector @name("ip_protocol");
            hdr.ipv6.next_header   : selector @name("ipv6_next_header");
            hdr.l4_ports.src_port  : selector @name("l4_src_port");
            hdr.l4_ports.dst_port  : selector @name("l4_dst_port");
        }
        actions = {
            set_nexthop;
        }
        implementation = ecmp_selector;
        size = 1024;
    }

    // Next hops: a neighbor (its MAC) on an egress router interface. Shared
    // by every route through that neighbor in every VRF, including routes
    // leaked into other VRFs, so leaking adds no entries here. 4096 = the
    // neighbors of 1024 router interfaces, four each on average. A VPN next
    // hop (remote PE + VPN label, and the transport label towards that PE)
    // is an entry here too, shared by every route with that PE and label.
    @name("nexthop")
    table nexthop_table {
        key = {
            meta.nexthop_id : exact @name("nexthop_id");
        }
        actions = {
            set_neighbor;
            set_vpn_neighbor;
            set_vpn_transport_neighbor;
            @defaultonly drop;
        }
        const default_action = drop();
        size = 4096;
    }

    // Egress side of a router interface: port, our source MAC and the VLAN
    // (or none). 1024, one per entry of `interface`.
    table router_interface {
        key = {
            meta.egress_rif : exact @name("rif");
        }
        actions = {
            set_egress;
            set_egress_vlan;
            @defaultonly drop;
        }
        const default_action = drop();
        size = 1024;
    }

    apply {
        // Malformed (bad IPv4/IPv6 version, IPv4 ihl < 5, truncated) or a
        // bad IPv4 header checksum.
        if (standard_metadata.parser_error != error.NoError ||
            standard_metadata.checksum_error == 1w1) {
            drop();
            return;
        }

        if (hdr.vlan.isValid()) {
            meta.vlan_id = hdr.vlan.vlan_id;
        } else {
            meta.vlan_id = 0;
        }
        interface_table.apply();
        if (meta.drop) {
            return;
        }

        my_station.apply();
        if (!meta.admit_to_l3) {
            drop();
            return;
        }

        // Labelled, from the core: the VPN label replaces the interface's
        // VRF. Only core-facing interfaces (mpls_interface) may send labelled
        // packets; elsewhere a VPN label would let a CE pick any VRF. Only a
        // lone VPN label is expected (the core pops the transport label
        // before us); a deeper stack is not ours to route.
        if (hdr.mpls[0].isValid()) {
            mpls_interface.apply();
            if (!meta.mpls_enabled) {
                drop();
                return;
            }
            if (hdr.mpls[1].isValid()) {
                drop();
                return;
            }
            mpls_vrf.apply();
            if (meta.drop) {
                return;
            }
        }

        if (hdr.ipv4.isValid()) {
            ipv4_vrf_lpm.apply();
        } else if (hdr.ipv6.isValid()) {
            ipv6_vrf_lpm.apply();
        } else {
            // ARP and every other non-IP frame.
            drop();
            return;
        }
        if (meta.drop || meta.punt) {
            return;
        }

        if (meta.ecmp_valid) {
            ecmp_group.apply();
        }
        if (!meta.nexthop_valid) {
            // ECMP group unknown (or empty).
            drop();
            return;
        }

        nexthop_table.apply();
        if (meta.drop) {
            return;
        }
        router_interface.apply();
        if (meta.drop) {
            return;
        }

        // Labelled packet: pop the label. Uniform TTL model (RFC 3443): the
        // label's TTL, which the core has been decrementing, becomes the IP
        // TTL, and then counts as any other below.
        if (meta.mpls_pop) {
            hdr.mpls[0].setInvalid();
            if (hdr.ipv4.isValid()) {
                hdr.ipv4.ttl = meta.mpls_ttl;
            } else {
                hdr.ipv6.hop_limit = meta.mpls_ttl;
            }
        }

        // The packet will be forwarded: TTL 0 or 1 cannot be decremented
        // into a valid packet, so drop it (no ICMP time-exceeded is sent).
        if (hdr.ipv4.isValid()) {
            if (hdr.ipv4.ttl <= 8w1) {
                drop();
                return;
            }
            hdr.ipv4.ttl = hdr.ipv4.ttl - 8w1;
        } else {
            if (hdr.ipv6.hop_limit <= 8w1) {
                drop();
                return;
            }
            hdr.ipv6.hop_limit = hdr.ipv6.hop_limit - 8w1;
        }

        // Egress VLAN tag, as chosen by router_interface.
        if (meta.egress_tagged) {
            if (!hdr.vlan.isValid()) {
                hdr.vlan.setValid();
                hdr.vlan.pcp = 0;
                hdr.vlan.dei = 0;
                hdr.vlan.ether_type = hdr.ethernet.ether_type;
                hdr.ethernet.ether_type = ETHERTYPE_VLAN;
            }
            hdr.vlan.vlan_id = meta.egress_vlan_id;
        } else if (hdr.vlan.isValid()) {
            hdr.ethernet.ether_type = hdr.vlan.ether_type;
            hdr.vlan.setInvalid();
        }

        // VPN next hop: push the labels, chosen by nexthop, onto the IP
        // packet (a popped label was removed above). Uniform TTL model: the
        // labels carry the decremented IP TTL; TC 0; S=1 on the VPN label.
        bit<16> payload_type = 0;
        if (meta.push_vpn) {
            bit<8> ttl;
            if (hdr.ipv4.isValid()) {
                ttl = hdr.ipv4.ttl;
            } else {
                ttl = hdr.ipv6.hop_limit;
            }
            if (meta.push_transport) {
                hdr.mpls[0].setValid();
                hdr.mpls[0].label = meta.transport_label;
                hdr.mpls[0].tc = 0;
                hdr.mpls[0].bos = 0;
                hdr.mpls[0].ttl = ttl;
                hdr.mpls[1].setValid();
                hdr.mpls[1].label = meta.vpn_label;
                hdr.mpls[1].tc = 0;
                hdr.mpls[1].bos = 1;
                hdr.mpls[1].ttl = ttl;
            } else {
                hdr.mpls[0].setValid();
                hdr.mpls[0].label = meta.vpn_label;
                hdr.mpls[0].tc = 0;
                hdr.mpls[0].bos = 1;
                hdr.mpls[0].ttl = ttl;
            }
            payload_type = ETHERTYPE_MPLS;
        } else if (meta.mpls_pop) {
            if (hdr.ipv4.isValid()) {
                payload_type = ETHERTYPE_IPV4;
            } else {
                payload_type = ETHERTYPE_IPV6;
            }
        }
        // The ethertype after the (final) VLAN tag, or after the MACs.
        if (payload_type != 0) {
            if (hdr.vlan.isValid()) {
                hdr.vlan.ether_type = payload_type;
            } else {
                hdr.ethernet.ether_type = payload_type;
            }
        }
    }
}

// Egress: nothing to do. All rewrites happen in ingress so that the whole
// forwarding decision is visible in one control.
control egress(inout headers_t hdr,
               inout local_metadata_t meta,
               inout standard_metadata_t standard_metadata) {
    apply { }
}

V1Switch(packet_parser(),
         verify_ipv4_checksum(),
         ingress(),
         egress(),
         compute_ipv4_checksum(),
         packet_deparser()) main;
