//! The left side of the replay: the conversation as it stood at the current step, newest at
//! the bottom, the part the step created or completed marked in the gutter (`▌`).
//!
//! Rules it keeps:
//! - An entry's lines are wrapped once per width and state (with or without its result) and
//!   kept; a frame lays out only as many entries, from the bottom up, as fill the area.
//! - When the current part lies above what fits, the view ends at it instead of the newest
//!   entry, so the step being looked at is always on screen.

use agentos_protocol::error::ErrorInfo;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::timeline::{Decision, Outcome, Part, Shown, Timeline, compact};
use crate::panes::trace::format;
use crate::theme::Theme;

/// An entry's lines for one width and state.
#[derive(Debug, Clone)]
struct Cached {
    width: u16,
    complete: bool,
    lines: Vec<Line<'static>>,
}

/// The chat's cache of wrapped entries.
#[derive(Debug, Clone, Default)]
pub struct ChatView {
    cache: Vec<Option<Cached>>,
}

impl ChatView {
    /// Forgets every entry (the timeline was rebuilt).
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    /// Draws the chat at step `step` of `timeline` into `area`.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, timeline: &Timeline, step: usize, theme: Theme) {
        if area.height == 0 || area.width < 4 {
            return;
        }
        if self.cache.len() != timeline.entries.len() {
            self.cache = vec![None; timeline.entries.len()];
        }
        let shown = timeline.at(step);
        let text_width = area.width - 1;
        let height = usize::from(area.height);
        let mut bottom = shown.len();
        let mut picked = self.fill(&shown, bottom, text_width, height, theme);
        if !picked.iter().any(|(s, _)| s.current)
            && let Some(last_current) = shown.iter().rposition(|s| s.current)
        {
            bottom = last_current + 1;
            picked = self.fill(&shown, bottom, text_width, height, theme);
        }
        let total: usize = picked.iter().map(|(_, n)| *n).sum();
        let mut skip = total.saturating_sub(height);
        let mut y = area.y;
        for (shown, _) in picked.iter().rev() {
            let lines = self.lines(shown, text_width, theme);
            let gutter = if shown.current { Span::styled("▌", theme.accent()) } else { Span::raw(" ") };
            for line in lines {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if y >= area.bottom() {
                    return;
                }
                buf.set_span(area.x, y, &gutter, 1);
                buf.set_line(area.x + 1, y, line, text_width);
                y += 1;
            }
        }
    }

    /// The entries ending before `bottom` that fill `height` lines, newest first, with their
    /// line counts.
    fn fill<'a>(
        &mut self,
        shown: &[Shown<'a>],
        bottom: usize,
        width: u16,
        height: usize,
        theme: Theme,
    ) -> Vec<(Shown<'a>, usize)> {
        let mut picked = Vec::new();
        let mut used = 0;
        for s in shown[..bottom].iter().rev() {
            if used >= height {
                break;
            }
            let n = self.lines(s, width, theme).len();
            used += n;
            picked.push((s.clone(), n));
        }
        picked
    }

    fn lines(&mut self, shown: &Shown<'_>, width: u16, theme: Theme) -> &[Line<'static>] {
        let slot = &mut self.cache[shown.index];
        if slot.as_ref().is_none_or(|c| c.width != width || c.complete != shown.complete) {
            let lines = entry_lines(&shown.entry.part, shown.complete, usize::from(width), theme);
            *slot = Some(Cached { width, complete: shown.complete, lines });
        }
        slot.as_ref().map_or(&[], |c| c.lines.as_slice())
    }
}

