//! `agentos`: the one binary. `up` supervises the stack; `engine` and `worker <name>` are what
//! the supervisor runs as child processes; the rest are HTTP clients of a running stack.

mod approvals;
mod capabilities;
mod catalogue;
mod chat;
mod client;
mod doctor;
mod down;
mod engine_cmd;
mod engine_security;
mod logging;
mod memory;
mod models;
mod paths;
mod ports;
mod replay;
mod resources;
mod sessions;
mod signals;
mod status;
mod table;
mod theme;
mod token;
mod trace;
mod tui;
mod up;

use clap::{Parser, Subcommand};

/// agentos: a terminal-first agent operating system.
#[derive(Parser)]
#[command(name = "agentos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the engine and every enabled worker, and supervise them.
    Up(up::UpArgs),
    /// Stop a running stack (workers first, the engine last).
    Down,
    /// Every worker's state, pid, restarts, uptime and functions.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show a worker's log (also `engine` and `supervisor`).
    Logs {
        /// The worker.
        worker: String,
        /// Keep printing new lines.
        #[arg(short, long)]
        follow: bool,
        /// How many lines to show first.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// Restart one worker.
    Restart {
        /// The worker.
        worker: String,
    },
    /// Check a running stack and say how to fix what is wrong.
    Doctor,
    /// Chat with the agent: one turn with a message, else interactive (or stdin).
    Chat(chat::ChatArgs),
    /// Realms, the unit of tenancy: list, get, create, delete, export, import.
    Realm {
        #[command(subcommand)]
        command: resources::realm::RealmCommand,
    },
    /// Agents: list, get, create, delete.
    Agent {
        #[command(subcommand)]
        command: resources::agent::AgentCommand,
    },
    /// Hands, the agent personas: list, get, reload, run.
    Hand {
        #[command(subcommand)]
        command: resources::hand::HandCommand,
    },
    /// Sessions: list (newest first), rename, close.
    Sessions(sessions::SessionsArgs),
    /// Replay a recorded session step by step (by id or name).
    Replay(replay::ReplayArgs),
    /// Show a trace (or every trace of a session) as a span waterfall.
    Trace(trace::TraceArgs),
    /// The dashboard (chat, approvals, traces, replay, workers) on the running stack.
    Tui(tui::TuiArgs),
    /// Approval requests: list the pending ones (--all for history), approve, deny, remembered rules.
    Approvals(approvals::ApprovalsArgs),
    /// The approval policy: which tier a tool call gets, and why.
    Policy {
        #[command(subcommand)]
        command: approvals::PolicyCommand,
    },
    /// Local models: install the embedding model (with a checksum check), show its status.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Long-term memory: add, search, forget.
    Memory {
        #[command(subcommand)]
        command: memory::MemoryCommand,
    },
    /// Engine tokens for your own workers: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Run only the embedded iii-compatible engine, in the foreground.
    Engine(engine_cmd::EngineArgs),
    /// Run one worker in the foreground (what `up` spawns).
    Worker {
        /// The worker's name.
        name: String,
        /// The engine to serve (default: AGENTOS_ENGINE_URL, else ws://127.0.0.1:49134).
        #[arg(long)]
        engine: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Down => down::run(),
        Command::Status { json } => status::status(json),
        Command::Logs { worker, follow, lines } => status::logs(&worker, follow, lines),
        Command::Restart { worker } => status::restart(&worker),
        Command::Doctor => match doctor::run() {
            Ok(problems) if problems.is_empty() => {
                println!("everything looks fine");
                Ok(())
            }
            Ok(problems) => {
                for p in &problems {
                    println!("✗ {p}");
                }
                Err(anyhow::anyhow!("{} problem(s) found", problems.len()))
            }
            Err(e) => Err(e),
        },
        Command::Chat(args) => chat::run(args),
        Command::Realm { command } => resources::realm::run(command),
        Command::Agent { command } => resources::agent::run(command),
        Command::Hand { command } => resources::hand::run(command),
        Command::Sessions(args) => sessions::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Tui(args) => tui::run(args),
        Command::Approvals(args) => approvals::run(args),
        Command::Policy { command } => approvals::run_policy(command),
        Command::Models { command } => models::run(command),
        Command::Memory { command } => memory::run(command),
        Command::Token { command } => token::run(command),
        Command::Engine(args) => engine_cmd::run(args),
        Command::Worker { name, engine } => run_worker(&name, engine.as_deref()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("agentos: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_worker(name: &str, engine: Option<&str>) -> anyhow::Result<()> {
    let Some(entry) = catalogue::find(name) else {
        return Err(anyhow::anyhow!("no worker named '{name}'; known: {}", catalogue::names().join(", ")));
    };
    if let Some(url) = engine {
        agentos_kit::set_engine_url(url);
    }
    logging::init_stderr();
    (entry.run)().map_err(|e| anyhow::anyhow!(e))
}
