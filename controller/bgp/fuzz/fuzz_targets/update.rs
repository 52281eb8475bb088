//! UPDATE decoder: any bytes as an UPDATE body under any negotiated context. Must never
//! panic; what decodes cleanly must survive encode → decode unchanged.
#![no_main]

use bgp::{Context, Family, FamilySet, Message, UpdateFrame};
use libfuzzer_sys::fuzz_target;

/// The first input byte picks the context, so the fuzzer explores 2- and 4-octet sessions
/// and partial family sets.
fn context(b: u8) -> Context {
    let families: FamilySet = Family::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| b & (4 << i) != 0)
        .map(|(_, f)| f)
        .collect();
    Context {
        four_octet_as: b & 1 != 0,
        extended_message: b & 2 != 0,
        families,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let ctx = context(first);
    let Ok(frame) = UpdateFrame::parse(body) else {
        return;
    };
    let Ok(outcome) = frame.decode(&ctx) else {
        return;
    };
    if !outcome.findings.is_empty() {
        return;
    }
    let msg = Message::Update(outcome.update);
    if let Ok(bytes) = msg.to_bytes(&ctx) {
        let again = Message::decode(&bytes, &ctx).expect("re-decoding our own encoding");
        assert!(again.findings.is_empty(), "{:?}", again.findings);
        assert_eq!(again.message, msg);
    }
});
