//! Invocation round-trip benchmark over loopback, with real `iii-sdk` workers.
//!
//! One engine runs in-process on its own multi-thread tokio runtime (threads named `engine-rt`).
//! One `iii-sdk` worker serves `bench::echo` (returns its input); a second `iii-sdk` worker is the
//! caller. Each SDK worker owns one `iii-connection` OS thread (the SDK's design). The calling
//! tasks run on a single-threaded driver runtime on the main thread and await
//! `III::trigger`, as a worker's own code would.
//!
//! ```text
//! cargo bench -p agentos-engine --bench roundtrip              # full run (~1 min)
//! cargo bench -p agentos-engine --bench roundtrip -- --quick   # a tenth of the calls
//! cargo bench -p agentos-engine --bench roundtrip -- --otel    # SDK OpenTelemetry on
//! ```
//!
//! Without `--bench` (that is how `cargo test --all-targets` runs it) it does a short smoke run
//! that fails when any call fails. Results are written up in `docs/benchmarks.md`.
//!
//! Besides latency and throughput it reports, for every scenario, the CPU time each thread group
//! spent per call (from `/proc/self/task/*/schedstat`): the engine runtime, the echo worker's SDK
//! thread, the caller's SDK thread and the driver. On a 2-core machine that tells which side
//! bounds throughput.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agentos_engine::EngineConfig;
use agentos_engine::engine::{CallOptions, Engine};
use anyhow::{Context, Result, bail};
use iii_sdk::{III, IIIError, InitOptions, OtelConfig, RegisterFunctionMessage, TriggerRequest, WorkerMetadata};
use serde_json::{Value, json};
use tokio::runtime::Handle;

const ECHO: &str = "bench::echo";
const BUILTIN_ECHO: &str = "bench::builtin_echo";
const CALL_TIMEOUT_MS: u64 = 10_000;
const SMALL: usize = 64;
const LARGE: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// `cargo test`: a few calls per scenario, just to prove the paths work.
    Smoke,
    /// `-- --quick`: a tenth of the full run.
    Quick,
    /// `cargo bench`: the figures in docs/benchmarks.md.
    Full,
}

struct Args {
    mode: Mode,
    otel: bool,
}

fn parse_args() -> Args {
    let mut bench = false;
    let mut quick = false;
    let mut otel = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench = true,
            "--quick" => quick = true,
            "--otel" => otel = true,
            // cargo passes filters and libtest flags to every target; they mean nothing here.
            other => eprintln!("roundtrip: ignoring argument {other:?}"),
        }
    }
    let mode = if quick {
        Mode::Quick
    } else if bench {
        Mode::Full
    } else {
        Mode::Smoke
    };
    Args { mode, otel }
}

/// How many measured calls a scenario makes.
fn calls_for(mode: Mode, concurrency: usize, payload: usize) -> usize {
    let full = match (concurrency, payload >= LARGE) {
        (1, false) => 20_000,
        (1, true) => 10_000,
        (_, false) => 100_000,
        (_, true) => 40_000,
    };
    match mode {
        Mode::Full => full,
        Mode::Quick => full / 10,
        Mode::Smoke => 50.max(concurrency * 2),
    }
}

fn warmup_for(mode: Mode, calls: usize) -> usize {
    match mode {
        Mode::Full => (calls / 5).min(5_000),
        Mode::Quick => (calls / 5).min(1_000),
        Mode::Smoke => 10,
    }
}

// ---- per-thread CPU accounting -------------------------------------------------------------------

/// Which thread is which, so CPU time can be charged to the engine, each SDK client or the driver.
struct Roles {
    driver: u32,
    echo_sdk: HashSet<u32>,
    caller_sdk: HashSet<u32>,
}

const GROUPS: [&str; 5] = ["engine", "echo SDK", "caller SDK", "driver", "other"];

