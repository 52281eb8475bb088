//! How the RIB → FIB → P4 path scales, and that a change costs what it touches, not the table.
//!
//! A shared-services design: `VRFS` customer VRFs each export their own RT and import the
//! services RT; one services VRF exports `SERVICES` routes to all of them and imports every
//! customer. Each customer has `PER_VRF` static routes. The run prints, side by side:
//!
//! * cold start: every route through the RIB (export, import, best path, FIB) and the data
//!   plane translation into P4 updates;
//! * one change: withdraw one services route (leaked into every customer VRF) and one
//!   customer route, through the same path — the delta;
//! * the same change done the naive way: a cold start of the changed state;
//! * the peak resident memory of the process;
//! * where the memory goes: live heap bytes and allocations of the RIB and of the data plane
//!   (counted by this bench's global allocator), and of an embedded switch holding the same
//!   entries (the in-process switch of tests and of the daemon's default target).
//!
//! Run: `cargo bench -p p4vrf --bench leak_scale` (VRFS, PER_VRF, SERVICES may be set in the
//! environment).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net};
use p4rt::Target;
use p4vrf::config::Mac;
use p4vrf::dataplane::{Dataplane, Topology};
use p4vrf::pipeline::Pipeline;
use rib::{Adjacency, Forward, Protocol, Rib, Route, RouteTarget, VrfPolicy};

#[path = "../../bench-support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{cpu_s, heap, stop_peak, track_peak_from};

/// What grew between two [`heap`] readings, per entry (FIB entry, or switch table entry).
fn per_entry(what: &str, before: (isize, isize), after: (isize, isize), entries: usize) {
    let n = entries.max(1) as f64;
    println!(
        "  {what:<16} {:>9.1} MiB heap  {:>7.0} bytes and {:>5.2} allocations per entry",
        (after.0 - before.0) as f64 / 1048576.0,
        (after.0 - before.0) as f64 / n,
        (after.1 - before.1) as f64 / n,
    );
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rt(s: &str) -> RouteTarget {
    s.parse().expect("valid RT")
}

fn prefix(a: u32) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), 24).expect("valid"))
}

struct Lab {
    vrfs: usize,
    per_vrf: usize,
    services: usize,
}

impl Lab {
    fn vrf(i: usize) -> String {
        format!("cust{i:04}")
    }

    fn topology(&self) -> Topology {
        let mut t = Topology {
            router_mac: Some(Mac([2, 0, 0, 0, 0, 1])),
            ..Default::default()
        };
        t.vrfs.insert("services".into());
        t.interfaces
            .insert("svc".into(), (1, None, "services".into()));
        t.neighbors
            .insert(self.neighbor("svc"), Mac([2, 0, 0, 0, 1, 1]));
        for i in 0..self.vrfs {
            let name = Self::vrf(i);
            let intf = format!("e{i}");
            t.vrfs.insert(name.clone());
            t.interfaces.insert(
                intf.clone(),
                (2 + (i % 500) as u16, Some(1 + (i / 500) as u16), name),
            );
            t.neighbors.insert(
                self.neighbor(&intf),
                Mac([2, 0, 0, 1, (i >> 8) as u8, i as u8]),
            );
        }
        t
    }

