//! OPEN capabilities (RFC 5492) and the ones the router uses.

use super::consts::cap;
use super::error::DecodeError;
use super::nlri::AfiSafi;
use super::wire::Reader;

/// One capability of an OPEN message's capabilities parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Multiprotocol extensions for one AFI/SAFI (RFC 4760 §8). The reserved octet between
    /// AFI and SAFI is kept so odd senders round-trip exactly.
    Multiprotocol { family: AfiSafi, reserved: u8 },
    /// Route refresh (RFC 2918).
    RouteRefresh,
    /// Enhanced route refresh (RFC 7313).
    EnhancedRouteRefresh,
    /// Support for 4-octet AS numbers, with the speaker's AS (RFC 6793).
    FourOctetAs(u32),
    /// Messages up to 65535 octets (RFC 8654).
    ExtendedMessage,
    /// Graceful restart (RFC 4724).
    GracefulRestart(GracefulRestart),
    /// Anything else (including codes we know but whose value was malformed), verbatim.
    Unknown { code: u8, value: Vec<u8> },
}

/// The graceful restart capability value (RFC 4724 §3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GracefulRestart {
    /// The 4 "Restart Flags" bits (R = 0x8, N = 0x4 from RFC 8538).
    pub flags: u8,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestart {
    /// Restart State bit: the speaker has restarted.
    pub const RESTART_STATE: u8 = 0x8;
    /// Notification bit (RFC 8538).
    pub const NOTIFICATION: u8 = 0x4;
}

/// One AFI/SAFI of the graceful restart capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub family: AfiSafi,
    /// Bit 0x80: forwarding state was preserved.
    pub flags: u8,
}

impl GracefulRestartFamily {
    pub const FORWARDING_STATE: u8 = 0x80;
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol { .. } => cap::MULTIPROTOCOL,
            Capability::RouteRefresh => cap::ROUTE_REFRESH,
            Capability::EnhancedRouteRefresh => cap::ENHANCED_ROUTE_REFRESH,
            Capability::FourOctetAs(_) => cap::FOUR_OCTET_AS,
            Capability::ExtendedMessage => cap::EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => cap::GRACEFUL_RESTART,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Decodes one capability from its code and value.
    ///
    /// A known code whose value has the wrong length stays [`Capability::Unknown`] instead of
    /// failing the OPEN: RFC 5492 lets a speaker ignore what it does not understand, and the
    /// session layer then simply does not see the capability as negotiated.
    fn from_parts(code: u8, value: &[u8]) -> Capability {
        let mut r = Reader::new(value);
        let known = match (code, value.len()) {
            (cap::MULTIPROTOCOL, 4) => (|| {
                let afi = r.u16()?;
                let reserved = r.u8()?;
                let safi = r.u8()?;
                Some(Capability::Multiprotocol {
                    family: AfiSafi::new(afi, safi),
                    reserved,
                })
            })(),
            (cap::ROUTE_REFRESH, 0) => Some(Capability::RouteRefresh),
            (cap::ENHANCED_ROUTE_REFRESH, 0) => Some(Capability::EnhancedRouteRefresh),
            (cap::EXTENDED_MESSAGE, 0) => Some(Capability::ExtendedMessage),
            (cap::FOUR_OCTET_AS, 4) => r.u32().map(Capability::FourOctetAs),
            (cap::GRACEFUL_RESTART, n) if n >= 2 && (n - 2) % 4 == 0 => (|| {
                let word = r.u16()?;
                let mut families = Vec::with_capacity((n - 2) / 4);
                while !r.is_empty() {
                    let afi = r.u16()?;
                    let safi = r.u8()?;
                    let flags = r.u8()?;
                    families.push(GracefulRestartFamily {
                        family: AfiSafi::new(afi, safi),
                        flags,
                    });
                }
                Some(Capability::GracefulRestart(GracefulRestart {
                    flags: (word >> 12) as u8,
                    restart_time: word & 0x0FFF,
                    families,
                }))
            })(),
            _ => None,
        };
        known.unwrap_or_else(|| Capability::Unknown {
            code,
            value: value.to_vec(),
        })
    }

    /// Decodes a capabilities optional parameter value: a sequence of code/length/value.
    pub(crate) fn decode_all(value: &[u8]) -> Result<Vec<Capability>, DecodeError> {
        let mut r = Reader::new(value);
        let mut caps = Vec::new();
        while !r.is_empty() {
            let (code, len) = r
                .u8()
                .zip(r.u8())
                .ok_or(DecodeError::MalformedOpen("truncated capability header"))?;
            let v = r.take(usize::from(len)).ok_or(DecodeError::MalformedOpen(
                "capability value overruns parameter",
            ))?;
            caps.push(Capability::from_parts(code, v));
        }
        Ok(caps)
    }

    /// Appends code, length and value.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.code());
        let len_at = out.len();
        out.push(0);
        match self {
            Capability::Multiprotocol { family, reserved } => {
                out.extend_from_slice(&family.afi.to_be_bytes());
                out.push(*reserved);
                out.push(family.safi);
            }
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Capability::GracefulRestart(gr) => {
                let word = u16::from(gr.flags & 0xF) << 12 | (gr.restart_time & 0x0FFF);
                out.extend_from_slice(&word.to_be_bytes());
                for f in &gr.families {
                    out.extend_from_slice(&f.family.afi.to_be_bytes());
                    out.push(f.family.safi);
                    out.push(f.flags);
                }
            }
            Capability::Unknown { value, .. } => out.extend_from_slice(value),
        }
        let len = out.len() - len_at - 1;
        if let Some(slot) = out.get_mut(len_at) {
            // Callers bound the value size (see `Open::encode`), so this never truncates for
            // anything the decoder produced.
            *slot = u8::try_from(len).unwrap_or(u8::MAX);
        }
    }

    /// Encoded size, to check limits before writing.
    pub(crate) fn encoded_len(&self) -> usize {
        2 + match self {
            Capability::Multiprotocol { .. } | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => 0,
            Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Capability::Unknown { value, .. } => value.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: Capability) {
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out.len(), c.encoded_len());
        let back = Capability::decode_all(&out).unwrap();
        assert_eq!(back, vec![c]);
    }

    #[test]
    fn every_capability_round_trips() {
        round_trip(Capability::Multiprotocol {
            family: AfiSafi::new(2, 128),
            reserved: 0,
        });
        round_trip(Capability::RouteRefresh);
        round_trip(Capability::EnhancedRouteRefresh);
        round_trip(Capability::FourOctetAs(4_200_000_000));
        round_trip(Capability::ExtendedMessage);
        round_trip(Capability::GracefulRestart(GracefulRestart {
            flags: GracefulRestart::RESTART_STATE | GracefulRestart::NOTIFICATION,
            restart_time: 120,
            families: vec![
                GracefulRestartFamily {
                    family: AfiSafi::new(1, 1),
                    flags: GracefulRestartFamily::FORWARDING_STATE,
                },
                GracefulRestartFamily {
                    family: AfiSafi::new(1, 128),
                    flags: 0,
                },
            ],
        }));
        round_trip(Capability::Unknown {
            code: 73,
            value: b"\x05host1\x00".to_vec(),
        });
    }

    #[test]
    fn known_code_with_bad_length_is_kept_raw() {
        let caps = Capability::decode_all(&[65, 2, 0, 1]).unwrap();
        assert_eq!(
            caps,
            vec![Capability::Unknown {
                code: 65,
                value: vec![0, 1]
            }]
        );
        assert!(Capability::decode_all(&[65, 4, 0]).is_err());
    }
}
