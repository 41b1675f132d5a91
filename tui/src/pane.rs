//! What every pane (and the approval prompt) offers the app.

use std::time::Instant;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyEvent, MouseEvent};
use ratatui::layout::Rect;

use crate::event::AppEvent;

/// Whether a pane used an input, so the app knows whether to try its own keys after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventState {
    Consumed,
    NotConsumed,
}

impl EventState {
    pub fn is_consumed(self) -> bool {
        self == EventState::Consumed
    }
}

/// One key of a pane's help: the key as shown (`"Ctrl-R"`) and what it does.
pub type KeyHelp = (&'static str, &'static str);

/// A pane of the dashboard. Panes hold an `AppEventSender` for the IO they need and never the app.
pub trait Pane {
    /// A key press while this pane is shown (after the prompt and the app's own keys).
    fn on_key(&mut self, key: KeyEvent) -> EventState;

    /// A mouse event over the pane (the wheel scrolls).
    fn on_mouse(&mut self, _mouse: MouseEvent) -> EventState {
        EventState::NotConsumed
    }

    /// Pasted text (bracketed paste).
    fn on_paste(&mut self, _text: &str) -> EventState {
        EventState::NotConsumed
    }

    /// An event addressed to this pane (`Response`/`Stream` with its id) or to every pane
    /// (`Bus`, `Connection`).
    fn on_event(&mut self, event: &AppEvent);

    /// The pane became the one shown (refresh what may be stale).
    fn on_show(&mut self) {}

    /// Called about every 100 ms; `true` asks for a redraw (timers, playback, highlights fading).
    fn on_tick(&mut self, _now: Instant) -> bool {
        false
    }

    /// Draws the pane into `area`.
    fn render(&mut self, frame: &mut Frame, area: Rect);

    /// `true` while the user is typing text (the composer, a search field): the app then leaves
    /// the digit keys and `?` to the pane, and only Tab, Shift-Tab, Alt-1..5 and Ctrl-C are its own.
    fn wants_text_input(&self) -> bool {
        false
    }

    /// The pane's keys, for `?` and the hint line (the first few are shown there).
    fn keys(&self) -> &'static [KeyHelp];
}
