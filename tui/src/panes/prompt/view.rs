//! Drawing the approval prompt: a bordered box over the lower part of the pane area (all of it
//! when the area is small) with the call, why it needs a person, its arguments and diff, and
//! the keys.
//!
//! Rules it keeps:
//! - The header (function, origin, the command of a `run_command`, reason, rule) and the footer
//!   (status, keys, what `s` and `a` store) always show; the body (arguments, then the diff)
//!   takes the rows left and scrolls. When rows are short the reason gives way first.
//! - The body is built once per request and width (highlighting a 256 KiB diff is not a
//!   per-frame job) and only its visible rows are drawn; long lines are clipped, not wrapped.
//! - What is beneath the box is cleared first.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Padding, Paragraph};

use crate::highlight;
use crate::panes::approvals::model::{Approval, clipped_arguments, command_line, compact_json, left, short_id};
use crate::panes::trace::format::{truncate, width as cells, wrap};
use crate::theme::Theme;

use super::choice::{always_line, session_line};
use super::queue::{Entry, Sending};
use super::{ApprovalPrompt, Body, Mode};

/// At most this many rows of the reason are shown.
const REASON_ROWS: usize = 2;

/// At most this many rows of a status (an error) are shown.
const STATUS_ROWS: usize = 2;

/// An area at most this tall is covered whole.
const SMALL: u16 = 16;

/// The box never gets smaller than this (unless the area is).
const MIN_HEIGHT: u16 = 12;

/// Border and padding, left and right.
const FRAME_COLUMNS: u16 = 4;

/// What labels the header's rows.
const LABEL: usize = 8;

const NOTE_LABEL: &str = "note to the model › ";

/// The keys, in full and for narrow boxes.
const KEYS: [(&str, &str, &str); 5] = [
    ("y", "approve once", "once"),
    ("s", "this session", "session"),
    ("a", "always", "always"),
    ("n", "deny", "deny"),
    ("N", "deny with a note", "note"),
];

/// The body of `approval` for `width` cells: its arguments as highlighted JSON (long strings
/// cut: the diff shows them), then its diff.
pub(super) fn body(approval: &Approval, width: usize, theme: Theme) -> Body {
    let json = compact_json(&clipped_arguments(&approval.arguments), width);
    let mut lines = highlight::code(&json, "json", theme);
    let mut diff_at = None;
    if let Some(diff) = approval.diff.as_deref().filter(|d| !d.trim().is_empty()) {
        lines.push(Line::raw(""));
        diff_at = Some(lines.len());
        lines.extend(highlight::diff(diff, theme));
    }
    Body { id: approval.id.clone(), width, lines, diff_at }
}

/// Draws the prompt (or, with no request left, the notice alone) over `area`.
pub(super) fn draw(p: &mut ApprovalPrompt, frame: &mut Frame, area: Rect) {
    if p.queue.is_empty() {
        if let Some(notice) = &p.notice {
            draw_notice(frame, area, &notice.text, p.theme);
        }
        return;
    }
    let width = usize::from(area.width.saturating_sub(FRAME_COLUMNS));
    p.body_for_head(width);
    let (Some(entry), Some(body)) = (p.queue.head(), p.body.as_ref()) else { return };
    let theme = p.theme;
    let footer = footer(p, entry, width);
    let mut reason_rows = reason(&entry.approval, width).len().min(REASON_ROWS);
    let fixed = fixed_rows(&entry.approval);
    let wanted = fixed + reason_rows + body.lines.len() + footer.len() + 2;
    let boxed = placement(area, u16::try_from(wanted).unwrap_or(u16::MAX));
    let inner_height = usize::from(boxed.height.saturating_sub(2));
    // The footer and one row of the body must show; the reason gives way first.
    while reason_rows > 0 && fixed + reason_rows + footer.len() + 1 > inner_height {
        reason_rows -= 1;
    }
    let header = header(&entry.approval, width, reason_rows, theme);
    let body_rows = inner_height.saturating_sub(header.len() + footer.len());
    p.scroll = p.scroll.min(body.lines.len().saturating_sub(body_rows));
    let scroll = p.scroll;

    frame.render_widget(Clear, boxed);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.warn())
        .padding(Padding::horizontal(1))
        .title_top(Line::styled(title(p.queue.len()), theme.accent()))
        .title_top(expiry(&entry.approval, p.now_ms, theme).right_aligned())
        .title_bottom(scroll_hint(scroll, body_rows, body, theme).right_aligned());
    let inner = block.inner(boxed);
    frame.render_widget(block, boxed);

    let mut lines = header;
    lines.extend(body.lines.iter().skip(scroll).take(body_rows).cloned());
    lines.resize(inner_height.saturating_sub(footer.len()), Line::raw(""));
    lines.extend(footer);
    frame.render_widget(Paragraph::new(lines), inner);

    if let Mode::Note(note) = &p.mode {
        let prefix = u16::try_from(cells(NOTE_LABEL)).unwrap_or(0);
        let (_, column) = note.window(width.saturating_sub(usize::from(prefix)));
        let row = inner.bottom().saturating_sub(2);
        let x = inner.x + prefix + u16::try_from(column).unwrap_or(0);
        frame.set_cursor_position(Position::new(x.min(inner.right().saturating_sub(1)), row));
    }
}

/// Where the box goes: the lower part of `area`, tall enough for `wanted` rows, or all of a
/// small area.
fn placement(area: Rect, wanted: u16) -> Rect {
    if area.height <= SMALL {
        return area;
    }
    let most = (area.height * 3 / 4).max(MIN_HEIGHT);
    let height = wanted.clamp(MIN_HEIGHT, most).min(area.height);
    Rect { y: area.bottom() - height, height, ..area }
}