fn thread_ids() -> Result<HashSet<u32>> {
    let mut ids = HashSet::new();
    for entry in std::fs::read_dir("/proc/self/task").context("reading /proc/self/task")? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            ids.insert(id);
        }
    }
    Ok(ids)
}

/// Nanoseconds a thread has spent on a CPU (first field of `schedstat`).
fn thread_cpu_ns(tid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn thread_name(tid: u32) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

impl Roles {
    fn group_of(&self, tid: u32) -> &'static str {
        if tid == self.driver {
            "driver"
        } else if self.echo_sdk.contains(&tid) {
            "echo SDK"
        } else if self.caller_sdk.contains(&tid) {
            "caller SDK"
        } else if thread_name(tid).starts_with("engine-rt") {
            "engine"
        } else {
            "other"
        }
    }

    /// CPU nanoseconds per thread group, now. Threads that ended since are simply missing, which
    /// only happens for idle blocking-pool threads.
    fn snapshot(&self) -> Result<BTreeMap<&'static str, u64>> {
        let mut out: BTreeMap<&'static str, u64> = GROUPS.iter().map(|g| (*g, 0)).collect();
        for tid in thread_ids()? {
            if let Some(ns) = thread_cpu_ns(tid) {
                *out.entry(self.group_of(tid)).or_default() += ns;
            }
        }
        Ok(out)
    }
}

/// Starts an SDK worker and returns it with the threads it created.
fn start_worker(url: &str, name: &str, otel: bool) -> Result<(III, HashSet<u32>)> {
    let before = thread_ids()?;
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    let otel = (!otel).then(|| OtelConfig { enabled: Some(false), ..OtelConfig::default() });
    let iii = iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), otel, ..InitOptions::default() });
    let after = thread_ids()?;
    Ok((iii, after.difference(&before).copied().collect()))
}

// ---- measuring -------------------------------------------------------------------------------------

enum Status {
    Ok,
    Failed(String),
    TimedOut,
}

fn classify(result: Result<Value, IIIError>, check: impl FnOnce(&Value) -> bool) -> Status {
    match result {
        Ok(v) if check(&v) => Status::Ok,
        Ok(v) => {
            let mut text = v.to_string();
            text.truncate(200);
            Status::Failed(format!("unexpected answer: {text}"))
        }
        Err(IIIError::Timeout) => Status::TimedOut,
        Err(e) => Status::Failed(e.to_string()),
    }
}

struct Outcome {
    calls: usize,
    failed: usize,
    timed_out: usize,
    first_error: Option<String>,
    /// Sorted, in nanoseconds.
    latencies: Vec<u64>,
    wall: Duration,
    /// CPU nanoseconds per thread group during the measured phase.
    cpu: BTreeMap<&'static str, u64>,
}

impl Outcome {
    fn percentile_us(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[idx] as f64 / 1_000.0
    }

    fn max_us(&self) -> f64 {
        self.latencies.last().map_or(f64::NAN, |n| *n as f64 / 1_000.0)
    }

