//! The cells of the chat transcript: what each one holds and how it draws itself.
//!
//! Rules it keeps:
//! - A cell is immutable once in the transcript; only a tool call's `expanded` flag (a view
//!   choice) changes, and it drops the cached lines.
//! - Every cell draws under a two-column gutter holding its marker (`›` the user, `▸`/`▾` a tool
//!   call, `✗` an error, `·` a note), and starts with one blank line that separates it from the
//!   cell above.
//! - Lines are computed once per width and cached ([`CellView`]).
//! - A tool call's arguments and result are highlighted once, on first draw, and an answer's code
//!   blocks once per content (a [`CodeCache`]); a collapsed call wraps only the lines it shows.

use std::cell::OnceCell;

use agentos_protocol::chat::{ToolCallEvent, ToolResultEvent};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::markdown::{self, CodeCache};
use super::wrap::{self, Prefix};
use crate::highlight;
use crate::theme::Theme;

/// Result lines a collapsed tool call shows.
const COLLAPSED_LINES: usize = 4;
/// A result of up to this many lines is shown whole even when collapsed: hiding one or two lines
/// behind a "more" line saves nothing.
const SHORT_RESULT: usize = COLLAPSED_LINES + 2;

/// One entry of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// What the user sent.
    User(String),
    /// The agent's answer, markdown.
    Assistant(String),
    /// A tool call and, once it came, its result.
    Tool(Box<ToolCall>),
    /// A failure: the API's code and message (and the HTTP status when there was one).
    Error { code: String, message: String, status: Option<u16> },
    /// A short note of the dashboard's own (`turn interrupted`, `hand set to coder`).
    Note(String),
    /// A titled block of rows (help, session and hand lists); a row too long for the width
    /// goes on at column `hang`.
    Info { title: String, rows: Vec<Line<'static>>, hang: usize },
}

/// How a tool call ended (`tool_result`).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub error: Option<(String, String)>,
    pub blocked: Option<String>,
    pub warning: Option<String>,
    pub duration_ms: Option<u64>,
}

/// A tool call: the function, its arguments and, once it came, its outcome and result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub function_id: String,
    pub arguments: Value,
    pub outcome: Option<Outcome>,
    pub expanded: bool,
    /// The result (`null` when there is none).
    result: Value,
    /// The arguments, pretty and highlighted, once drawn.
    args_lines: OnceCell<Vec<Line<'static>>>,
    /// The result, highlighted (JSON) or as text (a string result), one entry per line, once
    /// drawn.
    result_lines: OnceCell<Vec<Line<'static>>>,
}

impl ToolCall {
    /// A call as `tool_call` (or a recorded `tool_call` step) announces it.
    pub fn new(call: &ToolCallEvent) -> Self {
        Self {
            id: call.id.clone(),
            function_id: call.function_id.clone(),
            arguments: call.arguments.clone(),
            outcome: None,
            expanded: false,
            result: Value::Null,
            args_lines: OnceCell::new(),
            result_lines: OnceCell::new(),
        }
    }

    fn args_lines(&self, theme: Theme) -> &[Line<'static>] {
        self.args_lines.get_or_init(|| highlight::json(&self.arguments, theme))
    }

    fn result_lines(&self, theme: Theme) -> &[Line<'static>] {
        self.result_lines.get_or_init(|| match &self.result {
            Value::Null => Vec::new(),
            Value::String(s) => s.trim_end_matches('\n').split('\n').map(|l| Line::raw(l.to_string())).collect(),
            value => highlight::json(value, theme),
        })
    }

    /// A result without its call (a stream joined late): the call as the result names it.
    pub fn of_result(result: &ToolResultEvent) -> Self {
        Self::new(&ToolCallEvent {
            id: result.id.clone(),
            function_id: result.function_id.clone(),
            arguments: Value::Null,
        })
    }

    /// Takes the outcome of a `tool_result` (or a recorded one).
    pub fn finish(&mut self, result: &ToolResultEvent) {
        let text = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        self.outcome = Some(Outcome {
            ok: result.ok,
            error: result.error.as_ref().map(|e| (e.code.clone(), e.message.clone())),
            blocked: text(&result.blocked),
            warning: text(&result.warning),
            duration_ms: result.duration_ms,
        });
        self.result = result.result.clone().unwrap_or(Value::Null);
        self.result_lines = OnceCell::new();
    }

