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
pub fn replay(session: &Value, events: &[Value], summary: &Value, theme: Theme) -> String {
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
pub fn header(session: &Value, theme: Theme) -> String {
    let mut parts = vec![format!("session {}", printable(&str_of(&session["id"])))];
    if let Some(name) = session["name"].as_str() {
        parts[0].push_str(&format!(" \"{}\"", printable(name)));
    }
    for (label, key) in [("realm", "realm"), ("hand", "hand"), ("model", "model")] {
        if let Some(v) = session[key].as_str() {
            parts.push(format!("{label} {}", printable(v)));
        }
    }
    let state = str_of(&session["state"]);
    if !state.is_empty() {
        let tone = match state.as_str() {
            "failed" => Tone::Red,
            "waiting_approval" => Tone::Yellow,
            "active" => Tone::Cyan,
            _ => Tone::Plain,
        };
        parts.push(tone.paint(theme, &state));
    }
    if let Some(turns) = session["turns"].as_u64() {
        parts.push(plural(turns, "turn", "turns"));
    }
    let mut line = parts.join(" · ");
    if let Some(code) = session["last_error"]["code"].as_str() {
        let message = session["last_error"]["message"].as_str().unwrap_or_default();
        line.push('\n');
        line.push_str(&theme.red(&format!("last error {}: {}", printable(code), printable(message))));
    }
    line
}

/// The step table, a dim turn line before each turn.
pub fn steps(events: &[Value], theme: Theme) -> String {
    let start = events.iter().filter_map(|e| e["at_ms"].as_u64()).min().unwrap_or(0);
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
pub fn totals(summary: &Value, theme: Theme) -> String {
    let n = |key: &str| summary[key].as_u64().unwrap_or(0);
    let mut parts = vec![
        format!("duration {}", human_ms(n("duration_ms"))),
        plural(n("events"), "step", "steps"),
        plural(n("turns"), "turn", "turns"),
        plural(n("llm_calls"), "LLM call", "LLM calls"),
        plural(n("tool_calls"), "tool call", "tool calls"),
        format!("{} in / {} out tokens", thousands(n("input_tokens")), thousands(n("output_tokens"))),
    ];
    if let Some(cost) = summary["cost_usd"].as_f64() {
        parts.push(format!("${cost:.4}"));
    }
    if n("approvals") > 0 {
        parts.push(plural(n("approvals"), "approval", "approvals"));
    }
    let errors = plural(n("errors"), "error", "errors");
    let line = theme.dim(&parts.join(" · "));
    if n("errors") > 0 {
        format!("{line}{}{}", theme.dim(" · "), theme.red(&errors))
    } else {
        format!("{line}{}", theme.dim(&format!(" · {errors}")))
    }
}

/// One event as a row: cells in plain text and their tones.
fn row(event: &Value, start: u64) -> Row {
    let data = &event["data"];
    let kind = str_of(&event["kind"]);
    let at = event["at_ms"].as_u64().unwrap_or(start);
    let elapsed = at.saturating_sub(start);
    let (detail, kind_tone, detail_tone) = describe(&kind, data);
    Row {
        cells: [
            event["seq"].as_u64().map(|s| s.to_string()).unwrap_or_default(),
            format!("+{}.{:03}s", elapsed / 1000, elapsed % 1000),
            printable(&kind),
            truncate(&one_line(&detail), DETAIL_MAX),
            event["duration_ms"].as_u64().map(human_ms).unwrap_or_else(|| "-".to_string()),
        ],
        kind_tone,
        detail_tone,
        turn: event["turn_id"].as_str().map(str::to_string),
    }
}

/// The detail of an event of `kind` and the tones of its kind and detail cells.
fn describe(kind: &str, data: &Value) -> (String, Tone, Tone) {
    let n = |key: &str| data[key].as_u64().unwrap_or(0);
    match kind {
        "user_message" => (format!("\"{}\"", str_of(&data["text"])), Tone::Cyan, Tone::Plain),
        "context_built" => {
            let compacted = if data["compacted"] == true { " · compacted" } else { "" };
            let messages = plural(n("messages"), "message", "messages");
            (format!("{messages} · ~{} tokens{compacted}", thousands(n("estimated_tokens"))), Tone::Plain, Tone::Dim)
        }
        "llm_request" => {
            let target = data["model"].as_str().or(data["tier"].as_str()).unwrap_or("default model");
            let tools = count(&data["tools"]);
            let messages = plural(n("messages_count"), "message", "messages");
            (format!("{target} · {messages} · {}", plural(tools, "tool", "tools")), Tone::Plain, Tone::Dim)
        }
        "llm_response" => {
            let usage = &data["usage"];
            let tokens = format!(
                "{} in / {} out",
                thousands(usage["input_tokens"].as_u64().unwrap_or(0)),
                thousands(usage["output_tokens"].as_u64().unwrap_or(0))
            );
            let mut parts = vec![model_name(data), tokens];
            if let Some(cost) = data["cost_usd"].as_f64() {
                parts.push(format!("${cost:.4}"));
            }
            let calls = count(&data["tool_calls"]);
            if calls > 0 {
                parts.push(plural(calls, "tool call", "tool calls"));
            } else if let Some(finish) = data["finish_reason"].as_str() {
                parts.push(finish.to_string());
            }
            (parts.join(" · "), Tone::Plain, Tone::Plain)
        }
        "tool_call" => {
            let args = match &data["arguments"] {
                Value::Null => String::new(),
                other => format!(" {other}"),
            };
            (format!("{}{args}", str_of(&data["function_id"])), Tone::Plain, Tone::Plain)
        }
        "approval_requested" => {
            let mut text = str_of(&data["function_id"]);
            for key in ["tier", "rule"] {
                // A rule may be the approval worker's whole rule object: its id names it.
                let value = if data[key].is_object() { str_of(&data[key]["id"]) } else { str_of(&data[key]) };
                if !value.is_empty() {
                    text.push_str(&format!(" · {key} {value}"));
                }
            }
            (text, Tone::Yellow, Tone::Plain)
        }
        "approval_decided" => approval_decided(data),
        "tool_result" => tool_result(data),
        "error" => (format!("{}: {}", str_of(&data["code"]), str_of(&data["message"])), Tone::Red, Tone::Red),
        "turn_done" => {
            let steps = plural(n("steps"), "step", "steps");
            let reply = str_of(&data["reply"]);
            (format!("{} · {steps} · \"{reply}\"", str_of(&data["finish"])), Tone::Green, Tone::Plain)
        }
        _ => (data.to_string(), Tone::Plain, Tone::Dim),
    }
}

/// `approve (once) by cli · "note"`; a decision nested as an object reads the same.
fn approval_decided(data: &Value) -> (String, Tone, Tone) {
    let inner = if data["decision"].is_object() { &data["decision"] } else { data };
    let decision = str_of(&inner["decision"]);
    let decision = if decision.is_empty() { "no decision".to_string() } else { decision };
    let mut text = decision.clone();
    let scope = str_of(&inner["scope"]);
    if !scope.is_empty() {
        text.push_str(&format!(" ({scope})"));
    }
    // `by` is a name, or the approval worker's `{who, via}`.
    let by = match &inner["by"] {
        Value::Object(_) => {
            let who = str_of(&inner["by"]["who"]);
            let via = str_of(&inner["by"]["via"]);
            match (who.is_empty(), via.is_empty()) {
                (false, false) => format!("{who} via {via}"),
                (false, true) => who,
                (true, false) => format!("via {via}"),
                (true, true) => String::new(),
            }
        }
        other => str_of(other),
    };
    if !by.is_empty() {
        text.push_str(&format!(" by {by}"));
    }
    let note = str_of(&inner["note"]);
    if !note.is_empty() {
        text.push_str(&format!(" · \"{note}\""));
    }
    let tone = if decision.starts_with("approve") { Tone::Green } else { Tone::Red };
    (text, Tone::Yellow, tone)
}

/// `ok code::read_file · 1.2 KiB`, `error CODE: message` or `blocked: reason`.
fn tool_result(data: &Value) -> (String, Tone, Tone) {
    let function = str_of(&data["function_id"]);
    let blocked = str_of(&data["blocked"]);
    if !blocked.is_empty() && data["blocked"] != false {
        return (format!("blocked {function}: {blocked}"), Tone::Plain, Tone::Yellow);
    }
    if data["ok"] == true {
        let size = match &data["result"] {
            Value::Null => String::new(),
            Value::String(s) => format!(" · {}", human_bytes(s.len())),
            other => format!(" · {}", human_bytes(other.to_string().len())),
        };
        return (format!("ok {function}{size}"), Tone::Plain, Tone::Green);
    }
    let error = &data["error"];
    let what = match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ if !error.is_null() => str_of(error),
        _ => "failed".to_string(),
    };
    (format!("error {function} {what}"), Tone::Plain, Tone::Red)
}

/// `provider/model`, or whichever of them is there.
fn model_name(data: &Value) -> String {
    match (data["provider"].as_str(), data["model"].as_str()) {
        (Some(p), Some(m)) => format!("{p}/{m}"),
        (None, Some(m)) => m.to_string(),
        (Some(p), None) => p.to_string(),
        (None, None) => "model".to_string(),
    }
}

/// A count, or the length of a list.
fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| v.as_array().map_or(0, |a| a.len() as u64))
}

