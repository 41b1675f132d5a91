//! The chat pane: a transcript of the session and a composer to talk to the agent.
//!
//! Rules it keeps:
//! - A turn is one `POST /v1/chat/stream`; its events build the live cell, and when it ends
//!   (`done`, `error` or the stream closing) what it held becomes immutable cells.
//! - One turn runs at a time: Enter while it runs queues the message, and queued messages are
//!   sent one by one as turns end. Esc interrupts (`POST /v1/chat/interrupt`, or dropping the
//!   stream when that cannot be asked); the queue then goes back to the composer instead.
//! - The session id of the first turn is sent with the next ones; its name comes from
//!   `GET /v1/sessions/<id>` and `session_renamed` events.
//! - A turn's events are read as the chat contract's [`ChatEvent`]s. One this dashboard does not
//!   know is a note in the transcript (and a debug log line), never dropped; a known one whose
//!   data does not fit is an error cell.
//! - The composer always has the keys: the transcript's own keys (PgUp/PgDn, Alt-↑/↓, and
//!   Home/End while the composer is empty) are ones a text field does not need.
//! - Drawing reads state only; see `transcript` for what a frame costs.

mod cells;
mod composer;
mod live;
mod markdown;
mod sessions;
mod slash;
mod transcript;
mod wrap;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use agentos_protocol::chat::{
    ChatAnswer, ChatEvent, ChatRequest, InterruptAnswer, InterruptRequest, TurnSession, finish,
};
use agentos_protocol::session::{self as contract, SessionEvent};
use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use serde::Deserialize;
use serde_json::{Value, json};

use self::cells::Cell;
use self::composer::Composer;
use self::sessions::Usage;
use self::slash::{Command, Input};
use self::transcript::Transcript;
use crate::event::{ApiError, AppEvent, AppEventSender, Method, PaneId, StreamItem, StreamRequest, segment};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::theme::Theme;

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: usize = 3;
/// Queued messages listed under the transcript; more are counted.
const QUEUE_ROWS: usize = 3;
/// The spinner of a running turn, one frame per tick.
const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Sessions `/sessions` lists.
const SESSIONS_LISTED: u32 = 20;
/// The most events a resumed session is rebuilt from (the API's limit).
const EVENTS_LIMIT: u32 = 10_000;

/// The chat's keys, most used first (the hint line shows the first few).
const KEYS: &[KeyHelp] = &[
    ("Enter", "send (queues while working)"),
    ("Esc", "interrupt the turn"),
    ("Shift-Enter/Ctrl-J", "new line"),
    ("PgUp/PgDn", "scroll (also the wheel)"),
    ("Alt-↑/↓", "select a tool call; Enter expands it, Esc unselects"),
    ("Ctrl-R", "search sent messages"),
    ("↑/↓", "earlier / later sent messages"),
    ("Home/End", "top / follow the bottom (composer empty)"),
    ("Ctrl-↑/↓", "select a tool call, as Alt-↑/↓"),
    ("/help", "the commands"),
];

/// The session the chat talks in.
#[derive(Debug, Clone, Default, PartialEq)]
struct Session {
    id: Option<String>,
    name: Option<String>,
    /// The hand and model the server reported for the latest turn.
    hand: Option<String>,
    model: Option<String>,
}

/// The turn being streamed.
#[derive(Debug, Clone)]
struct Turn {
    key: String,
    started: Instant,
    elapsed: Duration,
    /// Esc was pressed and the interrupt was asked for.
    interrupting: bool,
    /// Some text came as `token`s.
    streamed: bool,
}

/// The chat pane.
pub struct ChatPane {
    tx: AppEventSender,
    theme: Theme,
    transcript: Transcript,
    composer: Composer,
    session: Session,
    /// The hand chosen (`--hand`, `/hand`, or the resumed session's), sent with every turn.
    hand: Option<String>,
    /// The model chosen with `/model`, sent with every turn.
    model: Option<String>,
    usage: Usage,
    turn: Option<Turn>,
    /// Turns started, for their stream keys.
    turns: u64,
    queue: VecDeque<String>,
    /// `/sessions NAME` look-ups asked, so a late answer to an older one is ignored.
    lookups: u64,
    spinner: usize,
}

