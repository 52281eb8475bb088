//! Path attributes (RFC 4271 §5, RFC 4760, RFC 6793, RFC 1997, RFC 4360, RFC 4456, RFC 8092)
//! and their RFC 7606 error handling.
//!
//! A decoded attribute keeps its received flags next to its typed value: that is what makes
//! decode → encode byte-exact (a speaker may use the extended-length bit on a short attribute,
//! or set the partial bit) while the rest of the router works with typed values only.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::community::{Community, ExtCommunity, LargeCommunity};
use super::consts::{attr, flags, notify, segment, AS_TRANS};
use super::error::{Action, DecodeError, EncodeError, Finding, UpdateProblem};
use super::message::Context;
use super::nlri::{AfiSafi, Family, NlriList};
use super::wire::Reader;

/// One path attribute: the flags it was received (or is to be sent) with, and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAttribute {
    /// Attribute flags. Only the partial and extended-length bits matter for encoding; the
    /// optional and transitive bits of known attributes are fixed by their type.
    pub flags: u8,
    pub value: AttrValue,
}

impl PathAttribute {
    /// An attribute with the flags its type calls for (no partial, short length when it fits).
    pub fn new(value: AttrValue) -> Self {
        let t = value.type_code();
        let flags = if is_known(t) {
            expected_flags(t)
        } else {
            flags::OPTIONAL | flags::TRANSITIVE
        };
        PathAttribute { flags, value }
    }

    pub fn type_code(&self) -> u8 {
        self.value.type_code()
    }
}

impl From<AttrValue> for PathAttribute {
    fn from(value: AttrValue) -> Self {
        PathAttribute::new(value)
    }
}

/// The value of a path attribute, typed for the ones the router understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttrValue {
    Origin(Origin),
    /// AS_PATH, in 2- or 4-octet form depending on [`Context::four_octet_as`]; in memory the
    /// numbers are always 32-bit.
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    Med(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<Community>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReach(MpReach),
    MpUnreach(MpUnreach),
    ExtCommunities(Vec<ExtCommunity>),
    /// AS4_PATH: the 4-octet path an old (2-octet) speaker passes along (RFC 6793).
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    LargeCommunities(Vec<LargeCommunity>),
    /// An optional attribute the codec does not interpret, verbatim (its flags are in
    /// [`PathAttribute::flags`]).
    Unknown {
        type_code: u8,
        value: Vec<u8>,
    },
}

impl AttrValue {
    pub fn type_code(&self) -> u8 {
        match self {
            AttrValue::Origin(_) => attr::ORIGIN,
            AttrValue::AsPath(_) => attr::AS_PATH,
            AttrValue::NextHop(_) => attr::NEXT_HOP,
            AttrValue::Med(_) => attr::MULTI_EXIT_DISC,
            AttrValue::LocalPref(_) => attr::LOCAL_PREF,
            AttrValue::AtomicAggregate => attr::ATOMIC_AGGREGATE,
            AttrValue::Aggregator(_) => attr::AGGREGATOR,
            AttrValue::Communities(_) => attr::COMMUNITIES,
            AttrValue::OriginatorId(_) => attr::ORIGINATOR_ID,
            AttrValue::ClusterList(_) => attr::CLUSTER_LIST,
            AttrValue::MpReach(_) => attr::MP_REACH_NLRI,
            AttrValue::MpUnreach(_) => attr::MP_UNREACH_NLRI,
            AttrValue::ExtCommunities(_) => attr::EXTENDED_COMMUNITIES,
            AttrValue::As4Path(_) => attr::AS4_PATH,
            AttrValue::As4Aggregator(_) => attr::AS4_AGGREGATOR,
            AttrValue::LargeCommunities(_) => attr::LARGE_COMMUNITY,
            AttrValue::Unknown { type_code, .. } => *type_code,
        }
    }
}

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Igp => "i",
            Origin::Egp => "e",
            Origin::Incomplete => "?",
        })
    }
}

/// AS_PATH segment kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentKind {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