    fn per_second(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us_per_call(&self, group: &str) -> f64 {
        self.cpu.get(group).copied().unwrap_or(0) as f64 / 1_000.0 / self.calls.max(1) as f64
    }

    fn cpu_total_us_per_call(&self) -> f64 {
        GROUPS.iter().map(|g| self.cpu_us_per_call(g)).sum()
    }
}

/// Runs `total` operations from `concurrency` tasks spawned on `rt`; each task takes the next
/// operation number until all are taken. `op` builds the future outside the timed region.
async fn measure<F, Fut>(roles: &Roles, rt: &Handle, concurrency: usize, total: usize, op: F) -> Result<Outcome>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Status> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let total_u64 = total as u64;
    let cpu_before = roles.snapshot()?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let op = op.clone();
        let next = next.clone();
        tasks.push(rt.spawn(async move {
            let mut latencies = Vec::with_capacity(total / concurrency + 1);
            let (mut failed, mut timed_out, mut first_error) = (0usize, 0usize, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total_u64 {
                    break;
                }
                let fut = op(i);
                let t = Instant::now();
                let status = fut.await;
                latencies.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
                match status {
                    Status::Ok => {}
                    Status::TimedOut => timed_out += 1,
                    Status::Failed(e) => {
                        failed += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, failed, timed_out, first_error)
        }));
    }
    let mut out = Outcome {
        calls: total,
        failed: 0,
        timed_out: 0,
        first_error: None,
        latencies: Vec::with_capacity(total),
        wall: Duration::ZERO,
        cpu: BTreeMap::new(),
    };
    for task in tasks {
        let (latencies, failed, timed_out, first_error) = task.await.context("a bench task panicked")?;
        out.latencies.extend(latencies);
        out.failed += failed;
        out.timed_out += timed_out;
        if out.first_error.is_none() {
            out.first_error = first_error;
        }
    }
    out.wall = started.elapsed();
    let cpu_after = roles.snapshot()?;
    out.cpu = cpu_after.iter().map(|(g, after)| (*g, after.saturating_sub(cpu_before.get(g).copied().unwrap_or(0)))).collect();
    out.latencies.sort_unstable();
    Ok(out)
}

/// A JSON object `{"pad":"xxx…"}` whose serialized form is exactly `size` bytes.
fn payload_of(size: usize) -> Value {
    let overhead = r#"{"pad":""}"#.len();
    json!({ "pad": "x".repeat(size.saturating_sub(overhead)) })
}

fn pad_len(v: &Value) -> Option<usize> {
    v.get("pad").and_then(Value::as_str).map(str::len)
}

fn request(function_id: &str, payload: Value) -> TriggerRequest {
    TriggerRequest { function_id: function_id.to_string(), payload, action: None, timeout_ms: Some(CALL_TIMEOUT_MS) }
}

// ---- scenarios -------------------------------------------------------------------------------------

struct Row {
    path: &'static str,
    payload: usize,
    concurrency: usize,
    outcome: Outcome,
}

/// A call from the caller SDK worker to `function_id` with `payload`, checking the echo.
fn sdk_echo(caller: &III, function_id: &'static str, payload: Value) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
    let caller = caller.clone();
    let expected = pad_len(&payload);
    move |_| {
        let caller = caller.clone();
        let req = request(function_id, payload.clone());
        Box::pin(async move { classify(caller.trigger(req).await, |v| pad_len(v) == expected) })
    }
}

/// An in-process `Engine::call` (no caller SDK) to the echo worker.
fn engine_echo(engine: &Engine, payload: Value) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
    let engine = engine.clone();
    let expected = pad_len(&payload);
    move |_| {
        let engine = engine.clone();
        let payload = payload.clone();
        Box::pin(async move {
            match engine.call(ECHO, payload, CallOptions::default()).await.0 {
                Ok(Some(v)) if pad_len(&v) == expected => Status::Ok,
                Ok(other) => Status::Failed(format!("unexpected answer: {other:?}")),
                Err(e) => Status::Failed(format!("{}: {}", e.code, e.message)),
            }
        })
    }
}

/// One `state::set` then one `state::get` of the same key from the caller SDK worker.
fn state_pair(caller: &III) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
    let caller = caller.clone();
    move |i| {
        let caller = caller.clone();
        let key = format!("k{}", i % 1024);
        let set = request("state::set", json!({ "scope": "bench", "key": key, "value": { "n": i, "text": "a small state value" } }));
        let get = request("state::get", json!({ "scope": "bench", "key": key }));
        Box::pin(async move {
            match classify(caller.trigger(set).await, |v| v.get("new_value").is_some()) {
                Status::Ok => {}
                other => return other,
            }
            classify(caller.trigger(get).await, |v| v.get("n").and_then(Value::as_u64) == Some(i))
        })
    }
}

