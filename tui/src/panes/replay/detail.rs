//! The right side of the replay: the current step in detail. Every step shows its kind, seq,
//! time, duration, turn and trace; model calls their tokens, cost, latency and model; tool
//! calls their arguments and results as highlighted JSON; approvals the decision and who
//! made it.
//!
//! Rules it keeps:
//! - Lines are built once per step and kept by the pane; drawing only slices them.
//! - Fields the API marks optional are left out when absent, never shown as `null`.

use ratatui::text::{Line, Span};
use serde_json::Value;

use super::chat::error_text;
use super::events::ReplayEvent;
use super::timeline::{compact, who};
use crate::highlight;
use crate::panes::trace::format;
use crate::theme::Theme;

/// The detail of `event`, step `step` of a session that started at `start_ms`.
pub fn lines(event: &ReplayEvent, start_ms: u64, theme: Theme) -> Vec<Line<'static>> {
    let mut out = Detail { lines: Vec::new(), theme };
    out.row("seq", event.seq.to_string());
    let offset = event.at_ms.saturating_sub(start_ms) as f64;
    out.row("time", format!("{} UTC  (+{})", format::clock(event.at_ms), format::duration_ms(offset)));
    if let Some(d) = event.duration_ms {
        out.row("took", format::duration_ms(d as f64));
    }
    if let Some(turn) = &event.turn_id {
        out.row("turn", turn.clone());
    }
    if let Some(trace) = &event.trace_id {
        out.row("trace", trace.clone());
    }
    out.blank();
    match event.kind.as_str() {
        "user_message" => out.user_message(event),
        "context_built" => out.context_built(event),
        "llm_request" => out.llm_request(event),
        "llm_response" => out.llm_response(event),
        "tool_call" => out.tool_call(event),
        "tool_result" => out.tool_result(event),
        "approval_requested" => out.approval_requested(event),
        "approval_decided" => out.approval_decided(event),
        "error" => out.error(event),
        "turn_done" => out.turn_done(event),
        _ => out.json("data", &event.data),
    }
    while out.lines.last().is_some_and(|l| l.width() == 0) {
        out.lines.pop();
    }
    out.lines
}

/// The style of a step's kind: errors red, approvals yellow, tools in the tool style.
pub fn kind_style(event: &ReplayEvent, theme: Theme) -> ratatui::style::Style {
    match event.kind.as_str() {
        "error" => theme.error(),
        "tool_result" if event.field("ok").and_then(Value::as_bool) != Some(true) => theme.error(),
        "approval_requested" | "approval_decided" => theme.warn(),
        "tool_call" | "tool_result" => theme.tool(),
        "user_message" => theme.user(),
        _ => theme.accent(),
    }
}

struct Detail {
    lines: Vec<Line<'static>>,
    theme: Theme,
}

impl Detail {
    fn row(&mut self, label: &str, value: impl Into<String>) {
        self.lines
            .push(Line::from(vec![Span::styled(format!("{label:<9} "), self.theme.dim()), Span::raw(value.into())]));
    }