/// A string value as it is, anything else (but null) as JSON.
fn str_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
            steps(&script(), Theme::PLAIN),
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
            header(&session, Theme::PLAIN),
            "session s1 \"bugfix\" · realm default · hand coder · failed · 2 turns\nlast error PROVIDER_ERROR: 502"
        );
        assert_eq!(header(&json!({"id": "s1", "state": "failed"}), Theme::ANSI), "session s1 · \x1b[31mfailed\x1b[0m");
    }

    #[test]
    fn the_totals_line_names_time_steps_tokens_cost_and_errors() {
        let summary = json!({"session_id": "s1", "events": 10, "turns": 2, "duration_ms": 4500, "llm_calls": 1,
            "tool_calls": 1, "input_tokens": 1800, "output_tokens": 40, "cost_usd": 0.002, "errors": 1, "approvals": 1});
        assert_eq!(
            totals(&summary, Theme::PLAIN),
            "duration 4.5 s · 10 steps · 2 turns · 1 LLM call · 1 tool call · 1,800 in / 40 out tokens · $0.0020 · 1 approval · 1 error"
        );
        assert!(totals(&summary, Theme::ANSI).ends_with("\x1b[31m1 error\x1b[0m"));
        assert!(totals(&json!({}), Theme::PLAIN).ends_with("0 in / 0 out tokens · 0 errors"));
    }

    #[test]
    fn colour_never_breaks_the_alignment_and_plain_output_has_no_escapes() {
        let plain = steps(&script(), Theme::PLAIN);
        let ansi = steps(&script(), Theme::ANSI);
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
        let out = replay(&json!({"id": "s1"}), &[], &json!({}), Theme::PLAIN);
        assert_eq!(out, "session s1\nno steps recorded for this session yet\n");
    }

    #[test]
    fn long_details_are_cut_to_one_line() {
        let (detail, _, _) = describe("user_message", &json!({"text": "a\u{1b}[2J".to_string() + &"x".repeat(200)}));
        let cell = truncate(&one_line(&detail), DETAIL_MAX);
        assert_eq!(cell.chars().count(), DETAIL_MAX);
        assert!(cell.ends_with('…') && !cell.contains('\u{1b}'), "{cell}");
    }
}
