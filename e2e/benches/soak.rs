//! Crash tolerance of the whole stack: sequential chat turns (every third with a tool call)
//! against the scripted OpenAI server while a random worker is `kill -9`ed every few seconds.
//!
//! `cargo bench -p agentos-e2e --bench soak [-- --secs 60 --every-ms 3000 --seed 7]`
//!
//! Reports the share of turns that succeeded, the failures by status and code, the slowest
//! turn (a hang would show as a turn at the client timeout), how long each killed worker took
//! to be ready again, and the sessions left `active` or `waiting_approval` once the stack has
//! settled. It exits non-zero when a turn hangs or a session is left stuck.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agentos_e2e::bench::{ScriptedStack, percentile};
use agentos_e2e::procs::kill_9;
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

/// A turn that takes longer than this counts as hung.
const HANG: Duration = Duration::from_secs(30);

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().ok().unwrap_or_else(|| panic!("{name} takes a number")))
        .unwrap_or(default)
}

/// xorshift64: enough randomness to pick a victim, reproducible from `--seed`.
struct Dice(u64);

impl Dice {
    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Every worker's (name, state, pid) from `GET /v1/workers`.
async fn workers(http: &reqwest::Client, base: &str, key: &str) -> Vec<(String, String, Option<u64>)> {
    let Ok(response) = http.get(format!("{base}/v1/workers")).bearer_auth(key).send().await else { return vec![] };
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_string(),
                w["state"].as_str().unwrap_or_default().to_string(),
                w["pid"].as_u64(),
            )
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = arg(&args, "--secs", 60);
    let every = Duration::from_millis(arg(&args, "--every-ms", 3000));
    let seed: u64 = arg(&args, "--seed", 7);

    let ScriptedStack { llm, stack, workspace: _workspace } = ScriptedStack::start("").await;
    let (base, key) = stack.api();
    let http = reqwest::Client::builder().timeout(HANG).build().unwrap();

    // The killer: every `every`, a random ready worker gets SIGKILL; then it times the way back.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (http, base, key, stop) = (http.clone(), base.clone(), key.clone(), stop.clone());
        tokio::spawn(async move {
            let mut dice = Dice(seed.max(1));
            let mut back: Vec<(String, f64)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(every).await;
                let rows = workers(&http, &base, &key).await;
                let ready: Vec<_> = rows.iter().filter(|(_, state, pid)| state == "ready" && pid.is_some()).collect();
                if ready.is_empty() {
                    continue;
                }
                let (name, _, pid) = ready[dice.pick(ready.len())].clone();
                let pid = pid.unwrap();
                kill_9(u32::try_from(pid).unwrap());
                let killed = Instant::now();
                let (http, base, key) = (http.clone(), base.clone(), key.clone());
                // Time the way back before the next kill.
                loop {
                    let rows = workers(&http, &base, &key).await;
                    let again = rows.iter().any(|(n, state, p)| *n == name && state == "ready" && *p != Some(pid));
                    if again || killed.elapsed() > every {
                        back.push((
                            name.clone(),
                            if again { killed.elapsed().as_secs_f64() * 1000.0 } else { f64::NAN },
                        ));
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            back
        })
    };

    let started = Instant::now();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut times = Vec::new();
    let mut turns = 0usize;
    let mut hung = 0usize;
    while started.elapsed() < Duration::from_secs(secs) {
        let with_tool = turns % 3 == 2;
        // Keep the script ahead of the turns: a turn that died half-way leaves replies behind,
        // and every reply is one a turn may take in any position.
        while llm.remaining() < 4 {
            if with_tool {
                llm.push(Reply::tool_calls(vec![ToolCallSpec::new(
                    format!("c{turns}"),
                    "code::read_file",
                    json!({"path": "a.txt"}),
                )]));
            }
            llm.push(Reply::text("Done."));
        }
        let message = if with_tool { "read a.txt" } else { "hello" };
        let t0 = Instant::now();
        let outcome = match http
            .post(format!("{base}/v1/chat"))
            .bearer_auth(&key)
            .json(&json!({"message": message}))
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status == 200 {
                    "200 ok".to_string()
                } else {
                    format!("{status} {}", body["error"]["code"].as_str().unwrap_or("?"))
                }
            }
            Err(e) if e.is_timeout() => {
                hung += 1;
                "hung".to_string()
            }
            Err(e) => format!("transport error: {e}"),
        };
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        *outcomes.entry(outcome).or_default() += 1;
        turns += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let back = killer.await.unwrap();

    // Let the last restart settle, then look for sessions left running.
    tokio::task::block_in_place(|| stack.all_ready());
    let sessions: Value = http
        .get(format!("{base}/v1/sessions"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null);
    let stuck: Vec<String> = sessions["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "active" || s["state"] == "waiting_approval")
        .map(|s| format!("{} ({})", s["id"].as_str().unwrap_or("?"), s["state"].as_str().unwrap_or("?")))
        .collect();

    times.sort_by(f64::total_cmp);
    let ok = outcomes.get("200 ok").copied().unwrap_or(0);
    println!("soak: {secs} s, a random worker killed every {} ms (seed {seed})", every.as_millis());
    println!("turns: {turns}, succeeded: {ok} ({:.1} %)", 100.0 * ok as f64 / turns.max(1) as f64);
    for (outcome, n) in &outcomes {
        println!("  {outcome:<40} {n}");
    }
    println!(
        "turn time: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0)
    );
    let mut ready_ms: Vec<f64> = back.iter().map(|(_, ms)| *ms).filter(|ms| ms.is_finite()).collect();
    ready_ms.sort_by(f64::total_cmp);
    println!(
        "kills: {}, back and ready: {} (p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms)",
        back.len(),
        ready_ms.len(),
        percentile(&ready_ms, 0.5),
        percentile(&ready_ms, 0.9),
        ready_ms.last().copied().unwrap_or(0.0)
    );
    for (name, ms) in &back {
        println!("  {name:<20} {ms:.0} ms");
    }
    println!("sessions left running: {}", if stuck.is_empty() { "none".to_string() } else { stuck.join(", ") });
    if hung > 0 || !stuck.is_empty() {
        std::process::exit(1);
    }
}
