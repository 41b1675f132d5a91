//! The composer: a multi-line text area with the history of sent messages and a reverse search
//! over it.
//!
//! Rules it keeps:
//! - The text area is ratatui-textarea; the chat pane takes Enter, Up/Down at the edges, Ctrl-R,
//!   Ctrl-J and the scrolling keys before it, and gives it every other key.
//! - Up on the first line recalls an earlier message, Down on the last line a later one; going
//!   past the newest gives back what was being typed before the recall began.
//! - The reverse search (Ctrl-R) matches any part of a sent message, ignoring case, newest first;
//!   Ctrl-R again goes to an older match. Enter takes the match into the composer, Esc leaves the
//!   composer as it was.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use super::wrap;
use crate::theme::Theme;

/// Rows the composer grows to before it scrolls.
const MAX_ROWS: usize = 8;

/// What a key did to an open search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKey {
    /// The search goes on.
    Searching,
    /// The search closed (taken or cancelled).
    Closed,
}

#[derive(Debug, Default)]
struct Search {
    query: String,
    /// The history index of the match shown.
    hit: Option<usize>,
}

/// The text being typed, the history of what was sent, and the search over it.
pub struct Composer {
    theme: Theme,
    textarea: TextArea<'static>,
    history: Vec<String>,
    /// The history entry shown while browsing with Up/Down.
    browsing: Option<usize>,
    /// What was typed before browsing began.
    draft: String,
    search: Option<Search>,
    /// The placeholder shown says messages are queued (a turn runs).
    busy: bool,
}

/// The placeholder while the agent is free, and while it works.
const PLACEHOLDER: &str = "Ask the agent · Enter sends · Shift-Enter new line · /help";
const PLACEHOLDER_BUSY: &str = "Enter queues a message for after this turn · Esc interrupts";

impl Composer {
    /// An empty composer without history.
    pub fn new(theme: Theme) -> Self {
        Self {
            theme,
            textarea: textarea(theme, false, ""),
            history: Vec::new(),
            browsing: None,
            draft: String::new(),
            search: None,
            busy: false,
        }
    }

    /// The text, lines joined by `\n`.
    pub fn text(&self) -> String {
        self.textarea.lines().join("\n")
    }

    /// Nothing typed.
    pub fn is_empty(&self) -> bool {
        self.textarea.is_empty()
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set_text(&mut self, text: &str) {
        self.textarea = textarea(self.theme, self.busy, text);
    }

    /// Empties the composer and returns what it held; browsing starts again from the newest.
    pub fn take(&mut self) -> String {
        let text = self.text();
        self.set_text("");
        self.browsing = None;
        self.draft.clear();
        text
    }

    /// Adds a sent message to the history (a repeat of the newest is kept once).
    pub fn remember(&mut self, text: &str) {
        if self.history.last().map(String::as_str) != Some(text) {
            self.history.push(text.to_string());
        }
    }

    #[cfg(test)]
    /// Sent messages, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// A key for the text area; `true` when the text changed.
    pub fn input(&mut self, key: KeyEvent) -> bool {
        self.textarea.input(key)
    }

    /// Breaks the line at the cursor (Shift-Enter, Ctrl-J).
    pub fn newline(&mut self) {
        self.textarea.insert_newline();
    }

    /// Pasted text, at the cursor (`\r\n` and `\r` count as newlines).
    pub fn paste(&mut self, text: &str) {
        self.textarea.insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
    }

    /// The cursor is on the first line (Up recalls history there).
    pub fn on_first_line(&self) -> bool {
        self.textarea.cursor().0 == 0
    }

    /// The cursor is on the last line (Down goes forward in history there).
    pub fn on_last_line(&self) -> bool {
        self.textarea.cursor().0 + 1 >= self.textarea.lines().len()
    }

    /// Up on the first line: the message sent before the one shown; `false` at the oldest.
    pub fn history_back(&mut self) -> bool {
        let next = match self.browsing {
            None if self.history.is_empty() => return false,
            None => {
                self.draft = self.text();
                self.history.len() - 1
            }
            Some(0) => return false,
            Some(i) => i - 1,
        };
        self.browsing = Some(next);
        self.textarea = textarea(self.theme, self.busy, &self.history[next]);
        true
    }

    /// Down on the last line: the message sent after the one shown, then the draft; `false`
    /// when not browsing.
    pub fn history_forward(&mut self) -> bool {
        let Some(i) = self.browsing else { return false };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            self.textarea = textarea(self.theme, self.busy, &self.history[i + 1]);
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.textarea = textarea(self.theme, self.busy, &draft);
        }
        true
    }

