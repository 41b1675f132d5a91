//! What the chat makes of the API's sessions, hands and recorded events: the rows of the
//! `/sessions` and `/hand` lists, the transcript of a resumed session, and the usage totals.
//!
//! Rules it keeps:
//! - Pure functions of the API's answers, read as the session and replay contracts' types; a
//!   missing field shows as nothing, never as a made-up value.
//! - A resumed transcript follows the recorded events in `seq` order: `user_message`,
//!   `llm_response` (its `content`), `tool_call` with its `tool_result`, and `error`; the other
//!   kinds (context, approvals, turn ends) are bookkeeping and not shown.
//! - Times are shown in UTC.

use agentos_protocol::chat::{ToolResultEvent, TurnUsage};
use agentos_protocol::error::ErrorInfo;
use agentos_protocol::replay::{Event, Step};
use agentos_protocol::session::SessionList;
use ratatui::text::{Line, Span};
use serde::Deserialize;
use serde_json::Value;

use super::cells::{Cell, ToolCall};
use super::wrap;
use crate::theme::Theme;

/// Tokens and cost of the session so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    /// `None` until some usage carried a cost.
    pub cost: Option<f64>,
}

impl Usage {
    /// Adds a `usage` event.
    pub fn add(&mut self, usage: &TurnUsage) {
        self.add_tokens(usage.input_tokens, usage.output_tokens, usage.cost_usd);
    }

