//! Canonical binary strings (P4Runtime spec, "Bytestrings").
//!
//! P4Runtime carries every `bit<W>` value as big-endian bytes. The canonical
//! form is the *shortest* string that holds the value (at least one byte);
//! a receiver accepts longer strings as long as the value fits in `W` bits.
//! Switches answer reads in canonical form, so a controller that wants to
//! compare what it wrote with what it reads must write canonical strings too.
//!
//! Two forms appear in this crate:
//!
//! * **canonical** (`encode_*`): what goes on the wire;
//! * **full width** (`to_full_width`): exactly `ceil(W / 8)` bytes, which is
//!   what the name-level [`crate::entity`] types hold after a read, so that
//!   `vrf_id.to_be_bytes()` or an IPv4 address's octets compare equal to what
//!   the switch returns.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a value cannot be encoded for a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The value needs more bits than the field has.
    #[error("value {value} needs {needed} bits, field is bit<{bitwidth}>")]
    TooWide {
        /// The value, as hex.
        value: String,
        /// Bits the value needs.
        needed: u32,
        /// Bits the field has.
        bitwidth: u32,
    },
    /// P4Runtime rejects zero-length strings.
    #[error("empty byte string")]
    Empty,
    /// A field of width zero cannot hold anything.
    #[error("bit width must be at least 1")]
    ZeroWidth,
    /// LPM prefix longer than the field.
    #[error("prefix length {prefix_len} exceeds the field's {bitwidth} bits")]
    PrefixTooLong {
        /// Requested prefix length.
        prefix_len: u32,
        /// Field width.
        bitwidth: u32,
    },
    /// LPM value with bits set after the prefix.
    #[error("value {value}/{prefix_len} has bits set after the prefix")]
    HostBitsSet {
        /// The value, as hex.
        value: String,
        /// The prefix length.
        prefix_len: u32,
    },
    /// Ternary value with bits set outside its mask.
    #[error("value {value} has bits set outside mask {mask}")]
    ValueOutsideMask {
        /// The value, as hex.
        value: String,
        /// The mask, as hex.
        mask: String,
    },
    /// The value does not fit the integer type asked for.
    #[error("value {value} does not fit in {target_bits} bits")]
    Overflow {
        /// The value, as hex.
        value: String,
        /// Size of the integer type.
        target_bits: u32,
    },
    /// A fixed-size value (address) has the wrong length.
    #[error("expected {expected} bytes for {what}, got {got}")]
    WrongLength {
        /// What was being decoded.
        what: &'static str,
        /// Required byte count.
        expected: usize,
        /// Actual byte count.
        got: usize,
    },
}

/// Number of bytes a `bit<W>` value occupies at full width.
pub fn byte_len(bitwidth: u32) -> usize {
    bitwidth.div_ceil(8) as usize
}

/// Lower-case hex with a `0x` prefix, one pair per byte given.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Bits needed to represent the unsigned big-endian value (0 needs 1 bit,
/// as the spec defines).
pub fn bits_needed(bytes: &[u8]) -> u32 {
    match bytes.iter().position(|b| *b != 0) {
        None => 1,
        Some(i) => {
            let rest = (bytes.len() - i - 1) as u32;
            rest * 8 + (8 - bytes[i].leading_zeros())
        }
    }
}

/// Whether the unsigned big-endian value fits in `bitwidth` bits.
pub fn fits(bytes: &[u8], bitwidth: u32) -> bool {
    bits_needed(bytes) <= bitwidth
}

/// What [`encode_bytes`] checks (a non-empty value of at most `W` bits), without encoding.
pub fn check_width(bytes: &[u8], bitwidth: u32) -> Result<(), CodecError> {
    check_fits(bytes, bitwidth)
}

/// What [`prefix_mask`] checks (a prefix length of at most `W`), without building the mask.
pub fn check_prefix_len(prefix_len: u32, bitwidth: u32) -> Result<(), CodecError> {
    if bitwidth == 0 {
        return Err(CodecError::ZeroWidth);
    }
    if prefix_len > bitwidth {
        return Err(CodecError::PrefixTooLong {
            prefix_len,
            bitwidth,
        });
    }
    Ok(())
}

