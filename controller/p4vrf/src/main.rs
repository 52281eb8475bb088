//! `p4vrf`: check a configuration, or run the router against a P4 switch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use p4rt::target::{AnyTarget, EmbeddedTarget, GrpcTarget, PipelineOutcome, Target};
use p4vrf::api::{self, ApiCall, ApiError, ApiServer, ShowContext};
use p4vrf::config::{self, Config};
use p4vrf::pipeline::Pipeline;
use p4vrf::router::{Router, Translation};
use p4vrf::show::{self, Family};
use p4vrf::southbound::{Tally, WriteStats};
use p4vrf::speaker::BgpInstance;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// mimalloc instead of glibc's malloc: ingest allocates and frees many small blocks on two
/// threads (the main loop and the switch writer), where glibc's arenas spend their time in
/// consolidation and keep more memory (docs/benchmarks.md, "BGP ingest"). Blocks of a
/// megabyte or more (the arrays of growing tables) are mappings of their own, given back as
/// soon as they are freed ([`p4vrf::large_alloc`]).
#[global_allocator]
static ALLOCATOR: p4vrf::large_alloc::LargeBlocksFromKernel<mimalloc::MiMalloc> =
    p4vrf::large_alloc::LargeBlocksFromKernel {
        small: mimalloc::MiMalloc,
    };

/// Turns transparent huge pages off for the process. mimalloc asks for them on its arenas
/// (`MADV_HUGEPAGE`), and the kernel then zeroes 2 MiB at each first touch of a region, even
/// where a few small blocks land: at a million routes a fifth of the ingest's time was the
/// kernel clearing pages. Without them, ingest took 12–15 % less CPU, the bytes per route
/// went down a little and the idle RSS halved (22 → 12 MiB) (docs/benchmarks.md, "BGP
/// ingest"). A failure (an old kernel) only leaves the default.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "p4vrf",
    version,
    about = "A multi-VRF router control plane for P4 switches",
    long_about = "p4vrf computes per-VRF routing tables from a TOML configuration (VRFs with route \
distinguishers and route targets, interfaces, static neighbors and static routes), leaks routes \
between VRFs by route target exactly like MP-BGP does on one router (no BGP neighbor needed), and \
programs the result into a P4 switch over P4Runtime: bmv2's simple_switch_grpc, a Tofino switch \
behind a P4Runtime server such as Stratum, or the embedded in-memory switch (the default).\n\n\
The configuration format is described in docs/configuration.md; examples/seed-lab/p4vrf.toml is \
a complete example."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration: prints every problem as FILE:LINE:COLUMN: message and exits 1
    /// if there is any. Nothing is programmed.
    Check {
        /// The configuration file (TOML).
        config: PathBuf,
    },
    /// Program a switch from a configuration. With --once: program, print the tables and exit.
    /// Otherwise keep running: SIGHUP re-reads the configuration and applies only the
    /// difference (an invalid file is reported and ignored); SIGINT/SIGTERM stop.
    Run {
        /// The configuration file (TOML).
        config: PathBuf,
        /// `embedded` (an in-memory switch that enforces P4Runtime rules) or
        /// `grpc://HOST:PORT` (a P4Runtime server: bmv2 simple_switch_grpc, Stratum).
        #[arg(long, default_value = "embedded")]
        target: String,
        /// P4Runtime device id of the switch.
        #[arg(long, default_value_t = 1)]
        device_id: u64,
        /// Election id for primary arbitration (higher wins).
        #[arg(long, default_value_t = 1)]
        election_id: u128,
        /// Program, print `show ip route vrf`, `show ip bgp vpnv4 all` and the P4 entries read
        /// back from the switch, then exit.
        #[arg(long)]
        once: bool,
        /// With --once: print `show ip bgp vpnv4 all detail` (RTs per path) too.
        #[arg(long)]
        detail: bool,
        /// Binary P4Info to use instead of the built-in one (p4/build/p4vrf.p4info.binpb).
        #[arg(long, requires = "device_config")]
        p4info: Option<PathBuf>,
        /// Device config (bmv2 JSON) to use instead of the built-in p4/build/p4vrf.json.
        #[arg(long, requires = "p4info")]
        device_config: Option<PathBuf>,
        /// Write the process id here once the switch is programmed (for scripts and tests
        /// that send SIGHUP).
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// The local API socket `p4vrf show` asks (mode 0600; its directory is created).
        /// Default without --once: /run/p4vrf/p4vrf.sock, and no API (with an error in the
        /// log) if that directory cannot be created.
        #[arg(long, value_name = "PATH", conflicts_with = "once")]
        api_socket: Option<PathBuf>,
    },
    /// Ask a running `p4vrf run` (over its local API socket) for a `show` command: prints the
    /// text (or, with --json, the data as JSON); exit status 1 with the error on failure.
    #[command(after_help = format!("Commands (WORDS):\n{}", api::COMMANDS))]
    Show {
        /// The daemon's API socket (`p4vrf run --api-socket`).
        #[arg(long, value_name = "PATH", default_value = api::DEFAULT_SOCKET)]
        socket: PathBuf,
        /// Print structured data (JSON) instead of text.
        #[arg(long)]
        json: bool,
        /// The command, e.g. `ip route vrf VRF-A` (see below).
        #[arg(required = true, value_name = "WORDS")]
        words: Vec<String>,
    },
}

