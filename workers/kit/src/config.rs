//! A worker's section of `agentos.toml`.
//!
//! The supervisor passes the file's path in [`CONFIG_ENV`]; each worker reads its own table
//! (`[llm]`, `[agent]`, `[hands]`, …) into a typed struct, strictly: an unknown key in a
//! worker's section is an error naming the file and the section, so a typo never silently does
//! nothing. A worker run by hand without the variable, or with no such file, gets defaults.
//! Errors name the key inside the section (`[llm] providers.groq.wire: unknown variant …`).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::WorkerError;

/// The variable holding the path of `agentos.toml`.
pub const CONFIG_ENV: &str = "AGENTOS_CONFIG";

/// The config file named by [`CONFIG_ENV`], if set.
pub fn config_path() -> Option<PathBuf> {
    std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Section `name` of the config file named by [`CONFIG_ENV`]; the default when the variable,
/// the file or the section is missing.
pub fn section<T: DeserializeOwned + Default>(name: &str) -> Result<T, WorkerError> {
    match config_path() {
        Some(path) => section_of(&path, name),
        None => Ok(T::default()),
    }
}

/// Section `name` of the config file at `path`; the default when the file or the section is
/// missing.
pub fn section_of<T: DeserializeOwned + Default>(path: &Path, name: &str) -> Result<T, WorkerError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(WorkerError::invalid_input(format!("cannot read {}: {e}", path.display()))),
    };
    section_in(&text, name).map_err(|e| WorkerError::invalid_input(format!("{}: {e}", path.display())))
}

/// Section `name` of config text.
pub fn section_in<T: DeserializeOwned + Default>(text: &str, name: &str) -> Result<T, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    match table.remove(name) {
        None => Ok(T::default()),
        Some(value) => serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().message().to_string();
            if path == "." { format!("[{name}]: {message}") } else { format!("[{name}] {path}: {message}") }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Llm {
        default_model: Option<String>,
    }

    #[test]
    fn a_section_is_read_into_its_type() {
        let llm: Llm = section_in("[ports]\nhttp = 1\n[llm]\ndefault_model = \"openai/x\"\n", "llm").unwrap();
        assert_eq!(llm, Llm { default_model: Some("openai/x".into()) });
    }

    #[test]
    fn a_missing_section_or_file_gives_the_default() {
        assert_eq!(section_in::<Llm>("[ports]\n", "llm").unwrap(), Llm::default());
        assert_eq!(section_of::<Llm>(Path::new("/nonexistent/agentos.toml"), "llm").unwrap(), Llm::default());
    }

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[serde(default)]
        providers: std::collections::BTreeMap<String, Inner>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        port: u16,
    }

    #[test]
    fn a_bad_nested_value_names_its_key() {
        let err = section_in::<Nested>("[llm.providers.groq]\nport = \"x\"\n", "llm").unwrap_err();
        assert!(err.starts_with("[llm] providers.groq.port: invalid type: string"), "{err}");
        let err = section_in::<Nested>("[llm.providers.groq]\nprot = 1\n", "llm").unwrap_err();
        assert!(err.starts_with("[llm] providers.groq"), "{err}");
        assert!(err.contains("unknown field `prot`"), "{err}");
    }

    #[test]
    fn an_unknown_key_names_the_section() {
        let err = section_in::<Llm>("[llm]\ndefault_modle = \"x\"\n", "llm").unwrap_err();
        assert!(err.starts_with("[llm] default_modle: unknown field `default_modle`"), "{err}");
    }
}
