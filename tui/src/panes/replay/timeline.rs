//! The conversation of a recorded session, built once from its events so that the chat as it
//! stood at any step is read off without replaying anything.
//!
//! Rules it keeps:
//! - Each part of the chat (a turn's start, the user's message, the assistant's text, a tool
//!   call, an approval, an error, a turn's end) is an [`Entry`] that appears at the step that
//!   created it; a tool call learns its result, and an approval its decision, at a later step.
//! - The chat at step `n` is the entries that appeared at or before `n`, each in the state it
//!   had then ([`Timeline::at`]); the entry that step `n` created or completed is the current
//!   one.
//! - Steps that are not part of the chat (`context_built`, `llm_request`, unknown kinds) show
//!   as a one-line note only while they are the current step.

use agentos_protocol::chat::ToolResultEvent;
use agentos_protocol::error::ErrorInfo;
use agentos_protocol::replay::{ApprovalDecided, Step};
use serde_json::Value;

use super::events::{self, ReplayEvent};

/// What a part of the chat is.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A new turn begins (the `n`th of the session).
    Turn { number: usize, at_ms: u64 },
    /// The user's message.
    User { text: String },
    /// The assistant's text from a model answer.
    Assistant { text: String, model: String },
    /// A tool call, with what came of it once known.
    Tool { id: String, function_id: String, arguments: Value, outcome: Option<(usize, Outcome)> },
    /// A call that needed approval, with the decision once made.
    Approval { function_id: String, tier: String, decision: Option<(usize, Decision)> },
    /// An error of the turn.
    Error { code: String, message: String },
    /// The turn ended.
    Done { finish: String, steps: u64, tokens: u64 },
    /// A step that is not part of the chat, shown only while current.
    Note { text: String },
}

/// What came of a tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Value),
    Failed(Option<ErrorInfo>),
    Blocked(String),
}

/// An approval's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub decision: String,
    pub by: String,
    pub note: Option<String>,
}

impl Decision {
    /// Whether the call was let through.
    pub fn approved(&self) -> bool {
        self.decision == "approve" || self.decision == "approved"
    }
}

/// One part of the chat and the step it appeared at.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub step: usize,
    pub part: Part,
}

impl Entry {
    /// Whether step `n` created or completed this entry.
    pub fn current_at(&self, n: usize) -> bool {
        self.step == n
            || match &self.part {
                Part::Tool { outcome: Some((s, _)), .. } => *s == n,
                Part::Approval { decision: Some((s, _)), .. } => *s == n,
                _ => false,
            }
    }
}

/// An entry as it stood at some step.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown<'a> {
    /// Its index in [`Timeline::entries`].
    pub index: usize,
    pub entry: &'a Entry,
    /// Whether its result or decision had arrived by then.
    pub complete: bool,
    /// Whether this step created or completed it.
    pub current: bool,
}

