//! The replay pane: pick a recorded session, then step through it, the chat as it stood at
//! each step on the left and the step in detail on the right, or play it back at 1× or 4×.
//!
//! Rules it keeps:
//! - It asks for `GET /v1/sessions?limit=200` (key `sessions`), a session's totals `GET
//!   /v1/sessions/:id/summary` (key `summary:<id>`), its events a page at a time `GET
//!   /v1/sessions/:id/events?from_seq=&limit=1000` (key `events:<id>`, the next page from one
//!   past the last `seq` while pages come back full), and with a session named on the command
//!   line `GET /v1/sessions/<id or name>` first (key `resolve`). Answers for a session no longer
//!   open are dropped.
//! - Typing goes to the filter only after `/`, until Enter or Esc ([`Pane::wants_text_input`]).
//! - `session_started` and `session_state` on the bus refresh the list while it is shown; one
//!   list request at a time, a change seen meanwhile asks again once it is answered.
//! - Failed requests are shown in the pane, never panicked on.
//!
//! The parts: [`events`] (the API's records), [`timeline`] (the chat at any step), [`player`]
//! (playback timing), [`sessions`] (the picker), [`session`] (a session being replayed),
//! [`chat`] and [`detail`] (its two sides).

pub mod chat;
pub mod detail;
pub mod events;
pub mod player;
pub mod session;
pub mod sessions;
pub mod timeline;

#[cfg(test)]
mod tests;

use std::time::Instant;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};
use serde_json::Value;

use crate::event::{ApiError, AppEvent, AppEventSender, PaneId, segment};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::theme::Theme;
use events::{Session, Summary};
use player::Speed;
use session::SessionView;
use sessions::{Load, SessionList, Totals};

/// Keys of the picker.
const LIST_KEYS: &[KeyHelp] = &[
    ("↑/↓ j/k", "select"),
    ("Enter", "replay the session"),
    ("/", "filter by name, id or hand"),
    ("r", "refresh"),
    ("Esc", "clear the filter"),
    ("Home/End", "first / last"),
];

/// Keys while the filter is typed.
const FILTER_KEYS: &[KeyHelp] = &[
    ("Enter", "keep the filter"),
    ("Esc", "clear the filter"),
    ("↑/↓", "select"),
    ("Backspace", "delete a character"),
];

/// Keys of a session being replayed.
const SESSION_KEYS: &[KeyHelp] = &[
    ("←/→ h/l", "step"),
    ("Space", "play / pause"),
    ("+ / -", "speed 4× / 1×"),
    ("Home/End", "first / last step"),
    ("[ / ]", "previous / next turn"),
    ("Esc", "back to the sessions"),
    ("PgUp/PgDn", "scroll the step's detail"),
    ("r", "reload the session"),
];

/// What the pane shows.
enum View {
    List,
    /// A session named on the command line, being looked up (or not found).
    Resolving {
        name: String,
        error: Option<ApiError>,
    },
    Session(Box<SessionView>),
}

/// The replay pane.
pub struct ReplayPane {
    tx: AppEventSender,
    theme: Theme,
    list: SessionList,
    view: View,
    /// A bus event changed the sessions while a list request was out: ask again after it.
    stale: bool,
}

