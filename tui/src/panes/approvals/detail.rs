//! The selected request in full: where it comes from, why it needs a person, its decision,
//! its arguments and its diff.
//!
//! Rules it keeps:
//! - The arguments and the diff are highlighted once per request ([`Cached`]); the lines about
//!   the decision are cheap and built per frame, since they change with the clock.
//! - The body scrolls (J/K); the scroll is kept inside the lines there are.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::highlight;
use crate::panes::prompt::choice::Choice;
use crate::panes::trace::format::{clock, truncate, wrap};
use crate::theme::Theme;

use super::model::{Approval, ago, clipped_arguments, compact_json, left};
use super::table::status_style;

/// The highlighted arguments and diff of one request.
pub struct Cached {
    pub id: String,
    pub width: usize,
    lines: Vec<Line<'static>>,
}

impl Cached {
    pub fn new(a: &Approval, width: usize, theme: Theme) -> Self {
        let mut lines = vec![Line::styled("arguments", theme.dim())];
        lines.extend(highlight::code(&compact_json(&clipped_arguments(&a.arguments), width), "json", theme));
        if let Some(diff) = a.diff.as_deref().filter(|d| !d.trim().is_empty()) {
            lines.push(Line::raw(""));
            lines.push(Line::styled("diff", theme.dim()));
            lines.extend(highlight::diff(diff, theme));
        }
        Self { id: a.id.clone(), width, lines }
    }
}

/// Where this dashboard's decision for the selected request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Sending(Choice),
    Failed(String),
}

/// The facts about `a`, before its arguments.
fn facts(a: &Approval, action: &Action, width: usize, now_ms: u64, theme: Theme) -> Vec<Line<'static>> {
    let label = |s: &'static str| Span::styled(s, theme.dim());
    let mut lines = vec![Line::from(vec![
        Span::styled(a.status.label(), status_style(a.status, theme)),
        Span::raw("  "),
        Span::styled(a.function_id.clone(), theme.tool()),
        Span::styled(format!("  {} · {}", a.origin(), a.id), theme.dim()),
    ])];
    let mut asked = format!("{} ({} UTC)", ago(now_ms, a.created_ms), clock(a.created_ms));
    if a.is_pending()
        && let Some(remaining) = a.expires_ms.and_then(|ms| left(now_ms, ms))
    {
        asked.push_str(&format!(" · denied in {remaining} unless decided"));
    }
    lines.push(Line::from(vec![label("asked     "), Span::raw(asked)]));
    for (i, row) in wrap(a.reason.trim(), width.saturating_sub(10).max(1)).into_iter().enumerate() {
        if !row.is_empty() {
            lines.push(Line::from(vec![label(if i == 0 { "reason    " } else { "          " }), Span::raw(row)]));
        }
    }
    lines.push(Line::from(vec![label("rule      "), Span::raw(a.rule.label())]));
    if let Some(d) = &a.decision {
        let verb = if d.decision == "approve" { "approved" } else { "denied" };
        let mut text =
            format!("{verb} {} by {} · {} ({} UTC)", d.scope, d.by(), ago(now_ms, d.decided_ms), clock(d.decided_ms));
        if let Some(rule) = &d.rule_id {
            text.push_str(&format!(" · remembered as {rule}"));
        }
        lines.push(Line::from(vec![label("decision  "), Span::styled(text, status_style(a.status, theme))]));
        if let Some(note) = &d.note {
            for (i, row) in wrap(note, width.saturating_sub(10).max(1)).into_iter().enumerate() {
                lines.push(Line::from(vec![label(if i == 0 { "note      " } else { "          " }), Span::raw(row)]));
            }
        }
    }
    match action {
        Action::Sending(choice) => lines.push(Line::styled(format!("sending… {}", choice.describe()), theme.accent())),
        Action::Failed(why) => lines.push(Line::styled(truncate(why, width), theme.error())),
        Action::None if a.is_pending() => lines.push(Line::from(vec![
            Span::styled("y", theme.accent()),
            Span::raw(" approve once  "),
            Span::styled("s", theme.accent()),
            Span::raw(" this session  "),
            Span::styled("a", theme.accent()),
            Span::raw(" always  "),
            Span::styled("n", theme.accent()),
            Span::raw(" deny"),
        ])),
        Action::None => {}
    }
    lines.push(Line::raw(""));
    lines
}

/// Draws the detail box of `a` into `area`, the body scrolled by `*scroll` (kept in range).
#[allow(clippy::too_many_arguments)]
pub fn render(
    buf: &mut Buffer,
    area: Rect,
    a: &Approval,
    cached: &Cached,
    action: &Action,
    scroll: &mut usize,
    now_ms: u64,
    theme: Theme,
) {
    let block =
        Block::default().borders(Borders::TOP).border_style(theme.dim()).title(Line::styled(" detail ", theme.dim()));
    let inner = block.inner(area);
    let width = usize::from(inner.width);
    let rows = usize::from(inner.height);
    let mut lines = facts(a, action, width, now_ms, theme);
    let body_rows = rows.saturating_sub(lines.len()).max(1);
    *scroll = (*scroll).min(cached.lines.len().saturating_sub(body_rows));
    if cached.lines.len() > body_rows {
        let last = (*scroll + body_rows).min(cached.lines.len());
        let hint = format!(" J/K scroll · {}–{last} of {} ", *scroll + 1, cached.lines.len());
        block.title(Line::styled(hint, theme.dim()).right_aligned()).render(area, buf);
    } else {
        block.render(area, buf);
    }
    lines.extend(cached.lines.iter().skip(*scroll).take(body_rows).cloned());
    Paragraph::new(lines).render(inner, buf);
}
