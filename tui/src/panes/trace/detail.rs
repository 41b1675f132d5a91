//! The selected span's detail: what it called, where, how long, its status and attributes
//! (the summary), and its input, output and error as highlighted JSON (the payload).
//!
//! Rules it keeps:
//! - Lines are built once per selected span and kept by the pane until the selection, the
//!   recorded steps or the theme change; drawing only slices them.
//! - Attributes the summary already shows (`function_id`, `worker_id`, `error.code`) are not
//!   repeated.

use ratatui::text::{Line, Span as Text};
use serde_json::Value;

use super::format;
use super::io::{self, IoState};
use super::model::{Span, SpanTree};
use crate::highlight;
use crate::theme::Theme;

/// Attributes shown by the summary already.
const SHOWN: [&str; 3] = ["function_id", "worker_id", "error.code"];

/// The detail of one span, as lines.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// The span it is for.
    pub index: usize,
    pub summary: Vec<Line<'static>>,
    pub payload: Vec<Line<'static>>,
}

impl Detail {
    /// The detail of span `index` of `tree`.
    pub fn of(tree: &SpanTree, index: usize, io: &IoState, theme: Theme) -> Self {
        let Some(span) = tree.spans.get(index) else { return Self::default() };
        Self { index, summary: summary(tree, span, theme), payload: payload(span, io.of(index), io, theme) }
    }
}

fn row(label: &str, value: impl Into<String>, theme: Theme) -> Line<'static> {
    Line::from(vec![Text::styled(format!("{label:<10} "), theme.dim()), Text::raw(value.into())])
}

fn summary(tree: &SpanTree, span: &Span, theme: Theme) -> Vec<Line<'static>> {
    let status = if span.failed() {
        Text::styled(format!("✗ {}", if span.status.is_empty() { "error" } else { &span.status }), theme.error())
    } else {
        Text::styled(format!("✓ {}", if span.status.is_empty() { "ok" } else { &span.status }), theme.ok())
    };
    let mut title = vec![Text::styled(span.label().to_string(), theme.accent()), Text::raw("  "), status];
    if span.critical {
        title.push(Text::styled("  slowest path", theme.warn()));
    }
    let offset = (span.start_ns - tree.start_ns).max(0) as f64 / 1e6;
    let mut lines = vec![
        Line::from(title),
        row(
            "duration",
            format!("{}  (at +{})", format::duration_ms(span.duration_ms()), format::duration_ms(offset)),
            theme,
        ),
        row("name", span.name.clone(), theme),
    ];
    if let Some(worker) = &span.worker_id {
        lines.push(row("worker", worker.clone(), theme));
    }
    lines.push(row("span", span.span_id.clone(), theme));
    if let Some(parent) = &span.parent_span_id {
        lines.push(row("parent", parent.clone(), theme));
    }
    if !span.children.is_empty() {
        lines.push(row("children", span.children.len().to_string(), theme));
    }
    if let Some(error) = &span.error {
        lines.push(Line::from(vec![
            Text::styled(format!("{:<10} ", "error"), theme.dim()),
            Text::styled(format!("{}: {}", error.code, error.message), theme.error()),
        ]));
    }
    let attributes: Vec<&(String, String)> =
        span.attributes.iter().filter(|(k, _)| !SHOWN.contains(&k.as_str())).collect();
    if !attributes.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("attributes", theme.accent()));
        let key_width = attributes.iter().map(|(k, _)| format::width(k)).max().unwrap_or(0).min(24);
        for (key, value) in attributes {
            lines.push(Line::from(vec![
                Text::styled(format!("  {} ", format::pad(key, key_width)), theme.dim()),
                Text::raw(value.clone()),
            ]));
        }
    }
    lines
}

fn payload(span: &Span, recorded: Option<&io::SpanIo>, state: &IoState, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let section = |lines: &mut Vec<Line<'static>>, title: &str, value: &Value, theme: Theme| {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(title.to_string(), theme.accent()));
        lines.extend(highlight::json(value, theme));
    };
    if let Some(input) = recorded.and_then(|r| r.input.as_ref()) {
        section(&mut lines, "input", input, theme);
    }
    if let Some(output) = recorded.and_then(|r| r.output.as_ref()) {
        section(&mut lines, "output", output, theme);
    }
    if let Some(error) = io::error_of(span.error.as_ref(), recorded.and_then(|r| r.error.as_ref())) {
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled("error", theme.error()));
        lines.extend(highlight::json(&error, theme));
    }
    if recorded.is_none() {
        let note = match state {
            IoState::Searching => "looking for the steps the session recorded…".to_string(),
            IoState::Failed(why) => format!("the recorded steps could not be read: {why}"),
            IoState::Ready(_) => {
                "no recorded input or output: only an agent turn's model calls and tools record them".to_string()
            }
        };
        if !lines.is_empty() {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(note, theme.dim()));
    }
    lines
}
