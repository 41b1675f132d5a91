//! A span tree as a text waterfall (pure): one line per span, indented by depth, with its
//! duration and a bar placed on the trace's time line.
//!
//! Rules it keeps:
//! - The time line runs from the earliest span start to the latest span end of the tree and
//!   is [`BAR_WIDTH`] columns wide; a span's bar starts at its offset on it and is at least
//!   one column long, so even a 0 ms span shows where it happened.
//! - A span is named by its `function_id` when it has one (the engine's `call …` spans), else
//!   by its `name`; names are cut to [`NAME_MAX`] characters.
//! - Bars are green, a failed span's bar and name red with its error code; the frame is dim.
//!   Columns are padded on the plain text, so colour never breaks the alignment.

use agentos_protocol::trace::SpanNode;

use crate::chat::render::printable;
use crate::theme::Theme;

/// How many columns the time line takes.
pub const BAR_WIDTH: usize = 40;

/// The longest span name shown (with its indentation), in characters.
pub const NAME_MAX: usize = 60;

/// One span, flattened.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    depth: usize,
    name: String,
    start_ns: i64,
    end_ns: i64,
    error: Option<String>,
}

/// The waterfall of `roots` (the engine's span tree: spans with `children`), under a header
/// naming `trace_id`.
pub fn waterfall(trace_id: &str, roots: &[SpanNode], theme: Theme) -> String {
    let mut lines = Vec::new();
    for root in roots {
        flatten(root, 0, &mut lines);
    }
    let Some(t0) = lines.iter().map(|l| l.start_ns).min() else {
        return format!("trace {}\n{}\n", printable(trace_id), theme.dim("(no spans)"));
    };
    let t1 = lines.iter().map(|l| l.end_ns).max().unwrap_or(t0).max(t0);
    let total = t1 - t0;
    let mut out = format!(
        "trace {} · {} · {}\n",
        printable(trace_id),
        duration(total),
        if lines.len() == 1 { "1 span".to_string() } else { format!("{} spans", lines.len()) }
    );
    let labels: Vec<String> = lines.iter().map(label).collect();
    let name_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let durations: Vec<String> = lines.iter().map(|l| duration(l.end_ns - l.start_ns)).collect();
    let duration_width = durations.iter().map(|d| d.chars().count()).max().unwrap_or(0);
    for ((line, name), took) in lines.iter().zip(&labels).zip(&durations) {
        let (offset, len) = bar(line.start_ns - t0, line.end_ns - line.start_ns, total);
        let padded_name = format!("{name}{}", " ".repeat(name_width - name.chars().count()));
        let padded_took = format!("{}{took}", " ".repeat(duration_width - took.chars().count()));
        let fill = "█".repeat(len);
        let (name_cell, bar_cell) = match &line.error {
            Some(_) => (theme.red(&padded_name), theme.red(&fill)),
            None => (padded_name, theme.green(&fill)),
        };
        let track = format!(
            "{}{}{}{}{}",
            theme.dim("│"),
            " ".repeat(offset),
            bar_cell,
            " ".repeat(BAR_WIDTH - offset - len),
            theme.dim("│")
        );
        let error = line
            .error
            .as_ref()
            .map(|code| format!(" {}", theme.red(&format!("✗ {}", printable(code)))))
            .unwrap_or_default();
        out.push_str(&format!("{name_cell}  {}  {track}{error}\n", theme.dim(&padded_took)));
    }
    out
}

/// Where a span's bar starts and how long it is, in columns of [`BAR_WIDTH`].
fn bar(offset_ns: i64, duration_ns: i64, total_ns: i64) -> (usize, usize) {
    if total_ns <= 0 {
        return (0, BAR_WIDTH);
    }
    let scale = |ns: i64| ((ns.max(0) as f64 / total_ns as f64) * BAR_WIDTH as f64).round() as usize;
    let offset = scale(offset_ns).min(BAR_WIDTH - 1);
    let len = scale(duration_ns).clamp(1, BAR_WIDTH - offset);
    (offset, len)
}

/// The indented, cut name of a span.
fn label(line: &Line) -> String {
    let text = format!("{}{}", "  ".repeat(line.depth), printable(&line.name));
    if text.chars().count() <= NAME_MAX {
        text
    } else {
        format!("{}…", text.chars().take(NAME_MAX - 1).collect::<String>())
    }
}

