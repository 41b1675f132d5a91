//! Text helpers shared by the trace and replay panes: durations, clock times, token and cost
//! figures, truncation and word wrapping by display width.
//!
//! Rules it keeps:
//! - Widths are display cells (`unicode-width`), never bytes or chars.
//! - Clock times are UTC: the dashboard links no time-zone database, and the API's times are
//!   Unix milliseconds.
//! - Every helper is pure, so the panes can cache what it returns.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A duration in milliseconds, short: `850µs`, `12.3ms`, `123ms`, `1.23s`, `12.3s`, `2m 05s`,
/// `1h 02m`.
pub fn duration_ms(ms: f64) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 0.0005 {
        return "0ms".to_string();
    }
    if ms < 1.0 {
        return format!("{}µs", (ms * 1000.0).round() as u64);
    }
    if ms < 10.0 {
        return format!("{ms:.2}ms");
    }
    if ms < 100.0 {
        return format!("{ms:.1}ms");
    }
    if ms < 1000.0 {
        return format!("{}ms", ms.round() as u64);
    }
    let secs = ms / 1000.0;
    if secs < 10.0 {
        return format!("{secs:.2}s");
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        return format!("{}m {:02}s", whole / 60, whole % 60);
    }
    format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
}

/// The UTC time of day of `ms` (Unix milliseconds): `14:03:22`.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}

/// The UTC date and time of `ms` (Unix milliseconds): `2025-06-01 14:03:22`.
pub fn date_time(ms: u64) -> String {
    let days = i64::try_from(ms / 86_400_000).unwrap_or(0);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {}", clock(ms))
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A token count, short: `950`, `12.3k`, `1.2M`.
pub fn count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1000..=99_999 => format!("{:.1}k", n as f64 / 1000.0),
        100_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A cost in US dollars: four decimals under a dollar, two above.
pub fn usd(cost: f64) -> String {
    if cost < 1.0 { format!("${cost:.4}") } else { format!("${cost:.2}") }
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The display width of `s`.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to `max` cells, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` on one line: newlines and tabs become spaces, runs of whitespace one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` padded with spaces (or cut) to exactly `cells` cells, left-aligned.
pub fn pad(s: &str, cells: usize) -> String {
    let cut = truncate(s, cells);
    let fill = cells.saturating_sub(width(&cut));
    format!("{cut}{}", " ".repeat(fill))
}

/// `s` right-aligned in `cells` cells (cut when longer).
pub fn pad_left(s: &str, cells: usize) -> String {
    let cut = truncate(s, cells);
    let fill = cells.saturating_sub(width(&cut));
    format!("{}{cut}", " ".repeat(fill))
}

/// `text` word-wrapped to `max` cells per line; its own line breaks are kept, and a word
/// longer than a line is broken inside. An empty text is one empty line.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.trim_end_matches('\r').replace('\t', "    ");
        let mut line = String::new();
        let mut used = 0;
        for word in raw.split(' ') {
            let w = width(word);
            let gap = usize::from(used > 0);
            if used + gap + w <= max {
                if gap == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                used += gap + w;
                continue;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > max && used > 0 {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += cw;
            }
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn durations_keep_three_significant_figures() {
        let shown: Vec<String> = [0.0, 0.85, 1.5, 12.34, 123.4, 1234.0, 12_345.0, 125_000.0, 3_725_000.0]
            .into_iter()
            .map(duration_ms)
            .collect();
        assert_eq!(shown, ["0ms", "850µs", "1.50ms", "12.3ms", "123ms", "1.23s", "12.3s", "2m 05s", "1h 02m"]);
    }

    #[test]
    fn clock_and_date_are_utc() {
        // 2024-02-29 13:45:07 UTC, a leap day.
        let ms = 1_709_214_307_000;
        assert_eq!(clock(ms), "13:45:07");
        assert_eq!(date_time(ms), "2024-02-29 13:45:07");
        assert_eq!(date_time(0), "1970-01-01 00:00:00");
    }

    #[test]
    fn truncation_counts_cells_and_marks_the_cut() {
        assert_eq!(truncate("agent::chat", 20), "agent::chat");
        assert_eq!(truncate("agent::chat", 6), "agent…");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("ab", 4), "  ab");
    }

    #[test]
    fn wrapping_breaks_at_words_and_inside_long_words() {
        assert_eq!(wrap("the quick brown fox", 9), ["the quick", "brown fox"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\n\nb", 10), ["a", "", "b"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn counts_and_costs_are_short() {
        assert_eq!([count(950), count(12_345), count(456_000), count(1_200_000)], ["950", "12.3k", "456k", "1.2M"]);
        assert_eq!([usd(0.01234), usd(12.5)], ["$0.0123", "$12.50"]);
    }
}
