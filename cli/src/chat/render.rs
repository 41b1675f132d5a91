//! How a chat turn looks in the terminal: pure functions from events to text, so tests compare
//! strings and the driver only writes them.
//!
//! Rules it keeps:
//! - Tokens are printed as they come; a tool line or the footer first ends an unfinished line.
//! - A tool call is one dim line, `⚙ function {arguments}`; its result one line under it:
//!   `  ↳ ok · size · time`, `  ↳ error CODE: message` (red) or `  ↳ blocked: reason` (yellow).
//! - The footer is one dim line: `session 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012`.
//! - An event this CLI does not know is one dim line, `· event NAME {data}`, never dropped.
//! - Control characters other than newline and tab are dropped from model text, so a reply cannot
//!   move the cursor or change colours.
//! - With colour off (`Theme { color: false }`) no escape is ever written.

use serde_json::Value;

use super::events::{ChatAnswer, ChatEvent, ToolCallEvent, ToolResultEvent};
use crate::theme::Theme;

/// The longest arguments shown on a tool line, in characters; longer ones end in `…`.
const ARGUMENTS_MAX: usize = 160;

/// Turns the events of one or more turns into text, remembering whether the cursor is at the
/// start of a line.
#[derive(Debug, Clone)]
pub struct Renderer {
    theme: Theme,
    at_line_start: bool,
    streamed_text: bool,
}

impl Renderer {
    /// A renderer at the start of a line.
    pub fn new(theme: Theme) -> Self {
        Self { theme, at_line_start: true, streamed_text: false }
    }

    /// The text to print for `event`; empty for events that print nothing.
    pub fn event(&mut self, event: &ChatEvent) -> String {
        match event {
            ChatEvent::Token(token) => self.text(&token.text),
            ChatEvent::ToolCall(call) => {
                format!("{}{}\n", self.end_line(), tool_call_line(&call.function_id, &call.arguments, self.theme))
            }
            ChatEvent::ToolResult(result) => format!("{}{}\n", self.end_line(), tool_result_line(result, self.theme)),
            ChatEvent::Done(answer) => {
                // A server that sent no tokens still has a reply to show.
                let reply = if self.streamed_text { String::new() } else { self.text(&answer.reply) };
                let out = format!("{reply}{}{}\n", self.end_line(), footer(answer, self.theme));
                self.streamed_text = false;
                out
            }
            ChatEvent::Error(_) => self.end_line(),
            ChatEvent::Unknown { event, data } => {
                format!("{}{}\n", self.end_line(), unknown_line(event, data, self.theme))
            }
            ChatEvent::Session(_)
            | ChatEvent::Usage(_)
            | ChatEvent::ApprovalRequested(_)
            | ChatEvent::ApprovalDecided(_) => String::new(),
        }
    }

    /// A whole answer that was not streamed (`hand run`): each tool call and its result, the
    /// reply, the footer.
    pub fn answer(&mut self, answer: &ChatAnswer) -> String {
        let mut out = String::new();
        for call in &answer.tool_calls {
            out.push_str(&self.event(&ChatEvent::ToolCall(ToolCallEvent::from(call))));
            out.push_str(&self.event(&ChatEvent::ToolResult(ToolResultEvent::from(call))));
        }
        out.push_str(&self.event(&ChatEvent::Done(Box::new(answer.clone()))));
        out
    }

    /// The note for a turn the user abandoned with Ctrl-C.
    pub fn interrupted(&mut self) -> String {
        self.streamed_text = false;
        format!("{}{}\n", self.end_line(), self.theme.dim("(interrupted)"))
    }

    /// A newline when the cursor is not at the start of a line.
    pub fn end_line(&mut self) -> String {
        if self.at_line_start {
            String::new()
        } else {
            self.at_line_start = true;
            "\n".to_string()
        }
    }

    fn text(&mut self, text: &str) -> String {
        let clean = printable(text);
        if let Some(last) = clean.chars().last() {
            self.at_line_start = last == '\n';
            self.streamed_text = true;
        }
        clean
    }
}

