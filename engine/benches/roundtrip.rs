//! Invocation round-trip benchmark over loopback, with real `iii-sdk` workers.
//!
//! One engine runs in-process on its own multi-thread tokio runtime (threads named `engine-rt`).
//! One `iii-sdk` worker serves `bench::echo` (returns its input); a second `iii-sdk` worker is the
//! caller. Each SDK worker owns one `iii-connection` OS thread (the SDK's design). The calling
//! tasks run on a single-threaded driver runtime on the main thread and await
//! `III::trigger`, as a worker's own code would.
//!
//! ```text
//! cargo bench -p agentos-engine --bench roundtrip                          # full run (~1 min)
//! cargo bench -p agentos-engine --bench roundtrip -- --quick               # a tenth of the calls
//! cargo bench -p agentos-engine --bench roundtrip -- --otel                # SDK OpenTelemetry on
//! cargo bench -p agentos-engine --bench roundtrip -- --only echo-64B-c1    # one scenario (repeatable)
//! cargo bench -p agentos-engine --bench roundtrip -- --engine-threads 1    # engine runtime size
//! ```
//!
//! Scenario keys for `--only`: `echo-{64B,16KiB}-c{1,16,64}` (the full path),
//! `builtin-64B-c{1,16}` (caller SDK → engine built-in), `engine-64B-c{1,16}` (`Engine::call` →
//! echo SDK), `floor-tcp-c1` and `floor-chan-c1` (what two threads ping-ponging over loopback TCP
//! or a channel cost on this machine, with no protocol), `state-c{1,16}`. A prefix such as `echo`
//! or `echo-64B` selects a family.
//!
//! Without `--bench` (that is how `cargo test --all-targets` runs it) it does a short smoke run
//! that fails when any call fails. Results are written up in `docs/benchmarks.md`.
//!
//! Besides latency and throughput it reports, for every scenario, the CPU time and context
//! switches of each thread group per call (from `/proc/self/task/*/{schedstat,status}`): the
//! engine runtime, the echo worker's SDK thread, the caller's SDK thread and the driver, plus how
//! much CPU other processes used meanwhile (`/proc/stat`), since a shared machine skews results.

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    /// Run only these scenarios (`echo-64B-c1`, `echo-16KiB-c64`, `builtin-64B-c16`, `engine-64B-c1`,
    /// `state-c16`) or families of them (`echo`, `echo-64B`, `state`).
    only: Vec<String>,
    /// Worker threads of the engine's runtime (default: one per core, as the CLI does).
    engine_threads: Option<usize>,
}

impl Args {
    fn wants(&self, key: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| key == o || key.strip_prefix(o.as_str()).is_some_and(|rest| rest.starts_with('-')))
    }
}

