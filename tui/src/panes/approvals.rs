//! The approvals pane: the inbox (pending requests first) and the history of decisions with
//! who decided, through what and when; the selected request in full; the remembered rules.
//!
//! Rules it keeps:
//! - It asks for `GET /v1/approvals?all=1` (key `list`) and `GET /v1/approvals/rules` (key
//!   `rules`) when shown and on `r`. Between fetches the bus keeps the list current in place:
//!   `approval_requested` and `approval_decided` carry the whole request; a decision that
//!   remembers something (`session`, `always`) asks for the rules again. Both are asked for
//!   again when the connection comes back.
//! - `y` `s` `a` `n` decide the selected pending request exactly as the approval prompt does
//!   (`POST /v1/approvals/:id`, key `decide:<id>`, via `tui`); `d` twice forgets the selected
//!   remembered rule (`DELETE /v1/approvals/rules/:id`, key `forget:<id>`).
//! - The selection follows its request by id when the list changes under it.
//!
//! The parts: [`model`] (the request, shared with the prompt), [`table`], [`detail`], [`rules`].

pub mod detail;
pub mod model;
pub mod rules;
pub mod table;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};
use serde_json::Value;

use crate::event::{ApiError, AppEvent, AppEventSender, Connection, Method, PaneId, segment};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::panes::prompt::choice::Choice;
use crate::panes::trace::format::wrap;
use crate::panes::trace::scroll::Scroll;
use crate::theme::Theme;
use detail::{Action, Cached};
use model::{Approval, Status};
use rules::{Rules, RulesLoad};

/// The pane's keys.
const KEYS: &[KeyHelp] = &[
    ("↑/↓ j/k", "select"),
    ("y/s/a/n", "approve once / session / always, deny"),
    ("←/→ h/l", "requests / remembered rules"),
    ("J/K", "scroll the detail"),
    ("r", "refresh"),
    ("d d", "forget the selected rule"),
    ("Home/End", "first / last"),
];

/// Which list the arrows move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Requests,
    Rules,
}

/// How the request list stands.
#[derive(Debug, Clone, PartialEq)]
enum Load {
    Idle,
    Loading,
    Loaded,
    Failed(ApiError),
}

/// The approvals pane.
pub struct ApprovalsPane {
    tx: AppEventSender,
    theme: Theme,
    rows: Vec<Approval>,
    load: Load,
    scroll: Scroll,
    focus: Focus,
    rules: Rules,
    /// The first line of the detail's arguments and diff shown.
    detail_scroll: usize,
    cached: Option<Cached>,
    /// Decisions sent from here, by request id.
    actions: HashMap<String, Action>,
    /// Wall-clock time (Unix ms) for the relative times, updated on ticks.
    now_ms: u64,
    /// The connection was lost: the lists are asked for again when it is back.
    lost: bool,
}

impl ApprovalsPane {
    /// The pane; it asks for its data when first shown.
    pub fn new(tx: AppEventSender, theme: Theme) -> Self {
        Self {
            tx,
            theme,
            rows: Vec::new(),
            load: Load::Idle,
            scroll: Scroll::default(),
            focus: Focus::Requests,
            rules: Rules::default(),
            detail_scroll: 0,
            cached: None,
            actions: HashMap::new(),
            now_ms: wall_ms(),
            lost: false,
        }
    }

    fn refresh(&mut self) {
        self.load = if self.load == Load::Loaded { Load::Loaded } else { Load::Loading };
        self.tx.get(PaneId::Approvals, "list", "/v1/approvals?all=1");
        self.fetch_rules();
    }

    fn fetch_rules(&self) {
        self.tx.get(PaneId::Approvals, "rules", "/v1/approvals/rules");
    }

    fn selected(&self) -> Option<&Approval> {
        self.rows.get(self.scroll.selected)
    }

    /// Replaces the rows, keeping the selection on the same request.
    fn set_rows(&mut self, rows: Vec<Approval>) {
        let selected = self.selected().map(|a| a.id.clone());
        self.set_rows_keeping(rows, selected);
    }

