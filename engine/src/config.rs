//! Loads the iii `config.yaml` format (iii engine v0.11.6) into a typed [`EngineConfig`].
//!
//! The rules this loader keeps:
//! - No file means [`EngineConfig::default`]: every built-in worker enabled, loopback binds.
//!   An empty file, or one that lists no `workers:`/`modules:` at all, means the same.
//! - `${VAR}` and `${VAR:default}` are expanded on the raw text before parsing, as iii does;
//!   an unset variable without a default is an error. Whole-line `#` comments are left alone,
//!   so a commented-out `${VAR}` never fails a load.
//! - `modules:` is iii's legacy name for `workers:`; the two lists are concatenated
//!   (`modules` first, as iii does). Once either key is present, only the listed built-in
//!   workers run, plus the mandatory ones (worker manager, observability, engine functions,
//!   telemetry), which always run.
//! - What iii rejects but is harmless to us (unknown top-level keys, unknown worker names,
//!   unknown keys inside a known worker's config) becomes a warning; what would make the
//!   engine behave differently from what the file asks (a value of the wrong type, an adapter
//!   we cannot provide, a fifo queue without a group field) is a [`ConfigError`].
//! - Data always lives in the engine's embedded database: an `adapter` block may only name the
//!   in-process adapter (`kv` for state, stream and cron, `builtin` for queues, `local` for
//!   pubsub), and its storage settings (`store_method`, `file_path`, ...) have no effect.
//! - A key whose value is empty (`port:` or `port: ~`) counts as unset and keeps its default;
//!   integers and booleans may also be written as strings (`port: "3111"`), because quoting
//!   an expanded `${VAR}` is common.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Loopback rather than iii's 0.0.0.0: an embedded engine should not be reachable from the
/// network unless the config says so.
const DEFAULT_HOST: &str = "127.0.0.1";
/// Bounds a request body or a socket frame: ample for JSON payloads and small uploads.
const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

/// Every built-in worker name iii v0.11.6 knows. iii-worker-manager, iii-observability,
/// iii-engine-functions and iii-telemetry are mandatory: they run whether listed or not.
const KNOWN: [&str; 10] = [
    "iii-worker-manager",
    "iii-http",
    "iii-state",
    "iii-stream",
    "iii-queue",
    "iii-pubsub",
    "iii-cron",
    "iii-observability",
    "iii-engine-functions",
    "iii-telemetry",
];
/// Keys of iii's `kv` adapter config; accepted, since data always lives in the embedded database.
const KV_KEYS: [&str; 3] = ["store_method", "file_path", "save_interval_ms"];
/// iii-observability keys we accept without acting on them (we have no exporters).
const OBSERVABILITY_IGNORED: &str = "enabled service_name service_version service_namespace \
    exporter endpoint sampling_ratio sampling metrics_enabled metrics_exporter \
    metrics_retention_seconds metrics_max_count logs_enabled logs_exporter logs_retention_seconds \
    logs_batch_size logs_flush_interval_ms logs_sampling_ratio alerts level format";
const TOP: &str = "the top level";
const PORT: &str = "a port number (0-65535)";
const WHOLE: &str = "a whole number (0 or more)";
const AT_LEAST_ONE: &str = "a whole number of at least 1";
/// A log record larger than this is a bug or an attack, not a log line (see [`EngineConfig::log_max_bytes`]).
const SIXTY_FOUR_KIB: usize = 64 * 1024;
/// The largest state or stream value by default. A session's history is one state value that
/// compaction keeps within its model's context window: 272 000 tokens (the largest window the
/// context manager knows) is about 1.1 MB of text, so 1 MiB would refuse long sessions.
const FOUR_MIB: usize = 4 * 1024 * 1024;
/// Spans and logs older than this go: a week of traces covers any debugging session.
const WEEK_SECS: u64 = 7 * 24 * 60 * 60;
/// Spans and logs together are cut to this many bytes. The count bounds alone allow 10 000 log
/// records of up to 64 KiB (640 MiB); typical records fill the count bounds at about 9 MB
/// (the retention bench), so this only cuts large records or raised counts.
const SIXTY_FOUR_MIB: u64 = 64 * 1024 * 1024;

/// The engine's settings, after defaults and the config file are combined.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Bind host for every port; `iii-worker-manager.host`. Defaults to loopback (iii: 0.0.0.0).
    pub host: String,
    /// Worker socket port; `iii-worker-manager.port`.
    pub engine_port: u16,
    /// HTTP trigger bind host; `iii-http.host`, else [`EngineConfig::host`].
    pub http_host: String,
    /// HTTP trigger port; `iii-http.port`.
    pub http_port: u16,
    /// Time an HTTP-triggered function may take, in ms; `iii-http.default_timeout`.
    pub http_default_timeout_ms: u64,
    /// Largest accepted HTTP request body; `iii-http.body_limit` (our extension).
    pub http_body_limit_bytes: usize,
    /// `iii-http.cors.allowed_origins`; `None` is permissive (also when the list holds `*`).
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Stream socket bind host; `iii-stream.host`, else [`EngineConfig::host`].
    pub stream_host: String,
    /// Stream socket port; `iii-stream.port`.
    pub stream_port: u16,
    /// Largest worker-socket frame; `iii-worker-manager.max_frame_bytes` (our extension).
    pub max_frame_bytes: usize,
    /// The worker socket's RBAC, middleware and allowed origins (the first
    /// `iii-worker-manager` entry).
    pub worker_security: crate::rbac::ListenerSecurity,
    /// Further worker-socket listeners: every later `iii-worker-manager` entry, each with its
    /// own host, port and rules.
    pub extra_listeners: Vec<ListenerConfig>,
    /// Browser origins allowed on the stream socket; `iii-stream.allowed_origins` (our
    /// extension). Other stream clients pass the worker socket's authentication.
    pub stream_allowed_origins: Vec<String>,
    /// Named queues; `iii-queue.queue_configs`, else a single queue named `default`.
    pub queues: BTreeMap<String, QueueConfig>,
    /// Spans kept; `iii-observability.memory_max_spans`.
    pub trace_max_spans: usize,
    /// Log records kept; `iii-observability.logs_max_count`.
    pub logs_max_count: usize,
    /// Whether worker logs are echoed to the console; `iii-observability.logs_console_output`.
    pub logs_console_output: bool,
    /// Which optional built-in workers run.
    pub enabled: EnabledWorkers,
    /// Where the engine keeps its database; top-level `data_dir:` (our extension), taken as
    /// written (a relative path is relative to the working directory). `None`: the caller picks.
    pub data_dir: Option<PathBuf>,
    /// Largest log record a client may write, message plus data, in bytes;
    /// `iii-observability.log_max_bytes` (our extension).
    pub log_max_bytes: usize,
    /// Spans and logs older than this many seconds are deleted by the retention sweep; `None`
    /// keeps them until another bound cuts them; `iii-observability.retention_max_age_secs`
    /// (our extension, 0 means no age bound).
    pub retention_max_age_secs: Option<u64>,
    /// Spans and logs together are cut to this many stored bytes by the retention sweep;
    /// `None` means no size bound; `iii-observability.retention_max_bytes` (our extension, 0
    /// means no size bound).
    pub retention_max_bytes: Option<u64>,
    /// Seconds between retention sweeps; `iii-observability.retention_sweep_secs` (our extension).
    pub retention_sweep_secs: u64,
    /// Largest state value (as stored JSON) `state::set`/`state::update` may write;
    /// `iii-state.max_value_bytes` (our extension).
    pub state_max_value_bytes: usize,
    /// Largest stream item (as stored JSON) `stream::set`/`stream::update` may write;
    /// `iii-stream.max_value_bytes` (our extension).
    pub stream_max_value_bytes: usize,
    /// How long a call or an HTTP request waits for a function or route whose worker went away
    /// to be registered again ([`crate::departed`]).
    pub restart_wait: std::time::Duration,
}

