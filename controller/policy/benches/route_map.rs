//! Route-map throughput and full re-evaluation time (a `harness = false` bench that prints
//! its figures; `docs/benchmarks.md` records them).
//!
//!     cargo bench -p policy --bench route_map
//!
//! The policy: a 100-sequence route-map where every sequence matches a prefix list, a
//! standard community list and an AS-path access list (IOS regex), built from TOML through
//! the same `policy::parse` the configuration uses. The routes: 1,000,000 IPv4 /24s sharing
//! 4,096 interned attribute sets (as a BGP speaker would hold them).

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use policy::{
    AsPath, Attrs, Communities, Community, Policy, Route, RouteMap, RouteMapStats, SourceProtocol,
};
use rayon::prelude::*;

const SEQUENCES: usize = 100;
const ROUTES: usize = 1_000_000;
const ATTR_SETS: usize = 4096;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Sequence i: `match prefix-list P<i>` (10.i.0.0/16 le 24 and two more entries),
/// `match community C<i>` (65000:i), `match as-path A<i>` (`_6450<i>_` style);
/// permit with `set local-preference`, `set community … additive`; every tenth sequence deny.
/// `worst`: every prefix list and community list admits every route and the AS-path regex
/// never matches, so every route runs all 100 sequences' three clauses, regex included.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Typical,
    /// Every route runs every sequence; the AS-path patterns have the common literal shape.
    Worst,
    /// The same with patterns that need the general regex engine (`_9999[0-9]_`).
    WorstRegex,
}

fn policy_toml(version: u32, mode: Mode) -> String {
    let worst = mode != Mode::Typical;
    let mut t = String::new();
    for i in 0..SEQUENCES {
        let net = if worst {
            "10.0.0.0/8".to_string()
        } else {
            format!("10.{i}.0.0/16")
        };
        writeln!(
            t,
            "[[prefix-list]]\nname = \"P{i}\"\nentry = [\n  {{ seq = 5, action = \"deny\", prefix = \"192.0.2.0/24\" }},\n  {{ seq = 10, action = \"permit\", prefix = \"{net}\", le = 24 }},\n  {{ seq = 15, action = \"permit\", prefix = \"172.{}.0.0/16\", le = 24 }},\n]",
            16 + i % 16
        )
        .unwrap();
        let comm = if worst {
            "internet".to_string()
        } else {
            format!("65000:{i}")
        };
        writeln!(
            t,
            "[[community-list]]\nname = \"C{i}\"\nentry = [{{ action = \"permit\", communities = [\"{comm}\"] }}]"
        )
        .unwrap();
        let re = if mode == Mode::Worst {
            "_99999_".to_string()
        } else if mode == Mode::WorstRegex {
            "_9999[0-9]_".to_string()
        } else {
            format!("_645{:02}_", i % 100)
        };
        writeln!(
            t,
            "[[as-path-list]]\nname = \"A{i}\"\nentry = [{{ action = \"permit\", regex = \"{re}\" }}]"
        )
        .unwrap();
    }
    writeln!(t, "[[route-map]]\nname = \"BIG\"").unwrap();
    for i in 0..SEQUENCES {
        let action = if i % 10 == 9 { "deny" } else { "permit" };
        writeln!(
            t,
            "[[route-map.entry]]\nseq = {}\naction = \"{action}\"\nmatch.prefix-list = [\"P{i}\"]\nmatch.community = [\"C{i}\"]\nmatch.as-path = [\"A{i}\"]",
            (i + 1) * 10
        )
        .unwrap();
        if action == "permit" {
            writeln!(
                t,
                "set.local-preference = {}\nset.community = [\"65001:{version}\"]\nset.community-additive = true",
                100 + version + i as u32
            )
            .unwrap();
        }
    }
    t
}

fn compile(version: u32, mode: Mode) -> Policy {
    policy::parse("bench.toml", &policy_toml(version, mode)).expect("bench policy compiles")
}

/// 4,096 shared attribute sets: each carries community 65000:k and a path through AS 645kk
/// for one k in 0..128 (so ~78% can satisfy their sequence's clauses), plus filler.
fn attr_sets(rng: &mut Rng) -> Vec<Arc<Attrs>> {
    (0..ATTR_SETS)
        .map(|_| {
            let k = rng.below(128) as u16;
            let mut a = Attrs::new(SourceProtocol::Bgp);
            a.communities = Communities::new([
                Community::new(65000, k),
                Community::new(65100, rng.below(1000) as u16),
            ]);
            a.as_path = AsPath::from_sequence(vec![
                65010 + rng.below(20) as u32,
                64500 + k as u32,
                rng.below(60000) as u32 + 1,
            ]);
            a.med = Some(rng.below(100) as u32);
            Arc::new(a)
        })
        .collect()
}

/// Routes 10.a.b.0/24 whose attributes agree with their prefix (10.k.*.* carries 65000:k)
/// three times out of four.
fn routes(rng: &mut Rng, sets: &[Arc<Attrs>]) -> Vec<Route> {
    let by_k: Vec<Vec<&Arc<Attrs>>> = (0..128u16)
        .map(|k| {
            sets.iter()
                .filter(|a| a.communities.contains(&Community::new(65000, k)))
                .collect()
        })
        .collect();
    (0..ROUTES)
        .map(|_| {
            let a = rng.below(128) as usize;
            let b = rng.below(256) as u8;
            let attrs = if rng.below(4) != 0 && !by_k[a].is_empty() {
                by_k[a][rng.below(by_k[a].len() as u64) as usize].clone()
            } else {
                sets[rng.below(sets.len() as u64) as usize].clone()
            };
            Route {
                prefix: format!("10.{a}.{b}.0/24").parse().unwrap(),
                attrs,
            }
        })
        .collect()
}