    /// The arguments on one line: `key=value` pairs for an object, the JSON otherwise.
    pub fn summary(&self) -> String {
        match &self.arguments {
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k}={}", s.replace('\n', "⏎")),
                    other => format!("{k}={other}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
}

/// A cell with its lines cached for the width they were made for.
#[derive(Debug, Clone)]
pub struct CellView {
    pub cell: Cell,
    cache: Option<(usize, Vec<Line<'static>>)>,
    code: CodeCache,
}

impl CellView {
    /// `cell`, nothing cached yet.
    pub fn new(cell: Cell) -> Self {
        Self { cell, cache: None, code: CodeCache::default() }
    }

    /// The cell's lines at `width` (computed on first use at that width).
    pub fn lines(&mut self, width: usize, theme: Theme) -> &[Line<'static>] {
        if self.cache.as_ref().is_none_or(|(w, _)| *w != width) {
            self.cache = Some((width, render(&self.cell, width, theme, &mut self.code)));
        }
        self.cache.as_ref().map(|(_, lines)| lines.as_slice()).unwrap_or_default()
    }

    /// Flips a tool call between collapsed and expanded; `false` for other cells.
    pub fn toggle(&mut self) -> bool {
        let Cell::Tool(call) = &mut self.cell else { return false };
        call.expanded = !call.expanded;
        self.cache = None;
        true
    }
}

/// The lines of `cell` at `width`, the separating blank line first.
pub fn render(cell: &Cell, width: usize, theme: Theme, code: &mut CodeCache) -> Vec<Line<'static>> {
    let mut lines = vec![Line::default()];
    match cell {
        Cell::User(text) => lines.extend(user(text, width, theme)),
        Cell::Assistant(text) => lines.extend(assistant(text, width, theme, code)),
        Cell::Tool(call) => lines.extend(tool(call, width, theme)),
        Cell::Error { code, message, status } => lines.extend(error(code, message, *status, width, theme)),
        Cell::Note(text) => {
            lines.extend(wrap::text(text, theme.dim(), width, &Prefix::hanging(Span::styled("· ", theme.dim()))))
        }
        Cell::Info { title, rows, hang } => lines.extend(info(title, rows, *hang, width, theme)),
    }
    lines
}

fn gutter() -> Prefix {
    Prefix::same(vec![Span::raw("  ")])
}

/// The user's message: `› ` and the text as typed.
pub fn user(text: &str, width: usize, theme: Theme) -> Vec<Line<'static>> {
    wrap::text(
        text,
        theme.text(),
        width,
        &Prefix { first: vec![Span::styled("› ", theme.user())], rest: vec![Span::raw("  ")] },
    )
}

/// The agent's markdown, under the gutter.
pub fn assistant(text: &str, width: usize, theme: Theme, code: &mut CodeCache) -> Vec<Line<'static>> {
    indent(markdown::render_cached(text, width.saturating_sub(2), theme, code))
}

/// `lines` moved right by the gutter.
pub fn indent(lines: Vec<Line<'static>>) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .map(|mut line| {
            line.spans.insert(0, Span::raw("  "));
            line
        })
        .collect()
}

fn error(code: &str, message: &str, status: Option<u16>, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut head = vec![Span::styled("✗ ", theme.error()), Span::styled(code.to_string(), theme.error())];
    if let Some(status) = status.filter(|s| *s > 0) {
        head.push(Span::styled(format!(" · HTTP {status}"), theme.dim()));
    }
    let mut lines = wrap::words(&head, width, &Prefix { first: Vec::new(), rest: vec![Span::raw("  ")] });
    lines.extend(wrap::text(message, theme.text(), width, &gutter()));
    lines
}

fn info(title: &str, rows: &[Line<'static>], hang: usize, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = wrap::words(
        &[Span::styled(title.to_string(), theme.accent())],
        width,
        &Prefix::hanging(Span::styled("· ", theme.dim())),
    );
    // A hanging indent past the middle would leave too little room: fall back to a small one.
    let hang = if 2 + hang < width / 2 + 8 { 2 + hang } else { 4 };
    let prefix = Prefix { first: vec![Span::raw("  ")], rest: vec![Span::raw(" ".repeat(hang))] };
    for row in rows {
        lines.extend(wrap::words(&row.spans, width, &prefix));
    }
    lines
}

