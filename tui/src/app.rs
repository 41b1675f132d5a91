//! The app: owns the panes and the approval prompt, routes keys and events, draws the frame.
//!
//! Rules it keeps:
//! - Keys go first to the approval prompt when one is open, then to the help overlay, then to the
//!   app's own keys (Ctrl-C, Tab, Shift-Tab, Alt-1..5; `1`–`5`, `?` and `q` only while the shown
//!   pane is not taking text), then to the shown pane.
//! - `Response` and `Stream` events go to the pane they name; `Bus` and `Connection` to all.
//! - Drawing reads state only: the app never does IO, never blocks.

use std::time::Instant;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::event::{AppEvent, AppEventSender, Connection, PaneId};
use crate::pane::{KeyHelp, Pane};
use crate::panes::{
    approvals::ApprovalsPane, chat::ChatPane, prompt::ApprovalPrompt, replay::ReplayPane, trace::TracePane,
    workers::WorkersPane,
};
use crate::theme::Theme;

/// What the dashboard opens on, and who the user is.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub theme: Theme,
    /// The pane shown first.
    pub pane: PaneId,
    /// `agentos replay SESSION`: the session the replay pane opens.
    pub session: Option<String>,
    /// `agentos trace ID`: the trace the trace pane opens.
    pub trace: Option<String>,
    /// The chat's hand (`--hand`), else the server's default.
    pub hand: Option<String>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self { theme: Theme::from_env(), pane: PaneId::Chat, session: None, trace: None, hand: None }
    }
}

/// The app's own keys, shown first in the help.
pub const GLOBAL_KEYS: &[KeyHelp] = &[
    ("Tab / Shift-Tab", "next / previous pane"),
    ("1-5 / Alt-1..5", "Chat, Approvals, Trace, Replay, Workers"),
    ("?", "this help (any key closes it)"),
    ("q / Ctrl-C", "quit (q only where no text is being typed)"),
];

/// The dashboard's state.
pub struct App {
    theme: Theme,
    shown: PaneId,
    chat: ChatPane,
    approvals: ApprovalsPane,
    trace: TracePane,
    replay: ReplayPane,
    workers: WorkersPane,
    prompt: ApprovalPrompt,
    help: bool,
    connection: Connection,
    quit: bool,
    tx: AppEventSender,
}

impl App {
    /// The app and its panes; each pane asks for its first data through `tx` right away.
    pub fn new(tx: AppEventSender, options: AppOptions) -> Self {
        let theme = options.theme;
        let mut app = Self {
            theme,
            shown: options.pane,
            chat: ChatPane::new(tx.clone(), theme, options.hand),
            approvals: ApprovalsPane::new(tx.clone(), theme),
            trace: TracePane::new(tx.clone(), theme, options.trace),
            replay: ReplayPane::new(tx.clone(), theme, options.session),
            workers: WorkersPane::new(tx.clone(), theme),
            prompt: ApprovalPrompt::new(tx.clone(), theme),
            help: false,
            connection: Connection::Up,
            quit: false,
            tx,
        };
        app.pane_mut(app.shown).on_show();
        app
    }

    /// `true` once the user asked to leave.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// The pane shown now.
    pub fn shown(&self) -> PaneId {
        self.shown
    }

    fn pane_mut(&mut self, id: PaneId) -> &mut dyn Pane {
        match id {
            PaneId::Chat => &mut self.chat,
            PaneId::Approvals => &mut self.approvals,
            PaneId::Trace => &mut self.trace,
            PaneId::Replay => &mut self.replay,
            PaneId::Workers => &mut self.workers,
            PaneId::Prompt => &mut self.prompt,
            // The app's own requests are answered to the chat, which shows the session line.
            PaneId::App => &mut self.chat,
        }
    }

    fn pane(&self, id: PaneId) -> &dyn Pane {
        match id {
            PaneId::Chat | PaneId::App => &self.chat,
            PaneId::Approvals => &self.approvals,
            PaneId::Trace => &self.trace,
            PaneId::Replay => &self.replay,
            PaneId::Workers => &self.workers,
            PaneId::Prompt => &self.prompt,
        }
    }

    /// Shows `id` (a tab pane; the prompt and the app are not shown this way).
    pub fn show(&mut self, id: PaneId) {
        if PaneId::TABS.contains(&id) && id != self.shown {
            self.shown = id;
            self.pane_mut(id).on_show();
        }
    }

