//! The workers pane: the supervisor's table (state, pid, restarts, uptime, functions, last
//! error) and the selected worker's log tail; `r` restarts a worker.
//!
//! Rules it keeps:
//! - It polls `GET /v1/workers` (key `list`) every [`POLL_SHOWN`] while shown and every
//!   [`POLL_HIDDEN`] otherwise, never with two polls in flight; and the selected worker's
//!   `GET /v1/workers/:name/logs?lines=200` (key `logs:<name>`) when the selection changes and
//!   every [`LOG_POLL`] while shown. An answer about a worker no longer selected is dropped.
//! - "Shown" is learnt from drawing: the app draws only the shown pane, and a shown pane is
//!   drawn at least once a second (every poll's answer redraws), so a pane not drawn for
//!   [`SHOWN_GRACE`] is hidden.
//! - The selection follows the worker's name across polls and filters.
//! - A row whose state, pid or restart count changed since the previous poll flashes for
//!   [`FLASH`] (a worker restarted between two polls changes pid, not state); a worker `r`
//!   restarted reads `restarting…` until one of those changes.
//! - Failed calls are shown in the header and the log frame, and polling goes on; the rows last
//!   seen stay.
//!
//! The parts: [`model`] (rows and cell text), [`table`] (columns and rows), [`log`] (the tail).

pub mod log;
pub mod model;
pub mod table;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use crate::event::{ApiError, AppEvent, AppEventSender, Connection, Method, PaneId, segment};
use crate::pane::{EventState, KeyHelp, Pane};
use crate::theme::Theme;
use log::LogTail;
use model::{Fingerprint, Health, WorkerRow, truncate};
use table::{Columns, Marks, keep_in_view};

/// How often the table is refreshed while shown: uptimes tick in seconds.
pub const POLL_SHOWN: Duration = Duration::from_secs(1);
/// How often it is refreshed while another pane is shown: enough to notice a crash when the
/// user comes back, at a fifth of the cost.
pub const POLL_HIDDEN: Duration = Duration::from_secs(5);
/// How often the selected worker's log is refreshed while shown.
pub const LOG_POLL: Duration = Duration::from_secs(2);
/// How long a row that changed stays highlighted: long enough to catch the eye between two
/// polls, short enough not to be mistaken for a lasting state.
pub const FLASH: Duration = Duration::from_secs(2);
/// How long a failed restart's message stays in the header: time to read it twice.
pub const NOTICE: Duration = Duration::from_secs(10);
/// How long after its last frame the pane still counts as shown (more than a poll period).
pub const SHOWN_GRACE: Duration = Duration::from_millis(2500);
/// Lines of log asked for.
pub const LOG_LINES: usize = 200;
/// The width from which the log goes to the right of the table instead of below it.
pub const SIDE_BY_SIDE: u16 = 180;
/// The fewest rows the log keeps below the table (its frame and six lines).
const LOG_MIN: u16 = 8;
/// The most rows the detail gives a worker's last error above its log.
const ERROR_ROWS: usize = 4;

/// Keys while browsing, the most used first (the hint line shows the first six).
const KEYS: &[KeyHelp] = &[
    ("↑/↓", "select"),
    ("r", "restart"),
    ("/", "filter"),
    ("f", "follow log"),
    ("PgUp/PgDn", "scroll log"),
    ("Esc", "clear filter"),
    ("j/k", "select"),
    ("Home/End", "first / last"),
];

/// Keys while typing a filter.
const FILTER_KEYS: &[KeyHelp] =
    &[("type", "filter by name"), ("Enter", "keep it"), ("Esc", "clear it"), ("↑/↓", "select")];

/// Where the table stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    Loading,
    Loaded,
    /// The last poll failed (rows seen before stay shown).
    Failed(ApiError),
}

/// A periodic call: when it was last sent, and whether its answer is still due.
#[derive(Debug, Clone, Copy, Default)]
struct Poll {
    in_flight: bool,
    last: Option<Instant>,
}

