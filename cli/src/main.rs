//! `agentos`: the one binary. Subcommands dispatch to the engine (and, as they land, the
//! supervisor, workers and dashboard).

mod engine_cmd;
mod paths;

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
    /// Run only the embedded iii-compatible engine, in the foreground.
    Engine(engine_cmd::EngineArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Engine(args) => engine_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("agentos: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