/// A tool call: the header, then the arguments and the result (all of them when expanded, the
/// first few lines of the result otherwise).
pub fn tool(call: &ToolCall, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let (header, summary_cut) = tool_header(call, width, theme);
    let mut lines = vec![header];
    let bar = Prefix::same(vec![Span::styled("  │ ", theme.dim())]);
    let args = call.args_lines(theme);
    if call.expanded && !args.is_empty() {
        lines.push(Line::from(Span::styled("  arguments", theme.dim())));
        for line in args {
            lines.extend(wrap::words(&line.spans, width, &bar));
        }
    }
    let result = call.result_lines(theme);
    if let Some(outcome) = &call.outcome {
        lines.extend(outcome_lines(outcome, width, theme));
        if call.expanded && !result.is_empty() {
            lines.push(Line::from(Span::styled("  result", theme.dim())));
        }
    }
    let shown = if call.expanded || result.len() <= SHORT_RESULT { result.len() } else { COLLAPSED_LINES };
    for line in &result[..shown] {
        lines.extend(wrap::words(&line.spans, width, &bar));
    }
    let hidden = result.len() - shown;
    if hidden > 0 {
        let more =
            format!("  … {hidden} more line{} (select with Alt-↑, Enter expands)", if hidden == 1 { "" } else { "s" });
        lines.push(Line::from(Span::styled(wrap::truncate(&more, width), theme.dim())));
    } else if !call.expanded && summary_cut {
        lines.push(Line::from(Span::styled(
            wrap::truncate("  … arguments in full: select with Alt-↑, Enter expands", width),
            theme.dim(),
        )));
    }
    lines
}

/// `▸ function  summary ……… ✓ 12 ms`: the outcome kept at the right edge; `true` when the
/// summary of the arguments had to be cut.
fn tool_header(call: &ToolCall, width: usize, theme: Theme) -> (Line<'static>, bool) {
    let marker = if call.expanded { "▾ " } else { "▸ " };
    let status = header_status(call.outcome.as_ref(), theme);
    let status_cols = wrap::spans_width(&status);
    let name_room = width.saturating_sub(2 + status_cols + 1).max(1);
    let name = wrap::truncate(&call.function_id, name_room);
    let mut spans =
        vec![Span::styled(marker, theme.tool()), Span::styled(name.clone(), theme.tool().add_modifier(Modifier::BOLD))];
    let used = 2 + wrap::width(&name);
    let summary_room = width.saturating_sub(used + 2 + status_cols + 1);
    let summary = call.summary();
    let shown = if summary_room >= 4 { wrap::truncate(&summary, summary_room) } else { String::new() };
    let cut = shown != summary;
    if !shown.is_empty() {
        spans.push(Span::styled(format!("  {shown}"), theme.dim()));
    }
    let pad = width.saturating_sub(wrap::spans_width(&spans) + status_cols);
    spans.push(Span::raw(" ".repeat(pad)));
    spans.extend(status);
    (Line::from(spans), cut)
}

fn header_status(outcome: Option<&Outcome>, theme: Theme) -> Vec<Span<'static>> {
    let Some(outcome) = outcome else { return vec![Span::styled("running…", theme.dim())] };
    let took = outcome.duration_ms.map(duration).unwrap_or_default();
    let (mark, style) = if outcome.blocked.is_some() {
        ("⊘ blocked".to_string(), theme.warn())
    } else if outcome.ok {
        ("✓".to_string(), theme.ok())
    } else {
        ("✗ failed".to_string(), theme.error())
    };
    let mut spans = vec![Span::styled(mark, style)];
    if !took.is_empty() && outcome.blocked.is_none() {
        spans.push(Span::styled(format!(" {took}"), theme.dim()));
    }
    spans
}

/// The error, the reason a call was blocked and the loop guard's warning, each on its lines.
fn outcome_lines(outcome: &Outcome, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut say = |label: &str, text: &str, style: Style| {
        let prefix = Prefix {
            first: vec![Span::raw("  "), Span::styled(label.to_string(), style)],
            rest: vec![Span::raw("    ")],
        };
        lines.extend(wrap::text(text, theme.text(), width, &prefix));
    };
    if let Some(reason) = &outcome.blocked {
        say("blocked: ", reason, theme.warn());
    }
    if let Some((code, message)) = &outcome.error {
        say(&format!("{code}: "), message, theme.error());
    }
    if let Some(warning) = &outcome.warning {
        say("warning: ", warning, theme.warn());
    }
    lines
}