/// One more worker-socket listener (a later `iii-worker-manager` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    /// Bind host; defaults to loopback.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Its RBAC, middleware and allowed origins.
    pub security: crate::rbac::ListenerSecurity,
}

/// Which optional built-in workers run. The mandatory ones have no flag: they always run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnabledWorkers {
    /// `iii-http`: HTTP triggers.
    pub http: bool,
    /// `iii-state`: the state store and its triggers.
    pub state: bool,
    /// `iii-stream`: the stream socket and stream functions.
    pub stream: bool,
    /// `iii-queue`: durable queues.
    pub queue: bool,
    /// `iii-pubsub`: topic publish/subscribe.
    pub pubsub: bool,
    /// `iii-cron`: cron triggers.
    pub cron: bool,
}

/// One named queue's delivery settings (`iii-queue.queue_configs.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Attempts after the first before a message goes to the dead-letter queue.
    pub max_retries: u32,
    /// Messages handled at once.
    pub concurrency: usize,
    /// Delivery order.
    pub kind: QueueKind,
    /// Payload field whose value groups fifo messages; required for [`QueueKind::Fifo`].
    pub message_group_field: Option<String>,
    /// Delay before a retry, in ms.
    pub backoff_ms: u64,
    /// How often an idle consumer looks for work, in ms.
    pub poll_interval_ms: u64,
}

/// A queue's delivery order (`type:` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueKind {
    /// Messages are handled concurrently, in no promised order.
    #[default]
    Standard,
    /// Messages of one group are handled one at a time, in order.
    Fifo,
}

/// Why a config could not be loaded. Every message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read config file {}: {source}; check the path and its permissions, or start without a config file to use the defaults",
        path.display()
    )]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The text, after variable expansion, is not YAML.
    #[error("config is not valid YAML: {message}; fix the syntax there")]
    Parse {
        /// The parser's report, with its position.
        message: String,
    },
    /// `${name}` names an unset variable and gives no default.
    #[error(
        "environment variable {name} is not set and the config gives no default; set {name} or write ${{{name}:default}}"
    )]
    MissingVar {
        /// The variable's name.
        name: String,
    },
    /// A value has the wrong type or is out of range.
    #[error("in {place}: `{key}` must be {expected}, found {found}; change that value in the config")]
    Type {
        /// The worker (or entry, or the top level) holding the key.
        place: String,
        /// The key, dotted for nested keys (`cors.allowed_origins`).
        key: String,
        /// What the key takes.
        expected: String,
        /// What the file gave.
        found: String,
    },
    /// An adapter the embedded engine cannot provide.
    #[error(
        "{worker}: adapter '{adapter}' is not supported by the embedded engine, only '{supported}' is; set `adapter: {{name: {supported}}}` or remove the adapter block"
    )]
    UnsupportedAdapter {
        /// The worker whose adapter it is.
        worker: String,
        /// The adapter asked for.
        adapter: String,
        /// The one adapter this worker supports.
        supported: String,
    },
    /// The settings are well typed but do not make sense together.
    #[error("{message}")]
    Invalid {
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl ConfigError {
    /// A stable code for this kind of error, for logs and the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "CONFIG_READ",
            Self::Parse { .. } => "CONFIG_PARSE",
            Self::MissingVar { .. } => "CONFIG_MISSING_VAR",
            Self::Type { .. } => "CONFIG_TYPE",
            Self::UnsupportedAdapter { .. } => "CONFIG_UNSUPPORTED_ADAPTER",
            Self::Invalid { .. } => "CONFIG_INVALID",
        }
    }
}

impl Default for QueueConfig {
    /// iii's queue defaults.
    fn default() -> Self {
        Self {
            max_retries: 3,
            concurrency: 10,
            kind: QueueKind::Standard,
            message_group_field: None,
            backoff_ms: 1000,
            poll_interval_ms: 100,
        }
    }
}

impl Default for EnabledWorkers {
    /// Every optional worker runs, as with no config file.
    fn default() -> Self {
        Self::all(true)
    }
}

impl EnabledWorkers {
    /// Every optional worker on, or every one off.
    fn all(on: bool) -> Self {
        Self { http: on, state: on, stream: on, queue: on, pubsub: on, cron: on }
    }
}

