//! Test helpers: draw into a fixed-size `TestBackend` and read the screen back as text.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::event::AppEvent;
use crate::pane::Pane;

/// The screen after drawing `pane` over the whole `width` × `height` area, one line per row,
/// trailing spaces kept (snapshots show the layout exactly).
pub fn render_pane(pane: &mut dyn Pane, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test backend never fails");
    terminal.draw(|frame| pane.render(frame, Rect::new(0, 0, width, height))).expect("drawing into a test backend");
    screen(terminal.backend())
}

/// The screen after drawing the whole app.
pub fn render_app(app: &mut crate::App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test backend never fails");
    terminal.draw(|frame| app.render(frame)).expect("drawing into a test backend");
    screen(terminal.backend())
}

/// The backend's buffer as text.
pub fn screen(backend: &TestBackend) -> String {
    let buffer = backend.buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// A key press without modifiers.
pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// A key press with modifiers.
pub fn key_with(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

/// Every event raised so far.
pub fn drain(rx: &mut UnboundedReceiver<AppEvent>) -> Vec<AppEvent> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        out.push(event);
    }
    out
}