/// The lines of one part of the chat, `width` cells wide.
pub fn entry_lines(part: &Part, complete: bool, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let indented = |text: &str, style: Style| -> Vec<Line<'static>> {
        format::wrap(text, width.saturating_sub(2)).into_iter().map(|l| Line::styled(format!("  {l}"), style)).collect()
    };
    match part {
        Part::Turn { number, at_ms } => {
            let label = format!("── turn {number} · {} ", format::clock(*at_ms));
            let fill = "─".repeat(width.saturating_sub(format::width(&label)));
            vec![Line::styled(format!("{label}{fill}"), theme.dim())]
        }
        Part::User { text } => {
            let mut lines = vec![Line::styled("❯ you", theme.user())];
            lines.extend(indented(text, theme.text()));
            lines
        }
        Part::Assistant { text, model } => {
            let mut head = vec![Span::styled("● assistant", theme.accent())];
            if !model.is_empty() {
                head.push(Span::styled(format!(" · {model}"), theme.dim()));
            }
            let mut lines = vec![Line::from(head)];
            lines.extend(indented(text, theme.text()));
            lines
        }
        Part::Tool { function_id, arguments, outcome, .. } => {
            tool_lines(function_id, arguments, outcome.as_ref().filter(|_| complete).map(|(_, o)| o), width, theme)
        }
        Part::Approval { function_id, tier, decision } => {
            approval_lines(function_id, tier, decision.as_ref().filter(|_| complete).map(|(_, d)| d), width, theme)
        }
        Part::Error { code, message } => {
            let mut lines = vec![Line::styled(format!("✗ {code}"), theme.error())];
            lines.extend(indented(message, theme.error()));
            lines
        }
        Part::Done { finish, steps, tokens } => {
            let text = format!(
                "✓ turn done · {finish} · {} · {} tokens",
                format::plural(*steps as usize, "step", "steps"),
                format::count(*tokens)
            );
            vec![Line::styled(format::truncate(&text, width), theme.dim())]
        }
        Part::Note { text } => vec![Line::styled(format::truncate(&format!("⋯ {text}"), width), theme.dim())],
    }
}

fn tool_lines(
    function_id: &str,
    arguments: &Value,
    outcome: Option<&Outcome>,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let head = format!("» {function_id} ");
    let args = format::truncate(&format::one_line(&compact(arguments)), width.saturating_sub(format::width(&head)));
    let mut lines = vec![Line::from(vec![Span::styled(head, theme.tool()), Span::styled(args, theme.dim())])];
    let result = |mark: &str, text: String, style: Style| {
        let body = format::truncate(&format::one_line(&text), width.saturating_sub(4));
        Line::from(vec![Span::styled(format!("  {mark} "), style), Span::styled(body, theme.dim())])
    };
    lines.push(match outcome {
        None => Line::styled("  … running", theme.dim()),
        Some(Outcome::Ok(value)) => result("✓", compact(value), theme.ok()),
        Some(Outcome::Failed(error)) => result("✗", error_text(error.as_ref()), theme.error()),
        Some(Outcome::Blocked(reason)) => result("⊘", format!("blocked: {reason}"), theme.warn()),
    });
    lines
}

fn approval_lines(
    function_id: &str,
    tier: &str,
    decision: Option<&Decision>,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let mut head = format!("? approval · {function_id}");
    if !tier.is_empty() {
        head.push_str(&format!(" · tier {tier}"));
    }
    let mut lines = vec![Line::styled(format::truncate(&head, width), theme.warn())];
    let line = match decision {
        None => Line::styled("  … waiting for a decision", theme.dim()),
        Some(d) => {
            let (mark, style) = if d.approved() { ("✓", theme.ok()) } else { ("✗", theme.error()) };
            let decided = match d.decision.as_str() {
                "approve" => "approved",
                "deny" => "denied",
                other => other,
            };
            let mut text =
                format!("{decided}{}", if d.by.is_empty() { String::new() } else { format!(" by {}", d.by) });
            if let Some(note) = &d.note {
                text.push_str(&format!(" · {note}"));
            }
            Line::from(vec![
                Span::styled(format!("  {mark} "), style),
                Span::styled(format::truncate(&text, width.saturating_sub(4)), style),
            ])
        }
    };
    lines.push(line);
    lines
}

/// An error as `CODE: message`, the code alone when it has no message; nothing without one.
pub fn error_text(error: Option<&ErrorInfo>) -> String {
    match error {
        Some(e) if !e.message.is_empty() => format!("{}: {}", e.code, e.message),
        Some(e) => e.code.clone(),
        None => String::new(),
    }
}
