//! `agentos token create|list|revoke`: engine tokens for your own workers.
//!
//! A token names an identity and the namespaces it owns; a worker presenting it may register
//! functions only there, and call its own namespaces plus what `--call` grants. The token is
//! printed once; the file keeps only its digest.

use std::path::PathBuf;

use agentos_worker_security_map::tokens::{Kind, TokenFile};
use anyhow::Context;
use clap::Subcommand;

/// `agentos token …`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make (or remake) a token for a worker of yours; prints it once.
    Create {
        /// The identity's name (lower case, digits, '-' or '_').
        name: String,
        /// The namespaces it owns, comma-separated (its functions are `ns::verb`).
        #[arg(long, value_delimiter = ',', required = true)]
        namespaces: Vec<String>,
        /// Function patterns it may call besides its own, comma-separated (e.g. `llm::complete,memory::*`).
        #[arg(long, value_delimiter = ',')]
        call: Vec<String>,
        /// The token file (default: engine_tokens.json in the agentos config dir).
        #[arg(long, env = "AGENTOS_ENGINE_TOKENS")]
        tokens_file: Option<PathBuf>,
    },
    /// Every identity: built-in workers and yours, with their namespaces.
    List {
        /// The token file (default: engine_tokens.json in the agentos config dir).
        #[arg(long, env = "AGENTOS_ENGINE_TOKENS")]
        tokens_file: Option<PathBuf>,
    },
    /// Remove one of your tokens; a worker using it can no longer connect.
    Revoke {
        /// The identity's name.
        name: String,
        /// The token file (default: engine_tokens.json in the agentos config dir).
        #[arg(long, env = "AGENTOS_ENGINE_TOKENS")]
        tokens_file: Option<PathBuf>,
    },
}

fn tokens_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => Ok(agentos_supervisor::home::Home::discover()
            .context("finding the agentos config dir (or pass --tokens-file)")?
            .engine_tokens_file()),
    }
}

/// The namespaces agentos's own workers own: no token may take them.
fn builtin_namespaces() -> Vec<String> {
    let mut all: Vec<String> =
        crate::catalogue::all().iter().flat_map(|e| agentos_supervisor::run::namespaces_of(e.manifest)).collect();
    all.push("supervisor".into());
    all
}

/// Runs a token command.
pub fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, namespaces, call, tokens_file } => {
            let path = tokens_path(tokens_file)?;
            let mut file = TokenFile::load(&path)?;
            let token = file.create_external(&name, &namespaces, &call, &builtin_namespaces())?;
            file.save(&path)?;
            eprintln!(
                "token for {name} (namespaces {}); shown once, keep it secret. A worker presents it as \
                 Authorization: Bearer <token> (the agentos kit reads AGENTOS_ENGINE_TOKEN or III_TOKEN):",
                namespaces.join(", ")
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { tokens_file } => {
            let path = tokens_path(tokens_file)?;
            let file = TokenFile::load(&path)?;
            println!("{:<20} {:<9} {:<30} CALLS", "IDENTITY", "KIND", "NAMESPACES");
            for e in &file.entries {
                let kind = match e.kind {
                    Kind::Worker => "worker",
                    Kind::External => "external",
                };
                println!("{:<20} {:<9} {:<30} {}", e.identity, kind, e.namespaces.join(","), e.calls.join(","));
            }
            Ok(())
        }
        TokenCommand::Revoke { name, tokens_file } => {
            let path = tokens_path(tokens_file)?;
            let mut file = TokenFile::load(&path)?;
            if !file.remove_external(&name) {
                anyhow::bail!("no token of yours is named {name}; see `agentos token list`");
            }
            file.save(&path)?;
            println!("revoked {name}");
            Ok(())
        }
    }
}
