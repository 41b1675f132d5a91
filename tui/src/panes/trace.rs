//! The trace pane: the recent turns, and for one of them the span tree with a waterfall
//! timeline (the slowest path highlighted) and the selected span's input, output and error.
//!
//! Rules it keeps:
//! - It asks for `GET /v1/traces?turns=1&limit=50` (key `list`), `GET /v1/traces/:id` (key
//!   `tree:<id>`) and the session's recorded steps of that trace, `GET
//!   /v1/replay/search?q=<id>&limit=1000` (key `io:<id>`): spans carry no input or output.
//!   Answers for a trace that is no longer open are dropped.
//! - `agentos trace ID` opens on the trace at once; Esc still leads back to the list.
//! - Failed requests are shown in the pane (a 404 as "not found"), never panicked on.
//!
//! The parts: [`model`] (span tree, critical path), [`waterfall`] (bar scaling), [`io`]
//! (matching recorded steps to spans), [`list`], [`view`] (an open trace), [`detail`], plus
//! [`format`] and [`scroll`], which the replay pane shares.

pub mod detail;
pub mod format;
pub mod io;
pub mod list;
pub mod model;
pub mod scroll;
pub mod view;
pub mod waterfall;

#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::widgets::Clear;

use crate::event::{AppEvent, AppEventSender, PaneId, segment};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::theme::Theme;
use list::{Known, Load, TraceList};
use model::{SpanTree, TraceRow};
use view::TraceView;

/// How many recorded steps the search for a trace's input and output asks for (the API's most).
pub const SEARCH_LIMIT: usize = 1000;

/// Keys of the list.
const LIST_KEYS: &[KeyHelp] = &[
    ("↑/↓ j/k", "select"),
    ("Enter", "open the trace"),
    ("r", "refresh"),
    ("Home/End", "first / last"),
    ("PgUp/PgDn", "page"),
];

/// Keys of an open trace.
const TRACE_KEYS: &[KeyHelp] = &[
    ("↑/↓ j/k", "select span"),
    ("←/→ h/l", "collapse / expand"),
    ("Enter", "span detail"),
    ("Esc/Bksp", "back to the list"),
    ("r", "refresh"),
    ("PgUp/PgDn", "page (the detail when open)"),
    ("Home/End", "first / last span"),
];

/// The trace pane.
pub struct TracePane {
    tx: AppEventSender,
    theme: Theme,
    list: TraceList,
    view: Option<TraceView>,
}

impl TracePane {
    /// The pane, asking for the recent traces; with `trace`, it opens that trace right away.
    pub fn new(tx: AppEventSender, theme: Theme, trace: Option<String>) -> Self {
        let mut pane = Self { tx, theme, list: TraceList::default(), view: None };
        pane.request_list();
        if let Some(id) = trace.filter(|t| !t.trim().is_empty()) {
            pane.open(id.trim().to_string());
        }
        pane
    }

    /// The open trace, if any.
    pub fn view(&self) -> Option<&TraceView> {
        self.view.as_ref()
    }

    /// The trace list.
    pub fn list(&self) -> &TraceList {
        &self.list
    }

    fn request_list(&mut self) {
        self.list.load = Load::Loading;
        self.tx.get(PaneId::Trace, "list", list::path());
    }

    /// Opens trace `id`: its tree and its recorded steps are asked for.
    pub fn open(&mut self, id: String) {
        self.view = Some(TraceView::new(id.clone()));
        self.request_trace(&id);
    }

    fn request_trace(&self, id: &str) {
        let seg = segment(id);
        self.tx.get(PaneId::Trace, format!("tree:{id}"), format!("/v1/traces/{seg}"));
        self.tx.get(PaneId::Trace, format!("io:{id}"), format!("/v1/replay/search?q={seg}&limit={SEARCH_LIMIT}"));
    }

    fn refresh(&mut self) {
        match &mut self.view {
            Some(view) => {
                let id = view.trace_id.clone();
                self.request_trace(&id);
            }
            None => self.request_list(),
        }
    }

