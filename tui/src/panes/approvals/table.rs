//! The inbox table: one row per request, pending first, with who decided it, through what and
//! when.
//!
//! Rules it keeps:
//! - Columns are dropped, least useful first, when the pane is narrow; status and function
//!   always show.
//! - Only the visible rows are drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::panes::trace::format::pad;
use crate::panes::trace::scroll::{Scroll, on_row};
use crate::theme::Theme;

use super::model::{Approval, Status, ago, short_id};

/// A column: its title, its width, and how early it is dropped (higher goes first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Status,
    Function,
    Session,
    Hand,
    Created,
    DecidedBy,
    Scope,
    Rule,
}

impl Column {
    const ALL: [Column; 8] = [
        Column::Status,
        Column::Function,
        Column::Session,
        Column::Hand,
        Column::Created,
        Column::DecidedBy,
        Column::Scope,
        Column::Rule,
    ];

    fn title(self) -> &'static str {
        match self {
            Column::Status => "STATUS",
            Column::Function => "FUNCTION",
            Column::Session => "SESSION",
            Column::Hand => "HAND",
            Column::Created => "CREATED",
            Column::DecidedBy => "DECIDED BY",
            Column::Scope => "SCOPE",
            Column::Rule => "RULE",
        }
    }

    fn width(self) -> usize {
        match self {
            Column::Status => 9,
            Column::Function => 20,
            Column::Session => 9,
            Column::Hand => 10,
            Column::Created => 9,
            Column::DecidedBy => 16,
            Column::Scope => 8,
            Column::Rule => 24,
        }
    }

    /// Dropped in this order when the pane is narrow (first dropped first).
    const DROP: [Column; 6] =
        [Column::Rule, Column::Hand, Column::Scope, Column::Session, Column::Created, Column::DecidedBy];
}

/// The columns that fit in `width` cells; the last one takes what is left.
fn columns(width: usize) -> Vec<(Column, usize)> {
    let mut shown: Vec<Column> = Column::ALL.to_vec();
    for drop in Column::DROP {
        let total: usize = shown.iter().map(|c| c.width() + 1).sum();
        if total <= width + 1 {
            break;
        }
        shown.retain(|c| *c != drop);
    }
    let mut out: Vec<(Column, usize)> = shown.iter().map(|c| (*c, c.width())).collect();
    let used: usize = out.iter().map(|(_, w)| w + 1).sum();
    if let Some(last) = out.last_mut() {
        last.1 += (width + 1).saturating_sub(used);
    }
    out
}

/// The selection's mark before each row.
const MARK: usize = 2;

/// The style of a status.
pub fn status_style(status: Status, theme: Theme) -> Style {
    match status {
        Status::Pending => theme.warn(),
        Status::Approved => theme.ok(),
        Status::Denied => theme.error(),
    }
}

fn cell(column: Column, a: &Approval, now_ms: u64, theme: Theme) -> (String, Style) {
    let decision = a.decision.as_ref();
    match column {
        Column::Status => (a.status.label().to_string(), status_style(a.status, theme)),
        Column::Function => (a.function_id.clone(), theme.tool()),
        Column::Session => (short_id(&a.session_id), theme.text()),
        Column::Hand => (a.hand.clone().unwrap_or_default(), theme.text()),
        Column::Created => (ago(now_ms, a.created_ms), theme.dim()),
        Column::DecidedBy => (decision.map(|d| d.by()).unwrap_or_default(), theme.text()),
        Column::Scope => (decision.map(|d| d.scope.clone()).unwrap_or_default(), theme.text()),
        Column::Rule => (a.rule.id.clone(), theme.dim()),
    }
}

/// Draws the header row and the visible rows of `rows` into `area`.
pub fn render(
    buf: &mut Buffer,
    area: Rect,
    rows: &[Approval],
    scroll: &mut Scroll,
    focused: bool,
    now_ms: u64,
    theme: Theme,
) {
    let columns = columns(usize::from(area.width).saturating_sub(MARK));
    let mut head = vec![Span::raw(" ".repeat(MARK))];
    for (column, width) in &columns {
        head.push(Span::styled(format!("{} ", pad(column.title(), *width)), theme.dim()));
    }
    let mut lines = vec![Line::from(head)];
    let window = scroll.window(usize::from(area.height.saturating_sub(1)), rows.len());
    for i in window {
        let selected = i == scroll.selected;
        let a = &rows[i];
        let mark = if selected { "› " } else { "  " };
        let mut spans = vec![Span::styled(mark, on_row(theme.accent(), selected && focused, theme))];
        for (column, width) in &columns {
            let (text, style) = cell(*column, a, now_ms, theme);
            let style = if selected && !focused { style } else { on_row(style, selected, theme) };
            spans.push(Span::styled(pad(&text, *width), style));
            spans.push(Span::styled(" ", on_row(theme.text(), selected && focused, theme)));
        }
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn narrow_panes_drop_the_least_useful_columns_first() {
        let titles = |w| columns(w).iter().map(|(c, _)| c.title()).collect::<Vec<_>>();
        assert_eq!(titles(160).len(), 8);
        assert_eq!(titles(80), ["STATUS", "FUNCTION", "SESSION", "CREATED", "DECIDED BY", "SCOPE"]);
        assert_eq!(titles(40), ["STATUS", "FUNCTION"]);
        assert_eq!(columns(80).iter().map(|(_, w)| w + 1).sum::<usize>(), 81);
    }
}