/// `850 µs`, `12.3 ms`, `1.24 s`.
pub fn duration(ns: i64) -> String {
    let ns = ns.max(0) as f64;
    if ns < 1e6 {
        format!("{:.0} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Appends `node` and its children, depth first.
fn flatten(node: &SpanNode, depth: usize, out: &mut Vec<Line>) {
    let span = &node.span;
    let name = match span.label() {
        "" => "span".to_string(),
        label => label.to_string(),
    };
    let start_ns = span.start_time_unix_nano;
    let end_ns = span.end_time_unix_nano.max(start_ns);
    let error = span.failed().then(|| span.error.as_ref().map_or_else(|| "error".to_string(), |e| e.code.clone()));
    out.push(Line { depth, name, start_ns, end_ns, error });
    for child in &node.children {
        flatten(child, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::{Value, json};

    /// Span trees as the engine writes them, read as the CLI reads them.
    fn nodes(values: Vec<Value>) -> Vec<SpanNode> {
        values.into_iter().map(|v| serde_json::from_value(v).unwrap()).collect()
    }

    fn span(function: &str, start_ms: i64, end_ms: i64, children: Vec<Value>) -> Value {
        json!({"function_id": function, "name": format!("call {function}"), "status": "ok",
               "start_time_unix_nano": start_ms * 1_000_000, "end_time_unix_nano": end_ms * 1_000_000,
               "children": children})
    }

    #[test]
    fn a_tree_is_indented_by_depth_with_bars_placed_on_the_time_line() {
        let mut failed = span("code::write_file", 60, 80, vec![]);
        failed["status"] = json!("error");
        failed["error"] = json!({"code": "FORBIDDEN", "message": "outside the workspace"});
        let tree = vec![span(
            "agent::chat",
            0,
            100,
            vec![span("context::build", 0, 10, vec![]), span("llm::complete", 10, 60, vec![]), failed],
        )];
        assert_eq!(
            waterfall("abc", &nodes(tree), Theme::PLAIN),
            "trace abc · 100.0 ms · 4 spans\n\
             agent::chat         100.0 ms  │████████████████████████████████████████│\n\
             \x20 context::build     10.0 ms  │████                                    │\n\
             \x20 llm::complete      50.0 ms  │    ████████████████████                │\n\
             \x20 code::write_file   20.0 ms  │                        ████████        │ ✗ FORBIDDEN\n"
        );
    }

    #[test]
    fn a_zero_length_span_still_shows_one_column_and_the_last_column_holds() {
        assert_eq!(bar(0, 0, 1_000), (0, 1));
        assert_eq!(bar(1_000, 0, 1_000), (BAR_WIDTH - 1, 1));
        assert_eq!(bar(500, 500, 1_000), (20, 20));
        assert_eq!(bar(0, 0, 0), (0, BAR_WIDTH));
    }

    #[test]
    fn a_span_without_a_function_is_named_by_its_name_and_long_names_are_cut() {
        let sdk = json!({"name": "handler ".to_string() + &"x".repeat(80), "start_time_unix_nano": 0, "end_time_unix_nano": 5});
        let out = waterfall("t", &nodes(vec![sdk]), Theme::PLAIN);
        let line = out.lines().nth(1).unwrap();
        assert!(line.starts_with("handler xxx"), "{line}");
        assert_eq!(line.split("  ").next().unwrap().chars().count(), NAME_MAX);
        assert!(line.contains('…'));
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(850_000), "850 µs");
        assert_eq!(duration(12_345_678), "12.3 ms");
        assert_eq!(duration(1_240_000_000), "1.24 s");
        assert_eq!(duration(-5), "0 µs");
    }

    #[test]
    fn colour_marks_ok_and_failed_bars_and_no_spans_says_so() {
        let out = waterfall("t", &nodes(vec![span("a", 0, 1, vec![])]), Theme::ANSI);
        assert!(out.contains("\x1b[32m████████████████████████████████████████\x1b[0m"), "{out}");
        assert_eq!(waterfall("t", &[], Theme::PLAIN), "trace t\n(no spans)\n");
    }
}
