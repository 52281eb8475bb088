//! Route distinguishers and route targets, in their own crate so that the RIB, the policy
//! engine and the BGP codec can all use them without depending on each other.
//!
//! Both are written `ADMIN:VALUE` and share the three RFC 4364 §4.2 / RFC 4360 layouts:
//! a 2-octet AS with a 4-octet value, an IPv4 address with a 2-octet value, and a 4-octet AS
//! with a 2-octet value. The layout is picked from the text the way IOS and FRR pick it: an
//! IPv4 address administrator is type 1, an AS above 65535 is type 2, otherwise type 0.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The administrator and assigned number of an RD or RT, in one of the three encodings.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum AdminValue {
    /// Type 0: 2-octet AS number, 4-octet assigned number.
    As2 { asn: u16, value: u32 },
    /// Type 1: IPv4 address, 2-octet assigned number.
    Ipv4 { addr: Ipv4Addr, value: u16 },
    /// Type 2: 4-octet AS number, 2-octet assigned number.
    As4 { asn: u32, value: u16 },
}

/// Why an `ADMIN:VALUE` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid {what}: {reason}")]
pub struct AdminValueError {
    pub text: String,
    pub what: &'static str,
    pub reason: String,
}

impl AdminValue {
    fn parse(text: &str, what: &'static str) -> Result<Self, AdminValueError> {
        let err = |reason: &str| AdminValueError {
            text: text.to_string(),
            what,
            reason: reason.to_string(),
        };
        let (admin, value) = text
            .rsplit_once(':')
            .ok_or_else(|| err("expected ASN:NN or A.B.C.D:NN"))?;
        if admin.is_empty() || value.is_empty() {
            return Err(err("expected ASN:NN or A.B.C.D:NN"));
        }
        if admin.contains('.') {
            let addr: Ipv4Addr = admin.parse().map_err(|_| {
                err("the part before ':' is neither an AS number nor an IPv4 address")
            })?;
            let value: u16 = value.parse().map_err(|_| {
                err("with an IPv4 administrator the assigned number must be 0..=65535")
            })?;
            return Ok(AdminValue::Ipv4 { addr, value });
        }
        let asn: u32 = admin
            .parse()
            .map_err(|_| err("the AS number must be 0..=4294967295"))?;
        if let Ok(asn16) = u16::try_from(asn) {
            let value: u32 = value
                .parse()
                .map_err(|_| err("with a 2-octet AS the assigned number must be 0..=4294967295"))?;
            Ok(AdminValue::As2 { asn: asn16, value })
        } else {
            let value: u16 = value
                .parse()
                .map_err(|_| err("with a 4-octet AS the assigned number must be 0..=65535"))?;
            Ok(AdminValue::As4 { asn, value })
        }
    }

    /// The 6 octets after the type field, as carried on the wire.
    pub fn value_bytes(&self) -> [u8; 6] {
        let mut b = [0u8; 6];
        match *self {
            AdminValue::As2 { asn, value } => {
                b[..2].copy_from_slice(&asn.to_be_bytes());
                b[2..].copy_from_slice(&value.to_be_bytes());
            }
            AdminValue::Ipv4 { addr, value } => {
                b[..4].copy_from_slice(&addr.octets());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
            AdminValue::As4 { asn, value } => {
                b[..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
        }
        b
    }

    /// The RFC 4364 RD type code (0, 1, 2) of this layout.
    pub fn type_code(&self) -> u16 {
        match self {
            AdminValue::As2 { .. } => 0,
            AdminValue::Ipv4 { .. } => 1,
            AdminValue::As4 { .. } => 2,
        }
    }

    /// The 8 octets of the wire form (type code, then [`AdminValue::value_bytes`]) as one
    /// big-endian word: 8 bytes where the enum takes 12, for tables that key on it. Orders
    /// as the enum does.
    pub fn to_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b[..2].copy_from_slice(&self.type_code().to_be_bytes());
        b[2..].copy_from_slice(&self.value_bytes());
        u64::from_be_bytes(b)
    }

    /// The value [`AdminValue::to_u64`] made; `None` for a type code other than 0, 1, 2.
    pub fn from_u64(word: u64) -> Option<Self> {
        let b = word.to_be_bytes();
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match u16_at(0) {
            0 => Some(AdminValue::As2 {
                asn: u16_at(2),
                value: u32_at(4),
            }),
            1 => Some(AdminValue::Ipv4 {
                addr: Ipv4Addr::from(u32_at(2)),
                value: u16_at(6),
            }),
            2 => Some(AdminValue::As4 {
                asn: u32_at(2),
                value: u16_at(6),
            }),
            _ => None,
        }
    }
}

impl fmt::Display for AdminValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminValue::As2 { asn, value } => write!(f, "{asn}:{value}"),
            AdminValue::Ipv4 { addr, value } => write!(f, "{addr}:{value}"),
            AdminValue::As4 { asn, value } => write!(f, "{asn}:{value}"),
        }
    }
}