    fn set_rows_keeping(&mut self, mut rows: Vec<Approval>, selected: Option<String>) {
        sort(&mut rows);
        self.rows = rows;
        if let Some(at) = selected.and_then(|id| self.rows.iter().position(|a| a.id == id)) {
            self.scroll.selected = at;
        }
        self.scroll.clamp(self.rows.len());
    }

    /// Puts the bus's copy of a request in place (or adds it).
    fn upsert(&mut self, approval: Approval) {
        let selected = self.selected().map(|a| a.id.clone());
        let mut rows = std::mem::take(&mut self.rows);
        match rows.iter_mut().find(|a| a.id == approval.id) {
            Some(row) => *row = approval,
            None => rows.push(approval),
        }
        self.set_rows_keeping(rows, selected);
    }

    fn decide(&mut self, choice: Choice) {
        let Some(a) = self.selected().filter(|a| a.is_pending()) else { return };
        let id = a.id.clone();
        if matches!(self.actions.get(&id), Some(Action::Sending(_))) {
            return;
        }
        let body = choice.body();
        self.actions.insert(id.clone(), Action::Sending(choice));
        self.tx.request(PaneId::Approvals, format!("decide:{id}"), Method::Post, Choice::path(&id), Some(body));
    }

    fn forget(&mut self) {
        let Some(item) = self.rules.selected() else { return };
        let id = item.id.clone();
        if self.rules.confirm.as_deref() == Some(id.as_str()) {
            self.rules.confirm = None;
            let path = format!("/v1/approvals/rules/{}", segment(&id));
            self.tx.request(PaneId::Approvals, format!("forget:{id}"), Method::Delete, path, None);
        } else {
            self.rules.confirm = Some(id);
        }
    }

    fn on_response(&mut self, key: &str, result: &Result<Value, ApiError>) {
        match (key, result) {
            ("list", Ok(answer)) => {
                self.load = Load::Loaded;
                self.set_rows(Approval::list(answer));
            }
            ("list", Err(e)) => self.load = Load::Failed(e.clone()),
            ("rules", Ok(answer)) => {
                self.rules.items = rules::Remembered::list(answer);
                self.rules.load = RulesLoad::Loaded;
                self.rules.scroll.clamp(self.rules.items.len());
            }
            ("rules", Err(e)) => {
                self.rules.load = RulesLoad::Failed(format!("could not load the rules: {}", e.message))
            }
            _ => {
                if let Some(id) = key.strip_prefix("decide:") {
                    self.on_decided_here(id, result);
                } else if let Some(id) = key.strip_prefix("forget:") {
                    self.on_forgotten(id, result);
                }
            }
        }
    }

    fn on_decided_here(&mut self, id: &str, result: &Result<Value, ApiError>) {
        match result {
            Ok(answer) => {
                self.actions.remove(id);
                if let Some(decided) = Approval::parse(answer) {
                    self.upsert(decided);
                }
                self.fetch_rules();
            }
            Err(e) if e.status == 409 => {
                self.actions.insert(id.to_string(), Action::Failed(e.message.clone()));
                self.tx.get(PaneId::Approvals, "list", "/v1/approvals?all=1");
            }
            Err(e) => {
                let why = format!("the decision was refused: {} ({} {})", e.message, e.status, e.code);
                self.actions.insert(id.to_string(), Action::Failed(why));
            }
        }
    }

    fn on_forgotten(&mut self, id: &str, result: &Result<Value, ApiError>) {
        self.rules.message = Some(match result {
            Ok(_) => {
                self.rules.items.retain(|r| r.id != id);
                self.rules.scroll.clamp(self.rules.items.len());
                (format!("forgot {id}: the next such call asks again"), false)
            }
            Err(e) => (format!("could not forget {id}: {}", e.message), true),
        });
        self.fetch_rules();
    }

    fn on_bus(&mut self, event: &str, data: &Value) {
        if !matches!(event, "approval_requested" | "approval_decided") {
            return;
        }
        let Some(approval) = Approval::parse(data) else { return };
        let remembers = approval.decision.as_ref().is_some_and(|d| matches!(d.scope.as_str(), "session" | "always"));
        if event == "approval_decided" && !matches!(self.actions.get(&approval.id), Some(Action::Sending(_))) {
            self.actions.remove(&approval.id);
        }
        self.upsert(approval);
        if remembers {
            self.fetch_rules();
        }
    }

