// p4vrf — header, metadata and constant definitions.
//
// Shared by the v1model program (p4vrf.p4) and, later, a TNA variant: nothing
// here is architecture specific except that widths follow v1model's 9-bit
// port numbers.

#ifndef P4VRF_HEADERS_P4_
#define P4VRF_HEADERS_P4_

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

// The port that bmv2 maps to the P4Runtime packet-in stream
// (simple_switch_grpc --cpu-port 255).
const bit<9> CPU_PORT = 255;

const bit<16> ETHERTYPE_IPV4 = 0x0800;
const bit<16> ETHERTYPE_IPV6 = 0x86dd;
const bit<16> ETHERTYPE_VLAN = 0x8100;
const bit<16> ETHERTYPE_MPLS = 0x8847;  // MPLS unicast

const bit<8> IP_PROTO_TCP = 6;
const bit<8> IP_PROTO_UDP = 17;

// ---------------------------------------------------------------------------
// Types. Plain typedefs (not P4 `type`s), so P4Info carries bare bitwidths
// and the controller encodes them as canonical byte strings.
// ---------------------------------------------------------------------------

typedef bit<48>  mac_addr_t;
typedef bit<32>  ipv4_addr_t;
typedef bit<128> ipv6_addr_t;
typedef bit<9>   port_t;
typedef bit<12>  vlan_id_t;
typedef bit<16>  vrf_id_t;
typedef bit<16>  rif_id_t;        // router interface
typedef bit<16>  nexthop_id_t;
typedef bit<16>  ecmp_group_id_t;
typedef bit<20>  mpls_label_t;

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

// Prepended to every packet sent to CPU_PORT; the P4Runtime server turns it
// into PacketIn metadata (metadata id 1 = ingress_port).
@controller_header("packet_in")
header packet_in_header_t {
    port_t  ingress_port;
    bit<7>  _pad;
}

header ethernet_t {
    mac_addr_t dst_addr;
    mac_addr_t src_addr;
    bit<16>    ether_type;
}

// One 802.1Q tag. The TPID (0x8100) lives in ethernet_t.ether_type; this
// header's ether_type is the inner one.
header vlan_t {
    bit<3>    pcp;
    bit<1>    dei;
    vlan_id_t vlan_id;
    bit<16>   ether_type;
}

// One MPLS label stack entry (RFC 3032). `bos` (S) is 1 on the bottom
// entry only; `tc` is the traffic class (formerly EXP).
header mpls_t {
    mpls_label_t label;
    bit<3>       tc;
    bit<1>       bos;
    bit<8>       ttl;
}

// The deepest label stack the parser accepts. A PE only ever needs the VPN
// label on the way in (the core pops the transport label one hop before us)
// and pushes at most two; three leaves room to parse, and drop, anything a
// misconfigured core sends. A fourth label is a parser error (StackOutOfBounds).
#define MPLS_MAX_LABELS 3

header ipv4_t {
    bit<4>      version;
    bit<4>      ihl;
    bit<6>      dscp;
    bit<2>      ecn;
    bit<16>     total_len;
    bit<16>     identification;
    bit<1>      reserved_flag;
    bit<1>      do_not_fragment;
    bit<1>      more_fragments;
    bit<13>     frag_offset;
    bit<8>      ttl;
    bit<8>      protocol;
    bit<16>     header_checksum;
    ipv4_addr_t src_addr;
    ipv4_addr_t dst_addr;
}

// IPv4 options, 0..40 bytes: (ihl - 5) * 4 bytes. Carried opaque, forwarded
// unchanged and covered by the header checksum.
header ipv4_options_t {
    varbit<320> options;
}

header ipv6_t {
    bit<4>      version;
    bit<8>      traffic_class;
    bit<20>     flow_label;
    bit<16>     payload_length;
    bit<8>      next_header;
    bit<8>      hop_limit;
    ipv6_addr_t src_addr;
    ipv6_addr_t dst_addr;
}

// The first four bytes of a TCP or UDP header: all the pipeline needs (ECMP
// hash input). The rest of the L4 header stays in the payload, untouched.
header l4_ports_t {
    bit<16> src_port;
    bit<16> dst_port;
}

struct headers_t {
    packet_in_header_t      packet_in;
    ethernet_t              ethernet;
    vlan_t                  vlan;
    mpls_t[MPLS_MAX_LABELS] mpls;          // [0] is the top of the stack
    ipv4_t                  ipv4;
    ipv4_options_t          ipv4_options;
    ipv6_t                  ipv6;
    l4_ports_t              l4_ports;
}

// ---------------------------------------------------------------------------
// Per-packet metadata (zero-initialised by bmv2; every field that is read is
// also written explicitly before use).
// ---------------------------------------------------------------------------

struct local_metadata_t {
    vlan_id_t       vlan_id;          // ingress VLAN, 0 = untagged
    vrf_id_t        vrf_id;           // set by ingress.interface
    rif_id_t        ingress_rif;      // set by ingress.interface
    bool            admit_to_l3;      // set by ingress.my_station
    bool            drop;             // set by ingress.drop
    bool            punt;             // set by ingress.punt
    bool            ecmp_valid;       // set by ingress.set_ecmp_group
    ecmp_group_id_t ecmp_group_id;
    bool            nexthop_valid;    // set by ingress.set_nexthop
    nexthop_id_t    nexthop_id;
    rif_id_t        egress_rif;       // set by ingress.set_neighbor
    bool            egress_tagged;    // set by ingress.set_egress[_vlan]
    vlan_id_t       egress_vlan_id;
    // MPLS L3VPN. Decap: labelled packets are accepted only on interfaces
    // of ingress.mpls_interface; set by ingress.pop_to_vrf, carried out at
    // the end of ingress. Encap: set by ingress.set_vpn[_transport]_neighbor, the
    // labels are pushed at the end of ingress.
    bool            mpls_enabled;     // set by ingress.enable_mpls
    bool            mpls_pop;         // pop the label, IP TTL := mpls_ttl
    bit<8>          mpls_ttl;         // TTL of the (only) label received
    bool            push_vpn;         // push vpn_label (bottom of stack)
    mpls_label_t    vpn_label;
    bool            push_transport;   // and transport_label on top of it
    mpls_label_t    transport_label;
}

// Parser errors of our own (in addition to the core ones such as
// PacketTooShort). Any parser error drops the packet in ingress.
error {
    Ipv4BadVersion,
    Ipv4BadIhl,
    Ipv6BadVersion
}

#endif  // P4VRF_HEADERS_P4_