/// A route distinguisher: makes a VRF's prefixes unique in the VPN table (RD:prefix).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RouteDistinguisher(pub AdminValue);

impl FromStr for RouteDistinguisher {
    type Err = AdminValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminValue::parse(s, "route distinguisher").map(RouteDistinguisher)
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A route target extended community: which VRFs export and import a route.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct RouteTarget(pub AdminValue);

impl FromStr for RouteTarget {
    type Err = AdminValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdminValue::parse(s, "route target").map(RouteTarget)
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RT:{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_layouts() {
        let rd: RouteDistinguisher = "65535:1".parse().unwrap();
        assert_eq!(
            rd.0,
            AdminValue::As2 {
                asn: 65535,
                value: 1
            }
        );
        assert_eq!(rd.0.type_code(), 0);
        let rd: RouteDistinguisher = "192.0.2.1:7".parse().unwrap();
        assert_eq!(
            rd.0,
            AdminValue::Ipv4 {
                addr: Ipv4Addr::new(192, 0, 2, 1),
                value: 7
            }
        );
        let rd: RouteDistinguisher = "4200000000:9".parse().unwrap();
        assert_eq!(
            rd.0,
            AdminValue::As4 {
                asn: 4_200_000_000,
                value: 9
            }
        );
        assert_eq!(rd.to_string(), "4200000000:9");
        let rt: RouteTarget = "65535:3".parse().unwrap();
        assert_eq!(rt.to_string(), "RT:65535:3");
    }

    #[test]
    fn packed_words_round_trip_and_order_as_the_values() {
        let values: Vec<AdminValue> = [
            "0:0",
            "65535:1",
            "1:4294967295",
            "192.0.2.1:7",
            "0.0.0.0:65535",
            "4200000000:9",
            "65536:0",
        ]
        .iter()
        .map(|t| t.parse::<RouteDistinguisher>().unwrap().0)
        .collect();
        for a in &values {
            assert_eq!(AdminValue::from_u64(a.to_u64()), Some(*a), "{a}");
            for b in &values {
                assert_eq!(a.to_u64().cmp(&b.to_u64()), a.cmp(b), "{a} {b}");
            }
        }
        assert_eq!(AdminValue::from_u64(3 << 48), None);
    }

    #[test]
    fn wire_bytes_follow_rfc4364() {
        let rd: RouteDistinguisher = "65535:1".parse().unwrap();
        assert_eq!(rd.0.value_bytes(), [0xff, 0xff, 0, 0, 0, 1]);
        let rd: RouteDistinguisher = "10.0.0.1:258".parse().unwrap();
        assert_eq!(rd.0.value_bytes(), [10, 0, 0, 1, 1, 2]);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "65535",
            ":1",
            "65535:",
            "abc:1",
            "1.2.3:4",
            "1.2.3.4:70000",
            "4200000000:70000",
            "65535:4294967296",
            "4294967296:1",
            "-1:1",
        ] {
            assert!(bad.parse::<RouteDistinguisher>().is_err(), "{bad} accepted");
        }
        let e = "1.2.3.4:70000".parse::<RouteTarget>().unwrap_err();
        assert!(e.to_string().contains("route target"), "{e}");
    }
}
