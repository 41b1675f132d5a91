//! The trace contract: a span as the engine serves it (`engine::traces::list`,
//! `engine::traces::tree`), and the trace answers session-replay builds from them
//! (`replay::traces`, `replay::trace`, `GET /v1/traces[/:id]`), read by `agentos trace` and
//! the dashboard's trace pane.
//!
//! Rules it keeps:
//! - Written by the engine, a span has every field; times are Unix nanoseconds, attributes a
//!   list of `[key, value]` pairs.
//! - A reader also takes spans in the OTLP spellings other engines use: times as numeric
//!   strings, attributes as an object or a list of `{key, value}`; a missing field reads as
//!   empty, a span without its times as one of zero length.
//! - session-replay passes spans through as the engine wrote them: its answers carry them as
//!   JSON, read with [`TraceSummary::root_span`] and [`TraceTree::nodes`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A span's error, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanError {
    /// The stable code.
    #[serde(default = "error_code")]
    pub code: String,
    /// What went wrong, when the engine kept it.
    #[serde(default)]
    pub message: Option<String>,
}

fn error_code() -> String {
    "ERROR".to_string()
}

/// A span's attributes: `[key, value]` pairs, the values as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Attributes(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        Ok(Self(match Value::deserialize(de)? {
            Value::Array(pairs) => pairs
                .iter()
                .filter_map(|pair| match pair {
                    Value::Array(kv) if kv.len() == 2 => Some((text(&kv[0]), text(&kv[1]))),
                    Value::Object(o) => Some((text(o.get("key")?), text(o.get("value")?))),
                    _ => None,
                })
                .collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            _ => Vec::new(),
        }))
    }
}

/// Nanoseconds from a number or a numeric string (OTLP writes them as strings); 0 otherwise.
fn nanos<'de, D: Deserializer<'de>>(de: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(de)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    })
}

/// One span as the engine serves it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The trace it belongs to.
    #[serde(default)]
    pub trace_id: String,
    /// Its id.
    #[serde(default)]
    pub span_id: String,
    /// Its parent's id; none for a root.
    #[serde(default)]
    pub parent_span_id: Option<String>,
    /// What it was (`call code::read_file`).
    #[serde(default)]
    pub name: String,
    /// When it started, Unix ns.
    #[serde(default, deserialize_with = "nanos")]
    pub start_time_unix_nano: i64,
    /// When it ended, Unix ns.
    #[serde(default, deserialize_with = "nanos")]
    pub end_time_unix_nano: i64,
    /// How long it took, in ms.
    #[serde(default)]
    pub duration_ms: f64,
    /// `ok` or `error`.
    #[serde(default)]
    pub status: String,
    /// The error's message, when it failed.
    #[serde(default)]
    pub status_description: Option<String>,
    /// The function it called.
    #[serde(default)]
    pub function_id: Option<String>,
    /// The worker that served it.
    #[serde(default)]
    pub worker_id: Option<String>,
    /// The worker that made the call.
    #[serde(default)]
    pub caller_worker_id: Option<String>,
    /// Its error, when it failed.
    #[serde(default)]
    pub error: Option<SpanError>,
    /// Its attributes.
    #[serde(default)]
    pub attributes: Attributes,
    /// The service that reported it.
    #[serde(default)]
    pub service_name: String,
    /// Its events (the engine records none).
    #[serde(default)]
    pub events: Vec<Value>,
    /// Its links (the engine records none).
    #[serde(default)]
    pub links: Vec<Value>,
    /// The instrumentation that made it.
    #[serde(default)]
    pub instrumentation_scope_name: String,
    /// Its version.
    #[serde(default)]
    pub instrumentation_scope_version: String,
}

impl Span {
    /// What a tree shows: the function it called, else its name.
    pub fn label(&self) -> &str {
        self.function_id.as_deref().filter(|f| !f.is_empty()).unwrap_or(&self.name)
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.eq_ignore_ascii_case("error")
    }
}

/// A span with its children (`engine::traces::tree`), children in the order served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanNode {
    /// The span.
    #[serde(flatten)]
    pub span: Span,
    /// The spans it called.
    #[serde(default)]
    pub children: Vec<SpanNode>,
}

/// One trace of `GET /v1/traces` (`replay::traces`): a session's, or a recent one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The trace id.
    pub trace_id: String,
    /// Its root [`Span`] as the engine wrote it; `null` when the engine no longer keeps it.
    #[serde(default)]
    pub root: Option<Value>,
    /// When it started (Unix ms).
    #[serde(default)]
    pub started_ms: u64,
    /// How long it took, in ms.
    #[serde(default)]
    pub duration_ms: f64,
    /// The turn it belongs to (session traces only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
}

impl TraceSummary {
    /// The root span, read; `None` when there is none or it is not a span.
    pub fn root_span(&self) -> Option<Span> {
        self.root.as_ref().filter(|r| r.is_object()).and_then(|r| Span::deserialize(r).ok())
    }
}

/// What `replay::traces` and `GET /v1/traces` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceList {
    /// The traces: a session's in the order it met them; recent ones newest first.
    #[serde(default)]
    pub traces: Vec<TraceSummary>,
}

/// What `replay::trace` and `GET /v1/traces/:id` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceTree {
    /// The trace id.
    #[serde(default)]
    pub trace_id: String,
    /// Its span trees ([`SpanNode`]s as the engine wrote them).
    #[serde(default)]
    pub roots: Vec<Value>,
}

impl TraceTree {
    /// The span trees, read; a root that is not a span tree is left out.
    pub fn nodes(&self) -> Vec<SpanNode> {
        self.roots.iter().filter_map(|r| SpanNode::deserialize(r).ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn attributes_are_read_as_pairs_or_as_an_object_and_written_as_pairs() {
        let pairs: Attributes =
            serde_json::from_value(json!([["worker_id", "w1"], ["n", 3], {"key": "k", "value": "v"}]))
                .unwrap_or_default();
        assert_eq!(pairs.0, [("worker_id".into(), "w1".into()), ("n".into(), "3".into()), ("k".into(), "v".into())]);
        let object: Attributes = serde_json::from_value(json!({"k": "v"})).unwrap_or_default();
        assert_eq!(serde_json::to_value(&object).unwrap_or_default(), json!([["k", "v"]]));
        let none: Attributes =
            serde_json::from_value(json!(null)).unwrap_or_else(|_| Attributes(vec![("x".into(), "y".into())]));
        assert_eq!(none, Attributes::default());
    }

    #[test]
    fn string_times_and_a_missing_error_message_are_understood() {
        let span: Span = serde_json::from_value(json!({"span_id": "s", "start_time_unix_nano": "1000",
            "error": {"code": "TIMEOUT"}}))
        .unwrap_or_default();
        assert_eq!((span.start_time_unix_nano, span.failed()), (1000, true));
        assert_eq!(span.error, Some(SpanError { code: "TIMEOUT".into(), message: None }));
    }
}
