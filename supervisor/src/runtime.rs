//! The running stack's description, written by `up` for the CLI: ports, pids, the engine URL.

use serde::{Deserialize, Serialize};

use crate::home::Home;

/// What a client needs to reach a running stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// The supervisor's pid.
    pub pid: u32,
    /// The worker socket URL.
    pub engine_url: String,
    /// The REST base URL (`http://127.0.0.1:3111`).
    pub http_url: String,
    /// The engine's port numbers.
    pub engine_port: u16,
    /// REST port.
    pub http_port: u16,
    /// Stream port.
    pub stream_port: u16,
    /// What guards the worker socket, when something is not enforced: `None` means agentos's
    /// token check and capability map run; otherwise the sentence says what is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_auth_gap: Option<String>,
}

impl RuntimeInfo {
    /// Writes the file atomically (temp file + rename).
    pub fn write(&self, home: &Home) -> std::io::Result<()> {
        let path = home.runtime_file();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }

    /// Reads the file, if a stack wrote one.
    pub fn read(home: &Home) -> Option<Self> {
        let text = std::fs::read(home.runtime_file()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Removes the file.
    pub fn remove(home: &Home) {
        let _ = std::fs::remove_file(home.runtime_file());
    }
}
