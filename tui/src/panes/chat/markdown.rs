//! Markdown to styled, wrapped lines for the chat transcript.
//!
//! Rules it keeps:
//! - One pass over pulldown-cmark's events; the output is owned lines already wrapped to the width,
//!   so a cell can cache them per width.
//! - Block quotes draw a `│` bar, list items a `•` or their number, and what follows on the next
//!   lines hangs under the text, never under the marker.
//! - Fenced code keeps its fences (dim, with the language), is highlighted by
//!   [`crate::highlight::code`] and cut at the width rather than word-wrapped.
//! - A link shows its URL after the text (unless the text is the URL); images show their alt text
//!   and URL the same way.
//! - Blocks are separated by one blank line, tight list items by none.
//! - Highlighting is the costly part and does not depend on the width: a [`CodeCache`] keeps each
//!   block's highlighted lines, so a new width or one more streamed line re-highlights only the
//!   blocks whose code changed.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::wrap::{self, Prefix};
use crate::highlight;
use crate::theme::Theme;

/// The highlighted lines of a document's code blocks, in order, with the language and code they
/// were made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeCache(Vec<(String, String, Vec<Line<'static>>)>);

impl CodeCache {
    /// The lines of the `index`th code block: from the cache when its language and code are
    /// the ones cached, else highlighted now.
    fn lines(&mut self, index: usize, lang: &str, code: &str, theme: Theme) -> &[Line<'static>] {
        let cached = self.0.get(index).is_some_and(|(l, c, _)| l == lang && c == code);
        if !cached {
            let lines = highlight::code(code, lang, theme);
            self.0.truncate(index);
            self.0.push((lang.to_string(), code.to_string(), lines));
        }
        self.0.get(index).map(|(_, _, lines)| lines.as_slice()).unwrap_or_default()
    }
}

/// `src` rendered to lines of at most `width` columns.
#[cfg(test)]
pub fn render(src: &str, width: usize, theme: Theme) -> Vec<Line<'static>> {
    render_cached(src, width, theme, &mut CodeCache::default())
}

/// `src` rendered to lines of at most `width` columns, code blocks highlighted through `cache`.
pub fn render_cached(src: &str, width: usize, theme: Theme, cache: &mut CodeCache) -> Vec<Line<'static>> {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let mut writer = Writer::new(width, theme, cache);
    for event in Parser::new_ext(src, options) {
        writer.event(event);
    }
    writer.finish()
}

/// Something lines are nested in.
enum Container {
    Quote,
    /// A list item: its marker (`• `, `3. `) shows on its first line only.
    Item {
        marker: String,
        shown: bool,
    },
}

/// A table being collected: rows of cells, each cell its spans.
#[derive(Default)]
struct Table {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<Vec<Span<'static>>>>,
    head_rows: usize,
}

struct Writer<'c> {
    theme: Theme,
    cache: &'c mut CodeCache,
    /// Code blocks written so far.
    blocks: usize,
    width: usize,
    out: Vec<Line<'static>>,
    /// Inline content of the block being written.
    spans: Vec<Span<'static>>,
    /// Inline styles in force, innermost last.
    styles: Vec<Style>,
    containers: Vec<Container>,
    /// The next number of each open list (`None` for bullets).
    lists: Vec<Option<u64>>,
    /// Open links: their URL and where their text starts in `spans`.
    links: Vec<(String, usize)>,
    /// A fenced or indented code block being collected: its language and text.
    code: Option<(String, String)>,
    table: Option<Table>,
    /// The style of the block being written (headings).
    block_style: Style,
    /// A blank line goes before the next block.
    gap: bool,
}

impl<'c> Writer<'c> {
    fn new(width: usize, theme: Theme, cache: &'c mut CodeCache) -> Self {
        Self {
            theme,
            cache,
            blocks: 0,
            width: width.max(1),
            out: Vec::new(),
            spans: Vec::new(),
            styles: Vec::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            links: Vec::new(),
            code: None,
            table: None,
            block_style: Style::new(),
            gap: false,
        }
    }

