//! Event search (pure): which events match a query, and in which order they are answered.
//!
//! Rules it keeps:
//! - A query matches an event when its lower-cased text occurs in the event's compact JSON,
//!   lower-cased (so `"ok":false` or a function id match), or in one of the event's string
//!   values as written (so text with quotes or newlines matches without JSON escapes).
//! - A query is trimmed; an empty one, or one over [`QUERY_MAX`] characters, is refused.
//! - Matches are answered newest first: `at_ms` descending, then session id, then `seq`
//!   descending, so equal times still give one order.

use serde_json::Value;

use crate::{Event, QUERY_MAX, ReplayError};

/// A compiled query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    needle: String,
}

impl Matcher {
    /// The matcher of `query`; `INVALID_INPUT` when it is empty or too long.
    pub fn new(query: &str) -> Result<Self, ReplayError> {
        let query = query.trim();
        let count = query.chars().count();
        if count == 0 || count > QUERY_MAX {
            return Err(ReplayError::InvalidQuery { length: count });
        }
        Ok(Self { needle: query.to_lowercase() })
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Event) -> bool {
        let json = serde_json::to_string(event).unwrap_or_default().to_lowercase();
        json.contains(&self.needle) || self.in_strings(&event.data)
    }

    /// Whether a string anywhere in `value` contains the needle.
    fn in_strings(&self, value: &Value) -> bool {
        match value {
            Value::String(s) => s.to_lowercase().contains(&self.needle),
            Value::Array(items) => items.iter().any(|v| self.in_strings(v)),
            Value::Object(map) => map.values().any(|v| self.in_strings(v)),
            _ => false,
        }
    }
}

/// Sorts matches newest first (see the module rules).
pub fn sort_newest_first(events: &mut [Event]) {
    events.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.session_id.cmp(&b.session_id)).then(b.seq.cmp(&a.seq)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn event(session: &str, seq: u64, at_ms: u64, kind: &str, data: Value) -> Event {
        Event {
            session_id: session.into(),
            seq,
            kind: kind.into(),
            at_ms,
            duration_ms: None,
            turn_id: None,
            trace_id: None,
            data,
        }
    }

    #[test]
    fn a_query_matches_any_case_in_values_keys_and_json() {
        let e = event("s1", 1, 1, "tool_result", json!({"function_id": "code::Read_File", "ok": false}));
        for query in ["read_file", "CODE::READ", "\"ok\":false", "tool_result", "  s1 "] {
            assert!(Matcher::new(query).unwrap().matches(&e), "{query}");
        }
        for query in ["write_file", "ok: false"] {
            assert!(!Matcher::new(query).unwrap().matches(&e), "{query}");
        }
    }

    #[test]
    fn text_with_quotes_and_newlines_matches_as_written() {
        let e = event("s1", 1, 1, "user_message", json!({"text": "say \"Hello\"\nthen stop"}));
        assert!(Matcher::new("say \"hello\"").unwrap().matches(&e));
        assert!(Matcher::new("\"hello\"\nthen").unwrap().matches(&e));
        assert!(Matcher::new("ünïcode").unwrap().matches(&event("s", 1, 1, "x", json!({"t": "ÜNÏCODE"}))));
    }

    #[test]
    fn an_empty_or_huge_query_is_refused() {
        assert_eq!(Matcher::new("   "), Err(ReplayError::InvalidQuery { length: 0 }));
        assert_eq!(Matcher::new(&"q".repeat(QUERY_MAX + 1)), Err(ReplayError::InvalidQuery { length: QUERY_MAX + 1 }));
        assert!(Matcher::new(&"q".repeat(QUERY_MAX)).is_ok());
    }

    #[test]
    fn matches_come_newest_first_then_by_session_then_by_seq_descending() {
        let mut events = vec![
            event("b", 1, 10, "x", json!({})),
            event("a", 2, 20, "x", json!({})),
            event("b", 3, 20, "x", json!({})),
            event("a", 4, 20, "x", json!({})),
        ];
        sort_newest_first(&mut events);
        let order: Vec<(&str, u64)> = events.iter().map(|e| (e.session_id.as_str(), e.seq)).collect();
        assert_eq!(order, vec![("a", 4), ("a", 2), ("b", 3), ("b", 1)]);
    }
}
