//! The recorded steps of a session (`GET /v1/sessions/:id/events`), the sessions and their
//! totals, as the replay pane (and the trace pane, for a span's input and output) reads them.
//!
//! Rules it keeps:
//! - Parsing is lenient: a field that is missing or of another type reads as absent, so one odd
//!   event never hides the others.
//! - Events are paged: a page as long as the limit asked for means there may be more, and the
//!   next page starts one past the last `seq` received.

use serde_json::Value;

/// How many events one page asks for (the API's default).
pub const PAGE: usize = 1000;

/// One recorded step: `{session_id, seq, kind, at_ms, duration_ms?, turn_id?, trace_id?, data}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayEvent {
    pub session_id: String,
    pub seq: u64,
    pub kind: String,
    pub at_ms: u64,
    pub duration_ms: Option<u64>,
    pub turn_id: Option<String>,
    pub trace_id: Option<String>,
    pub data: Value,
}

impl ReplayEvent {
    /// An event from its JSON; `None` without a `seq` or a `kind`.
    pub fn from_json(json: &Value) -> Option<Self> {
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            session_id: text("session_id").unwrap_or_default(),
            seq: json.get("seq").and_then(Value::as_u64)?,
            kind: text("kind")?,
            at_ms: json.get("at_ms").and_then(Value::as_u64).unwrap_or(0),
            duration_ms: json.get("duration_ms").and_then(Value::as_u64),
            turn_id: text("turn_id"),
            trace_id: text("trace_id"),
            data: json.get("data").cloned().unwrap_or(Value::Null),
        })
    }

    /// The events of an answer's `events` list.
    pub fn list(answer: &Value) -> Vec<Self> {
        answer
            .get("events")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Self::from_json).collect())
            .unwrap_or_default()
    }

    /// A string field of `data`.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }

    /// A field of `data`, `None` when absent or null.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.data.get(key).filter(|v| !v.is_null())
    }
}

/// The path of the page of `session_id`'s events that starts at `from_seq`.
pub fn page_path(session_id: &str, from_seq: u64) -> String {
    format!("/v1/sessions/{}/events?from_seq={from_seq}&limit={PAGE}", crate::event::segment(session_id))
}

/// Where the page after `page` starts, when `page` was full (there may be more).
pub fn next_page(page: &[ReplayEvent]) -> Option<u64> {
    if page.len() < PAGE {
        return None;
    }
    page.last().map(|e| e.seq.saturating_add(1))
}

/// One session of `GET /v1/sessions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub name: Option<String>,
    pub realm: String,
    pub hand: String,
    pub state: String,
    pub turns: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub model: Option<String>,
    pub last_error: Option<String>,
}

impl Session {
    /// A session from its JSON; `None` without an id.
    pub fn from_json(json: &Value) -> Option<Self> {
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            id: text("id")?,
            name: text("name").filter(|n| !n.is_empty()),
            realm: text("realm").unwrap_or_default(),
            hand: text("hand").unwrap_or_default(),
            state: text("state").unwrap_or_default(),
            turns: json.get("turns").and_then(Value::as_u64).unwrap_or(0),
            created_ms: json.get("created_ms").and_then(Value::as_u64).unwrap_or(0),
            updated_ms: json.get("updated_ms").and_then(Value::as_u64).unwrap_or(0),
            model: text("model"),
            last_error: json.get("last_error").and_then(|e| {
                let code = e.get("code").and_then(Value::as_str)?;
                let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
                Some(format!("{code}: {message}"))
            }),
        })
    }

    /// The name when it has one, else the id.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Whether the session matches a filter (already lower-case) by name, id or hand.
    pub fn matches(&self, filter: &str) -> bool {
        filter.is_empty()
            || self.id.to_lowercase().contains(filter)
            || self.hand.to_lowercase().contains(filter)
            || self.name.as_deref().is_some_and(|n| n.to_lowercase().contains(filter))
    }
}

/// A session's totals (`GET /v1/sessions/:id/summary`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    pub events: u64,
    pub turns: u64,
    pub started_ms: Option<u64>,
    pub duration_ms: u64,
    pub llm_calls: u64,
    pub tool_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
    pub errors: u64,
    pub approvals: u64,
}

impl Summary {
    /// The totals of a summary answer.
    pub fn from_json(json: &Value) -> Self {
        let n = |k: &str| json.get(k).and_then(Value::as_u64).unwrap_or(0);
        Self {
            events: n("events"),
            turns: n("turns"),
            started_ms: json.get("started_ms").and_then(Value::as_u64),
            duration_ms: n("duration_ms"),
            llm_calls: n("llm_calls"),
            tool_calls: n("tool_calls"),
            input_tokens: n("input_tokens"),
            output_tokens: n("output_tokens"),
            cost_usd: json.get("cost_usd").and_then(Value::as_f64),
            errors: n("errors"),
            approvals: n("approvals"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn event(seq: u64) -> ReplayEvent {
        ReplayEvent {
            session_id: "s".into(),
            seq,
            kind: "user_message".into(),
            at_ms: 0,
            duration_ms: None,
            turn_id: None,
            trace_id: None,
            data: json!({}),
        }
    }

    #[test]
    fn a_full_page_asks_for_the_next_one_past_its_last_seq() {
        let full: Vec<ReplayEvent> = (0..PAGE as u64).map(|i| event(100_000 + i)).collect();
        assert_eq!(next_page(&full), Some(100_000 + PAGE as u64));
        assert_eq!(next_page(&full[..10]), None);
        assert_eq!(next_page(&[]), None);
        assert_eq!(page_path("my session", 7), "/v1/sessions/my%20session/events?from_seq=7&limit=1000");
    }

    #[test]
    fn an_event_without_seq_or_kind_is_skipped() {
        let answer = json!({"events": [{"seq": 1, "kind": "error", "at_ms": 5, "data": {"code": "X"}}, {"kind": "x"}, {"seq": 2}]});
        let events = ReplayEvent::list(&answer);
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].seq, events[0].text("code")), (1, Some("X")));
    }

    #[test]
    fn sessions_match_by_name_id_or_hand() {
        let s = Session::from_json(&json!({"id": "3f2a", "name": "Bugfix", "hand": "coder", "realm": "default"}));
        let s = s.unwrap_or_else(|| panic!("a session"));
        assert!(s.matches("bug") && s.matches("3f") && s.matches("cod") && s.matches(""));
        assert!(!s.matches("writer"));
        assert_eq!(s.title(), "Bugfix");
    }
}
