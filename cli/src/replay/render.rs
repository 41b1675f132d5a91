//! How a recorded session looks in the terminal: pure functions from the session, its events
//! and its summary to text, so tests compare strings.
//!
//! Rules it keeps:
//! - One header line (the session), then a table: `SEQ`, `+TIME` since the first step, `KIND`,
//!   a one-line `DETAIL`, `DURATION`; a dim `── turn N ──` line starts each turn; then one
//!   totals line.
//! - Columns are padded on the plain text and coloured afterwards, so escapes never break the
//!   alignment; with colour off no escape is written.
//! - Details are one line of printable text (model text cannot move the cursor), at most
//!   [`DETAIL_MAX`] characters.
//! - Colours: the user's message cyan, approvals yellow, errors and failed results red, a
//!   successful result or a finished turn green, blocked calls yellow, the rest plain or dim.

use agentos_protocol::replay::{Decider, Event, Step, Summary};
use agentos_protocol::session::{Session, SessionState};
use serde::Deserialize;
use serde_json::Value;

use crate::chat::render::{human_bytes, human_ms, printable, thousands};
use crate::theme::Theme;

/// The longest detail, in characters; longer ones end in `…`.
pub const DETAIL_MAX: usize = 90;

/// How a cell is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Dim,
    Cyan,
    Green,
    Yellow,
    Red,
}

impl Tone {
    fn paint(self, theme: Theme, text: &str) -> String {
        match self {
            Self::Plain => text.to_string(),
            Self::Dim => theme.dim(text),
            Self::Cyan => theme.cyan(text),
            Self::Green => theme.green(text),
            Self::Yellow => theme.yellow(text),
            Self::Red => theme.red(text),
        }
    }
}

/// One table row before padding: the cells and their tones.
struct Row {
    cells: [String; 5],
    kind_tone: Tone,
    detail_tone: Tone,
    turn: Option<String>,
}

/// The whole replay: header, step table, totals.
pub fn replay(session: &Session, events: &[Event], summary: &Summary, theme: Theme) -> String {
    let mut out = format!("{}\n", header(session, theme));
    if events.is_empty() {
        out.push_str(&theme.dim("no steps recorded for this session yet"));
        out.push('\n');
        return out;
    }
    out.push_str(&steps(events, theme));
    out.push_str(&totals(summary, theme));
    out.push('\n');
    out
}

/// `session 3f2a… "bugfix" · realm default · hand coder · done · 2 turns`.
pub fn header(session: &Session, theme: Theme) -> String {
    let mut parts = vec![format!("session {}", printable(&session.id))];
    if let Some(name) = &session.name {
        parts[0].push_str(&format!(" \"{}\"", printable(name)));
    }
    let labels = [("realm", Some(&session.realm)), ("hand", Some(&session.hand)), ("model", session.model.as_ref())];
    for (label, value) in labels {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            parts.push(format!("{label} {}", printable(v)));
        }
    }
    let tone = match session.state {
        SessionState::Failed => Tone::Red,
        SessionState::WaitingApproval => Tone::Yellow,
        SessionState::Active => Tone::Cyan,
        SessionState::Done => Tone::Plain,
    };
    parts.push(tone.paint(theme, session.state.as_str()));
    // Every session has had a turn (opening one is what makes it); a record without the count
    // says nothing about turns.
    if session.turns > 0 {
        parts.push(plural(session.turns, "turn", "turns"));
    }
    let mut line = parts.join(" · ");
    if let Some(error) = &session.last_error {
        line.push('\n');
        line.push_str(&theme.red(&format!("last error {}: {}", printable(&error.code), printable(&error.message))));
    }
    line
}