impl Poll {
    fn due(&self, now: Instant, every: Duration) -> bool {
        !self.in_flight && self.last.is_none_or(|last| now >= last + every)
    }

    fn sent(&mut self, now: Instant) {
        self.in_flight = true;
        self.last = Some(now);
    }
}

/// The workers pane.
pub struct WorkersPane {
    tx: AppEventSender,
    theme: Theme,
    rows: Vec<WorkerRow>,
    load: Load,
    list_poll: Poll,
    log_poll: Poll,
    /// The selected worker, by name.
    selected: Option<String>,
    offset: usize,
    filter: String,
    typing: bool,
    /// Rows flashing, until when.
    flashes: HashMap<String, Instant>,
    /// Workers asked to restart, with what they looked like then.
    restarting: HashMap<String, Fingerprint>,
    /// The outcome of the last restart request that failed, shown until when.
    notice: Option<(String, Instant)>,
    log: LogTail,
    shown_until: Option<Instant>,
    table_area: Rect,
    log_area: Rect,
}

impl WorkersPane {
    /// The pane, asking for the table at once.
    pub fn new(tx: AppEventSender, theme: Theme) -> Self {
        let mut pane = Self {
            tx,
            theme,
            rows: Vec::new(),
            load: Load::Loading,
            list_poll: Poll::default(),
            log_poll: Poll::default(),
            selected: None,
            offset: 0,
            filter: String::new(),
            typing: false,
            flashes: HashMap::new(),
            restarting: HashMap::new(),
            notice: None,
            log: LogTail::default(),
            shown_until: None,
            table_area: Rect::default(),
            log_area: Rect::default(),
        };
        pane.poll_list(Instant::now());
        pane
    }

    /// The rows the filter lets through, in name order.
    pub fn visible(&self) -> Vec<&WorkerRow> {
        let needle = self.filter.to_lowercase();
        self.rows.iter().filter(|r| needle.is_empty() || r.name.to_lowercase().contains(&needle)).collect()
    }

    /// The selected worker's row, if it passes the filter.
    pub fn selected(&self) -> Option<&WorkerRow> {
        let name = self.selected.as_deref()?;
        self.visible().into_iter().find(|r| r.name == name)
    }

    /// The log tail.
    pub fn log(&self) -> &LogTail {
        &self.log
    }

    fn is_shown(&self, now: Instant) -> bool {
        self.shown_until.is_some_and(|until| now < until)
    }

    fn poll_list(&mut self, now: Instant) {
        self.list_poll.sent(now);
        self.tx.get(PaneId::Workers, "list", "/v1/workers");
    }

    fn poll_log(&mut self, now: Instant) {
        let Some(name) = self.log.worker.clone() else { return };
        self.log_poll.sent(now);
        self.tx.get(
            PaneId::Workers,
            format!("logs:{name}"),
            format!("/v1/workers/{}/logs?lines={LOG_LINES}", segment(&name)),
        );
    }

    /// Selects `name` (or nothing); a new worker's log is asked for at once.
    fn select(&mut self, name: Option<String>) {
        if name == self.selected {
            return;
        }
        self.selected = name.clone();
        match name {
            Some(name) => {
                self.log.switch_to(&name);
                // A poll of the previous worker may still be out; its answer will be dropped.
                self.log_poll = Poll::default();
                self.poll_log(Instant::now());
            }
            None => self.log = LogTail::default(),
        }
    }

    /// Keeps a selection among the visible rows: the same worker when it is still there, else
    /// the row at the same place, else the first.
    fn fix_selection(&mut self, previous_index: Option<usize>) {
        let visible: Vec<String> = self.visible().iter().map(|r| r.name.clone()).collect();
        if self.selected.as_ref().is_some_and(|s| visible.contains(s)) {
            return;
        }
        let at = previous_index.unwrap_or(0).min(visible.len().saturating_sub(1));
        self.select(visible.get(at).cloned());
    }

