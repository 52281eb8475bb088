//! Community values: standard (RFC 1997), extended (RFC 4360, with route-target and
//! site-of-origin helpers over the RIB's RD/RT types) and large (RFC 8092), with their text
//! forms.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use vpn_types::{AdminValue, RouteTarget};

/// A standard community, `ASN:NN` (high and low 16 bits of a u32).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Community(pub u32);

impl Community {
    /// RFC 8326: the route is about to go away; receivers lower its preference.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// RFC 7611.
    pub const ACCEPT_OWN: Community = Community(0xFFFF_0001);
    /// RFC 9494.
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    /// RFC 9494.
    pub const NO_LLGR: Community = Community(0xFFFF_0007);
    /// RFC 7999: drop traffic to this prefix (65535:666).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// RFC 1997: not beyond this AS (or confederation).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// RFC 1997: to no peer at all.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// RFC 1997: not beyond this (sub-)AS, not even to other confederation members.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// RFC 3765: not to bilateral peers.
    pub const NOPEER: Community = Community(0xFFFF_FF04);

    pub fn new(asn: u16, value: u16) -> Self {
        Community(((asn as u32) << 16) | value as u32)
    }
    pub fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }
    pub fn value(self) -> u16 {
        self.0 as u16
    }

    /// The configuration keyword of a well-known community, if it is one.
    pub fn well_known_name(self) -> Option<&'static str> {
        WELL_KNOWN
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(names, _)| names[0])
    }
}

/// Well-known names accepted in configuration (first = canonical), IOS and FRR spellings.
const WELL_KNOWN: &[(&[&str], Community)] = &[
    (&["no-export"], Community::NO_EXPORT),
    (&["no-advertise"], Community::NO_ADVERTISE),
    (
        &["local-as", "no-export-subconfed"],
        Community::NO_EXPORT_SUBCONFED,
    ),
    (&["no-peer", "nopeer"], Community::NOPEER),
    (
        &["graceful-shutdown", "gshut"],
        Community::GRACEFUL_SHUTDOWN,
    ),
    (&["blackhole"], Community::BLACKHOLE),
    (&["accept-own"], Community::ACCEPT_OWN),
    (&["llgr-stale"], Community::LLGR_STALE),
    (&["no-llgr"], Community::NO_LLGR),
];

/// Why a community string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what}: {reason}")]
pub struct CommunityParseError {
    pub text: String,
    pub what: &'static str,
    pub reason: &'static str,
}

impl FromStr for Community {
    type Err = CommunityParseError;
    /// `ASN:NN` (each 0..=65535), a plain 32-bit number (IOS old format), or a well-known
    /// name (`no-export`, `no-advertise`, `local-as`, `no-peer`, `graceful-shutdown`, …).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| CommunityParseError {
            text: s.to_string(),
            what: "community",
            reason,
        };
        let lower = s.to_ascii_lowercase();
        if let Some((_, c)) = WELL_KNOWN
            .iter()
            .find(|(names, _)| names.contains(&lower.as_str()))
        {
            return Ok(*c);
        }
        if let Some((a, v)) = s.split_once(':') {
            let a: u16 = a
                .parse()
                .map_err(|_| err("expected ASN:NN with both parts 0..=65535"))?;
            let v: u16 = v
                .parse()
                .map_err(|_| err("expected ASN:NN with both parts 0..=65535"))?;
            return Ok(Community::new(a, v));
        }
        s.parse::<u32>().map(Community).map_err(|_| {
            err("expected ASN:NN, a 32-bit number or a well-known name such as no-export")
        })
    }
}

impl fmt::Display for Community {
    /// Always numeric `ASN:NN`: the text expanded community lists match against.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.asn(), self.value())
    }
}

/// A large community `GLOBAL:LOCAL1:LOCAL2` (RFC 8092).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LargeCommunity {
    pub global: u32,
    pub local1: u32,
    pub local2: u32,
}

impl FromStr for LargeCommunity {
    type Err = CommunityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CommunityParseError {
            text: s.to_string(),
            what: "large community",
            reason: "expected GLOBAL:LOCAL1:LOCAL2, each 0..=4294967295",
        };
        let mut parts = s.split(':');
        let mut next = || -> Result<u32, CommunityParseError> {
            parts.next().ok_or_else(err)?.parse().map_err(|_| err())
        };
        let c = LargeCommunity {
            global: next()?,
            local1: next()?,
            local2: next()?,
        };
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(c)
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// An extended community, as its 8 wire octets (type, sub-type, 6 value octets).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ExtCommunity(pub [u8; 8]);

/// RFC 4360 §4 / RFC 5668 sub-types shared by the three AS/IPv4-specific types.
const SUBTYPE_ROUTE_TARGET: u8 = 0x02;
const SUBTYPE_ROUTE_ORIGIN: u8 = 0x03;

impl ExtCommunity {
    fn admin(high_type: u8, sub: u8, av: AdminValue) -> Self {
        let mut b = [0u8; 8];
        b[0] = high_type;
        b[1] = sub;
        b[2..].copy_from_slice(&av.value_bytes());
        ExtCommunity(b)
    }

    /// The route-target community for `rt` (transitive; type 0x00/0x01/0x02 by layout).
    pub fn route_target(rt: RouteTarget) -> Self {
        Self::admin(rt.0.type_code() as u8, SUBTYPE_ROUTE_TARGET, rt.0)
    }