impl SegmentKind {
    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            segment::AS_SET => SegmentKind::Set,
            segment::AS_SEQUENCE => SegmentKind::Sequence,
            segment::AS_CONFED_SEQUENCE => SegmentKind::ConfedSequence,
            segment::AS_CONFED_SET => SegmentKind::ConfedSet,
            _ => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            SegmentKind::Set => segment::AS_SET,
            SegmentKind::Sequence => segment::AS_SEQUENCE,
            SegmentKind::ConfedSequence => segment::AS_CONFED_SEQUENCE,
            SegmentKind::ConfedSet => segment::AS_CONFED_SET,
        }
    }

    /// Confederation segments are not counted in the path length (RFC 5065 §5.3).
    pub fn is_confed(self) -> bool {
        matches!(self, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
    }
}

/// One AS_PATH segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentKind,
    pub asns: Vec<u32>,
}

/// An AS path, as segments in wire order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty slice: the empty path of an iBGP-originated route).
    pub fn sequence(asns: &[u32]) -> Self {
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: asns.to_vec(),
            }],
        }
    }

    /// Path length for best-path selection: each AS of a sequence counts one, a set counts
    /// one, confederation segments count zero (RFC 4271 §9.1.2.2, RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// True when some AS number needs 4 octets (outside confederation segments, which
    /// never go into AS4_PATH).
    fn needs_as4(&self) -> bool {
        self.segments
            .iter()
            .any(|s| !s.kind.is_confed() && s.asns.iter().any(|&a| a > 0xFFFF))
    }

    fn without_confed(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        }
    }

    /// The path an old speaker's AS_PATH + AS4_PATH stand for (RFC 6793 §4.2.3): the
    /// leading ASes of AS_PATH that AS4_PATH does not cover, then AS4_PATH. If AS4_PATH is
    /// longer than AS_PATH it is ignored, as the RFC says.
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let as4 = as4.without_confed();
        let (n, n4) = (self.path_len(), as4.path_len());
        if n < n4 {
            return self.clone();
        }
        let mut need = n - n4;
        let mut segments: Vec<AsSegment> = Vec::new();
        for s in &self.segments {
            match s.kind {
                _ if s.kind.is_confed() => segments.push(s.clone()),
                SegmentKind::Set if need > 0 => {
                    need -= 1;
                    segments.push(s.clone());
                }
                SegmentKind::Sequence if need > 0 => {
                    let take = need.min(s.asns.len());
                    need -= take;
                    segments.push(AsSegment {
                        kind: SegmentKind::Sequence,
                        asns: s.asns.iter().take(take).copied().collect(),
                    });
                }
                _ => break,
            }
        }
        for s in as4.segments {
            match segments.last_mut() {
                Some(last)
                    if last.kind == SegmentKind::Sequence && s.kind == SegmentKind::Sequence =>
                {
                    last.asns.extend(s.asns)
                }
                _ => segments.push(s),
            }
        }
        AsPath { segments }
    }

    fn decode(value: &[u8], four_octet: bool) -> Result<AsPath, UpdateProblem> {
        let width = if four_octet { 4 } else { 2 };
        let mut r = Reader::new(value);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let (code, count) = r.u8().zip(r.u8()).ok_or(UpdateProblem::MalformedAsPath(
                "a single octet after the last segment",
            ))?;
            let kind = SegmentKind::from_code(code)
                .ok_or(UpdateProblem::MalformedAsPath("unknown segment type"))?;
            if count == 0 {
                return Err(UpdateProblem::MalformedAsPath("segment of zero length"));
            }
            let body = r
                .take(usize::from(count) * width)
                .ok_or(UpdateProblem::MalformedAsPath(
                    "segment overruns the attribute",
                ))?;
            let asns = if four_octet {
                body.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                body.chunks_exact(2)
                    .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                    .collect()
            };
            segments.push(AsSegment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// Writes the segments; in 2-octet form, numbers above 65535 become AS_TRANS.
    fn encode(&self, four_octet: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        for s in &self.segments {
            let count = u8::try_from(s.asns.len())
                .map_err(|_| EncodeError::SegmentTooLong(s.asns.len()))?;
            out.push(s.kind.code());
            out.push(count);
            for &a in &s.asns {
                if four_octet {
                    out.extend_from_slice(&a.to_be_bytes());
                } else {
                    let a16 = u16::try_from(a).unwrap_or(AS_TRANS);
                    out.extend_from_slice(&a16.to_be_bytes());
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind {
                SegmentKind::Sequence => ("", ""),
                SegmentKind::Set => ("{", "}"),
                SegmentKind::ConfedSequence => ("(", ")"),
                SegmentKind::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(if s.kind == SegmentKind::Set { "," } else { " " })?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// AGGREGATOR / AS4_AGGREGATOR: who aggregated (RFC 4271 §5.1.7, RFC 6793).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub addr: Ipv4Addr,
}

/// The next hop of MP_REACH_NLRI. For the VPN families the 8-octet RD of zeros that
/// precedes each address on the wire (RFC 4364 §4.3.2, RFC 4659 §3.2.1) is implied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    V4(Ipv4Addr),
    /// A global IPv6 address and, when the peer shares a link, its link-local address
    /// (RFC 2545 §3).
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// Decodes the next hop field for `family`. The lengths allowed are RFC 4760/2545 (and
    /// RFC 8950 for an IPv6 next hop of IPv4 / VPN-IPv4 routes); anything else cannot be
    /// trusted to locate the NLRI that follows, hence a session reset (RFC 7606 §7.11).
    fn decode(family: Family, nh: &[u8]) -> Option<NextHop> {
        let mut r = Reader::new(nh);
        let vpn = family.is_vpn();
        let addr6 = |r: &mut Reader<'_>| {
            if vpn {
                // RD of the next hop: defined as zero; other values are ignored like FRR does.
                r.take(8)?;
            }
            r.array::<16>().map(Ipv6Addr::from)
        };
        let v4_len = if vpn { 12 } else { 4 };
        let v6_len = if vpn { 24 } else { 16 };
        let ok_v4 = !family.is_ipv6();
        match nh.len() {
            n if n == v4_len && ok_v4 => {
                if vpn {
                    r.take(8)?;
                }
                r.array::<4>().map(|b| NextHop::V4(Ipv4Addr::from(b)))
            }
            n if n == v6_len => Some(NextHop::V6 {
                global: addr6(&mut r)?,
                link_local: None,
            }),
            n if n == 2 * v6_len => Some(NextHop::V6 {
                global: addr6(&mut r)?,
                link_local: Some(addr6(&mut r)?),
            }),
            _ => None,
        }
    }

    fn encode(&self, family: Family, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let rd = |out: &mut Vec<u8>| {
            if family.is_vpn() {
                out.extend_from_slice(&[0u8; 8]);
            }
        };
        let at = out.len();
        out.push(0);
        match self {
            NextHop::V4(a) => {
                if family.is_ipv6() {
                    return Err(EncodeError::WrongFamily("an IPv4 next hop"));
                }
                rd(out);
                out.extend_from_slice(&a.octets());
            }
            NextHop::V6 { global, link_local } => {
                rd(out);
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    rd(out);
                    out.extend_from_slice(&ll.octets());
                }
            }
        }
        let len = out.len() - at - 1;
        if let Some(slot) = out.get_mut(at) {
            *slot = u8::try_from(len).unwrap_or(u8::MAX);
        }
        Ok(())
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextHop::V4(a) => write!(f, "{a}"),
            NextHop::V6 {
                global,
                link_local: None,
            } => write!(f, "{global}"),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
        }
    }
}

/// MP_REACH_NLRI (RFC 4760 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpReach {
    pub next_hop: NextHop,
    /// The announced prefixes; their family is the attribute's AFI/SAFI.
    pub nlri: NlriList,
}

/// MP_UNREACH_NLRI (RFC 4760 §4). An empty list is the End-of-RIB marker of its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpUnreach {
    pub withdrawn: NlriList,
}

