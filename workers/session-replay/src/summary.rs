//! A session's totals, computed from its events (pure).
//!
//! Rules it keeps (what each total counts):
//! - `turns`: distinct `turn_id`s, plus each `user_message` that carries no `turn_id`.
//! - `started_ms`/`ended_ms`: the first `at_ms`, and the latest `at_ms + duration_ms`;
//!   `duration_ms` is their difference (0, and both `null`, without events).
//! - `llm_calls` and the tokens: `llm_response` events (a request that got no answer is an
//!   `error`); `cost_usd` sums the answers that carry a cost and is left out when none does.
//! - `tool_calls`: `tool_call` events. `approvals`: `approval_requested` events.
//! - `errors`: `error` events plus `tool_result`s with `ok: false`.
//! - `trace_ids`: distinct, in the order the session first met them.

use std::collections::BTreeSet;

use crate::Event;
use crate::kinds::{self, LlmResponse, ToolResult};

/// What `replay::summary` answers (the replay contract).
pub use agentos_protocol::replay::Summary;

/// The totals of `events` (any order) of `session_id`.
pub fn summarize(session_id: &str, events: &[Event]) -> Summary {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut summary = Summary {
        session_id: session_id.to_string(),
        events: sorted.len() as u64,
        turns: 0,
        started_ms: sorted.iter().map(|e| e.at_ms).min(),
        ended_ms: sorted.iter().map(|e| e.at_ms.saturating_add(e.duration_ms.unwrap_or(0))).max(),
        duration_ms: 0,
        llm_calls: 0,
        tool_calls: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: None,
        errors: 0,
        approvals: 0,
        trace_ids: Vec::new(),
    };
    summary.duration_ms = match (summary.started_ms, summary.ended_ms) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => 0,
    };
    let mut turn_ids = BTreeSet::new();
    let mut anonymous_turns = 0;
    for event in sorted {
        match &event.turn_id {
            Some(turn) => {
                turn_ids.insert(turn.as_str());
            }
            None if event.kind == kinds::USER_MESSAGE => anonymous_turns += 1,
            None => {}
        }
        if let Some(trace) = &event.trace_id
            && !summary.trace_ids.contains(trace)
        {
            summary.trace_ids.push(trace.clone());
        }
        match event.kind.as_str() {
            kinds::LLM_RESPONSE => {
                summary.llm_calls += 1;
                if let Some(answer) = kinds::read::<LlmResponse>(&event.data) {
                    let usage = answer.usage.unwrap_or_default();
                    summary.input_tokens += usage.input_tokens;
                    summary.output_tokens += usage.output_tokens;
                    if let Some(cost) = answer.cost_usd {
                        summary.cost_usd = Some(summary.cost_usd.unwrap_or(0.0) + cost);
                    }
                }
            }
            kinds::TOOL_CALL => summary.tool_calls += 1,
            kinds::APPROVAL_REQUESTED => summary.approvals += 1,
            kinds::ERROR => summary.errors += 1,
            kinds::TOOL_RESULT if kinds::read::<ToolResult>(&event.data).is_some_and(|r| !r.ok) => {
                summary.errors += 1;
            }
            _ => {}
        }
    }
    summary.turns = turn_ids.len() as u64 + anonymous_turns;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::{Value, json};

    fn event(seq: u64, kind: &str, at_ms: u64, duration_ms: Option<u64>, turn: Option<&str>, data: Value) -> Event {
        Event {
            session_id: "s1".into(),
            seq,
            kind: kind.into(),
            at_ms,
            duration_ms,
            turn_id: turn.map(str::to_string),
            trace_id: turn.map(|t| format!("trace-{t}")),
            data,
        }
    }

    fn answer(input: u64, output: u64, cost: Option<f64>) -> Value {
        let mut data = json!({"model": "m", "provider": "p", "content": "x", "tool_calls": 0,
                              "finish_reason": "stop", "usage": {"input_tokens": input, "output_tokens": output}, "latency_ms": 5});
        if let Some(c) = cost {
            data["cost_usd"] = json!(c);
        }
        data
    }

    /// Two turns: one with a tool call that needed approval and failed, one that errored.
    fn script() -> Vec<Event> {
        vec![
            event(1, "user_message", 1_000, None, Some("t1"), json!({"text": "hi"})),
            event(2, "llm_response", 1_010, Some(100), Some("t1"), answer(100, 20, Some(0.01))),
            event(3, "tool_call", 1_120, None, Some("t1"), json!({"id": "c1", "function_id": "f", "arguments": {}})),
            event(
                4,
                "approval_requested",
                1_121,
                None,
                Some("t1"),
                json!({"approval_id": "a", "function_id": "f", "tier": "t", "rule": "r"}),
            ),
            event(5, "tool_result", 1_130, Some(30), Some("t1"), json!({"id": "c1", "function_id": "f", "ok": false})),
            event(6, "llm_response", 1_200, Some(50), Some("t1"), answer(150, 10, None)),
            event(
                7,
                "turn_done",
                1_260,
                None,
                Some("t1"),
                json!({"reply": "r", "usage": {}, "steps": 2, "finish": "stop"}),
            ),
            event(8, "user_message", 2_000, None, Some("t2"), json!({"text": "again"})),
            event(9, "error", 2_500, None, Some("t2"), json!({"code": "PROVIDER_ERROR", "message": "502"})),
            event(10, "user_message", 3_000, None, None, json!({"text": "a turn without ids"})),
            event(11, "llm_response", 3_100, Some(900), None, answer(5, 5, Some(0.002))),
        ]
    }

    #[test]
    fn a_scripted_session_totals_its_turns_calls_tokens_cost_errors_and_time() {
        let mut events = script();
        events.reverse();
        let summary = summarize("s1", &events);
        let cost = summary.cost_usd.unwrap();
        assert!((cost - 0.012).abs() < 1e-12, "{cost}");
        assert_eq!(
            Summary { cost_usd: None, ..summary },
            Summary {
                session_id: "s1".into(),
                events: 11,
                turns: 3,
                started_ms: Some(1_000),
                ended_ms: Some(4_000),
                duration_ms: 3_000,
                llm_calls: 3,
                tool_calls: 1,
                input_tokens: 255,
                output_tokens: 35,
                cost_usd: None,
                errors: 2,
                approvals: 1,
                trace_ids: vec!["trace-t1".into(), "trace-t2".into()],
            }
        );
    }

    #[test]
    fn a_session_without_events_has_zero_totals_and_no_times() {
        let summary = summarize("s0", &[]);
        assert_eq!(
            serde_json::to_value(summary).unwrap(),
            json!({"session_id": "s0", "events": 0, "turns": 0, "started_ms": null, "ended_ms": null, "duration_ms": 0,
                   "llm_calls": 0, "tool_calls": 0, "input_tokens": 0, "output_tokens": 0, "errors": 0,
                   "approvals": 0, "trace_ids": []})
        );
    }

    #[test]
    fn without_any_priced_answer_the_cost_is_left_out() {
        let events = vec![event(1, "llm_response", 1, None, None, answer(1, 1, None))];
        assert_eq!(summarize("s", &events).cost_usd, None);
    }
}