impl Default for EngineConfig {
    /// The settings used when there is no config file.
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.to_owned(),
            // iii's ports, so SDK workers and clients connect without extra settings.
            engine_port: 49134,
            http_host: DEFAULT_HOST.to_owned(),
            http_port: 3111,
            http_default_timeout_ms: 30_000,
            http_body_limit_bytes: SIXTEEN_MIB,
            cors_allowed_origins: None,
            stream_host: DEFAULT_HOST.to_owned(),
            stream_port: 3112,
            max_frame_bytes: SIXTEEN_MIB,
            worker_security: crate::rbac::ListenerSecurity::default(),
            extra_listeners: Vec::new(),
            stream_allowed_origins: Vec::new(),
            // Every engine has a queue to enqueue to, even when the config names none.
            queues: BTreeMap::from([("default".to_owned(), QueueConfig::default())]),
            // iii keeps 1000 spans in memory; we persist spans, so a longer window costs little.
            trace_max_spans: 10_000,
            logs_max_count: 10_000,
            logs_console_output: true,
            enabled: EnabledWorkers::default(),
            data_dir: None,
            log_max_bytes: SIXTY_FOUR_KIB,
            retention_max_age_secs: Some(WEEK_SECS),
            retention_max_bytes: Some(SIXTY_FOUR_MIB),
            // Once a minute: the sweep takes milliseconds, and a minute of spans is small.
            retention_sweep_secs: 60,
            state_max_value_bytes: FOUR_MIB,
            stream_max_value_bytes: FOUR_MIB,
            restart_wait: crate::departed::RESTART_WAIT,
        }
    }
}

impl EngineConfig {
    /// Parse YAML text. `env` looks variables up (tests pass a closure; production passes
    /// `std::env::var(..).ok()`). Returns the config and the warnings to show the user.
    pub fn from_yaml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(EngineConfig, Vec<String>), ConfigError> {
        let expanded = expand_env(text, env)?;
        // Line and column, but no source snippet: the parsed text has variables expanded, and
        // a snippet could print a secret taken from the environment.
        let no_snippet = serde_saphyr::options! { with_snippet: false };
        let root: Value = serde_saphyr::from_str_with_options(&expanded, no_snippet)
            .map_err(|err| ConfigError::Parse { message: err.to_string() })?;
        let top = match &root {
            Value::Null => return Ok((Self::default(), Vec::new())),
            Value::Object(map) => map,
            other => {
                return Err(type_err(TOP, "(document)", "a mapping such as `workers: [...]`", other));
            }
        };
        let mut loader = Loader::default();
        loader.top(top)?;
        Ok(loader.finish())
    }

    /// Read a file (a clear error naming the path when unreadable) and parse it, looking
    /// variables up in the process environment.
    pub fn load(path: &Path) -> Result<(EngineConfig, Vec<String>), ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let env = |name: &str| std::env::var(name).ok();
        let loaded = Self::from_yaml(&text, &env).map_err(|err| match err {
            ConfigError::Parse { message } => ConfigError::Parse { message: format!("{}: {message}", path.display()) },
            other => other,
        })?;
        tracing::debug!(path = %path.display(), warnings = loaded.1.len(), "loaded engine config");
        Ok(loaded)
    }
}

