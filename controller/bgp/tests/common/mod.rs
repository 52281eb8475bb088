//! Byte builders for hand-made messages: tests spell out the wire format field by field
//! instead of trusting the encoder they are testing.
#![allow(dead_code)]

use bgp::{Context, Decoded, Message};

/// A whole message: marker, length, type, body.
pub fn msg(t: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(t);
    m.extend_from_slice(body);
    m
}

/// One path attribute; the extended-length flag (0x10) picks a 2-octet length.
pub fn attr(flags: u8, t: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, t];
    if flags & 0x10 != 0 {
        a.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        a.push(value.len() as u8);
    }
    a.extend_from_slice(value);
    a
}

/// An UPDATE message from its three fields.
pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = (withdrawn.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    msg(2, &b)
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

pub const ORIGIN_IGP: [u8; 4] = [0x40, 1, 1, 0];
/// AS_PATH 4-octet: sequence [65001].
pub const AS_PATH_65001: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
pub const NEXT_HOP_1: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 1];
pub const NLRI_10_8: [u8; 2] = [8, 10];

/// Decodes, requires no finding, re-encodes and requires identical bytes.
pub fn round_trip(bytes: &[u8], ctx: &Context) -> Message {
    let Decoded { message, findings } =
        Message::decode(bytes, ctx).unwrap_or_else(|e| panic!("decode failed: {e}"));
    assert!(findings.is_empty(), "unexpected findings {findings:?}");
    let again = message.to_bytes(ctx).expect("encode");
    assert_eq!(hex(&again), hex(bytes), "re-encoding differs");
    message
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
