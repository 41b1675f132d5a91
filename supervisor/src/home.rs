//! Where agentos keeps its files. `AGENTOS_HOME` puts everything under one folder (tests,
//! portable installs); otherwise the platform directories from `directories` are used.

use std::path::{Path, PathBuf};

/// The folders agentos uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// `agentos.toml` and the API key.
    pub config_dir: PathBuf,
    /// The engine database.
    pub data_dir: PathBuf,
    /// One log file per worker, plus the supervisor's and the engine's.
    pub log_dir: PathBuf,
    /// The lock/pid file and the runtime description of a running stack.
    pub state_dir: PathBuf,
}

impl Home {
    /// Everything under one folder.
    pub fn under(root: &Path) -> Self {
        Self {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            log_dir: root.join("logs"),
            state_dir: root.join("state"),
        }
    }

    /// `AGENTOS_HOME` if set, else the platform directories.
    pub fn discover() -> Result<Self, std::io::Error> {
        if let Some(root) = std::env::var_os("AGENTOS_HOME").filter(|v| !v.is_empty()) {
            return Ok(Self::under(Path::new(&root)));
        }
        let dirs = directories::ProjectDirs::from("dev", "agentos", "agentos").ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no home directory found; set AGENTOS_HOME")
        })?;
        let state = dirs.state_dir().map(Path::to_path_buf).unwrap_or_else(|| dirs.data_local_dir().join("state"));
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            log_dir: state.join("logs"),
            state_dir: state,
        })
    }

    /// Creates every folder.
    pub fn create_all(&self) -> std::io::Result<()> {
        for dir in [&self.config_dir, &self.data_dir, &self.log_dir, &self.state_dir] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    /// The API key file.
    pub fn api_key_file(&self) -> PathBuf {
        self.config_dir.join("api_key")
    }

    /// The engine token file: digests of the tokens workers present to the engine.
    pub fn engine_tokens_file(&self) -> PathBuf {
        self.config_dir.join("engine_tokens.json")
    }

    /// `agentos.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("agentos.toml")
    }

    /// The lock file holding the running supervisor's pid.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir.join("agentos.pid")
    }

    /// The running stack's description (ports, pids).
    pub fn runtime_file(&self) -> PathBuf {
        self.state_dir.join("runtime.json")
    }

    /// A worker's (or `engine`'s, or `supervisor`'s) log file.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }
}