/// The step table, a dim turn line before each turn.
pub fn steps(events: &[Event], theme: Theme) -> String {
    let start = events.iter().map(|e| e.at_ms).min().unwrap_or(0);
    let rows: Vec<Row> = events.iter().map(|e| row(e, start)).collect();
    let headers = ["SEQ", "+TIME", "KIND", "DETAIL", "DURATION"];
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(&r.cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let pad = |text: &str, width: usize| format!("{text}{}", " ".repeat(width.saturating_sub(text.chars().count())));
    let mut out = String::new();
    let head: Vec<String> = headers.iter().zip(&widths).map(|(h, w)| pad(h, *w)).collect();
    out.push_str(&theme.dim(head.join("  ").trim_end()));
    out.push('\n');
    let mut turn: Option<&str> = None;
    let mut turn_number = 0;
    for r in &rows {
        if r.turn.is_some() && r.turn.as_deref() != turn {
            turn = r.turn.as_deref();
            turn_number += 1;
            out.push_str(&theme.dim(&format!("── turn {turn_number} ──")));
            out.push('\n');
        }
        let [seq, time, kind, detail, duration] = &r.cells;
        let line = [
            Tone::Dim.paint(theme, &pad(seq, widths[0])),
            Tone::Dim.paint(theme, &pad(time, widths[1])),
            r.kind_tone.paint(theme, &pad(kind, widths[2])),
            r.detail_tone.paint(theme, &pad(detail, widths[3])),
            Tone::Dim.paint(theme, duration),
        ]
        .join("  ");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `duration 1.3 s · 12 steps · 2 turns · 2 LLM calls · 1 tool call · 1,700 in / 50 out tokens ·
/// $0.0030 · 1 error`; the errors red when there are any.
pub fn totals(summary: &Summary, theme: Theme) -> String {
    let mut parts = vec![
        format!("duration {}", human_ms(summary.duration_ms)),
        plural(summary.events, "step", "steps"),
        plural(summary.turns, "turn", "turns"),
        plural(summary.llm_calls, "LLM call", "LLM calls"),
        plural(summary.tool_calls, "tool call", "tool calls"),
        format!("{} in / {} out tokens", thousands(summary.input_tokens), thousands(summary.output_tokens)),
    ];
    if let Some(cost) = summary.cost_usd {
        parts.push(format!("${cost:.4}"));
    }
    if summary.approvals > 0 {
        parts.push(plural(summary.approvals, "approval", "approvals"));
    }
    let errors = plural(summary.errors, "error", "errors");
    let line = theme.dim(&parts.join(" · "));
    if summary.errors > 0 {
        format!("{line}{}{}", theme.dim(" · "), theme.red(&errors))
    } else {
        format!("{line}{}", theme.dim(&format!(" · {errors}")))
    }
}

/// One event as a row: cells in plain text and their tones.
fn row(event: &Event, start: u64) -> Row {
    let elapsed = event.at_ms.saturating_sub(start);
    let (detail, kind_tone, detail_tone) = describe(&event.kind, &event.data);
    Row {
        cells: [
            event.seq.to_string(),
            format!("+{}.{:03}s", elapsed / 1000, elapsed % 1000),
            printable(&event.kind),
            truncate(&one_line(&detail), DETAIL_MAX),
            event.duration_ms.map(human_ms).unwrap_or_else(|| "-".to_string()),
        ],
        kind_tone,
        detail_tone,
        turn: event.turn_id.clone(),
    }
}

/// The detail of an event of `kind` with `data` and the tones of its kind and detail cells. A
/// step whose data does not fit its kind shows its JSON, as an unknown kind does.
fn describe(kind: &str, data: &Value) -> (String, Tone, Tone) {
    match Step::from_parts(kind, data.clone()) {
        Ok(step) => describe_step(&step),
        Err(_) => match LegacyDecided::read(kind, data) {
            Some(decided) => approval_decided(&decided.decision, decided.scope, decided.note, decided.by),
            None => (data.to_string(), Tone::Plain, Tone::Dim),
        },
    }
}

/// The detail of a step.
fn describe_step(step: &Step) -> (String, Tone, Tone) {
    match step {
        Step::UserMessage(said) => (format!("\"{}\"", said.text), Tone::Cyan, Tone::Plain),
        Step::ContextBuilt(built) => {
            let compacted = if built.compacted == Some(true) { " · compacted" } else { "" };
            let messages = plural(built.messages.unwrap_or(0), "message", "messages");
            let tokens = thousands(built.estimated_tokens.unwrap_or(0));
            (format!("{messages} · ~{tokens} tokens{compacted}"), Tone::Plain, Tone::Dim)
        }
        Step::LlmRequest(asked) => {
            let target = asked.model.as_deref().or(asked.tier.as_deref()).unwrap_or("default model");
            let tools = asked.tools.as_ref().map_or(0, |t| t.len());
            let messages = plural(asked.messages_count.unwrap_or(0), "message", "messages");
            (format!("{target} · {messages} · {}", plural(tools, "tool", "tools")), Tone::Plain, Tone::Dim)
        }
        Step::LlmResponse(answer) => {
            let usage = answer.usage.unwrap_or_default();
            let tokens = format!("{} in / {} out", thousands(usage.input_tokens), thousands(usage.output_tokens));
            let mut parts = vec![answer.model_name().unwrap_or_else(|| "model".to_string()), tokens];
            if let Some(cost) = answer.cost_usd {
                parts.push(format!("${cost:.4}"));
            }
            let calls = answer.tool_calls.as_ref().map_or(0, |c| c.len());
            if calls > 0 {
                parts.push(plural(calls, "tool call", "tool calls"));
            } else if let Some(finish) = &answer.finish_reason {
                parts.push(finish.clone());
            }
            (parts.join(" · "), Tone::Plain, Tone::Plain)
        }
        Step::ToolCall(call) => {
            let args = match &call.arguments {
                Value::Null => String::new(),
                other => format!(" {other}"),
            };
            (format!("{}{args}", call.function_id), Tone::Plain, Tone::Plain)
        }
        Step::ApprovalRequested(asked) => {
            let mut text = asked.function_id.clone();
            for (key, value) in [("tier", asked.tier_text()), ("rule", asked.rule_name())] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    text.push_str(&format!(" · {key} {value}"));
                }
            }
            (text, Tone::Yellow, Tone::Plain)
        }
        Step::ApprovalDecided(decided) => {
            approval_decided(&decided.decision, decided.scope.clone(), decided.note.clone(), decided.by.clone())
        }
        Step::ToolResult(result) => {
            let function = &result.function_id;
            if let Some(blocked) = result.blocked.as_deref().filter(|b| !b.is_empty()) {
                return (format!("blocked {function}: {blocked}"), Tone::Plain, Tone::Yellow);
            }
            if result.ok {
                let size = match &result.result {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => format!(" · {}", human_bytes(s.len())),
                    Some(other) => format!(" · {}", human_bytes(other.to_string().len())),
                };
                return (format!("ok {function}{size}"), Tone::Plain, Tone::Green);
            }
            let what = match &result.error {
                Some(e) => format!("{}: {}", e.code, e.message),
                None => "failed".to_string(),
            };
            (format!("error {function} {what}"), Tone::Plain, Tone::Red)
        }
        Step::Error(error) => (format!("{}: {}", error.code, error.message), Tone::Red, Tone::Red),
        Step::TurnDone(done) => {
            let steps = plural(done.steps.unwrap_or(0), "step", "steps");
            (format!("{} · {steps} · \"{}\"", done.finish, done.reply), Tone::Green, Tone::Plain)
        }
        Step::Unknown { data, .. } => (data.to_string(), Tone::Plain, Tone::Dim),
    }
}

/// An `approval_decided` step of an older agent-core, which recorded the approval worker's whole
/// decision under `decision`: `{approval_id, decision: {decision, scope?, note?, by?}}`.
#[derive(Deserialize)]
struct LegacyDecided {
    decision: LegacyDecision,
}

#[derive(Deserialize)]
struct LegacyDecision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    by: Option<Decider>,
}