/// Expands `${VAR}` and `${VAR:default}` as iii does (the name runs to the first `:` or `}`;
/// the default to the first `}`), except on whole-line comments.
fn expand_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                // No closing brace on this line: not a reference, keep the text as written.
                out.push_str("${");
                rest = after;
                continue;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(':') {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            if name.is_empty() {
                out.push_str("${");
                rest = after;
                continue;
            }
            let value = match (env(name), default) {
                (Some(value), _) => value,
                (None, Some(default)) => default.to_owned(),
                (None, None) => {
                    return Err(ConfigError::MissingVar { name: name.to_owned() });
                }
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Walks the parsed document, filling a config and collecting warnings.
#[derive(Default)]
struct Loader {
    cfg: EngineConfig,
    http_host: Option<String>,
    stream_host: Option<String>,
    warnings: Vec<String>,
    seen: Vec<String>,
}

impl Loader {
    fn top(&mut self, top: &Map<String, Value>) -> Result<(), ConfigError> {
        for (key, value) in top {
            match key.as_str() {
                "workers" | "modules" => {}
                "data_dir" if value.is_null() => {}
                "data_dir" => self.cfg.data_dir = Some(PathBuf::from(want_str(value, TOP, key)?)),
                other => self.warn(format!(
                    "unknown top-level key '{other}' ignored; the config takes `workers`, `modules` and `data_dir`"
                )),
            }
        }
        let mut listed = false;
        let mut entries = Vec::new();
        // iii appends `workers` to `modules`; keep that order whatever the map's order is.
        for list in ["modules", "workers"] {
            match top.get(list) {
                None => continue,
                Some(Value::Null) => {}
                Some(Value::Array(items)) => {
                    entries.extend(items.iter().enumerate().map(|(i, item)| (format!("{list}[{i}]"), item)));
                }
                Some(other) => return Err(type_err(TOP, list, "a list of worker entries", other)),
            }
            listed = true;
        }
        if listed {
            self.cfg.enabled = EnabledWorkers::all(false);
        }
        for (place, entry) in entries {
            self.entry(&place, entry)?;
        }
        Ok(())
    }

    fn entry(&mut self, place: &str, entry: &Value) -> Result<(), ConfigError> {
        let Value::Object(map) = entry else {
            return Err(type_err(place, "(entry)", "a mapping with `name` and optional `image`, `config`", entry));
        };
        let name = want_required_str(map, "name", place, "the worker's name, such as iii-http")?;
        for key in map.keys().filter(|key| !matches!(key.as_str(), "name" | "image" | "config")) {
            self.warn(format!(
                "{place} ('{name}'): unknown key '{key}' ignored; an entry takes name, image and config"
            ));
        }
        if !KNOWN.contains(&name.as_str()) {
            self.warn(format!("unknown worker '{name}' ignored; known: {}", KNOWN.join(", ")));
            return Ok(());
        }
        let empty = Map::new();
        let config = match map.get("config") {
            None | Some(Value::Null) => &empty,
            Some(value) => want_map(value, &name, "config")?,
        };
        if name == "iii-worker-manager" && self.seen.contains(&name) {
            // Each further entry is a listener of its own (iii runs one per entry).
            return self.extra_listener(config);
        }
        if self.seen.contains(&name) {
            self.warn(format!("worker '{name}' is listed more than once; later entries override earlier settings"));
        } else {
            self.seen.push(name.clone());
        }
        if let Some(flag) = enabled_flag(&mut self.cfg.enabled, &name) {
            *flag = true;
        }
        match name.as_str() {
            "iii-worker-manager" => self.worker_manager(config),
            "iii-http" => self.http(config),
            "iii-state" => self.state(config),
            "iii-stream" => self.stream(config),
            "iii-queue" => self.queue(config),
            "iii-pubsub" => self.adapter_only("iii-pubsub", config, "local"),
            "iii-cron" => self.adapter_only("iii-cron", config, "kv"),
            "iii-observability" => self.observability(config),
            // Engine functions take no settings; telemetry is accepted and ignored because the
            // embedded engine sends no usage telemetry anywhere.
            _ => Ok(()),
        }
    }

    fn worker_manager(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-worker-manager";
        for (key, value) in live(config) {
            match key {
                "port" => self.cfg.engine_port = want_uint(value, W, key, PORT)?,
                "host" => self.cfg.host = want_str(value, W, key)?,
                "max_frame_bytes" => self.cfg.max_frame_bytes = want_count(value, W, key)?,
                "middleware_function_id" | "rbac" | "allowed_origins" => {}
                _ => self.unknown_key(W, key),
            }
        }
        self.cfg.worker_security = self.listener_security(config)?;
        Ok(())
    }

    fn extra_listener(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-worker-manager";
        let mut listener =
            ListenerConfig { host: DEFAULT_HOST.to_owned(), port: 49134, security: self.listener_security(config)? };
        for (key, value) in live(config) {
            match key {
                "port" => listener.port = want_uint(value, W, key, PORT)?,
                "host" => listener.host = want_str(value, W, key)?,
                "middleware_function_id" | "rbac" | "allowed_origins" => {}
                "max_frame_bytes" => self.warn(format!(
                    "{W}: `max_frame_bytes` applies to every listener; set it on the first iii-worker-manager entry"
                )),
                _ => self.unknown_key(W, key),
            }
        }
        self.cfg.extra_listeners.push(listener);
        Ok(())
    }

    /// A listener's `rbac`, `middleware_function_id` and `allowed_origins` (our extension).
    fn listener_security(&mut self, config: &Map<String, Value>) -> Result<crate::rbac::ListenerSecurity, ConfigError> {
        const W: &str = "iii-worker-manager";
        let mut security = crate::rbac::ListenerSecurity::default();
        if let Some(value) = config.get("middleware_function_id").filter(|v| !v.is_null()) {
            security.middleware_function_id = Some(want_str(value, W, "middleware_function_id")?);
        }
        if let Some(value) = config.get("allowed_origins").filter(|v| !v.is_null()) {
            security.allowed_origins = want_str_list(value, W, "allowed_origins")?;
        }
        let Some(rbac_value) = config.get("rbac").filter(|v| !v.is_null()) else { return Ok(security) };
        let mut rbac = crate::rbac::RbacConfig::default();
        for (key, value) in live(want_map(rbac_value, W, "rbac")?) {
            let at = format!("rbac.{key}");
            match key {
                "auth_function_id" => rbac.auth_function_id = Some(want_str(value, W, &at)?),
                "on_function_registration_function_id" => {
                    rbac.on_function_registration_function_id = Some(want_str(value, W, &at)?);
                }
                "on_trigger_registration_function_id" => {
                    rbac.on_trigger_registration_function_id = Some(want_str(value, W, &at)?);
                }
                "on_trigger_type_registration_function_id" => {
                    rbac.on_trigger_type_registration_function_id = Some(want_str(value, W, &at)?);
                }
                "expose_functions" => {
                    let Value::Array(items) = value else {
                        return Err(type_err(
                            W,
                            &at,
                            "a list of match(\"pattern\") strings and {metadata: ...} maps",
                            value,
                        ));
                    };
                    for item in items {
                        let filter = crate::rbac::FunctionFilter::parse(item)
                            .map_err(|e| ConfigError::Invalid { message: format!("{W}: {at}: {e}") })?;
                        rbac.expose_functions.push(filter);
                    }
                }
                _ => self.unknown_key(W, &at),
            }
        }
        security.rbac = Some(rbac);
        Ok(security)
    }

    fn http(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-http";
        for (key, value) in live(config) {
            match key {
                "port" => self.cfg.http_port = want_uint(value, W, key, PORT)?,
                "host" => self.http_host = Some(want_str(value, W, key)?),
                "default_timeout" => self.cfg.http_default_timeout_ms = want_uint(value, W, key, WHOLE)?,
                "body_limit" => self.cfg.http_body_limit_bytes = want_count(value, W, key)?,
                "concurrency_request_limit" => {}
                "middleware" => self.warn(format!(
                    "{W}: `middleware` is not supported yet by the embedded engine; requests reach their functions directly"
                )),
                "cors" => {
                    for (cors_key, cors_value) in live(want_map(value, W, key)?) {
                        let at = format!("cors.{cors_key}");
                        match cors_key {
                            "allowed_origins" => {
                                let origins = want_str_list(cors_value, W, &at)?;
                                // `*` allows every origin, which is what `None` means.
                                self.cfg.cors_allowed_origins =
                                    (!origins.iter().any(|origin| origin == "*")).then_some(origins);
                            }
                            // Checked for type; every method is allowed once an origin is.
                            "allowed_methods" => {
                                want_str_list(cors_value, W, &at)?;
                            }
                            _ => self.unknown_key(W, &at),
                        }
                    }
                }
                _ => self.unknown_key(W, key),
            }
        }
        Ok(())
    }

    fn stream(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-stream";
        for (key, value) in live(config) {
            match key {
                "port" => self.cfg.stream_port = want_uint(value, W, key, PORT)?,
                "host" => self.stream_host = Some(want_str(value, W, key)?),
                "auth_function" => self.warn(format!(
                    "{W}: `auth_function` is not supported yet by the embedded engine; stream connections pass the worker socket's authentication instead, or come from an origin in `allowed_origins`"
                )),
                "adapter" => self.adapter(W, value, "kv")?,
                "max_value_bytes" => self.cfg.stream_max_value_bytes = want_count(value, W, key)?,
                "allowed_origins" => self.cfg.stream_allowed_origins = want_str_list(value, W, key)?,
                _ => self.unknown_key(W, key),
            }
        }
        Ok(())
    }

    fn queue(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-queue";
        for (key, value) in live(config) {
            match key {
                "adapter" => self.adapter(W, value, "builtin")?,
                "queue_configs" => {
                    let mut queues = BTreeMap::new();
                    for (name, settings) in want_map(value, W, key)? {
                        queues.insert(name.clone(), self.queue_config(name, settings)?);
                    }
                    // The listed queues replace the implicit `default` one.
                    self.cfg.queues = queues;
                }
                _ => self.unknown_key(W, key),
            }
        }
        Ok(())
    }

    fn queue_config(&mut self, name: &str, settings: &Value) -> Result<QueueConfig, ConfigError> {
        const W: &str = "iii-queue";
        let mut queue = QueueConfig::default();
        if !settings.is_null() {
            for (key, value) in live(want_map(settings, W, &format!("queue_configs.{name}"))?) {
                let at = format!("queue_configs.{name}.{key}");
                match key {
                    "max_retries" => queue.max_retries = want_uint(value, W, &at, WHOLE)?,
                    "concurrency" => queue.concurrency = want_count(value, W, &at)?,
                    "type" => {
                        queue.kind = match value.as_str() {
                            Some("standard") => QueueKind::Standard,
                            Some("fifo") => QueueKind::Fifo,
                            _ => return Err(type_err(W, &at, "'standard' or 'fifo'", value)),
                        };
                    }
                    "message_group_field" => queue.message_group_field = Some(want_str(value, W, &at)?),
                    "backoff_ms" => queue.backoff_ms = want_uint(value, W, &at, WHOLE)?,
                    // Zero would make an idle consumer spin.
                    "poll_interval_ms" => queue.poll_interval_ms = want_count(value, W, &at)?,
                    _ => self.unknown_key(W, &at),
                }
            }
        }
        if queue.kind == QueueKind::Fifo && queue.message_group_field.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::Invalid {
                message: format!(
                    "{W}: queue '{name}' is fifo but has no `message_group_field`; set it to the payload field that groups messages (e.g. order_id) or use `type: standard`"
                ),
            });
        }
        Ok(queue)
    }

    fn observability(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-observability";
        for (key, value) in live(config) {
            match key {
                "memory_max_spans" => self.cfg.trace_max_spans = want_uint(value, W, key, WHOLE)?,
                "logs_max_count" => self.cfg.logs_max_count = want_uint(value, W, key, WHOLE)?,
                "logs_console_output" => self.cfg.logs_console_output = want_bool(value, W, key)?,
                "log_max_bytes" => self.cfg.log_max_bytes = want_count(value, W, key)?,
                "retention_max_age_secs" => self.cfg.retention_max_age_secs = want_bound(value, W, key)?,
                "retention_max_bytes" => self.cfg.retention_max_bytes = want_bound(value, W, key)?,
                "retention_sweep_secs" => self.cfg.retention_sweep_secs = want_count(value, W, key)?,
                _ if OBSERVABILITY_IGNORED.split_whitespace().any(|k| k == key) => {}
                _ => self.unknown_key(W, key),
            }
        }
        Ok(())
    }

    /// `iii-state`: its adapter, and the largest value it stores.
    fn state(&mut self, config: &Map<String, Value>) -> Result<(), ConfigError> {
        const W: &str = "iii-state";
        for (key, value) in live(config) {
            match key {
                "adapter" => self.adapter(W, value, "kv")?,
                "max_value_bytes" => self.cfg.state_max_value_bytes = want_count(value, W, key)?,
                _ => self.unknown_key(W, key),
            }
        }
        Ok(())
    }

    /// A worker whose only setting is `adapter`.
    fn adapter_only(&mut self, worker: &str, config: &Map<String, Value>, supported: &str) -> Result<(), ConfigError> {
        for (key, value) in live(config) {
            match key {
                "adapter" => self.adapter(worker, value, supported)?,
                _ => self.unknown_key(worker, key),
            }
        }
        Ok(())
    }

    /// `adapter: {name, config?}`. Only the in-process adapter is possible: for `kv`, the data
    /// always lives in the engine's embedded database, so `store_method`, `file_path` and
    /// `save_interval_ms` are accepted and have no effect.
    fn adapter(&mut self, worker: &str, value: &Value, supported: &str) -> Result<(), ConfigError> {
        let map = want_map(value, worker, "adapter")?;
        let expected = format!("the adapter name ('{supported}')");
        let name = want_required_str(map, "name", &format!("{worker} adapter"), &expected)?;
        if name != supported {
            return Err(ConfigError::UnsupportedAdapter {
                worker: worker.to_owned(),
                adapter: name,
                supported: supported.to_owned(),
            });
        }
        for (key, value) in live(map) {
            match key {
                "name" => {}
                "config" => {
                    let config = want_map(value, worker, "adapter.config")?;
                    // Only kv's keys are known; other adapters' settings are iii-internal.
                    if supported == "kv" {
                        for key in config.keys().filter(|key| !KV_KEYS.contains(&key.as_str())) {
                            self.unknown_key(worker, &format!("adapter.config.{key}"));
                        }
                    }
                }
                _ => self.unknown_key(worker, &format!("adapter.{key}")),
            }
        }
        Ok(())
    }

    fn unknown_key(&mut self, worker: &str, key: &str) {
        self.warn(format!("{worker}: unknown config key '{key}' ignored"));
    }

    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    fn finish(self) -> (EngineConfig, Vec<String>) {
        let mut cfg = self.cfg;
        cfg.http_host = self.http_host.unwrap_or_else(|| cfg.host.clone());
        cfg.stream_host = self.stream_host.unwrap_or_else(|| cfg.host.clone());
        (cfg, self.warnings)
    }
}

