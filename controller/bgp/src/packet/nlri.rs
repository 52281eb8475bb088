//! Network layer reachability information: address families, prefixes, route distinguishers
//! and MPLS labels (RFC 4271 §4.3, RFC 4760 §5, RFC 4364 §4.3.4, RFC 4659, RFC 8277).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use vpn_types::{AdminValue, RouteDistinguisher};

use super::consts::{afi, safi};
use super::error::{EncodeError, UpdateProblem};
use super::wire::Reader;

/// An AFI/SAFI pair exactly as carried on the wire (capabilities, MP attributes, refresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AfiSafi {
    pub afi: u16,
    pub safi: u8,
}

impl AfiSafi {
    pub const fn new(afi: u16, safi: u8) -> Self {
        AfiSafi { afi, safi }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Family::from_afi_safi(*self) {
            Some(fam) => write!(f, "{fam}"),
            None => write!(f, "afi {} safi {}", self.afi, self.safi),
        }
    }
}

/// The address families whose NLRI this codec decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
    /// AFI 1 / SAFI 128: labeled VPN-IPv4 (RFC 4364).
    Vpnv4,
    /// AFI 2 / SAFI 128: labeled VPN-IPv6 (RFC 4659).
    Vpnv6,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Ipv4Unicast,
        Family::Ipv6Unicast,
        Family::Vpnv4,
        Family::Vpnv6,
    ];

    pub const fn afi_safi(self) -> AfiSafi {
        match self {
            Family::Ipv4Unicast => AfiSafi::new(afi::IPV4, safi::UNICAST),
            Family::Ipv6Unicast => AfiSafi::new(afi::IPV6, safi::UNICAST),
            Family::Vpnv4 => AfiSafi::new(afi::IPV4, safi::MPLS_VPN),
            Family::Vpnv6 => AfiSafi::new(afi::IPV6, safi::MPLS_VPN),
        }
    }

    pub fn from_afi_safi(a: AfiSafi) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.afi_safi() == a)
    }

    /// True for the families whose prefixes carry an RD and labels.
    pub fn is_vpn(self) -> bool {
        matches!(self, Family::Vpnv4 | Family::Vpnv6)
    }

    /// True when the prefixes are IPv6.
    pub fn is_ipv6(self) -> bool {
        matches!(self, Family::Ipv6Unicast | Family::Vpnv6)
    }

    /// A small bit for [`FamilySet`].
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
            Family::Vpnv4 => "vpnv4",
            Family::Vpnv6 => "vpnv6",
        })
    }
}

/// A set of [`Family`] values, `Copy` so a decode context costs nothing to pass around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const fn empty() -> Self {
        FamilySet(0)
    }

    pub fn all() -> Self {
        Family::ALL.into_iter().collect()
    }

    pub fn insert(&mut self, f: Family) {
        self.0 |= f.bit();
    }

    pub fn contains(self, f: Family) -> bool {
        self.0 & f.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> Self {
        let mut s = FamilySet::empty();
        iter.into_iter().for_each(|f| s.insert(f));
        s
    }
}

/// A route distinguisher as carried in VPN NLRI (RFC 4364 §4.2).
///
/// The three defined layouts decode into the RIB's [`RouteDistinguisher`] so the VPN table
/// can use them directly; any other type code is kept verbatim rather than rejected, because
/// the NLRI is still perfectly parseable (its length is fixed) and a session reset over a
/// route we merely cannot interpret would be out of proportion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rd {
    Known(RouteDistinguisher),
    Unknown { type_code: u16, value: [u8; 6] },
}

impl Rd {
    /// The all-zero RD (type 0, 0:0) that prefixes VPN next hops (RFC 4364 §4.3.2).
    pub const ZERO: Rd = Rd::Known(RouteDistinguisher(AdminValue::As2 { asn: 0, value: 0 }));