    fn neighbor(&self, intf: &str) -> (Arc<str>, IpAddr) {
        (Arc::from(intf), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)))
    }

    fn adj(&self, intf: &str) -> Adjacency {
        let (interface, address) = self.neighbor(intf);
        Adjacency::new(interface, address)
    }

    fn static_route(&self, intf: &str) -> Route {
        Route::local(
            Protocol::Static,
            Forward::Nexthops([self.adj(intf)].into()),
            0,
        )
    }

    /// Everything, as a cold start sees it.
    fn load(&self, rib: &mut Rib, skip: &BTreeSet<(String, IpNet)>) {
        let services = VrfPolicy {
            rd: Some("65000:1".parse().expect("rd")),
            import: (0..self.vrfs).map(|i| rt(&format!("65001:{i}"))).collect(),
            export: [rt("65000:1")].into(),
            redistribute: [(Protocol::Static, None)].into(),
            ..Default::default()
        };
        rib.upsert_vrf("services", services);
        for s in 0..self.services {
            let p = prefix(0x0a00_0000 + ((s as u32) << 8));
            if !skip.contains(&("services".to_string(), p)) {
                rib.upsert_route("services", p, self.static_route("svc"))
                    .expect("vrf exists");
            }
        }
        for i in 0..self.vrfs {
            let name = Self::vrf(i);
            let policy = VrfPolicy {
                rd: Some(format!("65001:{i}").parse().expect("rd")),
                import: [rt("65000:1")].into(),
                export: [rt(&format!("65001:{i}"))].into(),
                redistribute: [(Protocol::Static, None)].into(),
                ..Default::default()
            };
            rib.upsert_vrf(&name, policy);
            for r in 0..self.per_vrf {
                let p = prefix(0x6400_0000 + (((i * self.per_vrf + r) as u32) << 8));
                if !skip.contains(&(name.clone(), p)) {
                    rib.upsert_route(&name, p, self.static_route(&format!("e{i}")))
                        .expect("vrf exists");
                }
            }
        }
    }
}

/// A `/proc/self/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

struct ColdStart {
    rib: Rib,
    dp: Dataplane,
    updates: usize,
    /// Wall-clock and CPU seconds.
    wall: f64,
    cpu: f64,
    /// CPU seconds of the data plane's translation alone (part of `cpu`).
    dp_cpu: f64,
    /// Heap before, after the RIB's delta (RIB alone), after the data plane's translation.
    heap: [(isize, isize); 3],
}

fn cold_start(lab: &Lab, topology: &Topology, skip: &BTreeSet<(String, IpNet)>) -> ColdStart {
    let h0 = heap();
    let start = Instant::now();
    let cpu = cpu_s();
    let mut rib = Rib::new();
    lab.load(&mut rib, skip);
    let delta = rib.take_delta();
    let mut h1 = heap();
    let mut dp = Dataplane::new();
    let dp_start = cpu_s();
    let updates = dp.apply(topology, &delta).expect("translation");
    let n = updates.len();
    drop(updates);
    let dp_cpu = cpu_s() - dp_start;
    let updates = n;
    let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_s() - cpu);
    let delta_heap = {
        let before = heap();
        drop(delta);
        let after = heap();
        (before.0 - after.0, before.1 - after.1)
    };
    // The delta was alive at the first reading; count it out of the RIB's share.
    h1 = (h1.0 - delta_heap.0, h1.1 - delta_heap.1);
    ColdStart {
        rib,
        dp,
        updates,
        wall,
        cpu,
        dp_cpu,
        heap: [h0, h1, heap()],
    }
}