/// The flag of an optional built-in worker; `None` for the mandatory ones.
fn enabled_flag<'e>(enabled: &'e mut EnabledWorkers, name: &str) -> Option<&'e mut bool> {
    match name {
        "iii-http" => Some(&mut enabled.http),
        "iii-state" => Some(&mut enabled.state),
        "iii-stream" => Some(&mut enabled.stream),
        "iii-queue" => Some(&mut enabled.queue),
        "iii-pubsub" => Some(&mut enabled.pubsub),
        "iii-cron" => Some(&mut enabled.cron),
        _ => None,
    }
}

/// The keys of a mapping that have a value (an empty value keeps the default).
fn live(map: &Map<String, Value>) -> impl Iterator<Item = (&str, &Value)> {
    map.iter().filter(|(_, value)| !value.is_null()).map(|(key, value)| (key.as_str(), value))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn type_err(place: &str, key: &str, expected: &str, found: &Value) -> ConfigError {
    ConfigError::Type {
        place: place.to_owned(),
        key: key.to_owned(),
        expected: expected.to_owned(),
        found: describe(found),
    }
}

fn want_uint<T: TryFrom<u64>>(value: &Value, place: &str, key: &str, expected: &str) -> Result<T, ConfigError> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    number.and_then(|n| T::try_from(n).ok()).ok_or_else(|| type_err(place, key, expected, value))
}