    fn cycle(&mut self, forward: bool) {
        let at = PaneId::TABS.iter().position(|p| *p == self.shown).unwrap_or(0);
        let n = PaneId::TABS.len();
        let next = if forward { (at + 1) % n } else { (at + n - 1) % n };
        self.show(PaneId::TABS[next]);
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if self.prompt.is_open() && self.prompt.on_key(key).is_consumed() {
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        let typing = self.pane(self.shown).wants_text_input();
        match key.code {
            KeyCode::Tab if key.modifiers.is_empty() => return self.cycle(true),
            KeyCode::BackTab => return self.cycle(false),
            KeyCode::Char(c @ '1'..='5')
                if key.modifiers.contains(KeyModifiers::ALT) || (!typing && key.modifiers.is_empty()) =>
            {
                let index = c as usize - '1' as usize;
                return self.show(PaneId::TABS[index]);
            }
            _ => {}
        }
        let shown = self.shown;
        if self.pane_mut(shown).on_key(key).is_consumed() {
            return;
        }
        if !typing && key.modifiers.difference(KeyModifiers::SHIFT).is_empty() {
            match key.code {
                KeyCode::Char('?') => self.help = true,
                KeyCode::Char('q') => self.quit = true,
                _ => {}
            }
        }
    }

    /// A mouse event: the prompt first when open (its diff scrolls), else the shown pane.
    pub fn on_mouse(&mut self, mouse: MouseEvent) {
        if self.prompt.is_open() && self.prompt.on_mouse(mouse).is_consumed() {
            return;
        }
        let shown = self.shown;
        self.pane_mut(shown).on_mouse(mouse);
    }

    /// Pasted text goes to the prompt when it takes it (its note), else to the shown pane.
    pub fn on_paste(&mut self, text: &str) {
        if self.prompt.is_open() && self.prompt.on_paste(text).is_consumed() {
            return;
        }
        let shown = self.shown;
        self.pane_mut(shown).on_paste(text);
    }

    /// An event from the loop: answers, stream items, bus events, connection changes.
    pub fn on_event(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Response { to, .. } | AppEvent::Stream { to, .. } => self.pane_mut(*to).on_event(event),
            AppEvent::Bus { .. } => self.broadcast(event),
            AppEvent::Connection(state) => {
                self.connection = state.clone();
                self.broadcast(event);
            }
            AppEvent::Show(id) => self.show(*id),
            AppEvent::Quit => self.quit = true,
            AppEvent::Request(_) | AppEvent::OpenStream(_) | AppEvent::CloseStream { .. } | AppEvent::Redraw => {}
        }
    }

    fn broadcast(&mut self, event: &AppEvent) {
        for id in PaneId::TABS {
            self.pane_mut(id).on_event(event);
        }
        self.prompt.on_event(event);
    }

    /// Timers of every pane; `true` when something needs a redraw.
    pub fn on_tick(&mut self, now: Instant) -> bool {
        let mut redraw = false;
        for id in PaneId::TABS {
            redraw |= self.pane_mut(id).on_tick(now);
        }
        redraw | self.prompt.on_tick(now)
    }

    /// Draws the whole screen: tab bar, banner when the connection is lost, the pane, the hint
    /// line; the approval prompt and the help above them.
    pub fn render(&mut self, frame: &mut Frame) {
        let area = frame.area();
        let banner = matches!(self.connection, Connection::Lost(_));
        let [tabs, banner_area, body, hints] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(u16::from(banner)),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(self.tab_line()), tabs);
        if let Connection::Lost(why) = &self.connection {
            let text = format!(" connection lost: {why} · reconnecting… ");
            frame.render_widget(Paragraph::new(Line::styled(text, self.theme.error())), banner_area);
        }
        let shown = self.shown;
        self.pane_mut(shown).render(frame, body);
        frame.render_widget(Paragraph::new(self.hint_line()), hints);
        if self.prompt.is_open() {
            self.prompt.render(frame, body);
        }
        if self.help {
            self.render_help(frame, area);
        }
    }

    fn tab_line(&self) -> Line<'static> {
        let theme = self.theme;
        let mut spans = vec![Span::styled(" agentos ", theme.accent())];
        for (i, id) in PaneId::TABS.iter().enumerate() {
            let mut title = format!(" {} {} ", i + 1, id.title());
            if *id == PaneId::Approvals {
                let pending = self.prompt.pending();
                if pending > 0 {
                    title = format!(" {} {} ({pending}) ", i + 1, id.title());
                }
            }
            let style = if *id == self.shown { theme.selected() } else { theme.dim() };
            spans.push(Span::styled(title, style));
        }
        spans.push(match self.connection {
            Connection::Up => Span::styled(" ● connected", theme.ok()),
            Connection::Lost(_) => Span::styled(" ○ offline", theme.error()),
        });
        Line::from(spans)
    }

    fn hint_line(&self) -> Line<'static> {
        let theme = self.theme;
        let keys: &[KeyHelp] = if self.prompt.is_open() { self.prompt.keys() } else { self.pane(self.shown).keys() };
        let mut spans = Vec::new();
        for (key, what) in keys.iter().take(6) {
            spans.push(Span::styled(format!(" {key}"), theme.accent()));
            spans.push(Span::styled(format!(" {what} "), theme.dim()));
        }
        spans.push(Span::styled(" ?", theme.accent()));
        spans.push(Span::styled(" help", theme.dim()));
        Line::from(spans)
    }

    fn render_help(&self, frame: &mut Frame, area: Rect) {
        let theme = self.theme;
        let mut lines = vec![Line::styled("Everywhere", theme.accent())];
        let row = |(key, what): &KeyHelp| {
            Line::from(vec![Span::styled(format!("  {key:<18}"), theme.accent()), Span::raw(*what)])
        };
        lines.extend(GLOBAL_KEYS.iter().map(row));
        lines.push(Line::raw(""));
        lines.push(Line::styled(self.shown.title().to_string(), theme.accent()));
        lines.extend(self.pane(self.shown).keys().iter().map(row));
        lines.push(Line::raw(""));
        lines.push(Line::styled("Approval prompt", theme.accent()));
        lines.extend(self.prompt.keys().iter().map(row));
        let width = area.width.saturating_sub(4).min(76);
        let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
        let popup = centered(area, width, height);
        frame.render_widget(Clear, popup);
        let block = Block::default().borders(Borders::ALL).title(" keys ").border_style(theme.accent());
        frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), popup);
    }

    /// The sender the app was built with (the loop hands it to the tasks it spawns).
    pub fn sender(&self) -> &AppEventSender {
        &self.tx
    }
}

/// A `width` × `height` rectangle centred in `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}
