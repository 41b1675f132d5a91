//! Wrapping styled text to a width in terminal columns.
//!
//! Rules it keeps:
//! - Widths are terminal columns (`unicode-width`), never bytes or chars; a tab counts as four
//!   spaces.
//! - [`words`] breaks between words and keeps each span's style; a word wider than the line is
//!   cut where the line ends. Continuation lines drop the spaces the break fell on, the first line
//!   keeps its leading spaces (indented text stays indented).
//! - [`hard`] cuts at the width and keeps every space (code, where spacing is meaning).
//! - Every output line starts with a prefix (a marker on the first line, an indent on the rest),
//!   and an empty input still gives one line, so a blank line stays a blank line.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Spaces a tab expands to.
const TAB: &str = "    ";

/// The width of `text` in terminal columns.
pub fn width(text: &str) -> usize {
    text.width()
}

/// The width of a run of spans.
pub fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.width()).sum()
}

/// The prefixes of a wrapped block: `first` opens the first line, `rest` every other.
#[derive(Debug, Clone, Default)]
pub struct Prefix {
    pub first: Vec<Span<'static>>,
    pub rest: Vec<Span<'static>>,
}

impl Prefix {
    /// The same prefix on every line.
    pub fn same(spans: Vec<Span<'static>>) -> Self {
        Self { first: spans.clone(), rest: spans }
    }

    /// `marker` on the first line, as many spaces under it on the others.
    pub fn hanging(marker: Span<'static>) -> Self {
        let indent = " ".repeat(marker.content.width());
        Self { first: vec![marker], rest: vec![Span::raw(indent)] }
    }
}

/// A line being filled.
struct Filler<'p> {
    width: usize,
    prefix: &'p Prefix,
    lines: Vec<Line<'static>>,
    spans: Vec<Span<'static>>,
    /// Columns used after the prefix.
    used: usize,
}

impl<'p> Filler<'p> {
    fn new(width: usize, prefix: &'p Prefix) -> Self {
        Self { width, prefix, lines: Vec::new(), spans: prefix.first.clone(), used: 0 }
    }

    /// Columns available after the prefix of the current line (at least one, so text always
    /// makes progress however narrow the area).
    fn room(&self) -> usize {
        let prefix = if self.lines.is_empty() { &self.prefix.first } else { &self.prefix.rest };
        self.width.saturating_sub(spans_width(prefix)).max(1)
    }

    fn free(&self) -> usize {
        self.room().saturating_sub(self.used)
    }

    fn push(&mut self, text: &str, style: Style, cols: usize) {
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some(last) if last.style == style && self.used > 0 => last.content.to_mut().push_str(text),
            _ => self.spans.push(Span::styled(text.to_string(), style)),
        }
        self.used += cols;
    }

    fn break_line(&mut self) {
        let spans = std::mem::replace(&mut self.spans, self.prefix.rest.clone());
        self.lines.push(Line::from(spans));
        self.used = 0;
    }

    /// Puts `text` on the lines char by char, breaking wherever the line is full.
    fn cut(&mut self, text: &str, style: Style) {
        let mut piece = String::new();
        let mut cols = 0;
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if self.used + cols + w > self.room() && self.used + cols > 0 {
                self.push(&piece, style, cols);
                piece.clear();
                cols = 0;
                self.break_line();
            }
            piece.push(c);
            cols += w;
        }
        self.push(&piece, style, cols);
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        self.lines.push(Line::from(self.spans));
        self.lines
    }
}

/// One run of text of one kind (spaces or not) and one style.
struct Piece<'a> {
    text: &'a str,
    style: Style,
    space: bool,
}

/// Splits spans into runs of spaces and runs of other characters.
fn pieces<'a>(spans: &'a [Span<'a>]) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    for span in spans {
        let text = span.content.as_ref();
        let mut start = 0;
        let mut space = None;
        for (i, c) in text.char_indices() {
            let is_space = c == ' ' || c == '\t';
            if space != Some(is_space) {
                if let Some(kind) = space
                    && i > start
                {
                    out.push(Piece { text: &text[start..i], style: span.style, space: kind });
                }
                start = i;
                space = Some(is_space);
            }
        }
        if let Some(kind) = space
            && start < text.len()
        {
            out.push(Piece { text: &text[start..], style: span.style, space: kind });
        }
    }
    out
}

/// Expands tabs; borrowed when there are none.
fn detab(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\t') { text.replace('\t', TAB).into() } else { text.into() }
}

