//! One open trace: the span tree with its waterfall, and the selected span's detail.
//!
//! Rules it keeps:
//! - The visible rows are recomputed only when a subtree is collapsed or expanded, or the
//!   trace reloads; a frame draws only the rows in the window.
//! - A reload keeps the selected span and the collapsed subtrees (by span id).
//! - The detail's lines are built when the selection changes while it is open, not per frame.
//! - Layout: the tree (indentation guides, call, worker dimmed) left, the waterfall right; with
//!   the detail open the two stack, the detail below, its summary and payload side by side
//!   when wide and one after the other when narrow.

use std::collections::HashSet;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Padding, Paragraph, Widget, Wrap};

use super::detail::Detail;
use super::format;
use super::io::{self, IoState};
use super::model::{Span, SpanTree};
use super::scroll::{Scroll, on_row};
use super::waterfall;
use crate::event::ApiError;
use crate::panes::replay::events::ReplayEvent;
use crate::theme::Theme;

/// Where the trace itself stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeLoad {
    Loading,
    Failed(ApiError),
    Loaded,
}

/// The width from which the detail shows its summary and payload side by side.
const WIDE: u16 = 120;

/// An open trace.
#[derive(Debug, Clone)]
pub struct TraceView {
    pub trace_id: String,
    pub load: TreeLoad,
    pub tree: SpanTree,
    /// The search for the session's recorded steps of this trace.
    events: Option<Result<Vec<ReplayEvent>, String>>,
    pub io: IoState,
    collapsed: Vec<bool>,
    visible: Vec<usize>,
    pub scroll: Scroll,
    pub detail_open: bool,
    detail: Option<Detail>,
    detail_scroll: usize,
    /// Rows of spans shown by the last frame (for paging).
    page: usize,
    /// Lines of the detail shown by the last frame (for paging).
    detail_page: usize,
}

impl TraceView {
    /// A trace being loaded.
    pub fn new(trace_id: String) -> Self {
        Self {
            trace_id,
            load: TreeLoad::Loading,
            tree: SpanTree::default(),
            events: None,
            io: IoState::Searching,
            collapsed: Vec::new(),
            visible: Vec::new(),
            scroll: Scroll::default(),
            detail_open: false,
            detail: None,
            detail_scroll: 0,
            page: 10,
            detail_page: 10,
        }
    }

    /// The tree arrived (first time or on a refresh).
    pub fn loaded(&mut self, tree: SpanTree) {
        let selected = self.selected().map(|i| self.tree.spans[i].span_id.clone());
        let collapsed: HashSet<String> =
            self.tree.spans.iter().zip(&self.collapsed).filter(|(_, c)| **c).map(|(s, _)| s.span_id.clone()).collect();
        self.collapsed = tree.spans.iter().map(|s| collapsed.contains(&s.span_id)).collect();
        self.tree = tree;
        self.load = TreeLoad::Loaded;
        self.visible = self.tree.visible(&self.collapsed);
        self.scroll = Scroll::default();
        if let Some(i) = selected.and_then(|id| self.tree.position(&id)) {
            self.select_span(i);
        }
        self.rematch();
    }

    /// The recorded steps of the trace arrived, or could not be read.
    pub fn events_loaded(&mut self, events: Result<Vec<ReplayEvent>, String>) {
        self.events = Some(events);
        self.rematch();
    }

    fn rematch(&mut self) {
        self.io = match &self.events {
            None => IoState::Searching,
            Some(Err(why)) => IoState::Failed(why.clone()),
            Some(Ok(events)) if self.load == TreeLoad::Loaded => IoState::Ready(io::match_events(&self.tree, events)),
            Some(Ok(_)) => IoState::Searching,
        };
        self.detail = None;
    }

    /// The selected span's index in the tree.
    pub fn selected(&self) -> Option<usize> {
        self.visible.get(self.scroll.selected).copied()
    }

