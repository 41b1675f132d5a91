//! The transcript: the list of immutable cells, the live cell, the scroll position and the
//! selected tool call.
//!
//! Rules it keeps:
//! - Only the rows on screen are drawn, and only the cells they belong to are rendered (each
//!   caches its lines per width), so a frame costs the same with ten cells or ten thousand.
//! - The scroll position is either "follow the bottom" or the cell and row at the top of the view.
//!   New content moves the view only when it follows the bottom; scrolling down to the end
//!   follows it again.
//! - The live cell, when there is one, is the last entry.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::cells::{Cell, CellView};
use super::live::Live;
use crate::theme::Theme;

/// Where the view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    /// The last row is at the bottom of the view, and stays there as content arrives.
    Follow,
    /// Row `row` of entry `cell` is at the top of the view.
    At { cell: usize, row: usize },
}

/// The transcript of the chat.
#[derive(Debug)]
pub struct Transcript {
    theme: Theme,
    cells: Vec<CellView>,
    live: Option<Live>,
    scroll: Scroll,
    selected: Option<usize>,
    /// The width and height of the last frame (scrolling is measured in its rows).
    view: (usize, usize),
}

impl Transcript {
    /// An empty transcript following the bottom.
    pub fn new(theme: Theme) -> Self {
        Self { theme, cells: Vec::new(), live: None, scroll: Scroll::Follow, selected: None, view: (0, 0) }
    }