    fn selected_index(&self) -> Option<usize> {
        let name = self.selected.as_deref()?;
        self.visible().iter().position(|r| r.name == name)
    }

    fn move_selection(&mut self, to: impl FnOnce(usize, usize) -> usize) {
        let visible: Vec<String> = self.visible().iter().map(|r| r.name.clone()).collect();
        if visible.is_empty() {
            return;
        }
        let at = self.selected_index().unwrap_or(0);
        let next = to(at, visible.len()).min(visible.len() - 1);
        self.select(visible.get(next).cloned());
    }

    fn restart_selected(&mut self) {
        let Some(row) = self.selected().cloned() else { return };
        self.notice = None;
        self.restarting.insert(row.name.clone(), row.fingerprint());
        self.tx.request(
            PaneId::Workers,
            format!("restart:{}", row.name),
            Method::Post,
            format!("/v1/workers/{}/restart", segment(&row.name)),
            Some(json!({})),
        );
    }

    fn on_list(&mut self, result: &Result<Value, ApiError>) {
        self.list_poll.in_flight = false;
        let answer = match result {
            Ok(answer) => answer,
            Err(err) => {
                self.load = Load::Failed(err.clone());
                return;
            }
        };
        let rows = WorkerRow::list(answer);
        let now = Instant::now();
        // The first answer has nothing to compare with, so nothing flashes.
        let before: HashMap<&str, Fingerprint> = self.rows.iter().map(|r| (r.name.as_str(), r.fingerprint())).collect();
        for row in &rows {
            if before.get(row.name.as_str()).is_some_and(|then| *then != row.fingerprint()) {
                self.flashes.insert(row.name.clone(), now + FLASH);
            }
        }
        self.restarting.retain(|name, then| rows.iter().any(|r| &r.name == name && r.fingerprint() == *then));
        let previous_index = self.selected_index();
        self.rows = rows;
        self.load = Load::Loaded;
        self.fix_selection(previous_index);
    }

    fn on_log(&mut self, name: &str, result: &Result<Value, ApiError>) {
        if self.log.worker.as_deref() != Some(name) {
            return;
        }
        self.log_poll.in_flight = false;
        match result {
            Ok(answer) => self.log.loaded(answer),
            Err(err) => self.log.failed(err.clone()),
        }
    }