fn main() -> ExitCode {
    p4vrf::small_blocks::set_purge_delay();
    disable_transparent_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("P4VRF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Run {
            config,
            target,
            device_id,
            election_id,
            once,
            detail,
            p4info,
            device_config,
            pid_file,
            api_socket,
        } => {
            let pipeline = match (p4info, device_config) {
                (Some(p), Some(d)) => Pipeline::from_files(&p, &d),
                _ => Ok(Pipeline::builtin()),
            };
            pipeline.and_then(|pipeline| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                runtime.block_on(run(RunArgs {
                    config,
                    target,
                    device_id,
                    election_id,
                    once,
                    detail,
                    pipeline,
                    pid_file,
                    api_socket,
                }))
            })
        }
        Command::Show {
            socket,
            json,
            words,
        } => show_command(&socket, json, words),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("p4vrf: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: &Path) -> Result<Config, config::ConfigErrors> {
    config::load(path)
}

fn check(path: &Path) -> Result<ExitCode> {
    match load_config(path) {
        Ok(c) => {
            let statics: usize = c.vrfs.values().map(|v| v.statics.len()).sum();
            println!(
                "{}: OK ({} VRFs, {} interfaces, {} static routes)",
                path.display(),
                c.vrfs.len(),
                c.interfaces.len(),
                statics
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s); nothing was applied",
                path.display(),
                errors.0.len()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

struct RunArgs {
    config: PathBuf,
    target: String,
    device_id: u64,
    election_id: u128,
    once: bool,
    detail: bool,
    pipeline: Pipeline,
    pid_file: Option<PathBuf>,
    api_socket: Option<PathBuf>,
}

/// `p4vrf show`: one request to the daemon's local API.
fn show_command(socket: &Path, json: bool, words: Vec<String>) -> Result<ExitCode> {
    let request = api::Request::new(words, json);
    let out = match api::query(socket, &request, std::time::Duration::from_secs(60))? {
        api::Response::Text(text) => text,
        api::Response::Data(data) => serde_json::to_string_pretty(&data)? + "\n",
        api::Response::Error(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // A closed pipe (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The local API for `p4vrf show`, started before the switch is touched (so a second daemon
/// on the same socket stops there). Without --api-socket the default socket is used, and when
/// its directory cannot be created p4vrf runs without an API.
fn start_api(args: &RunArgs) -> Result<(Option<ApiServer>, Option<mpsc::Receiver<ApiCall>>)> {
    if args.once {
        return Ok((None, None));
    }
    let path = args
        .api_socket
        .clone()
        .unwrap_or_else(|| PathBuf::from(api::DEFAULT_SOCKET));
    match ApiServer::start(&path) {
        Ok((server, calls)) => {
            info!(socket = %path.display(), "local API listening (p4vrf show)");
            Ok((Some(server), Some(calls)))
        }
        Err(e @ (ApiError::CreateDir { .. } | ApiError::Bind { .. }))
            if args.api_socket.is_none() =>
        {
            error!("local API disabled: {e}; pass --api-socket PATH to use `p4vrf show`");
            Ok((None, None))
        }
        Err(e) => Err(e).context("cannot start the local API"),
    }
}

async fn connect(args: &RunArgs) -> Result<AnyTarget> {
    if args.target == "embedded" {
        return Ok(AnyTarget::Embedded(EmbeddedTarget::new()));
    }
    let Some(addr) = args.target.strip_prefix("grpc://") else {
        bail!(
            "--target must be `embedded` or `grpc://HOST:PORT`, not `{}`",
            args.target
        );
    };
    let target = GrpcTarget::connect(&format!("http://{addr}"), args.device_id, args.election_id)
        .await
        .with_context(|| {
            format!(
                "cannot become primary controller of device {} at {addr}",
                args.device_id
            )
        })?;
    Ok(AnyTarget::Grpc(Box::new(target)))
}

/// Writes what the router wants; after a failed write, reads the switch back and writes the
/// difference (the switch may hold part of the failed batch).
async fn program(
    target: &AnyTarget,
    router: &Router,
    updates: &[p4rt::entity::Update],
    stats: &mut WriteStats,
) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let started = SystemTime::now();
    match target.write(updates).await {
        Ok(()) => {
            stats.record(updates, started);
            info!(updates = updates.len(), "switch programmed");
            Ok(())
        }
        Err(e) => repair(target, router, stats, &e.to_string()).await,
    }
}

/// After a failed write: reads the switch back and writes the difference to what the router
/// wants.
async fn repair(
    target: &AnyTarget,
    router: &Router,
    stats: &mut WriteStats,
    failure: &str,
) -> Result<()> {
    error!("write failed:\n{failure}");
    let actual = target
        .read_all()
        .await
        .context("cannot read the switch back after a failed write")?;
    let repair = router.reconcile(&actual);
    warn!(
        updates = repair.len(),
        "reconciling the switch with the desired state"
    );
    stats.reset_entries(&actual);
    let started = SystemTime::now();
    target
        .write(&repair)
        .await
        .map_err(|e| anyhow::anyhow!("reconcile failed:\n{e}"))?;
    stats.record(&repair, started);
    Ok(())
}

/// A switch write running on a worker thread while the main loop takes in the next UPDATEs
/// (the design's "writes in large batches, pipelined"). At most one is in flight, and it is
/// always finished before the next write of any kind starts, so the switch sees the writes in
/// order; the neighbors hear of a change only once its write is done ([`settle`]).
struct InFlight {
    /// The write's outcome, what it wrote and when it returned.
    task: tokio::task::JoinHandle<(Result<(), p4rt::target::WriteError>, Tally, SystemTime)>,
    started: SystemTime,
}

type WriteOutcome =
    Result<(Result<(), p4rt::target::WriteError>, Tally, SystemTime), tokio::task::JoinError>;

/// Updates built and written at a time by a write in flight: the route entries' updates are
/// built on the worker ([`Updates::next_chunk`]) into one buffer of this many, reused.
const WRITE_CHUNK: usize = 8 * p4rt::target::DEFAULT_BATCH_SIZE;

/// Starts translating a routing change and writing it on a worker thread (this one goes on
/// taking in UPDATEs); `None` when it changes no entry. No write may be in flight.
fn start_write(target: &Arc<AnyTarget>, translation: Translation) -> Option<InFlight> {
    // No FIB change usually means nothing to write: that is worked out here, not on a thread.
    let work = if translation.changes_nothing() {
        match translation.translate() {
            Ok(u) if !u.is_empty() => Ok(u),
            Ok(_) => return None,
            Err(e) => {
                error!("cannot translate the routing change: {e}");
                return None;
            }
        }
    } else {
        Err(translation)
    };
    let target = target.clone();
    let started = SystemTime::now();
    // The updates are dropped on the worker too (after the time is taken).
    let task = tokio::spawn(async move {
        let mut tally = Tally::default();
        let mut updates = match work.or_else(Translation::translate) {
            Ok(u) => u,
            Err(e) => {
                error!("cannot translate the routing change: {e}");
                return (Ok(()), tally, SystemTime::now());
            }
        };
        let mut chunk = Vec::with_capacity(WRITE_CHUNK);
        let mut written = 0;
        let result = loop {
            if !updates.next_chunk(WRITE_CHUNK, &mut chunk) {
                break Ok(());
            }
            if let Err(e) = target.write(&chunk).await {
                break Err(offset_error(e, written, updates.remaining()));
            }
            tally.add(&chunk);
            written += chunk.len();
        };
        (result, tally, SystemTime::now())
    });
    Some(InFlight { task, started })
}

/// The error of a write of one chunk, in the indices of the whole write: `before` updates were
/// written before the chunk, `after` follow it.
fn offset_error(
    mut e: p4rt::target::WriteError,
    before: usize,
    after: usize,
) -> p4rt::target::WriteError {
    for f in &mut e.failures {
        f.index += before;
    }
    e.batch = e.batch.start + before..e.batch.end + before;
    e.not_attempted += after;
    // Refused before sending: this chunk was, but not what was written before it.
    e.rejected_locally &= before == 0;
    e
}

/// The outcome of the write in flight, once it is done (never, when there is none).
async fn write_done(inflight: &mut Option<InFlight>) -> WriteOutcome {
    match inflight {
        Some(w) => (&mut w.task).await,
        None => std::future::pending().await,
    }
}

/// Records a finished write, or repairs the switch after a failed one.
async fn conclude(
    w: InFlight,
    outcome: WriteOutcome,
    target: &AnyTarget,
    router: &Router,
    stats: &mut WriteStats,
) {
    let failure = match outcome {
        Ok((Ok(()), tally, returned)) => {
            if tally.updates() > 0 {
                info!(updates = tally.updates(), "switch programmed");
                stats.record_tally(tally, w.started, returned);
            }
            return;
        }
        Ok((Err(e), _, _)) => e.to_string(),
        Err(e) => format!("the write task failed: {e}"),
    };
    if let Err(e) = repair(target, router, stats, &failure).await {
        error!("{e:#}");
    }
}

/// Waits for the write in flight (if any) to finish, then tells the neighbors what changed.
async fn settle(
    inflight: &mut Option<InFlight>,
    target: &AnyTarget,
    router: &mut Router,
    bgp: &mut Option<(BgpInstance, bgp::session::Events)>,
    stats: &mut WriteStats,
) {
    if let Some(mut w) = inflight.take() {
        let outcome = (&mut w.task).await;
        conclude(w, outcome, target, router, stats).await;
    }
    if let Some((b, _)) = bgp {
        b.advertise(router).await;
    }
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = match load_config(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s); nothing was applied",
                args.config.display(),
                errors.0.len()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let (_api, mut api_calls) = start_api(&args)?;
    let mut router = Router::new();
    // The updates of a first apply are the whole desired state; `attach` writes it (or only
    // what the switch lacks, when it already runs our pipeline).
    router
        .apply(config)
        .context("cannot translate the configuration into P4 entries")?;

    let mut target = Arc::new(connect(&args).await?);
    let mut stats = WriteStats::new();
    attach(&args, &target, &router, &mut stats).await?;
    if let Some(pid_file) = &args.pid_file {
        std::fs::write(pid_file, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write {}", pid_file.display()))?;
    }

    if args.once {
        print_state(&target, &router, args.detail).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let bgp = match router.config() {
        Some(c) => BgpInstance::start(c)
            .await
            .context("cannot start BGP (is another BGP speaker listening on the same address?)")?,
        None => None,
    };
    serve(
        &args,
        &mut target,
        &mut router,
        &mut api_calls,
        bgp,
        &mut stats,
    )
    .await
}

/// Brings a (new or re-established) switch connection to the router's desired state: pushes
/// the pipeline and writes everything if the switch does not run it (a new or restarted
/// switch), else reads the switch back and writes only the difference (a restarted controller).
async fn attach(
    args: &RunArgs,
    target: &AnyTarget,
    router: &Router,
    stats: &mut WriteStats,
) -> Result<()> {
    let outcome = target
        .ensure_pipeline(&args.pipeline.p4info, &args.pipeline.device_config)
        .await
        .context("cannot install the P4 pipeline")?;
    let actual = match outcome {
        PipelineOutcome::Installed { .. } => {
            info!("pipeline installed");
            Vec::new()
        }
        PipelineOutcome::AlreadyRunning { .. } => {
            target.read_all().await.context("cannot read the switch")?
        }
    };
    let updates = router.reconcile(&actual);
    info!(
        updates = updates.len(),
        entries_found = actual.len(),
        "programming the switch"
    );
    stats.reset_entries(&actual);
    program(target, router, &updates, stats).await
}

/// Whether the P4Runtime connection is gone (the switch restarted, or another controller took
/// over as primary). The embedded switch is never lost.
fn connection_lost(target: &AnyTarget) -> bool {
    match target {
        AnyTarget::Grpc(t) => !t.stream_open() || !t.is_primary(),
        AnyTarget::Embedded(_) => false,
    }
}

async fn print_state(target: &AnyTarget, router: &Router, detail: bool) -> Result<()> {
    let rib = router.rib();
    let mut out = String::new();
    for vrf in rib.vrf_names() {
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv4));
        out.push('\n');
        out.push_str(&show::ip_route_vrf(rib, vrf, Family::Ipv6));
        out.push('\n');
    }
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, false));
    out.push('\n');
    out.push_str(&show::bgp_vpn_all(rib, Family::Ipv6, false));
    out.push('\n');
    if detail {
        out.push_str(&show::bgp_vpn_all(rib, Family::Ipv4, true));
        out.push('\n');
        out.push_str(&show::bgp_vpn_all(rib, Family::Ipv6, true));
        out.push('\n');
    }
    let entities = target
        .read_all()
        .await
        .context("cannot read the switch back")?;
    out.push_str(&show::p4_entries(&entities));
    print!("{out}");
    Ok(())
}

/// Waits for the next BGP event, or forever when BGP is not configured.
async fn next_bgp_event(
    bgp: &mut Option<(BgpInstance, bgp::session::Events)>,
) -> Option<bgp::session::NeighborEvent> {
    match bgp {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// A batch of UPDATEs taken into the RIB before one commit ends after this many UPDATEs, ...
const BATCH_EVENTS: usize = 4096;
/// ... once they carry this many routes (announced and withdrawn prefixes), or ...
///
/// Small on purpose: a commit's passes then find the entries its UPDATEs touched still in
/// the cache, and less is in flight between the RIB and the switch writer (a million routes:
/// about 7 % fewer bytes a route at the peak, and no slower, than batches of 20 ms, which
/// held tens of thousands of routes; docs/benchmarks.md, "BGP ingest").
const BATCH_ROUTES: usize = 2048;
/// ... after this long, so a long stream still reaches the switch in steps.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(20);

/// Handles `first` and, when it is an UPDATE, the UPDATEs already waiting behind it (bounded
/// by [`BATCH_EVENTS`], [`BATCH_ROUTES`] and [`BATCH_TIME`]), so that one commit — RIB
/// delta, switch write, advertisements — serves many UPDATEs: at a million routes a commit
/// per UPDATE costs more than the routes themselves. Any other event (session up or down,
/// End-of-RIB, refresh) ends the batch and is returned, to be handled after the batch is
/// committed, so it sees the RIB as it is.
async fn handle_batch(
    first: bgp::session::NeighborEvent,
    bgp: &mut Option<(BgpInstance, bgp::session::Events)>,
    router: &mut Router,
) -> Option<bgp::session::NeighborEvent> {
    let (b, events) = bgp.as_mut()?;
    let routes_of = |e: &bgp::session::NeighborEvent| match &e.event {
        bgp::session::Event::Update { update, .. } => Some(update.route_count()),
        _ => None,
    };
    let first_routes = routes_of(&first);
    b.handle(first, router).await;
    // Not an UPDATE: handled on its own, no batch.
    let mut routes = first_routes?;
    let started = std::time::Instant::now();
    for _ in 1..BATCH_EVENTS {
        if routes >= BATCH_ROUTES || started.elapsed() >= BATCH_TIME {
            break;
        }
        let ev = events.try_recv()?;
        let Some(n) = routes_of(&ev) else {
            return Some(ev);
        };
        routes += n;
        b.handle(ev, router).await;
    }
    None
}

/// After routes changed (configuration): program the switch, then tell the neighbors.
async fn propagate(
    target: &AnyTarget,
    router: &mut Router,
    bgp: &mut Option<(BgpInstance, bgp::session::Events)>,
    stats: &mut WriteStats,
) {
    match router.commit() {
        Err(e) => error!("cannot translate the routing change: {e}"),
        Ok(updates) => {
            if let Err(e) = program(target, router, &updates, stats).await {
                error!("{e:#}");
            }
        }
    }
    if let Some((b, _)) = bgp {
        b.advertise(router).await;
    }
}

async fn serve(
    args: &RunArgs,
    target: &mut Arc<AnyTarget>,
    router: &mut Router,
    api_calls: &mut Option<mpsc::Receiver<ApiCall>>,
    mut bgp: Option<(BgpInstance, bgp::session::Events)>,
    stats: &mut WriteStats,
) -> Result<ExitCode> {
    // Routes the configuration itself put in the BGP tables are advertised as sessions come
    // up; clear the change list so the first event does not replay them all.
    let _ = router.take_bgp_changes();
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    info!(config = %args.config.display(), "running; SIGHUP re-reads the configuration");
    // Once a second: is the switch still there? If not, try to get it back (one attempt per
    // tick, each bounded by the connect and arbitration timeouts) until it answers again.
    let mut watchdog = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut lost = false;
    let mut inflight: Option<InFlight> = None;
    loop {
        tokio::select! {
            _ = watchdog.tick() => {
                if !connection_lost(target) {
                    continue;
                }
                settle(&mut inflight, target, router, &mut bgp, stats).await;
                if !lost {
                    warn!("lost the P4Runtime connection to {}; reconnecting", args.target);
                    lost = true;
                }
                match connect(args).await {
                    Err(e) => tracing::debug!("reconnect failed: {e:#}"),
                    Ok(fresh) => {
                        *target = Arc::new(fresh);
                        match attach(args, target, router, stats).await {
                            Ok(()) => {
                                info!("switch reconnected and programmed");
                                lost = false;
                            }
                            Err(e) => error!("cannot program the reconnected switch: {e:#}"),
                        }
                    }
                }
            }
            Some(ev) = next_bgp_event(&mut bgp) => {
                let mut next = Some(ev);
                while let Some(ev) = next.take() {
                    if !matches!(ev.event, bgp::session::Event::Update { .. }) {
                        // Session changes see the switch as the RIB says it is.
                        settle(&mut inflight, target, router, &mut bgp, stats).await;
                    }
                    // UPDATEs go into the RIB while the previous batch is being written.
                    next = handle_batch(ev, &mut bgp, router).await;
                    // The delta is taken while the previous write is still in flight; its
                    // translation and write wait for that write.
                    let translation = router.take_translation_ahead();
                    settle(&mut inflight, target, router, &mut bgp, stats).await;
                    router.release_ahead();
                    inflight = start_write(target, translation);
                    if inflight.is_none() {
                        settle(&mut inflight, target, router, &mut bgp, stats).await;
                    }
                }
            }
            outcome = write_done(&mut inflight) => {
                if let Some(w) = inflight.take() {
                    conclude(w, outcome, target, router, stats).await;
                }
                settle(&mut inflight, target, router, &mut bgp, stats).await;
            }
            _ = hup.recv() => {
                settle(&mut inflight, target, router, &mut bgp, stats).await;
                info!("SIGHUP: re-reading {}", args.config.display());
                match load_config(&args.config) {
                    Err(errors) => error!("configuration rejected, keeping the running one:\n{errors}"),
                    Ok(config) => match router.apply(config.clone()) {
                        Err(e) => error!("cannot translate the configuration: {e}"),
                        Ok(updates) => {
                            info!(updates = updates.len(), "configuration applied");
                            if let Err(e) = program(target, router, &updates, stats).await {
                                error!("{e:#}");
                            }
                            if let Some((b, _)) = &mut bgp {
                                b.reconfigure(&config, router).await;
                            }
                            propagate(target, router, &mut bgp, stats).await;
                        }
                    },
                }
            }
            call = api::next_call(api_calls) => {
                let response = if call.request.is_p4_summary() {
                    stats.show(call.request.json)
                } else if call.request.is_p4_entries() {
                    match target.read_all().await {
                        Ok(entities) => api::p4_entries(&entities, call.request.json),
                        Err(e) => api::Response::Error(format!("% cannot read the switch: {e}")),
                    }
                } else {
                    let bgp_show = bgp.as_ref().map(|(b, _)| b as &dyn api::BgpShow);
                    api::answer(&ShowContext { router, bgp: bgp_show }, &call.request)
                };
                call.respond(response);
            }
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
        }
    }
    settle(&mut inflight, target, router, &mut bgp, stats).await;
    Ok(ExitCode::SUCCESS)
}
