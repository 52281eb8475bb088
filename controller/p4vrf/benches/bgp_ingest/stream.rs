//! The route stream: generated deterministically, packed and encoded once with our own codec
//! (`bgp_rib::pack` + `bgp::Message::encode`), then sent as the same bytes to every system.
//!
//! **Unicast (case a).** A full-table-like IPv4 feed from an eBGP neighbor in AS 65002:
//!
//! * prefix lengths as in the public IPv4 table (about 60 % /24, 10 % /23, 13 % /22, then
//!   /21…/16 and a few shorter), at random addresses in 1.0.0.0–223.255.255.255 outside
//!   0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16, all distinct — so
//!   more-specifics of other prefixes occur, as they do in the real table;
//! * one attribute set per origin "path": `ROUTES / 10` distinct sets, and a prefix picks
//!   one with a heavy-tailed (cubic) law, so a few sets carry thousands of prefixes and most
//!   carry a handful — UPDATEs pack many NLRI as real peers' do;
//! * AS paths of 1–8 ASes (1: 3 %, 2: 18 %, 3: 34 %, 4: 25 %, 5: 12 %, 6: 5 %, 7: 2 %,
//!   8: 1 %), starting with the neighbor's AS 65002, 2- and 4-octet ASNs, one in twenty with
//!   a prepend; ORIGIN mostly IGP; a MED on a third; 0–4 communities on about half;
//! * next hop 10.0.0.2 (a neighbor on the router's connected 10.0.0.0/24).
//!
//! **VPN (case b).** A PE (iBGP, AS 65001) sends `ROUTES` VPNv4 routes spread evenly over
//! `VRFS` route distinguishers `65000:i`, each with route target `65000:i` and the per-VRF
//! label `1000 + i`; prefixes inside 10.0.0.0/8 with the same length law, overlapping between
//! VRFs (customer address space); ten attribute sets per VRF (AS paths of the customer
//! sites, LOCAL_PREF 100); next hop 10.255.0.2, the PE on the core link.
//!
//! Everything is sorted by prefix before packing (a peer walks its table in order) and
//! packed into 4096-octet UPDATEs (no extended messages), routes of one attribute set
//! together.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bgp::{Context, Family, Message, MpUnreach, NlriList, PathAttribute, Update};
use bgp_rib::{pack, Announcement, Nlri, PackContext};
use ipnet::{IpNet, Ipv4Net};
use policy::{
    AsPath, AsSegment, Attrs, Communities, Community, ExtCommunities, ExtCommunity, NextHop,
    Origin, SegmentType, SourceProtocol,
};
use rib::{RouteDistinguisher, RouteTarget};

/// splitmix64: small, fast, and the same numbers on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index drawn from cumulative weights.
    fn pick(&mut self, weights: &[(u32, f64)]) -> u32 {
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let mut x = self.unit() * total;
        for (v, w) in weights {
            if x < *w {
                return *v;
            }
            x -= w;
        }
        weights.last().map(|w| w.0).unwrap_or(0)
    }
}

/// Prefix lengths of the public IPv4 table (approximate shares, percent).
const LENGTHS: &[(u32, f64)] = &[
    (24, 60.0),
    (23, 10.5),
    (22, 12.5),
    (21, 4.5),
    (20, 4.0),
    (19, 2.5),
    (18, 1.3),
    (17, 0.8),
    (16, 1.4),
    (15, 0.15),
    (14, 0.12),
    (13, 0.07),
    (12, 0.04),
    (11, 0.02),
    (10, 0.01),
    (9, 0.005),
    (8, 0.005),
];

/// AS path lengths as seen from one vantage point (percent).
const PATH_LENGTHS: &[(u32, f64)] = &[
    (1, 3.0),
    (2, 18.0),
    (3, 34.0),
    (4, 25.0),
    (5, 12.0),
    (6, 5.0),
    (7, 2.0),
    (8, 1.0),
];

/// Addresses a public table does not carry.
fn reserved(a: u32) -> bool {
    let o = a >> 24;
    o == 0
        || o == 10
        || o == 127
        || o >= 224
        || (a & 0xFFC0_0000) == 0x6440_0000 // 100.64/10
        || (a & 0xFFFF_0000) == 0xA9FE_0000 // 169.254/16
        || (a & 0xFFF0_0000) == 0xAC10_0000 // 172.16/12
        || (a & 0xFFFF_0000) == 0xC0A8_0000 // 192.168/16
}

fn asn(rng: &mut Rng) -> u32 {
    if rng.below(5) == 0 {
        // 4-octet, from the 2-octet-unreachable range.
        131_072 + rng.below(270_000) as u32
    } else {
        1 + rng.below(64_000) as u32
    }
}

