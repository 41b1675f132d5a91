//! `agentos tui [--pane P] [--hand H]`: the dashboard, attached to the running stack. `up`,
//! `replay` and `trace` open it through [`open`] too.
//!
//! Rules it keeps:
//! - The stack is found as every other command finds it (the runtime file and the key file, or
//!   `AGENTOS_API_KEY`); without a running stack the error names `agentos up`.
//! - The dashboard needs a terminal on stdin and stdout ([`on_terminal`]); commands that can
//!   print instead decide with it, `agentos tui` itself refuses without one.
//! - Calls carry `x-agentos-user: $USER` (`unknown` when unset); colour follows `NO_COLOR`.
//! - SIGTERM and SIGHUP close the dashboard cleanly (the terminal is restored).

use std::future::Future;
use std::io::IsTerminal;

use agentos_supervisor::Home;
use agentos_supervisor::runtime::RuntimeInfo;
use agentos_tui::{AppOptions, PaneId, RunOptions, Theme};
use anyhow::{Context, anyhow};

/// The routes the dashboard calls besides those of the commands (`status`, `chat`, `approvals`,
/// `sessions`, `replay`, `trace`), for `doctor`.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/v1/events"), ("GET", "/v1/workers/:name/logs")];

/// `agentos tui`'s arguments.
#[derive(Debug, clap::Args)]
pub struct TuiArgs {
    /// The pane to open on.
    #[arg(long, value_enum, default_value_t = Pane::Chat)]
    pub pane: Pane,
    /// The chat's hand (default: the server's).
    #[arg(long)]
    pub hand: Option<String>,
}

/// The panes `--pane` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pane {
    Chat,
    Approvals,
    Trace,
    Replay,
    Workers,
}

impl From<Pane> for PaneId {
    fn from(pane: Pane) -> Self {
        match pane {
            Pane::Chat => PaneId::Chat,
            Pane::Approvals => PaneId::Approvals,
            Pane::Trace => PaneId::Trace,
            Pane::Replay => PaneId::Replay,
            Pane::Workers => PaneId::Workers,
        }
    }
}

/// Runs `agentos tui`.
pub fn run(args: TuiArgs) -> anyhow::Result<()> {
    if !on_terminal() {
        return Err(anyhow!(
            "the dashboard needs a terminal (stdin and stdout); for scripts use `agentos status`, `agentos chat`, `agentos trace` or `agentos replay --print`"
        ));
    }
    open(AppOptions { hand: args.hand, ..options(args.pane.into()) })
}

/// Whether stdin and stdout are both terminals, as the dashboard needs.
pub fn on_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The dashboard's options opening on `pane`, with the theme `NO_COLOR` asks for.
pub fn options(pane: PaneId) -> AppOptions {
    AppOptions { theme: Theme::from_env(), pane, ..AppOptions::default() }
}

/// Who is at the keyboard: `$USER`, else `unknown`.
pub fn user() -> String {
    std::env::var("USER").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "unknown".to_string())
}

/// Where the running stack is and its key; an error naming `agentos up` when none runs.
pub fn attach(app: AppOptions) -> anyhow::Result<RunOptions> {
    let home = Home::discover()?;
    let info = RuntimeInfo::read(&home).ok_or_else(|| anyhow!("agentos is not running; start it with `agentos up`"))?;
    if !agentos_supervisor::spawn::alive(info.pid) {
        return Err(anyhow!(
            "agentos is not running (the stack that wrote {} is gone); start it with `agentos up`",
            home.runtime_file().display()
        ));
    }
    let api_key = agentos_supervisor::api_key::load(&home).context("reading the API key")?;
    Ok(RunOptions { base_url: info.http_url, api_key, user: user(), app })
}

/// Opens the dashboard on the running stack until the user quits it.
pub fn open(app: AppOptions) -> anyhow::Result<()> {
    let options = attach(app)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(agentos_tui::runtime::run_until(options, closing_signal()))
}

/// Resolves at SIGTERM or SIGHUP (the terminal went away). Ctrl-C needs no signal: in raw mode
/// it reaches the dashboard as a key.
pub fn closing_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    async {
        let (Ok(mut term), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hangup.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_pane_flag_names_its_pane() {
        let panes: Vec<PaneId> = [Pane::Chat, Pane::Approvals, Pane::Trace, Pane::Replay, Pane::Workers]
            .into_iter()
            .map(PaneId::from)
            .collect();
        assert_eq!(panes, PaneId::TABS.to_vec());
    }
}