fn main() {
    let lab = Lab {
        vrfs: env("VRFS", 1000),
        per_vrf: env("PER_VRF", 50),
        services: env("SERVICES", 50),
    };
    let topology = lab.topology();
    println!(
        "leak_scale: {} customer VRFs x {} routes, {} services routes leaked into each",
        lab.vrfs, lab.per_vrf, lab.services
    );

    let ColdStart {
        mut rib,
        mut dp,
        updates,
        wall: cold,
        cpu: cold_cpu,
        dp_cpu,
        heap: h,
    } = cold_start(&lab, &topology, &BTreeSet::new());
    let fib_entries: usize = rib
        .vrf_names()
        .map(|v| rib.fib(v).map_or(0, |f| f.len()))
        .sum();
    println!("cold start:            {cold:>8.3} s  (CPU {cold_cpu:.3} s)  {updates:>9} P4 updates  {fib_entries:>9} FIB entries");
    println!(
        "  of which the data plane's translation (and dropping its updates): CPU {dp_cpu:.3} s"
    );
    // The update list of the cold start is dropped by now; what remains is the RIB and the
    // data plane's state.
    let rss = status_kib("VmRSS:");
    println!(
        "resident after cold start: {} MiB, {} bytes per FIB entry (RIB + VPN table + FIB + data plane state)",
        rss / 1024,
        rss * 1024 / fib_entries.max(1) as u64
    );
    per_entry("RIB", h[0], h[1], fib_entries);
    per_entry("data plane", h[1], h[2], fib_entries);

    // One services route (leaked into every customer VRF) and one customer route go away.
    let svc = prefix(0x0a00_0000);
    let cust = prefix(0x6400_0000);
    let start = Instant::now();
    let cpu = cpu_s();
    rib.withdraw_route("services", svc, Protocol::Static)
        .expect("vrf exists");
    rib.withdraw_route(&Lab::vrf(0), cust, Protocol::Static)
        .expect("vrf exists");
    let delta = rib.take_delta();
    let updates = dp.apply(&topology, &delta).expect("translation");
    let incremental = start.elapsed().as_secs_f64();
    let incremental_cpu = cpu_s() - cpu;
    println!(
        "delta (2 withdrawals): {incremental:>8.3} s  (CPU {incremental_cpu:.3} s)  {:>9} P4 updates  {:>9} FIB changes",
        updates.len(),
        delta.changes.len()
    );

    let skip: BTreeSet<(String, IpNet)> =
        [("services".to_string(), svc), (Lab::vrf(0), cust)].into();
    let again = cold_start(&lab, &topology, &skip);
    let recompute = again.wall;
    println!(
        "same change, recomputed from scratch: {recompute:>8.3} s  (CPU {:.3} s)",
        again.cpu
    );
    drop(again);
    println!("delta / recompute: {:.5}", incremental / recompute);
    println!(
        "peak RSS (two instances alive during the recompute): {} MiB",
        status_kib("VmHWM:") / 1024
    );
    embedded_switch(&dp, &rib);
}

/// The same entries in an embedded switch (the daemon's default target), written as the daemon
/// writes them (one write of every update): its heap per entry, and how much more the write
/// held at its peak. The built-in P4Info sizes the LPM tables for a switch (65,536 entries);
/// here they are made large enough for the bench.
fn embedded_switch(dp: &Dataplane, rib: &Rib) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let pipeline = Pipeline::builtin();
    let mut p4info = p4rt::P4InfoIndex::from_binary(&pipeline.p4info)
        .expect("built-in P4Info")
        .raw()
        .clone();
    for table in &mut p4info.tables {
        table.size = table.size.max(1 << 22);
    }
    let p4info = p4rt::P4InfoIndex::from_proto(p4info)
        .expect("still valid")
        .to_binary();
    let target = p4rt::EmbeddedTarget::new();
    runtime
        .block_on(target.set_pipeline(&p4info, &pipeline.device_config))
        .expect("pipeline");
    let updates = dp.reconcile(&[], p4vrf::router::fib_entries(rib));
    let before = heap();
    track_peak_from(before.0);
    let start = Instant::now();
    let cpu = cpu_s();
    runtime.block_on(target.write(&updates)).expect("write");
    let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_s() - cpu);
    let peak = stop_peak();
    let after = heap();
    let entries = target.switch().lock().map(|s| s.entry_count()).unwrap_or(0);
    println!(
        "embedded switch: {} updates written in {wall:.3} s (CPU {cpu:.3} s), {entries} table entries",
        updates.len()
    );
    per_entry("embedded switch", before, after, entries);
    println!(
        "  during the write:  {:>9.1} MiB heap above what the switch keeps, {:.0} bytes per update",
        (peak - after.0) as f64 / 1048576.0,
        (peak - after.0) as f64 / updates.len().max(1) as f64
    );
}
