//! How long the trace pane takes to draw a frame of a large trace.
//!
//! A trace of 5,000 spans (a wide four-way tree with deep chains hanging off it) is opened in the
//! trace pane, with colour on, and drawn into a 160×48 `TestBackend`. It times loading the tree
//! (parsing, flattening, the critical path), the first frame, then frames while the selection
//! moves down one span, pages, collapses and expands subtrees, and moves with the span detail
//! open, and prints the p50 and p99 of each (wall time, key handling included), and on Linux the
//! mean CPU time a frame took, which other processes on a busy machine do not inflate. The
//! target is under 4 ms a frame.
//!
//! Run with `cargo bench -p agentos-tui --bench trace_render`. Without `--bench` (as `cargo test
//! --all-targets` runs it) it draws a few frames of each only, to check that it still works.

use std::time::{Duration, Instant};

use agentos_tui::event::{AppEvent, AppEventSender, PaneId};
use agentos_tui::pane::Pane;
use agentos_tui::panes::trace::TracePane;
use agentos_tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

/// Spans in the trace.
const SPANS: usize = 5_000;
/// Frames timed per scenario.
const FRAMES: usize = 500;
/// What a frame may cost.
const TARGET: Duration = Duration::from_millis(4);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

const FUNCTIONS: [&str; 6] =
    ["llm::complete", "code::read_file", "memory::recall", "context::build", "guard::check", "code::run_command"];

/// Each span's parent: a four-way tree for the first nine tenths, then chains of 50 spans
/// hanging off it, so some paths run about 55 levels deep.
fn parents(n: usize) -> Vec<Option<usize>> {
    let chains_from = n * 9 / 10;
    (0..n)
        .map(|i| match i {
            0 => None,
            i if i > chains_from && i % 50 != 0 => Some(i - 1),
            i => Some((i - 1) / 4),
        })
        .collect()
}

/// The `{trace_id, roots}` answer for a trace of `n` spans.
fn trace(n: usize) -> Value {
    let parents = parents(n);
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in parents.iter().enumerate() {
        if let Some(p) = p {
            children[*p].push(i);
        }
    }
    // Times top-down: each child gets an equal slot of its parent's time, less a margin.
    let mut times = vec![(0_i64, 10_000_000_000_i64); n];
    for i in 0..n {
        let (start, end) = times[i];
        let kids = &children[i];
        let slot = (end - start) / (kids.len() as i64 + 1);
        for (k, &c) in kids.iter().enumerate() {
            let from = start + slot * k as i64 + slot / 4;
            times[c] = (from, from + slot * 3 / 4 + (c as i64 % 7) * 1_000);
        }
    }
    // Values bottom-up: a child always has a larger index than its parent.
    let mut values: Vec<Option<Value>> = vec![None; n];
    for i in (0..n).rev() {
        let kids: Vec<Value> = children[i].iter().filter_map(|&c| values[c].take()).collect();
        let function = FUNCTIONS[i % FUNCTIONS.len()];
        let mut span = json!({
            "trace_id": TRACE, "span_id": format!("{i:016x}"), "parent_span_id": parents[i].map(|p| format!("{p:016x}")),
            "name": format!("call {function}"), "function_id": function,
            "worker_id": format!("{:08x}-0000-4000-8000-000000000000", i % 13),
            "start_time_unix_nano": times[i].0, "end_time_unix_nano": times[i].1,
            "duration_ms": (times[i].1 - times[i].0) as f64 / 1e6, "status": "ok",
            "attributes": [["function_id", function], ["caller_worker_id", "9d1e77c0-5b1f-4c1e-9a55-0f3e2b7d6c11"]],
        });
        span["children"] = Value::Array(kids);
        if i % 97 == 0 {
            span["status"] = json!("error");
            span["error"] = json!({"code": "TIMEOUT", "message": format!("{function} did not answer in time")});
        }
        values[i] = Some(span);
    }
    json!({"trace_id": TRACE, "roots": [values[0].take()]})
}

