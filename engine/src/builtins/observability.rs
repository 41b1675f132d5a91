//! Logs and traces: `engine::log::*`, `engine::logs::{list,clear}`,
//! `engine::traces::{list,tree,clear}`, and `log` triggers.
//!
//! Spans and logs are kept in the store, bounded by `memory_max_spans` and `logs_max_count` on
//! every write, and by age and total size in the periodic sweep ([`crate::retention`]). A
//! client's log record whose message plus data is over `log_max_bytes` is refused with
//! `payload_too_large`; an SDK's OTLP record over it is cut to fit (telemetry never fails).
//! `traces::tree` links a span to its parent by span id, and also through the span id a
//! callee's SDK reported in its reply, so a chain A→B→C is one tree even though B's own span
//! is not stored by the engine.

use std::collections::HashMap;

use agentos_protocol::trace::{Attributes, Span, SpanError, SpanNode};
use agentos_protocol::{ErrorBody, codes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::store::SpanRecord;
use crate::trace::now_ns;
use crate::triggers;

#[derive(Deserialize)]
struct LogInput {
    #[serde(default)]
    message: Value,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    span_id: Option<String>,
    #[serde(default)]
    service_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct LogsQuery {
    start_time: Option<i64>,
    end_time: Option<i64>,
    trace_id: Option<String>,
    span_id: Option<String>,
    severity_min: Option<i64>,
    severity_text: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

#[derive(Deserialize, Default)]
struct TracesQuery {
    trace_id: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    name: Option<String>,
    status: Option<String>,
    min_duration_ms: Option<f64>,
    max_duration_ms: Option<f64>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    #[serde(default)]
    include_internal: bool,
    /// agentos: only traces in which this function was called.
    function_id: Option<String>,
}

#[derive(Deserialize)]
struct TreeInput {
    trace_id: String,
}

/// The config key of the largest log record a client may write.
const LIMIT_KEY: &str = "iii-observability.log_max_bytes";

/// The bytes a log record costs: its message plus its data as JSON.
fn record_bytes(body: &str, data: Option<&Value>) -> usize {
    body.len() + data.map_or(0, |d| d.to_string().len())
}

/// Cuts an SDK's log record to `limit` bytes of body and attributes: attributes that do not
/// fit are replaced by a note, then the body is cut at a character boundary with a marker.
pub fn fit_record(record: &mut Value, limit: usize) {
    let body_len = record.get("body").and_then(Value::as_str).map_or(0, str::len);
    let attributes = record.get("attributes");
    if record_bytes("", attributes) + body_len <= limit {
        return;
    }
    let over = record_bytes("", attributes) + body_len - limit;
    if record_bytes("", attributes) > limit / 2 {
        record["attributes"] = json!({ "agentos.truncated": format!("attributes over {LIMIT_KEY} dropped") });
    }
    let room = limit.saturating_sub(record_bytes("", record.get("attributes")));
    if let Some(Value::String(body)) = record.get_mut("body")
        && body.len() > room
    {
        let mut cut = room;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str(&format!(" … [cut: {over} bytes over {LIMIT_KEY}]"));
    }
}

const LEVELS: &[(&str, i64, &str)] =
    &[("trace", 1, "TRACE"), ("debug", 5, "DEBUG"), ("info", 9, "INFO"), ("warn", 13, "WARN"), ("error", 17, "ERROR")];

/// Stores log records, fires `log` triggers and (when configured) echoes them to the console.
pub fn store_logs(engine: &Engine, records: Vec<Value>) {
    if records.is_empty() {
        return;
    }
    if let Err(e) = engine.store().logs_insert(&records, engine.config().logs_max_count) {
        tracing::warn!("could not store logs: {e}");
    }
    let triggers = triggers::of_type(engine, "log");
    for record in records {
        let level = record.get("severity_text").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
        let targets: Vec<_> = triggers
            .iter()
            .filter(|t| {
                let want = t.config.get("level").and_then(Value::as_str).unwrap_or("all");
                want == "all" || want == level
            })
            .cloned()
            .collect();
        triggers::fire_sequential(engine, targets, record, None);
    }
}

fn span_json(s: &SpanRecord) -> Value {
    serde_json::to_value(span(s)).unwrap_or(Value::Null)
}

/// A stored span as the engine serves it.
fn span(s: &SpanRecord) -> Span {
    let mut attributes: Vec<(String, String)> = s.attributes.clone();
    if let Some(f) = &s.function_id {
        attributes.push(("function_id".into(), f.clone()));
    }
    if let Some(w) = &s.worker_id {
        attributes.push(("worker_id".into(), w.clone()));
    }
    if let Some(c) = &s.caller_worker_id {
        attributes.push(("caller_worker_id".into(), c.clone()));
    }
    if let Some(code) = &s.error_code {
        attributes.push(("error.code".into(), code.clone()));
    }
    Span {
        trace_id: s.trace_id.clone(),
        span_id: s.span_id.clone(),
        parent_span_id: s.parent_span_id.clone(),
        name: s.name.clone(),
        start_time_unix_nano: s.start_ns,
        end_time_unix_nano: s.end_ns,
        duration_ms: (s.end_ns - s.start_ns) as f64 / 1e6,
        status: s.status.clone(),
        status_description: s.error_message.clone(),
        function_id: s.function_id.clone(),
        worker_id: s.worker_id.clone(),
        caller_worker_id: s.caller_worker_id.clone(),
        error: s.error_code.as_ref().map(|c| SpanError { code: c.clone(), message: s.error_message.clone() }),
        attributes: Attributes(attributes),
        service_name: s.service_name.clone(),
        events: Vec::new(),
        links: Vec::new(),
        instrumentation_scope_name: "agentos-engine".to_string(),
        instrumentation_scope_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Builds the span tree of one trace: roots are spans whose parent is not in the trace.
pub fn build_tree(spans: &[SpanRecord]) -> Vec<SpanNode> {
    // A parent is found by its own span id or by the span id its callee's SDK reported.
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        by_id.insert(&s.span_id, i);
    }
    for (i, s) in spans.iter().enumerate() {
        if let Some(remote) = &s.remote_span_id {
            by_id.entry(remote).or_insert(i);
        }
    }
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.parent_span_id.as_deref().and_then(|p| by_id.get(p)).filter(|p| **p != i) {
            Some(p) => children.entry(*p).or_default().push(i),
            None => roots.push(i),
        }
    }
    fn node(i: usize, spans: &[SpanRecord], children: &HashMap<usize, Vec<usize>>, depth: usize) -> SpanNode {
        // Depth guard: a malformed cycle in stored data cannot recurse forever.
        let kids: Vec<SpanNode> = if depth > 256 {
            Vec::new()
        } else {
            children
                .get(&i)
                .map(|c| c.iter().map(|k| node(*k, spans, children, depth + 1)).collect())
                .unwrap_or_default()
        };
        SpanNode { span: span(&spans[i]), children: kids }
    }
    roots.into_iter().map(|r| node(r, spans, &children, 0)).collect()
}

fn err(code: &str, e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(code, e.to_string())
}

async fn query_spans(engine: &Engine, q: &TracesQuery) -> Result<Vec<SpanRecord>, ErrorBody> {
    engine.inner.spans.flush().await;
    let store = engine.store();
    let spans = match &q.trace_id {
        Some(t) => store.spans_query("trace_id = ?1", &[t]),
        None => match &q.function_id {
            Some(f) => store.spans_query("trace_id IN (SELECT trace_id FROM spans WHERE function_id = ?1)", &[f]),
            None => store.spans_query("1 = 1", &[]),
        },
    };
    spans.map_err(|e| err("TRACES_ERROR", e))
}

/// Registers the log and trace functions.
pub fn register(engine: &Engine) {
    for (level, severity, text) in LEVELS {
        let id: &'static str = Box::leak(format!("engine::log::{level}").into_boxed_str());
        let (severity, text) = (*severity, *text);
        engine.register_typed(id, "Store a log record", move |engine, i: LogInput, _| async move {
            let now = now_ns();
            let body = match i.message {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let limit = engine.config().log_max_bytes;
            let bytes = record_bytes(&body, i.data.as_ref());
            if bytes > limit {
                return Err(ErrorBody::new(
                    codes::PAYLOAD_TOO_LARGE,
                    format!(
                        "the log record is {bytes} bytes (message plus data), over the limit of {limit} bytes \
                         ({LIMIT_KEY}); log less, or raise {LIMIT_KEY} in the engine config"
                    ),
                ));
            }
            let record = json!({
                "timestamp_unix_nano": now, "observed_timestamp_unix_nano": now,
                "severity_number": severity, "severity_text": text, "body": body,
                "attributes": i.data.unwrap_or_else(|| json!({})), "trace_id": i.trace_id, "span_id": i.span_id,
                "resource": {}, "service_name": i.service_name.unwrap_or_else(|| "unknown".into()),
                "instrumentation_scope_name": "agentos-engine", "instrumentation_scope_version": env!("CARGO_PKG_VERSION"),
            });
            if engine.config().logs_console_output {
                tracing::info!(target: "worker_log", severity = text, "{body}");
            }
            store_logs(&engine, vec![record]);
            Ok(Value::Null)
        });
    }
    engine.register_typed("engine::logs::list", "Query stored logs", |engine, q: LogsQuery, _| async move {
        let all = engine.store().logs_all().map_err(|e| err("LOGS_ERROR", e))?;
        let ms = |r: &Value| r.get("timestamp_unix_nano").and_then(Value::as_i64).unwrap_or(0) / 1_000_000;
        let s = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let matching: Vec<Value> = all
            .into_iter()
            .filter(|r| q.start_time.is_none_or(|t| ms(r) >= t))
            .filter(|r| q.end_time.is_none_or(|t| ms(r) <= t))
            .filter(|r| q.trace_id.is_none() || s(r, "trace_id") == q.trace_id)
            .filter(|r| q.span_id.is_none() || s(r, "span_id") == q.span_id)
            .filter(|r| q.severity_min.is_none_or(|m| r.get("severity_number").and_then(Value::as_i64).unwrap_or(0) >= m))
            .filter(|r| {
                q.severity_text.as_ref().is_none_or(|t| s(r, "severity_text").is_some_and(|x| x.eq_ignore_ascii_case(t)))
            })
            .collect();
        let total = matching.len();
        let offset = q.offset.unwrap_or(0);
        let limit = q.limit.unwrap_or(100);
        let logs: Vec<Value> = matching.into_iter().skip(offset).take(limit).collect();
        Ok(json!({ "logs": logs, "total": total, "query": {"offset": offset, "limit": limit}, "timestamp": crate::trace::now_ms() }))
    });
    engine.register_typed("engine::logs::clear", "Delete stored logs", |engine, _: Value, _| async move {
        engine.store().logs_clear().map_err(|e| err("LOGS_ERROR", e))?;
        Ok(json!({ "success": true }))
    });
    engine.register_typed(
        "engine::traces::list",
        "Root spans of recent traces",
        |engine, q: TracesQuery, _| async move {
            let spans = query_spans(&engine, &q).await?;
            let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
            let remotes: std::collections::HashSet<&str> =
                spans.iter().filter_map(|s| s.remote_span_id.as_deref()).collect();
            let mut roots: Vec<&SpanRecord> = spans
                .iter()
                .filter(|s| s.parent_span_id.as_deref().is_none_or(|p| !ids.contains(p) && !remotes.contains(p)))
                .filter(|s| q.include_internal || !s.internal)
                .filter(|s| q.name.as_ref().is_none_or(|n| s.name.contains(n.as_str())))
                .filter(|s| q.status.as_ref().is_none_or(|st| &s.status == st))
                .filter(|s| q.start_time.is_none_or(|t| s.start_ns / 1_000_000 >= t))
                .filter(|s| q.end_time.is_none_or(|t| s.start_ns / 1_000_000 <= t))
                .filter(|s| {
                    let d = (s.end_ns - s.start_ns) as f64 / 1e6;
                    q.min_duration_ms.is_none_or(|m| d >= m) && q.max_duration_ms.is_none_or(|m| d <= m)
                })
                .collect();
            match q.sort_by.as_deref() {
                Some("duration") => roots.sort_by_key(|s| s.end_ns - s.start_ns),
                Some("name") => roots.sort_by(|a, b| a.name.cmp(&b.name)),
                _ => roots.sort_by_key(|s| s.start_ns),
            }
            if q.sort_order.as_deref() == Some("desc") {
                roots.reverse();
            }
            let total = roots.len();
            let offset = q.offset.unwrap_or(0);
            let limit = q.limit.unwrap_or(100);
            let page: Vec<Value> = roots.into_iter().skip(offset).take(limit).map(span_json).collect();
            Ok(json!({ "spans": page, "total": total, "offset": offset, "limit": limit }))
        },
    );
    engine.register_typed("engine::traces::tree", "The span tree of one trace", |engine, i: TreeInput, _| async move {
        let q = TracesQuery { trace_id: Some(i.trace_id), ..TracesQuery::default() };
        let spans = query_spans(&engine, &q).await?;
        Ok(json!({ "roots": build_tree(&spans) }))
    });
    engine.register_typed("engine::traces::clear", "Delete stored spans", |engine, _: Value, _| async move {
        engine.inner.spans.flush().await;
        engine.store().spans_clear().map_err(|e| err("TRACES_ERROR", e))?;
        Ok(json!({ "success": true }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn an_sdk_log_record_over_the_limit_is_cut_to_fit_with_a_marker() {
        let mut small = json!({"body": "hi", "attributes": {"n": "1"}});
        fit_record(&mut small, 100);
        assert_eq!(small, json!({"body": "hi", "attributes": {"n": "1"}}));

        let mut long = json!({"body": "é".repeat(100), "attributes": {}});
        fit_record(&mut long, 51);
        let body = long["body"].as_str().unwrap();
        assert!(body.starts_with(&"é".repeat(24)) && !body.starts_with(&"é".repeat(25)), "{body}");
        assert!(body.ends_with("bytes over iii-observability.log_max_bytes]"), "{body}");

        let mut fat = json!({"body": "b", "attributes": {"blob": "x".repeat(200)}});
        fit_record(&mut fat, 100);
        assert_eq!(
            fat["attributes"],
            json!({"agentos.truncated": "attributes over iii-observability.log_max_bytes dropped"})
        );
        assert_eq!(fat["body"], "b");
    }
}
