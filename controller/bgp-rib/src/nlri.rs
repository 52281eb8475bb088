//! The key of a BGP route inside its address family.
//!
//! A route is identified by its prefix, and for the VPN families by RD + prefix. The MPLS
//! label is *not* part of the key: the same RD:prefix re-announced with another label is the
//! same route with a new path (RFC 8277 §2.3), so the label travels with the path
//! ([`crate::Announcement::label`]) next to the attributes.

use std::fmt;

use bgp::Family;
use ipnet::IpNet;
use vpn_types::RouteDistinguisher;

/// A route key: a unicast prefix or a VPN (RD, prefix) pair.
///
/// Prefixes are kept with their host bits cleared ([`Nlri::unicast`], [`Nlri::vpn`]), so two
/// encodings of the same route that differ only in trailing bits (which RFC 4271 §4.3 says
/// are irrelevant) are the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Nlri {
    Unicast(IpNet),
    Vpn {
        rd: RouteDistinguisher,
        prefix: IpNet,
    },
}

impl Nlri {
    /// A unicast route key (host bits cleared).
    pub fn unicast(prefix: IpNet) -> Self {
        Nlri::Unicast(prefix.trunc())
    }

    /// A VPN route key (host bits cleared).
    pub fn vpn(rd: RouteDistinguisher, prefix: IpNet) -> Self {
        Nlri::Vpn {
            rd,
            prefix: prefix.trunc(),
        }
    }

    /// The IP prefix, without the RD.
    pub fn prefix(&self) -> IpNet {
        match *self {
            Nlri::Unicast(p) | Nlri::Vpn { prefix: p, .. } => p,
        }
    }

    /// The RD of a VPN route.
    pub fn rd(&self) -> Option<RouteDistinguisher> {
        match *self {
            Nlri::Unicast(_) => None,
            Nlri::Vpn { rd, .. } => Some(rd),
        }
    }

    /// The address family this key belongs to (IPv4/IPv6 unicast, VPNv4/VPNv6).
    pub fn family(&self) -> Family {
        match self {
            Nlri::Unicast(IpNet::V4(_)) => Family::Ipv4Unicast,
            Nlri::Unicast(IpNet::V6(_)) => Family::Ipv6Unicast,
            Nlri::Vpn {
                prefix: IpNet::V4(_),
                ..
            } => Family::Vpnv4,
            Nlri::Vpn {
                prefix: IpNet::V6(_),
                ..
            } => Family::Vpnv6,
        }
    }
}

impl fmt::Display for Nlri {
    /// `10.0.0.0/8`, or `RD:prefix` (`65000:1:10.0.0.0/8`) as `show bgp vpnv4` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nlri::Unicast(p) => write!(f, "{p}"),
            Nlri::Vpn { rd, prefix } => write!(f, "{rd}:{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_follows_key_kind_and_address() {
        let rd: RouteDistinguisher = "65000:1".parse().unwrap();
        let cases = [
            (
                Nlri::unicast("10.0.0.0/8".parse().unwrap()),
                Family::Ipv4Unicast,
            ),
            (
                Nlri::unicast("2001:db8::/32".parse().unwrap()),
                Family::Ipv6Unicast,
            ),
            (Nlri::vpn(rd, "10.0.0.0/8".parse().unwrap()), Family::Vpnv4),
            (
                Nlri::vpn(rd, "2001:db8::/32".parse().unwrap()),
                Family::Vpnv6,
            ),
        ];
        for (n, fam) in cases {
            assert_eq!(n.family(), fam, "{n}");
        }
    }

    #[test]
    fn host_bits_are_cleared_and_display_is_rd_colon_prefix() {
        let rd: RouteDistinguisher = "65000:1".parse().unwrap();
        let n = Nlri::vpn(rd, "10.1.3.0/23".parse().unwrap());
        assert_eq!(n.to_string(), "65000:1:10.1.2.0/23");
        assert_eq!(n.rd(), Some(rd));
        assert_eq!(
            Nlri::unicast("10.1.3.0/23".parse().unwrap()),
            Nlri::unicast("10.1.2.0/23".parse().unwrap())
        );
    }
}