    fn styled_row(&mut self, label: &str, value: impl Into<String>, style: ratatui::style::Style) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("{label:<9} "), self.theme.dim()),
            Span::styled(value.into(), style),
        ]));
    }

    fn blank(&mut self) {
        self.lines.push(Line::raw(""));
    }

    fn text(&mut self, title: &str, text: &str) {
        self.lines.push(Line::styled(title.to_string(), self.theme.accent()));
        self.lines.extend(text.lines().map(|l| Line::raw(l.to_string())));
        self.blank();
    }

    fn json(&mut self, title: &str, value: &Value) {
        self.lines.push(Line::styled(title.to_string(), self.theme.accent()));
        self.lines.extend(highlight::json(value, self.theme));
        self.blank();
    }

    fn str_row(&mut self, event: &ReplayEvent, label: &str, key: &str) {
        if let Some(v) = event.field(key) {
            self.row(label, compact(v));
        }
    }

    fn user_message(&mut self, e: &ReplayEvent) {
        self.str_row(e, "hand", "hand");
        self.str_row(e, "model", "model");
        self.blank();
        self.text("message", e.text("text").unwrap_or_default());
    }

    fn context_built(&mut self, e: &ReplayEvent) {
        self.str_row(e, "messages", "messages");
        if let Some(t) = e.field("estimated_tokens").and_then(Value::as_u64) {
            self.row("tokens", format!("~{}", format::count(t)));
        }
        self.str_row(e, "compacted", "compacted");
    }

    fn llm_request(&mut self, e: &ReplayEvent) {
        self.str_row(e, "model", "model");
        self.str_row(e, "tier", "tier");
        self.str_row(e, "messages", "messages_count");
        match e.field("tools") {
            Some(Value::Array(tools)) => {
                self.row("tools", tools.len().to_string());
                self.blank();
                let names: Vec<String> = tools.iter().map(compact).collect();
                self.text("tools offered", &names.join("\n"));
            }
            Some(count) => self.row("tools", compact(count)),
            None => {}
        }
    }

    fn llm_response(&mut self, e: &ReplayEvent) {
        let model = match (e.text("provider"), e.text("model")) {
            (Some(p), Some(m)) => format!("{p}/{m}"),
            (None, Some(m)) => m.to_string(),
            (p, None) => p.unwrap_or_default().to_string(),
        };
        self.row("model", model);
        let usage = e.field("usage");
        let tokens = |k: &str| usage.and_then(|u| u.get(k)).and_then(Value::as_u64).unwrap_or(0);
        self.row(
            "tokens",
            format!("{} in · {} out", format::count(tokens("input_tokens")), format::count(tokens("output_tokens"))),
        );
        if let Some(cost) = e.field("cost_usd").and_then(Value::as_f64) {
            self.row("cost", format::usd(cost));
        }
        if let Some(latency) = e.field("latency_ms").and_then(Value::as_f64) {
            self.row("latency", format::duration_ms(latency));
        }
        self.str_row(e, "finish", "finish_reason");
        self.str_row(e, "tier", "tier");
        self.str_row(e, "route", "route_reason");
        self.blank();
        if let Some(content) = e.text("content").filter(|c| !c.is_empty()) {
            self.text("content", content);
        }
        match e.field("tool_calls") {
            Some(calls @ Value::Array(list)) if !list.is_empty() => self.json("tool calls", calls),
            Some(Value::Number(n)) if n.as_u64() != Some(0) => self.row("tool calls", n.to_string()),
            _ => {}
        }
    }

    fn tool_call(&mut self, e: &ReplayEvent) {
        self.styled_row("function", e.text("function_id").unwrap_or_default().to_string(), self.theme.tool());
        self.str_row(e, "call id", "id");
        self.blank();
        self.json("arguments", e.field("arguments").unwrap_or(&Value::Null));
    }

    fn tool_result(&mut self, e: &ReplayEvent) {
        self.styled_row("function", e.text("function_id").unwrap_or_default().to_string(), self.theme.tool());
        self.str_row(e, "call id", "id");
        if let Some(reason) = e.field("blocked") {
            self.styled_row("outcome", format!("blocked: {}", compact(reason)), self.theme.warn());
        } else if e.field("ok").and_then(Value::as_bool) == Some(true) {
            self.styled_row("outcome", "ok", self.theme.ok());
        } else {
            self.styled_row("outcome", "failed", self.theme.error());
        }
        self.str_row(e, "warning", "warning");
        self.blank();
        if let Some(result) = e.field("result") {
            self.json("result", result);
        }
        if let Some(error) = e.field("error") {
            self.lines.push(Line::styled("error", self.theme.error()));
            self.lines.extend(highlight::json(error, self.theme));
        }
    }

    fn approval_requested(&mut self, e: &ReplayEvent) {
        self.styled_row("function", e.text("function_id").unwrap_or_default().to_string(), self.theme.tool());
        self.str_row(e, "approval", "approval_id");
        self.str_row(e, "tier", "tier");
        if let Some(rule) = e.field("rule") {
            self.blank();
            self.json("rule", rule);
        }
    }

    fn approval_decided(&mut self, e: &ReplayEvent) {
        let decision = e.text("decision").unwrap_or("none");
        let style = if matches!(decision, "approve" | "approved") { self.theme.ok() } else { self.theme.error() };
        self.styled_row("decision", decision.to_string(), style);
        if let Some(by) = e.field("by") {
            self.row("by", who(by));
        }
        self.str_row(e, "scope", "scope");
        self.str_row(e, "approval", "approval_id");
        self.str_row(e, "note", "note");
    }

    fn error(&mut self, e: &ReplayEvent) {
        self.lines.push(Line::styled(error_text(&e.data), self.theme.error()));
    }

    fn turn_done(&mut self, e: &ReplayEvent) {
        self.str_row(e, "finish", "finish");
        self.str_row(e, "steps", "steps");
        if let Some(usage) = e.field("usage") {
            let n = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            self.row(
                "tokens",
                format!("{} in · {} out", format::count(n("input_tokens")), format::count(n("output_tokens"))),
            );
            if let Some(cost) = usage.get("cost_usd").and_then(Value::as_f64) {
                self.row("cost", format::usd(cost));
            }
        }
        self.blank();
        if let Some(reply) = e.text("reply").filter(|r| !r.is_empty()) {
            self.text("reply", reply);
        }
    }
}
