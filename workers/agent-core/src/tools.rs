//! The model's tools: iii functions offered under provider-safe names, and their results
//! rendered as the text the model reads.
//!
//! Rules it keeps:
//! - A tool is a live function the hand allows; a function the hand names but nobody has
//!   registered is left out (and `agentos doctor` reports it), never offered to fail.
//! - Providers accept tool names of `[A-Za-z0-9_-]{1,64}`: `code::read_file` is offered as
//!   `code__read_file`, and the turn maps names back through [`Toolbox::function_for`] (no
//!   reverse string surgery, so odd ids cannot collide silently).
//! - A result longer than the cap is cut on a character boundary with a note saying so.

use std::collections::BTreeMap;

use agentos_kit::chat::{ToolCall, ToolSpec};
use agentos_protocol::chat::ToolCallRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The longest tool name providers accept.
const NAME_MAX: usize = 64;

/// One live function as `engine::functions::list` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionInfo {
    /// `namespace::verb`.
    pub function_id: String,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// The JSON schema of its input, when the function published one.
    #[serde(default)]
    pub request_format: Option<Value>,
}

/// The `engine::functions::list` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionList {
    /// Every registered function.
    pub functions: Vec<FunctionInfo>,
}

/// The tools of one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Toolbox {
    /// What the model is offered.
    pub specs: Vec<ToolSpec>,
    /// Tool name → function id.
    by_name: BTreeMap<String, String>,
    /// Functions the hand allows that are not registered.
    pub missing: Vec<String>,
}

impl Toolbox {
    /// The tools for a hand allowing `allowed`, given the live `registry`.
    pub fn new(allowed: &[String], registry: &[FunctionInfo]) -> Self {
        let mut toolbox = Self::default();
        for function_id in allowed {
            let Some(info) = registry.iter().find(|f| &f.function_id == function_id) else {
                toolbox.missing.push(function_id.clone());
                continue;
            };
            let name = toolbox.unique_name(tool_name(function_id));
            toolbox.by_name.insert(name.clone(), function_id.clone());
            toolbox.specs.push(ToolSpec {
                name,
                description: info.description.clone().unwrap_or_else(|| function_id.clone()),
                parameters: parameters_of(info),
            });
        }
        toolbox
    }

    /// The function behind tool `name`.
    pub fn function_for(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    /// The offered tool names, for messages.
    pub fn names(&self) -> Vec<&str> {
        self.specs.iter().map(|s| s.name.as_str()).collect()
    }

    fn unique_name(&self, base: String) -> String {
        if !self.by_name.contains_key(&base) {
            return base;
        }
        (2..)
            .map(|n| {
                let suffix = format!("_{n}");
                let keep = base.len().min(NAME_MAX - suffix.len());
                format!("{}{suffix}", &base[..keep])
            })
            .find(|candidate| !self.by_name.contains_key(candidate))
            .unwrap_or(base)
    }
}

/// The provider-safe name of `function_id`: `::` becomes `__`, other characters outside
/// `[A-Za-z0-9_-]` become `_`, at most 64 characters.
pub fn tool_name(function_id: &str) -> String {
    let name: String = function_id
        .replace("::", "__")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .take(NAME_MAX)
        .collect();
    if name.is_empty() { "tool".to_string() } else { name }
}

/// The input schema offered for a function: its published `request_format` when that is an
/// object schema, else an open object.
fn parameters_of(info: &FunctionInfo) -> Value {
    match &info.request_format {
        Some(schema) if schema.get("type").and_then(Value::as_str) == Some("object") => schema.clone(),
        _ => json!({"type": "object", "additionalProperties": true}),
    }
}

/// The text the model reads for a tool's result: a string as is, anything else as compact
/// JSON, cut at `cap` bytes.
pub fn render_result(result: &Value, cap: usize) -> String {
    let text = match result {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    truncate(text, cap)
}

/// `text` cut to at most `cap` bytes on a character boundary, with a note when cut.
pub fn truncate(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes cut; ask for a smaller range]", &text[..end], text.len() - end)
}

/// The record of a call that was not made, for a reason the model reads.
pub fn not_run(toolbox: &Toolbox, call: &ToolCall, reason: &str) -> ToolCallRecord {
    ToolCallRecord {
        id: call.id.clone(),
        function_id: toolbox.function_for(&call.name).unwrap_or(&call.name).to_string(),
        arguments: call.arguments.clone(),
        ok: false,
        result: None,
        error: None,
        blocked: Some(reason.to_string()),
        warning: None,
        duration_ms: 0,
    }
}

/// The text the model reads for a tool call.
pub fn tool_message(record: &ToolCallRecord, cap: usize) -> String {
    let body = if let Some(reason) = &record.blocked {
        format!("Not run: {reason}")
    } else if let Some(e) = &record.error {
        truncate(format!("Error {}: {}", e.code, e.message), cap)
    } else {
        render_result(record.result.as_ref().unwrap_or(&Value::Null), cap)
    };
    match &record.warning {
        Some(w) => format!("{body}\n\n[loop guard] {w}"),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn info(id: &str, schema: Option<Value>) -> FunctionInfo {
        FunctionInfo { function_id: id.into(), description: Some(format!("does {id}")), request_format: schema }
    }

    #[test]
    fn function_ids_become_provider_safe_names() {
        assert_eq!(tool_name("code::read_file"), "code__read_file");
        assert_eq!(tool_name("a.b::c d"), "a_b__c_d");
        assert_eq!(tool_name(&"x".repeat(80)).len(), 64);
    }

    #[test]
    fn only_live_allowed_functions_become_tools() {
        let registry = vec![info("code::read_file", None), info("code::list", None), info("other::x", None)];
        let allowed = vec!["code::read_file".to_string(), "code::gone".to_string()];
        let toolbox = Toolbox::new(&allowed, &registry);
        assert_eq!(toolbox.names(), vec!["code__read_file"]);
        assert_eq!(toolbox.function_for("code__read_file"), Some("code::read_file"));
        assert_eq!(toolbox.function_for("other__x"), None);
        assert_eq!(toolbox.missing, vec!["code::gone".to_string()]);
    }

    #[test]
    fn colliding_names_get_a_suffix_and_still_map_back() {
        let registry = vec![info("a::b", None), info("a__b", None)];
        let toolbox = Toolbox::new(&["a::b".to_string(), "a__b".to_string()], &registry);
        assert_eq!(toolbox.names(), vec!["a__b", "a__b_2"]);
        assert_eq!(toolbox.function_for("a__b_2"), Some("a__b"));
    }

    #[test]
    fn a_published_object_schema_is_offered_and_anything_else_is_an_open_object() {
        let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}});
        let toolbox = Toolbox::new(
            &["a::x".to_string(), "a::y".to_string()],
            &[info("a::x", Some(schema.clone())), info("a::y", Some(json!({"type": "string"})))],
        );
        assert_eq!(toolbox.specs[0].parameters, schema);
        assert_eq!(toolbox.specs[1].parameters["type"], "object");
    }

    #[test]
    fn results_are_text_and_long_ones_are_cut_on_a_char_boundary() {
        assert_eq!(render_result(&json!("plain"), 100), "plain");
        assert_eq!(render_result(&json!({"a": 1}), 100), "{\"a\":1}");
        let cut = render_result(&json!("ééééé"), 3);
        assert!(cut.starts_with("é\n[… 8 more bytes cut"), "{cut}");
    }
}