impl ChatPane {
    /// An empty chat; `hand` (`--hand`) is sent with every turn until `/hand` changes it.
    pub fn new(tx: AppEventSender, theme: Theme, hand: Option<String>) -> Self {
        Self {
            tx,
            theme,
            transcript: Transcript::new(theme),
            composer: Composer::new(theme),
            session: Session::default(),
            hand,
            model: None,
            usage: Usage::default(),
            turn: None,
            turns: 0,
            queue: VecDeque::new(),
            lookups: 0,
            spinner: 0,
        }
    }

    /// Sends `text` as if typed and sent with Enter: a message (queued while a turn runs) or a
    /// slash command.
    pub fn send(&mut self, text: &str) {
        let text = text.trim_end();
        if text.trim().is_empty() {
            return;
        }
        self.composer.remember(text);
        match slash::parse(text) {
            Input::Message(message) if self.turn.is_some() => self.queue.push_back(message),
            Input::Message(message) => self.start_turn(message),
            Input::Command(command, arg) => self.run(command, arg),
            Input::Unknown(word) => self.error(
                "UNKNOWN_COMMAND",
                &format!("/{word} is not a command (or names more than one); /help lists them"),
            ),
        }
    }

    /// Replaces the transcript with one rebuilt from a session's recorded events
    /// (`GET /v1/sessions/<id>/events`), and the usage with theirs.
    pub fn load_events(&mut self, events: &[Value]) {
        let (cells, usage) = sessions::rebuild(events);
        self.transcript.clear();
        let note = match self.session.id {
            Some(_) => format!("resumed session {}: {} recorded events", self.session_label(), events.len()),
            None => format!("{} recorded events loaded", events.len()),
        };
        self.transcript.push(Cell::Note(note));
        self.transcript.extend(cells);
        self.usage = usage;
    }

    /// `true` while a turn runs.
    pub fn is_working(&self) -> bool {
        self.turn.is_some()
    }

    fn start_turn(&mut self, message: String) {
        self.transcript.push(Cell::User(message.clone()));
        self.transcript.follow();
        self.turns += 1;
        let key = format!("turn-{}", self.turns);
        let body = ChatRequest {
            message,
            session_id: self.session.id.clone(),
            hand: self.hand.clone(),
            model: self.model.clone(),
            ..ChatRequest::default()
        };
        self.tx.send(AppEvent::OpenStream(StreamRequest {
            to: PaneId::Chat,
            key: key.clone(),
            method: Method::Post,
            path: "/v1/chat/stream".into(),
            body: Some(json!(body)),
        }));
        self.transcript.live();
        self.turn =
            Some(Turn { key, started: Instant::now(), elapsed: Duration::ZERO, interrupting: false, streamed: false });
    }

    /// The turn ended; the next queued message, if any, starts the next one.
    fn end_turn(&mut self) {
        self.turn = None;
        if let Some(next) = self.queue.pop_front() {
            self.start_turn(next);
        }
    }

    /// The turn ended interrupted: the transcript says so, and the queued messages go back to
    /// the composer (after an interrupt they are more likely to need editing than sending).
    fn end_interrupted(&mut self) {
        self.transcript.finish_live("the turn was interrupted before the call finished");
        self.transcript.push(Cell::Note("turn interrupted".into()));
        self.turn = None;
        if !self.queue.is_empty() {
            let mut parts: Vec<String> = self.queue.drain(..).collect();
            if !self.composer.is_empty() {
                parts.push(self.composer.text());
            }
            self.composer.set_text(&parts.join("\n\n"));
        }
    }

    /// Esc while a turn runs: ask the server to stop it, or drop the stream when there is no
    /// session to name yet or the interrupt was asked for already.
    fn interrupt(&mut self) {
        let Some(turn) = &mut self.turn else { return };
        match (&self.session.id, turn.interrupting) {
            (Some(id), false) => {
                turn.interrupting = true;
                let key = format!("interrupt:{}", turn.key);
                let body = InterruptRequest { session_id: id.clone(), via: None };
                self.tx.request(PaneId::Chat, key, Method::Post, "/v1/chat/interrupt", Some(json!(body)));
            }
            _ => self.drop_turn(),
        }
    }

