//! The real terminal: raw mode, the alternate screen, mouse capture and bracketed paste on the
//! way in, all of it undone on the way out.
//!
//! Rules it keeps:
//! - The terminal is restored however the dashboard ends: on return and on error (the guard's
//!   `Drop`), and on a panic (a hook that restores it before the previous hook prints the panic,
//!   so the message lands on the normal screen, readable).
//! - Restoring twice is harmless.

use std::io::{Stdout, Write, stdout};
use std::sync::Once;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// The terminal the dashboard draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the dashboard runs; restores it when dropped.
pub struct TerminalGuard {
    terminal: Term,
}

impl TerminalGuard {
    /// Takes over the terminal (and installs the panic hook, once per process).
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        // From here on a failure must undo what was done. The screen is cleared here rather than
        // with `Terminal::clear`, which asks the terminal where its cursor is and fails on one that
        // does not answer.
        let entered =
            execute!(stdout(), EnterAlternateScreen, Clear(ClearType::All), EnableMouseCapture, EnableBracketedPaste)
                .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
        match entered {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn terminal_mut(&mut self) -> &mut Term {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode, releases the mouse and paste modes, shows the cursor.
/// Errors are ignored: there is nothing better to do with them on the way out.
pub fn restore() {
    let mut out = stdout();
    let _ = execute!(out, DisableBracketedPaste, DisableMouseCapture, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