impl ReplayPane {
    /// The pane, asking for the sessions; with `session` (an id or a name) it opens that one.
    pub fn new(tx: AppEventSender, theme: Theme, session: Option<String>) -> Self {
        let mut pane = Self { tx, theme, list: SessionList::default(), view: View::List, stale: false };
        pane.request_list();
        if let Some(name) = session.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            pane.tx.get(PaneId::Replay, "resolve", format!("/v1/sessions/{}", segment(&name)));
            pane.view = View::Resolving { name, error: None };
        }
        pane
    }

    /// The session being replayed, if any.
    pub fn session(&self) -> Option<&SessionView> {
        match &self.view {
            View::Session(s) => Some(s),
            _ => None,
        }
    }

    /// The picker.
    pub fn list(&self) -> &SessionList {
        &self.list
    }

    fn request_list(&mut self) {
        self.list.load = Load::Loading;
        self.tx.get(PaneId::Replay, "sessions", sessions::path());
    }

    fn request_totals(&mut self, id: &str) {
        self.list.totals.insert(id.to_string(), Totals::Pending);
        self.tx.get(PaneId::Replay, format!("summary:{id}"), format!("/v1/sessions/{}/summary", segment(id)));
    }

    /// Asks for the selected session's totals unless they are known or asked for.
    fn want_totals(&mut self) {
        let Some(id) = self.list.selected().map(|s| s.id.clone()) else { return };
        if !self.list.totals.contains_key(&id) {
            self.request_totals(&id);
        }
    }

    /// Opens `session`: its first page of events and fresh totals are asked for.
    pub fn open(&mut self, session: Session) {
        let id = session.id.clone();
        self.view = View::Session(Box::new(SessionView::new(session)));
        self.request_page(&id, 0);
        self.request_totals(&id);
    }

    fn request_page(&self, id: &str, from_seq: u64) {
        self.tx.get(PaneId::Replay, format!("events:{id}"), events::page_path(id, from_seq));
    }

    fn on_list_key(&mut self, key: KeyEvent) -> EventState {
        if self.list.typing {
            return self.on_filter_key(key);
        }
        let len = self.list.len();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.list.scroll.step(-1, len),
            KeyCode::Down | KeyCode::Char('j') => self.list.scroll.step(1, len),
            KeyCode::PageUp => self.list.scroll.step(-10, len),
            KeyCode::PageDown => self.list.scroll.step(10, len),
            KeyCode::Home | KeyCode::Char('g') => self.list.scroll.home(),
            KeyCode::End | KeyCode::Char('G') => self.list.scroll.end(len),
            KeyCode::Char('/') => self.list.typing = true,
            KeyCode::Esc if !self.list.filter.is_empty() => self.list.set_filter(String::new()),
            KeyCode::Char('r') => self.request_list(),
            KeyCode::Enter => {
                let Some(session) = self.list.selected().cloned() else { return EventState::Consumed };
                self.open(session);
                return EventState::Consumed;
            }
            _ => return EventState::NotConsumed,
        }
        self.want_totals();
        EventState::Consumed
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> EventState {
        let len = self.list.len();
        match key.code {
            KeyCode::Enter => self.list.typing = false,
            KeyCode::Esc => {
                self.list.typing = false;
                self.list.set_filter(String::new());
            }
            KeyCode::Backspace => {
                let mut filter = self.list.filter.clone();
                filter.pop();
                self.list.set_filter(filter);
            }
            KeyCode::Up => self.list.scroll.step(-1, len),
            KeyCode::Down => self.list.scroll.step(1, len),
            KeyCode::Char(c) => {
                let filter = format!("{}{c}", self.list.filter);
                self.list.set_filter(filter);
            }
            _ => {}
        }
        self.want_totals();
        EventState::Consumed
    }

    fn on_session_key(&mut self, key: KeyEvent) -> EventState {
        let View::Session(view) = &mut self.view else { return EventState::NotConsumed };
        match key.code {
            KeyCode::Esc | KeyCode::Backspace => {
                self.view = View::List;
                self.want_totals();
            }
            KeyCode::Left | KeyCode::Char('h') => view.step_by(-1),
            KeyCode::Right | KeyCode::Char('l') => view.step_by(1),
            KeyCode::Home | KeyCode::Char('g') => {
                view.player.pause();
                view.go(0);
            }
            KeyCode::End | KeyCode::Char('G') => {
                view.player.pause();
                view.go(usize::MAX);
            }
            KeyCode::Char('[') => view.jump_turn(false),
            KeyCode::Char(']') => view.jump_turn(true),
            KeyCode::Char(' ') => view.toggle_play(Instant::now()),
            KeyCode::Char('+' | '=') => view.set_speed(Speed::X4),
            KeyCode::Char('-') => view.set_speed(Speed::X1),
            KeyCode::PageUp => view.scroll_detail(false),
            KeyCode::PageDown => view.scroll_detail(true),
            KeyCode::Char('r') => {
                view.reset();
                let id = view.session.id.clone();
                self.request_page(&id, 0);
                self.request_totals(&id);
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_response(&mut self, key: &str, result: &Result<Value, ApiError>) {
        if key == "sessions" {
            return self.on_sessions(result);
        }
        if key == "resolve" {
            return self.on_resolved(result);
        }
        if let Some(id) = key.strip_prefix("summary:") {
            let totals = match result {
                Ok(answer) => Totals::Ready(Summary::from_json(answer)),
                Err(err) => Totals::Failed(err.message.clone()),
            };
            self.list.totals.insert(id.to_string(), totals);
            return;
        }
        if let Some(id) = key.strip_prefix("events:") {
            self.on_page(id, result);
        }
    }

    fn on_sessions(&mut self, result: &Result<Value, ApiError>) {
        match result {
            Ok(answer) => {
                let sessions = answer
                    .get("sessions")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().filter_map(Session::from_json).collect())
                    .unwrap_or_default();
                let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
                self.list.loaded(sessions, total);
                self.want_totals();
            }
            Err(err) => self.list.load = Load::Failed(err.clone()),
        }
        if std::mem::take(&mut self.stale) && matches!(self.view, View::List) {
            self.request_list();
        }
    }

    fn on_resolved(&mut self, result: &Result<Value, ApiError>) {
        let View::Resolving { name, .. } = &self.view else { return };
        let name = name.clone();
        match result.as_ref().map(Session::from_json) {
            Ok(Some(session)) => self.open(session),
            Ok(None) => {
                let error = ApiError {
                    status: 0,
                    code: "INVALID_ANSWER".into(),
                    message: "the answer named no session id".into(),
                };
                self.view = View::Resolving { name, error: Some(error) };
            }
            Err(err) => self.view = View::Resolving { name, error: Some(err.clone()) },
        }
    }

    fn on_page(&mut self, id: &str, result: &Result<Value, ApiError>) {
        let View::Session(view) = &mut self.view else { return };
        if view.session.id != id {
            return;
        }
        match result {
            Ok(answer) => {
                let page = events::list(answer);
                let next = events::next_page(&page);
                view.append(page);
                view.loading = next.is_some();
                if let Some(from_seq) = next {
                    self.request_page(id, from_seq);
                }
            }
            Err(err) => {
                view.loading = false;
                view.error = Some(err.clone());
            }
        }
    }

    fn render_resolving(&self, buf: &mut ratatui::buffer::Buffer, area: Rect, name: &str, error: Option<&ApiError>) {
        let theme = self.theme;
        let lines = match error {
            None => vec![Line::styled(format!(" Looking up session {name}…"), theme.dim())],
            Some(err) => {
                let headline = if err.status == 404 {
                    format!(" Session {name} was not found.")
                } else {
                    format!(" Session {name} could not be opened.")
                };
                vec![
                    Line::styled(headline, theme.error()),
                    Line::raw(""),
                    Line::styled(format!(" {}: {}", err.code, err.message), theme.text()),
                    Line::raw(""),
                    Line::styled(" A session is named by its id or its name. Esc: pick one from the list", theme.dim()),
                ]
            }
        };
        Paragraph::new(lines).wrap(Wrap { trim: false }).render(area, buf);
    }
}

impl Pane for ReplayPane {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return EventState::NotConsumed;
        }
        match &self.view {
            View::List => self.on_list_key(key),
            View::Session(_) => self.on_session_key(key),
            View::Resolving { .. } if matches!(key.code, KeyCode::Esc | KeyCode::Backspace) => {
                self.view = View::List;
                self.want_totals();
                EventState::Consumed
            }
            View::Resolving { .. } => EventState::NotConsumed,
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> EventState {
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => -1,
            MouseEventKind::ScrollDown => 1,
            _ => return EventState::NotConsumed,
        };
        match &mut self.view {
            View::List => {
                self.list.scroll.step(delta * 3, self.list.len());
                self.want_totals();
            }
            View::Session(view) => view.scroll_detail(delta > 0),
            View::Resolving { .. } => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Response { to: PaneId::Replay, key, result } => self.on_response(key, result),
            AppEvent::Bus { event, .. } if matches!(event.as_str(), "session_started" | "session_state") => {
                if !matches!(self.view, View::List) {
                    return;
                }
                if self.list.load == Load::Loading {
                    self.stale = true;
                } else {
                    self.request_list();
                }
            }
            _ => {}
        }
    }

    fn on_show(&mut self) {
        if matches!(self.view, View::List) && self.list.load != Load::Loading {
            self.request_list();
        }
    }

    fn on_tick(&mut self, now: Instant) -> bool {
        match &mut self.view {
            View::Session(view) => view.tick(now),
            _ => false,
        }
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        frame.render_widget(Clear, area);
        let theme = self.theme;
        let buf = frame.buffer_mut();
        match &mut self.view {
            View::List => self.list.render(buf, area, theme),
            View::Session(view) => {
                let totals = match self.list.totals.get(&view.session.id) {
                    Some(Totals::Ready(s)) => Some(s),
                    _ => None,
                };
                view.render(buf, area, totals, theme);
            }
            View::Resolving { name, error } => {
                let (name, error) = (name.clone(), error.clone());
                self.render_resolving(buf, area, &name, error.as_ref());
            }
        }
    }

    fn wants_text_input(&self) -> bool {
        matches!(self.view, View::List) && self.list.typing
    }

    fn keys(&self) -> &'static [KeyHelp] {
        match &self.view {
            View::List if self.list.typing => FILTER_KEYS,
            View::List => LIST_KEYS,
            View::Session(_) => SESSION_KEYS,
            View::Resolving { .. } => &[("Esc", "back to the sessions")],
        }
    }
}