    /// Closes the turn's stream on this side and ends the turn as interrupted.
    fn drop_turn(&mut self) {
        if let Some(turn) = &self.turn {
            self.tx.send(AppEvent::CloseStream { to: PaneId::Chat, key: turn.key.clone() });
        }
        self.end_interrupted();
    }

    fn note(&mut self, text: impl Into<String>) {
        self.transcript.push(Cell::Note(text.into()));
        self.transcript.follow();
    }

    fn error(&mut self, code: &str, message: &str) {
        self.transcript.push(Cell::Error { code: code.into(), message: message.into(), status: None });
        self.transcript.follow();
    }

    fn api_error(&mut self, error: &ApiError) {
        self.transcript.push(Cell::Error {
            code: error.code.clone(),
            message: error.message.clone(),
            status: Some(error.status),
        });
        self.transcript.follow();
    }

    // ---- slash commands ----

    fn run(&mut self, command: &Command, arg: Option<String>) {
        match (command.name, arg) {
            ("hand", None) => self.tx.get(PaneId::Chat, "hands", "/v1/hands"),
            ("hand", Some(name)) => {
                self.tx.get(PaneId::Chat, format!("hand:{name}"), format!("/v1/hands/{}", segment(&name)))
            }
            ("model", None) => self.show_model(),
            ("model", Some(name)) => {
                self.note(format!("model {name} for the next turns"));
                self.model = Some(name);
            }
            ("new", _) => self.new_session(),
            ("sessions", None) => {
                self.tx.get(PaneId::Chat, "sessions", format!("/v1/sessions?limit={SESSIONS_LISTED}"))
            }
            ("sessions", Some(wanted)) => self.resume(&wanted),
            ("rename", name) => self.rename(name),
            ("clear", _) => self.transcript.clear(),
            ("help", _) => {
                self.transcript.push(Cell::Info {
                    title: "commands and keys".into(),
                    rows: slash::help_rows(KEYS, self.theme),
                    hang: slash::HELP_HANG,
                });
                self.transcript.follow();
            }
            (other, _) => self.error("UNKNOWN_COMMAND", &format!("/{other} is not a command; /help lists them")),
        }
    }

    fn show_model(&mut self) {
        let text = match (&self.model, &self.session.model) {
            (Some(model), _) => format!("model {model} (chosen with /model)"),
            (None, Some(used)) => format!("model: the hand's choice; the last turn used {used}"),
            (None, None) => "model: the hand's choice; /model NAME picks one".to_string(),
        };
        self.note(text);
    }

    /// Whether a command that replaces the session may run now; says why not when not.
    fn idle_for(&mut self, what: &str) -> bool {
        if self.turn.is_some() {
            self.note(format!("a turn is running: press Esc to interrupt it before {what}"));
            return false;
        }
        true
    }

    fn new_session(&mut self) {
        if !self.idle_for("starting a new session") {
            return;
        }
        self.session = Session::default();
        self.usage = Usage::default();
        self.transcript.clear();
    }

    fn resume(&mut self, wanted: &str) {
        if !self.idle_for("resuming another session") {
            return;
        }
        self.lookups += 1;
        self.tx.get(PaneId::Chat, format!("resume:{}", self.lookups), format!("/v1/sessions/{}", segment(wanted)));
    }

    fn rename(&mut self, name: Option<String>) {
        let Some(name) = name else { return self.error("INVALID_INPUT", "name the session: /rename NAME") };
        let Some(id) = self.session.id.clone() else {
            return self.error("NO_SESSION", "there is no session to rename yet: send a message first");
        };
        self.tx.request(
            PaneId::Chat,
            "rename",
            Method::Patch,
            format!("/v1/sessions/{}", segment(&id)),
            Some(json!({"name": name})),
        );
    }

    // ---- events ----

    fn on_stream(&mut self, key: &str, item: &StreamItem) {
        if self.turn.as_ref().is_none_or(|t| t.key != key) {
            return;
        }
        match item {
            StreamItem::Event { name, data } => self.on_turn_event(name, data),
            StreamItem::Closed(None) => {
                self.transcript.finish_live("the stream ended before the call finished");
                self.note("the stream ended before the turn finished");
                self.end_turn();
            }
            StreamItem::Closed(Some(error)) => {
                self.transcript.finish_live("the stream failed before the call finished");
                self.api_error(error);
                self.end_turn();
            }
        }
    }

