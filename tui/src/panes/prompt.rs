//! The approval prompt: a queued modal over whatever pane is shown, one request at a time,
//! decided with one key.
//!
//! Rules it keeps:
//! - The queue is the server's pending list (`GET /v1/approvals`, key `pending`, asked for at
//!   start and again when the connection comes back), kept current by the bus:
//!   `approval_requested` adds a request, `approval_decided` removes it at once, whoever decided
//!   it. Oldest first ([`queue`]).
//! - A decision is one `POST /v1/approvals/:id` (key `decide:<id>`, body [`choice`]). While it
//!   is on its way the prompt says so and ignores further answers; an answer removes the
//!   request; `409` (decided elsewhere first) removes it and says so briefly; any other error
//!   stays on the prompt and the request stays, to be answered again.
//! - Keys: `y` `s` `a` `n` `N` decide, `j`/`k` scroll the call; Tab, PgUp/PgDn, Esc, the
//!   mouse and anything with Alt or Ctrl belong to the pane below. Every other key is eaten, so
//!   a stray letter never lands in the chat's composer while a decision is on screen. The note
//!   of `N` takes every key until Enter or Esc.
//!
//! The parts: [`queue`], [`choice`] (the request bodies), [`note`] (the one-line note),
//! [`view`] (drawing).

pub mod choice;
pub mod note;
pub mod queue;
pub mod view;

#[cfg(test)]
pub(crate) mod tests;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::Line;
use serde_json::Value;

use crate::event::{ApiError, AppEvent, AppEventSender, Connection, Method, PaneId};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::panes::approvals::model::Approval;
use crate::theme::Theme;
use choice::Choice;
use note::{Note, NoteKey};
use queue::{Decided, Queue, Sending};

/// How long a notice (a request decided elsewhere first) stays on screen.
pub const NOTICE_FOR: Duration = Duration::from_secs(6);

/// The prompt's keys.
const KEYS: &[KeyHelp] = &[
    ("y", "approve once"),
    ("s", "approve for the session"),
    ("a", "approve always"),
    ("n", "deny"),
    ("N", "deny with a note"),
    ("j/k ↑/↓", "scroll the call"),
    ("Tab PgUp/PgDn Esc", "left to the pane below (Esc in the chat interrupts the turn)"),
];

/// The keys while the note is written.
const NOTE_KEYS: &[KeyHelp] = &[("Enter", "deny with this note"), ("Esc", "back")];

/// What the prompt is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// Waiting for a key.
    Keys,
    /// Writing the note of a denial.
    Note(Note),
}

/// A short message: a request decided elsewhere first.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    text: String,
    until: Instant,
}

/// The body of the request on screen, built once per request and width: its arguments and
/// its diff.
struct Body {
    id: String,
    width: usize,
    lines: Vec<Line<'static>>,
    /// Where the diff starts in `lines` (`None` without a diff).
    diff_at: Option<usize>,
}

/// The approval prompt.
pub struct ApprovalPrompt {
    tx: AppEventSender,
    theme: Theme,
    queue: Queue,
    decided: Decided,
    mode: Mode,
    notice: Option<Notice>,
    /// The first line of the body shown.
    scroll: usize,
    body: Option<Body>,
    /// Wall-clock time (Unix ms) for the expiry countdown, updated on ticks.
    now_ms: u64,
    /// The connection was lost: the pending list is asked for again when it is back.
    lost: bool,
}

impl ApprovalPrompt {
    /// The prompt, asking for the requests pending now.
    pub fn new(tx: AppEventSender, theme: Theme) -> Self {
        let prompt = Self {
            tx,
            theme,
            queue: Queue::default(),
            decided: Decided::default(),
            mode: Mode::Keys,
            notice: None,
            scroll: 0,
            body: None,
            now_ms: wall_ms(),
            lost: false,
        };
        prompt.fetch();
        prompt
    }

    /// `true` while a request waits for a decision here, or a notice about one is shown.
    pub fn is_open(&self) -> bool {
        !self.queue.is_empty() || self.notice.is_some()
    }