fn check_fits(bytes: &[u8], bitwidth: u32) -> Result<(), CodecError> {
    if bitwidth == 0 {
        return Err(CodecError::ZeroWidth);
    }
    if bytes.is_empty() {
        return Err(CodecError::Empty);
    }
    let needed = bits_needed(bytes);
    if needed > bitwidth {
        return Err(CodecError::TooWide {
            value: hex(bytes),
            needed,
            bitwidth,
        });
    }
    Ok(())
}

/// Strips leading zero bytes, keeping at least one byte. Does not check any
/// width; see [`encode_bytes`] for that.
pub fn canonical(bytes: &[u8]) -> Vec<u8> {
    match bytes.iter().position(|b| *b != 0) {
        Some(i) => bytes[i..].to_vec(),
        None => vec![0],
    }
}

/// Canonical encoding of a big-endian value (any padding) for a `bit<W>`
/// field; rejects empty strings and values that need more than `W` bits.
pub fn encode_bytes(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    check_fits(bytes, bitwidth)?;
    Ok(canonical(bytes))
}

/// Canonical encoding of a `u64` for a `bit<W>` field.
pub fn encode_u64(value: u64, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    encode_bytes(&value.to_be_bytes(), bitwidth)
}

/// Canonical encoding of a `u128` for a `bit<W>` field.
pub fn encode_u128(value: u128, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    encode_bytes(&value.to_be_bytes(), bitwidth)
}

/// The value at full width: exactly `ceil(W / 8)` bytes, zero-padded on the
/// left. Accepts any padding on input; rejects values wider than `W`.
pub fn to_full_width(bytes: &[u8], bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    check_fits(bytes, bitwidth)?;
    let n = byte_len(bitwidth);
    let c = canonical(bytes);
    let mut out = vec![0u8; n.saturating_sub(c.len())];
    // `c` fits in W bits, so it is at most n bytes long.
    out.extend_from_slice(&c[c.len().saturating_sub(n)..]);
    Ok(out)
}

/// Decodes a big-endian value (any padding) into a `u128`.
pub fn decode_u128(bytes: &[u8]) -> Result<u128, CodecError> {
    let c = canonical(bytes);
    if c.len() > 16 {
        return Err(CodecError::Overflow {
            value: hex(bytes),
            target_bits: 128,
        });
    }
    Ok(c.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b)))
}

/// Decodes a big-endian value (any padding) into a `u64`.
pub fn decode_u64(bytes: &[u8]) -> Result<u64, CodecError> {
    let v = decode_u128(bytes)?;
    u64::try_from(v).map_err(|_| CodecError::Overflow {
        value: hex(bytes),
        target_bits: 64,
    })
}

/// Canonical `bit<48>` encoding of a MAC address.
pub fn encode_mac(mac: [u8; 6]) -> Vec<u8> {
    canonical(&mac)
}

/// Canonical `bit<32>` encoding of an IPv4 address.
pub fn encode_ipv4(addr: Ipv4Addr) -> Vec<u8> {
    canonical(&addr.octets())
}

/// Canonical `bit<128>` encoding of an IPv6 address.
pub fn encode_ipv6(addr: Ipv6Addr) -> Vec<u8> {
    canonical(&addr.octets())
}

fn fixed<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u8; N], CodecError> {
    let full = to_full_width(bytes, (N * 8) as u32).map_err(|e| match e {
        CodecError::TooWide { .. } => CodecError::WrongLength {
            what,
            expected: N,
            got: bytes.len(),
        },
        other => other,
    })?;
    let mut out = [0u8; N];
    out.copy_from_slice(&full);
    Ok(out)
}

/// Decodes a `bit<48>` string (any padding) into a MAC address.
pub fn decode_mac(bytes: &[u8]) -> Result<[u8; 6], CodecError> {
    fixed::<6>(bytes, "a MAC address")
}

/// Decodes a `bit<32>` string (any padding) into an IPv4 address.
pub fn decode_ipv4(bytes: &[u8]) -> Result<Ipv4Addr, CodecError> {
    fixed::<4>(bytes, "an IPv4 address").map(Ipv4Addr::from)
}