    fn on_turn_event(&mut self, name: &str, data: &Value) {
        let event = match ChatEvent::from_parts(name, data.clone()) {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(event = name, %data, "a chat event that does not fit its type: {e}");
                return self.error(
                    "BAD_EVENT",
                    &format!("the chat stream sent a `{name}` event this dashboard cannot read ({e}): {data}"),
                );
            }
        };
        match event {
            ChatEvent::Session(session) => self.on_session(session),
            ChatEvent::Token(token) => {
                self.transcript.live().token(&token.text);
                if let Some(turn) = &mut self.turn {
                    turn.streamed |= !token.text.is_empty();
                }
            }
            ChatEvent::ToolCall(call) => {
                let done = self.transcript.live().tool_call(&call);
                self.transcript.extend(done);
            }
            ChatEvent::ToolResult(result) => {
                let done = self.transcript.live().tool_result(&result);
                self.transcript.extend(done);
            }
            ChatEvent::Usage(usage) => self.usage.add(&usage),
            ChatEvent::Done(answer) => self.on_done(&answer),
            ChatEvent::Error(error) => {
                self.transcript.finish_live("the turn failed before the call finished");
                self.transcript.push(Cell::Error { code: error.code, message: error.message, status: None });
                self.end_turn();
            }
            // The approval prompt shows these, from the live events.
            ChatEvent::ApprovalRequested(_) | ChatEvent::ApprovalDecided(_) => {}
            ChatEvent::Unknown { event, data } => {
                tracing::debug!(event = %event, %data, "a chat event this dashboard does not know");
                self.note(format!("event {event}: {data}"));
            }
        }
    }

    fn on_session(&mut self, session: TurnSession) {
        let text = |s: String| Some(s).filter(|s| !s.is_empty());
        self.session.hand = text(session.hand);
        self.session.model = session.model.and_then(text);
        let Some(id) = text(session.session_id) else { return };
        if self.session.id.as_deref() != Some(id.as_str()) {
            self.session.name = None;
            self.tx.get(PaneId::Chat, format!("session:{id}"), format!("/v1/sessions/{}", segment(&id)));
            self.session.id = Some(id);
        }
    }

    fn on_done(&mut self, answer: &ChatAnswer) {
        let streamed = self.turn.as_ref().is_some_and(|t| t.streamed);
        if !streamed && !answer.reply.trim().is_empty() {
            // A provider path that streamed nothing: the answer comes whole with `done`.
            self.transcript.live().token(&answer.reply);
        }
        match answer.finish.as_str() {
            finish::INTERRUPTED => return self.end_interrupted(),
            finish::STEP_LIMIT => {
                self.transcript.finish_live("the turn stopped before the call finished");
                let steps = answer.steps;
                self.transcript.push(Cell::Note(format!("stopped at the hand's step limit after {steps} steps")));
            }
            _ => self.transcript.finish_live("the turn ended before the call finished"),
        }
        self.end_turn();
    }

    fn on_response(&mut self, key: &str, result: &Result<Value, ApiError>) {
        let (kind, arg) = key.split_once(':').unwrap_or((key, ""));
        match (kind, result) {
            ("session", Ok(session)) if self.session.id.as_deref() == Some(arg) => {
                if let Some(session) = read_session(session) {
                    self.session.name = session.name;
                }
            }
            // The name is a nicety: the status line shows the id without it.
            ("session", _) => {}
            ("interrupt", answer) => self.on_interrupt_answer(arg, answer),
            ("rename", Ok(session)) => {
                let name = read_session(session).and_then(|s| s.name);
                self.note(format!("session renamed to {}", name.as_deref().unwrap_or_default()));
                self.session.name = name;
            }
            ("hand", Ok(hand)) => {
                let description = hand.get("description").and_then(Value::as_str).unwrap_or_default();
                self.note(
                    format!("hand {arg} for the next turns: {description}").trim_end_matches([' ', ':']).to_string(),
                );
                self.hand = Some(arg.to_string());
            }
            ("hands", Ok(answer)) => {
                let current = self.hand.clone().or_else(|| self.session.hand.clone());
                let (rows, hang) = sessions::hand_rows(answer, current.as_deref(), self.theme);
                self.transcript.push(Cell::Info { title: "hands".into(), rows, hang });
                self.transcript.follow();
            }
            ("sessions", Ok(answer)) => {
                let rows = sessions::session_rows(answer, self.session.id.as_deref(), self.theme);
                self.transcript.push(Cell::Info { title: "recent sessions".into(), rows, hang: 4 });
                self.transcript.follow();
            }
            ("resume", Ok(session)) if arg == self.lookups.to_string() => self.on_resumed(session),
            ("events", Ok(answer)) if arg == self.lookups.to_string() => self.on_events(answer),
            ("resume" | "events", _) if arg != self.lookups.to_string() => {}
            (_, Err(error)) => self.api_error(error),
            _ => {}
        }
    }

    fn on_interrupt_answer(&mut self, turn_key: &str, answer: &Result<Value, ApiError>) {
        if self.turn.as_ref().is_none_or(|t| t.key != turn_key) {
            return;
        }
        let stopping = answer.as_ref().is_ok_and(|v| InterruptAnswer::deserialize(v).is_ok_and(|a| a.interrupted));
        if !stopping {
            // The server could not stop it: stop listening instead.
            self.drop_turn();
        }
    }

    fn on_resumed(&mut self, session: &Value) {
        let Some(session) = read_session(session) else { return };
        let text = |s: Option<String>| s.filter(|s| !s.is_empty());
        let Some(id) = text(Some(session.id)) else { return };
        let hand = text(Some(session.hand));
        self.session =
            Session { id: Some(id.clone()), name: text(session.name), hand: hand.clone(), model: text(session.model) };
        if let Some(hand) = hand {
            self.hand = Some(hand);
        }
        self.tx.get(
            PaneId::Chat,
            format!("events:{}", self.lookups),
            format!("/v1/sessions/{}/events?limit={EVENTS_LIMIT}", segment(&id)),
        );
    }

    fn on_events(&mut self, answer: &Value) {
        let events = answer.get("events").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        self.load_events(events);
    }

    fn on_bus(&mut self, event: &str, data: &Value) {
        if event != SessionEvent::RENAMED {
            return;
        }
        if let Some(renamed) = read_session(data)
            && self.session.id.as_deref() == Some(renamed.id.as_str())
        {
            self.session.name = renamed.name;
        }
    }

    // ---- keys ----

    fn on_enter(&mut self) {
        if self.transcript.toggle_selected() {
            return;
        }
        let text = self.composer.take();
        self.send(&text);
    }

    fn on_plain_key(&mut self, key: KeyEvent) -> EventState {
        let mods = key.modifiers;
        let alt_or_ctrl = mods.intersects(KeyModifiers::ALT | KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc if !self.transcript.clear_selection() => {
                if self.turn.is_none() {
                    return EventState::NotConsumed;
                }
                self.interrupt();
            }
            KeyCode::Esc => {}
            KeyCode::PageUp => self.transcript.scroll_up(self.transcript.page()),
            KeyCode::PageDown => self.transcript.scroll_down(self.transcript.page()),
            KeyCode::Up if alt_or_ctrl => {
                self.transcript.select_previous();
            }
            KeyCode::Down if alt_or_ctrl => {
                self.transcript.select_next();
            }
            KeyCode::Home if mods.is_empty() && self.composer.is_empty() => self.transcript.scroll_to_top(),
            KeyCode::End if mods.is_empty() && self.composer.is_empty() => self.transcript.follow(),
            KeyCode::Char('r') if mods == KeyModifiers::CONTROL => self.composer.open_search(),
            KeyCode::Char('j') if mods == KeyModifiers::CONTROL => self.composer.newline(),
            KeyCode::Enter if mods.intersects(KeyModifiers::SHIFT | KeyModifiers::ALT) => self.composer.newline(),
            KeyCode::Enter => self.on_enter(),
            KeyCode::Up if mods.is_empty() && self.composer.on_first_line() && self.composer.history_back() => {}
            KeyCode::Down if mods.is_empty() && self.composer.on_last_line() && self.composer.history_forward() => {}
            _ => {
                if self.composer.input(key) {
                    self.transcript.clear_selection();
                }
            }
        }
        EventState::Consumed
    }

    // ---- drawing ----

    fn session_label(&self) -> String {
        match (&self.session.name, &self.session.id) {
            (Some(name), _) => name.clone(),
            (None, Some(id)) => sessions::short_id(id),
            (None, None) => "new session".into(),
        }
    }

    /// `─ name · hand coder · model m · 1.2k in / 340 out · $0.0123 ──── ⠋ working… 3s ─`.
    /// When it does not fit, the labels go first, then the model, then the hand.
    fn status_line(&self, width: usize) -> Line<'static> {
        let theme = self.theme;
        let mut right = Vec::new();
        if !self.transcript.is_following() {
            right.push(Span::styled(" ↓ more below · End ", theme.accent()));
            right.push(Span::styled("─", theme.dim()));
        }
        right.extend(self.working_spans());
        let room = width.saturating_sub(wrap::spans_width(&right) + 1);
        let hand = self.hand.as_deref().or(self.session.hand.as_deref());
        let model = self.model.as_deref().or(self.session.model.as_deref());
        let attempts = [(hand, model, true), (hand, model, false), (hand, None, false), (None, None, false)];
        let mut left = Vec::new();
        for (hand, model, labels) in attempts {
            left = self.status_parts(hand, model, labels);
            if wrap::spans_width(&left) <= room {
                break;
            }
        }
        let mut line = wrap::cut(left, room);
        let fill = width.saturating_sub(line.width() + wrap::spans_width(&right));
        line.spans.push(Span::styled("─".repeat(fill), theme.dim()));
        line.spans.extend(right);
        line
    }

    /// The left part of the status line: the session, the hand and model (with their labels or
    /// not), tokens and cost.
    fn status_parts(&self, hand: Option<&str>, model: Option<&str>, labels: bool) -> Vec<Span<'static>> {
        let theme = self.theme;
        let sep = || Span::styled(" · ", theme.dim());
        let label = |text: &'static str| Span::styled(if labels { text } else { "" }, theme.dim());
        let mut spans = vec![Span::styled("─ ", theme.dim()), Span::styled(self.session_label(), theme.accent())];
        match hand {
            Some(hand) => spans.extend([sep(), label("hand "), Span::raw(hand.to_string())]),
            None if labels => spans.extend([sep(), Span::styled("default hand", theme.dim())]),
            None => {}
        }
        if let Some(model) = model {
            spans.extend([sep(), label("model "), Span::raw(model.to_string())]);
        }
        if self.usage.input + self.usage.output > 0 {
            let tokens =
                format!("{} in / {} out", sessions::tokens(self.usage.input), sessions::tokens(self.usage.output));
            spans.extend([sep(), Span::raw(tokens)]);
        }
        if let Some(cost) = self.usage.cost {
            spans.extend([sep(), Span::raw(format!("${cost:.4}"))]);
        }
        spans.push(Span::raw(" "));
        spans
    }

    fn working_spans(&self) -> Vec<Span<'static>> {
        let theme = self.theme;
        let Some(turn) = &self.turn else { return Vec::new() };
        let spinner = SPINNER[self.spinner % SPINNER.len()];
        let (what, hint) =
            if turn.interrupting { ("interrupting…", "") } else { ("working…", " · Esc interrupts") };
        vec![
            Span::styled(format!(" {spinner} {what} {}s", turn.elapsed.as_secs()), theme.accent()),
            Span::styled(format!("{hint} "), theme.dim()),
            Span::styled("─", theme.dim()),
        ]
    }

    fn queue_lines(&self, width: usize) -> Vec<Line<'static>> {
        let theme = self.theme;
        let mut lines: Vec<Line<'static>> = self
            .queue
            .iter()
            .take(QUEUE_ROWS)
            .map(|message| {
                let first = message.lines().next().unwrap_or_default();
                let room = width.saturating_sub(11);
                Line::from(vec![
                    Span::styled("  queued › ", theme.warn()),
                    Span::styled(wrap::truncate(first, room), theme.dim()),
                ])
            })
            .collect();
        if self.queue.len() > QUEUE_ROWS {
            lines.push(Line::styled(format!("  … and {} more queued", self.queue.len() - QUEUE_ROWS), theme.dim()));
        }
        lines
    }

    /// The line above the status line: the history search, else the slash hint.
    fn hint_line(&self, width: usize) -> Option<Line<'static>> {
        let room = width.saturating_sub(2);
        let line = self.composer.search_line(room).or_else(|| slash::hint(&self.composer.text(), room, self.theme))?;
        let mut spans = vec![Span::raw(" ")];
        spans.extend(line.spans);
        Some(Line::from(spans))
    }

    /// What an empty chat shows: how to start.
    fn render_welcome(&self, frame: &mut Frame, area: Rect) {
        let theme = self.theme;
        let lines = [
            Line::styled("agentos chat", theme.accent()),
            Line::default(),
            Line::styled("Ask the agent anything; its answers and tool calls show up here.", theme.text()),
            Line::styled("Enter sends · Shift-Enter adds a line · ↑ recalls · Ctrl-R searches", theme.dim()),
            Line::styled("/help lists the commands and keys", theme.dim()),
        ];
        let top = area.y + area.height.saturating_sub(lines.len() as u16) / 2;
        for (i, line) in lines.iter().enumerate() {
            let y = top + i as u16;
            if y >= area.bottom() {
                break;
            }
            let cols = (line.width() as u16).min(area.width);
            let x = area.x + (area.width - cols) / 2;
            frame.buffer_mut().set_line(x, y, line, cols);
        }
    }
}

