//! Writes to the embedded switch: `ENTRIES` (default 1,000,000) IPv4 route entries of the
//! built-in pipeline's `ingress.ipv4_vrf_lpm` (exact `vrf_id` bit<16>, LPM `dst_addr`
//! bit<32>, `set_nexthop(nexthop_id: bit<16>)`) inserted, then modified (another next hop),
//! then deleted, in writes of 10,000 updates, two ways side by side on two switches:
//!
//! * `target`: `EmbeddedTarget::write` of the name-level updates, as the controller writes;
//! * `proto`: each update made a P4Runtime message (`Update::to_proto`) and written with
//!   `EmbeddedSwitch::write`, as the gRPC server path and the embedded target up to
//!   this bench's first version did.
//!
//! Prints, per way and phase, the time per entry (wall, and this thread's CPU time, as the
//! machine may be shared) and the live heap the switch holds per entry after the inserts,
//! counted by this bench's global allocator.
//!
//! Run: `cargo bench -p p4rt --bench embedded_write` (`ENTRIES=100000` for a quick one;
//! `ONLY=target` or `ONLY=proto` runs one way, e.g. under a profiler).

use std::time::Instant;

use p4rt::entity::{ActionCall, MatchValue, TableAction, TableEntry, Update};
use p4rt::{EmbeddedSwitch, EmbeddedTarget, Target};
use p4runtime_proto::p4::config::v1::P4Info;
use p4runtime_proto::p4::v1 as p4;
use prost::Message;

#[path = "../../bench-support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::cpu_s;

/// Live heap bytes now.
fn heap() -> isize {
    counting_alloc::heap().0
}

const BUILTIN_P4INFO: &[u8] = include_bytes!("../../../p4/build/p4vrf.p4info.binpb");
const TABLE: &str = "ingress.ipv4_vrf_lpm";
const WRITE: usize = 10_000;

/// The built-in P4Info with `ingress.ipv4_vrf_lpm` large enough for `entries`.
fn p4info(entries: usize) -> Vec<u8> {
    let mut info = P4Info::decode(BUILTIN_P4INFO).expect("built-in P4Info decodes");
    let size = ((entries + 65_536) as u64).next_power_of_two() as i64;
    let table = info
        .tables
        .iter_mut()
        .find(|t| t.preamble.as_ref().is_some_and(|p| p.name == TABLE))
        .expect("built-in P4Info has ingress.ipv4_vrf_lpm");
    table.size = table.size.max(size);
    info.encode_to_vec()
}

/// Route `i`: one of 4 VRFs, a distinct /24, next hop `i % 1000 + salt`.
fn route(i: usize, salt: u16) -> TableEntry {
    let vrf = (i % 4) as u16 + 1;
    let addr = ((i as u32 / 4) << 8).wrapping_add(0x0a00_0000);
    let nexthop = (i % 1000) as u16 + salt;
    TableEntry::new(
        TABLE,
        TableAction::Action(
            ActionCall::new("ingress.set_nexthop").with_param("nexthop_id", nexthop.to_be_bytes()),
        ),
    )
    .with_match("vrf_id", MatchValue::Exact(vrf.to_be_bytes().into()))
    .with_match(
        "dst_addr",
        MatchValue::Lpm {
            value: addr.to_be_bytes().into(),
            prefix_len: 24,
        },
    )
}

struct Phase {
    wall_ns: f64,
    cpu_ns: f64,
}

/// Times `f` over `n` entries.
fn timed(n: usize, f: impl FnOnce()) -> Phase {
    let (wall, cpu) = (Instant::now(), cpu_s());
    f();
    Phase {
        wall_ns: wall.elapsed().as_secs_f64() * 1e9 / n as f64,
        cpu_ns: (cpu_s() - cpu) * 1e9 / n as f64,
    }
}

fn main() {
    let entries: usize = std::env::var("ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let p4info = p4info(entries);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let inserts: Vec<Update> = (0..entries)
        .map(|i| Update::insert(route(i, 1).into()))
        .collect();
    let modifies: Vec<Update> = (0..entries)
        .map(|i| Update::modify(route(i, 2000).into()))
        .collect();
    let deletes: Vec<Update> = (0..entries)
        .map(|i| Update::delete(route(i, 1).into()))
        .collect();

    let only = std::env::var("ONLY").unwrap_or_default();
    let (run_target, run_proto) = (only != "proto", only != "target");

    // `target`: the name-level write the controller makes.
    let target = EmbeddedTarget::new();
    runtime
        .block_on(target.set_pipeline(&p4info, b""))
        .expect("pipeline");
    let write = |updates: &[Update]| {
        for chunk in updates.chunks(WRITE) {
            runtime.block_on(target.write(chunk)).expect("write");
        }
    };
    let before = heap();
    let mut target_phases = Vec::new();
    let mut target_heap = 0;
    if run_target {
        target_phases.push(timed(entries, || write(&inserts)));
        target_heap = heap() - before;
        let switch = target.switch();
        assert_eq!(switch.lock().expect("switch").entry_count(), entries);
        target_phases.push(timed(entries, || write(&modifies)));
        target_phases.push(timed(entries, || write(&deletes)));
        assert_eq!(switch.lock().expect("switch").entry_count(), 0);
    }
    drop(target);

    // `proto`: P4Runtime messages, as a gRPC client sends them.
    let index = p4rt::P4InfoIndex::from_binary(&p4info).expect("P4Info");
    let mut sw = EmbeddedSwitch::new();
    sw.set_pipeline(&p4::SetForwardingPipelineConfigRequest {
        action: p4::set_forwarding_pipeline_config_request::Action::VerifyAndCommit as i32,
        config: Some(p4::ForwardingPipelineConfig {
            p4info: Some(index.raw().clone()),
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("pipeline");
    let write_proto = |sw: &mut EmbeddedSwitch, updates: &[Update]| {
        for chunk in updates.chunks(WRITE) {
            let req = p4::WriteRequest {
                updates: chunk
                    .iter()
                    .map(|u| u.to_proto(&index).expect("encodes"))
                    .collect(),
                ..Default::default()
            };
            sw.write(&req).expect("write");
        }
    };
    let before = heap();
    let mut proto_phases = Vec::new();
    let mut proto_heap = 0;
    if run_proto {
        proto_phases.push(timed(entries, || write_proto(&mut sw, &inserts)));
        proto_heap = heap() - before;
        proto_phases.push(timed(entries, || write_proto(&mut sw, &modifies)));
        proto_phases.push(timed(entries, || write_proto(&mut sw, &deletes)));
    }
    assert_eq!(sw.entry_count(), 0);

    println!("embedded switch writes: {entries} entries of {TABLE}, {WRITE} updates per write");
    println!(
        "{:<8} {:>14} {:>14}   {:>14} {:>14}",
        "", "target wall", "target CPU", "proto wall", "proto CPU"
    );
    let none = Phase {
        wall_ns: f64::NAN,
        cpu_ns: f64::NAN,
    };
    for (i, name) in ["insert", "modify", "delete"].into_iter().enumerate() {
        let t = target_phases.get(i).unwrap_or(&none);
        let p = proto_phases.get(i).unwrap_or(&none);
        println!(
            "{name:<8} {:>11.0} ns {:>11.0} ns   {:>11.0} ns {:>11.0} ns   (per entry)",
            t.wall_ns, t.cpu_ns, p.wall_ns, p.cpu_ns
        );
    }
    println!(
        "heap held by the switch per entry after the inserts: target {:.1} B, proto {:.1} B",
        target_heap as f64 / entries as f64,
        proto_heap as f64 / entries as f64
    );
}
