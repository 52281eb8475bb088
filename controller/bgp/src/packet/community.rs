//! Communities: standard (RFC 1997), extended (RFC 4360) and large (RFC 8092).

use std::fmt;
use std::net::Ipv4Addr;

use vpn_types::{AdminValue, RouteTarget};

/// A standard community, `AS:value` in 32 bits (RFC 1997).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    /// Do not advertise outside the AS (or confederation) (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// Do not advertise to any peer (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// Do not advertise to external peers, even confederation members (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// Do not advertise to peers with which we have no transit agreement (RFC 3765).
    pub const NOPEER: Community = Community(0xFFFF_FF04);
    /// The path is about to go away: lower its preference (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// Discard traffic to this prefix (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);

    /// Builds `asn:value`.
    pub fn new(asn: u16, value: u16) -> Self {
        Community(u32::from(asn) << 16 | u32::from(value))
    }

    /// The high 16 bits, by convention the AS number.
    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The low 16 bits.
    pub fn value(self) -> u16 {
        self.0 as u16
    }

    /// The RFC name of a well-known community, if it is one.
    pub fn well_known_name(self) -> Option<&'static str> {
        Some(match self {
            Community::NO_EXPORT => "no-export",
            Community::NO_ADVERTISE => "no-advertise",
            Community::NO_EXPORT_SUBCONFED => "no-export-subconfed",
            Community::NOPEER => "no-peer",
            Community::GRACEFUL_SHUTDOWN => "graceful-shutdown",
            Community::BLACKHOLE => "blackhole",
            _ => return None,
        })
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}:{}", self.asn(), self.value()),
        }
    }
}

/// A large community `global:local1:local2` (RFC 8092).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl LargeCommunity {
    pub(crate) fn from_bytes(b: [u8; 12]) -> Self {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        LargeCommunity {
            global: word(0),
            local1: word(4),
            local2: word(8),
        }
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.global.to_be_bytes());
        out.extend_from_slice(&self.local1.to_be_bytes());
        out.extend_from_slice(&self.local2.to_be_bytes());
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// Transitive two-octet-AS, IPv4-address and four-octet-AS extended community types
/// (RFC 4360 §3, RFC 5668); their low bit pattern is also the RD/RT layout type code.
const TYPE_AS2: u8 = 0x00;
const TYPE_IPV4: u8 = 0x01;
const TYPE_AS4: u8 = 0x02;
const SUBTYPE_ROUTE_TARGET: u8 = 0x02;
const SUBTYPE_ROUTE_ORIGIN: u8 = 0x03;

/// An extended community (RFC 4360). Route targets and route origins are decoded because VRF
/// import/export needs them; every other type is kept as its 8 raw octets, so it survives a
/// round trip and re-advertisement untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExtCommunity {
    /// Subtype 0x02 of types 0x00 / 0x01 / 0x02.
    RouteTarget(RouteTarget),
    /// Subtype 0x03 (site of origin) of types 0x00 / 0x01 / 0x02.
    RouteOrigin(AdminValue),
    /// Anything else, as received.
    Raw([u8; 8]),
}

impl ExtCommunity {
    /// Interprets 8 wire octets (route targets and origins become typed, the rest stays raw).
    pub fn from_raw(b: [u8; 8]) -> Self {
        Self::from_bytes(b)
    }

    pub(crate) fn from_bytes(b: [u8; 8]) -> Self {
        let [ty, sub, v0, v1, v2, v3, v4, v5] = b;
        let admin = match ty {
            TYPE_AS2 => Some(AdminValue::As2 {
                asn: u16::from_be_bytes([v0, v1]),
                value: u32::from_be_bytes([v2, v3, v4, v5]),
            }),
            TYPE_IPV4 => Some(AdminValue::Ipv4 {
                addr: Ipv4Addr::new(v0, v1, v2, v3),
                value: u16::from_be_bytes([v4, v5]),
            }),
            TYPE_AS4 => Some(AdminValue::As4 {
                asn: u32::from_be_bytes([v0, v1, v2, v3]),
                value: u16::from_be_bytes([v4, v5]),
            }),
            _ => None,
        };
        match (admin, sub) {
            (Some(a), SUBTYPE_ROUTE_TARGET) => ExtCommunity::RouteTarget(RouteTarget(a)),
            (Some(a), SUBTYPE_ROUTE_ORIGIN) => ExtCommunity::RouteOrigin(a),
            _ => ExtCommunity::Raw(b),
        }
    }

    /// The 8 octets on the wire.
    pub fn to_bytes(&self) -> [u8; 8] {
        let (admin, sub) = match self {
            ExtCommunity::RouteTarget(rt) => (rt.0, SUBTYPE_ROUTE_TARGET),
            ExtCommunity::RouteOrigin(a) => (*a, SUBTYPE_ROUTE_ORIGIN),
            ExtCommunity::Raw(b) => return *b,
        };
        let mut out = [0u8; 8];
        // type_code() is 0, 1 or 2, exactly the transitive type octets above.
        out[0] = admin.type_code() as u8;
        out[1] = sub;
        out[2..].copy_from_slice(&admin.value_bytes());
        out
    }

    /// The route target, if this is one.
    pub fn route_target(&self) -> Option<RouteTarget> {
        match self {
            ExtCommunity::RouteTarget(rt) => Some(*rt),
            _ => None,
        }
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtCommunity::RouteTarget(rt) => write!(f, "{rt}"),
            ExtCommunity::RouteOrigin(a) => write!(f, "SoO:{a}"),
            ExtCommunity::Raw(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_values_are_the_rfc_ones() {
        assert_eq!(Community::NO_EXPORT.0, 0xFFFFFF01);
        assert_eq!(Community::NO_ADVERTISE.0, 0xFFFFFF02);
        assert_eq!(Community::NO_EXPORT_SUBCONFED.0, 0xFFFFFF03);
        assert_eq!(Community::NOPEER.0, 0xFFFFFF04);
        assert_eq!(Community::GRACEFUL_SHUTDOWN.0, 0xFFFF0000);
        assert_eq!(Community::BLACKHOLE.0, 0xFFFF029A);
        assert_eq!(Community::new(65000, 7).to_string(), "65000:7");
        assert_eq!(Community::BLACKHOLE.to_string(), "blackhole");
    }

    #[test]
    fn route_targets_of_all_three_layouts_round_trip() {
        for text in ["65000:100", "192.0.2.1:7", "4200000000:9"] {
            let rt: RouteTarget = text.parse().unwrap();
            let ec = ExtCommunity::RouteTarget(rt);
            let bytes = ec.to_bytes();
            assert_eq!(bytes[0], rt.0.type_code() as u8);
            assert_eq!(bytes[1], 0x02);
            assert_eq!(ExtCommunity::from_bytes(bytes), ec);
        }
        let soo = ExtCommunity::RouteOrigin("65000:1".parse::<RouteTarget>().unwrap().0);
        assert_eq!(ExtCommunity::from_bytes(soo.to_bytes()), soo);
        // Non-transitive RT (0x40) and an unknown type stay raw.
        for raw in [[0x40, 2, 0, 1, 0, 0, 0, 1], [0x03, 0x0c, 0, 0, 0, 0, 0, 8]] {
            assert_eq!(ExtCommunity::from_bytes(raw), ExtCommunity::Raw(raw));
        }
    }
}