fn read_afi_safi(r: &mut Reader<'_>) -> Result<AfiSafi, UpdateProblem> {
    let afi = r
        .u16()
        .ok_or(UpdateProblem::MalformedMp("shorter than AFI/SAFI"))?;
    let safi = r
        .u8()
        .ok_or(UpdateProblem::MalformedMp("shorter than AFI/SAFI"))?;
    Ok(AfiSafi::new(afi, safi))
}

/// The family of an MP attribute, if this session can decode it.
fn negotiated_family(a: AfiSafi, ctx: &Context) -> Result<Family, UpdateProblem> {
    Family::from_afi_safi(a)
        .filter(|f| ctx.families.contains(*f))
        .ok_or(UpdateProblem::UnnegotiatedFamily {
            afi: a.afi,
            safi: a.safi,
        })
}

impl MpReach {
    fn decode(value: &[u8], ctx: &Context) -> Result<MpReach, UpdateProblem> {
        let mut r = Reader::new(value);
        let a = read_afi_safi(&mut r)?;
        let family = negotiated_family(a, ctx)?;
        let nh_len = r
            .u8()
            .ok_or(UpdateProblem::MalformedMp("no next hop length"))?;
        let bad_nh = UpdateProblem::BadNextHopLength {
            afi: a.afi,
            safi: a.safi,
            len: nh_len,
        };
        let nh = r.take(usize::from(nh_len)).ok_or(bad_nh.clone())?;
        let next_hop = NextHop::decode(family, nh).ok_or(bad_nh)?;
        // The old SNPA count, now "reserved" and ignored on receipt (RFC 4760 §3).
        r.u8()
            .ok_or(UpdateProblem::MalformedMp("no reserved octet"))?;
        let nlri = NlriList::decode(family, r.rest(), "MP_REACH_NLRI")
            .map_err(|_| UpdateProblem::MalformedMp("invalid NLRI"))?;
        Ok(MpReach { next_hop, nlri })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let family = self.nlri.family();
        let a = family.afi_safi();
        out.extend_from_slice(&a.afi.to_be_bytes());
        out.push(a.safi);
        self.next_hop.encode(family, out)?;
        out.push(0);
        self.nlri.encode(out)
    }
}

