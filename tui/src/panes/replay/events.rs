//! The recorded steps of a session (`GET /v1/sessions/:id/events`), the sessions and their
//! totals, as the replay pane (and the trace pane, for a span's input and output) reads them.
//!
//! Rules it keeps:
//! - Events, sessions and totals are read as the replay and session contracts' types
//!   ([`agentos_protocol::replay`], [`agentos_protocol::session`]), which read a field that is
//!   missing as absent. One odd event (or session) is left out and logged at debug, never hides
//!   the others; a step whose data does not fit its kind is shown as its raw data.
//! - Events are paged: a page as long as the limit asked for means there may be more, and the
//!   next page starts one past the last `seq` received.

use agentos_protocol::replay::{self, Step};
use agentos_protocol::session;
use serde::Deserialize;
use serde_json::Value;

/// How many events one page asks for (the API's default).
pub const PAGE: usize = 1000;

/// One recorded step: `{session_id, seq, kind, at_ms, duration_ms?, turn_id?, trace_id?, data}`.
pub use agentos_protocol::replay::Event as ReplayEvent;

/// The events of an answer's `events` list; one that is not an event is left out.
pub fn list(answer: &Value) -> Vec<ReplayEvent> {
    /// The answer with its events unread, to read them one by one.
    #[derive(Deserialize)]
    struct Unread {
        #[serde(default)]
        events: Vec<Value>,
    }
    let Ok(unread) = Unread::deserialize(answer) else {
        tracing::debug!("not a list of recorded events: {answer}");
        return Vec::new();
    };
    unread
        .events
        .iter()
        .filter_map(|e| match ReplayEvent::deserialize(e) {
            Ok(event) => Some(event),
            Err(err) => {
                tracing::debug!("not a recorded event ({err}): {e}");
                None
            }
        })
        .collect()
}

/// A recorded step's data as its kind's type; a step whose data does not fit its kind reads as
/// an unknown one (its raw data is shown).
pub fn step(event: &ReplayEvent) -> Step {
    event.step().unwrap_or_else(|e| {
        tracing::debug!(kind = %event.kind, seq = event.seq, "a recorded step that does not fit its kind: {e}");
        Step::Unknown { kind: event.kind.clone(), data: event.data.clone() }
    })
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

impl From<session::Session> for Session {
    fn from(s: session::Session) -> Self {
        Self {
            id: s.id,
            name: s.name.filter(|n| !n.is_empty()),
            realm: s.realm,
            hand: s.hand,
            state: s.state.as_str().to_string(),
            turns: s.turns,
            created_ms: s.created_ms,
            updated_ms: s.updated_ms,
            model: s.model,
            last_error: s.last_error.map(|e| format!("{}: {}", e.code, e.message)),
        }
    }
}

impl Session {
    /// A session from its JSON; `None` when it is not one.
    pub fn from_json(json: &Value) -> Option<Self> {
        match session::Session::deserialize(json) {
            Ok(s) => Some(s.into()),
            Err(e) => {
                tracing::debug!("not a session ({e}): {json}");
                None
            }
        }
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
    /// The totals of a summary answer; a total it lacks (or an answer that is not one) reads
    /// as 0.
    pub fn from_json(json: &Value) -> Self {
        let s = replay::Summary::deserialize(json).unwrap_or_default();
        Self {
            events: s.events,
            turns: s.turns,
            started_ms: s.started_ms,
            duration_ms: s.duration_ms,
            llm_calls: s.llm_calls,
            tool_calls: s.tool_calls,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            cost_usd: s.cost_usd,
            errors: s.errors,
            approvals: s.approvals,
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
        let events = list(&answer);
        assert_eq!(events.len(), 1);
        let Step::Error(error) = step(&events[0]) else { panic!("an error step: {:?}", events[0]) };
        assert_eq!((events[0].seq, error.code.as_str()), (1, "X"));
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