/// Decodes a `bit<128>` string (any padding) into an IPv6 address.
pub fn decode_ipv6(bytes: &[u8]) -> Result<Ipv6Addr, CodecError> {
    fixed::<16>(bytes, "an IPv6 address").map(Ipv6Addr::from)
}

/// `aa:bb:cc:dd:ee:ff`, the way network engineers read MACs.
pub fn format_mac(mac: [u8; 6]) -> String {
    let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

/// Full-width prefix mask for an LPM field: the top `prefix_len` bits of the
/// `W`-bit value set.
pub fn prefix_mask(prefix_len: u32, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    check_prefix_len(prefix_len, bitwidth)?;
    let n = byte_len(bitwidth);
    // The W-bit value sits in the low W bits of n bytes.
    let pad = n as u32 * 8 - bitwidth;
    let mut mask = vec![0u8; n];
    for bit in pad..pad + prefix_len {
        mask[(bit / 8) as usize] |= 0x80 >> (bit % 8);
    }
    Ok(mask)
}

/// Whether an LPM value has bits set after its prefix.
pub fn has_host_bits(value: &[u8], prefix_len: u32, bitwidth: u32) -> Result<bool, CodecError> {
    let full = to_full_width(value, bitwidth)?;
    let mask = prefix_mask(prefix_len, bitwidth)?;
    Ok(full.iter().zip(&mask).any(|(v, m)| v & !m != 0))
}

/// Canonicalises an LPM match: checks the width and prefix length, zeroes the
/// host bits and returns the canonical value (the prefix length is unchanged).
pub fn encode_lpm(value: &[u8], prefix_len: u32, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    // What `canonical(mask_lpm_full(..))` gives, in one allocation (a route write encodes one
    // of these per entry).
    check_fits(value, bitwidth)?;
    check_prefix_len(prefix_len, bitwidth)?;
    let n = byte_len(bitwidth);
    // The value fits in W bits, so its significant bytes are among its last n.
    let significant = &value[value.len().saturating_sub(n)..];
    let mut out = vec![0u8; n];
    out[n - significant.len()..].copy_from_slice(significant);
    // Bits kept, from the left of the n bytes: the padding above W (zero, as the value fits)
    // and the prefix.
    let keep = n as u32 * 8 - bitwidth + prefix_len;
    for (i, b) in out.iter_mut().enumerate() {
        let first_bit = i as u32 * 8;
        if first_bit >= keep {
            *b = 0;
        } else if keep - first_bit < 8 {
            *b &= 0xffu8 << (8 - (keep - first_bit));
        }
    }
    let leading = out.iter().position(|b| *b != 0).unwrap_or(n - 1);
    out.drain(..leading);
    Ok(out)
}

/// Like [`encode_lpm`], at full width.
pub fn mask_lpm_full(value: &[u8], prefix_len: u32, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    let full = to_full_width(value, bitwidth)?;
    let mask = prefix_mask(prefix_len, bitwidth)?;
    Ok(full.iter().zip(&mask).map(|(v, m)| v & m).collect())
}

/// Strict LPM check, as a switch does it: width, prefix length and no host
/// bits. Returns the canonical value.
pub fn check_lpm(value: &[u8], prefix_len: u32, bitwidth: u32) -> Result<Vec<u8>, CodecError> {
    if has_host_bits(value, prefix_len, bitwidth)? {
        return Err(CodecError::HostBitsSet {
            value: hex(value),
            prefix_len,
        });
    }
    encode_bytes(value, bitwidth)
}

/// Canonicalises a ternary match at full width: value and mask checked
/// against the width, value bits outside the mask cleared.
pub fn mask_ternary_full(
    value: &[u8],
    mask: &[u8],
    bitwidth: u32,
) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
    let v = to_full_width(value, bitwidth)?;
    let m = to_full_width(mask, bitwidth)?;
    let v = v.iter().zip(&m).map(|(a, b)| a & b).collect();
    Ok((v, m))
}