    fn on_requests_key(&mut self, key: KeyEvent) -> EventState {
        let len = self.rows.len();
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.select(|s| s.step(-1, len)),
            KeyCode::Down | KeyCode::Char('j') => self.select(|s| s.step(1, len)),
            KeyCode::PageUp => self.select(|s| s.step(-10, len)),
            KeyCode::PageDown => self.select(|s| s.step(10, len)),
            KeyCode::Home | KeyCode::Char('g') => self.select(Scroll::home),
            KeyCode::End | KeyCode::Char('G') => self.select(|s| s.end(len)),
            KeyCode::Char('y') => self.decide(Choice::Once),
            KeyCode::Char('s') => self.decide(Choice::Session),
            KeyCode::Char('a') => self.decide(Choice::Always),
            KeyCode::Char('n') => self.decide(Choice::Deny),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn select(&mut self, change: impl FnOnce(&mut Scroll)) {
        let before = self.scroll.selected;
        change(&mut self.scroll);
        if self.scroll.selected != before {
            self.detail_scroll = 0;
        }
    }

    fn on_rules_key(&mut self, key: KeyEvent) -> EventState {
        let len = self.rules.items.len();
        let scroll = &mut self.rules.scroll;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => scroll.step(-1, len),
            KeyCode::Down | KeyCode::Char('j') => scroll.step(1, len),
            KeyCode::Home | KeyCode::Char('g') => scroll.home(),
            KeyCode::End | KeyCode::Char('G') => scroll.end(len),
            KeyCode::Char('d') => {
                self.forget();
                return EventState::Consumed;
            }
            _ => return EventState::NotConsumed,
        }
        self.rules.confirm = None;
        EventState::Consumed
    }

    fn render_list(&mut self, frame: &mut Frame, area: Rect) {
        let theme = self.theme;
        let rules_height = self.rules.height(area.height);
        let [title, list, detail, rules] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(self.list_height(area.height.saturating_sub(1 + rules_height))),
            Constraint::Min(0),
            Constraint::Length(rules_height),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(self.title_line()), title);
        let buf = frame.buffer_mut();
        let focused = self.focus == Focus::Requests;
        table::render(buf, list, &self.rows, &mut self.scroll, focused, self.now_ms, theme);
        if let Some(a) = self.rows.get(self.scroll.selected) {
            let width = usize::from(detail.width);
            if self.cached.as_ref().is_none_or(|c| c.id != a.id || c.width != width) {
                self.cached = Some(Cached::new(a, width, theme));
            }
            if let Some(cached) = &self.cached {
                let action = self.actions.get(&a.id).cloned().unwrap_or(Action::None);
                detail::render(buf, detail, a, cached, &action, &mut self.detail_scroll, self.now_ms, theme);
            }
        }
        self.rules.render(buf, rules, self.focus == Focus::Rules, self.now_ms, theme);
    }

    /// The table's rows: all of them when they fit in two fifths of the room, else that much.
    fn list_height(&self, room: u16) -> u16 {
        let rows = u16::try_from(self.rows.len()).unwrap_or(u16::MAX).saturating_add(1);
        rows.min((room * 2 / 5).max(4)).min(room)
    }

    fn title_line(&self) -> Line<'static> {
        let theme = self.theme;
        let pending = self.rows.iter().filter(|a| a.is_pending()).count();
        let decided = self.rows.len() - pending;
        let mut spans = vec![Span::styled(" Approvals  ", theme.accent())];
        if pending > 0 {
            spans.push(Span::styled(format!("{pending} pending"), theme.warn()));
        } else {
            spans.push(Span::styled("nothing pending", theme.ok()));
        }
        spans.push(Span::styled(format!(" · {decided} decided"), theme.dim()));
        if let Load::Failed(e) = &self.load {
            spans.push(Span::styled(format!(" · refresh failed: {} (r retries)", e.message), theme.error()));
        }
        Line::from(spans)
    }

    fn render_empty(&mut self, frame: &mut Frame, area: Rect) {
        let theme = self.theme;
        let rules_height = self.rules.height(area.height);
        let [title, body, rules] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(rules_height)]).areas(area);
        frame.render_widget(Paragraph::new(self.title_line()), title);
        let lines = match &self.load {
            Load::Failed(e) => vec![
                Line::raw(""),
                Line::styled(format!("  Could not load the approvals: {}", e.message), theme.error()),
                Line::styled("  r tries again.", theme.dim()),
            ],
            Load::Idle | Load::Loading => vec![Line::raw(""), Line::styled("  Loading approvals…", theme.dim())],
            Load::Loaded => {
                let mut lines = vec![Line::raw(""), Line::raw("  No approval requests yet."), Line::raw("")];
                let text = "When the agent wants to run something the policy sends to a person (a file write, a command), the request waits here and over every pane until someone decides: y approves once, s for the session, a always, n denies.";
                let width = usize::from(body.width.saturating_sub(4));
                lines.extend(wrap(text, width).into_iter().map(|row| Line::styled(format!("  {row}"), theme.dim())));
                lines
            }
        };
        Paragraph::new(lines).render(body, frame.buffer_mut());
        self.rules.render(frame.buffer_mut(), rules, self.focus == Focus::Rules, self.now_ms, theme);
    }
}

