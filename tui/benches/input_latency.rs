//! Input-to-screen latency while an answer streams in: the dashboard's real loop
//! (`runtime::run_loop`) on a 160×48 `TestBackend`, a chat turn open, tokens arriving at 200 a
//! second, and a key typed into the composer every 50 ms. For each key it measures the time
//! from handing the key to the loop until the first frame that shows it, and it counts the keys
//! that were not in the first frame drawn after them. Target: no frame skipped for input (each
//! key on screen in the next frame; frames come at most every 16 ms).
//!
//! The turn's request goes to a local socket that accepts and never answers, so the stream
//! stays open; tokens are injected as the executor would deliver them.
//!
//! Run with `cargo bench -p agentos-tui --bench input_latency`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentos_tui::app::{App, AppOptions};
use agentos_tui::event::{AppEvent, AppEventSender, PaneId, StreamItem};
use agentos_tui::runtime::{Endpoint, Executor, input_channel, run_loop};
use agentos_tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

/// Keys typed while the answer streams.
const KEYS: usize = 100;
/// Time between two keys.
const KEY_EVERY: Duration = Duration::from_millis(50);
/// Time between two tokens (200 a second).
const TOKEN_EVERY: Duration = Duration::from_millis(5);
/// The frame interval of the loop.
const FRAME: Duration = Duration::from_millis(16);

/// When a key was first on screen, and in which frame.
type Seen = Option<(Instant, usize)>;

fn key(code: KeyCode) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn screen(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The text typed after `n` keys: a marker word the transcript never holds.
fn typed(n: usize) -> String {
    (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect::<String>()
}

fn main() -> anyhow::Result<()> {
    // Accepts connections (the kernel's backlog) and never answers them.
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", silent.local_addr()?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let (tx, mut rx) = AppEventSender::channel();
        let mut app = App::new(tx.clone(), AppOptions { theme: Theme { color: true }, ..AppOptions::default() });
        let mut io = Executor::new(Endpoint::new(&base, None, "bench".into())?, tx.clone());
        let mut terminal = Terminal::new(TestBackend::new(160, 48))?;
        let (keys, input) = input_channel();

        // Open a turn: the message goes out as a stream that stays open.
        for c in "start".chars() {
            keys.send(key(KeyCode::Char(c)))?;
        }
        keys.send(key(KeyCode::Enter))?;

        // When each key was handed over, with the number of frames drawn by then; when (and in
        // which frame) it was first on screen.
        let sent: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::new(Mutex::new(Vec::new()));
        let shown: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(vec![None; KEYS]));
        let frames = Arc::new(Mutex::new(0usize));

        let tokens = tx.clone();
        let feeder = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut tick = tokio::time::interval(TOKEN_EVERY);
            for i in 0.. {
                tick.tick().await;
                let word = if i % 12 == 11 { "word.\n\n".to_string() } else { format!("word{i} ") };
                tokens.send(AppEvent::Stream {
                    to: PaneId::Chat,
                    key: "turn-1".into(),
                    item: StreamItem::Event { name: "token".into(), data: json!({"text": word}) },
                });
            }
        });
        let typist = {
            let sent = sent.clone();
            let frames = frames.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                for i in 0..KEYS {
                    let c = char::from(b'a' + (i % 26) as u8);
                    let at = Instant::now();
                    if keys.send(key(KeyCode::Char(c))).is_err() {
                        break;
                    }
                    // Frames drawn by now: one being drawn while the key was handed over
                    // could not have shown it, so the first frame that can is the next one.
                    let drawn = *frames.lock().unwrap_or_else(|e| e.into_inner());
                    sent.lock().unwrap_or_else(|e| e.into_inner()).push((at, drawn));
                    tokio::time::sleep(KEY_EVERY).await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            })
        };

        let stop = {
            let typist_done = typist;
            async move {
                let _ = typist_done.await;
            }
        };
        let (sent_frames, shown_frames, frame_count) = (sent.clone(), shown.clone(), frames.clone());
        run_loop(&mut terminal, input, &mut app, &mut rx, &mut io, stop, |terminal| {
            let now = Instant::now();
            let frame = {
                let mut count = frame_count.lock().unwrap_or_else(|e| e.into_inner());
                *count += 1;
                *count
            };
            let count = sent_frames.lock().unwrap_or_else(|e| e.into_inner()).len();
            if count == 0 {
                return;
            }
            let text = screen(terminal);
            let mut shown = shown_frames.lock().unwrap_or_else(|e| e.into_inner());
            for n in (1..=count).rev() {
                if shown[n - 1].is_some() {
                    break;
                }
                if text.contains(&typed(n)) {
                    for slot in shown.iter_mut().take(n) {
                        slot.get_or_insert((now, frame));
                    }
                    break;
                }
            }
        })
        .await?;
        feeder.abort();

        let sent = sent.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let shown = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut latencies: Vec<Duration> = Vec::new();
        let mut skipped = 0;
        for ((at, drawn), seen) in sent.iter().zip(&shown) {
            if let Some((when, frame)) = seen {
                latencies.push(when.saturating_duration_since(*at));
                // The first frame drawn after the key is frame `drawn + 1`.
                skipped += usize::from(*frame > drawn + 1);
            }
        }
        let missing = sent.len() - latencies.len();
        latencies.sort();
        let pick = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
        let late = latencies.iter().filter(|l| **l > FRAME + Duration::from_millis(4)).count();
        println!("keys typed: {}, tokens at 200/s, frames drawn: {}", sent.len(), frames.lock().unwrap_or_else(|e| e.into_inner()));
        println!(
            "input to screen: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            pick(0.5).as_secs_f64() * 1e3,
            pick(0.99).as_secs_f64() * 1e3,
            pick(1.0).as_secs_f64() * 1e3
        );
        println!(
            "keys not in the first frame after them: {skipped}; later than one frame interval + 4 ms ({} ms): {late}; never shown: {missing}",
            FRAME.as_millis() + 4
        );
        let verdict = if skipped == 0 && missing == 0 { "met" } else { "NOT met" };
        println!("target (no frame skipped for input): {verdict}");
        Ok(())
    })
}
