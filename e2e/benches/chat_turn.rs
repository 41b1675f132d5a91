//! What agentos adds to a chat turn: a whole stack (`agentos up`, every worker its own process,
//! release build) against the scripted OpenAI server, timed from an HTTP client, minus the time
//! the same client needs for the LLM calls alone.
//!
//! `cargo bench -p agentos-e2e --bench chat_turn [-- --turns N] [--profile]` (default 300 per
//! scenario). `--profile` prints the engine's span tree of the median turn of each `POST
//! /v1/chat` scenario: where that turn's time went, call by call.
//! Scenarios: a turn without tools (`POST /v1/chat`: 1 LLM call), a turn with one tool call
//! (`code::read_file`: 2 LLM calls), and the first as `POST /v1/chat/stream` (events and tokens
//! through iii channels). Overhead per turn = turn time − LLM calls × the LLM-only p50; per
//! tool call = overhead of the tool turn − overhead of the plain turn.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_e2e::bench::{ScriptedStack, percentile};
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

fn summary(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One span and its children: start offset and duration in ms, indented by depth.
fn print_span(span: &Value, origin: u64, depth: usize) {
    let start = span["start_time_unix_nano"].as_u64().unwrap_or(origin).saturating_sub(origin) as f64 / 1e6;
    let duration = span["duration_ms"].as_f64().unwrap_or(0.0);
    let name = span["name"].as_str().unwrap_or("?");
    println!("  {start:>8.2} {duration:>8.2}  {}{name}", "  ".repeat(depth));
    for child in span["children"].as_array().into_iter().flatten() {
        print_span(child, origin, depth + 1);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let turns: usize = args
        .iter()
        .position(|a| a == "--turns")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--turns N"))
        .unwrap_or(300);
    let warmup = (turns / 10).max(5);
    let profile = args.iter().any(|a| a == "--profile");

    let ScriptedStack { llm, stack, workspace: _workspace } =
        ScriptedStack::start("[workers.env.llm-router]\nAGENTOS_LOG = \"warn\"\n").await;
    let base_url = llm.openai_base_url();
    let (base, key) = stack.api();
    let http = reqwest::Client::new();

    // The LLM alone: the same client, the same server, a request of the size a turn sends.
    let llm_request = |stream: bool| {
        json!({"model": "gpt-test", "stream": stream, "messages": [
            {"role": "system", "content": "You are coder.".repeat(150)},
            {"role": "user", "content": "hi"}
        ]})
    };
    let mut llm_plain = Vec::new();
    let mut llm_stream = Vec::new();
    for i in 0..warmup + turns {
        for (stream, samples) in [(false, &mut llm_plain), (true, &mut llm_stream)] {
            llm.push(Reply::text("Hello there, this is a short answer."));
            let started = Instant::now();
            let response = http
                .post(format!("{base_url}/chat/completions"))
                .bearer_auth("sk-test")
                .json(&llm_request(stream))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            response.bytes().await.unwrap();
            if i >= warmup {
                samples.push(ms(started.elapsed()));
            }
        }
    }
    let (llm_plain_p50, llm_plain_p99) = summary(llm_plain);
    let (llm_stream_p50, llm_stream_p99) = summary(llm_stream);

    let mut rows = Vec::new();
    let scenarios: [(&str, &str, usize); 3] = [
        ("POST /v1/chat, no tools", "/v1/chat", 0),
        ("POST /v1/chat, 1 tool call (code::read_file)", "/v1/chat", 1),
        ("POST /v1/chat/stream, no tools", "/v1/chat/stream", 0),
    ];
    let mut plain_overhead = (0.0, 0.0);
    for (name, path, tools) in scenarios {
        let mut times = Vec::new();
        let mut overheads = Vec::new();
        let mut traced: Vec<(f64, String)> = Vec::new();
        let llm_calls = 1 + tools;
        let llm_p50 = if path.ends_with("stream") { llm_stream_p50 } else { llm_plain_p50 };
        for i in 0..warmup + turns {
            if tools == 1 {
                llm.push(Reply::tool_calls(vec![ToolCallSpec::new("c1", "code__read_file", json!({"path": "a.txt"}))]));
            }
            llm.push(Reply::text("Hello there, this is a short answer."));
            let started = Instant::now();
            let response = http
                .post(format!("{base}{path}"))
                .bearer_auth(&key)
                .json(&json!({"message": "read a.txt and tell me", "hand": "coder"}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.text().await.unwrap());
            let body = response.text().await.unwrap();
            let elapsed = ms(started.elapsed());
            if path.ends_with("stream") {
                assert!(body.contains("event: done"), "{body}");
            } else {
                let answer: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(answer["tool_calls"].as_array().unwrap().len(), tools, "{answer:#}");
                if let Some(trace) = answer["trace_id"].as_str().filter(|_| i >= warmup) {
                    traced.push((elapsed, trace.to_string()));
                }
            }
            if i >= warmup {
                times.push(elapsed);
                overheads.push(elapsed - llm_calls as f64 * llm_p50);
            }
        }
        if profile && !traced.is_empty() {
            traced.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (elapsed, trace) = &traced[traced.len() / 2];
            let tree: Value = http
                .get(format!("{base}/v1/traces/{trace}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            println!("\n{name}: the median turn ({elapsed:.2} ms at the client), span by span:");
            let roots = tree["roots"].as_array().cloned().unwrap_or_default();
            let origin = roots.iter().filter_map(|r| r["start_time_unix_nano"].as_u64()).min().unwrap_or(0);
            for root in &roots {
                print_span(root, origin, 0);
            }
        }
        let (p50, p99) = summary(times);
        let (o50, o99) = summary(overheads);
        if tools == 0 && !path.ends_with("stream") {
            plain_overhead = (o50, o99);
        }
        rows.push(format!("| {name} | {turns} | {llm_calls} | {p50:.2} | {p99:.2} | {o50:.2} | {o99:.2} |"));
        if tools == 1 {
            rows.push(format!(
                "| per tool call (tool turn − plain turn − 1 LLM call) | | | | | {:.2} | {:.2} |",
                o50 - plain_overhead.0,
                o99 - plain_overhead.1
            ));
        }
    }

    println!(
        "LLM alone (same client → scripted server): plain p50 {llm_plain_p50:.2} ms p99 {llm_plain_p99:.2} ms; streamed p50 {llm_stream_p50:.2} ms p99 {llm_stream_p99:.2} ms\n"
    );
    println!("| scenario | turns | LLM calls | turn p50 ms | turn p99 ms | overhead p50 ms | overhead p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    drop(stack);
}
