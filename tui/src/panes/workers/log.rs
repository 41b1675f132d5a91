//! The selected worker's log tail: the last lines of its log file, following the end unless
//! scrolled.
//!
//! Rules it keeps:
//! - Lines are cleaned once when they arrive: escape sequences dropped, tabs expanded, other
//!   control characters removed, so nothing in a log can move the cursor or smear the screen.
//!   A leading RFC 3339 timestamp is shown as its time of day to the millisecond (a tail spans
//!   minutes, not days; `agentos logs` has the whole line).
//! - Long lines wrap at the width of the pane (nothing is cut off: a stack trace stays
//!   readable); the wrapped rows are computed once per answer and width, and only the visible
//!   rows are drawn.
//! - Following (the default) keeps the last line at the bottom. Scrolling up stops following;
//!   scrolling back down to the end, or `f`, starts it again.

use std::ops::Range;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthChar;

use crate::event::ApiError;
use crate::theme::Theme;

/// Where the tail stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLoad {
    /// No worker selected yet.
    Idle,
    /// Asked for, no answer yet.
    Loading,
    Loaded,
    Failed(ApiError),
}

/// One worker's last lines and the view on them.
#[derive(Debug, Clone)]
pub struct LogTail {
    /// The worker these lines belong to.
    pub worker: Option<String>,
    pub lines: Vec<String>,
    /// The log file, as the supervisor names it.
    pub path: Option<String>,
    pub load: LogLoad,
    pub follow: bool,
    /// The first visible row when not following.
    top: usize,
    /// The height last drawn (a page for PgUp/PgDn).
    height: usize,
    wrapped: Option<Wrapped>,
}

/// The rows of every line at one width: (line index, byte range of the row).
#[derive(Debug, Clone)]
struct Wrapped {
    width: usize,
    rows: Vec<(usize, Range<usize>)>,
}

impl Default for LogTail {
    fn default() -> Self {
        Self {
            worker: None,
            lines: Vec::new(),
            path: None,
            load: LogLoad::Idle,
            follow: true,
            top: 0,
            height: 10,
            wrapped: None,
        }
    }
}

impl LogTail {
    /// Shows `worker`'s log from now on (nothing of the previous one stays).
    pub fn switch_to(&mut self, worker: &str) {
        *self =
            Self { worker: Some(worker.to_string()), load: LogLoad::Loading, height: self.height, ..Self::default() };
    }

