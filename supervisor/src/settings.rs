//! `agentos.toml`: ports, engine choice, enabled workers, restart limits. Every key is
//! optional; a missing file means defaults. Unknown keys are errors that name them, so a typo
//! never silently does nothing.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parsed config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[ports]`
    #[serde(default)]
    pub ports: Ports,
    /// `[engine]`
    #[serde(default)]
    pub engine: EngineSettings,
    /// `[workers]`
    #[serde(default)]
    pub workers: WorkerSettings,
    /// `[restart]`
    #[serde(default)]
    pub restart: RestartSettings,
    // The workers' own sections: each worker reads and checks its section itself
    // (`agentos_kit::config`); the supervisor only passes the file on (`AGENTOS_CONFIG`).
    /// `[llm]`: llm-router (providers, tiers, prices).
    #[serde(default)]
    pub llm: Option<toml::Table>,
    /// `[agent]`: agent-core (step limit, tool allow-list).
    #[serde(default)]
    pub agent: Option<toml::Table>,
    /// `[hands]`: hand-runner.
    #[serde(default)]
    pub hands: Option<toml::Table>,
    /// `[approval]`: approval-tiers and approval (default tier, timeout, pending limit, rules).
    #[serde(default)]
    pub approval: Option<toml::Table>,
    /// `[replay]`: session-replay (retention of the step record).
    #[serde(default)]
    pub replay: Option<toml::Table>,
    /// `[sandbox]`: code-agent (whether commands need the OS sandbox, network, limits).
    #[serde(default)]
    pub sandbox: Option<toml::Table>,
}

/// `[ports]`: every port of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ports {
    pub engine: u16,
    pub http: u16,
    pub stream: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self { engine: 49134, http: 3111, stream: 3112 }
    }
}

/// `[engine]`: which engine runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// A real `iii` binary to run instead of the embedded engine.
    pub binary: Option<PathBuf>,
}

/// `[workers]`: which workers run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Only these (default: every worker of the catalogue).
    pub enabled: Option<Vec<String>>,
    /// Never these.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Extra environment per worker (`[workers.env.<name>]`), applied last, so it can
    /// override what the supervisor sets (for example `AGENTOS_LOG`).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}

/// `[restart]`: restart limits and the stop grace period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestartSettings {
    /// Restarts allowed within `window_secs` before a worker is `failed`.
    pub max_restarts: usize,
    /// The window for `max_restarts`.
    pub window_secs: u64,
    /// Seconds between SIGTERM and SIGKILL when stopping.
    pub grace_secs: u64,
}

impl Default for RestartSettings {
    fn default() -> Self {
        Self { max_restarts: 5, window_secs: 60, grace_secs: 5 }
    }
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Unreadable.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML or wrong keys.
    #[error("{path} is not a valid agentos config")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
}

impl Settings {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|source| SettingsError::Parse { path: path.to_path_buf(), source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(SettingsError::Read { path: path.to_path_buf(), source }),
        }
    }

    /// Whether a worker of the catalogue is enabled.
    pub fn enabled(&self, name: &str) -> bool {
        let listed = self.workers.enabled.as_ref().is_none_or(|list| list.iter().any(|n| n == name));
        listed && !self.workers.disabled.iter().any(|n| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_missing_file_gives_defaults_and_keys_override_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(&dir.path().join("none.toml")).unwrap(), Settings::default());
        let path = dir.path().join("agentos.toml");
        std::fs::write(&path, "[ports]\nengine = 1\nhttp = 2\nstream = 3\n[workers]\ndisabled = [\"realm\"]\n")
            .unwrap();
        let s = Settings::load(&path).unwrap();
        assert_eq!(s.ports, Ports { engine: 1, http: 2, stream: 3 });
        assert!(!s.enabled("realm"));
        assert!(s.enabled("memory"));
    }

    #[test]
    fn a_section_may_set_only_some_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentos.toml");
        std::fs::write(&path, "[restart]\nmax_restarts = 2\n").unwrap();
        let s = Settings::load(&path).unwrap();
        assert_eq!(s.restart, RestartSettings { max_restarts: 2, ..RestartSettings::default() });
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentos.toml");
        std::fs::write(&path, "[restart]\nmax_restart = 3\n").unwrap();
        let err = Settings::load(&path).unwrap_err();
        let err = format!("{err}: {}", std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default());
        assert!(err.contains("max_restart"), "{err}");
    }

    #[test]
    fn worker_sections_are_passed_through_and_other_top_level_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentos.toml");
        std::fs::write(
            &path,
            "[llm]\ndefault_model = \"openai/x\"\n[agent]\nmax_steps = 3\n[replay]\nretention_days = 7\n",
        )
        .unwrap();
        let s = Settings::load(&path).unwrap();
        assert_eq!(s.llm.unwrap()["default_model"].as_str(), Some("openai/x"));
        assert_eq!(s.replay.unwrap()["retention_days"].as_integer(), Some(7));
        std::fs::write(&path, "[lmm]\n").unwrap();
        let err = Settings::load(&path).unwrap_err();
        let err = format!("{err}: {}", std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default());
        assert!(err.contains("lmm"), "{err}");
    }
}
