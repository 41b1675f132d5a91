//! The JSON schemas of the `code::*` inputs, published as each function's `request_format`, so
//! an agent can offer the functions to a model as tools with exact parameters.
//!
//! A unit test checks that every schema names exactly the fields its request struct decodes.

use serde_json::{Value, json};

/// The input schema of `function_id`, or `None` for a function this worker does not serve.
pub fn request_format(function_id: &str) -> Option<Value> {
    let schema = match function_id {
        "code::read_file" => object(
            json!({
                "path": {"type": "string", "description": "File path relative to the workspace root"},
                "offset_line": {"type": "integer", "minimum": 1, "description": "First line to read (1-based)"},
                "max_lines": {"type": "integer", "minimum": 1, "description": "Most lines to return"}
            }),
            &["path"],
        ),
        "code::list" => object(
            json!({
                "path": {"type": "string", "description": "Directory relative to the workspace root (default: the root)"},
                "recursive": {"type": "boolean", "description": "Walk subdirectories too"},
                "max_entries": {"type": "integer", "minimum": 1, "description": "Most entries to return"}
            }),
            &[],
        ),
        "code::search" => object(
            json!({
                "pattern": {"type": "string", "description": "Regular expression (Rust regex syntax) matched per line"},
                "path": {"type": "string", "description": "File or directory to search (default: the whole workspace)"},
                "glob": {"type": "string", "description": "Only files whose name matches, e.g. *.rs"},
                "max_matches": {"type": "integer", "minimum": 1, "description": "Most matches to return"}
            }),
            &["pattern"],
        ),
        "code::write_file" => object(
            json!({
                "path": {"type": "string", "description": "File path relative to the workspace root"},
                "content": {"type": "string", "description": "The whole new content of the file"},
                "create_dirs": {"type": "boolean", "description": "Create missing parent directories"}
            }),
            &["path", "content"],
        ),
        "code::apply_patch" => object(
            json!({
                "patch": {"type": "string", "description": "A unified diff (--- a/path, +++ b/path, @@ hunks); applies whole or not at all"}
            }),
            &["patch"],
        ),
        "code::run_command" => object(
            json!({
                "program": {"type": "string", "description": "The program to run (no shell; use sh -c for pipes)"},
                "args": {"type": "array", "items": {"type": "string"}, "description": "Its arguments"},
                "cwd": {"type": "string", "description": "Working directory relative to the workspace root"},
                "timeout_ms": {"type": "integer", "minimum": 1, "description": "Kill it after this many milliseconds"},
                "max_output_bytes": {"type": "integer", "minimum": 1, "description": "Cap on stdout and stderr each"}
            }),
            &["program"],
        ),
        "code::sandbox_info" => object(json!({}), &[]),
        _ => return None,
    };
    Some(schema)
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApplyPatch, List, ReadFile, RunCommand, Search, WriteFile};
    use agentos_kit::typed::field_names;

    fn properties(id: &str) -> Vec<String> {
        let mut names: Vec<String> =
            request_format(id).unwrap()["properties"].as_object().unwrap().keys().cloned().collect();
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
        assert_eq!(request_format("code::nope"), None);
    }

    #[test]
    fn every_function_of_the_manifest_has_a_schema() {
        for id in &crate::MANIFEST.functions {
            assert!(request_format(id).is_some(), "{id}");
        }
    }
}
