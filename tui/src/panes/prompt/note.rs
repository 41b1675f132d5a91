//! The one-line note a person writes to the model when denying a call (`N`).
//!
//! Rules it keeps:
//! - The cursor is a char index, always on a char boundary; widths are display cells, so wide
//!   characters scroll the window correctly.
//! - The window shows the cursor: it scrolls only when the cursor would leave it.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use unicode_width::UnicodeWidthChar;

/// What a key did to the note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKey {
    /// Still editing.
    Editing,
    /// Enter: send the denial with this text.
    Submit(String),
    /// Esc: back to the prompt's keys.
    Cancel,
}

/// The text and its cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    chars: Vec<char>,
    cursor: usize,
}

impl Note {
    /// The text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Edits the note with `key`.
    pub fn on_key(&mut self, key: KeyEvent) -> NoteKey {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return NoteKey::Submit(self.text()),
            KeyCode::Esc => return NoteKey::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.chars.drain(..self.cursor);
                self.cursor = 0;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.chars.len(),
            KeyCode::Char(c) if !ctrl => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            KeyCode::Delete if self.cursor < self.chars.len() => {
                self.chars.remove(self.cursor);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.chars.len(),
            _ => {}
        }
        NoteKey::Editing
    }

    /// Pasted text, newlines turned into spaces (the note is one line).
    pub fn paste(&mut self, text: &str) {
        for c in text.chars() {
            let c = if c == '\n' || c == '\r' { ' ' } else { c };
            self.chars.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    /// The part shown in `width` cells and the cursor's column within it.
    pub fn window(&self, width: usize) -> (String, usize) {
        if width == 0 {
            return (String::new(), 0);
        }
        let cell = |c: &char| c.width().unwrap_or(0);
        // Start as far left as possible while the cursor (plus one cell for it) still fits.
        let mut start = self.cursor;
        let mut used = 1;
        while start > 0 && used + cell(&self.chars[start - 1]) <= width {
            start -= 1;
            used += cell(&self.chars[start]);
        }
        let mut shown = String::new();
        let mut cells = 0;
        let mut column = 0;
        for (i, c) in self.chars.iter().enumerate().skip(start) {
            if i == self.cursor {
                column = cells;
            }
            if cells + cell(c) > width {
                break;
            }
            shown.push(*c);
            cells += cell(c);
        }
        if self.cursor == self.chars.len() {
            column = cells;
        }
        (shown, column.min(width - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{key, key_with};
    use pretty_assertions::assert_eq;

    fn typed(text: &str) -> Note {
        let mut note = Note::default();
        for c in text.chars() {
            note.on_key(key(KeyCode::Char(c)));
        }
        note
    }

    #[test]
    fn typing_editing_and_submitting_a_note() {
        let mut note = typed("use stagin");
        note.on_key(key(KeyCode::Backspace));
        note.on_key(key(KeyCode::Home));
        note.on_key(key(KeyCode::Char('>')));
        assert_eq!(note.text(), ">use stagi");
        assert_eq!(note.on_key(key(KeyCode::Enter)), NoteKey::Submit(">use stagi".into()));
        note.on_key(key(KeyCode::End));
        note.on_key(key_with(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(note.text(), "");
        assert_eq!(note.on_key(key(KeyCode::Esc)), NoteKey::Cancel);
    }

    #[test]
    fn the_window_follows_the_cursor() {
        let note = typed("abcdefghij");
        assert_eq!(note.window(5), ("ghij".to_string(), 4));
        let mut note = note;
        note.on_key(key(KeyCode::Home));
        assert_eq!(note.window(5), ("abcde".to_string(), 0));
    }
}