    /// The answer of `GET /v1/workers/:name/logs`.
    pub fn loaded(&mut self, answer: &serde_json::Value) {
        self.lines = answer["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str())
            .map(|l| short_time(&clean(l)))
            .collect();
        self.path = answer["path"].as_str().map(str::to_string);
        self.load = LogLoad::Loaded;
        self.wrapped = None;
    }

    /// The call failed; the lines already shown stay.
    pub fn failed(&mut self, error: ApiError) {
        self.load = LogLoad::Failed(error);
    }

    /// Follow the end, or stay where the view is.
    pub fn toggle_follow(&mut self) {
        if self.follow {
            self.top = self.max_top();
        }
        self.follow = !self.follow;
    }

    /// Scrolls by `rows` (negative: up). Up stops following; reaching the end follows again.
    pub fn scroll(&mut self, rows: isize) {
        let max = self.max_top();
        let from = if self.follow { max } else { self.top.min(max) };
        let to = from.saturating_add_signed(rows).min(max);
        self.follow = to >= max;
        self.top = to;
    }

    /// Scrolls a page up or down.
    pub fn page(&mut self, down: bool) {
        let page = self.height.saturating_sub(1).max(1) as isize;
        self.scroll(if down { page } else { -page });
    }

    /// How many rows the lines take at the width last drawn.
    fn total_rows(&self) -> usize {
        self.wrapped.as_ref().map_or(self.lines.len(), |w| w.rows.len())
    }

    fn max_top(&self) -> usize {
        self.total_rows().saturating_sub(self.height)
    }

    /// Rows above the view (shown as "↑ N more").
    pub fn hidden_above(&self) -> usize {
        if self.follow { self.max_top() } else { self.top.min(self.max_top()) }
    }

    fn wrap(&mut self, width: usize) {
        if self.wrapped.as_ref().is_some_and(|w| w.width == width) {
            return;
        }
        let rows = self
            .lines
            .iter()
            .enumerate()
            .flat_map(|(i, line)| wrap_ranges(line, width).into_iter().map(move |r| (i, r)))
            .collect();
        self.wrapped = Some(Wrapped { width, rows });
    }

    /// Draws the visible rows into `area` (the inside of the log's frame).
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, theme: Theme) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        self.height = usize::from(area.height);
        self.wrap(usize::from(area.width));
        if self.lines.is_empty() {
            let (text, style) = match &self.load {
                LogLoad::Idle => ("No worker selected.".to_string(), theme.dim()),
                LogLoad::Loading => ("Loading the log…".to_string(), theme.dim()),
                LogLoad::Failed(err) => (format!("The log could not be read: {err}"), theme.error()),
                LogLoad::Loaded => ("Nothing logged yet.".to_string(), theme.dim()),
            };
            buf.set_stringn(area.x, area.y, text, usize::from(area.width), style);
            return;
        }
        let top = self.hidden_above();
        let Some(wrapped) = &self.wrapped else { return };
        for (y, (line, range)) in (area.y..area.bottom()).zip(wrapped.rows.iter().skip(top)) {
            let text = &self.lines[*line];
            let row = &text[range.clone()];
            if range.start == 0 {
                draw_first_row(buf, area.x, y, area.width, row, theme);
            } else {
                buf.set_stringn(area.x, y, row, usize::from(area.width), theme.text());
            }
        }
    }
}

/// A line's first row: the timestamp dim and the level coloured, when the line has them
/// (`2025-01-02T03:04:05.678Z  WARN target: message`).
fn draw_first_row(buf: &mut Buffer, x: u16, y: u16, width: u16, row: &str, theme: Theme) {
    let mut spans: Vec<(&str, Style)> = Vec::new();
    match level_at(row) {
        Some((at, level)) => {
            let style = match level {
                "ERROR" => theme.error(),
                "WARN" => theme.warn(),
                "INFO" => theme.ok(),
                _ => theme.dim(),
            };
            spans.push((&row[..at], theme.dim()));
            spans.push((&row[at..at + level.len()], style));
            spans.push((&row[at + level.len()..], theme.text()));
        }
        None => spans.push((row, theme.text())),
    }
    let right = x + width;
    let mut at = x;
    for (text, style) in spans {
        if at >= right {
            break;
        }
        let (next, _) = buf.set_stringn(at, y, text, usize::from(right - at), style);
        at = next;
    }
}

/// The byte offset and name of the level word that follows a line's leading timestamp.
pub fn level_at(line: &str) -> Option<(usize, &'static str)> {
    let stamp_end = line.find(' ')?;
    let stamp = &line[..stamp_end];
    if !stamp.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = &line[stamp_end..];
    let at = stamp_end + (rest.len() - rest.trim_start().len());
    ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
        .into_iter()
        .find(|level| line[at..].starts_with(level) && line[at + level.len()..].starts_with(' '))
        .map(|level| (at, level))
}

/// A log line made safe to draw: ANSI escape sequences dropped, tabs as spaces to the next stop
/// of 4, other control characters removed.
pub fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut column = 0;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ parameters… final byte in @..~; other escapes: ESC and one char.
                if chars.next_if_eq(&'[').is_some() {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => {
                let spaces = 4 - column % 4;
                out.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                column += c.width().unwrap_or(0);
            }
        }
    }
    out
}

/// `line` with a leading `2026-03-02T09:14:01.201234Z` (any fraction, `Z` or an offset) shown
/// as `09:14:01.201`; any other line as it is.
pub fn short_time(line: &str) -> String {
    let stamp = line.split(' ').next().unwrap_or_default();
    let bytes = stamp.as_bytes();
    let is_date = bytes.len() >= 19
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !is_date {
        return line.to_string();
    }
    let time = &stamp[11..];
    let end = time.find(['Z', '+', '-']).unwrap_or(time.len());
    let time = &time[..end];
    // HH:MM:SS plus at most a dot and three digits.
    let keep = time.len().min(12);
    format!("{}{}", &time[..keep], &line[stamp.len()..])
}

