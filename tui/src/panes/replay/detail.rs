//! The right side of the replay: the current step in detail. Every step shows its kind, seq,
//! time, duration, turn and trace; model calls their tokens, cost, latency and model; tool
//! calls their arguments and results as highlighted JSON; approvals the decision and who
//! made it.
//!
//! Rules it keeps:
//! - Lines are built once per step and kept by the pane; drawing only slices them.
//! - Fields the API marks optional are left out when absent, never shown as `null`.

use agentos_protocol::chat::{ToolCallEvent, ToolResultEvent};
use agentos_protocol::error::ErrorInfo;
use agentos_protocol::replay::{
    ApprovalDecided, ApprovalRequested, ContextBuilt, CountOrList, LlmRequest, LlmResponse, Step, TurnDone, UserMessage,
};
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::chat::error_text;
use super::events::{self, ReplayEvent};
use super::timeline::compact;
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
    match events::step(event) {
        Step::UserMessage(said) => out.user_message(&said),
        Step::ContextBuilt(built) => out.context_built(&built),
        Step::LlmRequest(asked) => out.llm_request(&asked),
        Step::LlmResponse(answer) => out.llm_response(&answer),
        Step::ToolCall(call) => out.tool_call(&call),
        Step::ToolResult(result) => out.tool_result(&result),
        Step::ApprovalRequested(asked) => out.approval_requested(&asked),
        Step::ApprovalDecided(decided) => out.approval_decided(&decided),
        Step::Error(error) => out.error(&error),
        Step::TurnDone(done) => out.turn_done(&done),
        Step::Unknown { data, .. } => out.json("data", &data),
    }
    while out.lines.last().is_some_and(|l| l.width() == 0) {
        out.lines.pop();
    }
    out.lines
}

