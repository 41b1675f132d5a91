//! `agentos engine`: the embedded engine in the foreground, logging through tracing, stopped
//! cleanly by Ctrl-C or SIGTERM.

use std::path::PathBuf;

use agentos_engine::EngineConfig;
use anyhow::Context;
use clap::Args;

/// Flags of `agentos engine`.
#[derive(Args, Debug)]
pub struct EngineArgs {
    /// An iii `config.yaml`; without one every built-in worker runs with defaults.
    #[arg(long, short = 'c', env = "AGENTOS_ENGINE_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    ports: crate::ports::PortFlags,
    /// Bind host for every port (default 127.0.0.1).
    #[arg(long)]
    host: Option<String>,
    /// Where the engine database lives (default: AGENTOS_HOME/data or the platform data dir).
    #[arg(long, env = "AGENTOS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The engine token file workers authenticate against (default: engine_tokens.json in the
    /// agentos config dir).
    #[arg(long, env = "AGENTOS_ENGINE_TOKENS")]
    tokens_file: Option<PathBuf>,
    /// Accept worker connections without a token. Anyone on this machine (and any web page
    /// via a local proxy) can then run every function: for experiments only.
    #[arg(long)]
    insecure_no_auth: bool,
}

/// Runs the engine until Ctrl-C or SIGTERM.
pub fn run(args: EngineArgs) -> anyhow::Result<()> {
    crate::logging::init_stderr();

    let mut config = match &args.config {
        Some(path) => {
            let (config, warnings) = EngineConfig::load(path)?;
            for w in warnings {
                tracing::warn!("{}: {w}", path.display());
            }
            config
        }
        None => EngineConfig::default(),
    };
    if let Some(host) = &args.host {
        config.host.clone_from(host);
        config.http_host.clone_from(host);
        config.stream_host.clone_from(host);
    }
    if let Some(p) = args.ports.engine_port {
        config.engine_port = p;
    }
    if let Some(p) = args.ports.http_port {
        config.http_port = p;
    }
    if let Some(p) = args.ports.stream_port {
        config.stream_port = p;
    }
    let data_dir = match args.data_dir.clone().or_else(|| config.data_dir.clone()) {
        Some(d) => d,
        None => crate::paths::data_dir()?,
    };

    // agentos's door on the worker socket, unless the config brings its own rules or the user
    // opted out.
    let tokens_file = match &args.tokens_file {
        Some(path) => path.clone(),
        None => agentos_supervisor::home::Home::discover()
            .context("finding the agentos config dir for the engine token file (or pass --tokens-file)")?
            .engine_tokens_file(),
    };
    let secured = if args.insecure_no_auth {
        tracing::warn!(
            "--insecure-no-auth: the worker socket accepts connections WITHOUT a token; any process on this machine can call every function"
        );
        false
    } else if config.worker_security.rbac.is_some() {
        tracing::info!("the config's own rbac rules guard the worker socket");
        false
    } else {
        config.worker_security = crate::engine_security::listener_security();
        true
    };

    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut running = agentos_engine::start_with(config, data_dir, |engine| {
            crate::engine_security::register(engine, tokens_file);
        })
        .await?;
        if secured {
            tracing::info!("worker connections need an engine token");
        }
        println!(
            "agentos engine listening: workers {} · http {} · streams {}",
            running.ws_url(),
            running.http_addr.map(|a| format!("http://{a}")).unwrap_or_else(|| "off".into()),
            running.stream_addr.map(|a| format!("ws://{a}")).unwrap_or_else(|| "off".into())
        );
        let outcome = tokio::select! {
            r = running.wait() => r.map_err(anyhow::Error::from),
            _ = crate::signals::stop_signal() => Ok(()),
        };
        tracing::info!("shutting down");
        running.shutdown().await;
        outcome
    })
}
