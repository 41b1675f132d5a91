//! The sandbox's cost per command: `true` run through `code::run_command` in the bubblewrap
//! sandbox and without it (`[sandbox] required = false` with no bwrap), on this machine.
//!
//! Run: `cargo bench -p agentos-worker-code-agent --bench sandbox`. Prints the p50, p95 and
//! mean wall time of each over 200 runs (after 10 warm-up runs), and the difference of the
//! medians: the overhead the sandbox adds to every command.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_worker_code_agent::{RunCommand, Sandbox, SandboxSettings, Workspace, run_command};

/// Measured runs per mode.
const RUNS: usize = 200;
/// Runs before measuring, so page caches and the allocator are warm.
const WARM_UP: usize = 10;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sandboxed = Sandbox::probe(SandboxSettings::default());
    let info = sandboxed.info();
    assert!(info.enforced, "bwrap does not work here: {:?}", info.missing);
    let bare = Sandbox::probe_with(SandboxSettings { required: false, ..SandboxSettings::default() }, None);
    let req =
        RunCommand { program: "true".into(), args: Vec::new(), cwd: None, timeout_ms: 10_000, max_output_bytes: 1024 };
    let measure = |sandbox: &Sandbox| -> Vec<Duration> {
        let mut times = Vec::with_capacity(RUNS);
        for i in 0..WARM_UP + RUNS {
            let started = Instant::now();
            let out = runtime.block_on(run_command(&ws, sandbox, req.clone())).unwrap();
            assert_eq!(out.exit_code, Some(0));
            if i >= WARM_UP {
                times.push(started.elapsed());
            }
        }
        times.sort();
        times
    };
    let bare_times = measure(&bare);
    let sandbox_times = measure(&sandboxed);
    println!("missing in the sandbox here: {}", info.missing.as_deref().unwrap_or("nothing"));
    report("unsandboxed", &bare_times);
    report("sandboxed  ", &sandbox_times);
    let overhead = sandbox_times[RUNS / 2].saturating_sub(bare_times[RUNS / 2]);
    println!("overhead (p50 difference): {:.2} ms per command", ms(overhead));
}

fn report(label: &str, sorted: &[Duration]) {
    let mean = sorted.iter().sum::<Duration>() / u32::try_from(sorted.len()).unwrap();
    println!(
        "{label}: p50 {:.2} ms, p95 {:.2} ms, mean {:.2} ms ({} runs of `true`)",
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() * 95 / 100]),
        ms(mean),
        sorted.len()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