    /// Adds tokens, and a cost when one is known (a recorded `llm_response`'s).
    pub fn add_tokens(&mut self, input: u64, output: u64, cost: Option<f64>) {
        self.input += input;
        self.output += output;
        if let Some(cost) = cost {
            self.cost = Some(self.cost.unwrap_or(0.0) + cost);
        }
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The first characters of an id, enough to tell sessions apart.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// The rows of the `/sessions` list; the current session is marked.
pub fn session_rows(answer: &Value, current: Option<&str>, theme: Theme) -> Vec<Line<'static>> {
    let list = SessionList::deserialize(answer).unwrap_or_else(|e| {
        tracing::debug!("not a list of sessions ({e}): {answer}");
        SessionList { sessions: Vec::new(), total: 0 }
    });
    let sessions = &list.sessions;
    if sessions.is_empty() {
        return vec![Line::styled("no sessions yet: send a message to start one", theme.dim())];
    }
    let label = |name: &Option<String>| name.as_deref().filter(|n| !n.is_empty()).unwrap_or("—").to_string();
    let label_cols = sessions.iter().map(|s| wrap::width(&label(&s.name))).max().unwrap_or(0).min(28);
    let mut rows = Vec::new();
    for s in sessions {
        let id = s.id.as_str();
        let mark = if current == Some(id) { Span::styled("● ", theme.ok()) } else { Span::raw("  ") };
        let name = wrap::truncate(&label(&s.name), label_cols);
        let pad = label_cols.saturating_sub(wrap::width(&name));
        let state = s.state.as_str();
        let state_style = match state {
            "failed" => theme.error(),
            "waiting_approval" => theme.warn(),
            "active" => theme.ok(),
            _ => theme.dim(),
        };
        let turns = s.turns;
        let updated = if s.updated_ms > 0 { utc(s.updated_ms) } else { String::new() };
        rows.push(Line::from(vec![
            mark,
            Span::styled(format!("{name}{}", " ".repeat(pad)), theme.accent()),
            Span::styled(format!("  {:<8}", short_id(id)), theme.dim()),
            Span::styled(format!("  {state:<16}"), state_style),
            Span::raw(format!("{turns:>4} turn{}", if turns == 1 { " " } else { "s" })),
            Span::styled(format!("  {updated}"), theme.dim()),
        ]));
    }
    let total = list.total.max(sessions.len()) as u64;
    let more =
        if total > sessions.len() as u64 { format!("{} of {total} shown · ", sessions.len()) } else { String::new() };
    rows.push(Line::styled(format!("{more}/sessions NAME or ID resumes one"), theme.dim()));
    rows
}

/// The rows of the `/hand` list (the hand in use marked), and the column their descriptions
/// start at.
pub fn hand_rows(answer: &Value, current: Option<&str>, theme: Theme) -> (Vec<Line<'static>>, usize) {
    let hands = answer.get("hands").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let name_cols = hands.iter().filter_map(|h| text(h, "name")).map(wrap::width).max().unwrap_or(0);
    let mut rows = Vec::new();
    for hand in hands {
        let name = text(hand, "name").unwrap_or_default();
        let mark = if current == Some(name) { Span::styled("● ", theme.ok()) } else { Span::raw("  ") };
        let mut spans = vec![
            mark,
            Span::styled(format!("{name:<name_cols$}  "), theme.accent()),
            Span::raw(text(hand, "description").unwrap_or_default().to_string()),
        ];
        if let Some(model) = text(hand, "model") {
            spans.push(Span::styled(format!("  ({model})"), theme.dim()));
        }
        rows.push(Line::from(spans));
    }
    if hands.is_empty() {
        rows.push(Line::styled("no hands are installed", theme.dim()));
    }
    for error in answer.get("errors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
        let path = text(error, "path").unwrap_or_default();
        let message = text(error, "message").unwrap_or_default();
        rows.push(Line::from(vec![
            Span::styled("✗ ", theme.error()),
            Span::styled(format!("{path}: "), theme.error()),
            Span::raw(message.to_string()),
        ]));
    }
    rows.push(Line::styled("/hand NAME uses one for the next turns", theme.dim()));
    (rows, name_cols + 4)
}

/// The transcript of a recorded session, and its usage. A step that is not one, or whose data
/// does not fit its kind, is left out.
pub fn rebuild(events: &[Value]) -> (Vec<Cell>, Usage) {
    let mut cells = Vec::new();
    let mut usage = Usage::default();
    let mut pending: Vec<ToolCall> = Vec::new();
    for event in events {
        let step = match Event::deserialize(event).map(|e| e.step()) {
            Ok(Ok(step)) => step,
            Ok(Err(e)) | Err(e) => {
                tracing::debug!("a recorded step this dashboard cannot read ({e}): {event}");
                continue;
            }
        };
        match step {
            Step::UserMessage(said) => cells.push(Cell::User(said.text)),
            Step::LlmResponse(answer) => {
                let tokens = answer.usage.unwrap_or_default();
                usage.add_tokens(tokens.input_tokens, tokens.output_tokens, answer.cost_usd);
                if let Some(content) = answer.content.filter(|c| !c.trim().is_empty()) {
                    cells.push(Cell::Assistant(content.trim_end().to_string()));
                }
            }
            Step::ToolCall(call) => pending.push(ToolCall::new(&call)),
            Step::ToolResult(result) => {
                let mut call = match pending.iter().position(|c| c.id == result.id) {
                    Some(i) => pending.remove(i),
                    None => ToolCall::of_result(&result),
                };
                call.finish(&result);
                cells.push(Cell::Tool(Box::new(call)));
            }
            Step::Error(error) => cells.push(Cell::Error {
                code: Some(error.code).filter(|c| !c.is_empty()).unwrap_or_else(|| "ERROR".to_string()),
                message: error.message,
                status: None,
            }),
            _ => {}
        }
    }
    for mut call in pending {
        call.finish(&ToolResultEvent {
            id: call.id.clone(),
            function_id: call.function_id.clone(),
            ok: false,
            result: None,
            error: Some(ErrorInfo::new("NO_RESULT", "no result was recorded for this call")),
            blocked: None,
            warning: None,
            duration_ms: None,
        });
        cells.push(Cell::Tool(Box::new(call)));
    }
    (cells, usage)
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` UTC.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rest / 3600, (rest % 3600) / 60)
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A token count, short: `950`, `12.3k`, `4.1M`.
pub fn tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1_000.0),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00");
    }

    #[test]
    fn usage_adds_up_and_cost_stays_absent_until_one_is_given() {
        let mut usage = Usage::default();
        usage.add(&TurnUsage { input_tokens: 10, output_tokens: 2, cost_usd: None, llm_calls: 1 });
        assert_eq!(usage, Usage { input: 10, output: 2, cost: None });
        usage.add_tokens(5, 1, Some(0.25));
        assert_eq!(usage, Usage { input: 15, output: 3, cost: Some(0.25) });
    }

    #[test]
    fn a_recorded_session_becomes_its_transcript() {
        let events = [
            json!({"seq": 1, "kind": "user_message", "data": {"text": "list files"}}),
            json!({"seq": 2, "kind": "context_built", "data": {"messages": 1, "estimated_tokens": 9, "compacted": false}}),
            json!({"seq": 3, "kind": "llm_response", "data": {"content": null, "usage": {"input_tokens": 9, "output_tokens": 3}, "cost_usd": 0.01}}),
            json!({"seq": 4, "kind": "tool_call", "data": {"id": "c1", "function_id": "code::list", "arguments": {"path": "."}}}),
            json!({"seq": 5, "kind": "tool_result", "data": {"id": "c1", "function_id": "code::list", "ok": true, "result": ["a"]}}),
            json!({"seq": 6, "kind": "llm_response", "data": {"content": "One file: `a`.", "usage": {"input_tokens": 20, "output_tokens": 5}}}),
            json!({"seq": 7, "kind": "error", "data": {"code": "PROVIDER_ERROR", "message": "boom"}}),
        ];
        let (cells, usage) = rebuild(&events);
        assert_eq!(usage, Usage { input: 29, output: 8, cost: Some(0.01) });
        assert_eq!(cells.len(), 4);
        assert_eq!(cells[0], Cell::User("list files".into()));
        assert!(
            matches!(&cells[1], Cell::Tool(call) if call.function_id == "code::list" && call.outcome.as_ref().is_some_and(|o| o.ok))
        );
        assert_eq!(cells[2], Cell::Assistant("One file: `a`.".into()));
        assert_eq!(cells[3], Cell::Error { code: "PROVIDER_ERROR".into(), message: "boom".into(), status: None });
    }

    #[test]
    fn token_counts_are_short() {
        assert_eq!([tokens(950), tokens(12_340), tokens(4_100_000)], ["950", "12.3k", "4.1M"]);
    }
}
