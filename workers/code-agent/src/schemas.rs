//! The JSON schemas of the `code::*` inputs, published as each function's `request_format`
//! ([`crate::register::worker`] declares each with its function), so an agent can offer the
//! functions to a model as tools with exact parameters.
//!
//! A unit test checks that every schema names exactly the fields its request struct decodes.

use serde_json::{Value, json};

/// The input of `code::read_file`: {path, offset_line?, max_lines?}.
pub fn read_file() -> Value {
    object(
        json!({
            "path": {"type": "string", "description": "File path relative to the workspace root"},
            "offset_line": {"type": "integer", "minimum": 1, "description": "First line to read (1-based)"},
            "max_lines": {"type": "integer", "minimum": 1, "description": "Most lines to return"}
        }),
        &["path"],
    )
}

/// The input of `code::list`: {path?, recursive?, max_entries?}.
pub fn list() -> Value {
    object(
        json!({
            "path": {"type": "string", "description": "Directory relative to the workspace root (default: the root)"},
            "recursive": {"type": "boolean", "description": "Walk subdirectories too"},
            "max_entries": {"type": "integer", "minimum": 1, "description": "Most entries to return"}
        }),
        &[],
    )
}

/// The input of `code::search`: {pattern, path?, glob?, max_matches?}.
pub fn search() -> Value {
    object(
        json!({
            "pattern": {"type": "string", "description": "Regular expression (Rust regex syntax) matched per line"},
            "path": {"type": "string", "description": "File or directory to search (default: the whole workspace)"},
            "glob": {"type": "string", "description": "Only files whose name matches, e.g. *.rs"},
            "max_matches": {"type": "integer", "minimum": 1, "description": "Most matches to return"}
        }),
        &["pattern"],
    )
}

/// The input of `code::write_file`: {path, content, create_dirs?}.
pub fn write_file() -> Value {
    object(
        json!({
            "path": {"type": "string", "description": "File path relative to the workspace root"},
            "content": {"type": "string", "description": "The whole new content of the file"},
            "create_dirs": {"type": "boolean", "description": "Create missing parent directories"}
        }),
        &["path", "content"],
    )
}

/// The input of `code::apply_patch`: {patch}.
pub fn apply_patch() -> Value {
    object(
        json!({
            "patch": {"type": "string", "description": "A unified diff (--- a/path, +++ b/path, @@ hunks); applies whole or not at all"}
        }),
        &["patch"],
    )
}

/// The input of `code::run_command`: {program, args?, cwd?, timeout_ms?, max_output_bytes?}.
pub fn run_command() -> Value {
    object(
        json!({
            "program": {"type": "string", "description": "The program to run (no shell; use sh -c for pipes)"},
            "args": {"type": "array", "items": {"type": "string"}, "description": "Its arguments"},
            "cwd": {"type": "string", "description": "Working directory relative to the workspace root"},
            "timeout_ms": {"type": "integer", "minimum": 1, "description": "Kill it after this many milliseconds"},
            "max_output_bytes": {"type": "integer", "minimum": 1, "description": "Cap on stdout and stderr each"}
        }),
        &["program"],
    )
}

/// The input of `code::sandbox_info`: {}.
pub fn sandbox_info() -> Value {
    object(json!({}), &[])
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

#[cfg(test)]
mod tests {
    use crate::register::worker;
    use crate::{ApplyPatch, List, ReadFile, RunCommand, Search, WriteFile};
    use agentos_kit::typed::field_names;

    fn properties(id: &str) -> Vec<String> {
        let worker = worker();
        let mut names: Vec<String> =
            worker.request_format_of(id).unwrap()["properties"].as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    }

    fn sorted(fields: Option<&[&str]>) -> Vec<String> {
        let mut names: Vec<String> = fields.unwrap().iter().map(ToString::to_string).collect();
        names.sort();
        names
    }

    #[test]
    fn every_schema_names_exactly_its_request_fields() {
        assert_eq!(properties("code::read_file"), sorted(field_names::<ReadFile>()));
        assert_eq!(properties("code::list"), sorted(field_names::<List>()));
        assert_eq!(properties("code::search"), sorted(field_names::<Search>()));
        assert_eq!(properties("code::write_file"), sorted(field_names::<WriteFile>()));
        assert_eq!(properties("code::apply_patch"), sorted(field_names::<ApplyPatch>()));
        assert_eq!(properties("code::run_command"), sorted(field_names::<RunCommand>()));
        assert_eq!(worker().request_format_of("code::nope"), None);
    }

    #[test]
    fn every_function_of_the_manifest_has_a_schema() {
        let worker = worker();
        for id in &worker.manifest().functions {
            assert!(worker.request_format_of(id).is_some(), "{id}");
        }
    }
}