fn parse_args() -> Args {
    let mut bench = false;
    let mut quick = false;
    let mut otel = false;
    let mut only = Vec::new();
    let mut engine_threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--quick" => quick = true,
            "--otel" => otel = true,
            "--only" => only.extend(args.next()),
            "--engine-threads" => engine_threads = args.next().and_then(|n| n.parse().ok()),
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
    Args { mode, otel, only, engine_threads }
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

/// Voluntary plus involuntary context switches of a thread so far.
fn thread_switches(tid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// What a thread group used.
#[derive(Default, Clone, Copy)]
struct Usage {
    cpu_ns: u64,
    switches: u64,
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

    /// CPU time and context switches per thread group, now. Threads that ended since are simply
    /// missing, which only happens for idle blocking-pool threads.
    fn snapshot(&self) -> Result<BTreeMap<&'static str, Usage>> {
        let mut out: BTreeMap<&'static str, Usage> = GROUPS.iter().map(|g| (*g, Usage::default())).collect();
        for tid in thread_ids()? {
            let entry = out.entry(self.group_of(tid)).or_default();
            entry.cpu_ns += thread_cpu_ns(tid).unwrap_or(0);
            entry.switches += thread_switches(tid);
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

/// Busy and total CPU time of the whole machine so far, in nanoseconds (from `/proc/stat`).
fn machine_cpu_ns() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Some(((total - idle) * 10_000_000, total * 10_000_000))
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
    /// CPU time and context switches per thread group during the measured phase.
    usage: BTreeMap<&'static str, Usage>,
    /// CPU nanoseconds other processes used meanwhile (machine busy time minus ours).
    foreign_cpu_ns: u64,
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

    /// Calls slower than `ms` milliseconds.
    fn slower_than_ms(&self, ms: u64) -> usize {
        let limit = ms * 1_000_000;
        self.latencies.len() - self.latencies.partition_point(|n| *n <= limit)
    }

    fn max_us(&self) -> f64 {
        self.latencies.last().map_or(f64::NAN, |n| *n as f64 / 1_000.0)
    }

    fn per_second(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }

    fn cpu_us_per_call(&self, group: &str) -> f64 {
        self.usage.get(group).map_or(0, |u| u.cpu_ns) as f64 / 1_000.0 / self.calls.max(1) as f64
    }

    fn cpu_total_us_per_call(&self) -> f64 {
        GROUPS.iter().map(|g| self.cpu_us_per_call(g)).sum()
    }

    fn own_cpu_ns(&self) -> u64 {
        self.usage.values().map(|u| u.cpu_ns).sum()
    }

    /// Context switches per call, all threads of this process.
    fn switches_per_call(&self) -> f64 {
        self.usage.values().map(|u| u.switches).sum::<u64>() as f64 / self.calls.max(1) as f64
    }

    /// Cores' worth of CPU this process used during the run.
    fn own_cores(&self) -> f64 {
        self.own_cpu_ns() as f64 / self.wall.as_nanos().max(1) as f64
    }

    /// Cores' worth of CPU other processes used during the run (10 ms resolution).
    fn foreign_cores(&self) -> f64 {
        self.foreign_cpu_ns as f64 / self.wall.as_nanos().max(1) as f64
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
    let machine_before = machine_cpu_ns();
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
        usage: BTreeMap::new(),
        foreign_cpu_ns: 0,
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
    let machine_after = machine_cpu_ns();
    let cpu_after = roles.snapshot()?;
    out.usage = cpu_after
        .iter()
        .map(|(g, after)| {
            let before = cpu_before.get(g).copied().unwrap_or_default();
            let delta = Usage {
                cpu_ns: after.cpu_ns.saturating_sub(before.cpu_ns),
                switches: after.switches.saturating_sub(before.switches),
            };
            (*g, delta)
        })
        .collect();
    if let (Some((busy_before, _)), Some((busy_after, _))) = (machine_before, machine_after) {
        let ours = out.own_cpu_ns();
        out.foreign_cpu_ns = busy_after.saturating_sub(busy_before).saturating_sub(ours);
    }
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
fn sdk_echo(
    caller: &III,
    function_id: &'static str,
    payload: Value,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
    let caller = caller.clone();
    let expected = pad_len(&payload);
    move |_| {
        let caller = caller.clone();
        let req = request(function_id, payload.clone());
        Box::pin(async move { classify(caller.trigger(req).await, |v| pad_len(v) == expected) })
    }
}

/// An in-process `Engine::call` (no caller SDK) to the echo worker.
fn engine_echo(
    engine: &Engine,
    payload: Value,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
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

/// A plain TCP echo of 64-byte messages on its own thread and single-threaded runtime: what one
/// loopback round trip between two threads costs on this machine, with no protocol at all.
fn start_tcp_echo() -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the floor echo")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::Builder::new().name("floor-echo".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            while let Ok((mut sock, _)) = listener.accept().await {
                let _ = sock.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = [0u8; SMALL];
                    while sock.read_exact(&mut buf).await.is_ok() {
                        if sock.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    })?;
    Ok(addr)
}

/// A 64-byte write and read on a plain TCP connection to [`start_tcp_echo`].
async fn tcp_ping(
    addr: std::net::SocketAddr,
) -> Result<impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static> {
    let sock = tokio::net::TcpStream::connect(addr).await.context("connecting to the floor echo")?;
    sock.set_nodelay(true)?;
    let sock = Arc::new(tokio::sync::Mutex::new(sock));
    Ok(move |_| {
        let sock = sock.clone();
        Box::pin(async move {
            let mut sock = sock.lock().await;
            let mut buf = [7u8; SMALL];
            if let Err(e) = sock.write_all(&buf).await {
                return Status::Failed(e.to_string());
            }
            match sock.read_exact(&mut buf).await {
                Ok(_) => Status::Ok,
                Err(e) => Status::Failed(e.to_string()),
            }
        }) as std::pin::Pin<Box<dyn Future<Output = Status> + Send>>
    })
}

/// A message to a task on another thread's single-threaded runtime and its answer over a
/// oneshot: the cost of the two cross-thread wake-ups every SDK call makes, with no socket.
fn channel_ping()
-> Result<impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<u64>>();
    std::thread::Builder::new().name("floor-chan".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(1);
            }
        });
    })?;
    Ok(move |_| {
        let tx = tx.clone();
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            if tx.send(reply).is_err() {
                return Status::Failed("floor channel closed".into());
            }
            match answer.await {
                Ok(_) => Status::Ok,
                Err(e) => Status::Failed(e.to_string()),
            }
        }) as std::pin::Pin<Box<dyn Future<Output = Status> + Send>>
    })
}

