//! W3C trace context and the span writer.
//!
//! Every invocation is a span. Its parent comes from the caller's `traceparent`; the callee gets a
//! `traceparent` naming the engine's span, so a chain A→B→C is one tree. Spans are written to the
//! store in batches by one background task, so recording costs the hot path one channel send.
//! Queries flush the writer first, so a finished call is always visible to `engine::traces::*`.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{SpanRecord, Store};

/// A span's identity within a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// The span this one is a child of, when the caller sent a `traceparent`.
    pub parent_span_id: Option<String>,
}

impl SpanContext {
    /// A new span: a child of `traceparent` when it parses, else the root of a new trace.
    pub fn child_of(traceparent: Option<&str>) -> Self {
        match traceparent.and_then(parse_traceparent) {
            Some((trace_id, parent)) => Self { trace_id, span_id: new_span_id(), parent_span_id: Some(parent) },
            None => Self { trace_id: new_trace_id(), span_id: new_span_id(), parent_span_id: None },
        }
    }

    /// The `traceparent` header that names this span as the parent.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// Splits `00-<32 hex trace>-<16 hex span>-<2 hex flags>` into (trace id, span id).
pub fn parse_traceparent(header: &str) -> Option<(String, String)> {
    let mut parts = header.trim().split('-');
    let version = parts.next()?;
    let trace = parts.next()?;
    let span = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && hex(trace, 32)
        && hex(span, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && span.bytes().any(|b| b != b'0');
    valid.then(|| (trace.to_ascii_lowercase(), span.to_ascii_lowercase()))
}

fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn new_span_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_string()
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The handle that records spans; cheap to clone.
///
/// Recording appends to a buffer under a mutex and wakes nobody, so the hot path costs no
/// thread hand-off; the writer task drains the buffer every [`FLUSH_INTERVAL`], or at once when
/// [`MAX_BATCH`] spans are waiting.
#[derive(Clone)]
pub struct SpanWriter {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<Store>,
    keep: usize,
    buffer: std::sync::Mutex<Vec<SpanRecord>>,
    full: tokio::sync::Notify,
}

/// How long spans may sit in memory before they are written: short enough that a crash loses
/// little, long enough to batch a burst of calls into one transaction.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// A batch this large is written at once rather than waiting for the interval.
const MAX_BATCH: usize = 512;

impl SpanWriter {
    /// Starts the writer task on the current runtime. `keep` bounds how many spans are retained.
    pub fn spawn(store: Arc<Store>, keep: usize) -> Self {
        let shared =
            Arc::new(Shared { store, keep, buffer: std::sync::Mutex::default(), full: tokio::sync::Notify::new() });
        let weak = Arc::downgrade(&shared);
        tokio::spawn(async move {
            loop {
                let Some(shared) = weak.upgrade() else { return };
                tokio::select! {
                    _ = tokio::time::sleep(FLUSH_INTERVAL) => {}
                    _ = shared.full.notified() => {}
                }
                drain(&shared).await;
            }
        });
        Self { shared }
    }

    /// Queues a finished span.
    pub fn record(&self, span: SpanRecord) {
        let len = {
            let mut buffer = self.shared.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            buffer.push(span);
            buffer.len()
        };
        if len == MAX_BATCH {
            self.shared.full.notify_one();
        }
    }

    /// Writes every span recorded so far to the store.
    pub async fn flush(&self) {
        drain(&self.shared).await;
    }
}

async fn drain(shared: &Arc<Shared>) {
    let batch = std::mem::take(&mut *shared.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    write(&shared.store, batch, shared.keep).await;
}

async fn write(store: &Arc<Store>, spans: Vec<SpanRecord>, keep: usize) {
    if spans.is_empty() {
        return;
    }
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || store.spans_insert(&spans, keep)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(code = err.code(), "could not write spans: {err}"),
        Err(err) => tracing::warn!("span writer task failed: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_gives_a_child_in_the_same_trace() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let span = SpanContext::child_of(Some(parent));
        assert_eq!(span.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(span.span_id.len(), 16);
        assert_ne!(span.span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn a_malformed_or_all_zero_traceparent_starts_a_new_trace() {
        for bad in ["", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-abc-def-01"] {
            let span = SpanContext::child_of(Some(bad));
            assert_eq!(span.parent_span_id, None, "{bad}");
            assert_eq!(span.trace_id.len(), 32);
        }
    }

    #[test]
    fn the_outgoing_header_names_this_span() {
        let span = SpanContext::child_of(None);
        assert_eq!(parse_traceparent(&span.traceparent()), Some((span.trace_id, span.span_id)));
    }
}