/// `text` without control characters other than `\n` and `\t`.
pub fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect()
}

/// `⚙ code::read_file {"path":"src/main.rs"}`, dim.
pub fn tool_call_line(function_id: &str, arguments: &Value, theme: Theme) -> String {
    let args = match arguments {
        Value::Null => String::new(),
        other => format!(" {}", truncate(&printable(&other.to_string()), ARGUMENTS_MAX)),
    };
    theme.dim(&format!("⚙ {}{args}", printable(function_id)))
}

/// `· event plan_updated {"steps":2}`, dim: an event this CLI does not know.
pub fn unknown_line(event: &str, data: &Value, theme: Theme) -> String {
    let data = match data {
        Value::Null => String::new(),
        other => format!(" {}", truncate(&printable(&other.to_string()), ARGUMENTS_MAX)),
    };
    theme.dim(&format!("· event {}{data}", printable(event)))
}

/// `  ↳ ok · 1.2 KiB · 3 ms`, `  ↳ error CODE: message` or `  ↳ blocked: reason`.
pub fn tool_result_line(result: &ToolResultEvent, theme: Theme) -> String {
    let took = result.duration_ms.map(|ms| format!(" · {}", human_ms(ms))).unwrap_or_default();
    if let Some(reason) = &result.blocked {
        return theme.yellow(&format!("  ↳ blocked: {}", printable(reason)));
    }
    if !result.ok {
        let what = match &result.error {
            Some(e) => format!("error {}: {}", printable(&e.code), printable(&e.message)),
            None => "error".to_string(),
        };
        return theme.red(&format!("  ↳ {what}{took}"));
    }
    let size = result.result.as_ref().map(|r| format!(" · {}", human_bytes(result_size(r)))).unwrap_or_default();
    format!("{}{}{}", theme.dim("  ↳ "), theme.green("ok"), theme.dim(&format!("{size}{took}")))
}

/// `session 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012`, dim.
pub fn footer(answer: &ChatAnswer, theme: Theme) -> String {
    let steps = if answer.steps == 1 { "1 step".to_string() } else { format!("{} steps", answer.steps) };
    let cost = answer.usage.cost_usd.map(|c| format!(" · ${c:.4}")).unwrap_or_default();
    theme.dim(&format!(
        "session {} · {steps} · {} in / {} out tokens{cost}",
        short_id(&answer.session_id),
        thousands(answer.usage.input_tokens),
        thousands(answer.usage.output_tokens),
    ))
}

/// The first four characters of a long id, then `…`; short ids whole.
pub fn short_id(id: &str) -> String {
    let id = printable(id);
    if id.chars().count() <= 8 { id } else { format!("{}…", id.chars().take(4).collect::<String>()) }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `512 B`, `1.2 KiB`, `3.4 MiB`.
pub fn human_bytes(n: usize) -> String {
    const KIB: f64 = 1024.0;
    let f = n as f64;
    if n < 1024 {
        format!("{n} B")
    } else if f < KIB * KIB {
        format!("{:.1} KiB", f / KIB)
    } else {
        format!("{:.1} MiB", f / (KIB * KIB))
    }
}

/// `3 ms`, `1.2 s`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) }
}