/// One `state::set` then one `state::get` of the same key from the caller SDK worker.
fn state_pair(
    caller: &III,
) -> impl Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = Status> + Send>> + Send + Sync + 'static {
    let caller = caller.clone();
    move |i| {
        let caller = caller.clone();
        let key = format!("k{}", i % 1024);
        let set = request(
            "state::set",
            json!({ "scope": "bench", "key": key, "value": { "n": i, "text": "a small state value" } }),
        );
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

async fn run<F, Fut>(
    roles: &Roles,
    rt: &Handle,
    mode: Mode,
    path: &'static str,
    payload: usize,
    concurrency: usize,
    op: F,
) -> Result<Row>
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
    if bytes >= 1024 && bytes.is_multiple_of(1024) { format!("{} KiB", bytes / 1024) } else { format!("{bytes} B") }
}

fn print_latency_table(title: &str, unit: &str, rows: &[&Row]) {
    if rows.is_empty() {
        return;
    }
    println!("\n### {title}\n");
    println!(
        "| path | payload | concurrency | {unit} | failed | timed out | p50 µs | p99 µs | max µs | > 20 ms | {unit}/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let o = &r.outcome;
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} | {} | {:.0} |",
            r.path,
            size_label(r.payload),
            r.concurrency,
            o.calls,
            o.failed,
            o.timed_out,
            o.percentile_us(50.0),
            o.percentile_us(99.0),
            o.max_us(),
            o.slower_than_ms(20),
            o.per_second()
        );
    }
}

