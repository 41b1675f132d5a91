//! The port flags `up` and `engine` share.

use clap::Args;

/// `--engine-port`, `--http-port`, `--stream-port` (0 picks a free port).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct PortFlags {
    /// Worker WebSocket port (default 49134; for `up` also agentos.toml `[ports]`; 0 picks a free one).
    #[arg(long)]
    pub engine_port: Option<u16>,
    /// REST port (default 3111).
    #[arg(long)]
    pub http_port: Option<u16>,
    /// Browser stream port (default 3112).
    #[arg(long)]
    pub stream_port: Option<u16>,
}
