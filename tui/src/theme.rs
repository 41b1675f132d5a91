//! The dashboard's styles, in one place.
//!
//! Rules it keeps:
//! - With colour off (`NO_COLOR` set and non-empty, <https://no-color.org>) every style is built
//!   from modifiers only (bold, dim, reversed, underlined), so nothing is lost but the hue.
//! - Panes ask for a style by what it means (`error`, `selected`), never by colour.

use ratatui::style::{Color, Modifier, Style};

/// Colour on or off, and the styles that follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// Colour unless `NO_COLOR` is set to a non-empty value.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: !no_color }
    }

    /// Colour off (snapshot tests: the text is what they compare).
    pub const PLAIN: Self = Self { color: false };

    fn fg(self, color: Color, fallback: Modifier) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new().add_modifier(fallback) }
    }

    /// Plain text.
    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text: hints, timestamps, borders of inactive parts.
    pub fn dim(self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }

    /// Titles, the active tab, key names in hints.
    pub fn accent(self) -> Style {
        self.fg(Color::Cyan, Modifier::BOLD).add_modifier(Modifier::BOLD)
    }

    /// Success: ready workers, approved requests, `ok` tool results.
    pub fn ok(self) -> Style {
        self.fg(Color::Green, Modifier::empty())
    }

    /// Failure: errors, denied requests, failed workers, the lost-connection banner.
    pub fn error(self) -> Style {
        self.fg(Color::Red, Modifier::BOLD)
    }

    /// Attention: pending approvals, workers restarting, the slowest path of a trace.
    pub fn warn(self) -> Style {
        self.fg(Color::Yellow, Modifier::UNDERLINED)
    }

    /// The selected row of a list or table.
    pub fn selected(self) -> Style {
        if self.color {
            Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    /// Something that just changed (a worker that changed state), shown briefly.
    pub fn flash(self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// The user's own messages in the chat.
    pub fn user(self) -> Style {
        self.fg(Color::Blue, Modifier::BOLD).add_modifier(Modifier::BOLD)
    }

    /// Tool calls in the chat and function ids elsewhere.
    pub fn tool(self) -> Style {
        self.fg(Color::Magenta, Modifier::ITALIC)
    }

    /// A diff's added lines.
    pub fn added(self) -> Style {
        self.fg(Color::Green, Modifier::BOLD)
    }

    /// A diff's removed lines.
    pub fn removed(self) -> Style {
        self.fg(Color::Red, Modifier::DIM)
    }
}