    fn style(&self) -> Style {
        self.styles.iter().fold(self.block_style, |acc, s| acc.patch(*s))
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => self.push(code.to_string(), self.theme.accent()),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.push(math.to_string(), self.theme.accent()),
            Event::Html(html) | Event::InlineHtml(html) => self.text(html.trim_end_matches('\n')),
            Event::FootnoteReference(name) => self.push(format!("[^{name}]"), self.theme.dim()),
            Event::SoftBreak => self.push(" ".to_string(), self.style()),
            Event::HardBreak => self.flush(),
            Event::Rule => self.rule(),
            Event::TaskListMarker(done) => self.push(if done { "[x] " } else { "[ ] " }.to_string(), self.theme.dim()),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock | Tag::FootnoteDefinition(_) | Tag::DefinitionList => self.open_block(),
            Tag::DefinitionListTitle | Tag::DefinitionListDefinition => self.flush(),
            Tag::Heading { level, .. } => {
                self.open_block();
                self.block_style = self.heading_style(level);
            }
            Tag::BlockQuote(_) => {
                self.open_block();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.open_block();
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or("").to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush();
                if self.lists.is_empty() {
                    self.open_block();
                }
                self.lists.push(start);
            }
            Tag::Item => self.open_item(),
            Tag::Table(aligns) => {
                self.open_block();
                self.table = Some(Table { aligns, ..Table::default() });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(table) = &mut self.table {
                    table.rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.spans.clear(),
            Tag::Emphasis => self.styles.push(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.styles.push(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.styles.push(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Superscript | Tag::Subscript | Tag::MetadataBlock(_) => self.styles.push(Style::new()),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.styles.push(Style::new().add_modifier(Modifier::UNDERLINED));
                self.links.push((dest_url.to_string(), self.spans.len()));
            }
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::FootnoteDefinition | TagEnd::DefinitionList => {
                self.close_block()
            }
            TagEnd::DefinitionListTitle | TagEnd::DefinitionListDefinition => self.flush(),
            TagEnd::Heading(_) => {
                self.close_block();
                self.block_style = Style::new();
            }
            TagEnd::BlockQuote(_) => {
                self.close_block();
                self.containers.pop();
            }
            TagEnd::CodeBlock => self.close_code(),
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.gap = true;
                }
            }
            TagEnd::Item => {
                self.flush();
                self.containers.pop();
            }
            TagEnd::Table => self.close_table(),
            TagEnd::TableHead => {
                if let Some(table) = &mut self.table {
                    table.head_rows = table.rows.len();
                }
            }
            TagEnd::TableRow => {}
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.spans);
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::MetadataBlock(_) => {
                self.styles.pop();
            }
            TagEnd::Link | TagEnd::Image => self.close_link(),
        }
    }

    fn heading_style(&self, level: HeadingLevel) -> Style {
        match level {
            HeadingLevel::H1 => self.theme.accent().add_modifier(Modifier::UNDERLINED),
            HeadingLevel::H2 => self.theme.accent(),
            _ => Style::new().add_modifier(Modifier::BOLD),
        }
    }

    fn text(&mut self, text: &str) {
        if let Some((_, code)) = &mut self.code {
            code.push_str(text);
            return;
        }
        // Text inside a block may hold newlines (HTML blocks): each one starts a new line.
        let mut parts = text.split('\n').peekable();
        while let Some(part) = parts.next() {
            self.push(part.to_string(), self.style());
            if parts.peek().is_some() {
                self.flush();
            }
        }
    }

    fn push(&mut self, text: String, style: Style) {
        if !text.is_empty() {
            self.spans.push(Span::styled(text, style));
        }
    }

    /// A new block starts: the blank line that separates it from the one before.
    fn open_block(&mut self) {
        self.flush();
        if self.gap && !self.out.is_empty() {
            let prefix = self.prefix(false);
            self.out.push(Line::from(prefix.rest));
        }
        self.gap = false;
    }

    fn close_block(&mut self) {
        self.flush();
        self.gap = true;
    }