    pub(crate) fn from_bytes(b: [u8; 8]) -> Rd {
        let [t0, t1, v0, v1, v2, v3, v4, v5] = b;
        let type_code = u16::from_be_bytes([t0, t1]);
        let admin = match type_code {
            0 => AdminValue::As2 {
                asn: u16::from_be_bytes([v0, v1]),
                value: u32::from_be_bytes([v2, v3, v4, v5]),
            },
            1 => AdminValue::Ipv4 {
                addr: Ipv4Addr::new(v0, v1, v2, v3),
                value: u16::from_be_bytes([v4, v5]),
            },
            2 => AdminValue::As4 {
                asn: u32::from_be_bytes([v0, v1, v2, v3]),
                value: u16::from_be_bytes([v4, v5]),
            },
            _ => {
                return Rd::Unknown {
                    type_code,
                    value: [v0, v1, v2, v3, v4, v5],
                }
            }
        };
        Rd::Known(RouteDistinguisher(admin))
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let (t, v) = match self {
            Rd::Known(rd) => (rd.0.type_code(), rd.0.value_bytes()),
            Rd::Unknown { type_code, value } => (*type_code, *value),
        };
        let mut out = [0u8; 8];
        out[..2].copy_from_slice(&t.to_be_bytes());
        out[2..].copy_from_slice(&v);
        out
    }

    /// The RIB's RD, when the type is one of the three defined ones.
    pub fn known(&self) -> Option<RouteDistinguisher> {
        match self {
            Rd::Known(rd) => Some(*rd),
            Rd::Unknown { .. } => None,
        }
    }
}

impl From<RouteDistinguisher> for Rd {
    fn from(rd: RouteDistinguisher) -> Self {
        Rd::Known(rd)
    }
}

impl fmt::Display for Rd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rd::Known(rd) => write!(f, "{rd}"),
            Rd::Unknown { type_code, value } => {
                write!(f, "type{type_code}:0x")?;
                value.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// One 3-octet label stack entry of labeled NLRI: a 20-bit label, 3 TC bits and the
/// bottom-of-stack bit (RFC 8277 §2). Kept raw so unusual values round-trip exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Label(u32);

impl Label {
    /// The "compatibility" value RFC 8277 §2.4 says to put in withdrawals.
    pub const WITHDRAW: Label = Label(0x80_0000);

    /// A label value with the bottom-of-stack bit set (the usual single-label stack).
    pub fn new(label: u32) -> Self {
        Label((label & 0xF_FFFF) << 4 | 1)
    }

    /// Builds from the three wire octets.
    pub fn from_raw(raw: u32) -> Self {
        Label(raw & 0xFF_FFFF)
    }

    /// The three wire octets as a number.
    pub fn raw(self) -> u32 {
        self.0
    }

    /// The 20-bit label value.
    pub fn value(self) -> u32 {
        self.0 >> 4
    }

    pub fn bottom_of_stack(self) -> bool {
        self.0 & 1 == 1
    }

    /// True for the markers a withdrawal may carry instead of a real label (0x800000, or the
    /// all-zero field some RFC 3107 speakers send): a stack stops at them.
    pub fn is_withdraw_marker(self) -> bool {
        self.0 == 0x80_0000 || self.0 == 0
    }
}

/// Longest possible stack: the NLRI length octet counts at most 255 bits, and 64 of them are
/// the RD, so at most 7 labels fit. Knowing the bound lets the stack live inline (no heap).
pub const MAX_LABELS: usize = 7;

/// A label stack of 1..=7 entries, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LabelStack {
    len: u8,
    labels: [Label; MAX_LABELS],
}

impl LabelStack {
    /// A one-label stack (bottom of stack set).
    pub fn single(label: u32) -> Self {
        let mut s = LabelStack::default();
        s.push(Label::new(label));
        s
    }

    /// The stack RFC 8277 §2.4 recommends for withdrawals.
    pub fn withdraw() -> Self {
        let mut s = LabelStack::default();
        s.push(Label::WITHDRAW);
        s
    }