/// `850 ms`, `1.2 s`, `2 m 5 s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} m {} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>().trim_end().to_string())
            .collect()
    }

    /// A `tool_call` event's data, read as the dashboard reads it.
    fn started(data: Value) -> ToolCallEvent {
        serde_json::from_value(data).unwrap()
    }

    /// A `tool_result` event's data, read as the dashboard reads it.
    fn ended(data: Value) -> ToolResultEvent {
        serde_json::from_value(data).unwrap()
    }

    fn call(result: Value) -> ToolCall {
        let mut call = ToolCall::new(&started(
            json!({"id": "c1", "function_id": "code::read_file", "arguments": {"path": "src/lib.rs"}}),
        ));
        call.finish(&ended(
            json!({"id": "c1", "function_id": "code::read_file", "ok": true, "result": result, "duration_ms": 12}),
        ));
        call
    }

    #[test]
    fn a_tool_header_keeps_the_outcome_at_the_right_edge() {
        let lines = tool(&call(json!("one\ntwo")), 50, Theme::PLAIN);
        assert_eq!(plain(&lines), ["▸ code::read_file  path=src/lib.rs         ✓ 12 ms", "  │ one", "  │ two"]);
    }

    #[test]
    fn a_long_result_is_collapsed_to_a_few_lines_and_expands_whole() {
        let text = (1..=20).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n");
        let mut view = CellView::new(Cell::Tool(Box::new(call(json!(text)))));
        let collapsed = plain(view.lines(60, Theme::PLAIN));
        assert_eq!(collapsed.len(), 1 + 1 + COLLAPSED_LINES + 1);
        assert_eq!(collapsed.last().map(String::as_str), Some("  … 16 more lines (select with Alt-↑, Enter expands)"));
        assert!(view.toggle());
        let expanded = plain(view.lines(60, Theme::PLAIN));
        assert_eq!(
            &expanded[1..6],
            [
                "▾ code::read_file  path=src/lib.rs                   ✓ 12 ms",
                "  arguments",
                "  │ {",
                "  │   \"path\": \"src/lib.rs\"",
                "  │ }"
            ]
        );
        assert_eq!(expanded.last().map(String::as_str), Some("  │ line 20"));
    }

    #[test]
    fn a_failed_or_blocked_call_says_why() {
        let mut failed =
            ToolCall::new(&started(json!({"id": "c", "function_id": "code::run_command", "arguments": {}})));
        failed.finish(&ended(
            json!({"function_id": "code::run_command", "ok": false, "error": {"code": "EXIT", "message": "exit 1"}, "duration_ms": 1500}),
        ));
        assert_eq!(
            plain(&tool(&failed, 40, Theme::PLAIN)),
            ["▸ code::run_command       ✗ failed 1.5 s", "  EXIT: exit 1"]
        );
        let mut blocked = ToolCall::new(&started(json!({"id": "c", "function_id": "x::y", "arguments": {}})));
        blocked.finish(&ended(
            json!({"function_id": "x::y", "ok": false, "blocked": "not on the allow-list", "duration_ms": 0}),
        ));
        assert_eq!(
            plain(&tool(&blocked, 40, Theme::PLAIN)),
            ["▸ x::y                         ⊘ blocked", "  blocked: not on the allow-list"]
        );
    }

    #[test]
    fn a_running_call_says_so() {
        let running =
            ToolCall::new(&started(json!({"id": "c", "function_id": "code::list", "arguments": {"path": "."}})));
        assert_eq!(plain(&tool(&running, 40, Theme::PLAIN)), ["▸ code::list  path=.            running…"]);
    }

    #[test]
    fn every_cell_starts_with_a_blank_line_and_the_cache_follows_the_width() {
        let mut view = CellView::new(Cell::User("hello there".into()));
        assert_eq!(plain(view.lines(20, Theme::PLAIN)), ["", "› hello there"]);
        assert_eq!(plain(view.lines(8, Theme::PLAIN)), ["", "› hello", "  there"]);
    }

    #[test]
    fn an_error_cell_shows_the_code_then_the_message() {
        let cell = Cell::Error { code: "NO_PROVIDER".into(), message: "set OPENAI_API_KEY".into(), status: Some(503) };
        assert_eq!(
            plain(&render(&cell, 40, Theme::PLAIN, &mut CodeCache::default())),
            ["", "✗ NO_PROVIDER · HTTP 503", "  set OPENAI_API_KEY"]
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!([duration(850), duration(1_240), duration(125_000)], ["850 ms", "1.2 s", "2 m 5 s"]);
    }
}