fn title(total: usize) -> String {
    if total == 1 { " Approval ".to_string() } else { format!(" Approval 1 of {total} ") }
}

fn expiry(approval: &Approval, now_ms: u64, theme: Theme) -> Line<'static> {
    match approval.expires_ms.and_then(|ms| left(now_ms, ms)) {
        Some(left) => Line::styled(format!(" denied in {left} unless decided "), theme.dim()),
        None => Line::raw(""),
    }
}

/// `j/k scroll · diff · lines 3–14 of 40` on the bottom border, when the body does not fit.
fn scroll_hint(scroll: usize, rows: usize, body: &Body, theme: Theme) -> Line<'static> {
    let len = body.lines.len();
    if len <= rows || rows == 0 {
        return Line::raw("");
    }
    let last = (scroll + rows).min(len);
    let what = match body.diff_at {
        Some(at) if scroll + rows > at => "diff",
        _ => "arguments",
    };
    Line::styled(format!(" j/k scroll · {what} · lines {}–{last} of {len} ", scroll + 1), theme.dim())
}

/// The header's rows that never give way: function and origin, the command, the rule.
fn fixed_rows(approval: &Approval) -> usize {
    2 + usize::from(command_line(&approval.function_id, &approval.arguments).is_some())
}

/// Function and origin, the command of a `run_command`, up to `reason_rows` rows of the
/// reason, the rule.
fn header(approval: &Approval, width: usize, reason_rows: usize, theme: Theme) -> Vec<Line<'static>> {
    let label = |s: &'static str| Span::styled(s, theme.dim());
    let mut lines = vec![Line::from(vec![
        Span::styled(approval.function_id.clone(), theme.tool()),
        Span::styled(format!("  {}", approval.origin()), theme.dim()),
    ])];
    if let Some((command, cwd)) = command_line(&approval.function_id, &approval.arguments) {
        let mut spans = vec![label("run:    "), Span::styled(command, theme.accent())];
        if let Some(cwd) = cwd {
            spans.push(Span::styled(format!("   in {cwd}"), theme.dim()));
        }
        lines.push(Line::from(spans));
    }
    let rows = reason(approval, width);
    let shown = rows.len().min(reason_rows);
    for (i, row) in rows.iter().take(shown).enumerate() {
        // The last row shown ends in … when the reason goes on.
        let text = if i + 1 == shown && rows.len() > shown {
            format!("{}…", truncate(row, width.saturating_sub(LABEL + 1)))
        } else {
            row.clone()
        };
        lines.push(Line::from(vec![label(if i == 0 { "reason: " } else { "        " }), Span::raw(text)]));
    }
    lines.push(Line::from(vec![label("rule:   "), Span::raw(approval.rule.label())]));
    lines
}

/// The reason, wrapped after its label.
fn reason(approval: &Approval, width: usize) -> Vec<String> {
    if approval.reason.trim().is_empty() {
        return Vec::new();
    }
    wrap(approval.reason.trim(), width.saturating_sub(LABEL).max(1))
}

/// The status (a notice, sending, an error; when there is something to say), the keys, and
/// what `s` and `a` store.
fn footer(p: &ApprovalPrompt, entry: &Entry, width: usize) -> Vec<Line<'static>> {
    let theme = p.theme;
    let mut lines = Vec::new();
    let mut status = |text: &str, style| {
        for row in wrap(text, width.max(1)).into_iter().take(STATUS_ROWS) {
            lines.push(Line::styled(row, style));
        }
    };
    if let Some(notice) = &p.notice {
        status(&notice.text, theme.warn());
    }
    match &entry.sending {
        Sending::Sending(choice) => status(&format!("sending… {}", choice.describe()), theme.accent()),
        Sending::Failed(message) => status(message, theme.error()),
        Sending::Idle => {}
    }
    let approval = &entry.approval;
    match &p.mode {
        Mode::Note(note) => {
            let (shown, _) = note.window(width.saturating_sub(cells(NOTE_LABEL)));
            lines.push(Line::from(vec![Span::styled(NOTE_LABEL, theme.accent()), Span::raw(shown)]));
            lines.push(key_line(&[("Enter", "deny with this note"), ("Esc", "back to the choices")], theme));
        }
        Mode::Keys => {
            let full: Vec<(&str, &str)> = KEYS.iter().map(|(k, long, _)| (*k, *long)).collect();
            let short: Vec<(&str, &str)> = KEYS.iter().map(|(k, _, short)| (*k, *short)).collect();
            let line = key_line(&full, theme);
            lines.push(if line.width() <= width { line } else { key_line(&short, theme) });
            let session = short_id(&approval.session_id);
            let text = width.saturating_sub(3);
            lines.push(explain("s", session_line(&approval.function_id, &session, text), text, theme));
            lines.push(explain("a", always_line(&approval.function_id, text), text, theme));
        }
    }
    lines
}

fn key_line(keys: &[(&str, &str)], theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (key, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(key.to_string(), theme.accent()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

fn explain(key: &'static str, text: String, width: usize, theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(key, theme.accent()),
        Span::styled(format!("  {}", truncate(&text, width)), theme.dim()),
    ])
}

fn draw_notice(frame: &mut Frame, area: Rect, text: &str, theme: Theme) {
    let height = 3.min(area.height);
    let boxed = Rect { y: area.bottom() - height, height, ..area };
    frame.render_widget(Clear, boxed);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.dim())
        .padding(Padding::horizontal(1))
        .title_top(Line::styled(" Approval ", theme.accent()));
    let width = usize::from(area.width.saturating_sub(FRAME_COLUMNS));
    frame.render_widget(Paragraph::new(Line::styled(truncate(text, width), theme.warn())).block(block), boxed);
}
