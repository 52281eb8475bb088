//! BGP ingest: how fast and how small p4vrf takes a large route stream, next to BIRD, GoBGP
//! and FRR fed the very same bytes in the same run.
//!
//! * (a) `unicast`: ROUTES IPv4 unicast routes with realistic prefix-length and AS-path
//!   distributions from an eBGP neighbor, into one VRF;
//! * (b) `vpn`: ROUTES VPNv4 routes over VRFS RDs / RTs from an iBGP PE, each VRF importing
//!   its own RT.
//!
//! The stream (`stream.rs`) is generated and encoded once; a minimal BGP speaker of the
//! bench (`peer.rs`) connects to each system in turn, brings the session up, writes the
//! UPDATEs as fast as the system reads them, then End-of-RIB. Each system (`systems.rs`) is
//! started by the bench on its own loopback address, asked through its own CLI (or our local
//! API) whether it holds every route, and stopped by its PID. Printed per run, then per case
//! side by side:
//!
//! * **time**: from the first UPDATE byte written to "all routes in" — p4vrf: the return of
//!   its last write to the (embedded) switch, by its own clock; a daemon: the last moment it
//!   was busy (≥ 25 % CPU in a 4 ms sample of /proc/PID/task/*/schedstat) before the question
//!   that found every route. Questions are asked only after 250 ms without work (or every
//!   POLL_MS), because asking a busy daemon slows it down; the window between the last
//!   question that saw fewer routes and the first that saw all is printed too;
//! * **CPU**: user + system time of the system's process from the first UPDATE to the answer;
//! * **memory**: VmRSS once the session is up and idle, VmHWM (peak) two seconds after the
//!   answer, and bytes per route = (peak − idle) / ROUTES.
//!
//! Each case ends with a table: every system's best, median and worst time, CPU, peak memory
//! and bytes per route, with p4vrf's ratios to it (time best against best and median against
//! median).
//!
//! Run: `cargo bench -p p4vrf --bench bgp_ingest` (the daemons are found on PATH or in
//! /usr/lib/frr, /usr/sbin; a missing one is skipped with a line saying so).
//! Environment: ROUTES (default 100000), VRFS (1000), CASES (`unicast,vpn`), SYSTEMS
//! (`p4vrf,bird,gobgp,frr`), RUNS (2), POLL_MS (10000), TIMEOUT_S (60 + ROUTES/1000),
//! GOBGP_VRFS=1 (configure GoBGP's VRFs in the VPN case), P4VRF_BIN (another p4vrf binary,
//! e.g. an older build, instead of this one).

mod peer;
mod stream;
mod systems;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stream::Kind;
use systems::{Bird, Frr, GoBgp, P4vrf, Setup, System};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// (VmRSS, VmHWM) in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// User + system CPU seconds of a process.
fn cpu(pid: u32, ticks: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may contain spaces: fields after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After ')': state is index 0, so utime (field 14) is 11 and stime (15) is 12.
    (get(11) + get(12)) / ticks
}

