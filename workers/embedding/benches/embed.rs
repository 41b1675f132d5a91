//! Embedding throughput and latency on this machine's CPU, with the real model.
//!
//! Run: `AGENTOS_EMBEDDING_MODEL_DIR=$PWD/.models/all-minilm-l6-v2 cargo bench -p agentos-worker-embedding --bench embed`
//! (scripts/install-test-deps.sh installs the model there). Prints sentences per second over
//! 1024 sentences sent in calls of 32 (and in one call), and the p50/p95 latency of one
//! sentence alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_worker_embedding::Model;
use agentos_worker_embedding::model::{BATCH, MODEL_DIR_ENV, missing_files};

/// Sentences in the throughput run.
const SENTENCES: usize = 1024;

/// Single-sentence calls measured for the latency figures.
const SINGLE_RUNS: usize = 200;

/// The words the sentences are made of: the kind of text an agent's memory holds.
const SUBJECTS: &[&str] = &[
    "The user",
    "The coder hand",
    "Our deployment pipeline",
    "The on-call engineer",
    "A failing integration test",
    "The customer from the Berlin office",
    "The memory worker",
    "Last night's nightly build",
];
const VERBS: &[&str] = &[
    "asked about",
    "keeps forgetting",
    "spent two hours debugging",
    "wants a summary of",
    "reported a regression in",
    "prefers short answers about",
    "needs a migration plan for",
    "was surprised by",
];
const OBJECTS: &[&str] = &[
    "the PostgreSQL connection pool",
    "quarterly revenue numbers",
    "the retry logic in the HTTP client",
    "TypeScript generics",
    "the cat sleeping on the keyboard",
    "flaky timeouts on the CI runners",
    "the new onboarding checklist",
    "memory usage of the embedding worker",
];
const TAILS: &[&str] = &[
    "",
    "before the release on Friday",
    "because the logs were full of warnings and nobody knew which one mattered",
    "and asked us to write it down so the next session remembers it",
    "after the database failover",
    "while pairing with a colleague who had never seen the code base before",
];

/// A deterministic mix of short and long sentences.
fn sentences() -> Vec<String> {
    let mut state = 0x2545_f491_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    (0..SENTENCES)
        .map(|_| {
            let tail = TAILS[next(TAILS.len())];
            let base = format!(
                "{} {} {}",
                SUBJECTS[next(SUBJECTS.len())],
                VERBS[next(VERBS.len())],
                OBJECTS[next(OBJECTS.len())]
            );
            if tail.is_empty() { format!("{base}.") } else { format!("{base} {tail}.") }
        })
        .collect()
}

/// Clock ticks per second of `/proc/stat` and `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

/// (busy ticks of the whole machine, ticks of this process) from `/proc`; zeros elsewhere.
fn jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    let busy = cpu.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4 && *i < 8).map(|(_, v)| v).sum();
    let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = own
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // After the command name: state ppid … utime (field 14) and stime (15) of the whole line.
    let mine = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
    (busy, mine)
}

/// How many cores other processes kept busy between `before` and `after`.
fn other_cores(before: (u64, u64), after: (u64, u64), wall: Duration) -> f64 {
    let others = after.0.saturating_sub(before.0).saturating_sub(after.1.saturating_sub(before.1));
    others as f64 / TICKS / wall.as_secs_f64()
}

/// The process's resident memory in MiB (0 where /proc is not there).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let Some(dir) = std::env::var_os(MODEL_DIR_ENV).map(std::path::PathBuf::from) else {
        panic!("set {MODEL_DIR_ENV} to the model folder (scripts/install-test-deps.sh installs it into .models/)");
    };
    assert!(missing_files(&dir).is_empty(), "{} lacks the model; run scripts/install-test-deps.sh", dir.display());
    let started = Instant::now();
    let model = Model::load(&dir).unwrap();
    let load = started.elapsed();
    let rss_loaded = rss_mib();

    let texts = sentences();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    // Warm-up: first-touch of the weights and the thread pool.
    model.embed(&refs[..BATCH]).unwrap();

    let before = jiffies();
    let started = Instant::now();
    for chunk in refs.chunks(BATCH) {
        let vectors = model.embed(chunk).unwrap();
        assert_eq!(vectors.len(), chunk.len());
    }
    let elapsed = started.elapsed();
    let throughput = SENTENCES as f64 / elapsed.as_secs_f64();
    let others = other_cores(before, jiffies(), elapsed);

    // The same sentences in one call: sorted by length across the whole set before the passes
    // are cut, so there is almost no padding (what a caller sending big batches gets).
    let started = Instant::now();
    let all = model.embed(&refs).unwrap();
    assert_eq!(all.len(), SENTENCES);
    let one_call = SENTENCES as f64 / started.elapsed().as_secs_f64();

    let mut single = Vec::with_capacity(SINGLE_RUNS);
    for text in refs.iter().take(SINGLE_RUNS) {
        let started = Instant::now();
        model.embed(&[text]).unwrap();
        single.push(started.elapsed());
    }
    single.sort();

    println!(
        "embedding benchmark: all-minilm-l6-v2, {} threads",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "  model load                  {:>8.0} ms  (process RSS {rss_loaded:.0} MiB once loaded)",
        load.as_secs_f64() * 1e3
    );
    println!(
        "  throughput (batch {BATCH})       {throughput:>8.0} sentences/s  ({SENTENCES} sentences, {:.1} words each, {:.2} s)",
        words as f64 / SENTENCES as f64,
        elapsed.as_secs_f64()
    );
    println!("  other processes meanwhile   {others:>8.2} cores busy (the machine is shared; compare quiet runs)");
    println!("  throughput (one call)       {one_call:>8.0} sentences/s  (the {SENTENCES} sentences in one call)");
    println!("  one sentence alone, p50     {:>8.1} ms", percentile(&single, 0.50).as_secs_f64() * 1e3);
    println!("  one sentence alone, p95     {:>8.1} ms", percentile(&single, 0.95).as_secs_f64() * 1e3);
}
