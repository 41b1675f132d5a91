//! The remembered rules (`GET /v1/approvals/rules`): `always` rules and session grants, as one
//! list that can be walked and forgotten (`DELETE /v1/approvals/rules/:id`).
//!
//! Rules it keeps:
//! - Newest first, as the API answers; a grant's id is `grant:<session_id>`, the id the API
//!   deletes it by.
//! - Only the visible rows are drawn.

use agentos_protocol::approval;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use serde::Deserialize;
use serde_json::Value;

use crate::panes::trace::format::{pad, truncate};
use crate::panes::trace::scroll::{Scroll, on_row};
use crate::theme::Theme;

use super::model::{ago, compact_json, short_id};

/// One remembered rule or grant.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// What `DELETE /v1/approvals/rules/:id` takes.
    pub id: String,
    /// `always` or `session`.
    pub kind: &'static str,
    /// The function (a rule) or functions (a grant).
    pub functions: String,
    /// The exact arguments of an `always` rule, on one line; the session of a grant.
    pub scope: String,
    pub created_ms: u64,
}

impl Remembered {
    /// Rules then grants of a `{rules, grants}` answer; none when the answer is not one.
    pub fn list(answer: &Value) -> Vec<Self> {
        let remembered = match approval::Remembered::deserialize(answer) {
            Ok(remembered) => remembered,
            Err(e) => {
                tracing::debug!("not the remembered approvals ({e}): {answer}");
                return Vec::new();
            }
        };
        let rules = remembered.rules.into_iter().map(|rule| Self {
            id: rule.id,
            kind: "always",
            functions: rule.function_id,
            scope: compact_json(&rule.arguments, usize::MAX),
            created_ms: rule.created_ms,
        });
        let grants = remembered.grants.into_iter().map(|grant| Self {
            id: format!("grant:{}", grant.session_id),
            kind: "session",
            functions: grant.functions.join(", "),
            scope: format!("session {}", short_id(&grant.session_id)),
            created_ms: grant.updated_ms,
        });
        rules.chain(grants).collect()
    }
}

/// How the list stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RulesLoad {
    #[default]
    Loading,
    Loaded,
    Failed(String),
}

/// The list and its selection.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub items: Vec<Remembered>,
    pub load: RulesLoad,
    pub scroll: Scroll,
    /// A rule `d` was pressed on once: the next `d` forgets it.
    pub confirm: Option<String>,
    /// The last answer to a `d`: what was forgotten, or why not.
    pub message: Option<(String, bool)>,
}

impl Rules {
    pub fn selected(&self) -> Option<&Remembered> {
        self.items.get(self.scroll.selected)
    }

    /// The box's height for an area `height` rows tall: the rows, at most a few.
    pub fn height(&self, height: u16) -> u16 {
        let rows = u16::try_from(self.items.len().max(1)).unwrap_or(u16::MAX) + u16::from(self.message.is_some());
        (rows + 2).min(7).min(height / 3).max(3)
    }

    /// Draws the box; `focused` marks the selection.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, focused: bool, now_ms: u64, theme: Theme) {
        let title = format!(" Remembered rules ({}) ", self.items.len());
        let border = if focused { theme.accent() } else { theme.dim() };
        let block =
            Block::default().borders(Borders::ALL).border_style(border).title(Line::styled(title, theme.accent()));
        let inner = block.inner(area);
        block.render(area, buf);
        let width = usize::from(inner.width);
        let mut lines = Vec::new();
        if let Some((text, error)) = &self.message {
            lines.push(Line::styled(truncate(text, width), if *error { theme.error() } else { theme.ok() }));
        }
        let rows = usize::from(inner.height).saturating_sub(lines.len());
        match (&self.load, self.items.is_empty()) {
            (RulesLoad::Loading, true) => lines.push(Line::styled("loading…", theme.dim())),
            (RulesLoad::Failed(why), true) => lines.push(Line::styled(truncate(why, width), theme.error())),
            (_, true) => lines.push(Line::styled(
                truncate("none: `a` remembers an exact call for every session, `s` a function for one session", width),
                theme.dim(),
            )),
            (_, false) => {
                let window = self.scroll.window(rows, self.items.len());
                for i in window {
                    let selected = focused && i == self.scroll.selected;
                    lines.push(self.row(&self.items[i], selected, width, now_ms, theme));
                }
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }

    fn row(&self, item: &Remembered, selected: bool, width: usize, now_ms: u64, theme: Theme) -> Line<'static> {
        let confirm = self.confirm.as_deref() == Some(item.id.as_str());
        let style = |s| on_row(s, selected, theme);
        let mark = Span::styled(if selected { "› " } else { "  " }, style(theme.accent()));
        let width = width.saturating_sub(2);
        let id_width = 24.min(width / 4).max(8);
        let fixed = id_width + 8 + 24 + 9 + 4;
        let rest = width.saturating_sub(fixed);
        let mut spans = vec![
            mark,
            Span::styled(pad(&item.id, id_width), style(theme.text())),
            Span::styled(" ", style(theme.text())),
            Span::styled(pad(item.kind, 8), style(theme.dim())),
            Span::styled(pad(&item.functions, 24), style(theme.tool())),
            Span::styled(" ", style(theme.text())),
        ];
        if confirm {
            spans
                .push(Span::styled(pad("d again forgets it · any other key keeps it", rest + 10), style(theme.warn())));
        } else {
            spans.push(Span::styled(pad(&item.scope, rest), style(theme.text())));
            spans.push(Span::styled(format!(" {}", pad(&ago(now_ms, item.created_ms), 9)), style(theme.dim())));
        }
        Line::from(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn rules_and_grants_become_one_list_with_the_ids_the_api_deletes_by() {
        let answer = json!({
            "rules": [{"id": "always-9f2c", "function_id": "code::run_command", "arguments": {"program": "cargo", "args": ["test"]}, "created_ms": 7,
                       "by": {"via": "tui"}, "from_request": "apr-1"}],
            "grants": [{"session_id": "3f2a9c1e-77aa-4bbb-8ccc-0123456789ab", "functions": ["code::write_file", "code::apply_patch"], "updated_ms": 9}],
        });
        let items = Remembered::list(&answer);
        assert_eq!(
            items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["always-9f2c", "grant:3f2a9c1e-77aa-4bbb-8ccc-0123456789ab"]
        );
        assert_eq!(items[0].scope, r#"{"args": ["test"], "program": "cargo"}"#);
        assert_eq!(
            (items[1].functions.as_str(), items[1].scope.as_str()),
            ("code::write_file, code::apply_patch", "session 3f2a9c1e")
        );
    }
}