    /// `true` while the reverse search is open.
    pub fn searching(&self) -> bool {
        self.search.is_some()
    }

    /// Opens the reverse search.
    pub fn open_search(&mut self) {
        self.search = Some(Search::default());
    }

    /// A key while the search is open.
    pub fn search_key(&mut self, key: KeyEvent) -> SearchKey {
        let Some(search) = &mut self.search else { return SearchKey::Closed };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.search = None;
                return SearchKey::Closed;
            }
            KeyCode::Enter => {
                if let Some(hit) = search.hit {
                    let text = self.history[hit].clone();
                    self.set_text(&text);
                    self.browsing = None;
                }
                self.search = None;
                return SearchKey::Closed;
            }
            KeyCode::Char('r') if ctrl => {
                let before = search.hit.unwrap_or(self.history.len());
                if let Some(older) = find(&self.history, &search.query, before) {
                    search.hit = Some(older);
                }
            }
            KeyCode::Char('g') if ctrl => {
                self.search = None;
                return SearchKey::Closed;
            }
            KeyCode::Backspace => {
                search.query.pop();
                search.hit = find(&self.history, &search.query, self.history.len());
            }
            KeyCode::Char(c) if !ctrl => {
                search.query.push(c);
                search.hit = find(&self.history, &search.query, self.history.len());
            }
            _ => {}
        }
        SearchKey::Searching
    }

    /// The search line: the query and the match (its first line, the matched part marked).
    pub fn search_line(&self, width: usize) -> Option<Line<'static>> {
        let search = self.search.as_ref()?;
        let theme = self.theme;
        let mut spans = vec![
            Span::styled("search sent messages: ", theme.accent()),
            Span::styled(search.query.clone(), theme.user()),
            Span::styled(" → ", theme.dim()),
        ];
        match search.hit {
            Some(hit) => {
                let entry = &self.history[hit];
                let first = entry.lines().next().unwrap_or_default();
                let room = width.saturating_sub(wrap::spans_width(&spans) + 2);
                spans.extend(marked(first, &search.query, room, theme));
                if entry.lines().nth(1).is_some() {
                    spans.push(Span::styled(" ⏎…", theme.dim()));
                }
                spans.push(Span::styled("   Enter takes · Ctrl-R older · Esc cancels", theme.dim()));
            }
            None if search.query.is_empty() => {
                spans.push(Span::styled("type to search · Ctrl-R older · Enter takes · Esc cancels", theme.dim()))
            }
            None => spans.push(Span::styled("no match", theme.warn())),
        }
        Some(wrap::cut(spans, width))
    }

    /// Rows the composer wants at `width`: one per wrapped line, up to a limit.
    pub fn rows(&self, width: usize) -> usize {
        let rows: usize = self.textarea.lines().iter().map(|l| wrap::width(l).div_ceil(width.max(1)).max(1)).sum();
        rows.clamp(1, MAX_ROWS)
    }

    /// Draws the prompt mark and the text area; `busy` while a turn runs.
    pub fn render(&mut self, frame: &mut Frame, area: Rect, busy: bool) {
        if area.width < 3 || area.height == 0 {
            return;
        }
        if busy != self.busy {
            self.busy = busy;
            self.textarea.set_placeholder_text(if busy { PLACEHOLDER_BUSY } else { PLACEHOLDER });
        }
        let mark = if busy { Span::styled("⋯ ", self.theme.dim()) } else { Span::styled("› ", self.theme.user()) };
        frame.buffer_mut().set_span(area.x, area.y, &mark, 2);
        let text = Rect { x: area.x + 2, width: area.width - 2, ..area };
        frame.render_widget(&self.textarea, text);
    }
}

