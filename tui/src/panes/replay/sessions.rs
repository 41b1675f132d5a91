//! The session picker: `GET /v1/sessions?limit=200`, filtered by name, id or hand as the user
//! types after `/`, with the selected session's totals underneath.
//!
//! Rules it keeps:
//! - The filter is applied to the sessions already loaded (no request per key); the matches
//!   are recomputed only when the filter or the list changes.
//! - The selection follows the same session across refreshes and filter changes.
//! - Totals come from `GET /v1/sessions/:id/summary`, asked once per session and kept.

use std::collections::HashMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::events::{Session, Summary};
use crate::event::ApiError;
use crate::panes::trace::format;
use crate::panes::trace::scroll::{Scroll, on_row};
use crate::theme::Theme;

/// How many sessions the list asks for.
pub const LIMIT: usize = 200;

/// The list's path.
pub fn path() -> String {
    format!("/v1/sessions?limit={LIMIT}")
}

/// Where the list stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Loading,
    Failed(ApiError),
    Loaded,
}

/// A session's totals: asked for, or answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Totals {
    Pending,
    Failed(String),
    Ready(Summary),
}

/// The session picker.
#[derive(Debug, Clone)]
pub struct SessionList {
    pub all: Vec<Session>,
    /// How many sessions the server holds (may exceed what was listed).
    pub total: u64,
    pub load: Load,
    pub filter: String,
    /// Whether the user is typing the filter.
    pub typing: bool,
    matches: Vec<usize>,
    pub scroll: Scroll,
    pub totals: HashMap<String, Totals>,
}

impl Default for SessionList {
    fn default() -> Self {
        Self {
            all: Vec::new(),
            total: 0,
            load: Load::Loading,
            filter: String::new(),
            typing: false,
            matches: Vec::new(),
            scroll: Scroll::default(),
            totals: HashMap::new(),
        }
    }
}

/// The width from which realm, creation time and id columns show.
const WIDE: u16 = 120;

impl SessionList {
    /// Takes a new answer (`{sessions, total}`).
    pub fn loaded(&mut self, sessions: Vec<Session>, total: u64) {
        let selected = self.selected().map(|s| s.id.clone());
        self.all = sessions;
        self.total = total.max(self.all.len() as u64);
        self.load = Load::Loaded;
        self.refilter(selected);
    }

    /// The sessions shown (filtered).
    pub fn shown(&self) -> impl Iterator<Item = &Session> {
        self.matches.iter().map(|&i| &self.all[i])
    }

    /// The selected session.
    pub fn selected(&self) -> Option<&Session> {
        self.matches.get(self.scroll.selected).map(|&i| &self.all[i])
    }

    /// How many sessions match the filter.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    /// Whether no session matches.
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// Sets the filter to `filter`, keeping the selected session when it still matches.
    pub fn set_filter(&mut self, filter: String) {
        let selected = self.selected().map(|s| s.id.clone());
        self.filter = filter;
        self.refilter(selected);
    }

    fn refilter(&mut self, keep: Option<String>) {
        let needle = self.filter.trim().to_lowercase();
        self.matches = self.all.iter().enumerate().filter(|(_, s)| s.matches(&needle)).map(|(i, _)| i).collect();
        self.scroll.selected = keep.and_then(|id| self.matches.iter().position(|&i| self.all[i].id == id)).unwrap_or(0);
        self.scroll.clamp(self.matches.len());
    }

    /// Draws the picker into `area`.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        if area.height < 3 {
            return;
        }
        buf.set_line(area.x, area.y, &self.title(theme), area.width);
        let footer_y = area.bottom() - 1;
        let body = Rect { y: area.y + 1, height: area.height - 2, ..area };
        if let Load::Failed(err) = &self.load {
            buf.set_stringn(
                body.x,
                body.y,
                format!(" The sessions could not be loaded: {err}"),
                usize::from(body.width),
                theme.error(),
            );
            if body.height > 1 {
                buf.set_stringn(body.x, body.y + 1, " Press r to try again.", usize::from(body.width), theme.dim());
            }
            return;
        }
        if self.matches.is_empty() {
            let text = match (&self.load, self.all.is_empty()) {
                (Load::Loading, _) => String::new(),
                (_, true) => " No sessions yet: a chat turn records one.".to_string(),
                (_, false) => format!(" No session matches “{}”.", self.filter.trim()),
            };
            buf.set_stringn(body.x, body.y, text, usize::from(body.width), theme.dim());
        } else {
            let columns = Columns::for_width(area.width);
            buf.set_stringn(body.x, body.y, columns.header(), usize::from(body.width), theme.dim());
            let rows = Rect { y: body.y + 1, height: body.height.saturating_sub(1), ..body };
            let window = self.scroll.window(usize::from(rows.height), self.matches.len());
            for (y, row) in (rows.y..).zip(window) {
                let session = &self.all[self.matches[row]];
                columns.draw(buf, Rect { y, height: 1, ..rows }, session, row == self.scroll.selected, theme);
            }
        }
        let footer = fit(self.footer(theme), area.width);
        buf.set_line(area.x, footer_y, &footer, area.width);
    }

    fn title(&self, theme: Theme) -> Line<'static> {
        let count = match self.load {
            Load::Loading if self.all.is_empty() => "loading…".to_string(),
            _ if self.filter.trim().is_empty() && self.total > self.all.len() as u64 => {
                format!("{} newest of {}", self.all.len(), self.total)
            }
            _ if self.filter.trim().is_empty() => format::plural(self.all.len(), "session", "sessions"),
            _ => format!("{} of {}", self.matches.len(), self.all.len()),
        };
        let mut spans =
            vec![Span::styled(" sessions ", theme.accent()), Span::styled(format!("· {count}"), theme.dim())];
        if self.typing || !self.filter.is_empty() {
            spans.push(Span::styled("  / ", theme.accent()));
            spans.push(Span::raw(self.filter.clone()));
            if self.typing {
                spans.push(Span::styled("▏", theme.accent()));
            }
        }
        Line::from(spans)
    }

    fn footer(&self, theme: Theme) -> Vec<Span<'static>> {
        let Some(session) = self.selected() else { return Vec::new() };
        let mut spans = vec![Span::styled(format!(" {} ", format::truncate(session.title(), 30)), theme.accent())];
        match self.totals.get(&session.id) {
            Some(Totals::Ready(s)) => spans.extend(totals_spans(s, theme)),
            Some(Totals::Failed(why)) => spans.push(Span::styled(format!("· totals unavailable: {why}"), theme.dim())),
            Some(Totals::Pending) | None => spans.push(Span::styled("· counting…", theme.dim())),
        }
        if let Some(error) = &session.last_error {
            spans.push(Span::styled(format!("· last error {error}"), theme.error()));
        }
        spans
    }
}

