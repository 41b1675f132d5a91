//! Where a worker keeps its files: the agentos data directory, resolved the way the supervisor
//! resolves it, without linking the supervisor.
//!
//! Rules it keeps:
//! - `AGENTOS_DATA_DIR` (set by the supervisor for every worker it starts) wins.
//! - Else `AGENTOS_HOME` puts everything under one folder: `$AGENTOS_HOME/data`, as
//!   `agentos_supervisor::Home::under` does.
//! - Else the platform data directory from `directories` (`dev.agentos.agentos`), as
//!   `agentos_supervisor::Home::discover` does. An empty variable counts as unset.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::error::WorkerError;

/// The variable naming the data directory outright.
pub const DATA_DIR_ENV: &str = "AGENTOS_DATA_DIR";

/// The variable putting every agentos folder under one root.
pub const HOME_ENV: &str = "AGENTOS_HOME";

/// The agentos data directory (see the module rules). `INTERNAL` when neither variable is set
/// and the platform has no home directory.
pub fn data_dir() -> Result<PathBuf, WorkerError> {
    data_dir_from(|name| std::env::var_os(name))
}

/// [`data_dir`] over the variables `var` returns, so the rules are testable without touching
/// the process environment.
pub fn data_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, WorkerError> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(dir) = set(DATA_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(root) = set(HOME_ENV) {
        return Ok(PathBuf::from(root).join("data"));
    }
    directories::ProjectDirs::from("dev", "agentos", "agentos").map(|d| d.data_dir().to_path_buf()).ok_or_else(|| {
        WorkerError::internal(format!(
            "no home directory found to put the agentos data dir in; set {HOME_ENV} (or {DATA_DIR_ENV})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_data_dir_variable_wins_over_the_home_folder() {
        let dir = data_dir_from(env(&[("AGENTOS_DATA_DIR", "/d"), ("AGENTOS_HOME", "/h")])).unwrap();
        assert_eq!(dir, PathBuf::from("/d"));
    }

    #[test]
    fn agentos_home_puts_the_data_dir_under_it_and_empty_variables_count_as_unset() {
        let dir = data_dir_from(env(&[("AGENTOS_DATA_DIR", ""), ("AGENTOS_HOME", "/h")])).unwrap();
        assert_eq!(dir, PathBuf::from("/h/data"));
    }

    #[test]
    fn without_variables_the_platform_data_dir_is_used() {
        let expected = directories::ProjectDirs::from("dev", "agentos", "agentos").map(|d| d.data_dir().to_path_buf());
        assert_eq!(data_dir_from(env(&[])).ok(), expected);
    }
}