/// Word-wraps one logical line (no `\n` inside) to `width` columns.
pub fn words(spans: &[Span<'_>], width: usize, prefix: &Prefix) -> Vec<Line<'static>> {
    let mut filler = Filler::new(width, prefix);
    let pieces = pieces(spans);
    let mut i = 0;
    let mut pending: Vec<(String, Style)> = Vec::new();
    let mut at_start = true;
    while i < pieces.len() {
        if pieces[i].space {
            let text = detab(pieces[i].text).into_owned();
            if at_start {
                // Leading spaces of the first line are content: indented text stays indented.
                let cols = width_of(&text);
                if cols <= filler.free() {
                    filler.push(&text, pieces[i].style, cols);
                }
            } else {
                pending.push((text, pieces[i].style));
            }
            i += 1;
            continue;
        }
        at_start = false;
        // A word is every non-space piece up to the next space, whatever its styles.
        let end = (i..pieces.len()).find(|&j| pieces[j].space).unwrap_or(pieces.len());
        let word = &pieces[i..end];
        let word_cols: usize = word.iter().map(|p| width_of(p.text)).sum();
        let space_cols: usize = pending.iter().map(|(t, _)| width_of(t)).sum();
        if filler.used > 0 && space_cols + word_cols > filler.free() {
            filler.break_line();
            pending.clear();
        }
        for (text, style) in pending.drain(..) {
            let cols = width_of(&text);
            filler.push(&text, style, cols);
        }
        for piece in word {
            if width_of(piece.text) <= filler.free() {
                filler.push(piece.text, piece.style, width_of(piece.text));
            } else {
                filler.cut(piece.text, piece.style);
            }
        }
        i = end;
    }
    filler.finish()
}

fn width_of(text: &str) -> usize {
    text.width()
}

/// Cuts one logical line at exactly `width` columns, keeping every space (code).
pub fn hard(spans: &[Span<'_>], width: usize, prefix: &Prefix) -> Vec<Line<'static>> {
    let mut filler = Filler::new(width, prefix);
    for span in spans {
        filler.cut(&detab(&span.content), span.style);
    }
    filler.finish()
}

/// Word-wraps plain text of one style: every `\n` starts a new logical line, and each logical
/// line is wrapped under the prefix (the first line of the text takes `prefix.first`).
pub fn text(text: &str, style: Style, width: usize, prefix: &Prefix) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let rest = Prefix::same(prefix.rest.clone());
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let p = if i == 0 { prefix } else { &rest };
        out.extend(words(&[Span::styled(line, style)], width, p));
    }
    out
}

/// `text` cut to `cols` columns, ending in `…` when it was longer.
pub fn truncate(text: &str, cols: usize) -> String {
    if text.width() <= cols {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > cols {
            break;
        }
        out.push(c);
        used += w;
    }
    if cols > 0 {
        out.push('…');
    }
    out
}

/// `spans` cut to `max` columns, the last one kept ending in `…`.
pub fn cut(spans: Vec<Span<'static>>, max: usize) -> Line<'static> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let cols = span.content.width();
        if used + cols <= max {
            used += cols;
            out.push(span);
        } else {
            out.push(Span::styled(truncate(&span.content, max - used), span.style));
            break;
        }
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use ratatui::style::Modifier;

    use super::*;

    fn plain(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn words_break_between_words_and_drop_the_space_at_the_break() {
        let lines = words(&[Span::raw("the quick brown fox jumps")], 10, &Prefix::default());
        assert_eq!(plain(&lines), ["the quick", "brown fox", "jumps"]);
    }

    #[test]
    fn a_word_wider_than_the_line_is_cut_where_the_line_ends() {
        let lines = words(&[Span::raw("ab abcdefghij")], 5, &Prefix::default());
        assert_eq!(plain(&lines), ["ab", "abcde", "fghij"]);
    }

    #[test]
    fn widths_are_columns_so_wide_characters_count_twice() {
        let lines = words(&[Span::raw("日本語のテキスト")], 6, &Prefix::default());
        assert_eq!(plain(&lines), ["日本語", "のテキ", "スト"]);
        assert!(lines.iter().all(|l| l.width() <= 6));
    }

    #[test]
    fn styles_survive_the_wrap_and_words_may_cross_spans() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let spans = [Span::raw("see "), Span::styled("bold", bold), Span::raw(", then more")];
        let lines = words(&spans, 9, &Prefix::default());
        assert_eq!(plain(&lines), ["see bold,", "then more"]);
        assert_eq!(lines[0].spans, [Span::raw("see "), Span::styled("bold", bold), Span::raw(",")]);
        let lines = words(&spans, 4, &Prefix::default());
        assert_eq!(plain(&lines), ["see", "bold", ",", "then", "more"]);
    }

    #[test]
    fn the_prefix_marks_the_first_line_and_indents_the_rest() {
        let lines = words(&[Span::raw("one two three four")], 9, &Prefix::hanging(Span::raw("- ")));
        assert_eq!(plain(&lines), ["- one two", "  three", "  four"]);
    }

    #[test]
    fn leading_spaces_of_the_first_line_are_kept() {
        let lines = words(&[Span::raw("    indented")], 20, &Prefix::default());
        assert_eq!(plain(&lines), ["    indented"]);
    }

    #[test]
    fn an_empty_line_stays_one_line() {
        assert_eq!(plain(&words(&[], 10, &Prefix::hanging(Span::raw("> ")))), ["> "]);
    }

    #[test]
    fn hard_wrapping_keeps_every_space() {
        let lines = hard(&[Span::raw("let  x =\t1;")], 6, &Prefix::default());
        assert_eq!(plain(&lines), ["let  x", " =    ", "1;"]);
    }

    #[test]
    fn plain_text_starts_a_line_at_every_newline() {
        let lines = text("a b c\n\nd", Style::new(), 3, &Prefix::hanging(Span::raw("› ")));
        assert_eq!(plain(&lines), ["› a", "  b", "  c", "  ", "  d"]);
    }

    #[test]
    fn truncation_ends_in_an_ellipsis_within_the_width() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("日本語", 4), "日…");
    }
}