fn print_cpu_table(rows: &[Row], cores: usize) {
    println!("\n### CPU time per call, by thread group (µs)\n");
    println!(
        "`ceiling` = {cores} cores ÷ total CPU per call: the most calls/s this machine could do if nothing but CPU limited it.\n"
    );
    println!(
        "`bench cores` = CPU this process used ÷ wall time; `foreign cores` = what other processes on the machine used meanwhile (10 ms ticks, so ±0.1).\n"
    );
    println!(
        "| path | payload | concurrency | engine | echo SDK | caller SDK | driver | other | total | ceiling/s | achieved/s | bench cores | foreign cores | ctx switches/call |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let o = &r.outcome;
        let total = o.cpu_total_us_per_call();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.2} | {:.2} | {:.1} |",
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
            o.per_second(),
            o.own_cores(),
            o.foreign_cores(),
            o.switches_per_call()
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
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

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.engine_threads {
        builder.worker_threads(n);
    }
    let engine_rt = builder.thread_name("engine-rt").enable_all().build().context("engine runtime")?;
    let driver_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("driver runtime")?;

    let dir = tempfile::tempdir().context("temp dir")?;
    let config = EngineConfig { engine_port: 0, http_port: 0, stream_port: 0, ..EngineConfig::default() };
    let running =
        engine_rt.block_on(agentos_engine::start(config, dir.path().join("data"))).context("starting the engine")?;
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

async fn bench(
    args: &Args,
    roles: &Roles,
    engine: &Engine,
    caller: &III,
    engine_rt: &Handle,
    cores: usize,
) -> Result<()> {
    let here = Handle::current();
    {
        let engine = engine.clone();
        wait_for("bench::echo to be registered", move || engine.has_function(ECHO)).await?;
    }
    ready(caller, ECHO, payload_of(SMALL)).await?;

    eprintln!("roundtrip: mode {:?}, SDK OpenTelemetry {}", args.mode, if args.otel { "on" } else { "off" });
    let label = |payload: usize| if payload >= LARGE { "16KiB" } else { "64B" };
    let mut rows = Vec::new();
    for payload in [SMALL, LARGE] {
        for concurrency in [1, 16, 64] {
            if args.wants(&format!("echo-{}-c{concurrency}", label(payload))) {
                let op = sdk_echo(caller, ECHO, payload_of(payload));
                rows.push(run(roles, &here, args.mode, "SDK → engine → SDK echo", payload, concurrency, op).await?);
            }
        }
    }
    let mut breakdown = Vec::new();
    for concurrency in [1, 16] {
        if args.wants(&format!("builtin-64B-c{concurrency}")) {
            let op = sdk_echo(caller, BUILTIN_ECHO, payload_of(SMALL));
            breakdown.push(run(roles, &here, args.mode, "SDK → engine built-in echo", SMALL, concurrency, op).await?);
        }
        if args.wants(&format!("engine-64B-c{concurrency}")) {
            let op = engine_echo(engine, payload_of(SMALL));
            breakdown.push(run(roles, engine_rt, args.mode, "Engine::call → SDK echo", SMALL, concurrency, op).await?);
        }
    }
    if args.wants("floor-tcp-c1") {
        let op = tcp_ping(start_tcp_echo()?).await?;
        breakdown.push(run(roles, &here, args.mode, "floor: raw TCP ping-pong, 2 threads", SMALL, 1, op).await?);
    }
    if args.wants("floor-chan-c1") {
        breakdown.push(
            run(roles, &here, args.mode, "floor: channel ping-pong, 2 threads", SMALL, 1, channel_ping()?).await?,
        );
    }
    let mut state = Vec::new();
    for concurrency in [1, 16] {
        if args.wants(&format!("state-c{concurrency}")) {
            state.push(
                run(roles, &here, args.mode, "state::set + state::get", SMALL, concurrency, state_pair(caller)).await?,
            );
        }
    }

    println!(
        "## agentos-engine round trip ({:?} run, SDK OpenTelemetry {})\n",
        args.mode,
        if args.otel { "on" } else { "off" }
    );
    let engine_threads = args.engine_threads.map_or_else(|| format!("{cores} (one per core)"), |n| n.to_string());
    println!(
        "{cores} × {}; engine runtime worker threads: {engine_threads}; calls time out after {CALL_TIMEOUT_MS} ms; load average at the end: {}.",
        cpu_model(),
        load_average()
    );
    print_latency_table(
        "Invocation round trip (caller SDK → engine → echo SDK → engine → caller SDK)",
        "calls",
        &rows.iter().collect::<Vec<_>>(),
    );
    print_latency_table(
        "Where the time goes: each half of the path alone (64 B)",
        "calls",
        &breakdown.iter().collect::<Vec<_>>(),
    );
    print_latency_table(
        "State: one `state::set` then one `state::get` of the same key (a pair)",
        "pairs",
        &state.iter().collect::<Vec<_>>(),
    );

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