fn eval_serial(map: &RouteMap, routes: &[Route]) -> (Vec<Option<Route>>, RouteMapStats) {
    let mut st = map.new_stats();
    let out = routes
        .iter()
        .map(|r| map.evaluate(r, &mut st).into_route())
        .collect();
    (out, st)
}

/// Chunks across rayon's threads; each worker evaluates its own [`RouteMap::fork`] so the
/// regex caches are not contended.
fn eval_parallel(map: &RouteMap, routes: &[Route]) -> (Vec<Option<Route>>, RouteMapStats) {
    let parts: Vec<(Vec<Option<Route>>, RouteMapStats)> = routes
        .par_chunks(64 * 1024)
        .map_init(|| map.fork(), |m, chunk| eval_serial(m, chunk))
        .collect();
    let mut st = map.new_stats();
    let mut out = Vec::with_capacity(routes.len());
    for (o, s) in parts {
        out.extend(o);
        st.merge(&s);
    }
    (out, st)
}

/// CPU time (user + system) this process has used, from /proc (Linux); the machine these
/// figures come from is shared with other builds, so wall time alone would mislead.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after_comm
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Wall and CPU time of the fastest of `runs` runs.
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl Timing {
    fn show(&self) -> String {
        format!(
            "{:.0} ms wall, {:.0} ms CPU",
            self.wall.as_secs_f64() * 1e3,
            self.cpu.as_secs_f64() * 1e3
        )
    }
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Timing, T) {
    let mut best = Timing {
        wall: Duration::MAX,
        cpu: Duration::MAX,
    };
    let mut last = None;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_time());
        let v = f();
        let (wall, cpu) = (t.elapsed(), cpu_time().saturating_sub(c));
        if wall < best.wall {
            best = Timing { wall, cpu };
        }
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.2} M routes/s", n as f64 / d.as_secs_f64() / 1e6)
}

fn main() {
    let threads = rayon::current_num_threads();
    println!("policy bench: {SEQUENCES}-sequence route-map, {ROUTES} routes, {ATTR_SETS} shared attribute sets, {threads} rayon threads");
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let sets = attr_sets(&mut rng);
    let routes = routes(&mut rng, &sets);

    let (compile_time, p1) = best_of(3, || compile(1, Mode::Typical));
    let map1 = p1.route_maps["BIG"].clone();
    let (serial, (out, st)) = best_of(3, || eval_serial(&map1, &routes));
    let permitted = out.iter().filter(|r| r.is_some()).count();
    let mean_pos = {
        // Where the deciding sequence sits, on average, for routes some sequence decided.
        let decided: u64 = st.hits.iter().sum();
        let weighted: u64 = st
            .hits
            .iter()
            .enumerate()
            .map(|(i, h)| (i as u64 + 1) * h)
            .sum();
        weighted as f64 / decided.max(1) as f64
    };
    println!(
        "typical map: compile {:.1} ms; 1 thread {} ({}); permitted {permitted}, denied {}, implicit deny {}; deciding sequence at position {mean_pos:.0} of {SEQUENCES} on average",
        compile_time.wall.as_secs_f64() * 1e3,
        serial.show(),
        rate(ROUTES, serial.wall),
        st.denied,
        st.implicit_denied
    );
    let (par, (pout, pst)) = best_of(3, || eval_parallel(&map1, &routes));
    assert_eq!(pst, st, "parallel counts equal serial counts");
    assert_eq!(pout, out, "parallel results equal serial results");
    println!(
        "typical map: {threads} threads {} ({})",
        par.show(),
        rate(ROUTES, par.wall)
    );

    // Policy change: compile version 2 from TOML, re-evaluate every route.
    let (change_serial, (out2, _)) = best_of(3, || {
        let p2 = compile(2, Mode::Typical);
        eval_serial(&p2.route_maps["BIG"], &routes)
    });
    let (change_par, (out2p, _)) = best_of(3, || {
        let p2 = compile(2, Mode::Typical);
        eval_parallel(&p2.route_maps["BIG"], &routes)
    });
    assert_eq!(out2, out2p);
    let changed = out.iter().zip(&out2).filter(|(a, b)| a != b).count();
    println!(
        "policy change (compile + re-evaluate {ROUTES}): 1 thread {}, {threads} threads {}; {changed} results changed",
        change_serial.show(),
        change_par.show()
    );

    // Worst cases: every route runs all 100 sequences' clauses, then the implicit deny.
    for (mode, what) in [
        (Mode::Worst, "literal-shaped AS-path patterns (`_99999_`)"),
        (Mode::WorstRegex, "general regexes (`_9999[0-9]_`)"),
    ] {
        let worst = compile(1, mode);
        let wmap = worst.route_maps["BIG"].clone();
        let (wserial, (_, wst)) = best_of(2, || eval_serial(&wmap, &routes));
        assert_eq!(wst.implicit_denied, ROUTES as u64);
        let (wpar, _) = best_of(2, || eval_parallel(&wmap, &routes));
        println!(
            "worst case, {what}: every route tries all 100 sequences (prefix list, community list, AS path) and is denied: 1 thread {} ({}), {threads} threads {} ({})",
            wserial.show(),
            rate(ROUTES, wserial.wall),
            wpar.show(),
            rate(ROUTES, wpar.wall)
        );
    }
    black_box((out, out2, sets));
}