/// A size or count where zero would stall the engine.
fn want_count<T: TryFrom<u64>>(value: &Value, place: &str, key: &str) -> Result<T, ConfigError> {
    match want_uint::<u64>(value, place, key, AT_LEAST_ONE)? {
        0 => Err(type_err(place, key, AT_LEAST_ONE, value)),
        n => T::try_from(n).map_err(|_| type_err(place, key, AT_LEAST_ONE, value)),
    }
}

/// A retention bound: a whole number, where 0 means no bound (`None`).
fn want_bound(value: &Value, place: &str, key: &str) -> Result<Option<u64>, ConfigError> {
    let n: u64 = want_uint(value, place, key, "a whole number (0 for no bound)")?;
    Ok((n > 0).then_some(n))
}

fn want_bool(value: &Value, place: &str, key: &str) -> Result<bool, ConfigError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim() == "true" => Ok(true),
        Value::String(s) if s.trim() == "false" => Ok(false),
        _ => Err(type_err(place, key, "true or false", value)),
    }
}

fn want_str(value: &Value, place: &str, key: &str) -> Result<String, ConfigError> {
    want_string(value, place, key, "a string")
}

/// A string key that must be present; `expected` says what it names.
fn want_required_str(map: &Map<String, Value>, key: &str, place: &str, expected: &str) -> Result<String, ConfigError> {
    want_string(map.get(key).unwrap_or(&Value::Null), place, key, expected)
}

fn want_string(value: &Value, place: &str, key: &str, expected: &str) -> Result<String, ConfigError> {
    let found = value.as_str().map(str::to_owned);
    found.ok_or_else(|| type_err(place, key, expected, value))
}

fn want_str_list(value: &Value, place: &str, key: &str) -> Result<Vec<String>, ConfigError> {
    let not_list = || type_err(place, key, "a list of strings", value);
    let Value::Array(items) = value else {
        return Err(not_list());
    };
    items.iter().map(|item| item.as_str().map(str::to_owned).ok_or_else(not_list)).collect()
}