/// The style of a step's kind: errors red, approvals yellow, tools in the tool style.
pub fn kind_style(event: &ReplayEvent, theme: Theme) -> ratatui::style::Style {
    match events::step(event) {
        Step::Error(_) => theme.error(),
        Step::ToolResult(result) if !result.ok => theme.error(),
        Step::ApprovalRequested(_) | Step::ApprovalDecided(_) => theme.warn(),
        Step::ToolCall(_) | Step::ToolResult(_) => theme.tool(),
        Step::UserMessage(_) => theme.user(),
        Step::Unknown { kind, .. } => match kind.as_str() {
            // A known kind whose data does not fit is shown as its raw data, styled as its kind.
            "error" | "tool_result" => theme.error(),
            "approval_requested" | "approval_decided" => theme.warn(),
            "tool_call" => theme.tool(),
            "user_message" => theme.user(),
            _ => theme.accent(),
        },
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

    /// A row for a field the step has; none for one it lacks.
    fn opt_row(&mut self, label: &str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.row(label, v.to_string());
        }
    }

    /// A row for a text the step has (an empty text counts as absent).
    fn text_row(&mut self, label: &str, value: &str) {
        if !value.is_empty() {
            self.row(label, value.to_string());
        }
    }

    fn user_message(&mut self, e: &UserMessage) {
        self.opt_row("hand", e.hand.as_deref());
        self.opt_row("model", e.model.as_deref());
        self.blank();
        self.text("message", &e.text);
    }

    fn context_built(&mut self, e: &ContextBuilt) {
        self.opt_row("messages", e.messages);
        if let Some(t) = e.estimated_tokens {
            self.row("tokens", format!("~{}", format::count(t)));
        }
        self.opt_row("compacted", e.compacted);
    }

    fn llm_request(&mut self, e: &LlmRequest) {
        self.opt_row("model", e.model.as_deref());
        self.opt_row("tier", e.tier.as_deref());
        self.opt_row("messages", e.messages_count);
        match &e.tools {
            Some(CountOrList::List(tools)) => {
                self.row("tools", tools.len().to_string());
                self.blank();
                let names: Vec<String> = tools.iter().map(compact).collect();
                self.text("tools offered", &names.join("\n"));
            }
            Some(CountOrList::Count(n)) => self.row("tools", n.to_string()),
            None => {}
        }
    }

    fn llm_response(&mut self, e: &LlmResponse) {
        let model = match (e.provider.as_deref(), e.model.as_deref()) {
            (Some(p), Some(m)) => format!("{p}/{m}"),
            (None, Some(m)) => m.to_string(),
            (p, None) => p.unwrap_or_default().to_string(),
        };
        self.row("model", model);
        let usage = e.usage.unwrap_or_default();
        self.row(
            "tokens",
            format!("{} in · {} out", format::count(usage.input_tokens), format::count(usage.output_tokens)),
        );
        if let Some(cost) = e.cost_usd {
            self.row("cost", format::usd(cost));
        }
        if let Some(latency) = e.latency_ms {
            self.row("latency", format::duration_ms(latency as f64));
        }
        self.opt_row("finish", e.finish_reason.as_deref());
        self.opt_row("tier", e.tier.as_deref());
        self.opt_row("route", e.route_reason.as_deref());
        self.blank();
        if let Some(content) = e.content.as_deref().filter(|c| !c.is_empty()) {
            self.text("content", content);
        }
        match &e.tool_calls {
            Some(CountOrList::List(list)) if !list.is_empty() => self.json("tool calls", &Value::Array(list.clone())),
            Some(CountOrList::Count(n)) if *n != 0 => self.row("tool calls", n.to_string()),
            _ => {}
        }
    }

    fn tool_call(&mut self, e: &ToolCallEvent) {
        self.styled_row("function", e.function_id.clone(), self.theme.tool());
        self.text_row("call id", &e.id);
        self.blank();
        self.json("arguments", &e.arguments);
    }

    fn tool_result(&mut self, e: &ToolResultEvent) {
        self.styled_row("function", e.function_id.clone(), self.theme.tool());
        self.text_row("call id", &e.id);
        if let Some(reason) = &e.blocked {
            self.styled_row("outcome", format!("blocked: {reason}"), self.theme.warn());
        } else if e.ok {
            self.styled_row("outcome", "ok", self.theme.ok());
        } else {
            self.styled_row("outcome", "failed", self.theme.error());
        }
        self.opt_row("warning", e.warning.as_deref());
        self.blank();
        if let Some(result) = e.result.as_ref().filter(|r| !r.is_null()) {
            self.json("result", result);
        }
        if let Some(error) = &e.error {
            self.lines.push(Line::styled("error", self.theme.error()));
            self.lines.extend(highlight::json(&serde_json::json!(error), self.theme));
        }
    }

    fn approval_requested(&mut self, e: &ApprovalRequested) {
        self.styled_row("function", e.function_id.clone(), self.theme.tool());
        self.text_row("approval", &e.approval_id);
        self.opt_row("tier", e.tier_text());
        if !e.rule.is_null() {
            self.blank();
            self.json("rule", &e.rule);
        }
    }

    fn approval_decided(&mut self, e: &ApprovalDecided) {
        let decision = if e.decision.is_empty() { "none" } else { e.decision.as_str() };
        let style = if matches!(decision, "approve" | "approved") { self.theme.ok() } else { self.theme.error() };
        self.styled_row("decision", decision.to_string(), style);
        if let Some(by) = &e.by {
            self.row("by", by.text());
        }
        self.opt_row("scope", e.scope.as_deref());
        self.text_row("approval", &e.approval_id);
        self.opt_row("note", e.note.as_deref());
    }

    fn error(&mut self, e: &ErrorInfo) {
        self.lines.push(Line::styled(error_text(Some(e)), self.theme.error()));
    }

    fn turn_done(&mut self, e: &TurnDone) {
        self.text_row("finish", &e.finish);
        self.opt_row("steps", e.steps);
        if let Some(usage) = &e.usage {
            self.row(
                "tokens",
                format!("{} in · {} out", format::count(usage.input_tokens), format::count(usage.output_tokens)),
            );
            if let Some(cost) = usage.cost_usd {
                self.row("cost", format::usd(cost));
            }
        }
        self.blank();
        if !e.reply.is_empty() {
            self.text("reply", &e.reply);
        }
    }
}
