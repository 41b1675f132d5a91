//! Where agentos keeps its files: `AGENTOS_HOME` when set (tests, portable installs), otherwise
//! the platform's data directory from `directories`.

use std::path::PathBuf;

/// The default data directory.
pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("AGENTOS_HOME") {
        return Ok(PathBuf::from(home).join("data"));
    }
    let dirs = directories::ProjectDirs::from("dev", "agentos", "agentos")
        .ok_or_else(|| anyhow::anyhow!("cannot find a home directory; set AGENTOS_HOME or pass --data-dir"))?;
    Ok(dirs.data_dir().to_path_buf())
}
