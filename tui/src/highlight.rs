//! Syntax highlighting for code blocks, JSON and diffs, shared by every pane.
//!
//! Rules it keeps:
//! - syntect's default syntaxes and the `base16-ocean.dark` theme are loaded once, on first use.
//! - With colour off, or for a language syntect does not know, the text comes back unstyled
//!   (diffs keep their `+`/`-` markers, which carry the meaning).
//! - Lines are owned (`Line<'static>`), so panes can cache them.

use std::sync::OnceLock;

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use serde_json::Value;
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme as SyntaxTheme, ThemeSet};
use syntect::parsing::SyntaxSet;

use crate::theme::Theme;

struct Assets {
    syntaxes: SyntaxSet,
    theme: SyntaxTheme,
}

fn assets() -> Option<&'static Assets> {
    static ASSETS: OnceLock<Option<Assets>> = OnceLock::new();
    ASSETS
        .get_or_init(|| {
            let syntaxes = SyntaxSet::load_defaults_newlines();
            let mut themes = ThemeSet::load_defaults();
            let theme = themes.themes.remove("base16-ocean.dark")?;
            Some(Assets { syntaxes, theme })
        })
        .as_ref()
}

/// `code` highlighted as `lang` (a fence's info string: `rust`, `py`, `json`, `sh`, …), one
/// `Line` per line of the code.
pub fn code(code: &str, lang: &str, theme: Theme) -> Vec<Line<'static>> {
    let plain = || code.lines().map(|l| Line::raw(l.to_string())).collect();
    if !theme.color {
        return plain();
    }
    let Some(assets) = assets() else { return plain() };
    let token = lang.split_whitespace().next().unwrap_or("");
    let syntax =
        assets.syntaxes.find_syntax_by_token(token).or_else(|| assets.syntaxes.find_syntax_by_extension(token));
    let Some(syntax) = syntax else { return plain() };
    let mut highlighter = HighlightLines::new(syntax, &assets.theme);
    let mut lines = Vec::new();
    for line in syntect::util::LinesWithEndings::from(code) {
        let Ok(ranges) = highlighter.highlight_line(line, &assets.syntaxes) else {
            lines.push(Line::raw(line.trim_end_matches(['\n', '\r']).to_string()));
            continue;
        };
        let spans: Vec<Span<'static>> = ranges
            .into_iter()
            .map(|(style, text)| {
                let fg = style.foreground;
                Span::styled(
                    text.trim_end_matches(['\n', '\r']).to_string(),
                    Style::new().fg(Color::Rgb(fg.r, fg.g, fg.b)),
                )
            })
            .filter(|span| !span.content.is_empty())
            .collect();
        lines.push(Line::from(spans));
    }
    lines
}

/// `value` pretty-printed and highlighted as JSON.
pub fn json(value: &Value, theme: Theme) -> Vec<Line<'static>> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    code(&text, "json", theme)
}

/// A unified diff: added lines in the theme's `added`, removed in `removed`, hunk headers dim.
pub fn diff(diff: &str, theme: Theme) -> Vec<Line<'static>> {
    diff.lines()
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                theme.accent()
            } else if line.starts_with('+') {
                theme.added()
            } else if line.starts_with('-') {
                theme.removed()
            } else if line.starts_with("@@") {
                theme.dim()
            } else {
                theme.text()
            };
            Line::styled(line.to_string(), style)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn highlighting_keeps_the_text_line_for_line() {
        let src = "fn main() {\n    println!(\"hi\");\n}\n";
        let lines = code(src, "rust", Theme { color: true });
        assert_eq!(text(&lines), ["fn main() {", "    println!(\"hi\");", "}"]);
        assert!(lines[0].spans.len() > 1, "rust is coloured: {lines:?}");
    }

    #[test]
    fn without_colour_or_a_known_language_the_text_is_plain() {
        assert_eq!(code("a\nb", "rust", Theme::PLAIN), vec![Line::raw("a"), Line::raw("b")]);
        assert_eq!(text(&code("x y", "no-such-language", Theme { color: true })), ["x y"]);
    }

    #[test]
    fn json_is_pretty_printed() {
        let lines = json(&serde_json::json!({"a": 1}), Theme::PLAIN);
        assert_eq!(text(&lines), ["{", "  \"a\": 1", "}"]);
    }

    #[test]
    fn diff_lines_keep_their_markers() {
        let lines = diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new", Theme::PLAIN);
        assert_eq!(text(&lines), ["--- a/x", "+++ b/x", "@@ -1 +1 @@", "-old", "+new"]);
    }
}
