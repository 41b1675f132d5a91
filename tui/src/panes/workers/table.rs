//! The workers table: one row per worker with its state, pid, restarts, uptime, functions and
//! last error.
//!
//! Rules it keeps:
//! - Narrow panes (under [`WIDE`] columns) drop the pid and the functions rather than squeeze
//!   every column; the last error takes whatever width is left, cut with `…` (the detail below
//!   the table shows it whole).
//! - A row that changed since the previous poll is drawn in the flash style, whole; the selected
//!   row is marked with `▶` as well as its style, so it stays visible while it flashes and
//!   without colour.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::model::{Health, WorkerRow, first_line, pad, pad_left, truncate};
use crate::theme::Theme;

/// The width from which the pid and the functions are shown.
pub const WIDE: u16 = 100;
/// The name column's width bounds: the catalogue's longest name fits, a stray long one is cut.
const NAME_MIN: usize = 4;
const NAME_MAX: usize = 24;
/// `restarting…`, the widest state shown.
const STATE: usize = 11;
const PID: usize = 7;
const RESTARTS: usize = 8;
const UPTIME: usize = 7;
const FUNCTIONS: usize = 9;
/// The gutter holding the selection mark.
const GUTTER: usize = 2;
/// Between two columns.
const GAP: usize = 2;

/// How one row is drawn besides its data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks {
    pub selected: bool,
    pub flashing: bool,
    pub restarting: bool,
}

/// The columns at one width.
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    wide: bool,
    name: usize,
    error: usize,
}

impl Columns {
    /// The columns for a pane `width` wide whose longest worker name is `longest`.
    pub fn for_width(width: u16, longest: usize) -> Self {
        let wide = width >= WIDE;
        let name = longest.clamp(NAME_MIN, NAME_MAX);
        let mut fixed = GUTTER + name + GAP + STATE + GAP + RESTARTS + GAP + UPTIME + GAP;
        if wide {
            fixed += PID + GAP + FUNCTIONS + GAP;
        }
        Self { wide, name, error: usize::from(width).saturating_sub(fixed) }
    }

    /// The header row.
    pub fn header(&self) -> String {
        let mut out = format!("{}{}  {}", " ".repeat(GUTTER), pad("NAME", self.name), pad("STATE", STATE));
        if self.wide {
            out += &format!("  {}", pad_left("PID", PID));
        }
        out += &format!("  {}  {}", pad_left("RESTARTS", RESTARTS), pad_left("UPTIME", UPTIME));
        if self.wide {
            out += &format!("  {}", pad_left("FUNCTIONS", FUNCTIONS));
        }
        out + "  LAST ERROR"
    }

    /// Draws `row` on the one-line `area`.
    pub fn draw(&self, buf: &mut Buffer, area: Rect, row: &WorkerRow, marks: Marks, theme: Theme) {
        let base = if marks.flashing {
            theme.flash()
        } else if marks.selected {
            theme.selected()
        } else {
            Style::new()
        };
        buf.set_style(area, base);
        let cell = |style: Style| if marks.flashing { base } else { base.patch(style) };
        let state_style = match (marks.restarting, row.health()) {
            (true, _) | (false, Health::Warn) => theme.warn(),
            (false, Health::Ok) => theme.ok(),
            (false, Health::Error) => theme.error(),
            (false, Health::Off) => theme.dim(),
        };
        let state = if marks.restarting { "restarting…" } else { row.state.as_str() };
        let restarts_style = if row.restarts > 0 { theme.warn() } else { theme.text() };
        let functions_style =
            if row.functions_registered < row.functions_expected { theme.warn() } else { theme.text() };
        let mut cells: Vec<(String, Style)> = vec![
            ((if marks.selected { "▶ " } else { "  " }).to_string(), cell(theme.accent())),
            (pad(&row.name, self.name), cell(theme.text())),
            (pad(state, STATE), cell(state_style)),
        ];
        if self.wide {
            let pid = row.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            cells.push((pad_left(&pid, PID), cell(theme.dim())));
        }
        cells.push((pad_left(&row.restarts.to_string(), RESTARTS), cell(restarts_style)));
        cells.push((pad_left(&row.uptime(), UPTIME), cell(theme.text())));
        if self.wide {
            cells.push((pad_left(&row.functions(), FUNCTIONS), cell(functions_style)));
        }
        let error = row.last_error.as_deref().map(first_line).unwrap_or_default();
        cells.push((truncate(error, self.error), cell(theme.error())));
        let mut x = area.x;
        for (i, (text, style)) in cells.iter().enumerate() {
            if x >= area.right() {
                break;
            }
            // Columns after the gutter are separated by a gap.
            if i > 1 {
                x = x.saturating_add(GAP as u16);
            }
            if x >= area.right() {
                break;
            }
            let (next, _) = buf.set_stringn(x, area.y, text, usize::from(area.right() - x), *style);
            x = next;
        }
    }
}

/// Moves `offset` (the first row shown) as little as possible so that `selected` is among the
/// `visible` rows of `len`.
pub fn keep_in_view(offset: &mut usize, selected: usize, visible: usize, len: usize) {
    let visible = visible.max(1);
    if selected < *offset {
        *offset = selected;
    } else if selected >= *offset + visible {
        *offset = selected + 1 - visible;
    }
    *offset = (*offset).min(len.saturating_sub(visible));
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_narrow_pane_drops_the_pid_and_functions_columns() {
        assert_eq!(
            Columns::for_width(80, 17).header(),
            "  NAME               STATE        RESTARTS   UPTIME  LAST ERROR"
        );
        assert_eq!(
            Columns::for_width(120, 17).header(),
            "  NAME               STATE            PID  RESTARTS   UPTIME  FUNCTIONS  LAST ERROR"
        );
        assert_eq!(Columns::for_width(80, 17).error, 80 - (2 + 17 + 2 + 11 + 2 + 8 + 2 + 7 + 2));
    }

    #[test]
    fn the_view_moves_only_as_far_as_the_selection_needs() {
        let mut offset = 0;
        keep_in_view(&mut offset, 12, 10, 20);
        assert_eq!(offset, 3);
        keep_in_view(&mut offset, 5, 10, 20);
        assert_eq!(offset, 3);
        keep_in_view(&mut offset, 1, 10, 20);
        assert_eq!(offset, 1);
        keep_in_view(&mut offset, 1, 10, 4);
        assert_eq!(offset, 0);
    }
}
