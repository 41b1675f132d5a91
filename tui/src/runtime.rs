//! The runtime: the terminal, the loop, and the IO the panes ask for.
//!
//! [`run`] takes over the terminal ([`terminal`]), builds the [`App`], starts the [`Executor`]
//! (calls, streams, the live event feed and the connection watcher) and runs [`run_loop`] until
//! the user quits. The loop itself is generic over the ratatui backend and the source of terminal
//! events, so tests and benchmarks drive the very same loop on a `TestBackend`.
//!
//! Rules it keeps (house style rule 5): one event enum, one loop, frames only on request; all IO
//! in spawned tasks, so the loop never waits on the network.
//!
//! - [`http`]: one call, one stream, error bodies.
//! - [`connection`]: the event feed, reachability, backoff.
//! - [`executor`]: carries out `Request`, `OpenStream`, `CloseStream`.
//! - [`frame`]: when to draw.
//! - [`event_loop`]: the loop.
//! - [`terminal`]: raw mode, alternate screen, restore on exit and on panic.

pub mod connection;
pub mod event_loop;
pub mod executor;
pub mod frame;
pub mod http;
pub mod terminal;

#[cfg(test)]
mod tests;

use std::future::Future;

use anyhow::Context;
use ratatui::crossterm::event::EventStream;

pub use event_loop::{InputStream, input_channel, run_loop};
pub use executor::Executor;
pub use http::Endpoint;

use crate::app::{App, AppOptions};
use crate::event::AppEventSender;

/// What the dashboard needs: where the stack is, the key, who is at the keyboard, what to open.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The REST base URL (`http://127.0.0.1:3111`).
    pub base_url: String,
    /// The API key (`Authorization: Bearer`), when the stack has one.
    pub api_key: Option<String>,
    /// Sent as `x-agentos-user` with every call.
    pub user: String,
    pub app: AppOptions,
}

/// Runs the dashboard in this terminal until the user quits.
pub async fn run(options: RunOptions) -> anyhow::Result<()> {
    run_until(options, std::future::pending()).await
}

/// Runs the dashboard until the user quits or `stop` resolves (the stack went away, a signal).
/// The terminal is restored before this returns, whatever the outcome.
pub async fn run_until(options: RunOptions, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let endpoint =
        Endpoint::new(&options.base_url, options.api_key, options.user).context("building the HTTP client")?;
    let (tx, mut rx) = AppEventSender::channel();
    let mut io = Executor::new(endpoint, tx.clone());
    io.watch_bus();
    let mut app = App::new(tx, options.app);
    let mut guard = terminal::TerminalGuard::enter().context("taking over the terminal (is stdout a terminal?)")?;
    let result = run_loop(guard.terminal_mut(), EventStream::new(), &mut app, &mut rx, &mut io, stop, |_| {}).await;
    drop(guard);
    result
}
