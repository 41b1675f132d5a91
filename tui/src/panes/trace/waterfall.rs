//! The waterfall: one bar per span, placed on the trace's time line, and the time axis above.
//!
//! Rules it keeps:
//! - Bars are scaled to the trace's start..end over the column's width in half cells, so a bar
//!   starts and ends on half a cell (`╺━━╸`, `▐██▌`).
//! - Every span gets at least half a cell, however short; bars are clipped to the column.
//! - Spans of the critical path are drawn thick (`█`), the others thin (`━`), so the path
//!   shows without colour too; failed spans take the error style.
//! - The duration label goes right of the bar when it fits, else left of it, else over the
//!   column's right end.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::format;

/// Where a bar lies in a column, in half cells: `start..end`, never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub start: u32,
    pub end: u32,
}

impl Bar {
    /// The first cell the bar touches.
    pub fn first_cell(self) -> u32 {
        self.start / 2
    }

    /// One past the last cell the bar touches.
    pub fn end_cell(self) -> u32 {
        self.end.div_ceil(2)
    }
}

/// The bar of a span running `start..end` on a time line `t0..t1` drawn over `width` cells.
/// `None` when the column has no width.
pub fn bar(start: i64, end: i64, t0: i64, t1: i64, width: u16) -> Option<Bar> {
    let halves = u32::from(width) * 2;
    if halves == 0 {
        return None;
    }
    let span = (t1 - t0).max(0) as f64;
    let place = |t: i64| -> f64 {
        if span == 0.0 { 0.0 } else { ((t - t0) as f64 / span * f64::from(halves)).clamp(0.0, f64::from(halves)) }
    };
    let mut from = place(start).floor() as u32;
    let mut to = place(end.max(start)).ceil() as u32;
    if to <= from {
        to = from + 1;
    }
    if to > halves {
        to = halves;
        from = from.min(halves - 1);
    }
    Some(Bar { start: from, end: to })
}

/// The glyphs of a bar: a full cell, the left half of a cell, the right half.
#[derive(Debug, Clone, Copy)]
struct Glyphs {
    full: &'static str,
    left: &'static str,
    right: &'static str,
}

const THIN: Glyphs = Glyphs { full: "━", left: "╸", right: "╺" };
const THICK: Glyphs = Glyphs { full: "█", left: "▌", right: "▐" };

/// Draws `bar` on the first row of `area`, thick when `critical`, then its `label`.
pub fn draw(buf: &mut Buffer, area: Rect, bar: Bar, critical: bool, style: Style, label: &str, label_style: Style) {
    let glyphs = if critical { THICK } else { THIN };
    for cell in bar.first_cell()..bar.end_cell() {
        let left = (bar.start..bar.end).contains(&(cell * 2));
        let right = (bar.start..bar.end).contains(&(cell * 2 + 1));
        let symbol = match (left, right) {
            (true, true) => glyphs.full,
            (true, false) => glyphs.left,
            _ => glyphs.right,
        };
        let Ok(dx) = u16::try_from(cell) else { break };
        if dx < area.width {
            buf.set_string(area.x + dx, area.y, symbol, style);
        }
    }
    if let Some(x) = label_x(bar, area.width, format::width(label)) {
        buf.set_stringn(area.x + x, area.y, label, usize::from(area.width - x), label_style);
    }
}

/// Where a label of `len` cells goes beside `bar` in a column `width` cells wide: one cell
/// right of the bar, else one cell left of it, else at the column's right end.
pub fn label_x(bar: Bar, width: u16, len: usize) -> Option<u16> {
    let len = u32::try_from(len).ok()?;
    let width = u32::from(width);
    if len == 0 || len > width {
        return None;
    }
    let after = bar.end_cell() + 1;
    let x = if after + len <= width {
        after
    } else if bar.first_cell() > len {
        bar.first_cell() - len - 1
    } else {
        width - len
    };
    u16::try_from(x).ok()
}

/// The time axis over a column `width` cells wide for a trace of `total_ms`: tick labels at
/// 0, ¼, ½, ¾ and the end (0, ½ and the end when narrow), never overlapping.
pub fn axis(total_ms: f64, width: u16) -> String {
    let width = usize::from(width);
    let mut line = vec![' '; width];
    let quarters: &[f64] = if width >= 48 { &[0.0, 0.25, 0.5, 0.75, 1.0] } else { &[0.0, 0.5, 1.0] };
    let mut free_from = 0;
    for &q in quarters {
        let text = if q == 0.0 { "0".to_string() } else { format::duration_ms(total_ms * q) };
        let label: Vec<char> = text.chars().collect();
        let len = label.len();
        if len > width {
            continue;
        }
        let anchor = (q * width as f64).round() as usize;
        let at = if q == 0.0 {
            0
        } else if q == 1.0 {
            width - len
        } else {
            anchor.saturating_sub(len / 2).min(width - len)
        };
        if at < free_from {
            continue;
        }
        line[at..at + len].copy_from_slice(&label);
        free_from = at + len + 1;
    }
    line.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_span_covering_the_trace_fills_the_column() {
        assert_eq!(bar(0, 100, 0, 100, 10), Some(Bar { start: 0, end: 20 }));
    }

    #[test]
    fn bars_are_scaled_in_half_cells() {
        // 25..75 of 0..100 over 10 cells: halves 5..15, i.e. half of cell 2 to half of cell 7.
        let b = bar(25, 75, 0, 100, 10);
        assert_eq!(b, Some(Bar { start: 5, end: 15 }));
        let b = b.unwrap_or(Bar { start: 0, end: 1 });
        assert_eq!((b.first_cell(), b.end_cell()), (2, 8));
    }

    #[test]
    fn a_zero_length_span_still_gets_half_a_cell() {
        assert_eq!(bar(50, 50, 0, 100, 10), Some(Bar { start: 10, end: 11 }));
        assert_eq!(bar(100, 100, 0, 100, 10), Some(Bar { start: 19, end: 20 }));
        // A trace of zero length: everything sits at the start.
        assert_eq!(bar(7, 7, 7, 7, 10), Some(Bar { start: 0, end: 1 }));
    }

    #[test]
    fn bars_outside_the_time_line_are_clipped_to_the_column() {
        assert_eq!(bar(-50, 50, 0, 100, 10), Some(Bar { start: 0, end: 10 }));
        assert_eq!(bar(50, 500, 0, 100, 10), Some(Bar { start: 10, end: 20 }));
        assert_eq!(bar(200, 300, 0, 100, 10), Some(Bar { start: 19, end: 20 }));
        assert_eq!(bar(0, 10, 0, 100, 0), None);
    }

    #[test]
    fn the_label_goes_right_then_left_then_at_the_end() {
        let b = |start, end| Bar { start, end };
        assert_eq!(label_x(b(0, 4), 20, 5), Some(3));
        assert_eq!(label_x(b(30, 40), 20, 5), Some(9));
        assert_eq!(label_x(b(0, 40), 20, 5), Some(15));
        assert_eq!(label_x(b(0, 4), 4, 5), None);
    }

    #[test]
    fn the_axis_labels_never_overlap() {
        assert_eq!(axis(1000.0, 30), "0            500ms       1.00s");
        assert_eq!(axis(1000.0, 48), "0         250ms       500ms       750ms    1.00s");
        assert_eq!(axis(1000.0, 8), "0 500ms ");
    }
}