    /// The site-of-origin (route origin) community for `soo`.
    pub fn site_of_origin(soo: AdminValue) -> Self {
        Self::admin(soo.type_code() as u8, SUBTYPE_ROUTE_ORIGIN, soo)
    }

    fn admin_value(&self) -> Option<AdminValue> {
        let b = &self.0;
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match b[0] {
            0x00 => Some(AdminValue::As2 {
                asn: u16_at(2),
                value: u32_at(4),
            }),
            0x01 => Some(AdminValue::Ipv4 {
                addr: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                value: u16_at(6),
            }),
            0x02 => Some(AdminValue::As4 {
                asn: u32_at(2),
                value: u16_at(6),
            }),
            _ => None,
        }
    }

    /// The route target this community is, if it is one.
    pub fn as_route_target(&self) -> Option<RouteTarget> {
        (self.0[1] == SUBTYPE_ROUTE_TARGET)
            .then(|| self.admin_value().map(RouteTarget))
            .flatten()
    }

    /// The site of origin this community is, if it is one.
    pub fn as_site_of_origin(&self) -> Option<AdminValue> {
        (self.0[1] == SUBTYPE_ROUTE_ORIGIN)
            .then(|| self.admin_value())
            .flatten()
    }

    pub fn is_route_target(&self) -> bool {
        self.as_route_target().is_some()
    }
}

impl fmt::Display for ExtCommunity {
    /// `RT:ADMIN:VALUE`, `SoO:ADMIN:VALUE`, or the 8 octets in hex for anything else.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rt) = self.as_route_target() {
            return write!(f, "RT:{}", rt.0);
        }
        if let Some(soo) = self.as_site_of_origin() {
            return write!(f, "SoO:{soo}");
        }
        write!(f, "0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for ExtCommunity {
    type Err = CommunityParseError;
    /// `rt ADMIN:VALUE`, `RT:ADMIN:VALUE`, `soo ADMIN:VALUE` or `SoO:ADMIN:VALUE`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| CommunityParseError {
            text: s.to_string(),
            what: "extended community",
            reason,
        };
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let (kind, rest) = if let Some(r) = lower
            .strip_prefix("rt ")
            .or_else(|| lower.strip_prefix("rt:"))
        {
            ("rt", &t[t.len() - r.len()..])
        } else if let Some(r) = lower
            .strip_prefix("soo ")
            .or_else(|| lower.strip_prefix("soo:"))
        {
            ("soo", &t[t.len() - r.len()..])
        } else {
            return Err(err("expected `rt ADMIN:VALUE` or `soo ADMIN:VALUE`"));
        };
        let rt: RouteTarget = rest
            .trim()
            .parse()
            .map_err(|_| err("the value must be ASN:NN, A.B.C.D:NN or ASN4:NN"))?;
        Ok(if kind == "rt" {
            ExtCommunity::route_target(rt)
        } else {
            ExtCommunity::site_of_origin(rt.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_forms_and_names() {
        assert_eq!(
            "65001:100".parse::<Community>().unwrap(),
            Community::new(65001, 100)
        );
        assert_eq!(
            "no-export".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert_eq!(
            "NO-EXPORT".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert_eq!(
            "local-AS".parse::<Community>().unwrap(),
            Community::NO_EXPORT_SUBCONFED
        );
        assert_eq!("no-peer".parse::<Community>().unwrap().0, 0xFFFF_FF04);
        assert_eq!("gshut".parse::<Community>().unwrap().0, 0xFFFF_0000);
        assert_eq!(
            "blackhole".parse::<Community>().unwrap().to_string(),
            "65535:666"
        );
        assert_eq!(
            "4294967041".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
        assert_eq!(Community::NOPEER.well_known_name(), Some("no-peer"));
        for bad in ["", "1:2:3", "65536:1", "x", "1:-1"] {
            assert!(bad.parse::<Community>().is_err(), "{bad}");
        }
    }

    #[test]
    fn large_forms() {
        let l: LargeCommunity = "4200000000:1:2".parse().unwrap();
        assert_eq!(l.global, 4_200_000_000);
        assert_eq!(l.to_string(), "4200000000:1:2");
        for bad in ["1:2", "1:2:3:4", "a:b:c", "4294967296:0:0"] {
            assert!(bad.parse::<LargeCommunity>().is_err(), "{bad}");
        }
    }

    #[test]
    fn extended_rt_and_soo_roundtrip_through_rib_types() {
        let rt: RouteTarget = "65000:7".parse().unwrap();
        let e = ExtCommunity::route_target(rt);
        assert_eq!(e.0, [0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 7]);
        assert_eq!(e.as_route_target(), Some(rt));
        assert_eq!(e.as_site_of_origin(), None);
        assert_eq!(e.to_string(), "RT:65000:7");
        let e4: ExtCommunity = "rt 4200000000:9".parse().unwrap();
        assert_eq!(e4.0[0], 0x02);
        assert_eq!(e4.to_string(), "RT:4200000000:9");
        let ip: ExtCommunity = "SoO:192.0.2.1:5".parse().unwrap();
        assert_eq!(ip.0[0..2], [0x01, 0x03]);
        assert_eq!(ip.to_string(), "SoO:192.0.2.1:5");
        assert!("65000:1".parse::<ExtCommunity>().is_err());
        assert_eq!(
            ExtCommunity([0x43, 0, 0, 0, 0, 0, 0, 1]).to_string(),
            "0x4300000000000001"
        );
    }
}