    /// How many requests wait (the tab bar shows it on Approvals).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    fn fetch(&self) {
        self.tx.get(PaneId::Prompt, "pending", "/v1/approvals");
    }

    fn decide(&mut self, choice: Choice) {
        let Some(entry) = self.queue.head_mut() else { return };
        if matches!(entry.sending, Sending::Sending(_)) {
            return;
        }
        let id = entry.approval.id.clone();
        let body = choice.body();
        entry.sending = Sending::Sending(choice);
        self.tx.request(PaneId::Prompt, format!("decide:{id}"), Method::Post, Choice::path(&id), Some(body));
    }

    fn show_notice(&mut self, text: String) {
        self.notice = Some(Notice { text, until: Instant::now() + NOTICE_FOR });
    }

    /// The request on screen changed: its body is built anew and shown from the top.
    fn on_head_changed(&mut self, before: Option<String>) {
        let now = self.queue.head().map(|e| e.approval.id.clone());
        if now != before {
            self.scroll = 0;
            self.mode = Mode::Keys;
        }
    }

    fn head_id(&self) -> Option<String> {
        self.queue.head().map(|e| e.approval.id.clone())
    }

    fn on_response(&mut self, key: &str, result: &Result<Value, ApiError>) {
        let before = self.head_id();
        if key == "pending" {
            if let Ok(answer) = result {
                let pending = Approval::list(answer).into_iter().filter(|a| !self.decided.contains(&a.id)).collect();
                self.queue.replace(pending);
            }
        } else if let Some(id) = key.strip_prefix("decide:") {
            self.on_decided_here(id, result);
        }
        self.on_head_changed(before);
    }

    fn on_decided_here(&mut self, id: &str, result: &Result<Value, ApiError>) {
        match result {
            Ok(_) => {
                self.decided.insert(id);
                self.queue.remove(id);
            }
            Err(e) if e.status == 409 || e.status == 404 => {
                self.decided.insert(id);
                if let Some(entry) = self.queue.remove(id) {
                    let text = if e.status == 404 {
                        format!("{} ({id}) no longer exists: {}", entry.approval.function_id, e.message)
                    } else {
                        e.message.clone()
                    };
                    self.show_notice(text);
                }
            }
            Err(e) => {
                if let Some(entry) = self.queue.get_mut(id) {
                    entry.sending = Sending::Failed(failure(e));
                }
            }
        }
    }

    fn on_bus(&mut self, event: &str, data: &Value) {
        let before = self.head_id();
        match event {
            "approval_requested" => {
                if let Some(approval) = Approval::parse(data).filter(|a| !self.decided.contains(&a.id)) {
                    self.queue.add(approval);
                }
            }
            "approval_decided" => {
                let Some(decided) = Approval::parse(data) else { return };
                self.decided.insert(&decided.id);
                let was_head = before.as_deref() == Some(decided.id.as_str());
                if let Some(entry) = self.queue.remove(&decided.id)
                    && was_head
                    && !matches!(entry.sending, Sending::Sending(_))
                {
                    self.show_notice(decided_elsewhere(&decided));
                }
            }
            _ => return,
        }
        self.on_head_changed(before);
    }

    fn on_note_key(&mut self, key: KeyEvent) -> EventState {
        let Mode::Note(note) = &mut self.mode else { return EventState::NotConsumed };
        match note.on_key(key) {
            NoteKey::Editing => {}
            NoteKey::Cancel => self.mode = Mode::Keys,
            NoteKey::Submit(text) => {
                self.mode = Mode::Keys;
                self.decide(Choice::DenyWithNote(text));
            }
        }
        EventState::Consumed
    }

    fn scroll_by(&mut self, delta: isize) {
        self.scroll = self.scroll.saturating_add_signed(delta);
    }

    fn body_for_head(&mut self, width: usize) -> Option<&Body> {
        let entry = self.queue.head()?;
        if self.body.as_ref().is_none_or(|b| b.id != entry.approval.id || b.width != width) {
            self.body = Some(view::body(&entry.approval, width, self.theme));
        }
        self.body.as_ref()
    }
}

