//! Logging through tracing-subscriber, filtered by `AGENTOS_LOG` (default `info`).

/// Logs to stderr.
pub fn init_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGENTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // The SDK's telemetry connection logs its URL at debug level, and that URL carries the
        // worker's engine token: never below info, whatever AGENTOS_LOG says.
        .add_directive(TELEMETRY_CAP.parse().unwrap_or_default());
    let ansi = std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// The most the SDK's telemetry connection may log.
const TELEMETRY_CAP: &str = "iii_sdk::telemetry=info";
