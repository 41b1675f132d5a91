//! The API key every `/v1` route but `/v1/health` needs. Generated on the first `up` and stored
//! with mode 0600; `AGENTOS_API_KEY` overrides it.

use std::path::Path;

use crate::home::Home;

/// Where the key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `AGENTOS_API_KEY`.
    Env,
    /// The key file.
    File,
    /// Just generated into the key file.
    Generated,
}

/// The key and where it came from.
pub fn load_or_create(home: &Home) -> std::io::Result<(String, KeySource)> {
    if let Some(key) = from_env() {
        return Ok((key, KeySource::Env));
    }
    let path = home.api_key_file();
    if let Some(key) = read(&path)? {
        return Ok((key, KeySource::File));
    }
    std::fs::create_dir_all(&home.config_dir)?;
    let key = generate();
    write_private(&path, &key)?;
    Ok((key, KeySource::Generated))
}

/// The key for a client (CLI, TUI): the env var, else the file. `None` when neither exists.
pub fn load(home: &Home) -> std::io::Result<Option<String>> {
    match from_env() {
        Some(key) => Ok(Some(key)),
        None => read(&home.api_key_file()),
    }
}

fn from_env() -> Option<String> {
    std::env::var("AGENTOS_API_KEY").ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty())
}

fn read(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|k| !k.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn generate() -> String {
    agentos_kit::secret::mint()
}

fn write_private(path: &Path, key: &str) -> std::io::Result<()> {
    agentos_kit::secret::write_private(path, key.as_bytes())
}

/// The key file's permission bits, when they are looser than 0600 (for `doctor`).
#[cfg(unix)]
pub fn loose_permissions(home: &Home) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.api_key_file()).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// The key file's permission bits, when they are looser than 0600 (for `doctor`).
#[cfg(not(unix))]
pub fn loose_permissions(_home: &Home) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_in_a_private_file_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::under(dir.path());
        // The env var may be set by whoever runs the tests; only check the file path here.
        let key = generate();
        std::fs::create_dir_all(&home.config_dir).unwrap();
        write_private(&home.api_key_file(), &key).unwrap();
        assert_eq!(read(&home.api_key_file()).unwrap(), Some(key.clone()));
        assert_eq!(key.len(), 64);
        assert_eq!(loose_permissions(&home), None);
    }
}
