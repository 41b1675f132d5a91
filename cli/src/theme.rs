//! The CLI's colours, in one place: named ANSI colours only, dim for secondary text, cyan for
//! hints and the prompt, green/red for success/error, yellow for what a policy blocked.
//!
//! Rules it keeps:
//! - Colour is on only when stdout is a terminal and `NO_COLOR` is unset or empty
//!   (<https://no-color.org>); with colour off every helper returns its text unchanged.

use std::io::IsTerminal;

/// Whether to colour output, and the helpers that do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// `true` to emit ANSI escapes.
    pub color: bool,
}

impl Theme {
    /// Colour for stdout as it is now: a terminal and no `NO_COLOR`.
    pub fn for_stdout() -> Self {
        Self::decide(std::env::var_os("NO_COLOR").as_deref(), std::io::stdout().is_terminal())
    }

    /// Colour iff the output is a terminal and `no_color` (the `NO_COLOR` value) is unset or empty.
    pub fn decide(no_color: Option<&std::ffi::OsStr>, is_terminal: bool) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Self { color: is_terminal && !no_color }
    }

    /// A theme that never colours (tests of plain output).
    #[cfg(test)]
    pub const PLAIN: Self = Self { color: false };

    /// A theme that always colours (tests of the escapes).
    #[cfg(test)]
    pub const ANSI: Self = Self { color: true };

    fn paint(self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    /// Secondary text: tool calls, footers, notes.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Failures.
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Success.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// What a policy blocked.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Hints and the prompt.
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_theme_adds_no_escapes_and_a_coloured_one_resets_after_each_span() {
        assert_eq!(Theme::PLAIN.red("x"), "x");
        assert_eq!(Theme::ANSI.red("x"), "\x1b[31mx\x1b[0m");
        assert_eq!(Theme::ANSI.dim("x"), "\x1b[2mx\x1b[0m");
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        use std::ffi::OsStr;
        assert_eq!(Theme::decide(None, true), Theme::ANSI);
        assert_eq!(Theme::decide(Some(OsStr::new("")), true), Theme::ANSI);
        assert_eq!(Theme::decide(Some(OsStr::new("1")), true), Theme::PLAIN);
        assert_eq!(Theme::decide(None, false), Theme::PLAIN);
    }
}