/// The size of a tool's result: a string's own length, anything else's JSON length.
fn result_size(result: &Value) -> usize {
    match result {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_protocol::chat::{Token, ToolCallRecord, TurnUsage};
    use agentos_protocol::error::ErrorInfo;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn answer(reply: &str) -> ChatAnswer {
        ChatAnswer {
            session_id: "3f2a9c4e-0000-4000-8000-000000000000".into(),
            reply: reply.into(),
            tool_calls: vec![],
            usage: TurnUsage { input_tokens: 1234, output_tokens: 56, cost_usd: Some(0.0012), llm_calls: 2 },
            model: "m".into(),
            steps: 2,
            finish: "stop".into(),
            trace_id: None,
        }
    }

    fn ok_result(result: Value, ms: u64) -> ToolResultEvent {
        ToolResultEvent {
            id: "c1".into(),
            function_id: "code::read_file".into(),
            ok: true,
            result: Some(result),
            error: None,
            blocked: None,
            warning: None,
            duration_ms: Some(ms),
        }
    }

    fn token(text: &str) -> ChatEvent {
        ChatEvent::Token(Token { text: text.into() })
    }

    fn done(answer: ChatAnswer) -> ChatEvent {
        ChatEvent::Done(Box::new(answer))
    }

    fn render_all(theme: Theme, events: &[ChatEvent]) -> String {
        let mut r = Renderer::new(theme);
        events.iter().map(|e| r.event(e)).collect()
    }

    #[test]
    fn a_streamed_turn_renders_tokens_tool_cells_and_the_footer_in_order() {
        let events = [
            token("Let me "),
            token("look."),
            ChatEvent::ToolCall(ToolCallEvent {
                id: "c1".into(),
                function_id: "code::read_file".into(),
                arguments: json!({"path": "src/main.rs"}),
            }),
            ChatEvent::ToolResult(ok_result(json!("x".repeat(1229)), 3)),
            token("It is short."),
            ChatEvent::ApprovalRequested(Box::new(
                serde_json::from_value(json!({
                    "id": "apr-1", "status": "pending", "created_ms": 1, "expires_ms": 300_001, "session_id": "s1",
                    "agent": null, "hand": "coder", "realm": null, "function_id": "code::write_file",
                    "arguments": {"path": "a"}, "reason": null, "tier": "ask",
                    "rule": {"id": "builtin:workspace-write", "source": "builtin", "function": "code::write_file"},
                }))
                .unwrap(),
            )),
            done(answer("Let me look.It is short.")),
        ];
        assert_eq!(
            render_all(Theme::PLAIN, &events),
            "Let me look.\n\
             ⚙ code::read_file {\"path\":\"src/main.rs\"}\n\
             \x20 ↳ ok · 1.2 KiB · 3 ms\n\
             It is short.\n\
             session 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012\n"
        );
    }

    #[test]
    fn the_reply_is_printed_from_done_when_no_token_was_streamed() {
        assert_eq!(
            render_all(Theme::PLAIN, &[done(answer("Hello"))]),
            "Hello\nsession 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012\n"
        );
    }

    #[test]
    fn a_second_turn_in_the_same_renderer_prints_its_reply_from_done_when_it_streamed_none() {
        let mut r = Renderer::new(Theme::PLAIN);
        r.event(&token("one"));
        r.event(&done(answer("one")));
        assert_eq!(r.event(&done(answer("two"))).lines().next(), Some("two"));
    }

    #[test]
    fn failed_and_blocked_tool_results_say_why() {
        let mut failed = ok_result(json!(null), 12);
        failed.ok = false;
        failed.result = None;
        failed.error = Some(ErrorInfo::new("NOT_FOUND", "no file src/x.rs"));
        assert_eq!(tool_result_line(&failed, Theme::PLAIN), "  ↳ error NOT_FOUND: no file src/x.rs · 12 ms");
        assert_eq!(
            tool_result_line(&failed, Theme::ANSI),
            "\x1b[31m  ↳ error NOT_FOUND: no file src/x.rs · 12 ms\x1b[0m"
        );

        let mut blocked = failed;
        blocked.blocked = Some("loop guard: same call 3 times".into());
        assert_eq!(tool_result_line(&blocked, Theme::PLAIN), "  ↳ blocked: loop guard: same call 3 times");
        assert_eq!(
            tool_result_line(&blocked, Theme::ANSI),
            "\x1b[33m  ↳ blocked: loop guard: same call 3 times\x1b[0m"
        );
    }

    #[test]
    fn colour_is_dim_for_tool_calls_and_footers_and_green_for_ok() {
        let call = tool_call_line("code::read_file", &json!({"path": "a"}), Theme::ANSI);
        assert_eq!(call, "\x1b[2m⚙ code::read_file {\"path\":\"a\"}\x1b[0m");
        assert_eq!(
            tool_result_line(&ok_result(json!("abc"), 3), Theme::ANSI),
            "\x1b[2m  ↳ \x1b[0m\x1b[32mok\x1b[0m\x1b[2m · 3 B · 3 ms\x1b[0m"
        );
        assert!(footer(&answer(""), Theme::ANSI).starts_with("\x1b[2msession 3f2a…"));
    }

    #[test]
    fn a_plain_theme_never_writes_an_escape_even_when_the_model_sends_one() {
        let events = [
            token("red \x1b[31mtext\x1b[0m\r\n"),
            ChatEvent::ToolCall(ToolCallEvent { id: "c".into(), function_id: "f::g".into(), arguments: json!({}) }),
            ChatEvent::ToolResult(ok_result(json!(1), 1)),
            ChatEvent::Unknown { event: "odd\x1b[31m".into(), data: json!("\x1b[0m") },
            done(answer("")),
        ];
        let out = render_all(Theme::PLAIN, &events);
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(out.starts_with("red [31mtext[0m\n⚙ f::g {}\n"), "{out:?}");
    }

    #[test]
    fn an_error_event_ends_the_unfinished_line_and_prints_nothing_else() {
        let mut r = Renderer::new(Theme::PLAIN);
        assert_eq!(r.event(&token("partial")), "partial");
        let error = ChatEvent::Error(ErrorInfo::new("NO_PROVIDER", "none"));
        assert_eq!(r.event(&error), "\n");
        assert_eq!(r.event(&error), "");
    }

    #[test]
    fn the_footer_leaves_out_an_unknown_cost_and_says_step_for_one() {
        let mut a = answer("");
        a.usage.cost_usd = None;
        a.steps = 1;
        a.session_id = "short".into();
        assert_eq!(footer(&a, Theme::PLAIN), "session short · 1 step · 1,234 in / 56 out tokens");
    }

    #[test]
    fn long_arguments_are_cut_with_an_ellipsis() {
        let line = tool_call_line("f::g", &json!({"text": "y".repeat(500)}), Theme::PLAIN);
        assert_eq!(line.chars().count(), "⚙ f::g ".chars().count() + ARGUMENTS_MAX + 1);
        assert!(line.ends_with('…'));
    }

    #[test]
    fn a_whole_answer_renders_like_its_stream() {
        let mut a = answer("Done.");
        a.tool_calls = vec![ToolCallRecord {
            id: "c1".into(),
            function_id: "code::list".into(),
            arguments: json!({"dir": "."}),
            ok: true,
            result: Some(json!({"files": 2})),
            error: None,
            blocked: None,
            warning: None,
            duration_ms: 4,
        }];
        assert_eq!(
            Renderer::new(Theme::PLAIN).answer(&a),
            "⚙ code::list {\"dir\":\".\"}\n  ↳ ok · 11 B · 4 ms\nDone.\nsession 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012\n"
        );
    }

    #[test]
    fn numbers_read_like_a_person_writes_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1229), "1.2 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
        assert_eq!(human_ms(3), "3 ms");
        assert_eq!(human_ms(1234), "1.2 s");
    }

    #[test]
    fn interrupting_ends_the_line_and_says_so() {
        let mut r = Renderer::new(Theme::PLAIN);
        r.event(&token("half"));
        assert_eq!(r.interrupted(), "\n(interrupted)\n");
    }

    #[test]
    fn an_unknown_event_is_a_line_of_its_own_never_dropped() {
        let mut r = Renderer::new(Theme::PLAIN);
        assert_eq!(r.event(&token("Planning")), "Planning");
        let plan = ChatEvent::Unknown { event: "plan_updated".into(), data: json!({"steps": 2}) };
        assert_eq!(r.event(&plan), "\n· event plan_updated {\"steps\":2}\n");
        assert_eq!(
            unknown_line("plan_updated", &json!({"steps": 2}), Theme::ANSI),
            "\x1b[2m· event plan_updated {\"steps\":2}\x1b[0m"
        );
    }
}
