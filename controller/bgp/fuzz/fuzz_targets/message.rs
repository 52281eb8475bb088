//! Whole-message decoder: frames messages out of a byte stream and decodes each, the way a
//! session's receive loop does. Must never panic; clean decodes must re-encode to the same
//! bytes or at least decode back to the same message.
#![no_main]

use bgp::{frame, Context, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let ctx = if first & 1 == 0 {
        Context::all()
    } else {
        Context::default()
    };
    // Bounded: every frame consumes at least the 19-octet header.
    while let Ok(Some(f)) = frame(rest, &ctx) {
        rest = rest.get(f.len()..).unwrap_or(&[]);
        let Ok(d) = f.decode(&ctx) else { continue };
        if !d.findings.is_empty() {
            continue;
        }
        if let Ok(bytes) = d.message.to_bytes(&ctx) {
            let again = Message::decode(&bytes, &ctx).expect("re-decoding our own encoding");
            assert_eq!(again.message, d.message);
        }
    }
});
