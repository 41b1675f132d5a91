//! Slash commands: parsing what was typed, the hint line shown while typing one, and the help.
//!
//! Rules it keeps:
//! - A message starting with `/` is a command; `//` sends the rest as a message starting with `/`.
//! - A command's name may be shortened to any prefix that names one command (`/se` is `/sessions`).
//! - The hint line names the commands that match what is typed, and once one is chosen, its usage.

use ratatui::text::{Line, Span};

use super::wrap;
use crate::pane::KeyHelp;
use crate::theme::Theme;

/// A command of the composer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[Command] = &[
    Command { name: "hand", args: "[NAME]", help: "use hand NAME for the next turns; alone, list the hands" },
    Command { name: "model", args: "[NAME]", help: "send model NAME with the next turns; alone, show the model" },
    Command { name: "new", args: "", help: "start a new session (the transcript is cleared)" },
    Command { name: "sessions", args: "[NAME|ID]", help: "list recent sessions; with a name or id, resume it" },
    Command { name: "rename", args: "NAME", help: "rename this session" },
    Command { name: "clear", args: "", help: "clear the transcript (the session goes on)" },
    Command { name: "help", args: "", help: "list the commands and keys" },
];

/// What the composer's text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message for the agent.
    Message(String),
    /// A command and its argument (trimmed, `None` when empty).
    Command(&'static Command, Option<String>),
    /// A `/word` that names no command (or more than one).
    Unknown(String),
}

/// Reads what was typed.
pub fn parse(text: &str) -> Input {
    let Some(rest) = text.strip_prefix('/') else { return Input::Message(text.to_string()) };
    if rest.starts_with('/') {
        return Input::Message(rest.to_string());
    }
    let (word, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let arg = arg.trim();
    match lookup(word) {
        Some(command) => Input::Command(command, (!arg.is_empty()).then(|| arg.to_string())),
        None => Input::Unknown(word.to_string()),
    }
}

/// The command `word` names: exactly, or as the prefix of one command only.
fn lookup(word: &str) -> Option<&'static Command> {
    if let Some(exact) = COMMANDS.iter().find(|c| c.name == word) {
        return Some(exact);
    }
    let mut matching = COMMANDS.iter().filter(|c| !word.is_empty() && c.name.starts_with(word));
    match (matching.next(), matching.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The hint shown above the composer while it holds a command, cut to `width`.
pub fn hint(text: &str, width: usize, theme: Theme) -> Option<Line<'static>> {
    let rest = text.strip_prefix('/')?;
    if rest.starts_with('/') || text.contains('\n') {
        return None;
    }
    let (word, arg) = rest.split_once(char::is_whitespace).map_or((rest, None), |(w, a)| (w, Some(a)));
    let matching: Vec<&Command> = COMMANDS.iter().filter(|c| c.name.starts_with(word)).collect();
    let spans = match (lookup(word), matching.as_slice()) {
        (Some(command), _) if arg.is_some() || matching.len() == 1 => usage(command, theme),
        (_, []) => vec![
            Span::styled(format!("no command /{word}"), theme.warn()),
            Span::styled(" · /help lists them", theme.dim()),
        ],
        (_, many) => {
            let mut spans = Vec::new();
            for command in many {
                spans.push(Span::styled(format!("/{}", command.name), theme.accent()));
                if !command.args.is_empty() {
                    spans.push(Span::styled(format!(" {}", command.args), theme.dim()));
                }
                spans.push(Span::raw("  "));
            }
            spans
        }
    };
    Some(wrap::cut(spans, width))
}

fn usage(command: &Command, theme: Theme) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(format!("/{}", command.name), theme.accent())];
    if !command.args.is_empty() {
        spans.push(Span::styled(format!(" {}", command.args), theme.accent()));
    }
    spans.push(Span::styled(format!("  {}", command.help), theme.dim()));
    spans
}

/// The column the descriptions of the `/help` rows start at.
pub const HELP_HANG: usize = 22;

/// The rows of the `/help` cell: the commands, then the keys.
pub fn help_rows(keys: &[KeyHelp], theme: Theme) -> Vec<Line<'static>> {
    let mut rows = Vec::new();
    for command in COMMANDS {
        let name = format!("/{} {}", command.name, command.args);
        rows.push(Line::from(vec![
            Span::styled(format!("{name:<HELP_HANG$}"), theme.accent()),
            Span::raw(command.help),
        ]));
    }
    rows.push(Line::from(vec![
        Span::styled(format!("{:<HELP_HANG$}", "//text"), theme.accent()),
        Span::raw("send a message that starts with /"),
    ]));
    rows.push(Line::default());
    for (key, what) in keys {
        rows.push(Line::from(vec![Span::styled(format!("{key:<HELP_HANG$}"), theme.accent()), Span::raw(*what)]));
    }
    rows
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn command(name: &str) -> &'static Command {
        COMMANDS.iter().find(|c| c.name == name).unwrap_or(&COMMANDS[0])
    }

    #[test]
    fn commands_take_a_trimmed_argument_and_a_unique_prefix() {
        assert_eq!(parse("/rename  my fix "), Input::Command(command("rename"), Some("my fix".into())));
        assert_eq!(parse("/se"), Input::Command(command("sessions"), None));
        assert_eq!(parse("/h"), Input::Unknown("h".into()), "hand or help");
        assert_eq!(parse("/nope x"), Input::Unknown("nope".into()));
    }

    #[test]
    fn plain_text_and_a_double_slash_are_messages() {
        assert_eq!(parse("hello"), Input::Message("hello".into()));
        assert_eq!(parse("//etc/hosts"), Input::Message("/etc/hosts".into()));
    }

    #[test]
    fn the_hint_lists_matches_then_shows_the_usage() {
        let text = |t: &str| hint(t, 200, Theme::PLAIN).map(|l| l.to_string());
        assert_eq!(text("/h").as_deref(), Some("/hand [NAME]  /help  "));
        assert_eq!(text("/hel").as_deref(), Some("/help  list the commands and keys"));
        assert_eq!(text("/rename x").as_deref(), Some("/rename NAME  rename this session"));
        assert_eq!(text("/zz").as_deref(), Some("no command /zz · /help lists them"));
        assert_eq!(text("hello"), None);
    }

    #[test]
    fn the_hint_is_cut_to_the_width() {
        let line = hint("/", 30, Theme::PLAIN).map(|l| l.width());
        assert!(line.is_some_and(|w| w <= 30));
    }
}
