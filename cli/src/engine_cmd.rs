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

    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        let mut running = agentos_engine::start(config, data_dir).await?;
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
