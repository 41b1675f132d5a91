//! The list of recent traces (`GET /v1/traces?turns=1&limit=50`): one row per turn with its time, root
//! call, duration, span count once known and an error mark.
//!
//! Rules it keeps:
//! - Span counts and errors are learnt from the trees opened so far and kept across refreshes;
//!   a trace never opened shows its root's status only.
//! - Columns narrow with the pane: the date and the full trace id only when wide.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Padding, Paragraph, Widget, Wrap};

use super::format;
use super::model::TraceRow;
use super::scroll::{Scroll, on_row};
use crate::event::ApiError;
use crate::theme::Theme;

/// How many recent traces the list asks for.
pub const LIMIT: usize = 50;

/// The list's path.
pub fn path() -> String {
    format!("/v1/traces?turns=1&limit={LIMIT}")
}

/// Where the list stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Loading,
    Failed(ApiError),
    Loaded,
}

/// What a trace's tree told us: spans and failed spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub spans: usize,
    pub errors: usize,
}

/// The trace list.
#[derive(Debug, Clone)]
pub struct TraceList {
    pub rows: Vec<TraceRow>,
    pub scroll: Scroll,
    pub load: Load,
    pub known: HashMap<String, Known>,
}

impl Default for TraceList {
    fn default() -> Self {
        Self { rows: Vec::new(), scroll: Scroll::default(), load: Load::Loading, known: HashMap::new() }
    }
}

/// The width from which the list shows dates and whole trace ids.
const WIDE: u16 = 120;

impl TraceList {
    /// Takes a new answer, keeping the selected trace selected when it is still listed.
    pub fn loaded(&mut self, rows: Vec<TraceRow>) {
        let selected = self.selected().map(|r| r.trace_id.clone());
        self.rows = rows;
        self.load = Load::Loaded;
        if let Some(at) = selected.and_then(|id| self.rows.iter().position(|r| r.trace_id == id)) {
            self.scroll.selected = at;
        }
        self.scroll.clamp(self.rows.len());
    }

    /// The selected row.
    pub fn selected(&self) -> Option<&TraceRow> {
        self.rows.get(self.scroll.selected)
    }

    /// Draws the list into `area`.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        if area.height == 0 {
            return;
        }
        let title = match &self.load {
            Load::Loading if self.rows.is_empty() => "recent traces · loading…".to_string(),
            _ => format!("recent traces · {}", self.rows.len()),
        };
        buf.set_stringn(area.x, area.y, format!(" {title}"), usize::from(area.width), theme.accent());
        let body = Rect { y: area.y + 1, height: area.height - 1, ..area };
        if let Load::Failed(err) = &self.load {
            let lines = vec![
                Line::styled(format!("The traces could not be loaded: {err}"), theme.error()),
                Line::styled("Press r to try again.", theme.dim()),
            ];
            let block = Block::new().padding(Padding::horizontal(1));
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).render(body, buf);
            return;
        }
        if self.rows.is_empty() {
            if self.load == Load::Loaded {
                let lines = [
                    (" No traces yet.".to_string(), theme.text()),
                    (
                        " Every call through the engine is traced: send a chat message, then press r.".to_string(),
                        theme.dim(),
                    ),
                ];
                draw_lines(buf, body, &lines);
            }
            return;
        }
        let columns = Columns::for_width(area.width);
        if body.height == 0 {
            return;
        }
        buf.set_stringn(body.x, body.y, columns.header(), usize::from(body.width), theme.dim());
        let rows_area = Rect { y: body.y + 1, height: body.height - 1, ..body };
        let window = self.scroll.window(usize::from(rows_area.height), self.rows.len());
        for (y, i) in (rows_area.y..).zip(window) {
            let row = &self.rows[i];
            let known = self.known.get(&row.trace_id).copied();
            let selected = i == self.scroll.selected;
            columns.draw(buf, Rect { y, height: 1, ..rows_area }, row, known, selected, theme);
        }
    }
}

fn draw_lines(buf: &mut Buffer, area: Rect, lines: &[(String, Style)]) {
    for ((text, style), y) in lines.iter().zip(area.y..area.bottom()) {
        buf.set_stringn(area.x, y, text, usize::from(area.width), *style);
    }
}

/// The list's columns for one width.
struct Columns {
    wide: bool,
    root: usize,
    trace: usize,
}

impl Columns {
    const TIME: usize = 8;
    const DATE_TIME: usize = 19;
    const DURATION: usize = 8;
    const SPANS: usize = 5;

    fn for_width(width: u16) -> Self {
        let wide = width >= WIDE;
        let trace = if wide { 32 } else { 9 };
        let time = if wide { Self::DATE_TIME } else { Self::TIME };
        // mark (2), then each column followed by two spaces.
        let fixed = 2 + time + 2 + 2 + Self::DURATION + 2 + Self::SPANS + 2 + trace + 1;
        Self { wide, root: usize::from(width).saturating_sub(fixed).max(8), trace }
    }

    fn header(&self) -> String {
        let time =
            if self.wide { format::pad("started (UTC)", Self::DATE_TIME) } else { format::pad("started", Self::TIME) };
        format!(
            "  {time}  {}  {}  {}  {}",
            format::pad("root", self.root),
            format::pad_left("duration", Self::DURATION),
            format::pad_left("spans", Self::SPANS),
            "trace"
        )
    }

    fn draw(&self, buf: &mut Buffer, area: Rect, row: &TraceRow, known: Option<Known>, selected: bool, theme: Theme) {
        buf.set_style(area, on_row(Style::new(), selected, theme));
        let failed = row.failed || known.is_some_and(|k| k.errors > 0);
        let time = if self.wide { format::date_time(row.started_ms) } else { format::clock(row.started_ms) };
        let root = row.root.clone().unwrap_or_else(|| "(root span no longer kept)".to_string());
        let spans = known.map(|k| k.spans.to_string()).unwrap_or_default();
        let trace = format::truncate(&row.trace_id, self.trace);
        let cells: [(String, Style); 6] = [
            (if failed { "✗ ".into() } else { "  ".into() }, theme.error()),
            (format!("{time}  "), theme.dim()),
            (format!("{}  ", format::pad(&root, self.root)), if failed { theme.error() } else { theme.text() }),
            (format!("{}  ", format::pad_left(&format::duration_ms(row.duration_ms), Self::DURATION)), theme.text()),
            (format!("{}  ", format::pad_left(&spans, Self::SPANS)), theme.dim()),
            (trace, theme.dim()),
        ];
        let mut x = area.x;
        for (text, style) in cells {
            if x >= area.right() {
                break;
            }
            let (next, _) =
                buf.set_stringn(x, area.y, &text, usize::from(area.right() - x), on_row(style, selected, theme));
            x = next;
        }
    }
}
