//! The live cell: the part of a turn still streaming in.
//!
//! Rules it keeps:
//! - Markdown is rendered only up to the last complete line; the partial line after it shows raw,
//!   so a half-received `**bold` or table row never flickers through wrong styles.
//! - A tool call stays live until its result comes; then it (and any finished calls before it)
//!   leave as immutable cells, in the order they were called.
//! - Text streamed before a tool call is committed when the call arrives, so the transcript reads
//!   in the order things happened.

use agentos_protocol::chat::{ToolCallEvent, ToolResultEvent};
use agentos_protocol::error::ErrorInfo;
use ratatui::text::{Line, Span};

use super::cells::{self, Cell, ToolCall};
use super::markdown::CodeCache;
use super::wrap::{self, Prefix};
use crate::theme::Theme;

/// The turn being streamed.
#[derive(Debug, Default)]
pub struct Live {
    text: String,
    tools: Vec<ToolCall>,
    /// The committed markdown's lines: for this width and this many bytes of `text`.
    markdown: Option<(usize, usize, Vec<Line<'static>>)>,
    /// The highlighted code blocks of the text.
    code: CodeCache,
    /// Every line of the cell, for this width; dropped on any change.
    lines: Option<(usize, Vec<Line<'static>>)>,
}

impl Live {
    /// Nothing streamed yet.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.tools.is_empty()
    }

    #[cfg(test)]
    /// The text streamed so far and not yet committed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A piece of the answer (`token`).
    pub fn token(&mut self, text: &str) {
        self.text.push_str(text);
        self.lines = None;
    }

    /// A tool call starts (`tool_call`): the text before it is committed.
    pub fn tool_call(&mut self, call: &ToolCallEvent) -> Vec<Cell> {
        let mut done = Vec::new();
        if self.tools.is_empty() {
            done.extend(self.take_text());
        }
        self.tools.push(ToolCall::new(call));
        self.lines = None;
        done
    }

    /// A tool call ended (`tool_result`): the finished calls at the front are committed.
    pub fn tool_result(&mut self, result: &ToolResultEvent) -> Vec<Cell> {
        let slot = self
            .tools
            .iter()
            .position(|t| t.outcome.is_none() && t.id == result.id)
            .or_else(|| self.tools.iter().position(|t| t.outcome.is_none() && t.function_id == result.function_id));
        match slot {
            Some(i) => self.tools[i].finish(result),
            None => {
                // A result without its call (a stream joined late): show it on its own.
                let mut call = ToolCall::of_result(result);
                call.finish(result);
                self.tools.push(call);
            }
        }
        self.lines = None;
        let finished = self.tools.iter().take_while(|t| t.outcome.is_some()).count();
        self.tools.drain(..finished).map(|call| Cell::Tool(Box::new(call))).collect()
    }

    /// The turn ended: what is left, as cells. Calls still without a result say `reason`.
    pub fn finish(mut self, reason: &str) -> Vec<Cell> {
        let mut done: Vec<Cell> = Vec::new();
        for mut call in self.tools.drain(..) {
            let outcome = ToolResultEvent {
                id: call.id.clone(),
                function_id: call.function_id.clone(),
                ok: false,
                result: None,
                error: Some(ErrorInfo::new("NO_RESULT", reason)),
                blocked: None,
                warning: None,
                duration_ms: None,
            };
            call.finish(&outcome);
            done.push(Cell::Tool(Box::new(call)));
        }
        done.extend(self.take_text());
        done
    }

    fn take_text(&mut self) -> Option<Cell> {
        self.markdown = None;
        self.lines = None;
        self.code = CodeCache::default();
        let text = std::mem::take(&mut self.text);
        (!text.trim().is_empty()).then(|| Cell::Assistant(text.trim_end().to_string()))
    }

    /// The cell's lines at `width`: the live tool calls, then the text.
    pub fn lines(&mut self, width: usize, theme: Theme) -> &[Line<'static>] {
        if self.lines.as_ref().is_none_or(|(w, _)| *w != width) {
            let lines = self.render(width, theme);
            self.lines = Some((width, lines));
        }
        self.lines.as_ref().map(|(_, lines)| lines.as_slice()).unwrap_or_default()
    }

    fn render(&mut self, width: usize, theme: Theme) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        for call in &self.tools {
            lines.push(Line::default());
            lines.extend(cells::tool(call, width, theme));
        }
        if self.text.is_empty() {
            return lines;
        }
        lines.push(Line::default());
        let split = self.text.rfind('\n').map_or(0, |i| i + 1);
        if split > 0 {
            if self.markdown.as_ref().is_none_or(|(w, at, _)| *w != width || *at != split) {
                let rendered = cells::assistant(&self.text[..split], width, theme, &mut self.code);
                self.markdown = Some((width, split, rendered));
            }
            if let Some((_, _, md)) = &self.markdown {
                lines.extend(md.iter().cloned());
            }
        }
        let partial = &self.text[split..];
        if !partial.is_empty() {
            if split > 0 && self.text[..split].ends_with("\n\n") {
                lines.push(Line::default());
            }
            lines.extend(wrap::words(&[Span::raw(partial.to_string())], width, &Prefix::same(vec![Span::raw("  ")])));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::{Value, json};

    use super::*;

    fn started(data: Value) -> ToolCallEvent {
        serde_json::from_value(data).unwrap()
    }

    fn ended(data: Value) -> ToolResultEvent {
        serde_json::from_value(data).unwrap()
    }

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>().trim_end().to_string())
            .collect()
    }

    #[test]
    fn markdown_is_committed_up_to_the_last_complete_line_and_the_rest_shows_raw() {
        let mut live = Live::default();
        live.token("Some **bold** text\nand **half");
        assert_eq!(plain(live.lines(40, Theme::PLAIN)), ["", "  Some bold text", "  and **half"]);
        live.token(" done**\n");
        assert_eq!(plain(live.lines(40, Theme::PLAIN)), ["", "  Some bold text and half done"]);
    }

    #[test]
    fn text_before_a_tool_call_is_committed_and_the_call_leaves_with_its_result() {
        let mut live = Live::default();
        live.token("Let me look.");
        let done = live.tool_call(&started(json!({"id": "c1", "function_id": "code::list", "arguments": {}})));
        assert_eq!(done, [Cell::Assistant("Let me look.".into())]);
        assert!(live.text().is_empty());
        let done = live.tool_result(&ended(
            json!({"id": "c1", "function_id": "code::list", "ok": true, "result": [], "duration_ms": 3}),
        ));
        assert!(matches!(done.as_slice(), [Cell::Tool(call)] if call.outcome.as_ref().is_some_and(|o| o.ok)));
        assert!(live.is_empty());
    }

    #[test]
    fn a_call_without_its_result_when_the_turn_ends_says_why() {
        let mut live = Live::default();
        live.tool_call(&started(json!({"id": "c1", "function_id": "code::run_command", "arguments": {}})));
        live.token("partial");
        let done = live.finish("the turn was interrupted");
        assert_eq!(done.len(), 2);
        let Cell::Tool(call) = &done[0] else { panic!("a tool cell first: {done:?}") };
        assert_eq!(
            call.outcome.as_ref().and_then(|o| o.error.clone()),
            Some(("NO_RESULT".into(), "the turn was interrupted".into()))
        );
        assert_eq!(done[1], Cell::Assistant("partial".into()));
    }
}