async fn run<F, Fut>(roles: &Roles, rt: &Handle, mode: Mode, path: &'static str, payload: usize, concurrency: usize, op: F) -> Result<Row>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Status> + Send + 'static,
{
    let calls = calls_for(mode, concurrency, payload);
    let op = Arc::new(op);
    let warm = op.clone();
    let warmup = measure(roles, rt, concurrency, warmup_for(mode, calls), move |i| (*warm)(i)).await?;
    if warmup.failed + warmup.timed_out > 0 {
        eprintln!("roundtrip: warm-up of {path} had {} failed, {} timed out", warmup.failed, warmup.timed_out);
    }
    let outcome = measure(roles, rt, concurrency, calls, move |i| (*op)(i)).await?;
    eprintln!(
        "  {path:<34} {payload:>6} B  c={concurrency:<3} {:>7} calls  p50 {:>8.1} µs  p99 {:>8.1} µs  {:>8.0}/s  failed {} timed out {}",
        outcome.calls,
        outcome.percentile_us(50.0),
        outcome.percentile_us(99.0),
        outcome.per_second(),
        outcome.failed,
        outcome.timed_out
    );
    Ok(Row { path, payload, concurrency, outcome })
}

fn size_label(bytes: usize) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 { format!("{} KiB", bytes / 1024) } else { format!("{bytes} B") }
}

fn print_latency_table(title: &str, unit: &str, rows: &[&Row]) {
    println!("\n### {title}\n");
    println!("| path | payload | concurrency | {unit} | failed | timed out | p50 µs | p99 µs | max µs | {unit}/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let o = &r.outcome;
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.0} |",
            r.path,
            size_label(r.payload),
            r.concurrency,
            o.calls,
            o.failed,
            o.timed_out,
            o.percentile_us(50.0),
            o.percentile_us(99.0),
            o.max_us(),
            o.per_second()
        );
    }
}