impl MpUnreach {
    fn decode(value: &[u8], ctx: &Context) -> Result<MpUnreach, UpdateProblem> {
        let mut r = Reader::new(value);
        let family = negotiated_family(read_afi_safi(&mut r)?, ctx)?;
        let withdrawn = NlriList::decode(family, r.rest(), "MP_UNREACH_NLRI")
            .map_err(|_| UpdateProblem::MalformedMp("invalid NLRI"))?;
        Ok(MpUnreach { withdrawn })
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let a = self.withdrawn.family().afi_safi();
        out.extend_from_slice(&a.afi.to_be_bytes());
        out.push(a.safi);
        self.withdrawn.encode(out)
    }
}

fn is_known(t: u8) -> bool {
    matches!(
        t,
        attr::ORIGIN
            | attr::AS_PATH
            | attr::NEXT_HOP
            | attr::MULTI_EXIT_DISC
            | attr::LOCAL_PREF
            | attr::ATOMIC_AGGREGATE
            | attr::AGGREGATOR
            | attr::COMMUNITIES
            | attr::ORIGINATOR_ID
            | attr::CLUSTER_LIST
            | attr::MP_REACH_NLRI
            | attr::MP_UNREACH_NLRI
            | attr::EXTENDED_COMMUNITIES
            | attr::AS4_PATH
            | attr::AS4_AGGREGATOR
            | attr::LARGE_COMMUNITY
    )
}

/// The optional and transitive bits each known attribute must carry (RFC 4271 §5 and the
/// RFCs defining the others).
fn expected_flags(t: u8) -> u8 {
    const WELL_KNOWN: u8 = flags::TRANSITIVE;
    const OPT_NON_TRANS: u8 = flags::OPTIONAL;
    const OPT_TRANS: u8 = flags::OPTIONAL | flags::TRANSITIVE;
    match t {
        attr::ORIGIN
        | attr::AS_PATH
        | attr::NEXT_HOP
        | attr::LOCAL_PREF
        | attr::ATOMIC_AGGREGATE => WELL_KNOWN,
        attr::MULTI_EXIT_DISC
        | attr::ORIGINATOR_ID
        | attr::CLUSTER_LIST
        | attr::MP_REACH_NLRI
        | attr::MP_UNREACH_NLRI => OPT_NON_TRANS,
        _ => OPT_TRANS,
    }
}

fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N], UpdateProblem> {
    value
        .try_into()
        .map_err(|_| UpdateProblem::BadLength(value.len()))
}