    /// Appends; returns false (and changes nothing) when the stack is full.
    pub fn push(&mut self, l: Label) -> bool {
        match self.labels.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = l;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub fn as_slice(&self) -> &[Label] {
        self.labels.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for LabelStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.as_slice().iter().map(|l| l.value()))
            .finish()
    }
}

/// A labeled VPN route: label stack, RD and prefix (RFC 4364 §4.3.4, RFC 4659 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VpnPrefix<P> {
    pub labels: LabelStack,
    pub rd: Rd,
    pub prefix: P,
}

/// The NLRI of one address family, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NlriList {
    Ipv4(Vec<Ipv4Net>),
    Ipv6(Vec<Ipv6Net>),
    Vpnv4(Vec<VpnPrefix<Ipv4Net>>),
    Vpnv6(Vec<VpnPrefix<Ipv6Net>>),
}

impl NlriList {
    /// An empty list of the given family (an MP End-of-RIB marker carries one of these).
    pub fn empty(family: Family) -> Self {
        match family {
            Family::Ipv4Unicast => NlriList::Ipv4(Vec::new()),
            Family::Ipv6Unicast => NlriList::Ipv6(Vec::new()),
            Family::Vpnv4 => NlriList::Vpnv4(Vec::new()),
            Family::Vpnv6 => NlriList::Vpnv6(Vec::new()),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            NlriList::Ipv4(_) => Family::Ipv4Unicast,
            NlriList::Ipv6(_) => Family::Ipv6Unicast,
            NlriList::Vpnv4(_) => Family::Vpnv4,
            NlriList::Vpnv6(_) => Family::Vpnv6,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            NlriList::Ipv4(v) => v.len(),
            NlriList::Ipv6(v) => v.len(),
            NlriList::Vpnv4(v) => v.len(),
            NlriList::Vpnv6(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the prefixes of `other` when it is of the same family; returns false otherwise.
    pub fn extend_from(&mut self, other: NlriList) -> bool {
        match (self, other) {
            (NlriList::Ipv4(a), NlriList::Ipv4(b)) => a.extend(b),
            (NlriList::Ipv6(a), NlriList::Ipv6(b)) => a.extend(b),
            (NlriList::Vpnv4(a), NlriList::Vpnv4(b)) => a.extend(b),
            (NlriList::Vpnv6(a), NlriList::Vpnv6(b)) => a.extend(b),
            _ => return false,
        }
        true
    }

    /// Decodes a whole NLRI field of `family`. `field` names it for the error.
    pub(crate) fn decode(
        family: Family,
        bytes: &[u8],
        field: &'static str,
    ) -> Result<NlriList, UpdateProblem> {
        let bad = || UpdateProblem::InvalidPrefix(field);
        let mut r = Reader::new(bytes);
        // A prefix is at least one octet, so this capacity is an upper bound that never
        // over-allocates by more than the input size.
        let cap = estimate(bytes, family);
        Ok(match family {
            Family::Ipv4Unicast => {
                let mut v = Vec::with_capacity(cap);
                while !r.is_empty() {
                    v.push(read_v4(&mut r).ok_or_else(bad)?);
                }
                NlriList::Ipv4(v)
            }
            Family::Ipv6Unicast => {
                let mut v = Vec::with_capacity(cap);
                while !r.is_empty() {
                    v.push(read_v6(&mut r).ok_or_else(bad)?);
                }
                NlriList::Ipv6(v)
            }
            Family::Vpnv4 => {
                let mut v = Vec::with_capacity(cap);
                while !r.is_empty() {
                    v.push(read_vpn(&mut r, 32, v4_from).ok_or_else(bad)?);
                }
                NlriList::Vpnv4(v)
            }
            Family::Vpnv6 => {
                let mut v = Vec::with_capacity(cap);
                while !r.is_empty() {
                    v.push(read_vpn(&mut r, 128, v6_from).ok_or_else(bad)?);
                }
                NlriList::Vpnv6(v)
            }
        })
    }

    /// Appends the wire form of every prefix. Fails only for a VPN route whose labels, RD
    /// and prefix together exceed the 255 bits the length octet can count.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            NlriList::Ipv4(v) => v.iter().for_each(|p| write_v4(out, p)),
            NlriList::Ipv6(v) => v.iter().for_each(|p| write_v6(out, p)),
            NlriList::Vpnv4(v) => {
                for p in v {
                    let (len, addr) = (p.prefix.prefix_len(), p.prefix.addr().octets());
                    write_vpn(out, &p.labels, &p.rd, len, &addr)?;
                }
            }
            NlriList::Vpnv6(v) => {
                for p in v {
                    let (len, addr) = (p.prefix.prefix_len(), p.prefix.addr().octets());
                    write_vpn(out, &p.labels, &p.rd, len, &addr)?;
                }
            }
        }
        Ok(())
    }
}

/// How many prefixes a field of this size can hold at most, capped so hostile input cannot
/// make us reserve much more than the message itself.
fn estimate(bytes: &[u8], family: Family) -> usize {
    let min = if family.is_vpn() { 12 } else { 2 };
    // Rounded up, and zero for an empty field so that no allocation happens at all.
    bytes.len().div_ceil(min)
}

fn v4_from(len: u8, b: [u8; 16]) -> Option<Ipv4Net> {
    Ipv4Net::new(Ipv4Addr::new(b[0], b[1], b[2], b[3]), len).ok()
}

fn v6_from(len: u8, b: [u8; 16]) -> Option<Ipv6Net> {
    Ipv6Net::new(Ipv6Addr::from(b), len).ok()
}

/// Reads `bits` worth of address octets into a zero-padded 16-octet buffer.
fn read_addr(r: &mut Reader<'_>, bits: u8) -> Option<[u8; 16]> {
    let n = usize::from(bits).div_ceil(8);
    let src = r.take(n)?;
    let mut b = [0u8; 16];
    b.get_mut(..n)?.copy_from_slice(src);
    Some(b)
}

/// One plain IPv4 prefix: length octet, then just enough octets (RFC 4271 §4.3).
pub(crate) fn read_v4(r: &mut Reader<'_>) -> Option<Ipv4Net> {
    let len = r.u8()?;
    if len > 32 {
        return None;
    }
    v4_from(len, read_addr(r, len)?)
}

fn read_v6(r: &mut Reader<'_>) -> Option<Ipv6Net> {
    let len = r.u8()?;
    if len > 128 {
        return None;
    }
    v6_from(len, read_addr(r, len)?)
}

/// One labeled VPN prefix. The length octet counts labels, RD and prefix bits together; the
/// label stack ends at the bottom-of-stack bit or at a withdrawal marker (RFC 8277 §2.4).
fn read_vpn<P>(
    r: &mut Reader<'_>,
    max_prefix_bits: u8,
    build: fn(u8, [u8; 16]) -> Option<P>,
) -> Option<VpnPrefix<P>> {
    let total = usize::from(r.u8()?);
    let mut body = Reader::new(r.take(total.div_ceil(8))?);
    let mut bits = total;
    let mut labels = LabelStack::default();
    loop {
        let [a, b, c] = body.array::<3>()?;
        bits = bits.checked_sub(24)?;
        let l = Label::from_raw(u32::from_be_bytes([0, a, b, c]));
        if !labels.push(l) {
            return None;
        }
        if l.bottom_of_stack() || l.is_withdraw_marker() {
            break;
        }
    }
    let rd = Rd::from_bytes(body.array::<8>()?);
    let plen = u8::try_from(bits.checked_sub(64)?).ok()?;
    if plen > max_prefix_bits {
        return None;
    }
    let addr = read_addr(&mut body, plen)?;
    if !body.is_empty() {
        return None;
    }
    Some(VpnPrefix {
        labels,
        rd,
        prefix: build(plen, addr)?,
    })
}

fn write_prefix(out: &mut Vec<u8>, len: u8, octets: &[u8]) {
    out.push(len);
    let n = usize::from(len).div_ceil(8);
    out.extend_from_slice(octets.get(..n).unwrap_or(octets));
}

pub(crate) fn write_v4(out: &mut Vec<u8>, p: &Ipv4Net) {
    write_prefix(out, p.prefix_len(), &p.addr().octets());
}

fn write_v6(out: &mut Vec<u8>, p: &Ipv6Net) {
    write_prefix(out, p.prefix_len(), &p.addr().octets());
}

fn write_vpn(
    out: &mut Vec<u8>,
    labels: &LabelStack,
    rd: &Rd,
    plen: u8,
    octets: &[u8],
) -> Result<(), EncodeError> {
    let bits = labels.len() * 24 + 64 + usize::from(plen);
    let len = u8::try_from(bits).map_err(|_| EncodeError::FieldTooLong {
        what: "labeled VPN prefix (bits)",
        len: bits,
    })?;
    out.push(len);
    for l in labels.as_slice() {
        out.extend_from_slice(&l.raw().to_be_bytes()[1..]);
    }
    out.extend_from_slice(&rd.to_bytes());
    let n = usize::from(plen).div_ceil(8);
    out.extend_from_slice(octets.get(..n).unwrap_or(octets));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lengths_are_validated() {
        assert!(NlriList::decode(Family::Ipv4Unicast, &[33, 1, 2, 3, 4, 5], "nlri").is_err());
        assert!(NlriList::decode(Family::Ipv4Unicast, &[24, 10, 0], "nlri").is_err());
        assert!(NlriList::decode(Family::Ipv6Unicast, &[129], "nlri").is_err());
        let ok =
            NlriList::decode(Family::Ipv4Unicast, &[0, 8, 10, 32, 1, 2, 3, 4], "nlri").unwrap();
        assert_eq!(ok.len(), 3);
    }

    #[test]
    fn vpn_prefix_round_trips_with_each_rd_type() {
        for rd in ["65000:1", "192.0.2.1:5", "4200000000:7"] {
            let rd: RouteDistinguisher = rd.parse().unwrap();
            let list = NlriList::Vpnv4(vec![VpnPrefix {
                labels: LabelStack::single(16001),
                rd: rd.into(),
                prefix: "10.1.0.0/16".parse().unwrap(),
            }]);
            let mut out = Vec::new();
            list.encode(&mut out).unwrap();
            assert_eq!(out[0], 24 + 64 + 16);
            assert_eq!(NlriList::decode(Family::Vpnv4, &out, "mp").unwrap(), list);
        }
    }

    #[test]
    fn withdraw_marker_ends_the_stack() {
        let list = NlriList::Vpnv6(vec![VpnPrefix {
            labels: LabelStack::withdraw(),
            rd: Rd::Unknown {
                type_code: 9,
                value: [1, 2, 3, 4, 5, 6],
            },
            prefix: "2001:db8::/32".parse().unwrap(),
        }]);
        let mut out = Vec::new();
        list.encode(&mut out).unwrap();
        assert_eq!(&out[1..4], &[0x80, 0, 0]);
        assert_eq!(NlriList::decode(Family::Vpnv6, &out, "mp").unwrap(), list);
    }

    #[test]
    fn vpn_length_too_short_for_label_and_rd_is_rejected() {
        // 80 bits: a label and most of an RD.
        let mut b = vec![80, 0, 0, 0x11];
        b.extend_from_slice(&[0; 7]);
        assert!(NlriList::decode(Family::Vpnv4, &b, "mp").is_err());
    }

    #[test]
    fn vpn_route_too_long_for_its_length_octet_is_refused() {
        let mut labels = LabelStack::default();
        (0..7).for_each(|i| {
            labels.push(Label::from_raw(i << 4));
        });
        let list = NlriList::Vpnv6(vec![VpnPrefix {
            labels,
            rd: Rd::ZERO,
            prefix: "2001:db8::/64".parse().unwrap(),
        }]);
        assert!(list.encode(&mut Vec::new()).is_err());
    }
}
