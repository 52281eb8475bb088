//! Bytes per route in the RIB for a full table from one CE neighbor: `ROUTES` (default
//! 1,000,000) /24s learned in one VRF, sharing 1,000 attribute sets, through one next hop.
//! Prints the time to take them in (upserts and one delta; wall and this thread's CPU time, as
//! the machine may be shared) and the live heap they hold, per route, counted by this bench's
//! global allocator, and the process's resident memory. Then two more rounds, timed the same
//! way: every route announced again with other attributes (a MED change: no FIB change, every
//! BGP best path changes), and every route withdrawn. Each round's upserts and its delta
//! ([`Rib::take_delta`]) are timed apart, as the delta is where the deferred work happens.
//!
//! Run: `cargo bench -p rib --bench ce_routes`.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net};
use policy::{Attrs, NextHop, SourceProtocol};
use rib::{Forward, PeerRef, Protocol, Rib, Route, VrfPolicy};

#[path = "../../bench-support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{cpu_s, heap};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let routes: usize = std::env::var("ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut rib = Rib::new();
    rib.upsert_vrf("CUST", VrfPolicy::default());
    let subnet: IpNet = "192.0.2.0/24".parse().expect("valid");
    let next_hop: std::net::IpAddr = "192.0.2.2".parse().expect("valid");
    rib.upsert_route(
        "CUST",
        subnet,
        Route::local(
            Protocol::Connected,
            Forward::Attached {
                interface: Arc::from("e1"),
            },
            0,
        ),
    )
    .expect("vrf exists");
    rib.add_neighbor("e1", next_hop);
    let peer = PeerRef {
        addr: next_hop,
        router_id: Ipv4Addr::new(192, 0, 2, 2),
        ebgp: true,
        rr_client: false,
    };
    let attrs: Vec<Arc<Attrs>> = (0..1000u32)
        .map(|med| {
            let mut a = Attrs::new(SourceProtocol::Bgp);
            a.med = Some(med);
            a.next_hop = NextHop::Addr(next_hop);
            Arc::new(a)
        })
        .collect();
    rib.take_delta();
    let prefix = |i: usize| {
        IpNet::V4(
            Ipv4Net::new(Ipv4Addr::from(0x0100_0000u32 + ((i as u32) << 8)), 24).expect("valid"),
        )
    };
    let (rss0, h0) = (rss_kib(), heap());
    let ingest = Round::start();
    for i in 0..routes {
        rib.upsert_peer_route("CUST", prefix(i), peer, attrs[i % attrs.len()].clone())
            .expect("vrf exists");
    }
    let ingest = ingest.delta(&mut rib);
    let (rss1, h1) = (rss_kib(), heap());
    ingest.print(&format!("{routes} routes from one CE neighbor"), routes);
    println!(
        "  RIB heap {:.1} MiB: {} bytes and {:.2} allocations per route; resident +{} MiB ({} bytes per route)",
        (h1.0 - h0.0) as f64 / 1048576.0,
        (h1.0 - h0.0) / routes as isize,
        (h1.1 - h0.1) as f64 / routes as f64,
        (rss1 - rss0) / 1024,
        (rss1 - rss0) * 1024 / routes as u64,
    );
    let reannounce = Round::start();
    for i in 0..routes {
        rib.upsert_peer_route(
            "CUST",
            prefix(i),
            peer,
            attrs[(i + 1) % attrs.len()].clone(),
        )
        .expect("vrf exists");
    }
    reannounce
        .delta(&mut rib)
        .print("re-announced with a new MED", routes);
    let withdraw = Round::start();
    for i in 0..routes {
        rib.withdraw_peer_route("CUST", prefix(i), peer.addr)
            .expect("vrf exists");
    }
    withdraw.delta(&mut rib).print("withdrawn", routes);
    let h2 = heap();
    println!(
        "  RIB heap after withdrawing all: {} bytes more than before the first route",
        h2.0 - h0.0
    );
}

/// One round's timings: its upserts (or withdrawals), then its delta.
struct Round {
    wall: Instant,
    cpu: f64,
    upserts: (f64, f64),
    delta: (f64, f64),
    changes: usize,
    bgp_changed: usize,
}

impl Round {
    fn start() -> Self {
        Round {
            wall: Instant::now(),
            cpu: cpu_s(),
            upserts: (0.0, 0.0),
            delta: (0.0, 0.0),
            changes: 0,
            bgp_changed: 0,
        }
    }

    /// Ends the upserts and takes the delta, timing both.
    fn delta(mut self, rib: &mut Rib) -> Self {
        let (wall, cpu) = (Instant::now(), cpu_s());
        self.upserts = ((wall - self.wall).as_secs_f64(), cpu - self.cpu);
        let delta = rib.take_delta();
        self.changes = delta.changes.len();
        self.bgp_changed = delta.bgp_changed.len();
        drop(delta);
        self.delta = (wall.elapsed().as_secs_f64(), cpu_s() - cpu);
        self
    }

    fn print(&self, what: &str, routes: usize) {
        let (wall, cpu) = (self.upserts.0 + self.delta.0, self.upserts.1 + self.delta.1);
        println!(
            "ce_routes: {what}: {} FIB changes, {} BGP changes in {wall:.3} s (CPU {cpu:.3} s, {:.0} ns per route)",
            self.changes,
            self.bgp_changed,
            cpu * 1e9 / routes as f64,
        );
        println!(
            "  updates {:.3} s (CPU {:.3} s), take_delta {:.3} s (CPU {:.3} s)",
            self.upserts.0, self.upserts.1, self.delta.0, self.delta.1,
        );
    }
}