/// A session's conversation, every entry with the step it appeared at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// The conversation of `events` (in `seq` order).
    pub fn build(events: &[ReplayEvent]) -> Self {
        let mut timeline = Self::default();
        let mut turn: Option<&str> = None;
        let mut turns = 0;
        for (step, event) in events.iter().enumerate() {
            let new_turn = match event.turn_id.as_deref() {
                Some(id) => turn != Some(id),
                None => event.kind == "user_message",
            };
            if new_turn {
                turns += 1;
                turn = event.turn_id.as_deref();
                timeline.push(step, Part::Turn { number: turns, at_ms: event.at_ms });
            }
            timeline.add(step, event);
        }
        timeline
    }

    fn add(&mut self, step: usize, event: &ReplayEvent) {
        match events::step(event) {
            Step::UserMessage(said) => self.push(step, Part::User { text: said.text }),
            Step::LlmResponse(answer) => {
                let content = answer.content.unwrap_or_default();
                if !content.trim().is_empty() {
                    self.push(step, Part::Assistant { text: content, model: answer.model.unwrap_or_default() });
                }
            }
            Step::ToolCall(call) => self.push(
                step,
                Part::Tool { id: call.id, function_id: call.function_id, arguments: call.arguments, outcome: None },
            ),
            Step::ToolResult(result) => self.complete_tool(step, result),
            Step::ApprovalRequested(asked) => self.push(
                step,
                Part::Approval {
                    function_id: asked.function_id.clone(),
                    tier: asked.tier_text().unwrap_or_default(),
                    decision: None,
                },
            ),
            Step::ApprovalDecided(decided) => self.complete_approval(step, decided),
            Step::Error(error) => self.push(step, Part::Error { code: error.code, message: error.message }),
            Step::TurnDone(done) => {
                let usage = done.usage.unwrap_or_default();
                let tokens = usage.input_tokens + usage.output_tokens;
                let steps = done.steps.unwrap_or(0);
                self.push(step, Part::Done { finish: done.finish, steps, tokens });
            }
            other => self.push(step, Part::Note { text: note(&other) }),
        }
    }

    fn push(&mut self, step: usize, part: Part) {
        self.entries.push(Entry { step, part });
    }

    /// A `tool_result` completes the latest open call with its id (a result without a call
    /// becomes a call of its own, completed at once).
    fn complete_tool(&mut self, step: usize, result: ToolResultEvent) {
        let outcome = if let Some(reason) = result.blocked {
            Outcome::Blocked(reason)
        } else if result.ok {
            Outcome::Ok(result.result.unwrap_or(Value::Null))
        } else {
            Outcome::Failed(result.error)
        };
        let open = self.entries.iter_mut().rev().find_map(|e| match &mut e.part {
            Part::Tool { id: call, outcome, .. } if *call == result.id && outcome.is_none() => Some(outcome),
            _ => None,
        });
        match open {
            Some(slot) => *slot = Some((step, outcome)),
            None => self.push(
                step,
                Part::Tool {
                    id: result.id,
                    function_id: result.function_id,
                    arguments: Value::Null,
                    outcome: Some((step, outcome)),
                },
            ),
        }
    }

    /// An `approval_decided` completes the latest undecided approval (they come one at a time).
    fn complete_approval(&mut self, step: usize, decided: ApprovalDecided) {
        let decision = Decision {
            decision: if decided.decision.is_empty() { "none".to_string() } else { decided.decision },
            by: decided.by.map(|by| by.text()).unwrap_or_default(),
            note: decided.note.filter(|n| !n.is_empty()),
        };
        let open = self.entries.iter_mut().rev().find_map(|e| match &mut e.part {
            Part::Approval { decision: d @ None, .. } => Some(d),
            _ => None,
        });
        match open {
            Some(slot) => *slot = Some((step, decision)),
            None => self.push(
                step,
                Part::Approval { function_id: String::new(), tier: String::new(), decision: Some((step, decision)) },
            ),
        }
    }

    /// The chat as it stood at step `n`: entries that had appeared, in order, notes only when
    /// they are step `n` itself.
    pub fn at(&self, n: usize) -> Vec<Shown<'_>> {
        let upto = self.entries.partition_point(|e| e.step <= n);
        self.entries[..upto]
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e.part, Part::Note { .. }) || e.step == n)
            .map(|(index, entry)| Shown { index, entry, complete: complete_at(entry, n), current: entry.current_at(n) })
            .collect()
    }
}

fn complete_at(entry: &Entry, n: usize) -> bool {
    match &entry.part {
        Part::Tool { outcome, .. } => outcome.as_ref().is_some_and(|(s, _)| *s <= n),
        Part::Approval { decision, .. } => decision.as_ref().is_some_and(|(s, _)| *s <= n),
        _ => true,
    }
}

/// One line for a step that is not part of the chat.
fn note(step: &Step) -> String {
    match step {
        Step::ContextBuilt(built) => {
            let compacted = if built.compacted == Some(true) { " · compacted" } else { "" };
            format!(
                "context built · {} messages · ~{} tokens{compacted}",
                built.messages.unwrap_or(0),
                built.estimated_tokens.unwrap_or(0)
            )
        }
        Step::LlmRequest(asked) => {
            let model = asked.model.as_deref().or(asked.tier.as_deref()).unwrap_or("default model");
            let tools = asked.tools.as_ref().map_or(0, |t| t.len());
            format!("asking {model} · {} messages · {tools} tools", asked.messages_count.unwrap_or(0))
        }
        other => other.kind().replace('_', " "),
    }
}