/// One eBGP attribute set: AS path from `first_as`, origin, MED, communities, next hop.
fn ebgp_attrs(rng: &mut Rng, first_as: u32, next_hop: Ipv4Addr) -> Attrs {
    let len = rng.pick(PATH_LENGTHS) as usize;
    let mut asns = vec![first_as];
    while asns.len() < len {
        asns.push(asn(rng));
    }
    if rng.below(20) == 0 {
        let last = *asns.last().expect("not empty");
        asns.push(last);
        asns.push(last);
    }
    let mut a = Attrs::new(SourceProtocol::Bgp);
    a.as_path = AsPath::new(vec![AsSegment {
        kind: SegmentType::Sequence,
        asns,
    }]);
    a.origin = match rng.below(20) {
        0 => Origin::Incomplete,
        1 => Origin::Egp,
        _ => Origin::Igp,
    };
    if rng.below(3) == 0 {
        a.med = Some(rng.below(1000) as u32);
    }
    if rng.below(2) == 0 {
        let n = 1 + rng.below(4);
        a.communities =
            Communities::new((0..n).map(|_| Community((first_as << 16) | rng.below(1000) as u32)));
    }
    a.next_hop = NextHop::Addr(IpAddr::V4(next_hop));
    a
}

/// Which system receives the stream, for its attribute sets (the neighbor's AS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Case (a): IPv4 unicast from an eBGP neighbor, into one VRF.
    Unicast,
    /// Case (b): VPNv4 from an iBGP PE, spread over `vrfs` RDs / RTs.
    Vpn { vrfs: u32 },
}

/// Our AS, the neighbor's AS, and the next hops of the two cases.
pub const LOCAL_AS: u32 = 65001;
pub const EBGP_AS: u32 = 65002;
pub const CE_NEXT_HOP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PE_NEXT_HOP: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 2);
/// RD / RT `65000:i` of VRF i; label `LABEL_BASE + i`.
pub const VPN_ADMIN: u32 = 65000;
pub const LABEL_BASE: u32 = 1000;

/// The stream, encoded.
pub struct Stream {
    pub kind: Kind,
    pub routes: usize,
    pub attr_sets: usize,
    /// Every UPDATE, encoded (19-octet header included), in sending order.
    pub messages: Vec<Vec<u8>>,
    /// The End-of-RIB marker of the family.
    pub end_of_rib: Vec<u8>,
    /// The last route sent (a daemon whose counter is not enough is asked for it).
    pub last: Nlri,
    pub family: Family,
}

impl Stream {
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(Vec::len).sum()
    }

    /// Decodes every UPDATE again with our codec: the number of distinct routes announced.
    pub fn check(&self) -> usize {
        let ctx = context(self.family);
        let mut keys: HashSet<Nlri> = HashSet::with_capacity(self.routes);
        for m in &self.messages {
            let Ok(d) = Message::decode(m, &ctx) else {
                continue;
            };
            if let Message::Update(u) = d.message {
                keys.extend(u.nlri.iter().map(|p| Nlri::unicast(IpNet::V4(*p))));
                if let Some(NlriList::Vpnv4(v)) = u.mp_reach().map(|m| &m.nlri) {
                    keys.extend(
                        v.iter()
                            .filter_map(|p| Some(Nlri::vpn(p.rd.known()?, IpNet::V4(p.prefix)))),
                    );
                }
            }
        }
        keys.len()
    }
}

/// `count` distinct prefixes drawn with the table's length law; `inside` restricts them to
/// one block (VPN customers), else public space.
fn prefixes(rng: &mut Rng, count: usize, inside: Option<Ipv4Net>) -> Vec<Ipv4Net> {
    let mut seen: HashSet<(u32, u8)> = HashSet::with_capacity(count * 2);
    let mut out = Vec::with_capacity(count);
    let mut guard = 0usize;
    while out.len() < count && guard < count * 100 + 1000 {
        guard += 1;
        let mut len = rng.pick(LENGTHS) as u8;
        let addr = match inside {
            Some(block) => {
                len = len.max(block.prefix_len() + 1);
                let host_bits = 32 - block.prefix_len() as u32;
                u32::from(block.network()) | (rng.next() as u32 & ((1u32 << host_bits) - 1))
            }
            None => rng.next() as u32,
        };
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let net = addr & mask;
        if inside.is_none() && reserved(net) {
            continue;
        }
        if seen.insert((net, len)) {
            out.push(Ipv4Net::new(Ipv4Addr::from(net), len).expect("valid length"));
        }
    }
    out
}

fn encode(updates: Vec<Update>, ctx: &Context) -> Vec<Vec<u8>> {
    updates
        .into_iter()
        .map(|u| {
            Message::Update(u)
                .to_bytes(ctx)
                .expect("the packer sizes UPDATEs for the session")
        })
        .collect()
}