    fn on_list_key(&mut self, key: KeyEvent) -> EventState {
        let len = self.list.rows.len();
        let page = 10;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.list.scroll.step(-1, len),
            KeyCode::Down | KeyCode::Char('j') => self.list.scroll.step(1, len),
            KeyCode::PageUp => self.list.scroll.step(-page, len),
            KeyCode::PageDown => self.list.scroll.step(page, len),
            KeyCode::Home | KeyCode::Char('g') => self.list.scroll.home(),
            KeyCode::End | KeyCode::Char('G') => self.list.scroll.end(len),
            KeyCode::Enter => {
                let Some(row) = self.list.selected() else { return EventState::Consumed };
                let id = row.trace_id.clone();
                self.open(id);
            }
            KeyCode::Char('r') => self.refresh(),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_trace_key(&mut self, key: KeyEvent) -> EventState {
        let Some(view) = &mut self.view else { return EventState::NotConsumed };
        match key.code {
            KeyCode::Esc | KeyCode::Backspace => self.view = None,
            KeyCode::Char('r') => self.refresh(),
            KeyCode::Up | KeyCode::Char('k') => view.step(-1),
            KeyCode::Down | KeyCode::Char('j') => view.step(1),
            KeyCode::PageUp | KeyCode::PageDown if view.detail_open => {
                view.scroll_detail(key.code == KeyCode::PageDown)
            }
            KeyCode::PageUp | KeyCode::PageDown => view.page(key.code == KeyCode::PageDown),
            KeyCode::Home | KeyCode::Char('g') => view.jump(false),
            KeyCode::End | KeyCode::Char('G') => view.jump(true),
            KeyCode::Left | KeyCode::Char('h') => view.collapse(),
            KeyCode::Right | KeyCode::Char('l') => view.expand(),
            KeyCode::Enter => view.toggle_detail(),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_response(&mut self, key: &str, result: &Result<serde_json::Value, crate::event::ApiError>) {
        if key == "list" {
            match result {
                Ok(answer) => self.list.loaded(TraceRow::list(answer)),
                Err(err) => self.list.load = Load::Failed(err.clone()),
            }
            return;
        }
        let Some(view) = &mut self.view else { return };
        if let Some(id) = key.strip_prefix("tree:").filter(|id| *id == view.trace_id) {
            match result {
                Ok(answer) => {
                    let tree = SpanTree::from_json(answer);
                    self.list.known.insert(id.to_string(), Known { spans: tree.spans.len(), errors: tree.errors });
                    view.loaded(tree);
                }
                Err(err) => view.load = view::TreeLoad::Failed(err.clone()),
            }
        } else if key.strip_prefix("io:").is_some_and(|id| id == view.trace_id) {
            view.events_loaded(match result {
                Ok(answer) => Ok(crate::panes::replay::events::list(answer)),
                Err(err) => Err(err.to_string()),
            });
        }
    }
}

impl Pane for TracePane {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return EventState::NotConsumed;
        }
        if self.view.is_some() { self.on_trace_key(key) } else { self.on_list_key(key) }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> EventState {
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => -3,
            MouseEventKind::ScrollDown => 3,
            _ => return EventState::NotConsumed,
        };
        match &mut self.view {
            Some(view) => view.step(delta),
            None => self.list.scroll.step(delta, self.list.rows.len()),
        }
        EventState::Consumed
    }

    fn on_event(&mut self, event: &AppEvent) {
        if let AppEvent::Response { to: PaneId::Trace, key, result } = event {
            self.on_response(key, result);
        }
    }

    fn on_show(&mut self) {
        if self.view.is_none() && self.list.load != Load::Loading {
            self.request_list();
        }
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        frame.render_widget(Clear, area);
        let theme = self.theme;
        let buf = frame.buffer_mut();
        match &mut self.view {
            Some(view) => view.render(buf, area, theme),
            None => self.list.render(buf, area, theme),
        }
    }

    fn keys(&self) -> &'static [KeyHelp] {
        if self.view.is_some() { TRACE_KEYS } else { LIST_KEYS }
    }
}
