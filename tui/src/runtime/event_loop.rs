//! The dashboard's one loop, over any ratatui backend and any stream of terminal events, so
//! tests and benchmarks run it on a `TestBackend` with injected keys exactly as the terminal
//! runs it.
//!
//! Rules it keeps:
//! - One `select!` over: terminal events (keys, mouse, paste, resize), the app's event channel,
//!   the executor's stream items, a [`TICK`] timer, the next frame's deadline, and the `stop`
//!   future. Each handled event marks the screen dirty when it may change it; the loop ends as
//!   soon as `App::should_quit` says so, or when `stop` resolves or the terminal's events end.
//! - Frames are paced by [`FramePacer`]: at most one per interval, never a change left undrawn
//!   longer than one interval.
//! - A burst on the app channel is handled whole before drawing (up to [`BURST`] events), so a
//!   stream of tokens costs one frame, not one per token.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::Event;
use tokio::sync::mpsc;

use super::executor::Executor;
use super::frame::FramePacer;
use crate::app::App;
use crate::event::AppEvent;

/// How often panes get `on_tick` (timers, polls, fading highlights).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(100);
/// The most app events handled in a row before the loop looks at the terminal and the clock.
pub const BURST: usize = 256;

/// Terminal events as the loop reads them.
pub type InputStream = Pin<Box<dyn Stream<Item = std::io::Result<Event>> + Send>>;

/// A sender of terminal events and the stream the loop reads them from (tests, benchmarks).
pub fn input_channel() -> (mpsc::UnboundedSender<std::io::Result<Event>>, InputStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    (tx, Box::pin(stream))
}

/// Runs the dashboard until the user quits, `stop` resolves or `input` ends. `app` must have
/// been built with the sender whose receiver is `rx`; `io` carries out the panes' requests.
/// `on_frame` sees the terminal after every frame (the real terminal ignores it; a benchmark
/// stamps the time or reads the `TestBackend`'s buffer).
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    mut input: S,
    app: &mut App,
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
    io: &mut Executor,
    stop: impl Future<Output = ()>,
    mut on_frame: impl FnMut(&Terminal<B>),
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let mut pacer = FramePacer::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(stop);
    while !app.should_quit() {
        let deadline = pacer.deadline().map(tokio::time::Instant::from_std);
        tokio::select! {
            () = &mut stop => break,
            event = input.next() => match event {
                Some(Ok(event)) => {
                    if on_terminal_event(app, event) {
                        pacer.request();
                    }
                }
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => break,
            },
            Some(event) = rx.recv() => {
                let mut dirty = on_app_event(app, io, event);
                for _ in 1..BURST {
                    let Ok(event) = rx.try_recv() else { break };
                    dirty |= on_app_event(app, io, event);
                }
                if dirty {
                    pacer.request();
                }
            }
            Some((id, event)) = io.next_item() => {
                if let Some(event) = io.accept(id, event) {
                    app.on_event(&event);
                    pacer.request();
                }
            }
            now = tick.tick() => {
                if app.on_tick(now.into_std()) {
                    pacer.request();
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {}
        }
        let now = Instant::now();
        if !app.should_quit() && pacer.due(now) {
            terminal.draw(|frame| app.render(frame))?;
            pacer.drawn(now);
            on_frame(terminal);
        }
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// A terminal event to the app; `true` when the screen may have changed.
fn on_terminal_event(app: &mut App, event: Event) -> bool {
    match event {
        Event::Key(key) => app.on_key(key),
        Event::Mouse(mouse) => app.on_mouse(mouse),
        Event::Paste(text) => app.on_paste(&text),
        // The next draw fits the new size.
        Event::Resize(..) => {}
        Event::FocusGained | Event::FocusLost => return false,
    }
    true
}

/// An app event: IO for the executor, everything else for the app; `true` when the screen may
/// have changed (a request or a stream being opened changes nothing until it is answered).
fn on_app_event(app: &mut App, io: &mut Executor, event: AppEvent) -> bool {
    io.carry_out(&event);
    app.on_event(&event);
    !matches!(event, AppEvent::Request(_) | AppEvent::OpenStream(_) | AppEvent::CloseStream { .. })
}