fn press(pane: &mut TracePane, code: KeyCode) {
    pane.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// CPU time this thread has run, in ns (Linux's schedstat; `None` elsewhere). The kernel
/// updates it at scheduler ticks, so it is read around a whole scenario, never one frame.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// The p50 and p99 of `samples`.
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.50), at(0.99))
}

struct Bench {
    terminal: Terminal<TestBackend>,
    pane: TracePane,
    frames: usize,
    worst_p99: Duration,
}

impl Bench {
    fn draw(&mut self) -> anyhow::Result<Duration> {
        let pane = &mut self.pane;
        let started = Instant::now();
        self.terminal.draw(|frame| pane.render(frame, frame.area()))?;
        Ok(started.elapsed())
    }

    /// Times `frames` frames, each after `step` changed the pane, and prints the percentiles.
    fn scenario(&mut self, name: &str, mut step: impl FnMut(&mut TracePane, usize)) -> anyhow::Result<()> {
        let mut samples = Vec::with_capacity(self.frames);
        let cpu_before = cpu_ns();
        for i in 0..self.frames {
            let started = Instant::now();
            step(&mut self.pane, i);
            let keyed = started.elapsed();
            samples.push(keyed + self.draw()?);
        }
        let cpu = match (cpu_before, cpu_ns()) {
            (Some(a), Some(b)) => {
                format!("   cpu mean {:>10.2?}", Duration::from_nanos(b.saturating_sub(a) / self.frames as u64))
            }
            _ => String::new(),
        };
        let (p50, p99) = percentiles(samples);
        self.worst_p99 = self.worst_p99.max(p99);
        println!("{name:<40} p50 {p50:>10.2?}   p99 {p99:>10.2?}{cpu}");
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let frames = if full { FRAMES } else { 5 };
    let answer = trace(SPANS);
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme { color: true }, Some(TRACE.to_string()));
    let started = Instant::now();
    pane.on_event(&AppEvent::Response { to: PaneId::Trace, key: format!("tree:{TRACE}"), result: Ok(answer) });
    let load = started.elapsed();
    let spans = pane.view().map_or(0, |v| v.tree.spans.len());
    let depth = pane.view().map_or(0, |v| v.tree.spans.iter().map(|s| s.depth).max().unwrap_or(0));
    println!("trace of {spans} spans, {depth} levels deep, drawn at 160×48 ({frames} frames a scenario)");
    println!("{:<40} {load:>14.2?}", "load (parse, flatten, critical path)");

    let mut bench =
        Bench { terminal: Terminal::new(TestBackend::new(160, 48))?, pane, frames, worst_p99: Duration::ZERO };
    let first = bench.draw()?;
    println!("{:<40} {first:>14.2?}", "first frame");

    bench.scenario("selection down one span", |pane, _| press(pane, KeyCode::Down))?;
    bench.scenario("page down, to the end, back home", |pane, i| {
        press(
            pane,
            if i % 20 == 19 {
                KeyCode::Home
            } else if i % 10 == 9 {
                KeyCode::End
            } else {
                KeyCode::PageDown
            },
        )
    })?;
    bench.scenario("collapse and expand a subtree", |pane, i| {
        press(pane, if i % 2 == 0 { KeyCode::Left } else { KeyCode::Right });
        if i % 4 == 3 {
            press(pane, KeyCode::Down);
        }
    })?;
    press(&mut bench.pane, KeyCode::Home);
    press(&mut bench.pane, KeyCode::Enter);
    bench.scenario("selection down, detail open", |pane, _| press(pane, KeyCode::Down))?;

    let verdict = if bench.worst_p99 < TARGET { "within" } else { "OVER" };
    println!("worst p99 {:.2?}: {verdict} the {TARGET:?} target", bench.worst_p99);
    Ok(())
}