/// Pending first (newest first), then the decided ones, latest decision first.
fn sort(rows: &mut [Approval]) {
    rows.sort_by(|a, b| {
        let key = |x: &Approval| {
            let pending = x.status == Status::Pending;
            let when = if pending { x.created_ms } else { x.decision.as_ref().map_or(x.created_ms, |d| d.decided_ms) };
            (!pending, std::cmp::Reverse(when))
        };
        key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id))
    });
}

impl Pane for ApprovalsPane {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return EventState::NotConsumed;
        }
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        match key.code {
            KeyCode::Char('r') => {
                self.refresh();
                return EventState::Consumed;
            }
            KeyCode::Char('J') | KeyCode::Down if shift || key.code == KeyCode::Char('J') => {
                self.detail_scroll = self.detail_scroll.saturating_add(1);
                return EventState::Consumed;
            }
            KeyCode::Char('K') | KeyCode::Up if shift || key.code == KeyCode::Char('K') => {
                self.detail_scroll = self.detail_scroll.saturating_sub(1);
                return EventState::Consumed;
            }
            KeyCode::Left | KeyCode::Char('h') => {
                self.focus = Focus::Requests;
                self.rules.confirm = None;
                return EventState::Consumed;
            }
            KeyCode::Right | KeyCode::Char('l') => {
                self.focus = Focus::Rules;
                return EventState::Consumed;
            }
            _ => {}
        }
        match self.focus {
            Focus::Requests => self.on_requests_key(key),
            Focus::Rules => {
                let state = self.on_rules_key(key);
                if !state.is_consumed() {
                    self.rules.confirm = None;
                }
                state
            }
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> EventState {
        let len = self.rows.len();
        match mouse.kind {
            MouseEventKind::ScrollUp => self.select(|s| s.step(-3, len)),
            MouseEventKind::ScrollDown => self.select(|s| s.step(3, len)),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Response { to: PaneId::Approvals, key, result } => self.on_response(key, result),
            AppEvent::Bus { event, data } => self.on_bus(event, data),
            AppEvent::Connection(Connection::Lost(_)) => self.lost = true,
            AppEvent::Connection(Connection::Up) if self.lost => {
                // What was decided while the connection was down never reached the bus here.
                self.lost = false;
                if self.load != Load::Idle {
                    self.refresh();
                }
            }
            _ => {}
        }
    }

    fn on_show(&mut self) {
        self.refresh();
    }

    fn on_tick(&mut self, _now: Instant) -> bool {
        let wall = wall_ms();
        // Times count seconds only for pending requests (their countdown) and for the last
        // minute (`12s ago`): redraw when such a second changes.
        let ticking = self.rows.iter().any(|a| a.is_pending() || wall.saturating_sub(a.created_ms) < 60_000);
        let redraw = ticking && wall / 1000 != self.now_ms / 1000;
        self.now_ms = wall;
        redraw
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        frame.render_widget(Clear, area);
        if self.rows.is_empty() { self.render_empty(frame, area) } else { self.render_list(frame, area) }
    }

    fn keys(&self) -> &'static [KeyHelp] {
        KEYS
    }
}

/// Now, in Unix milliseconds.
fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