/// `first` cut to `room` columns with the first occurrence of `query` marked.
fn marked(first: &str, query: &str, room: usize, theme: Theme) -> Vec<Span<'static>> {
    let text = wrap::truncate(first, room);
    let lower = text.to_lowercase();
    let at = if query.is_empty() { None } else { lower.find(&query.to_lowercase()) };
    match at {
        // Lower-casing kept the byte offsets only if it kept the length.
        Some(at)
            if lower.len() == text.len() && text.is_char_boundary(at) && text.is_char_boundary(at + query.len()) =>
        {
            vec![
                Span::raw(text[..at].to_string()),
                Span::styled(text[at..at + query.len()].to_string(), theme.selected()),
                Span::raw(text[at + query.len()..].to_string()),
            ]
        }
        _ => vec![Span::raw(text)],
    }
}

/// The newest entry before `before` that holds `query`, ignoring case.
fn find(history: &[String], query: &str, before: usize) -> Option<usize> {
    let query = query.to_lowercase();
    history[..before.min(history.len())].iter().rposition(|entry| entry.to_lowercase().contains(&query))
}

/// A text area holding `text`, styled for the chat, the cursor at the end.
fn textarea(theme: Theme, busy: bool, text: &str) -> TextArea<'static> {
    let mut area = TextArea::new(text.split('\n').map(str::to_string).collect());
    area.set_cursor_line_style(Style::new());
    area.set_wrap_mode(WrapMode::WordOrGlyph);
    area.set_placeholder_text(if busy { PLACEHOLDER_BUSY } else { PLACEHOLDER });
    area.set_placeholder_style(theme.dim());
    area.set_cursor_style(theme.selected());
    area.move_cursor(CursorMove::Bottom);
    area.move_cursor(CursorMove::End);
    area
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::testing::{key, key_with};

    fn composer(history: &[&str]) -> Composer {
        let mut c = Composer::new(Theme::PLAIN);
        for h in history {
            c.remember(h);
        }
        c
    }

    fn type_text(c: &mut Composer, text: &str) {
        for ch in text.chars() {
            c.input(key(KeyCode::Char(ch)));
        }
    }

    #[test]
    fn up_recalls_older_messages_and_down_comes_back_to_the_draft() {
        let mut c = composer(&["first", "second"]);
        type_text(&mut c, "draft");
        assert!(c.history_back());
        assert_eq!(c.text(), "second");
        assert!(c.history_back());
        assert_eq!(c.text(), "first");
        assert!(!c.history_back(), "nothing older");
        assert!(c.history_forward());
        assert!(c.history_forward());
        assert_eq!(c.text(), "draft");
        assert!(!c.history_forward());
    }

    #[test]
    fn a_repeated_message_is_remembered_once() {
        let c = composer(&["a", "a", "b", "a"]);
        assert_eq!(c.history(), ["a", "b", "a"]);
    }

    #[test]
    fn reverse_search_finds_newest_first_and_ctrl_r_goes_older() {
        let mut c = composer(&["cargo build", "ls", "cargo test", "pwd"]);
        c.open_search();
        for ch in "CARGO".chars() {
            c.search_key(key(KeyCode::Char(ch)));
        }
        assert!(c.search_line(80).is_some_and(|l| l.to_string().contains("cargo test")));
        c.search_key(key_with(KeyCode::Char('r'), KeyModifiers::CONTROL));
        assert_eq!(c.search_key(key(KeyCode::Enter)), SearchKey::Closed);
        assert_eq!(c.text(), "cargo build");
    }

    #[test]
    fn escape_leaves_the_composer_as_it_was() {
        let mut c = composer(&["cargo build"]);
        type_text(&mut c, "mine");
        c.open_search();
        c.search_key(key(KeyCode::Char('c')));
        assert_eq!(c.search_key(key(KeyCode::Esc)), SearchKey::Closed);
        assert_eq!(c.text(), "mine");
        assert!(!c.searching());
    }

    #[test]
    fn pasted_text_keeps_its_lines() {
        let mut c = composer(&[]);
        c.paste("a\r\nb\rc");
        assert_eq!(c.text(), "a\nb\nc");
        assert_eq!(c.rows(10), 3);
    }
}