    fn on_restart(&mut self, name: &str, result: &Result<Value, ApiError>) {
        match result {
            // The next poll shows the new process; ask for it now rather than in a second.
            Ok(_) => self.list_poll.last = None,
            Err(err) => {
                self.restarting.remove(name);
                self.notice = Some((format!("restarting {name} failed: {err}"), Instant::now() + NOTICE));
            }
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> EventState {
        match key.code {
            KeyCode::Enter => self.typing = false,
            KeyCode::Esc => {
                self.typing = false;
                self.set_filter(String::new());
            }
            KeyCode::Backspace => {
                let mut filter = self.filter.clone();
                filter.pop();
                self.set_filter(filter);
            }
            KeyCode::Up => self.move_selection(|at, _| at.saturating_sub(1)),
            KeyCode::Down => self.move_selection(|at, _| at + 1),
            KeyCode::Char(c) if !key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => {
                let mut filter = self.filter.clone();
                filter.push(c);
                self.set_filter(filter);
            }
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    /// A new filter; a selection it hides moves to the first worker it shows.
    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.offset = 0;
        self.fix_selection(None);
    }

    fn render_header(&self, buf: &mut Buffer, area: Rect) -> Option<Position> {
        let theme = self.theme;
        let ready = self.rows.iter().filter(|r| r.health() == Health::Ok).count();
        let failing = self.rows.iter().filter(|r| r.health() == Health::Error).count();
        let mut spans = vec![];
        if self.rows.is_empty() {
            // Until the first answer the table body says what is going on.
            spans.push(Span::styled(" workers", theme.accent()));
        } else {
            spans.push(Span::styled(format!(" {} workers", self.rows.len()), theme.accent()));
            spans.push(Span::styled(format!(" · {ready} ready"), theme.ok()));
            if failing > 0 {
                spans.push(Span::styled(format!(" · {failing} failing"), theme.error()));
            }
        }
        let mut cursor = None;
        if self.typing || !self.filter.is_empty() {
            let text = format!("   / {}", self.filter);
            let at = spans.iter().map(|s| s.content.width()).sum::<usize>() + text.width();
            if self.typing {
                cursor = Some(Position::new(area.x + (at as u16).min(area.width.saturating_sub(1)), area.y));
            }
            spans.push(Span::styled(text, theme.accent()));
        }
        if let Some((notice, _)) = &self.notice {
            spans.push(Span::styled(format!("   {notice}"), theme.error()));
        } else if let Load::Failed(err) = &self.load
            && !self.rows.is_empty()
        {
            spans.push(Span::styled(format!("   cannot refresh: {err}"), theme.error()));
        }
        Line::from(spans).render(area, buf);
        cursor
    }

    fn render_table(&mut self, buf: &mut Buffer, area: Rect) {
        self.table_area = area;
        let theme = self.theme;
        if area.height == 0 {
            return;
        }
        let visible = self.visible();
        if visible.is_empty() {
            let (text, style) = match (&self.load, self.rows.is_empty()) {
                (Load::Loading, _) => (" Loading the workers…".to_string(), theme.dim()),
                (Load::Failed(err), true) => (format!(" The workers could not be listed: {err}"), theme.error()),
                (_, true) => (" No workers are enabled (see `[workers]` in agentos.toml).".to_string(), theme.dim()),
                (_, false) => (format!(" No worker matches “{}”; Esc clears the filter.", self.filter), theme.dim()),
            };
            buf.set_stringn(area.x, area.y, text, usize::from(area.width), style);
            return;
        }
        let longest = visible.iter().map(|r| r.name.width()).max().unwrap_or(0);
        let columns = Columns::for_width(area.width, longest);
        buf.set_stringn(area.x, area.y, columns.header(), usize::from(area.width), theme.dim());
        let rows_area = Rect { y: area.y + 1, height: area.height - 1, ..area };
        let selected = self.selected.clone();
        let at = visible.iter().position(|r| Some(&r.name) == selected.as_ref()).unwrap_or(0);
        let mut offset = self.offset;
        keep_in_view(&mut offset, at, usize::from(rows_area.height), visible.len());
        let now = Instant::now();
        let below = visible.len().saturating_sub(offset + usize::from(rows_area.height));
        if offset > 0 || below > 0 {
            let more = match (offset, below) {
                (0, b) => format!(" ↓{b} more "),
                (a, 0) => format!(" ↑{a} more "),
                (a, b) => format!(" ↑{a} ↓{b} "),
            };
            let width = more.width() as u16;
            if width < area.width {
                buf.set_string(area.right() - width, area.y, &more, theme.accent());
            }
        }
        for (y, row) in (rows_area.y..rows_area.bottom()).zip(visible.iter().skip(offset)) {
            let marks = Marks {
                selected: Some(&row.name) == selected.as_ref(),
                flashing: self.flashes.get(&row.name).is_some_and(|until| now < *until),
                restarting: self.restarting.contains_key(&row.name),
            };
            columns.draw(buf, Rect { y, height: 1, ..rows_area }, row, marks, theme);
        }
        self.offset = offset;
    }

    fn render_log(&mut self, buf: &mut Buffer, area: Rect) {
        let theme = self.theme;
        let selected = self.selected().cloned();
        let mut title = vec![Span::styled(" log ", theme.accent())];
        if let Some(row) = &selected {
            title = vec![Span::styled(format!(" {} ", row.name), theme.accent())];
            // The mode on the right needs about 20 columns.
            let room = usize::from(area.width).saturating_sub(row.name.width() + 28);
            if !row.description.is_empty() && room > 8 {
                title.push(Span::styled(format!("· {} ", truncate(&row.description, room)), theme.dim()));
            }
        }
        let (mode, mode_style) = match (self.log.follow, self.log.hidden_above()) {
            (true, _) => (" following ".to_string(), theme.ok()),
            (false, 0) => (" paused · top ".to_string(), theme.warn()),
            (false, n) => (format!(" paused · ↑{n} "), theme.warn()),
        };
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.dim())
            .title(Line::from(title))
            .title(Line::from(Span::styled(mode, mode_style)).right_aligned());
        if let Some(path) = &self.log.path {
            let room = usize::from(area.width).saturating_sub(4);
            block = block.title_bottom(Line::from(Span::styled(format!(" {} ", truncate(path, room)), theme.dim())));
        }
        let inner = block.inner(area);
        block.render(area, buf);
        let error_rows = selected.as_ref().and_then(|r| r.last_error.as_deref()).map(|e| error_rows(e, inner.width));
        let error_height = error_rows.as_ref().map_or(0, |rows| rows.len() as u16).min(inner.height);
        let [error_area, lines_area] =
            Layout::vertical([Constraint::Length(error_height), Constraint::Min(0)]).areas(inner);
        for (y, row) in (error_area.y..error_area.bottom()).zip(error_rows.iter().flatten()) {
            buf.set_stringn(error_area.x, y, row, usize::from(error_area.width), theme.error());
        }
        self.log_area = lines_area;
        self.log.render(buf, lines_area, theme);
    }

    /// The table and the log areas for a pane of `area` with `rows` table rows.
    fn layout(area: Rect, rows: usize) -> (Rect, Rect) {
        if area.width >= SIDE_BY_SIDE {
            // The table keeps every column; the log takes the rest.
            let table = (area.width * 55 / 100).max(table::WIDE);
            let [table, log] = Layout::horizontal([Constraint::Length(table), Constraint::Min(0)]).areas(area);
            return (table, log);
        }
        // Header row plus every worker, but the log keeps a third of the pane (at least
        // LOG_MIN rows): the table scrolls before the log shrinks to nothing.
        let wanted = rows as u16 + 1;
        let log = (area.height / 3).max(LOG_MIN);
        let table = wanted.min(area.height.saturating_sub(log).max(3)).min(area.height);
        let [table, log] = Layout::vertical([Constraint::Length(table), Constraint::Min(0)]).areas(area);
        (table, log)
    }
}

impl Pane for WorkersPane {
    fn on_key(&mut self, key: KeyEvent) -> EventState {
        if self.typing {
            return self.on_filter_key(key);
        }
        if !key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            return EventState::NotConsumed;
        }
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(|at, _| at.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(|at, _| at + 1),
            KeyCode::Home | KeyCode::Char('g') => self.move_selection(|_, _| 0),
            KeyCode::End | KeyCode::Char('G') => self.move_selection(|_, len| len - 1),
            KeyCode::PageUp => self.log.page(false),
            KeyCode::PageDown => self.log.page(true),
            KeyCode::Char('f') => self.log.toggle_follow(),
            KeyCode::Char('r') => self.restart_selected(),
            KeyCode::Char('/') => self.typing = true,
            KeyCode::Esc if !self.filter.is_empty() => self.set_filter(String::new()),
            _ => return EventState::NotConsumed,
        }
        EventState::Consumed
    }

    fn on_mouse(&mut self, mouse: MouseEvent) -> EventState {
        let at = Position::new(mouse.column, mouse.row);
        let delta = match mouse.kind {
            MouseEventKind::ScrollUp => -3,
            MouseEventKind::ScrollDown => 3,
            MouseEventKind::Down(_) if self.table_area.contains(at) => {
                // The first line is the column header.
                let row = usize::from(mouse.row.saturating_sub(self.table_area.y));
                if row == 0 {
                    return EventState::NotConsumed;
                }
                let name = self.visible().get(self.offset + row - 1).map(|r| r.name.clone());
                if name.is_some() {
                    self.select(name);
                }
                return EventState::Consumed;
            }
            _ => return EventState::NotConsumed,
        };
        if self.log_area.contains(at) {
            self.log.scroll(delta);
        } else {
            self.move_selection(|i, _| i.saturating_add_signed(delta.signum()));
        }
        EventState::Consumed
    }

    fn on_paste(&mut self, text: &str) -> EventState {
        if !self.typing {
            return EventState::NotConsumed;
        }
        let line = text.lines().next().unwrap_or_default();
        self.set_filter(format!("{}{line}", self.filter));
        EventState::Consumed
    }

    fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Response { to: PaneId::Workers, key, result } => {
                if key == "list" {
                    self.on_list(result);
                } else if let Some(name) = key.strip_prefix("logs:") {
                    self.on_log(name, result);
                } else if let Some(name) = key.strip_prefix("restart:") {
                    self.on_restart(name, result);
                }
            }
            // Back after an outage: refresh at the next tick instead of waiting out the period.
            AppEvent::Connection(Connection::Up) => {
                self.list_poll.last = None;
                self.log_poll.last = None;
            }
            _ => {}
        }
    }

    fn on_show(&mut self) {
        let now = Instant::now();
        self.shown_until = Some(now + SHOWN_GRACE);
        if !self.list_poll.in_flight {
            self.poll_list(now);
        }
        if !self.log_poll.in_flight {
            self.poll_log(now);
        }
    }

    fn on_tick(&mut self, now: Instant) -> bool {
        let shown = self.is_shown(now);
        if self.list_poll.due(now, if shown { POLL_SHOWN } else { POLL_HIDDEN }) {
            self.poll_list(now);
        }
        if shown && self.log_poll.due(now, LOG_POLL) {
            self.poll_log(now);
        }
        let flashing = self.flashes.len();
        self.flashes.retain(|_, until| now < *until);
        let notice_over = self.notice.as_ref().is_some_and(|(_, until)| now >= *until);
        if notice_over {
            self.notice = None;
        }
        self.flashes.len() != flashing || notice_over
    }

    fn render(&mut self, frame: &mut Frame, area: Rect) {
        self.shown_until = Some(Instant::now() + SHOWN_GRACE);
        frame.render_widget(Clear, area);
        if area.height == 0 {
            return;
        }
        let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        if let Some(at) = self.render_header(frame.buffer_mut(), header) {
            frame.set_cursor_position(at);
        }
        let rows = self.visible().len();
        if rows == 0 {
            // Nothing to select, so no log: the table's message takes the pane.
            self.log_area = Rect::default();
            self.render_table(frame.buffer_mut(), body);
            return;
        }
        let (table, log) = Self::layout(body, rows);
        self.render_table(frame.buffer_mut(), table);
        if log.height >= 3 {
            self.render_log(frame.buffer_mut(), log);
        }
    }

    fn wants_text_input(&self) -> bool {
        self.typing
    }

    fn keys(&self) -> &'static [KeyHelp] {
        if self.typing { FILTER_KEYS } else { KEYS }
    }
}

/// A worker's last error as rows of `width` for the detail (marked `✗`, at most [`ERROR_ROWS`],
/// the last one ending in `…` when the error is longer).
fn error_rows(error: &str, width: u16) -> Vec<String> {
    let text = format!("✗ {}", error.split_whitespace().collect::<Vec<_>>().join(" "));
    let ranges = log::wrap_ranges(&text, usize::from(width));
    let cut = ranges.len() > ERROR_ROWS;
    let mut rows: Vec<String> = ranges.into_iter().take(ERROR_ROWS).map(|r| text[r].to_string()).collect();
    if cut && let Some(last) = rows.last_mut() {
        last.pop();
        last.push('…');
    }
    rows
}