/// A session record (an answer of `/v1/sessions/:id`, a session event's data); `None`, logged,
/// when it is not one.
fn read_session(value: &Value) -> Option<contract::Session> {
    contract::Session::deserialize(value).inspect_err(|e| tracing::debug!("not a session record ({e}): {value}")).ok()
}

impl Pane for ChatPane {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if key.kind == KeyEventKind::Release {
            return EventState::NotConsumed;
        }
        if self.composer.searching() {
            self.composer.search_key(key);
            return EventState::Consumed;
        }
        self.on_plain_key(key)
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> EventState {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.transcript.scroll_up(WHEEL_ROWS),
            MouseEventKind::ScrollDown => self.transcript.scroll_down(WHEEL_ROWS),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_paste(&mut self, text: &str) -> EventState {
        self.composer.paste(text);
        EventState::Consumed
    }

    fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Stream { to: PaneId::Chat, key, item } => self.on_stream(key, item),
            AppEvent::Response { to: PaneId::Chat, key, result } => self.on_response(key, result),
            AppEvent::Bus { event, data } => self.on_bus(event, data),
            _ => {}
        }
    }

    fn on_tick(&mut self, now: Instant) -> bool {
        let Some(turn) = &mut self.turn else { return false };
        turn.elapsed = now.saturating_duration_since(turn.started);
        self.spinner = self.spinner.wrapping_add(1);
        true
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        if area.width < 4 || area.height < 3 {
            return;
        }
        let width = usize::from(area.width);
        let queue = self.queue_lines(width);
        let hint = self.hint_line(width);
        let composer_rows = self.composer.rows(width - 2).min(usize::from(area.height / 3).max(1)) as u16;
        let [body, queue_area, hint_area, status_area, composer_area] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(queue.len() as u16),
            Constraint::Length(u16::from(hint.is_some())),
            Constraint::Length(1),
            Constraint::Length(composer_rows),
        ])
        .areas(area);
        if self.transcript.is_empty() {
            self.render_welcome(frame, body);
        } else {
            self.transcript.render(frame.buffer_mut(), body);
        }
        let buf = frame.buffer_mut();
        for (i, line) in queue.iter().enumerate() {
            buf.set_line(queue_area.x, queue_area.y + i as u16, line, queue_area.width);
        }
        if let Some(hint) = &hint {
            buf.set_line(hint_area.x, hint_area.y, hint, hint_area.width);
        }
        buf.set_line(status_area.x, status_area.y, &self.status_line(width), status_area.width);
        self.composer.render(frame, composer_area, self.turn.is_some());
    }

    fn wants_text_input(&self) -> bool {
        true
    }

    fn keys(&self) -> &'static [KeyHelp] {
        KEYS
    }
}