impl LegacyDecided {
    /// The older record's decision, when `data` of `kind` is one.
    fn read(kind: &str, data: &Value) -> Option<LegacyDecision> {
        (kind == agentos_protocol::replay::APPROVAL_DECIDED)
            .then(|| LegacyDecided::deserialize(data).ok())
            .flatten()
            .map(|d| d.decision)
    }
}

/// `approve (once) by cli · "note"`.
fn approval_decided(
    decision: &str,
    scope: Option<String>,
    note: Option<String>,
    by: Option<Decider>,
) -> (String, Tone, Tone) {
    let decision = if decision.is_empty() { "no decision".to_string() } else { decision.to_string() };
    let mut text = decision.clone();
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        text.push_str(&format!(" ({scope})"));
    }
    let by = by.map(|b| b.text()).unwrap_or_default();
    if !by.is_empty() {
        text.push_str(&format!(" by {by}"));
    }
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        text.push_str(&format!(" · \"{note}\""));
    }
    let tone = if decision.starts_with("approve") { Tone::Green } else { Tone::Red };
    (text, Tone::Yellow, tone)
}

/// `1 step`, `2 steps`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// `text` on one line: line breaks and tabs become spaces, other control characters go.
fn one_line(text: &str) -> String {
    printable(&text.replace(['\n', '\r', '\t'], " "))
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    /// `value` read as the contract's type, as the CLI reads the server's answers.
    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    fn events(values: Vec<Value>) -> Vec<Event> {
        values.into_iter().map(typed).collect()
    }

    fn ev(seq: u64, at: u64, kind: &str, turn: &str, duration: Option<u64>, data: Value) -> Value {
        let mut e = json!({"session_id": "s1", "seq": seq, "kind": kind, "at_ms": at, "turn_id": turn, "data": data});
        if let Some(d) = duration {
            e["duration_ms"] = json!(d);
        }
        e
    }

    fn script() -> Vec<Value> {
        vec![
            ev(100_000, 5_000, "user_message", "t1", None, json!({"text": "rename\nthe module"})),
            ev(
                100_001,
                5_012,
                "context_built",
                "t1",
                Some(12),
                json!({"messages": 1, "estimated_tokens": 800, "compacted": false}),
            ),
            ev(
                100_002,
                5_013,
                "llm_request",
                "t1",
                None,
                json!({"model": "small", "messages_count": 2, "tools": ["a", "b"]}),
            ),
            ev(
                100_003,
                5_313,
                "llm_response",
                "t1",
                Some(300),
                json!({"model": "small", "provider": "openai", "content": "",
                "tool_calls": [{"id": "c1"}], "finish_reason": "tool_calls", "usage": {"input_tokens": 1800, "output_tokens": 40}, "cost_usd": 0.002, "latency_ms": 300}),
            ),
            ev(
                100_004,
                5_314,
                "tool_call",
                "t1",
                None,
                json!({"id": "c1", "function_id": "code::write_file", "arguments": {"path": "a.rs"}}),
            ),
            ev(
                100_005,
                5_315,
                "approval_requested",
                "t1",
                None,
                json!({"approval_id": "ap1", "function_id": "code::write_file", "tier": "write", "rule": "ask"}),
            ),
            ev(
                100_006,
                6_815,
                "approval_decided",
                "t1",
                Some(1500),
                json!({"approval_id": "ap1", "decision": "approve", "scope": "once", "by": "cli"}),
            ),
            ev(
                100_007,
                6_840,
                "tool_result",
                "t1",
                Some(25),
                json!({"id": "c1", "function_id": "code::write_file", "ok": true, "result": "x".repeat(2048)}),
            ),
            ev(200_000, 9_000, "user_message", "t2", None, json!({"text": "and the tests"})),
            ev(200_001, 9_500, "error", "t2", None, json!({"code": "PROVIDER_ERROR", "message": "502"})),
        ]
    }

    #[test]
    fn a_session_renders_as_a_step_table_with_turn_lines() {
        assert_eq!(
            steps(&events(script()), Theme::PLAIN),
            "SEQ     +TIME    KIND                DETAIL                                                    DURATION\n\
             ── turn 1 ──\n\
             100000  +0.000s  user_message        \"rename the module\"                                       -\n\
             100001  +0.012s  context_built       1 message · ~800 tokens                                   12 ms\n\
             100002  +0.013s  llm_request         small · 2 messages · 2 tools                              -\n\
             100003  +0.313s  llm_response        openai/small · 1,800 in / 40 out · $0.0020 · 1 tool call  300 ms\n\
             100004  +0.314s  tool_call           code::write_file {\"path\":\"a.rs\"}                          -\n\
             100005  +0.315s  approval_requested  code::write_file · tier write · rule ask                  -\n\
             100006  +1.815s  approval_decided    approve (once) by cli                                     1.5 s\n\
             100007  +1.840s  tool_result         ok code::write_file · 2.0 KiB                             25 ms\n\
             ── turn 2 ──\n\
             200000  +4.000s  user_message        \"and the tests\"                                           -\n\
             200001  +4.500s  error               PROVIDER_ERROR: 502                                       -\n"
        );
    }

    #[test]
    fn results_blocks_denials_and_unknown_kinds_have_their_own_detail() {
        let cases = [
            (
                json!({"function_id": "f", "ok": false, "error": {"code": "NOT_FOUND", "message": "no a"}}),
                "tool_result",
                "error f NOT_FOUND: no a",
                Tone::Red,
            ),
            (
                json!({"function_id": "f", "ok": false, "blocked": "the loop guard stopped it"}),
                "tool_result",
                "blocked f: the loop guard stopped it",
                Tone::Yellow,
            ),
            (
                json!({"approval_id": "a", "decision": {"decision": "deny", "note": "not now"}}),
                "approval_decided",
                "deny · \"not now\"",
                Tone::Red,
            ),
            (
                json!({"reply": "Done.", "usage": {}, "steps": 1, "finish": "stop"}),
                "turn_done",
                "stop · 1 step · \"Done.\"",
                Tone::Plain,
            ),
            (
                json!({"approval_id": "a", "decision": "approve", "scope": "session", "by": {"who": "ana", "via": "cli"}}),
                "approval_decided",
                "approve (session) by ana via cli",
                Tone::Green,
            ),
            (
                json!({"approval_id": "a", "function_id": "f", "tier": "ask", "rule": {"id": "builtin:workspace-write"}}),
                "approval_requested",
                "f · tier ask · rule builtin:workspace-write",
                Tone::Plain,
            ),
            (json!({"x": 1}), "memory_stored", "{\"x\":1}", Tone::Dim),
        ];
        for (data, kind, detail, tone) in cases {
            let (text, _, got_tone) = describe(kind, &data);
            assert_eq!((text.as_str(), got_tone), (detail, tone), "{kind}");
        }
    }

    #[test]
    fn the_header_names_the_session_and_its_last_error() {
        let session = json!({"id": "s1", "name": "bugfix", "realm": "default", "hand": "coder", "state": "failed",
                             "turns": 2, "last_error": {"code": "PROVIDER_ERROR", "message": "502"}});
        assert_eq!(
            header(&typed(session), Theme::PLAIN),
            "session s1 \"bugfix\" · realm default · hand coder · failed · 2 turns\nlast error PROVIDER_ERROR: 502"
        );
        assert_eq!(
            header(&typed(json!({"id": "s1", "state": "failed"})), Theme::ANSI),
            "session s1 · \x1b[31mfailed\x1b[0m"
        );
    }

    #[test]
    fn the_totals_line_names_time_steps_tokens_cost_and_errors() {
        let summary = json!({"session_id": "s1", "events": 10, "turns": 2, "duration_ms": 4500, "llm_calls": 1,
            "tool_calls": 1, "input_tokens": 1800, "output_tokens": 40, "cost_usd": 0.002, "errors": 1, "approvals": 1});
        assert_eq!(
            totals(&typed(summary.clone()), Theme::PLAIN),
            "duration 4.5 s · 10 steps · 2 turns · 1 LLM call · 1 tool call · 1,800 in / 40 out tokens · $0.0020 · 1 approval · 1 error"
        );
        assert!(totals(&typed(summary), Theme::ANSI).ends_with("\x1b[31m1 error\x1b[0m"));
        assert!(totals(&typed(json!({})), Theme::PLAIN).ends_with("0 in / 0 out tokens · 0 errors"));
    }

    #[test]
    fn colour_never_breaks_the_alignment_and_plain_output_has_no_escapes() {
        let plain = steps(&events(script()), Theme::PLAIN);
        let ansi = steps(&events(script()), Theme::ANSI);
        assert!(!plain.contains('\x1b'));
        let strip = |s: &str| {
            let mut out = String::new();
            let mut chars = s.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    for c in chars.by_ref() {
                        if c == 'm' {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        assert_eq!(strip(&ansi), plain);
        assert!(ansi.contains("\x1b[36muser_message"), "{ansi}");
    }

    #[test]
    fn an_empty_session_says_so() {
        let session = json!({"id": "s1", "realm": "default", "hand": "coder", "state": "done", "turns": 1,
                             "created_ms": 1, "updated_ms": 2});
        let out = replay(&typed(session), &[], &typed(json!({})), Theme::PLAIN);
        assert_eq!(
            out,
            "session s1 · realm default · hand coder · done · 1 turn\nno steps recorded for this session yet\n"
        );
    }

    #[test]
    fn long_details_are_cut_to_one_line() {
        let (detail, _, _) = describe("user_message", &json!({"text": "a\u{1b}[2J".to_string() + &"x".repeat(200)}));
        let cell = truncate(&one_line(&detail), DETAIL_MAX);
        assert_eq!(cell.chars().count(), DETAIL_MAX);
        assert!(cell.ends_with('…') && !cell.contains('\u{1b}'), "{cell}");
    }
}
