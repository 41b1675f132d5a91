//! A selection in a list drawn a window at a time, shared by the trace and replay panes.
//!
//! Rules it keeps:
//! - The selection always lies inside the list (or is 0 when the list is empty).
//! - The window moves only when the selection would leave it, so the list does not jump.
//! - A selected row's dim text is drawn plain on the selection's background.

use std::ops::Range;

use ratatui::style::Style;

use crate::theme::Theme;

/// `style` on a row that may be selected: the selection's background, and dim text shown as
/// plain text there (grey on grey would vanish).
pub fn on_row(style: Style, selected: bool, theme: Theme) -> Style {
    match (selected, style == theme.dim()) {
        (false, _) => style,
        (true, true) => theme.selected(),
        (true, false) => theme.selected().patch(style),
    }
}

/// The selected row and the first row shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scroll {
    pub selected: usize,
    pub offset: usize,
}

impl Scroll {
    /// Moves the selection by `delta` rows within a list of `len`.
    pub fn step(&mut self, delta: isize, len: usize) {
        let last = len.saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }

    /// Selects the first row.
    pub fn home(&mut self) {
        self.selected = 0;
    }

    /// Selects the last row of a list of `len`.
    pub fn end(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    /// Keeps the selection inside a list that now has `len` rows.
    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        self.offset = self.offset.min(self.selected);
    }

    /// The rows to draw in a window `height` rows tall, the window moved just enough to show
    /// the selection.
    pub fn window(&mut self, height: usize, len: usize) -> Range<usize> {
        self.clamp(len);
        if height == 0 {
            return 0..0;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset..(self.offset + height).min(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_selection_without_jumping() {
        let mut s = Scroll::default();
        assert_eq!(s.window(3, 10), 0..3);
        s.step(2, 10);
        assert_eq!(s.window(3, 10), 0..3);
        s.step(1, 10);
        assert_eq!(s.window(3, 10), 1..4);
        s.step(-3, 10);
        assert_eq!(s.window(3, 10), 0..3);
        s.end(10);
        assert_eq!(s.window(3, 10), 7..10);
        s.step(5, 10);
        assert_eq!(s.selected, 9);
        assert_eq!(s.window(3, 2), 0..2);
        assert_eq!(s.selected, 1);
    }
}