impl Pane for ApprovalPrompt {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if key.kind == KeyEventKind::Release || self.queue.is_empty() {
            return EventState::NotConsumed;
        }
        if matches!(self.mode, Mode::Note(_)) {
            return self.on_note_key(key);
        }
        if key.modifiers.intersects(KeyModifiers::ALT | KeyModifiers::CONTROL | KeyModifiers::SUPER) {
            return EventState::NotConsumed;
        }
        match key.code {
            KeyCode::Tab | KeyCode::BackTab | KeyCode::PageUp | KeyCode::PageDown | KeyCode::Esc | KeyCode::F(_) => {
                return EventState::NotConsumed;
            }
            KeyCode::Char('y') => self.decide(Choice::Once),
            KeyCode::Char('s') => self.decide(Choice::Session),
            KeyCode::Char('a') => self.decide(Choice::Always),
            KeyCode::Char('n') => self.decide(Choice::Deny),
            KeyCode::Char('N') => {
                let sending = self.queue.head().is_some_and(|e| matches!(e.sending, Sending::Sending(_)));
                if !sending {
                    self.mode = Mode::Note(Note::default());
                }
            }
            KeyCode::Up | KeyCode::Char('k') => self.scroll_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll_by(1),
            KeyCode::Home | KeyCode::Char('g') => self.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => self.scroll = usize::MAX,
            _ => {}
        }
        EventState::Consumed
    }

    fn on_paste(&mut self, text: &str) -> EventState {
        match &mut self.mode {
            Mode::Note(note) => {
                note.paste(text);
                EventState::Consumed
            }
            Mode::Keys => EventState::NotConsumed,
        }
    }

    fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Response { to: PaneId::Prompt, key, result } => self.on_response(key, result),
            AppEvent::Bus { event, data } => self.on_bus(event, data),
            AppEvent::Connection(Connection::Lost(_)) => self.lost = true,
            AppEvent::Connection(Connection::Up) if self.lost => {
                self.lost = false;
                self.fetch();
            }
            _ => {}
        }
    }

    fn on_tick(&mut self, now: Instant) -> bool {
        let mut redraw = false;
        if self.notice.as_ref().is_some_and(|n| now >= n.until) {
            self.notice = None;
            redraw = true;
        }
        let wall = wall_ms();
        // The countdown shows seconds: redraw when the second changes.
        if !self.queue.is_empty() && wall / 1000 != self.now_ms / 1000 {
            redraw = true;
        }
        self.now_ms = wall;
        redraw
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        view::draw(self, frame, area);
    }

    fn keys(&self) -> &'static [KeyHelp] {
        // With only a notice on screen every key goes to the pane below: the hint line says
        // nothing of the prompt's. With nothing at all, the help still lists the prompt's keys.
        match (&self.mode, self.queue.is_empty(), self.notice.is_some()) {
            (_, true, true) => &[],
            (Mode::Note(_), false, _) => NOTE_KEYS,
            _ => KEYS,
        }
    }
}

/// The error line of a decision that did not go through; the request stays to be answered
/// again.
fn failure(e: &ApiError) -> String {
    if e.status == 0 {
        format!("not sent: {} (the stack is unreachable) · press the key again to retry", e.message)
    } else {
        format!("refused: {} ({} {}) · press the key again to retry", e.message, e.status, e.code)
    }
}

/// The notice for the request on screen decided somewhere else.
fn decided_elsewhere(decided: &Approval) -> String {
    let what =
        decided.decision.as_ref().map_or("decided", |d| if d.decision == "approve" { "approved" } else { "denied" });
    let by = decided.decision.as_ref().map(|d| format!(" ({})", d.by())).unwrap_or_default();
    format!("{} was {what} elsewhere{by}", decided.function_id)
}

/// Now, in Unix milliseconds.
fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