/// CPU nanoseconds of all live threads of the processes (`/proc/PID/task/*/schedstat`).
fn cpu_ns(pids: &[u32]) -> u64 {
    let mut total = 0;
    for pid in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// Watches the system's CPU use every few milliseconds. A polled daemon finished when it
/// stopped working; and asking it while it works slows some down (a GoBGP RIB summary walks the
/// table: polled every 100 ms, GoBGP took 159 s for a million routes instead of 27 s). So the
/// bench asks only once the system has been idle for a while, and takes the last busy moment
/// before the question that found every route as the time it finished.
struct Sampler {
    stop: Arc<AtomicBool>,
    busy: Arc<Mutex<Vec<Instant>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

/// A sample counts as busy when the system used at least this share of it.
const BUSY_SHARE: f64 = 0.25;
const SAMPLE: Duration = Duration::from_millis(4);
/// Ask only after this long without work (or after POLL_MS, whichever first).
const QUIET: Duration = Duration::from_millis(250);

impl Sampler {
    fn start(pids: Vec<u32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (flag, log) = (stop.clone(), busy.clone());
        let handle = std::thread::spawn(move || {
            let mut last = (Instant::now(), cpu_ns(&pids));
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(SAMPLE);
                let now = (Instant::now(), cpu_ns(&pids));
                let wall = now.0.duration_since(last.0).as_nanos() as f64;
                if now.1.saturating_sub(last.1) as f64 >= BUSY_SHARE * wall {
                    log.lock().expect("lock").push(now.0);
                }
                last = now;
            }
        });
        Sampler {
            stop,
            busy,
            handle: Some(handle),
        }
    }

    /// The last busy sample before `t`.
    fn last_busy_before(&self, t: Instant) -> Option<Instant> {
        let busy = self.busy.lock().expect("lock");
        let i = busy.partition_point(|b| *b < t);
        i.checked_sub(1).map(|i| busy[i])
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// One run of one system.
#[derive(Clone, Debug)]
struct Outcome {
    system: &'static str,
    _run: usize,
    /// First UPDATE → all routes in: p4vrf's own clock; for a polled daemon, its last busy
    /// moment between `time_lo` and `time_hi`.
    time: f64,
    /// The last poll that saw fewer routes was asked then…
    time_lo: f64,
    /// … and the first that saw all had answered by then.
    time_hi: f64,
    /// First UPDATE → the sender's last write returned.
    send: f64,
    cpu: f64,
    idle: u64,
    peak: u64,
    end: u64,
}

impl Outcome {
    fn per_route(&self, routes: usize) -> f64 {
        self.peak.saturating_sub(self.idle) as f64 / routes as f64
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

struct Bench {
    routes: usize,
    poll: Duration,
    timeout: Duration,
    ticks: f64,
    base: PathBuf,
    /// 127.N.x.y, N from our PID so two runs on one machine do not collide.
    net: u8,
}

impl Bench {
    fn run_one(
        &self,
        sys: &mut dyn System,
        index: u8,
        st: &stream::Stream,
        run: usize,
    ) -> Result<Outcome, String> {
        let name = sys.name();
        let case = match st.kind {
            Kind::Unicast => "unicast",
            Kind::Vpn { .. } => "vpn",
        };
        let dir = self
            .base
            .join(format!("{case}-{}-{run}", name.to_lowercase()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let setup = Setup {
            kind: st.kind,
            routes: st.routes,
            addr: Ipv4Addr::new(127, self.net, 60 + index, 2),
            port: 11179,
            peer: Ipv4Addr::new(127, self.net, 60 + index, 1),
            last: st.last,
        };
        sys.start(&setup, &dir)?;
        let result = self.measure(sys, &setup, st, run);
        sys.stop();
        if result.is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            eprintln!("  (files kept in {})", dir.display());
        }
        result.map(|mut o| {
            o.system = name;
            o
        })
    }

    fn measure(
        &self,
        sys: &mut dyn System,
        setup: &Setup,
        st: &stream::Stream,
        run: usize,
    ) -> Result<Outcome, String> {
        let session = peer::Session::connect(
            setup.peer,
            SocketAddr::new(setup.addr.into(), setup.port),
            setup.peer_as(),
            st.family,
            Duration::from_secs(60),
        )?;
        // Let the system finish bringing the session up (its own End-of-RIB, timers).
        std::thread::sleep(Duration::from_secs(1));
        sys.check_alive()?;
        sys.baseline(setup)?;
        let pids = sys.pids();
        let idle: u64 = pids.iter().map(|p| memory(*p).0).sum();
        let cpu0: f64 = pids.iter().map(|p| cpu(*p, self.ticks)).sum();

        let sampler = Sampler::start(pids.clone());
        let (t0, i0, sent) = session.blast(&st.messages, &st.end_of_rib)?;
        let send = sent.duration_since(i0).as_secs_f64();
        let deadline = i0 + self.timeout;
        let mut last_incomplete = i0;
        let mut last_poll: Option<Instant> = None;
        let mut seen = 0u64;
        let (mut polls, mut polling) = (0u32, Duration::ZERO);
        let (lo, hi, cpu1, reported) = loop {
            let asked = Instant::now();
            let quiet = sampler
                .last_busy_before(asked)
                .map_or(asked.duration_since(i0), |b| asked.duration_since(b))
                >= QUIET;
            let since_poll = last_poll.map_or(Duration::MAX, |t| asked.duration_since(t));
            if !((quiet && since_poll >= QUIET) || since_poll >= self.poll) {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            if asked > deadline {
                return Err(format!(
                    "timed out after {:?} with {seen} of {} routes",
                    self.timeout, st.routes
                ));
            }
            if let Some(t) = session.trouble() {
                return Err(format!("session: {t}"));
            }
            sys.check_alive()?;
            let p = sys.poll(setup)?;
            polls += 1;
            polling += asked.elapsed();
            last_poll = Some(Instant::now());
            seen = p.routes;
            if p.done {
                let cpu1: f64 = pids.iter().map(|p| cpu(*p, self.ticks)).sum();
                let answered = Instant::now();
                match p.reported_at {
                    Some(at) => {
                        let t = at.duration_since(t0).unwrap_or_default().as_secs_f64();
                        break (i0, answered, cpu1, Ok(t));
                    }
                    None => {
                        // Busy last before this question, and not before the previous one.
                        let done = sampler
                            .last_busy_before(asked)
                            .unwrap_or(last_incomplete)
                            .max(last_incomplete);
                        break (last_incomplete, answered, cpu1, Err(done));
                    }
                }
            }
            last_incomplete = asked;
        };
        drop(sampler);
        let secs = |t: Instant| t.duration_since(i0).as_secs_f64();
        // Ok: the system's own time; Err: the bench's estimate.
        let (time, lo, hi) = match reported {
            Ok(t) => (t, t, t),
            Err(done) => (secs(done), secs(lo), secs(hi)),
        };
        // Peaks that come right after (advertisement, freeing) count too.
        std::thread::sleep(Duration::from_secs(2));
        let (end, peak) = pids
            .iter()
            .map(|p| memory(*p))
            .fold((0, 0), |a, m| (a.0 + m.0, a.1 + m.1));
        let last_route = sys.last_route(setup);
        drop(session);
        let o = Outcome {
            system: "",
            _run: run,
            time,
            time_lo: lo,
            time_hi: hi,
            send,
            cpu: cpu1 - cpu0,
            idle,
            peak,
            end,
        };
        println!(
            "  {:<6} run {run}: {:>8.3} s{} (sender done {:.3} s; {polls} polls of {:.0} ms), \
             CPU {:>7.2} s, idle {:>7.1} MiB, peak {:>7.1} MiB, end {:>7.1} MiB, {:>6.0} B/route",
            sys.name(),
            o.time,
            if (o.time_hi - o.time_lo).abs() > 1e-9 {
                format!(" (polls: {:.3}–{:.3})", o.time_lo, o.time_hi)
            } else {
                String::new()
            },
            o.send,
            polling.as_secs_f64() * 1000.0 / f64::from(polls.max(1)),
            o.cpu,
            mib(o.idle),
            mib(o.peak),
            mib(o.end),
            o.per_route(st.routes)
        );
        if let Some(l) = last_route {
            println!("         its last route: {l}");
        }
        Ok(o)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would pass nothing: run small.
    let routes = env_usize("ROUTES", 100_000);
    let vrfs = env_usize("VRFS", 1000) as u32;
    let runs = env_usize("RUNS", 2);
    let poll_ms = env_usize("POLL_MS", 10_000);
    let timeout = env_usize("TIMEOUT_S", 60 + routes / 1000);
    let cases = env_list("CASES", "unicast,vpn");
    let wanted = env_list("SYSTEMS", "p4vrf,bird,gobgp,frr");

    let p4vrf_bin = std::env::var_os("P4VRF_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_p4vrf")));
    let mut systems: Vec<Box<dyn System>> = Vec::new();
    for w in &wanted {
        let s: Option<Box<dyn System>> = match w.as_str() {
            "p4vrf" => Some(Box::new(P4vrf::new(p4vrf_bin.clone()))),
            "bird" => Bird::find().map(|s| Box::new(s) as Box<dyn System>),
            "gobgp" => GoBgp::find().map(|s| Box::new(s) as Box<dyn System>),
            "frr" => Frr::find().map(|s| Box::new(s) as Box<dyn System>),
            other => {
                println!("SKIP: unknown system `{other}` (p4vrf, bird, gobgp, frr)");
                None
            }
        };
        match s {
            Some(s) => systems.push(s),
            None if ["bird", "gobgp", "frr"].contains(&w.as_str()) => {
                println!("SKIP: {w} is not installed (its daemon or CLI is not on PATH)")
            }
            None => {}
        }
    }

    let bench = Bench {
        routes,
        poll: Duration::from_millis(poll_ms as u64),
        timeout: Duration::from_secs(timeout as u64),
        ticks: clock_ticks(),
        base: std::env::temp_dir().join(format!("p4vrf-bgp-ingest-{}", std::process::id())),
        net: 16 + (std::process::id() % 224) as u8,
    };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "BGP ingest: ROUTES={routes} VRFS={vrfs} RUNS={runs} POLL_MS={poll_ms} \
         TIMEOUT_S={timeout}; {cpus} CPUs; load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for s in &systems {
        println!("  {:<6} {}", s.name(), s.version());
    }

    let mut failures = 0;
    for case in &cases {
        let kind = match case.as_str() {
            "unicast" => Kind::Unicast,
            "vpn" => Kind::Vpn { vrfs },
            other => {
                println!("SKIP: unknown case `{other}` (unicast, vpn)");
                continue;
            }
        };
        let t = Instant::now();
        let st = stream::generate(kind, bench.routes, 0x5eed_0001);
        let decoded = st.check();
        assert_eq!(
            decoded, st.routes,
            "the encoded stream must announce exactly ROUTES distinct routes"
        );
        println!(
            "\n== case {case}: {} routes, {} attribute sets, {} UPDATEs ({:.1} NLRI each), \
             {:.1} MiB on the wire; generated and encoded in {:.2} s",
            st.routes,
            st.attr_sets,
            st.messages.len(),
            st.routes as f64 / st.messages.len() as f64,
            mib(st.bytes() as u64),
            t.elapsed().as_secs_f64()
        );
        for s in &systems {
            println!("  {:<6} measures: {}", s.name(), s.measured(kind));
        }
        let mut outcomes: Vec<Outcome> = Vec::new();

        for run in 1..=runs {
            for (i, s) in systems.iter_mut().enumerate() {
                match bench.run_one(s.as_mut(), i as u8, &st, run) {
                    Ok(o) => outcomes.push(o),
                    Err(e) => {
                        failures += 1;
                        println!("  {:<6} run {run}: FAILED: {e}", s.name())
                    }
                }
            }
        }
        summary(case, &st, &outcomes, &systems);
    }
    if failures == 0 {
        let _ = std::fs::remove_dir_all(&bench.base);
    }
}

/// The middle value of `values` (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Best run of each system (least time; least memory), and ratios against p4vrf; and the
/// median time of each, with p4vrf's median against it: on a machine where one binary's time
/// spreads by a third from run to run, best against best says less than medians of several
/// interleaved runs (`RUNS`).
fn summary(case: &str, st: &stream::Stream, outcomes: &[Outcome], systems: &[Box<dyn System>]) {
    let mut by: BTreeMap<usize, Vec<&Outcome>> = BTreeMap::new();
    for (i, s) in systems.iter().enumerate() {
        by.insert(
            i,
            outcomes.iter().filter(|o| o.system == s.name()).collect(),
        );
    }
    let best = |v: &[&Outcome]| -> Option<(f64, f64, f64, f64, f64, u64)> {
        let t = v.iter().map(|o| o.time).fold(f64::INFINITY, f64::min);
        let tmax = v.iter().map(|o| o.time).fold(0.0, f64::max);
        let c = v.iter().map(|o| o.cpu).fold(f64::INFINITY, f64::min);
        let b = v
            .iter()
            .map(|o| o.per_route(st.routes))
            .fold(f64::INFINITY, f64::min);
        let peak = v.iter().map(|o| o.peak).min()?;
        let r = st.routes as f64 / t;
        Some((t, tmax, c, b, r, peak))
    };
    let median_time = |v: &[&Outcome]| median(v.iter().map(|o| o.time).collect());
    let p4_at = systems.iter().position(|s| s.name() == "p4vrf");
    let p4 = p4_at.and_then(|i| best(&by[&i]));
    let p4_median = p4_at
        .filter(|i| !by[i].is_empty())
        .map(|i| median_time(&by[&i]));
    println!(
        "\n-- {case}, {} routes: best of runs (least time, least bytes/route) and median time; \
         a ratio above 1 means p4vrf took longer / more memory than that system --",
        st.routes
    );
    println!(
        "| system | runs | time (s), best / worst | median time (s) | routes/s | CPU (s) | peak RSS (MiB) | bytes/route | p4vrf's time ÷ this, best | p4vrf's time ÷ this, medians | p4vrf's bytes/route ÷ this |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, s) in systems.iter().enumerate() {
        let Some((t, tmax, c, b, r, peak)) = best(&by[&i]) else {
            println!("| {} | 0 | failed | | | | | | | | |", s.name());
            continue;
        };
        let m = median_time(&by[&i]);
        let ratio = |x: Option<f64>, y: f64| x.map_or("–".into(), |x| format!("{:.2}", x / y));
        println!(
            "| {} | {} | {t:.2} / {tmax:.2} | {m:.3} | {:.0} | {c:.2} | {:.0} | {b:.0} | {} | {} | {} |",
            s.name(),
            by[&i].len(),
            r,
            mib(peak),
            ratio(p4.map(|p| p.0), t),
            ratio(p4_median, m),
            ratio(p4.map(|p| p.3), b),
        );
    }
}
