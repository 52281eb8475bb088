// p4vrf — parser, deparser and the IPv4 checksum controls (v1model).
//
//   ethernet ─┬─ 0x8100 ─► vlan ─┬─ 0x0800 ─► ipv4
//             │                  ├─ 0x86dd ─► ipv6
//             │                  ├─ 0x8847 ─► mpls
//             │                  └─ other ──► accept
//             ├─ 0x0800 ─► ipv4
//             ├─ 0x86dd ─► ipv6
//             ├─ 0x8847 ─► mpls
//             └─ other ──► accept
//
//   mpls (up to 3 label stack entries, then StackOutOfBounds)
//     ─┬─ bos = 0 ─► mpls (next entry)
//      └─ bos = 1 ─► first nibble of the payload ─┬─ 4 ─► ipv4
//                                                 ├─ 6 ─► ipv6
//                                                 └─ other ──► accept
//
//   ipv4 (verify version = 4, ihl >= 5)
//     ─┬─ ihl = 5 ────────────────────┐
//      └─ ihl > 5 ─► ipv4_options ────┴─► unfragmented TCP/UDP? ─┬─ yes ─► l4_ports ─► accept
//                                                                └─ no ──► accept
//   ipv6 (verify version = 6)
//     ─► next_header TCP/UDP? ─┬─ yes ─► l4_ports ─► accept
//                              └─ no ──► accept
//
// Nothing is dropped here: v1model continues to ingress after a parser error
// with standard_metadata.parser_error set, and ingress drops such packets.
// Non-IP frames (ARP, LLDP, a second VLAN tag, ...) parse fine up to the
// ethernet/vlan header and are dropped in ingress because neither IP header
// is valid; so is a label stack over anything but IPv4/IPv6 (a pseudowire,
// say), and a label stack deeper than 3 is a parser error.

#ifndef P4VRF_PARSER_P4_
#define P4VRF_PARSER_P4_

parser packet_parser(packet_in packet,
                     out headers_t hdr,
                     inout local_metadata_t meta,
                     inout standard_metadata_t standard_metadata) {

    state start {
        packet.extract(hdr.ethernet);
        transition select(hdr.ethernet.ether_type) {
            ETHERTYPE_VLAN: parse_vlan;
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            ETHERTYPE_MPLS: parse_mpls;
            default: accept;
        }
    }

    state parse_vlan {
        packet.extract(hdr.vlan);
        transition select(hdr.vlan.ether_type) {
            ETHERTYPE_IPV4: parse_ipv4;
            ETHERTYPE_IPV6: parse_ipv6;
            ETHERTYPE_MPLS: parse_mpls;
            default: accept;
        }
    }

    // One label stack entry per visit; extracting a fourth one fails with
    // error.StackOutOfBounds (and ingress drops the packet).
    state parse_mpls {
        packet.extract(hdr.mpls.next);
        transition select(hdr.mpls.last.bos) {
            1w0: parse_mpls;
            1w1: parse_mpls_payload;
        }
    }

    // MPLS does not say what it carries: the IP version nibble decides (as
    // every LSR does for an L3VPN payload).
    state parse_mpls_payload {
        transition select(packet.lookahead<bit<4>>()) {
            4w4: parse_ipv4;
            4w6: parse_ipv6;
            default: accept;
        }
    }

    state parse_ipv4 {
        packet.extract(hdr.ipv4);
        verify(hdr.ipv4.version == 4w4, error.Ipv4BadVersion);
        verify(hdr.ipv4.ihl >= 4w5, error.Ipv4BadIhl);
        transition select(hdr.ipv4.ihl) {
            4w5: parse_ipv4_l4;
            default: parse_ipv4_options;
        }
    }

    state parse_ipv4_options {
        // (ihl - 5) 32-bit words; ihl >= 5 was verified above.
        packet.extract(hdr.ipv4_options,
                       (bit<32>)(hdr.ipv4.ihl - 4w5) * 32w32);
        transition parse_ipv4_l4;
    }

    state parse_ipv4_l4 {
        // Only the first (and only) fragment carries the L4 header. Fragments
        // are hashed on addresses and protocol alone, so all fragments of a
        // datagram take the same ECMP member.
        transition select(hdr.ipv4.more_fragments, hdr.ipv4.frag_offset,
                          hdr.ipv4.protocol) {
            (1w0, 13w0, IP_PROTO_TCP): parse_l4_ports;
            (1w0, 13w0, IP_PROTO_UDP): parse_l4_ports;
            default: accept;
        }
    }

    state parse_ipv6 {
        packet.extract(hdr.ipv6);
        verify(hdr.ipv6.version == 4w6, error.Ipv6BadVersion);
        // Extension headers are not walked: a packet whose first next header
        // is not TCP/UDP is hashed without ports.
        transition select(hdr.ipv6.next_header) {
            IP_PROTO_TCP: parse_l4_ports;
            IP_PROTO_UDP: parse_l4_ports;
            default: accept;
        }
    }

    state parse_l4_ports {
        packet.extract(hdr.l4_ports);
        transition accept;
    }
}

// Verifies the IPv4 header checksum (options included). A mismatch sets
// standard_metadata.checksum_error, and ingress drops the packet.
control verify_ipv4_checksum(inout headers_t hdr,
                             inout local_metadata_t meta) {
    apply {
        verify_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version,
              hdr.ipv4.ihl,
              hdr.ipv4.dscp,
              hdr.ipv4.ecn,
              hdr.ipv4.total_len,
              hdr.ipv4.identification,
              hdr.ipv4.reserved_flag,
              hdr.ipv4.do_not_fragment,
              hdr.ipv4.more_fragments,
              hdr.ipv4.frag_offset,
              hdr.ipv4.ttl,
              hdr.ipv4.protocol,
              hdr.ipv4.src_addr,
              hdr.ipv4.dst_addr,
              hdr.ipv4_options.options },
            hdr.ipv4.header_checksum,
            HashAlgorithm.csum16);
    }
}

// Recomputes the IPv4 header checksum after the TTL decrement. For punted
// packets the header is unchanged, so the result equals the (verified)
// original.
control compute_ipv4_checksum(inout headers_t hdr,
                              inout local_metadata_t meta) {
    apply {
        update_checksum(hdr.ipv4.isValid(),
            { hdr.ipv4.version,
              hdr.ipv4.ihl,
              hdr.ipv4.dscp,
              hdr.ipv4.ecn,
              hdr.ipv4.total_len,
              hdr.ipv4.identification,
              hdr.ipv4.reserved_flag,
              hdr.ipv4.do_not_fragment,
              hdr.ipv4.more_fragments,
              hdr.ipv4.frag_offset,
              hdr.ipv4.ttl,
              hdr.ipv4.protocol,
              hdr.ipv4.src_addr,
              hdr.ipv4.dst_addr,
              hdr.ipv4_options.options },
            hdr.ipv4.header_checksum,
            HashAlgorithm.csum16);
    }
}

// Emits only valid headers, in wire order. packet_in is valid only on
// packets sent to CPU_PORT; the valid entries of the label stack are emitted
// top ([0]) first.
control packet_deparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.packet_in);
        packet.emit(hdr.ethernet);
        packet.emit(hdr.vlan);
        packet.emit(hdr.mpls);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.ipv4_options);
        packet.emit(hdr.ipv6);
        packet.emit(hdr.l4_ports);
    }
}

#endif  // P4VRF_PARSER_P4_