/// The byte ranges of `text` cut into rows of at most `width` columns (one empty row for an
/// empty line; a character wider than the row gets a row of its own).
pub fn wrap_ranges(text: &str, width: usize) -> Vec<Range<usize>> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width && i > start {
            rows.push(start..i);
            start = i;
            used = 0;
        }
        used += w;
    }
    rows.push(start..text.len());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn tail(lines: usize, height: usize) -> LogTail {
        let mut tail = LogTail::default();
        tail.switch_to("realm");
        tail.loaded(&json!({"lines": (0..lines).map(|i| format!("line {i}")).collect::<Vec<_>>()}));
        tail.height = height;
        tail.wrap(80);
        tail
    }

    #[test]
    fn escape_sequences_and_control_characters_never_reach_the_screen() {
        assert_eq!(clean("\u{1b}[31mERROR\u{1b}[0m done"), "ERROR done");
        assert_eq!(clean("a\tb"), "a   b");
        assert_eq!(clean("ab\tc"), "ab  c");
        assert_eq!(clean("bell\u{7}\r"), "bell");
    }

    #[test]
    fn a_leading_timestamp_reads_as_its_time_of_day() {
        assert_eq!(short_time("2026-03-02T09:14:01.201234Z  INFO realm: up"), "09:14:01.201  INFO realm: up");
        assert_eq!(short_time("2026-03-02T09:14:01Z WARN x"), "09:14:01 WARN x");
        assert_eq!(short_time("2026-03-02T09:14:01.5+02:00 ERROR x"), "09:14:01.5 ERROR x");
        assert_eq!(short_time("2026-03-02 not a stamp"), "2026-03-02 not a stamp");
        assert_eq!(short_time("plain"), "plain");
    }

    #[test]
    fn long_lines_wrap_at_the_width_and_empty_lines_keep_a_row() {
        assert_eq!(wrap_ranges("abcdefg", 3), vec![0..3, 3..6, 6..7]);
        assert_eq!(wrap_ranges("", 3), vec![0..0]);
        assert_eq!(wrap_ranges("日本語", 4), vec![0..6, 6..9]);
    }

    #[test]
    fn the_level_after_a_timestamp_is_found_and_nothing_else_is_taken_for_one() {
        assert_eq!(level_at("2025-01-02T03:04:05.678Z  WARN realm: slow"), Some((26, "WARN")));
        assert_eq!(level_at("2025-01-02T03:04:05Z ERROR x"), Some((21, "ERROR")));
        assert_eq!(level_at("INFO without a timestamp"), None);
        assert_eq!(level_at("2025 INFORMATION"), None);
    }

    #[test]
    fn scrolling_up_stops_following_and_scrolling_back_to_the_end_follows_again() {
        let mut t = tail(100, 10);
        assert!(t.follow);
        assert_eq!(t.hidden_above(), 90);
        t.page(false);
        assert!(!t.follow);
        assert_eq!(t.hidden_above(), 81);
        t.scroll(-1000);
        assert_eq!(t.hidden_above(), 0);
        t.scroll(1000);
        assert!(t.follow);
        assert_eq!(t.hidden_above(), 90);
    }

    #[test]
    fn f_pauses_where_the_view_is_and_resumes_at_the_end() {
        let mut t = tail(100, 10);
        t.toggle_follow();
        assert!(!t.follow);
        assert_eq!(t.hidden_above(), 90);
        t.loaded(&json!({"lines": (0..150).map(|i| format!("line {i}")).collect::<Vec<_>>()}));
        t.wrap(80);
        assert_eq!(t.hidden_above(), 90, "paused: new lines do not move the view");
        t.toggle_follow();
        assert_eq!(t.hidden_above(), 140);
    }
}