/// Splits `value` into `N`-octet items; the length must be a multiple of `N` (and, when
/// `non_empty`, not zero).
fn items<const N: usize, T>(
    value: &[u8],
    non_empty: bool,
    f: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, UpdateProblem> {
    if value.len() % N != 0 || (non_empty && value.is_empty()) {
        return Err(UpdateProblem::BadLength(value.len()));
    }
    Ok(value
        .chunks_exact(N)
        .filter_map(|c| <[u8; N]>::try_from(c).ok())
        .map(f)
        .collect())
}

fn aggregator(value: &[u8], four_octet: bool) -> Result<Aggregator, UpdateProblem> {
    if four_octet {
        let [a, b, c, d, e, f, g, h] = fixed::<8>(value)?;
        Ok(Aggregator {
            asn: u32::from_be_bytes([a, b, c, d]),
            addr: Ipv4Addr::new(e, f, g, h),
        })
    } else {
        let [a, b, e, f, g, h] = fixed::<6>(value)?;
        Ok(Aggregator {
            asn: u32::from(u16::from_be_bytes([a, b])),
            addr: Ipv4Addr::new(e, f, g, h),
        })
    }
}

/// Decodes the value of a known attribute type.
fn decode_value(t: u8, value: &[u8], ctx: &Context) -> Result<AttrValue, UpdateProblem> {
    Ok(match t {
        attr::ORIGIN => match fixed::<1>(value)? {
            [0] => AttrValue::Origin(Origin::Igp),
            [1] => AttrValue::Origin(Origin::Egp),
            [2] => AttrValue::Origin(Origin::Incomplete),
            [o] => return Err(UpdateProblem::InvalidOrigin(o)),
        },
        attr::AS_PATH => AttrValue::AsPath(AsPath::decode(value, ctx.four_octet_as)?),
        attr::NEXT_HOP => AttrValue::NextHop(Ipv4Addr::from(fixed::<4>(value)?)),
        attr::MULTI_EXIT_DISC => AttrValue::Med(u32::from_be_bytes(fixed::<4>(value)?)),
        attr::LOCAL_PREF => AttrValue::LocalPref(u32::from_be_bytes(fixed::<4>(value)?)),
        attr::ATOMIC_AGGREGATE => {
            fixed::<0>(value)?;
            AttrValue::AtomicAggregate
        }
        attr::AGGREGATOR => AttrValue::Aggregator(aggregator(value, ctx.four_octet_as)?),
        attr::COMMUNITIES => AttrValue::Communities(items::<4, _>(value, false, |b| {
            Community(u32::from_be_bytes(b))
        })?),
        attr::ORIGINATOR_ID => AttrValue::OriginatorId(Ipv4Addr::from(fixed::<4>(value)?)),
        attr::CLUSTER_LIST => AttrValue::ClusterList(items::<4, _>(value, true, Ipv4Addr::from)?),
        attr::MP_REACH_NLRI => AttrValue::MpReach(MpReach::decode(value, ctx)?),
        attr::MP_UNREACH_NLRI => AttrValue::MpUnreach(MpUnreach::decode(value, ctx)?),
        attr::EXTENDED_COMMUNITIES => {
            AttrValue::ExtCommunities(items::<8, _>(value, false, ExtCommunity::from_bytes)?)
        }
        attr::AS4_PATH => {
            if ctx.four_octet_as {
                return Err(UpdateProblem::As4FromNewSpeaker);
            }
            AttrValue::As4Path(AsPath::decode(value, true)?)
        }
        attr::AS4_AGGREGATOR => {
            if ctx.four_octet_as {
                return Err(UpdateProblem::As4FromNewSpeaker);
            }
            AttrValue::As4Aggregator(aggregator(value, true)?)
        }
        attr::LARGE_COMMUNITY => {
            AttrValue::LargeCommunities(items::<12, _>(value, false, LargeCommunity::from_bytes)?)
        }
        _ => {
            return Ok(AttrValue::Unknown {
                type_code: t,
                value: value.to_vec(),
            })
        }
    })
}

/// What RFC 7606 says to do with a malformed attribute.
enum Severity {
    Reset(u8),
    Act(Action),
}

/// The RFC 7606 decision table (see `docs/bgp-codec.md`).
fn severity(t: u8, problem: &UpdateProblem) -> Severity {
    use notify::update::*;
    match (t, problem) {
        // An AFI/SAFI we did not negotiate: we cannot parse it, and it cannot affect the
        // families we did negotiate, so it is dropped rather than resetting the session.
        (_, UpdateProblem::UnnegotiatedFamily { .. }) => Severity::Act(Action::AttributeDiscard),
        (attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI, UpdateProblem::FlagsConflict(_)) => {
            Severity::Reset(ATTRIBUTE_FLAGS_ERROR)
        }
        // §7.11 / §3 (j): the NLRI of a malformed MP attribute cannot be located reliably.
        (attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI, _) => {
            Severity::Reset(OPTIONAL_ATTRIBUTE_ERROR)
        }
        // §7.6, §7.7, and RFC 6793 §6 for the AS4_* pair.
        (attr::ATOMIC_AGGREGATE | attr::AGGREGATOR | attr::AS4_PATH | attr::AS4_AGGREGATOR, _) => {
            Severity::Act(Action::AttributeDiscard)
        }
        // §3 (c) for flags, §7.1–7.5, 7.8–7.10, 7.14 and RFC 8092 §6 for the values.
        _ => Severity::Act(Action::TreatAsWithdraw),
    }
}

/// The decoded path attributes plus what RFC 7606 asked us to note.
pub(crate) struct DecodedAttributes {
    pub attrs: Vec<PathAttribute>,
    pub findings: Vec<Finding>,
}

/// Decodes the path attributes field of an UPDATE, applying RFC 7606 attribute by attribute.
pub(crate) fn decode_attributes(
    bytes: &[u8],
    ctx: &Context,
) -> Result<DecodedAttributes, DecodeError> {
    let mut r = Reader::new(bytes);
    // Real UPDATEs carry fewer than ~10 attributes; 3 octets is the smallest one.
    let mut attrs = Vec::with_capacity((bytes.len() / 3).min(12));
    let mut findings = Vec::new();
    let mut seen = [0u64; 4];
    while !r.is_empty() {
        let start = r.rest();
        let header = (|| {
            let fl = r.u8()?;
            let t = r.u8()?;
            let len = if fl & flags::EXTENDED_LENGTH != 0 {
                usize::from(r.u16()?)
            } else {
                usize::from(r.u8()?)
            };
            Some((fl, t, len))
        })();
        let Some((fl, t, len)) = header else {
            // §4: fewer octets left than a minimal attribute header.
            let t = start.get(1).copied().unwrap_or(0);
            return overrun(t, start, attrs, findings);
        };
        let Some(value) = r.take(len) else {
            // §4: the last attribute's length runs past the Total Path Attribute Length.
            return overrun(t, start, attrs, findings);
        };
        let raw = start.get(..start.len() - r.len()).unwrap_or(start);
        // The low four flag bits are unused: ignored on receipt, zero when sent (RFC 4271
        // §4.3). Dropping them here keeps decode(encode(x)) == x.
        let fl = fl & 0xF0;

        let bit = 1u64 << (t % 64);
        let word = &mut seen[usize::from(t / 64)];
        let duplicate = *word & bit != 0;
        *word |= bit;
        if duplicate {
            // §3 (g): a second MP attribute is fatal, any other duplicate is dropped.
            if matches!(t, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI) {
                return Err(DecodeError::Update {
                    subcode: notify::update::MALFORMED_ATTRIBUTE_LIST,
                    data: Vec::new(),
                    problem: UpdateProblem::DuplicateMp,
                });
            }
            findings.push(Finding {
                attr_type: t,
                action: Action::AttributeDiscard,
                problem: UpdateProblem::Duplicate,
            });
            continue;
        }

        if !is_known(t) {
            if fl & flags::OPTIONAL == 0 {
                return Err(DecodeError::Update {
                    subcode: notify::update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    data: raw.to_vec(),
                    problem: UpdateProblem::UnrecognizedWellKnown,
                });
            }
            attrs.push(PathAttribute {
                flags: fl,
                value: AttrValue::Unknown {
                    type_code: t,
                    value: value.to_vec(),
                },
            });
            continue;
        }

        let decoded = if fl & (flags::OPTIONAL | flags::TRANSITIVE) != expected_flags(t) {
            Err(UpdateProblem::FlagsConflict(fl))
        } else {
            decode_value(t, value, ctx)
        };
        match decoded {
            Ok(v) => attrs.push(PathAttribute {
                flags: fl,
                value: v,
            }),
            Err(problem) => match severity(t, &problem) {
                Severity::Reset(subcode) => {
                    return Err(DecodeError::Update {
                        subcode,
                        data: raw.to_vec(),
                        problem,
                    })
                }
                Severity::Act(action) => findings.push(Finding {
                    attr_type: t,
                    action,
                    problem,
                }),
            },
        }
    }
    Ok(DecodedAttributes { attrs, findings })
}

/// The attribute list ends inside an attribute: treat-as-withdraw (RFC 7606 §4), except that
/// a cut MP attribute hides NLRI we would need to withdraw, so that one resets the session.
fn overrun(
    t: u8,
    raw: &[u8],
    attrs: Vec<PathAttribute>,
    mut findings: Vec<Finding>,
) -> Result<DecodedAttributes, DecodeError> {
    if matches!(t, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI) {
        return Err(DecodeError::Update {
            subcode: notify::update::ATTRIBUTE_LENGTH_ERROR,
            data: raw.to_vec(),
            problem: UpdateProblem::AttributeTruncated,
        });
    }
    findings.push(Finding {
        attr_type: t,
        action: Action::TreatAsWithdraw,
        problem: UpdateProblem::AttributeTruncated,
    });
    Ok(DecodedAttributes { attrs, findings })
}

/// Writes one attribute with header. The value is written after a 2-octet length slot; if it
/// turns out short and the flags do not ask for extended length, the slot shrinks to one octet.
fn write_attr(
    out: &mut Vec<u8>,
    fl: u8,
    t: u8,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let start = out.len();
    out.extend_from_slice(&[fl | flags::EXTENDED_LENGTH, t, 0, 0]);
    body(out)?;
    let len = out.len() - start - 4;
    let len16 = u16::try_from(len).map_err(|_| EncodeError::FieldTooLong {
        what: "path attribute",
        len,
    })?;
    if fl & flags::EXTENDED_LENGTH == 0 && len <= 255 {
        if let Some(h) = out.get_mut(start..start + 4) {
            h[0] = fl;
            h[2] = len as u8;
        }
        out.remove(start + 3);
    } else if let Some(h) = out.get_mut(start + 2..start + 4) {
        h.copy_from_slice(&len16.to_be_bytes());
    }
    Ok(())
}

/// Encodes a list of attributes in order. For a 2-octet peer (`!ctx.four_octet_as`), AS_PATH
/// and AGGREGATOR are written with AS_TRANS for large AS numbers, and AS4_PATH /
/// AS4_AGGREGATOR are added after them when needed and not already present (RFC 6793 §4.2.2).
pub(crate) fn encode_attributes(
    attrs: &[PathAttribute],
    ctx: &Context,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let old = !ctx.four_octet_as;
    let has = |t: u8| attrs.iter().any(|a| a.type_code() == t);
    for a in attrs {
        let t = a.type_code();
        let fl = if is_known(t) {
            expected_flags(t) | (a.flags & (flags::PARTIAL | flags::EXTENDED_LENGTH))
        } else {
            a.flags
        };
        let four = ctx.four_octet_as;
        write_attr(out, fl, t, |out| {
            match &a.value {
                AttrValue::Origin(o) => out.push(*o as u8),
                AttrValue::AsPath(p) => p.encode(four, out)?,
                AttrValue::NextHop(n) | AttrValue::OriginatorId(n) => {
                    out.extend_from_slice(&n.octets())
                }
                AttrValue::Med(v) | AttrValue::LocalPref(v) => {
                    out.extend_from_slice(&v.to_be_bytes())
                }
                AttrValue::AtomicAggregate => {}
                AttrValue::Aggregator(ag) => {
                    if four {
                        out.extend_from_slice(&ag.asn.to_be_bytes());
                    } else {
                        let a16 = u16::try_from(ag.asn).unwrap_or(AS_TRANS);
                        out.extend_from_slice(&a16.to_be_bytes());
                    }
                    out.extend_from_slice(&ag.addr.octets());
                }
                AttrValue::Communities(cs) => cs
                    .iter()
                    .for_each(|c| out.extend_from_slice(&c.0.to_be_bytes())),
                AttrValue::ClusterList(ids) => {
                    ids.iter().for_each(|i| out.extend_from_slice(&i.octets()))
                }
                AttrValue::MpReach(m) => m.encode(out)?,
                AttrValue::MpUnreach(m) => m.encode(out)?,
                AttrValue::ExtCommunities(cs) => {
                    cs.iter().for_each(|c| out.extend_from_slice(&c.to_bytes()))
                }
                AttrValue::As4Path(p) => p.encode(true, out)?,
                AttrValue::As4Aggregator(ag) => {
                    out.extend_from_slice(&ag.asn.to_be_bytes());
                    out.extend_from_slice(&ag.addr.octets());
                }
                AttrValue::LargeCommunities(cs) => cs.iter().for_each(|c| c.write(out)),
                AttrValue::Unknown { value, .. } => out.extend_from_slice(value),
            }
            Ok(())
        })?;
        match &a.value {
            AttrValue::AsPath(p) if old && p.needs_as4() && !has(attr::AS4_PATH) => {
                let as4 = p.without_confed();
                write_attr(out, expected_flags(attr::AS4_PATH), attr::AS4_PATH, |out| {
                    as4.encode(true, out)
                })?;
            }
            AttrValue::Aggregator(ag) if old && ag.asn > 0xFFFF && !has(attr::AS4_AGGREGATOR) => {
                write_attr(
                    out,
                    expected_flags(attr::AS4_AGGREGATOR),
                    attr::AS4_AGGREGATOR,
                    |out| {
                        out.extend_from_slice(&ag.asn.to_be_bytes());
                        out.extend_from_slice(&ag.addr.octets());
                        Ok(())
                    },
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Prepares received attributes for advertisement to another peer (RFC 4271 §5 and §9.1.2):
/// unrecognized optional non-transitive attributes are dropped, unrecognized optional
/// transitive ones are passed on with the partial bit set.
pub fn prepare_for_readvertisement(attrs: &mut Vec<PathAttribute>) {
    attrs.retain(|a| match a.value {
        AttrValue::Unknown { .. } => a.flags & flags::TRANSITIVE != 0,
        _ => true,
    });
    for a in attrs.iter_mut() {
        if matches!(a.value, AttrValue::Unknown { .. }) {
            a.flags |= flags::PARTIAL;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_as4_takes_the_uncovered_leading_ases() {
        // Old speaker 65001 prepended itself; the rest of the path is 4-octet.
        let as_path = AsPath::sequence(&[65001, 23456, 23456, 65002]);
        let as4 = AsPath::sequence(&[4_200_000_001, 4_200_000_002, 65002]);
        let merged = as_path.merge_as4(&as4);
        assert_eq!(
            merged,
            AsPath::sequence(&[65001, 4_200_000_001, 4_200_000_002, 65002])
        );
        // AS4_PATH longer than AS_PATH: ignored.
        let long = AsPath::sequence(&[1, 2, 3, 4, 5]);
        assert_eq!(as_path.merge_as4(&long), as_path);
    }

    #[test]
    fn merge_as4_counts_sets_as_one_and_keeps_confed_segments() {
        let as_path = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::ConfedSequence,
                    asns: vec![65100],
                },
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![65001, 23456],
                },
                AsSegment {
                    kind: SegmentKind::Set,
                    asns: vec![23456, 65003],
                },
            ],
        };
        let as4 = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![4_200_000_000],
                },
                AsSegment {
                    kind: SegmentKind::Set,
                    asns: vec![4_200_000_009, 65003],
                },
            ],
        };
        let merged = as_path.merge_as4(&as4);
        assert_eq!(
            merged.to_string(),
            "(65100) 65001 4200000000 {4200000009,65003}"
        );
        assert_eq!(merged.path_len(), 3);
    }
}