    /// The rows shown (span indices), collapsed subtrees left out.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    fn select_span(&mut self, index: usize) {
        if let Some(row) = self.visible.iter().position(|&i| i == index) {
            self.scroll.selected = row;
        }
        self.detail_scroll = 0;
    }

    /// Moves the selection by `delta` rows.
    pub fn step(&mut self, delta: isize) {
        self.scroll.step(delta, self.visible.len());
        self.detail_scroll = 0;
    }

    /// Moves the selection a page.
    pub fn page(&mut self, down: bool) {
        let page = isize::try_from(self.page.max(1)).unwrap_or(1);
        self.step(if down { page } else { -page });
    }

    /// Selects the first (`false`) or last (`true`) row.
    pub fn jump(&mut self, end: bool) {
        if end {
            self.scroll.end(self.visible.len())
        } else {
            self.scroll.home()
        }
        self.detail_scroll = 0;
    }

    /// Left: collapses the selected subtree, or selects the parent when it is collapsed or a leaf.
    pub fn collapse(&mut self) {
        let Some(i) = self.selected() else { return };
        if !self.tree.spans[i].children.is_empty() && !self.collapsed[i] {
            self.set_collapsed(i, true);
        } else if let Some(parent) = self.tree.spans[i].parent {
            self.select_span(parent);
        }
    }

    /// Right: expands the selected subtree, or selects its first child when expanded.
    pub fn expand(&mut self) {
        let Some(i) = self.selected() else { return };
        if self.collapsed[i] {
            self.set_collapsed(i, false);
        } else if let Some(&child) = self.tree.spans[i].children.first() {
            self.select_span(child);
        }
    }

    fn set_collapsed(&mut self, index: usize, collapsed: bool) {
        self.collapsed[index] = collapsed;
        self.visible = self.tree.visible(&self.collapsed);
        self.select_span(index);
    }

    /// Whether span `index` hides its subtree.
    pub fn is_collapsed(&self, index: usize) -> bool {
        self.collapsed.get(index).copied().unwrap_or(false)
    }

    /// Enter: shows or hides the detail.
    pub fn toggle_detail(&mut self) {
        self.detail_open = !self.detail_open;
        self.detail_scroll = 0;
    }

    /// Scrolls the detail a page.
    pub fn scroll_detail(&mut self, down: bool) {
        let page = (self.detail_page / 2).max(1);
        self.detail_scroll = if down { self.detail_scroll + page } else { self.detail_scroll.saturating_sub(page) };
    }

    /// Builds the selected span's detail when the selection changed since the last build.
    fn ensure_detail(&mut self, theme: Theme) {
        let Some(index) = self.selected() else { return };
        if self.detail.as_ref().is_none_or(|d| d.index != index) {
            self.detail = Some(Detail::of(&self.tree, index, &self.io, theme));
        }
    }

    /// Draws the trace into `area`.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        match &self.load {
            TreeLoad::Loading => {
                let text = format!(" Loading trace {}…", self.trace_id);
                buf.set_stringn(area.x, area.y, text, usize::from(area.width), theme.dim());
                return;
            }
            TreeLoad::Failed(err) => return self.render_failure(buf, area, err.clone(), theme),
            TreeLoad::Loaded => {}
        }
        buf.set_line(area.x, area.y, &self.header_line(area.width, theme), area.width);
        let body = Rect { y: area.y + 1, height: area.height - 1, ..area };
        if self.tree.spans.is_empty() {
            let text = " The engine answered this trace without any span. r: ask again · Esc: back to the list";
            buf.set_stringn(body.x, body.y, text, usize::from(body.width), theme.dim());
            return;
        }
        if !self.detail_open || body.height < 8 {
            self.render_spans(buf, body, theme);
            return;
        }
        let tree_height = if area.width >= WIDE { body.height / 2 } else { (body.height * 2 / 5).max(4) };
        let tree_area = Rect { height: tree_height, ..body };
        let detail_area = Rect { y: body.y + tree_height, height: body.height - tree_height, ..body };
        self.render_spans(buf, tree_area, theme);
        self.render_detail(buf, detail_area, theme);
    }

    fn render_failure(&self, buf: &mut Buffer, area: Rect, err: ApiError, theme: Theme) {
        let headline = if err.status == 404 {
            format!("Trace {} was not found.", self.trace_id)
        } else {
            format!("Trace {} could not be loaded.", self.trace_id)
        };
        let lines = vec![
            Line::styled(headline, theme.error()),
            Line::raw(""),
            Line::styled(format!("{}: {}", err.code, err.message), theme.text()),
            Line::raw(""),
            Line::styled(
                "The engine keeps only its newest spans. Esc: back to the recent traces · r: try again",
                theme.dim(),
            ),
        ];
        let block = Block::new().padding(Padding::horizontal(1));
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(block).render(area, buf);
    }

    fn header(&self, theme: Theme) -> Vec<ratatui::text::Span<'static>> {
        use ratatui::text::Span as Text;
        let tree = &self.tree;
        let root = tree.root().map(|r| r.label().to_string()).unwrap_or_default();
        let mut spans = vec![
            Text::styled(format!(" trace {} ", tree.trace_id.chars().take(8).collect::<String>()), theme.accent()),
            Text::styled("· ", theme.dim()),
            Text::raw(format!("{root} ")),
            Text::styled("· ", theme.dim()),
            Text::raw(format!("{} ", format::duration_ms(tree.duration_ms()))),
            Text::styled(format!("· {} ", format::plural(tree.spans.len(), "span", "spans")), theme.dim()),
        ];
        if tree.errors > 0 {
            spans.push(Text::styled(format!("· ✗ {} ", format::plural(tree.errors, "error", "errors")), theme.error()));
        }
        spans
    }

    /// The header, with the legend of the bars right-aligned when it fits.
    fn header_line(&self, width: u16, theme: Theme) -> Line<'static> {
        use ratatui::text::Span as Text;
        let mut spans = self.header(theme);
        let used: usize = spans.iter().map(|s| format::width(&s.content)).sum();
        let legend = [("█ slowest path", theme.warn()), ("  ━ span ", theme.dim())];
        let legend_width: usize = legend.iter().map(|(t, _)| format::width(t)).sum();
        if let Some(gap) = usize::from(width).checked_sub(used + legend_width).filter(|g| *g >= 2) {
            spans.push(Text::raw(" ".repeat(gap)));
            spans.extend(legend.into_iter().map(|(t, s)| Text::styled(t, s)));
        }
        Line::from(spans)
    }

    fn render_spans(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        if area.height == 0 {
            return;
        }
        let tree_width = (area.width * 2 / 5).clamp(20.min(area.width), 60);
        let fall = Rect { x: area.x + tree_width + 1, width: area.width.saturating_sub(tree_width + 2), ..area };
        buf.set_stringn(
            area.x,
            area.y,
            format::pad(" span", usize::from(tree_width)),
            usize::from(tree_width),
            theme.dim(),
        );
        let axis = waterfall::axis(self.tree.duration_ms(), fall.width);
        buf.set_stringn(fall.x, area.y, axis, usize::from(fall.width), theme.dim());
        let rows = Rect { y: area.y + 1, height: area.height - 1, ..area };
        self.page = usize::from(rows.height);
        let window = self.scroll.window(usize::from(rows.height), self.visible.len());
        for (y, row) in (rows.y..).zip(window) {
            let index = self.visible[row];
            let selected = row == self.scroll.selected;
            buf.set_style(Rect { y, height: 1, ..area }, on_row(Style::new(), selected, theme));
            self.draw_tree_cell(buf, Rect { y, height: 1, width: tree_width - 1, ..area }, index, selected, theme);
            buf.set_string(area.x + tree_width, y, "│", on_row(theme.dim(), selected, theme));
            self.draw_bar(buf, Rect { y, height: 1, ..fall }, index, selected, theme);
        }
    }

    /// The indentation guides of span `index`: `│ ` or `  ` per ancestor level, then `├─` or
    /// `└─`; deep spans keep only the innermost levels that fit `room`, after a `⋯`.
    fn guides(&self, index: usize, room: usize) -> String {
        let span = &self.tree.spans[index];
        if span.depth == 0 {
            return String::new();
        }
        let mut levels: Vec<&str> = Vec::with_capacity(span.depth);
        levels.push(if span.last { "└─" } else { "├─" });
        let mut at = span.parent;
        while let Some(a) = at {
            let ancestor = &self.tree.spans[a];
            if ancestor.parent.is_none() {
                break;
            }
            levels.push(if ancestor.last { "  " } else { "│ " });
            at = ancestor.parent;
        }
        let fit = (room / 2).max(1);
        let mut out = String::new();
        if levels.len() > fit {
            out.push_str("⋯ ");
            levels.truncate(fit - 1);
        }
        for level in levels.iter().rev() {
            out.push_str(level);
        }
        out
    }

    fn draw_tree_cell(&self, buf: &mut Buffer, area: Rect, index: usize, selected: bool, theme: Theme) {
        let span = &self.tree.spans[index];
        let guides = self.guides(index, usize::from(area.width) / 2);
        let marker = match (span.children.is_empty(), self.is_collapsed(index), span.depth) {
            (false, true, _) => "▸ ",
            (false, false, _) => "▾ ",
            (true, _, 0) => "• ",
            (true, _, _) => "─ ",
        };
        let name_style = if span.failed() {
            theme.error()
        } else if span.critical {
            theme.warn()
        } else {
            theme.text()
        };
        let mut cells: Vec<(String, Style)> =
            vec![(format!(" {guides}"), theme.dim()), (marker.to_string(), theme.dim())];
        cells.push((span.label().to_string(), name_style));
        if span.failed() {
            cells.push((" ✗".to_string(), theme.error()));
        }
        if self.is_collapsed(index) {
            cells.push((format!(" +{}", span.subtree_end - index - 1), theme.dim()));
        }
        let used: usize = cells.iter().map(|(t, _)| format::width(t)).sum();
        if let Some(worker) = &span.worker_id {
            let short: String = worker.chars().take(8).collect();
            if used + 1 + format::width(&short) <= usize::from(area.width) {
                cells.push((format!(" {short}"), theme.dim()));
            }
        }
        let mut x = area.x;
        for (text, style) in cells {
            let room = area.right().saturating_sub(x);
            if room == 0 {
                break;
            }
            let text = format::truncate(&text, usize::from(room));
            x = buf.set_stringn(x, area.y, &text, usize::from(room), on_row(style, selected, theme)).0;
        }
    }

    fn draw_bar(&self, buf: &mut Buffer, area: Rect, index: usize, selected: bool, theme: Theme) {
        let span: &Span = &self.tree.spans[index];
        let Some(bar) = waterfall::bar(span.start_ns, span.end_ns, self.tree.start_ns, self.tree.end_ns, area.width)
        else {
            return;
        };
        let style = if span.failed() {
            theme.error()
        } else if span.critical {
            theme.warn()
        } else {
            theme.accent()
        };
        let label = format::duration_ms(span.duration_ms());
        waterfall::draw(
            buf,
            area,
            bar,
            span.critical,
            on_row(style, selected, theme),
            &label,
            on_row(theme.dim(), selected, theme),
        );
    }

    fn render_detail(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        let title = self.selected().map(|i| format!(" {} ", self.tree.spans[i].label())).unwrap_or_default();
        let block = Block::new()
            .borders(Borders::TOP)
            .border_style(theme.dim())
            .title(Line::styled(title, theme.accent()))
            .padding(Padding::horizontal(1));
        let inner = block.inner(area);
        block.render(area, buf);
        self.detail_page = usize::from(inner.height);
        self.ensure_detail(theme);
        let Some(detail) = &self.detail else { return };
        if inner.width >= WIDE {
            let left_width = (inner.width * 2 / 5).min(70);
            let left = Rect { width: left_width, ..inner };
            let right = Rect { x: inner.x + left_width + 2, width: inner.width - left_width - 2, ..inner };
            draw_slice(buf, left, detail.summary.iter(), 0);
            self.detail_scroll = self.detail_scroll.min(detail.payload.len().saturating_sub(1));
            draw_slice(buf, right, detail.payload.iter(), self.detail_scroll);
        } else {
            let blank = Line::raw("");
            let total = detail.summary.len() + 1 + detail.payload.len();
            self.detail_scroll = self.detail_scroll.min(total.saturating_sub(1));
            let all = detail.summary.iter().chain(std::iter::once(&blank)).chain(detail.payload.iter());
            draw_slice(buf, inner, all, self.detail_scroll);
        }
    }
}

/// Draws `lines` from line `from` into `area`, wrapping long lines; only the lines that can
/// show are handed to the paragraph.
fn draw_slice<'a>(buf: &mut Buffer, area: Rect, lines: impl Iterator<Item = &'a Line<'static>>, from: usize) {
    let shown: Vec<Line<'static>> = lines.skip(from).take(usize::from(area.height)).cloned().collect();
    Paragraph::new(shown).wrap(Wrap { trim: false }).render(area, buf);
}
