//! Telemetry frames from SDKs: a 4-byte prefix (`OTLP`, `MTRC`, `LOGS`) and OTLP JSON.
//!
//! Log records become stored logs (and fire `log` triggers), each cut to `log_max_bytes`. Spans are stored beside the
//! engine's own, so a trace shows the SDK's handler spans too. Metrics are accepted and dropped.
//! Anything unreadable is dropped with a debug line: telemetry must never hurt a worker.

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::store::SpanRecord;

/// Whether a binary frame carries telemetry rather than a protocol message.
pub fn is_telemetry_frame(bytes: &[u8]) -> bool {
    matches!(bytes.get(..4), Some(b"OTLP" | b"MTRC" | b"LOGS"))
}

/// Ingests one telemetry frame.
pub fn ingest(engine: &Engine, bytes: &[u8]) {
    let (prefix, body) = bytes.split_at(bytes.len().min(4));
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        tracing::debug!("unreadable telemetry frame dropped");
        return;
    };
    match prefix {
        b"LOGS" => {
            let mut logs = logs_of(&doc);
            for record in &mut logs {
                crate::builtins::observability::fit_record(record, engine.config().log_max_bytes);
            }
            crate::builtins::observability::store_logs(engine, logs);
        }
        b"OTLP" => {
            for span in spans_of(&doc) {
                engine.inner.spans.record(span);
            }
        }
        _ => {}
    }
}

fn service_name(resource: &Value) -> String {
    attributes(resource.get("attributes"))
        .into_iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v)
        .unwrap_or_else(|| "unknown".into())
}

fn any_value(v: &Value) -> String {
    let Some(obj) = v.as_object() else { return v.to_string() };
    for key in ["stringValue", "intValue", "doubleValue", "boolValue"] {
        if let Some(x) = obj.get(key) {
            return x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string());
        }
    }
    v.to_string()
}

fn attributes(list: Option<&Value>) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|kv| Some((kv.get("key")?.as_str()?.to_string(), any_value(kv.get("value")?))))
                .collect()
        })
        .unwrap_or_default()
}

fn nanos(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn logs_of(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for rl in doc.get("resourceLogs").and_then(Value::as_array).into_iter().flatten() {
        let service = service_name(rl.get("resource").unwrap_or(&Value::Null));
        for sl in rl.get("scopeLogs").and_then(Value::as_array).into_iter().flatten() {
            let scope = sl.get("scope");
            for r in sl.get("logRecords").and_then(Value::as_array).into_iter().flatten() {
                let attrs: serde_json::Map<String, Value> =
                    attributes(r.get("attributes")).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                out.push(json!({
                    "timestamp_unix_nano": nanos(r.get("timeUnixNano")),
                    "observed_timestamp_unix_nano": nanos(r.get("observedTimeUnixNano")),
                    "severity_number": r.get("severityNumber").and_then(Value::as_i64).unwrap_or(0),
                    "severity_text": r.get("severityText").and_then(Value::as_str).unwrap_or_default(),
                    "body": r.get("body").map(any_value).unwrap_or_default(),
                    "attributes": attrs,
                    "trace_id": r.get("traceId").and_then(Value::as_str).filter(|s| !s.is_empty()),
                    "span_id": r.get("spanId").and_then(Value::as_str).filter(|s| !s.is_empty()),
                    "resource": {}, "service_name": service,
                    "instrumentation_scope_name": scope.and_then(|s| s.get("name")),
                    "instrumentation_scope_version": scope.and_then(|s| s.get("version")),
                }));
            }
        }
    }
    out
}

fn spans_of(doc: &Value) -> Vec<SpanRecord> {
    let mut out = Vec::new();
    for rs in doc.get("resourceSpans").and_then(Value::as_array).into_iter().flatten() {
        let service = service_name(rs.get("resource").unwrap_or(&Value::Null));
        for ss in rs.get("scopeSpans").and_then(Value::as_array).into_iter().flatten() {
            for s in ss.get("spans").and_then(Value::as_array).into_iter().flatten() {
                let text = |k: &str| s.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
                let (Some(trace_id), Some(span_id)) = (text("traceId"), text("spanId")) else { continue };
                let status_code = s.get("status").and_then(|st| st.get("code"));
                let is_error = matches!(status_code, Some(Value::Number(n)) if n.as_i64() == Some(2))
                    || status_code.and_then(Value::as_str) == Some("STATUS_CODE_ERROR");
                out.push(SpanRecord {
                    trace_id,
                    span_id,
                    parent_span_id: text("parentSpanId"),
                    remote_span_id: None,
                    name: text("name").unwrap_or_default(),
                    function_id: None,
                    worker_id: None,
                    caller_worker_id: None,
                    internal: false,
                    start_ns: nanos(s.get("startTimeUnixNano")),
                    end_ns: nanos(s.get("endTimeUnixNano")),
                    status: if is_error { "error".into() } else { "ok".into() },
                    error_code: None,
                    error_message: s
                        .get("status")
                        .and_then(|st| st.get("message"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    service_name: service.clone(),
                    attributes: attributes(s.get("attributes")),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_prefixes_are_telemetry() {
        assert!(is_telemetry_frame(b"LOGS{}"));
        assert!(is_telemetry_frame(b"OTLP{}"));
        assert!(!is_telemetry_frame(b"{\"type\":\"ping\"}"));
    }

    #[test]
    fn otlp_log_records_become_stored_logs() {
        let doc = json!({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]},
            "scopeLogs": [{"scope": {"name": "iii"}, "logRecords": [{"timeUnixNano": "5", "severityNumber": 9,
            "severityText": "INFO", "body": {"stringValue": "hello"}, "attributes": [{"key": "n", "value": {"intValue": 3}}]}]}]}]});
        let logs = logs_of(&doc);
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["body"], "hello");
        assert_eq!(logs[0]["service_name"], "w");
        assert_eq!(logs[0]["timestamp_unix_nano"], 5);
        assert_eq!(logs[0]["attributes"]["n"], "3");
    }
}