/// The codec context every system negotiates with the bench's OPEN: 4-octet AS, no
/// extended messages.
pub fn context(family: Family) -> Context {
    Context {
        four_octet_as: true,
        extended_message: false,
        families: [family].into_iter().collect(),
    }
}

pub fn generate(kind: Kind, routes: usize, seed: u64) -> Stream {
    let mut rng = Rng::new(seed);
    let (family, internal, mut anns, attr_sets) = match kind {
        Kind::Unicast => {
            let sets = (routes / 10).max(1);
            let attrs: Vec<Arc<Attrs>> = (0..sets)
                .map(|_| Arc::new(ebgp_attrs(&mut rng, EBGP_AS, CE_NEXT_HOP)))
                .collect();
            let mut anns: Vec<Announcement> = prefixes(&mut rng, routes, None)
                .into_iter()
                .map(|p| {
                    // Heavy-tailed: set 0 gets ~2 % of the prefixes, the last ones a few.
                    let u = rng.unit();
                    let k = ((sets as f64) * u * u * u) as usize;
                    Announcement {
                        nlri: Nlri::unicast(IpNet::V4(p)),
                        label: None,
                        attrs: attrs[k.min(sets - 1)].clone(),
                    }
                })
                .collect();
            anns.sort_by_key(|a| a.nlri);
            (Family::Ipv4Unicast, false, anns, sets)
        }
        Kind::Vpn { vrfs } => {
            let vrfs = vrfs.max(1) as usize;
            let per_vrf = routes / vrfs;
            let extra = routes % vrfs;
            let block: Ipv4Net = "10.0.0.0/8".parse().expect("valid");
            let mut anns = Vec::with_capacity(routes);
            let mut sets = 0;
            for i in 0..vrfs {
                let n = per_vrf + usize::from(i < extra);
                let rd: RouteDistinguisher = format!("{VPN_ADMIN}:{i}").parse().expect("RD");
                let rt: RouteTarget = format!("{VPN_ADMIN}:{i}").parse().expect("RT");
                let attrs: Vec<Arc<Attrs>> = (0..10)
                    .map(|_| {
                        let customer = 64_512 + rng.below(480) as u32; // never ours (65001)
                        let mut a = ebgp_attrs(&mut rng, customer, PE_NEXT_HOP);
                        a.route_type = policy::RouteType::Internal;
                        a.local_pref = Some(100);
                        a.communities = Communities::default();
                        a.ext_communities = ExtCommunities::new([ExtCommunity::route_target(rt)]);
                        Arc::new(a)
                    })
                    .collect();
                sets += attrs.len();
                for p in prefixes(&mut rng, n, Some(block)) {
                    let u = rng.unit();
                    let k = ((attrs.len() as f64) * u * u) as usize;
                    anns.push(Announcement {
                        nlri: Nlri::vpn(rd, IpNet::V4(p)),
                        label: Some(LABEL_BASE + i as u32),
                        attrs: attrs[k.min(attrs.len() - 1)].clone(),
                    });
                }
            }
            anns.sort_by_key(|a| a.nlri);
            (Family::Vpnv4, true, anns, sets)
        }
    };
    let codec = context(family);
    let ctx = PackContext {
        codec,
        internal,
        link_local: None,
    };
    let packed = pack(family, &anns, &[], &ctx);
    assert!(
        packed.unsendable.is_empty(),
        "{:?}",
        &packed.unsendable[..1]
    );
    let messages = encode(packed.updates, &codec);
    // What arrives last is the last prefix of the last UPDATE.
    let last = {
        let last_msg = messages.last().expect("at least one UPDATE");
        let ctx = codec;
        match Message::decode(last_msg, &ctx)
            .expect("our own UPDATE")
            .message
        {
            Message::Update(u) => match (u.nlri.last(), u.mp_reach()) {
                (Some(p), _) => Nlri::unicast(IpNet::V4(*p)),
                (None, Some(m)) => match &m.nlri {
                    NlriList::Vpnv4(v) => {
                        let p = v.last().expect("not empty");
                        Nlri::vpn(p.rd.known().expect("type 0 RD"), IpNet::V4(p.prefix))
                    }
                    _ => unreachable!("only IPv4 and VPNv4 are generated"),
                },
                _ => unreachable!("UPDATEs announce"),
            },
            _ => unreachable!(),
        }
    };
    anns.clear();
    let eor = match family {
        Family::Ipv4Unicast => Update::default(),
        f => Update {
            attributes: vec![PathAttribute::new(bgp::AttrValue::MpUnreach(MpUnreach {
                withdrawn: NlriList::empty(f),
            }))],
            ..Update::default()
        },
    };
    Stream {
        kind,
        routes,
        attr_sets,
        messages,
        end_of_rib: Message::Update(eor).to_bytes(&codec).expect("End-of-RIB"),
        last,
        family,
    }
}