/// JSON as a short string: a string as itself, anything else compact.
pub fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn event(seq: u64, kind: &str, data: Value) -> ReplayEvent {
        ReplayEvent {
            session_id: "s".into(),
            seq,
            kind: kind.into(),
            at_ms: seq * 100,
            duration_ms: None,
            turn_id: Some("t1".into()),
            trace_id: None,
            data,
        }
    }

    fn session() -> Vec<ReplayEvent> {
        vec![
            event(0, "user_message", json!({"text": "delete the temp files"})),
            event(1, "llm_request", json!({"model": "small", "messages_count": 2, "tools": ["fs::delete"]})),
            event(2, "llm_response", json!({"content": "", "model": "small", "tool_calls": 1})),
            event(3, "tool_call", json!({"id": "c1", "function_id": "fs::delete", "arguments": {"path": "/tmp/x"}})),
            event(4, "approval_requested", json!({"approval_id": "a1", "function_id": "fs::delete", "tier": "write"})),
            event(
                5,
                "approval_decided",
                json!({"approval_id": "a1", "decision": "approve", "by": {"who": "ana", "via": "tui"}}),
            ),
            event(
                6,
                "tool_result",
                json!({"id": "c1", "function_id": "fs::delete", "ok": true, "result": {"deleted": 1}}),
            ),
            event(7, "llm_response", json!({"content": "Done.", "model": "small"})),
            event(
                8,
                "turn_done",
                json!({"reply": "Done.", "steps": 2, "finish": "stop", "usage": {"input_tokens": 10, "output_tokens": 5}}),
            ),
        ]
    }

    /// The chat at step `n` as short strings: `*` marks the current entry, `…` an incomplete one.
    fn chat_at(timeline: &Timeline, n: usize) -> Vec<String> {
        timeline
            .at(n)
            .iter()
            .map(|s| {
                let mark = if s.current { "*" } else { "" };
                let open = if s.complete { "" } else { "…" };
                let what = match &s.entry.part {
                    Part::Turn { number, .. } => format!("turn {number}"),
                    Part::User { text } => format!("user {text}"),
                    Part::Assistant { text, .. } => format!("assistant {text}"),
                    Part::Tool { function_id, .. } => format!("tool {function_id}"),
                    Part::Approval { function_id, .. } => format!("approval {function_id}"),
                    Part::Error { code, .. } => format!("error {code}"),
                    Part::Done { finish, tokens, .. } => format!("done {finish} {tokens}"),
                    Part::Note { text } => format!("note {text}"),
                };
                format!("{mark}{what}{open}")
            })
            .collect()
    }

    #[test]
    fn the_chat_at_a_step_shows_what_had_happened_by_then() {
        let timeline = Timeline::build(&session());
        assert_eq!(chat_at(&timeline, 0), ["*turn 1", "*user delete the temp files"]);
        assert_eq!(
            chat_at(&timeline, 1),
            ["turn 1", "user delete the temp files", "*note asking small · 2 messages · 1 tools"]
        );
        assert_eq!(
            chat_at(&timeline, 4),
            ["turn 1", "user delete the temp files", "tool fs::delete…", "*approval fs::delete…"]
        );
        assert_eq!(
            chat_at(&timeline, 5),
            ["turn 1", "user delete the temp files", "tool fs::delete…", "*approval fs::delete"]
        );
        assert_eq!(
            chat_at(&timeline, 6),
            ["turn 1", "user delete the temp files", "*tool fs::delete", "approval fs::delete"]
        );
        assert_eq!(
            chat_at(&timeline, 8),
            [
                "turn 1",
                "user delete the temp files",
                "tool fs::delete",
                "approval fs::delete",
                "assistant Done.",
                "*done stop 15"
            ]
        );
    }

    #[test]
    fn results_and_decisions_are_read_as_of_their_step() {
        let timeline = Timeline::build(&session());
        let tool = timeline.entries.iter().find(|e| matches!(e.part, Part::Tool { .. })).unwrap();
        assert_eq!(
            tool.part,
            Part::Tool {
                id: "c1".into(),
                function_id: "fs::delete".into(),
                arguments: json!({"path": "/tmp/x"}),
                outcome: Some((6, Outcome::Ok(json!({"deleted": 1})))),
            }
        );
        let approval = timeline.entries.iter().find(|e| matches!(e.part, Part::Approval { .. })).unwrap();
        let Part::Approval { decision: Some((5, decision)), .. } = &approval.part else { panic!("{approval:?}") };
        assert_eq!((decision.approved(), decision.by.as_str()), (true, "ana via tui"));
    }

    #[test]
    fn a_blocked_call_and_a_new_turn_are_told_apart() {
        let mut events = session();
        events[6].data = json!({"id": "c1", "function_id": "fs::delete", "ok": false, "blocked": "denied by ana"});
        let mut second = event(9, "user_message", json!({"text": "again"}));
        second.turn_id = Some("t2".into());
        events.push(second);
        let timeline = Timeline::build(&events);
        assert!(timeline.entries.iter().any(
            |e| matches!(&e.part, Part::Tool { outcome: Some((6, Outcome::Blocked(r))), .. } if r == "denied by ana")
        ));
        assert_eq!(chat_at(&timeline, 9)[6..], ["*turn 2", "*user again"]);
    }
}