fn print_cpu_table(rows: &[Row], cores: usize) {
    println!("\n### CPU time per call, by thread group (µs)\n");
    println!("`ceiling` = {cores} cores ÷ total CPU per call: the most calls/s this machine could do if nothing but CPU limited it.\n");
    println!("| path | payload | concurrency | engine | echo SDK | caller SDK | driver | other | total | ceiling/s | achieved/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let o = &r.outcome;
        let total = o.cpu_total_us_per_call();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
            r.path,
            size_label(r.payload),
            r.concurrency,
            o.cpu_us_per_call("engine"),
            o.cpu_us_per_call("echo SDK"),
            o.cpu_us_per_call("caller SDK"),
            o.cpu_us_per_call("driver"),
            o.cpu_us_per_call("other"),
            total,
            cores as f64 * 1e6 / total,
            o.per_second()
        );
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Waits (bounded) until `check` holds.
async fn wait_for(what: &str, mut check: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Retries a call until the worker is connected and answers.
async fn ready(iii: &III, function_id: &str, payload: Value) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match iii.trigger(TriggerRequest { timeout_ms: Some(1_000), ..request(function_id, payload.clone()) }).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => bail!("{function_id} never answered: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn main() -> Result<()> {
    let args = parse_args();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);

    let engine_rt =
        tokio::runtime::Builder::new_multi_thread().thread_name("engine-rt").enable_all().build().context("engine runtime")?;
    let driver_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("driver runtime")?;

    let dir = tempfile::tempdir().context("temp dir")?;
    let config = EngineConfig { engine_port: 0, http_port: 0, stream_port: 0, ..EngineConfig::default() };
    let running = engine_rt.block_on(agentos_engine::start(config, dir.path().join("data"))).context("starting the engine")?;
    let engine = running.engine.clone();
    let url = running.ws_url();
    engine.register_builtin(BUILTIN_ECHO, "bench: returns its input", |_, input, _| async move { Ok(Some(input)) });

    let (echo, echo_threads) = start_worker(&url, "bench-echo", args.otel)?;
    echo.register_function_with(RegisterFunctionMessage::with_id(ECHO.to_string()), |v: Value| async move { Ok(v) });
    let (caller, caller_threads) = start_worker(&url, "bench-caller", args.otel)?;
    let roles = Roles { driver: std::process::id(), echo_sdk: echo_threads, caller_sdk: caller_threads };

    let result = driver_rt.block_on(bench(&args, &roles, &engine, &caller, engine_rt.handle(), cores));

    caller.shutdown();
    echo.shutdown();
    engine_rt.block_on(running.shutdown());
    drop(dir);
    result
}

async fn bench(args: &Args, roles: &Roles, engine: &Engine, caller: &III, engine_rt: &Handle, cores: usize) -> Result<()> {
    let here = Handle::current();
    {
        let engine = engine.clone();
        wait_for("bench::echo to be registered", move || engine.has_function(ECHO)).await?;
    }
    ready(caller, ECHO, payload_of(SMALL)).await?;

    eprintln!("roundtrip: mode {:?}, SDK OpenTelemetry {}", args.mode, if args.otel { "on" } else { "off" });
    let mut rows = Vec::new();
    for payload in [SMALL, LARGE] {
        for concurrency in [1, 16, 64] {
            let op = sdk_echo(caller, ECHO, payload_of(payload));
            rows.push(run(roles, &here, args.mode, "SDK → engine → SDK echo", payload, concurrency, op).await?);
        }
    }
    let mut breakdown = Vec::new();
    for concurrency in [1, 16] {
        let op = sdk_echo(caller, BUILTIN_ECHO, payload_of(SMALL));
        breakdown.push(run(roles, &here, args.mode, "SDK → engine built-in echo", SMALL, concurrency, op).await?);
        let op = engine_echo(engine, payload_of(SMALL));
        breakdown.push(run(roles, engine_rt, args.mode, "Engine::call → SDK echo", SMALL, concurrency, op).await?);
    }
    let mut state = Vec::new();
    for concurrency in [1, 16] {
        state.push(run(roles, &here, args.mode, "state::set + state::get", SMALL, concurrency, state_pair(caller)).await?);
    }

    println!("## agentos-engine round trip ({:?} run, SDK OpenTelemetry {})\n", args.mode, if args.otel { "on" } else { "off" });
    println!("{} × {}; calls time out after {CALL_TIMEOUT_MS} ms.", cores, cpu_model());
    print_latency_table("Invocation round trip (caller SDK → engine → echo SDK → engine → caller SDK)", "calls", &rows.iter().collect::<Vec<_>>());
    print_latency_table("Where the time goes: each half of the path alone (64 B)", "calls", &breakdown.iter().collect::<Vec<_>>());
    print_latency_table("State: one `state::set` then one `state::get` of the same key (a pair)", "pairs", &state.iter().collect::<Vec<_>>());

    let c1 = rows.iter().find(|r| r.payload == SMALL && r.concurrency == 1);
    let c16 = rows.iter().find(|r| r.payload == SMALL && r.concurrency == 16);
    if let (Some(c1), Some(c16)) = (c1, c16) {
        println!(
            "\nc=16 ÷ c=1 throughput (64 B): {:.2}× ; p50 at c=1 (64 B): {:.1} µs",
            c16.outcome.per_second() / c1.outcome.per_second(),
            c1.outcome.percentile_us(50.0)
        );
    }
    let all: Vec<Row> = rows.into_iter().chain(breakdown).chain(state).collect();
    print_cpu_table(&all, cores);

    let bad: Vec<String> = all
        .iter()
        .filter(|r| r.outcome.failed + r.outcome.timed_out > 0)
        .map(|r| {
            format!(
                "{} {} c={}: {} failed, {} timed out (first: {})",
                r.path,
                size_label(r.payload),
                r.concurrency,
                r.outcome.failed,
                r.outcome.timed_out,
                r.outcome.first_error.as_deref().unwrap_or("timeout")
            )
        })
        .collect();
    if !bad.is_empty() {
        bail!("calls failed:\n{}", bad.join("\n"));
    }
    Ok(())
}