    /// No cell and nothing live.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.live.as_ref().is_none_or(Live::is_empty)
    }

    #[cfg(test)]
    /// The committed cells.
    pub fn cells(&self) -> impl Iterator<Item = &Cell> {
        self.cells.iter().map(|v| &v.cell)
    }

    /// Appends a committed cell.
    pub fn push(&mut self, cell: Cell) {
        self.cells.push(CellView::new(cell));
    }

    /// Appends many committed cells.
    pub fn extend(&mut self, cells: impl IntoIterator<Item = Cell>) {
        self.cells.extend(cells.into_iter().map(CellView::new));
    }

    /// Forgets every cell (the live one stays) and follows the bottom.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.selected = None;
        self.scroll = Scroll::Follow;
    }

    /// The live cell, made when missing.
    pub fn live(&mut self) -> &mut Live {
        self.live.get_or_insert_with(Live::default)
    }

    /// Ends the live cell and commits what it held; calls without a result say `reason`.
    pub fn finish_live(&mut self, reason: &str) {
        if let Some(live) = self.live.take() {
            let cells = live.finish(reason);
            self.extend(cells);
        }
    }

    /// Entries: the cells and the live cell.
    fn count(&self) -> usize {
        self.cells.len() + usize::from(self.live.is_some())
    }

    fn lines(&mut self, entry: usize, width: usize) -> &[Line<'static>] {
        let theme = self.theme;
        match self.cells.get_mut(entry) {
            Some(view) => view.lines(width, theme),
            None => self.live.as_mut().map(|l| l.lines(width, theme)).unwrap_or_default(),
        }
    }

    fn height(&mut self, entry: usize) -> usize {
        let width = self.view.0;
        self.lines(entry, width).len()
    }

    /// `true` while the view follows the bottom.
    pub fn is_following(&self) -> bool {
        self.scroll == Scroll::Follow
    }

    /// The entry and row at the top of the view, once the scroll position is resolved against
    /// the content (a position past the end follows the bottom again).
    fn top(&mut self) -> (usize, usize) {
        if let Scroll::At { cell, row } = self.scroll
            && cell < self.count()
        {
            let row = row.min(self.height(cell).saturating_sub(1));
            let mut rows = self.height(cell) - row;
            let mut entry = cell + 1;
            // Stopping exactly at the last row is following the bottom.
            while rows <= self.view.1 && entry < self.count() {
                rows += self.height(entry);
                entry += 1;
            }
            if rows > self.view.1 {
                self.scroll = Scroll::At { cell, row };
                return (cell, row);
            }
        }
        self.scroll = Scroll::Follow;
        self.bottom_top()
    }

    /// The top of the view when the last row is at its bottom.
    fn bottom_top(&mut self) -> (usize, usize) {
        let mut rows = 0;
        for entry in (0..self.count()).rev() {
            rows += self.height(entry);
            if rows >= self.view.1 {
                return (entry, rows - self.view.1);
            }
        }
        (0, 0)
    }

    /// Moves the view up `n` rows.
    pub fn scroll_up(&mut self, n: usize) {
        if self.view.1 == 0 {
            return;
        }
        let (mut cell, mut row) = self.top();
        let mut n = n;
        while n > 0 {
            if row > 0 {
                let step = row.min(n);
                row -= step;
                n -= step;
            } else if cell > 0 {
                cell -= 1;
                row = self.height(cell);
            } else {
                break;
            }
        }
        self.scroll = Scroll::At { cell, row };
    }

    /// Moves the view down `n` rows; reaching the end follows the bottom again.
    pub fn scroll_down(&mut self, n: usize) {
        if self.view.1 == 0 || self.is_following() {
            return;
        }
        let (mut cell, mut row) = self.top();
        row += n;
        while cell < self.count() && row >= self.height(cell) {
            row -= self.height(cell);
            cell += 1;
        }
        self.scroll = Scroll::At { cell, row };
        self.top();
    }

    /// Follows the bottom again.
    pub fn follow(&mut self) {
        self.scroll = Scroll::Follow;
    }

    /// Shows the first row.
    pub fn scroll_to_top(&mut self) {
        self.scroll = Scroll::At { cell: 0, row: 0 };
    }

    /// Rows of the last frame's view.
    pub fn page(&self) -> usize {
        self.view.1.saturating_sub(2).max(1)
    }

    #[cfg(test)]
    /// The selected cell (a tool call).
    pub fn selected(&self) -> Option<usize> {
        self.selected
    }

    /// Selects the tool call above the selected one (or the last one); `false` when there is none.
    pub fn select_previous(&mut self) -> bool {
        let from = self.selected.unwrap_or(self.cells.len());
        let found = (0..from).rev().find(|&i| matches!(self.cells[i].cell, Cell::Tool(_)));
        self.select(found)
    }

    /// Selects the tool call below the selected one; `false` when there is none.
    pub fn select_next(&mut self) -> bool {
        let Some(from) = self.selected else { return false };
        let found = (from + 1..self.cells.len()).find(|&i| matches!(self.cells[i].cell, Cell::Tool(_)));
        self.select(found)
    }

    fn select(&mut self, found: Option<usize>) -> bool {
        let Some(index) = found else { return false };
        self.selected = Some(index);
        self.reveal(index);
        true
    }

    /// Drops the selection; `false` when nothing was selected.
    pub fn clear_selection(&mut self) -> bool {
        self.selected.take().is_some()
    }

    /// Expands or collapses the selected tool call; `false` when nothing is selected.
    pub fn toggle_selected(&mut self) -> bool {
        let Some(index) = self.selected else { return false };
        let toggled = self.cells.get_mut(index).is_some_and(CellView::toggle);
        if toggled {
            self.reveal(index);
        }
        toggled
    }

    /// Scrolls so that the header of `index` is in view (the view does not move when it is).
    fn reveal(&mut self, index: usize) {
        if self.view.1 == 0 {
            return;
        }
        let (cell, row) = self.top();
        let visible = if index < cell || (index == cell && row > 1) {
            false
        } else {
            let mut offset = self.height(cell) - row;
            for entry in cell + 1..index {
                offset += self.height(entry);
                if offset >= self.view.1 {
                    break;
                }
            }
            index == cell || offset + 2 <= self.view.1
        };
        if !visible {
            self.scroll = Scroll::At { cell: index, row: 0 };
            self.top();
        }
    }

    /// Draws the rows in view into `area` of `buf`: one column of margin on each side, where
    /// the left one marks the rows of the selected cell.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect) {
        if area.width < 3 {
            return;
        }
        let margin = area;
        let area = Rect { x: area.x + 1, width: area.width - 2, ..area };
        self.view = (usize::from(area.width), usize::from(area.height));
        let (mut entry, mut row) = self.top();
        let selected = self.selected;
        let theme = self.theme;
        let mut y = 0;
        while y < area.height && entry < self.count() {
            let lines = self.lines(entry, usize::from(area.width));
            for (i, line) in lines.iter().enumerate().skip(row) {
                if y >= area.height {
                    break;
                }
                let line_area = Rect { x: area.x, y: area.y + y, width: area.width, height: 1 };
                buf.set_line(line_area.x, line_area.y, line, area.width);
                if selected == Some(entry) && i > 0 {
                    buf.set_string(margin.x, line_area.y, "▌", theme.accent());
                    if i == 1 {
                        buf.set_style(line_area, theme.selected());
                    }
                }
                y += 1;
            }
            entry += 1;
            row = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    /// A transcript of `n` one-line notes, drawn once into a `height`-row view.
    fn notes(n: usize, height: u16) -> (Transcript, Rect) {
        let mut t = Transcript::new(Theme::PLAIN);
        t.extend((0..n).map(|i| Cell::Note(format!("note {i}"))));
        let area = Rect::new(0, 0, 30, height);
        t.render(&mut Buffer::empty(area), area);
        (t, area)
    }

    fn rows(t: &mut Transcript, area: Rect) -> Vec<String> {
        let mut buf = Buffer::empty(area);
        t.render(&mut buf, area);
        (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string())
            .collect()
    }

    #[test]
    fn the_view_follows_the_bottom_and_draws_only_what_fits() {
        let (mut t, area) = notes(100, 4);
        assert_eq!(rows(&mut t, area), ["", " · note 98", "", " · note 99"]);
    }

    #[test]
    fn new_cells_keep_a_scrolled_view_still_and_move_a_following_one() {
        let (mut t, area) = notes(10, 4);
        t.scroll_up(4);
        let before = rows(&mut t, area);
        t.push(Cell::Note("new".into()));
        assert_eq!(rows(&mut t, area)[..3], before[..3]);
        t.follow();
        assert_eq!(rows(&mut t, area), ["", " · note 9", "", " · new"]);
    }

    #[test]
    fn scrolling_down_past_the_end_follows_again() {
        let (mut t, _) = notes(10, 4);
        t.scroll_up(6);
        assert!(!t.is_following());
        t.scroll_down(5);
        assert!(!t.is_following());
        t.scroll_down(1);
        assert!(t.is_following());
    }

    #[test]
    fn scrolling_up_stops_at_the_first_row() {
        let (mut t, area) = notes(3, 4);
        t.scroll_up(100);
        assert_eq!(rows(&mut t, area), ["", " · note 0", "", " · note 1"]);
    }

    #[test]
    fn a_short_transcript_starts_at_the_top() {
        let (mut t, area) = notes(1, 4);
        assert_eq!(rows(&mut t, area), ["", " · note 0", "", ""]);
    }
}