    fn open_item(&mut self) {
        self.flush();
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                let marker = format!("{n}. ");
                *n += 1;
                marker
            }
            _ => "• ".to_string(),
        };
        self.containers.push(Container::Item { marker, shown: false });
    }

    /// The prefix of the next lines: quote bars and list indents, with the markers of items
    /// that have not shown theirs yet on the first line.
    fn prefix(&self, first: bool) -> Prefix {
        let mut head = Vec::new();
        let mut rest = Vec::new();
        for container in &self.containers {
            match container {
                Container::Quote => {
                    head.push(Span::styled("│ ", self.theme.dim()));
                    rest.push(Span::styled("│ ", self.theme.dim()));
                }
                Container::Item { marker, shown } => {
                    let indent = " ".repeat(wrap::width(marker));
                    if first && !shown {
                        head.push(Span::styled(marker.clone(), self.theme.accent()));
                    } else {
                        head.push(Span::raw(indent.clone()));
                    }
                    rest.push(Span::raw(indent));
                }
            }
        }
        Prefix { first: head, rest }
    }

    fn mark_items_shown(&mut self) {
        for container in &mut self.containers {
            if let Container::Item { shown, .. } = container {
                *shown = true;
            }
        }
    }

    /// Writes the inline content gathered so far as wrapped lines.
    fn flush(&mut self) {
        if self.spans.is_empty() || self.table.is_some() {
            return;
        }
        let spans = std::mem::take(&mut self.spans);
        let prefix = self.prefix(true);
        self.out.extend(wrap::words(&spans, self.width, &prefix));
        self.mark_items_shown();
    }

    fn close_link(&mut self) {
        self.styles.pop();
        let Some((url, start)) = self.links.pop() else { return };
        let text: String = self.spans[start.min(self.spans.len())..].iter().map(|s| s.content.as_ref()).collect();
        let same = url.is_empty() || text == url || url.strip_prefix("mailto:") == Some(text.as_str());
        if !same {
            self.push(format!(" ({url})"), self.theme.dim());
        }
    }

    fn rule(&mut self) {
        self.open_block();
        let prefix = self.prefix(true);
        let cols = self.width.saturating_sub(wrap::spans_width(&prefix.first));
        let mut spans = prefix.first;
        spans.push(Span::styled("─".repeat(cols), self.theme.dim()));
        self.out.push(Line::from(spans));
        self.mark_items_shown();
        self.gap = true;
    }

    fn close_code(&mut self) {
        let Some((lang, code)) = self.code.take() else { return };
        let dim = self.theme.dim();
        let fence = |this: &mut Self, label: String| {
            let prefix = this.prefix(true);
            let mut spans = prefix.first;
            spans.push(Span::styled(label, dim));
            this.out.push(Line::from(spans));
            this.mark_items_shown();
        };
        fence(self, format!("```{lang}"));
        let prefix = self.prefix(false);
        let prefix = Prefix::same(prefix.rest);
        let lines = self.cache.lines(self.blocks, &lang, code.trim_end_matches('\n'), self.theme);
        for line in lines {
            self.out.extend(wrap::hard(&line.spans, self.width, &prefix));
        }
        self.blocks += 1;
        fence(self, "```".to_string());
        self.gap = true;
    }

    fn close_table(&mut self) {
        let Some(table) = self.table.take() else { return };
        let prefix = self.prefix(true);
        let room = self.width.saturating_sub(wrap::spans_width(&prefix.first));
        let columns = table.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &table.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(wrap::spans_width(cell));
            }
        }
        let total = widths.iter().sum::<usize>() + columns.saturating_sub(1) * 3;
        if total <= room {
            self.table_grid(&table, &widths);
        } else {
            self.table_rows(&table);
        }
        self.gap = true;
    }

    /// A table that fits: padded columns, ` │ ` between them, a rule under the head.
    fn table_grid(&mut self, table: &Table, widths: &[usize]) {
        let dim = self.theme.dim();
        for (r, row) in table.rows.iter().enumerate() {
            let mut spans = self.prefix(true).first;
            for (i, width) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" │ ", dim));
                }
                let cell = row.get(i).cloned().unwrap_or_default();
                let pad = width.saturating_sub(wrap::spans_width(&cell));
                let (before, after) = match table.aligns.get(i) {
                    Some(Alignment::Right) => (pad, 0),
                    Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                spans.push(Span::raw(" ".repeat(before)));
                let head = r < table.head_rows;
                spans.extend(
                    cell.into_iter()
                        .map(|s| if head { s.patch_style(Style::new().add_modifier(Modifier::BOLD)) } else { s }),
                );
                spans.push(Span::raw(" ".repeat(after)));
            }
            self.out.push(Line::from(spans));
            if r + 1 == table.head_rows {
                let mut rule = self.prefix(false).rest;
                let line = widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("─┼─");
                rule.push(Span::styled(line, dim));
                self.out.push(Line::from(rule));
            }
        }
    }

    /// A table too wide for the width: one wrapped line per row, cells separated by ` · `.
    fn table_rows(&mut self, table: &Table) {
        for (r, row) in table.rows.iter().enumerate() {
            let mut spans = Vec::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" · ", self.theme.dim()));
                }
                let bold = r < table.head_rows;
                spans.extend(
                    cell.iter()
                        .cloned()
                        .map(|s| if bold { s.patch_style(Style::new().add_modifier(Modifier::BOLD)) } else { s }),
                );
            }
            let prefix = self.prefix(true);
            self.out.extend(wrap::words(&spans, self.width, &prefix));
        }
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        if self.code.is_some() {
            self.close_code();
        }
        self.flush();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn plain(src: &str, width: usize) -> Vec<String> {
        render(src, width, Theme::PLAIN)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>().trim_end().to_string())
            .collect()
    }

    #[test]
    fn paragraphs_wrap_to_the_width_and_are_separated_by_a_blank_line() {
        assert_eq!(plain("one two three four\n\nfive", 9), ["one two", "three", "four", "", "five"]);
    }

    #[test]
    fn a_soft_break_joins_lines_and_a_hard_break_keeps_them() {
        assert_eq!(plain("a\nb", 20), ["a b"]);
        assert_eq!(plain("a  \nb", 20), ["a", "b"]);
    }

    #[test]
    fn headings_stand_alone_and_are_styled() {
        let lines = render("# Title\ntext", 20, Theme::PLAIN);
        assert_eq!(lines.len(), 3);
        assert!(lines[0].spans[0].style.add_modifier.contains(Modifier::BOLD | Modifier::UNDERLINED));
    }

    #[test]
    fn bold_italic_and_inline_code_keep_their_styles() {
        let lines = render("**b** *i* `c`", 20, Theme::PLAIN);
        let spans = &lines[0].spans;
        assert_eq!(spans[0], Span::styled("b", Style::new().add_modifier(Modifier::BOLD)));
        assert_eq!(spans[2], Span::styled("i", Style::new().add_modifier(Modifier::ITALIC)));
        assert_eq!(spans[4], Span::styled("c", Theme::PLAIN.accent()));
    }

    #[test]
    fn list_items_hang_under_their_text() {
        let src = "- first item wraps here\n- second\n  1. nested\n  2. again";
        assert_eq!(plain(src, 14), ["• first item", "  wraps here", "• second", "  1. nested", "  2. again"]);
    }

    #[test]
    fn a_loose_list_keeps_blank_lines_between_items() {
        assert_eq!(plain("1. a\n\n2. b", 20), ["1. a", "", "2. b"]);
    }

    #[test]
    fn block_quotes_draw_a_bar_on_every_line() {
        assert_eq!(plain("> quoted text that wraps", 12), ["│ quoted", "│ text that", "│ wraps"]);
    }

    #[test]
    fn links_show_their_url_unless_the_text_is_the_url() {
        assert_eq!(
            plain("[docs](https://x.dev/d) and <https://y.dev>", 60),
            ["docs (https://x.dev/d) and https://y.dev"]
        );
    }

    #[test]
    fn code_blocks_keep_fences_and_spacing_and_are_cut_not_wrapped() {
        let src = "text\n\n```rust\nfn main() {\n    let x = 1;\n}\n```\nafter";
        assert_eq!(
            plain(src, 12),
            ["text", "", "```rust", "fn main() {", "    let x =", "1;", "}", "```", "", "after"]
        );
    }

    #[test]
    fn code_blocks_are_highlighted_when_colour_is_on() {
        let lines = render("```rust\nfn main() {}\n```", 40, Theme { color: true });
        assert!(lines[1].spans.len() > 1, "{lines:?}");
    }

    #[test]
    fn the_code_cache_highlights_only_blocks_that_changed() {
        let mut cache = CodeCache::default();
        render_cached("```rust\nlet a = 1;\n```\n\n```rust\nlet b", 40, Theme::PLAIN, &mut cache);
        let first = cache.0[0].clone();
        let wide = render_cached("```rust\nlet a = 1;\n```\n\n```rust\nlet b = 2;", 80, Theme::PLAIN, &mut cache);
        assert_eq!(cache.0.len(), 2);
        assert_eq!(cache.0[0], first);
        assert_eq!(cache.0[1].1, "let b = 2;");
        assert_eq!(wide.len(), 7);
    }

    #[test]
    fn an_unclosed_fence_is_code_to_the_end() {
        assert_eq!(plain("```py\nprint(1)", 20), ["```py", "print(1)", "```"]);
    }

    #[test]
    fn a_table_that_fits_is_drawn_as_a_grid() {
        let src = "| name | n |\n|---|--:|\n| a | 1 |\n| bb | 22 |";
        assert_eq!(plain(src, 40), ["name │  n", "─────┼───", "a    │  1", "bb   │ 22"]);
    }

    #[test]
    fn a_table_too_wide_becomes_one_line_per_row() {
        let src = "| name | description |\n|---|---|\n| a | something long |";
        assert_eq!(plain(src, 16), ["name ·", "description", "a · something", "long"]);
    }

    #[test]
    fn rules_span_the_width() {
        assert_eq!(plain("a\n\n---\n\nb", 5), ["a", "", "─────", "", "b"]);
    }

    #[test]
    fn task_list_markers_show_as_boxes() {
        assert_eq!(plain("- [x] done\n- [ ] todo", 20), ["• [x] done", "• [ ] todo"]);
    }
}