/// A session's totals, most telling first (a narrow line keeps the first few): `· 3 turns ·
/// 12.3k tokens · $0.0123 · 1 error · 1 approval · 2m 13s · 5 llm calls · 4 tool calls`.
pub fn totals_spans(s: &Summary, theme: Theme) -> Vec<Span<'static>> {
    let part = |text: String, style: Style| Span::styled(format!("· {text} "), style);
    let mut spans = vec![
        part(format::plural(s.turns as usize, "turn", "turns"), theme.dim()),
        part(format!("{} tokens", format::count(s.input_tokens + s.output_tokens)), theme.dim()),
    ];
    if let Some(cost) = s.cost_usd {
        spans.push(part(format::usd(cost), theme.dim()));
    }
    if s.errors > 0 {
        spans.push(part(format::plural(s.errors as usize, "error", "errors"), theme.error()));
    }
    if s.approvals > 0 {
        spans.push(part(format::plural(s.approvals as usize, "approval", "approvals"), theme.warn()));
    }
    spans.push(part(format::duration_ms(s.duration_ms as f64), theme.dim()));
    spans.push(part(format::plural(s.llm_calls as usize, "llm call", "llm calls"), theme.dim()));
    spans.push(part(format::plural(s.tool_calls as usize, "tool call", "tool calls"), theme.dim()));
    spans
}

/// The leading `spans` that fit whole in `width` cells: a part is shown entire or not at all.
pub fn fit(spans: Vec<Span<'static>>, width: u16) -> Line<'static> {
    let mut used = 0;
    let kept: Vec<Span<'static>> = spans
        .into_iter()
        .take_while(|s| {
            used += format::width(&s.content);
            used <= usize::from(width)
        })
        .collect();
    Line::from(kept)
}

/// The state's style: active green, waiting for approval yellow, failed red, done plain.
pub fn state_style(state: &str, theme: Theme) -> Style {
    match state {
        "active" => theme.ok(),
        "waiting_approval" => theme.warn(),
        "failed" => theme.error(),
        _ => theme.text(),
    }
}

/// The picker's columns for one width.
struct Columns {
    wide: bool,
    name: usize,
}

impl Columns {
    const HAND: usize = 12;
    const STATE: usize = 16;
    const TURNS: usize = 5;
    const UPDATED: usize = 8;
    const DATE_TIME: usize = 19;
    const REALM: usize = 10;
    const ID: usize = 36;

    fn for_width(width: u16) -> Self {
        let wide = width >= WIDE;
        let mut fixed = 1 + Self::HAND + 2 + Self::STATE + 2 + Self::TURNS + 2 + 2;
        fixed += if wide { Self::DATE_TIME + 2 + Self::REALM + 2 + Self::ID } else { Self::UPDATED };
        Self { wide, name: usize::from(width).saturating_sub(fixed).max(8) }
    }

    fn header(&self) -> String {
        let mut out = format!(
            " {}  {}  {}  {}  ",
            format::pad("name", self.name),
            format::pad("hand", Self::HAND),
            format::pad("state", Self::STATE),
            format::pad_left("turns", Self::TURNS)
        );
        if self.wide {
            out.push_str(&format!(
                "{}  {}  id",
                format::pad("updated (UTC)", Self::DATE_TIME),
                format::pad("realm", Self::REALM)
            ));
        } else {
            out.push_str("updated");
        }
        out
    }

    fn draw(&self, buf: &mut Buffer, area: Rect, s: &Session, selected: bool, theme: Theme) {
        buf.set_style(area, on_row(Style::new(), selected, theme));
        let name_style = if s.name.is_some() { theme.text() } else { theme.dim() };
        let mut cells: Vec<(String, Style)> = vec![
            (format!(" {}  ", format::pad(s.title(), self.name)), name_style),
            (format!("{}  ", format::pad(&s.hand, Self::HAND)), theme.text()),
            (format!("{}  ", format::pad(&s.state.replace('_', " "), Self::STATE)), state_style(&s.state, theme)),
            (format!("{}  ", format::pad_left(&s.turns.to_string(), Self::TURNS)), theme.text()),
        ];
        if self.wide {
            cells.push((format!("{}  ", format::date_time(s.updated_ms)), theme.dim()));
            cells.push((format!("{}  ", format::pad(&s.realm, Self::REALM)), theme.dim()));
            cells.push((format::truncate(&s.id, Self::ID), theme.dim()));
        } else {
            cells.push((format::clock(s.updated_ms), theme.dim()));
        }
        let mut x = area.x;
        for (text, style) in cells {
            if x >= area.right() {
                break;
            }
            x = buf.set_stringn(x, area.y, &text, usize::from(area.right() - x), on_row(style, selected, theme)).0;
        }
    }
}