/// Strict ternary check, as a switch does it: widths, and no value bits
/// outside the mask. Returns the canonical (value, mask).
pub fn check_ternary(
    value: &[u8],
    mask: &[u8],
    bitwidth: u32,
) -> Result<(Vec<u8>, Vec<u8>), CodecError> {
    let v = to_full_width(value, bitwidth)?;
    let m = to_full_width(mask, bitwidth)?;
    if v.iter().zip(&m).any(|(a, b)| a & !b != 0) {
        return Err(CodecError::ValueOutsideMask {
            value: hex(value),
            mask: hex(mask),
        });
    }
    Ok((canonical(&v), canonical(&m)))
}

/// Whether every byte is zero (a zero mask, a zero value).
pub fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// Whether the value has all `W` bits set (a full ternary mask).
pub fn is_all_ones(bytes: &[u8], bitwidth: u32) -> bool {
    match (
        to_full_width(bytes, bitwidth),
        prefix_mask(bitwidth, bitwidth),
    ) {
        (Ok(v), Ok(m)) => v == m,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_lpm_is_the_canonical_masked_value() {
        let values: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0xff],
            vec![0, 0, 0x0a, 0x01, 0x02, 0x03],
            vec![0x0a, 0x01, 0x02, 0x03],
            vec![0xff; 4],
            vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            vec![0x7f; 16],
            vec![1, 0xff, 0xff],
        ];
        let mut compared = 0;
        for w in 1..=130u32 {
            for v in &values {
                for len in 0..=w + 1 {
                    let old = mask_lpm_full(v, len, w).map(|m| canonical(&m));
                    assert_eq!(encode_lpm(v, len, w), old, "{v:?} /{len} bit<{w}>");
                    compared += 1;
                }
            }
        }
        assert!(compared > 70_000);
    }

    #[test]
    fn shortest_string_at_least_one_byte() {
        assert_eq!(encode_u64(0, 16).unwrap(), vec![0]);
        assert_eq!(encode_u64(1, 16).unwrap(), vec![1]);
        assert_eq!(encode_u64(0x63, 8).unwrap(), vec![0x63]);
        assert_eq!(encode_u64(0x3064, 16).unwrap(), vec![0x30, 0x64]);
        assert_eq!(encode_u128(1 << 100, 128).unwrap().len(), 13);
        // Padded input becomes canonical.
        assert_eq!(encode_bytes(&[0, 0, 0x63], 12).unwrap(), vec![0x63]);
    }

    #[test]
    fn widths_are_enforced() {
        assert_eq!(encode_u64(0x1ff, 9).unwrap(), vec![0x01, 0xff]);
        assert!(matches!(
            encode_u64(0x200, 9),
            Err(CodecError::TooWide {
                needed: 10,
                bitwidth: 9,
                ..
            })
        ));
        assert!(encode_u64(0xfff, 12).is_ok());
        assert!(encode_u64(0x1000, 12).is_err());
        assert_eq!(encode_bytes(&[], 8), Err(CodecError::Empty));
        assert_eq!(encode_u64(0, 0), Err(CodecError::ZeroWidth));
        // bit<1>
        assert_eq!(encode_u64(1, 1).unwrap(), vec![1]);
        assert!(encode_u64(2, 1).is_err());
    }

    #[test]
    fn bits_needed_counts_from_the_first_set_bit() {
        assert_eq!(bits_needed(&[0]), 1);
        assert_eq!(bits_needed(&[0, 0, 1]), 1);
        assert_eq!(bits_needed(&[0x80]), 8);
        assert_eq!(bits_needed(&[0x01, 0x00]), 9);
        assert!(fits(&[0x0f, 0xff], 12));
        assert!(!fits(&[0x1f, 0xff], 12));
    }

    #[test]
    fn full_width_pads_and_strips() {
        assert_eq!(to_full_width(&[1], 16).unwrap(), vec![0, 1]);
        assert_eq!(to_full_width(&[0, 0, 0, 1], 16).unwrap(), vec![0, 1]);
        assert_eq!(to_full_width(&[0x01, 0xff], 9).unwrap(), vec![0x01, 0xff]);
        assert!(to_full_width(&[0x02, 0x00], 9).is_err());
    }

    #[test]
    fn round_trip_to_integers() {
        assert_eq!(
            decode_u64(&encode_u64(0xdead_beef, 32).unwrap()).unwrap(),
            0xdead_beef
        );
        assert_eq!(decode_u128(&[0, 0, 1, 0]).unwrap(), 256);
        assert_eq!(decode_u128(&[0xff; 16]).unwrap(), u128::MAX);
        assert!(decode_u128(&[1; 17]).is_err());
        assert!(decode_u64(&[1; 9]).is_err());
        assert_eq!(decode_u64(&[0; 20]).unwrap(), 0);
    }

    #[test]
    fn addresses() {
        let mac = [0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        assert_eq!(encode_mac(mac), vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!(decode_mac(&encode_mac(mac)).unwrap(), mac);
        assert_eq!(format_mac(mac), "00:aa:bb:cc:dd:ee");
        let v4 = Ipv4Addr::new(10, 1, 1, 0);
        assert_eq!(encode_ipv4(v4), vec![10, 1, 1, 0]);
        assert_eq!(encode_ipv4(Ipv4Addr::new(0, 0, 0, 5)), vec![5]);
        assert_eq!(decode_ipv4(&[5]).unwrap(), Ipv4Addr::new(0, 0, 0, 5));
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        assert_eq!(decode_ipv6(&encode_ipv6(v6)).unwrap(), v6);
        assert_eq!(encode_ipv6(Ipv6Addr::UNSPECIFIED), vec![0]);
        assert!(matches!(
            decode_ipv4(&[1, 2, 3, 4, 5]),
            Err(CodecError::WrongLength {
                expected: 4,
                got: 5,
                ..
            })
        ));
    }

    #[test]
    fn lpm_masks_host_bits() {
        // 10.1.1.77/24 -> 10.1.1.0/24
        assert_eq!(
            encode_lpm(&[10, 1, 1, 77], 24, 32).unwrap(),
            vec![10, 1, 1, 0]
        );
        // /0 masks everything away.
        assert_eq!(encode_lpm(&[10, 1, 1, 77], 0, 32).unwrap(), vec![0]);
        assert!(matches!(
            encode_lpm(&[10, 0, 0, 0], 33, 32),
            Err(CodecError::PrefixTooLong { .. })
        ));
        assert!(has_host_bits(&[10, 1, 1, 77], 24, 32).unwrap());
        assert!(!has_host_bits(&[10, 1, 1, 0], 24, 32).unwrap());
        assert!(check_lpm(&[10, 1, 1, 77], 24, 32).is_err());
        assert_eq!(
            check_lpm(&[0, 10, 1, 1, 0], 24, 32).unwrap(),
            vec![10, 1, 1, 0]
        );
    }

    #[test]
    fn lpm_on_odd_widths() {
        // bit<12>, /4: only the top 4 of 12 bits may be set: 0xf00 ok, 0xf80 not.
        assert_eq!(prefix_mask(4, 12).unwrap(), vec![0x0f, 0x00]);
        assert!(!has_host_bits(&[0x0f, 0x00], 4, 12).unwrap());
        assert!(has_host_bits(&[0x0f, 0x80], 4, 12).unwrap());
        assert_eq!(encode_lpm(&[0x0f, 0xff], 4, 12).unwrap(), vec![0x0f, 0x00]);
        assert_eq!(prefix_mask(12, 12).unwrap(), vec![0x0f, 0xff]);
    }

    #[test]
    fn ternary() {
        assert_eq!(
            mask_ternary_full(&[0x12, 0x34], &[0xff, 0x00], 16).unwrap(),
            (vec![0x12, 0x00], vec![0xff, 0x00])
        );
        assert!(check_ternary(&[0x12, 0x34], &[0xff, 0x00], 16).is_err());
        assert_eq!(
            check_ternary(&[0x00, 0x34], &[0x00, 0xff], 16).unwrap(),
            (vec![0x34], vec![0xff])
        );
        assert!(is_all_ones(&[0x0f, 0xff], 12));
        assert!(!is_all_ones(&[0xff], 12));
    }

    #[test]
    fn hex_is_per_byte() {
        assert_eq!(hex(&[0, 1]), "0x0001");
        assert_eq!(hex(&[]), "0x");
    }
}
