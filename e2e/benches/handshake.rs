//! What the engine's token check adds to a worker connection: `agentos engine` with agentos's
//! door (the auth function reading engine_tokens.json, before the upgrade) against
//! `agentos engine --insecure-no-auth`, each timed over sequential WebSocket handshakes (connect,
//! upgrade, close) from one client.
//!
//! `cargo build --release -p agentos && cargo bench -p agentos-e2e --bench handshake [-- --n N]`
//! (default 500 per engine, after 50 warm-up handshakes).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agentos_e2e::{Proc, agentos_binary};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Starts `agentos engine` on free ports; returns it and its worker socket URL.
fn engine(dir: &std::path::Path, extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(agentos_binary())
        .args(["engine", "--engine-port", "0", "--http-port", "0", "--stream-port", "0", "--data-dir"])
        .arg(dir.join(format!("data{}", extra.len())))
        .arg("--tokens-file")
        .arg(dir.join("engine_tokens.json"))
        .args(extra)
        .env("AGENTOS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.find_map(|l| l.ok().filter(|l| l.starts_with("agentos engine listening:"))).unwrap();
    std::thread::spawn(move || for _ in lines {});
    let url = line.split_whitespace().find(|w| w.starts_with("ws://")).unwrap().to_string();
    (Proc::new(child), url)
}

async fn handshakes(url: &str, token: Option<&str>, n: usize) -> Vec<f64> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let started = Instant::now();
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        socket.close(None).await.ok();
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--n")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--n N"))
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(agentos_binary())
        .args(["token", "create", "bench", "--namespaces", "bench", "--tokens-file"])
        .arg(dir.path().join("engine_tokens.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let (_secured, secured_url) = engine(dir.path(), &[]);
    let (_open, open_url) = engine(dir.path(), &["--insecure-no-auth"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    handshakes(&secured_url, Some(&token), 50).await;
    handshakes(&open_url, None, 50).await;
    let secured = handshakes(&secured_url, Some(&token), n).await;
    let open = handshakes(&open_url, None, n).await;
    let (s50, s99) = (percentile(&secured, 0.5), percentile(&secured, 0.99));
    let (o50, o99) = (percentile(&open, 0.5), percentile(&open, 0.99));
    println!("handshakes: {n} each");
    println!("with the token check   p50 {s50:.3} ms  p99 {s99:.3} ms");
    println!("--insecure-no-auth     p50 {o50:.3} ms  p99 {o99:.3} ms");
    println!("added by the check     p50 {:.3} ms", s50 - o50);
}