fn want_map<'v>(value: &'v Value, place: &str, key: &str) -> Result<&'v Map<String, Value>, ConfigError> {
    value.as_object().ok_or_else(|| type_err(place, key, "a mapping", value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> (EngineConfig, Vec<String>) {
        EngineConfig::from_yaml(text, &no_env).unwrap()
    }

    fn parse_err(text: &str) -> ConfigError {
        EngineConfig::from_yaml(text, &no_env).unwrap_err()
    }

    /// The defaults with only the named optional workers (and the mandatory ones) running.
    fn only(workers: &[&str]) -> EngineConfig {
        let mut enabled = EnabledWorkers::all(false);
        for name in workers {
            *enabled_flag(&mut enabled, name).unwrap() = true;
        }
        EngineConfig { enabled, ..EngineConfig::default() }
    }

    #[test]
    fn defaults_apply_when_there_is_no_file() {
        let expected = EngineConfig {
            host: "127.0.0.1".into(),
            engine_port: 49134,
            http_host: "127.0.0.1".into(),
            http_port: 3111,
            http_default_timeout_ms: 30_000,
            http_body_limit_bytes: 16 * 1024 * 1024,
            cors_allowed_origins: None,
            stream_host: "127.0.0.1".into(),
            stream_port: 3112,
            max_frame_bytes: 16 * 1024 * 1024,
            worker_security: crate::rbac::ListenerSecurity::default(),
            extra_listeners: Vec::new(),
            stream_allowed_origins: Vec::new(),
            queues: BTreeMap::from([("default".into(), QueueConfig::default())]),
            trace_max_spans: 10_000,
            logs_max_count: 10_000,
            logs_console_output: true,
            enabled: EnabledWorkers { http: true, state: true, stream: true, queue: true, pubsub: true, cron: true },
            data_dir: None,
            log_max_bytes: 64 * 1024,
            retention_max_age_secs: Some(7 * 24 * 3600),
            retention_max_bytes: Some(64 * 1024 * 1024),
            retention_sweep_secs: 60,
            state_max_value_bytes: 4 * 1024 * 1024,
            stream_max_value_bytes: 4 * 1024 * 1024,
            restart_wait: crate::departed::RESTART_WAIT,
        };
        assert_eq!(EngineConfig::default(), expected);
        assert_eq!(parse(""), (expected.clone(), vec![]));
        assert_eq!(parse("# only a comment\n"), (expected.clone(), vec![]));
        assert_eq!(parse("{}"), (expected, vec![]));
    }

    #[test]
    fn worker_manager_entries_carry_rbac_middleware_origins_and_extra_listeners() {
        let text = "workers:\n  - name: iii-worker-manager\n    config:\n      port: 5000\n      middleware_function_id: sec::mw\n      allowed_origins: [\"http://localhost:5173\"]\n      rbac:\n        auth_function_id: sec::auth\n        on_function_registration_function_id: sec::on_fn\n        on_trigger_registration_function_id: sec::on_trig\n        on_trigger_type_registration_function_id: sec::on_type\n        expose_functions:\n          - match(\"api::*\")\n          - metadata: {public: true}\n  - name: iii-worker-manager\n    config:\n      port: 5001\n      rbac:\n        expose_functions: [match(\"pub::*\")]\n";
        let (cfg, warnings) = parse(text);
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(cfg.engine_port, 5000);
        let main = &cfg.worker_security;
        assert_eq!(main.middleware_function_id.as_deref(), Some("sec::mw"));
        assert_eq!(main.allowed_origins, vec!["http://localhost:5173".to_string()]);
        let rbac = main.rbac.as_ref().unwrap();
        assert_eq!(rbac.auth_function_id.as_deref(), Some("sec::auth"));
        assert_eq!(rbac.on_function_registration_function_id.as_deref(), Some("sec::on_fn"));
        assert_eq!(rbac.on_trigger_registration_function_id.as_deref(), Some("sec::on_trig"));
        assert_eq!(rbac.on_trigger_type_registration_function_id.as_deref(), Some("sec::on_type"));
        assert_eq!(rbac.expose_functions.len(), 2);
        assert_eq!(cfg.extra_listeners.len(), 1);
        assert_eq!(cfg.extra_listeners[0].port, 5001);
        assert_eq!(cfg.extra_listeners[0].host, "127.0.0.1");
        assert!(cfg.extra_listeners[0].security.rbac.is_some());
        let bad = "workers:\n  - name: iii-worker-manager\n    config:\n      rbac:\n        expose_functions: [\"api::*\"]\n";
        let err = EngineConfig::from_yaml(bad, &|_| None).unwrap_err();
        assert!(err.to_string().contains("rbac.expose_functions: expected match(\"pattern\")"), "{err}");
    }

    #[test]
    fn an_empty_workers_list_runs_only_the_mandatory_workers() {
        assert_eq!(parse("workers: []\n"), (only(&[]), vec![]));
        assert_eq!(parse("workers:\n"), (only(&[]), vec![]));
    }

    #[test]
    fn var_with_default_expands_to_the_variable_or_the_default() {
        let env = |name: &str| (name == "HTTP_PORT").then(|| "4000".to_owned());
        let text = "workers:\n  - name: iii-http\n    config:\n      port: ${HTTP_PORT:3111}\n      host: ${HTTP_HOST:0.0.0.0}\n  - name: iii-stream\n    config:\n      host: \"${STREAM_HOST:}\"\n";
        let (cfg, warnings) = EngineConfig::from_yaml(text, &env).unwrap();
        let expected = EngineConfig {
            http_port: 4000,
            http_host: "0.0.0.0".into(),
            stream_host: String::new(),
            ..only(&["iii-http", "iii-stream"])
        };
        assert_eq!((cfg, warnings), (expected, vec![]));
    }

    #[test]
    fn a_missing_var_without_default_is_an_error_naming_it() {
        let err = parse_err("workers:\n  - name: iii-http\n    config:\n      port: ${HTTP_PORT}\n");
        assert_eq!(err.code(), "CONFIG_MISSING_VAR");
        let message = err.to_string();
        assert!(message.contains("HTTP_PORT") && message.contains("${HTTP_PORT:default}"), "{message}");
    }

    #[test]
    fn whole_line_comments_are_not_expanded() {
        assert_eq!(parse("# port: ${UNSET}\nworkers: []\n"), (only(&[]), vec![]));
    }

    #[test]
    fn the_modules_alias_is_concatenated_with_workers() {
        let text = "modules:\n  - name: iii-http\nworkers:\n  - name: iii-cron\n";
        let expected = EngineConfig { ..only(&["iii-http", "iii-cron"]) };
        assert_eq!(parse(text), (expected, vec![]));
    }

    #[test]
    fn only_listed_workers_are_enabled_and_hosts_follow_the_worker_manager() {
        let text = "workers:\n  - name: iii-worker-manager\n    config: {host: 0.0.0.0, port: 5000, rbac: {}}\n  - name: iii-state\n    config:\n      adapter: {name: kv, config: {file_path: ./data}}\n  - name: iii-queue\n  - name: iii-stream\n    config: {host: 10.0.0.1}\n";
        let expected = EngineConfig {
            host: "0.0.0.0".into(),
            engine_port: 5000,
            http_host: "0.0.0.0".into(),
            stream_host: "10.0.0.1".into(),
            // `rbac: {}` is RBAC with nothing exposed, as in iii.
            worker_security: crate::rbac::ListenerSecurity {
                rbac: Some(crate::rbac::RbacConfig::default()),
                ..crate::rbac::ListenerSecurity::default()
            },
            ..only(&["iii-state", "iii-queue", "iii-stream"])
        };
        assert_eq!(parse(text), (expected, vec![]));
    }

    #[test]
    fn unknown_workers_and_keys_produce_warnings_naming_them() {
        let text = "workers:\n  - name: my-worker\n    image: x\n  - name: iii-http\n    config: {colour: red, cors: {allowed_origins: ['*'], max_age: 3}}\nextra: 1\n";
        let (cfg, warnings) = parse(text);
        let expected = EngineConfig { ..only(&["iii-http"]) };
        assert_eq!(cfg, expected);
        assert_eq!(
            warnings,
            vec![
                "unknown top-level key 'extra' ignored; the config takes `workers`, `modules` and `data_dir`"
                    .to_owned(),
                format!("unknown worker 'my-worker' ignored; known: {}", KNOWN.join(", ")),
                "iii-http: unknown config key 'colour' ignored".to_owned(),
                "iii-http: unknown config key 'cors.max_age' ignored".to_owned(),
            ]
        );
    }

    #[test]
    fn a_fifo_queue_without_group_field_is_rejected() {
        let err = parse_err(
            "workers:\n  - name: iii-queue\n    config:\n      queue_configs:\n        orders: {type: fifo}\n",
        );
        assert_eq!(err.code(), "CONFIG_INVALID");
        let message = err.to_string();
        assert!(message.contains("'orders'") && message.contains("message_group_field"), "{message}");
    }

    #[test]
    fn a_wrong_type_is_rejected_naming_worker_key_and_type() {
        let err = parse_err("workers:\n  - name: iii-http\n    config: {port: eighty}\n");
        assert_eq!(err.code(), "CONFIG_TYPE");
        assert_eq!(
            err.to_string(),
            "in iii-http: `port` must be a port number (0-65535), found string \"eighty\"; change that value in the config"
        );
        assert_eq!(parse_err("workers:\n  - name: iii-http\n    config: {port: 70000}\n").code(), "CONFIG_TYPE");
        assert_eq!(parse_err("workers: iii-http\n").code(), "CONFIG_TYPE");
    }

    #[test]
    fn an_adapter_other_than_the_embedded_one_is_rejected() {
        let err = parse_err("workers:\n  - name: iii-state\n    config:\n      adapter: {name: redis}\n");
        assert_eq!(err.code(), "CONFIG_UNSUPPORTED_ADAPTER");
        let message = err.to_string();
        assert!(message.contains("'redis'") && message.contains("'kv'"), "{message}");
    }

    #[test]
    fn queue_configs_fill_unset_fields_with_defaults_and_replace_the_default_queue() {
        let text = "workers:\n  - name: iii-queue\n    config:\n      adapter: {name: builtin}\n      queue_configs:\n        emails: {max_retries: 5}\n        orders: {type: fifo, message_group_field: order_id, concurrency: \"2\"}\n        plain:\n";
        let expected = EngineConfig {
            queues: BTreeMap::from([
                ("emails".into(), QueueConfig { max_retries: 5, ..QueueConfig::default() }),
                (
                    "orders".into(),
                    QueueConfig {
                        kind: QueueKind::Fifo,
                        message_group_field: Some("order_id".into()),
                        concurrency: 2,
                        ..QueueConfig::default()
                    },
                ),
                ("plain".into(), QueueConfig::default()),
            ]),
            ..only(&["iii-queue"])
        };
        assert_eq!(parse(text), (expected, vec![]));
        assert_eq!(
            QueueConfig::default(),
            QueueConfig {
                max_retries: 3,
                concurrency: 10,
                kind: QueueKind::Standard,
                message_group_field: None,
                backoff_ms: 1000,
                poll_interval_ms: 100,
            }
        );
    }

    #[test]
    fn http_observability_and_data_dir_settings_are_read() {
        let text = "data_dir: /var/lib/agentos\nworkers:\n  - name: iii-http\n    config:\n      default_timeout: 5000\n      body_limit: 1024\n      cors: {allowed_origins: [\"http://a\"], allowed_methods: [GET]}\n      middleware: []\n  - name: iii-observability\n    config: {memory_max_spans: 50, logs_max_count: 7, logs_console_output: false, exporter: otlp, format: json}\n";
        let (cfg, warnings) = parse(text);
        let expected = EngineConfig {
            http_default_timeout_ms: 5000,
            http_body_limit_bytes: 1024,
            cors_allowed_origins: Some(vec!["http://a".into()]),
            trace_max_spans: 50,
            logs_max_count: 7,
            logs_console_output: false,
            data_dir: Some(PathBuf::from("/var/lib/agentos")),
            ..only(&["iii-http"])
        };
        assert_eq!(cfg, expected);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("middleware"), "{warnings:?}");
    }

    #[test]
    fn size_limits_and_retention_are_read_and_zero_means_no_retention_bound() {
        let text = "workers:\n  - name: iii-observability\n    config: {log_max_bytes: 1000, retention_max_age_secs: 3600, retention_max_bytes: \"0\", retention_sweep_secs: 5}\n  - name: iii-state\n    config: {max_value_bytes: 2048, adapter: {name: kv}}\n  - name: iii-stream\n    config: {max_value_bytes: 512}\n";
        let expected = EngineConfig {
            log_max_bytes: 1000,
            retention_max_age_secs: Some(3600),
            retention_max_bytes: None,
            retention_sweep_secs: 5,
            state_max_value_bytes: 2048,
            stream_max_value_bytes: 512,
            restart_wait: crate::departed::RESTART_WAIT,
            ..only(&["iii-state", "iii-stream"])
        };
        assert_eq!(parse(text), (expected, vec![]));
    }

    #[test]
    fn a_size_limit_of_zero_or_of_the_wrong_type_is_refused_naming_the_key() {
        let err = parse_err("workers:\n  - name: iii-state\n    config: {max_value_bytes: 0}\n");
        assert_eq!(
            err.to_string(),
            "in iii-state: `max_value_bytes` must be a whole number of at least 1, found number 0; change that value in the config"
        );
        let err = parse_err("workers:\n  - name: iii-observability\n    config: {retention_max_bytes: lots}\n");
        assert_eq!(err.code(), "CONFIG_TYPE");
        assert!(err.to_string().contains("`retention_max_bytes`"), "{err}");
        let (_, warnings) = parse("workers:\n  - name: iii-state\n    config: {max_value_byte: 1}\n");
        assert_eq!(warnings, vec!["iii-state: unknown config key 'max_value_byte' ignored".to_owned()]);
    }

    #[test]
    fn load_names_the_path_when_the_file_is_unreadable() {
        let path = Path::new("/nonexistent/agentos/config.yaml");
        let err = EngineConfig::load(path).unwrap_err();
        assert_eq!(err.code(), "CONFIG_READ");
        assert!(err.to_string().contains("/nonexistent/agentos/config.yaml"), "{err}");
    }

    #[test]
    fn invalid_yaml_is_a_parse_error() {
        assert_eq!(parse_err("workers: [\n").code(), "CONFIG_PARSE");
    }
}
