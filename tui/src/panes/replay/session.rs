//! One session being replayed: its events (loaded a page at a time), the step shown, playback,
//! and the drawing of the chat, the step's detail and the progress line.
//!
//! Rules it keeps:
//! - The timeline is rebuilt when a page arrives, never per frame; the step's detail is built
//!   when the step changes.
//! - Stepping by hand pauses playback; starting playback at the last step starts over.
//! - Layout: header, then the chat left and the detail right (stacked when narrow), then the
//!   progress line `step 12/87 · ▶ 4×`.

use std::time::Instant;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget, Wrap};

use super::chat::ChatView;
use super::detail;
use super::events::{ReplayEvent, Session, Summary};
use super::player::{Player, Speed};
use super::sessions::{fit, state_style, totals_spans};
use super::timeline::{Part, Timeline};
use crate::event::ApiError;
use crate::panes::trace::format;
use crate::theme::Theme;

/// The width from which the chat and the detail sit side by side.
const SIDE_BY_SIDE: u16 = 100;

/// A session being replayed.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub session: Session,
    pub events: Vec<ReplayEvent>,
    times: Vec<u64>,
    /// The turn number of each step.
    turns: Vec<usize>,
    /// Whether more pages are on their way.
    pub loading: bool,
    pub error: Option<ApiError>,
    pub timeline: Timeline,
    chat: ChatView,
    pub step: usize,
    pub player: Player,
    detail: Option<(usize, Vec<Line<'static>>)>,
    detail_scroll: usize,
    detail_page: usize,
}

impl SessionView {
    /// A session whose first page of events was asked for.
    pub fn new(session: Session) -> Self {
        Self {
            session,
            events: Vec::new(),
            times: Vec::new(),
            turns: Vec::new(),
            loading: true,
            error: None,
            timeline: Timeline::default(),
            chat: ChatView::default(),
            step: 0,
            player: Player::default(),
            detail: None,
            detail_scroll: 0,
            detail_page: 10,
        }
    }

    /// Appends a page (events at or before the last `seq` held are dropped) and rebuilds.
    pub fn append(&mut self, page: Vec<ReplayEvent>) {
        let last = self.events.last().map(|e| e.seq);
        self.events.extend(page.into_iter().filter(|e| last.is_none_or(|l| e.seq > l)));
        self.times = self.events.iter().map(|e| e.at_ms).collect();
        self.timeline = Timeline::build(&self.events);
        self.turns = turn_numbers(&self.timeline, self.events.len());
        self.chat.clear();
        self.detail = None;
    }

    /// Starts over: events are asked for again from the first page.
    pub fn reset(&mut self) {
        let session = self.session.clone();
        *self = Self::new(session);
    }

    /// Moves `delta` steps (pausing playback).
    pub fn step_by(&mut self, delta: isize) {
        self.player.pause();
        self.go(self.step.saturating_add_signed(delta));
    }

    /// Shows step `n` (clamped to the events).
    pub fn go(&mut self, n: usize) {
        self.step = n.min(self.events.len().saturating_sub(1));
        self.detail_scroll = 0;
    }

    /// Jumps to the first step of the previous (`false`) or next (`true`) turn.
    pub fn jump_turn(&mut self, forward: bool) {
        self.player.pause();
        let Some(&here) = self.turns.get(self.step) else { return };
        let target = if forward {
            self.turns.iter().position(|&t| t > here)
        } else {
            let start = self.turns.iter().position(|&t| t == here).unwrap_or(0);
            if self.step > start { Some(start) } else { self.turns.iter().position(|&t| t + 1 == here) }
        };
        if let Some(step) = target {
            self.go(step);
        }
    }

    /// Space: plays from here (from the start when at the end), or pauses.
    pub fn toggle_play(&mut self, now: Instant) {
        if self.player.playing() {
            self.player.pause();
            return;
        }
        if self.events.is_empty() {
            return;
        }
        if self.step + 1 >= self.events.len() {
            self.go(0);
        }
        self.player.play(now, &self.times, self.step);
    }

    /// Sets the playback speed.
    pub fn set_speed(&mut self, speed: Speed) {
        self.player.set_speed(speed);
    }

    /// Advances playback; `true` when something changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        if !self.player.playing() {
            return false;
        }
        let next = self.player.tick(now, &self.times, self.step);
        let changed = next != self.step || !self.player.playing();
        if next != self.step {
            self.go(next);
        }
        changed
    }

    /// Scrolls the detail half a page.
    pub fn scroll_detail(&mut self, down: bool) {
        let page = (self.detail_page / 2).max(1);
        self.detail_scroll = if down { self.detail_scroll + page } else { self.detail_scroll.saturating_sub(page) };
    }

    /// The progress line: `step 12/87 · ▶ 4×`, a bar, the turn and the time into the session.
    pub fn progress(&self, width: u16, theme: Theme) -> Line<'static> {
        let total = self.events.len();
        let (mark, style) = if self.player.playing() { ("▶", theme.ok()) } else { ("‖", theme.dim()) };
        let mut left = vec![
            Span::styled(format!(" step {}/{total}", if total == 0 { 0 } else { self.step + 1 }), theme.accent()),
            Span::styled(" · ", theme.dim()),
            Span::styled(format!("{mark} {}", self.player.speed.label()), style),
        ];
        if self.loading {
            left.push(Span::styled(" · loading more steps…", theme.dim()));
        }
        let turns = self.turns.last().copied().unwrap_or(0);
        let offset = match (self.events.first(), self.events.get(self.step)) {
            (Some(a), Some(b)) => b.at_ms.saturating_sub(a.at_ms) as f64,
            _ => 0.0,
        };
        let right = format!(
            " turn {}/{turns} · +{} ",
            self.turns.get(self.step).copied().unwrap_or(0),
            format::duration_ms(offset)
        );
        let used = left.iter().map(|s| format::width(&s.content)).sum::<usize>() + format::width(&right);
        let room = usize::from(width).saturating_sub(used + 2);
        if room >= 8 && total > 0 {
            let done = ((self.step + 1) * room).div_ceil(total).min(room);
            left.push(Span::raw(" "));
            left.push(Span::styled("━".repeat(done), theme.accent()));
            left.push(Span::styled("─".repeat(room - done), theme.dim()));
            left.push(Span::raw(" "));
        } else {
            left.push(Span::raw(" ".repeat(usize::from(width).saturating_sub(used))));
        }
        left.push(Span::styled(right, theme.dim()));
        Line::from(left)
    }

    /// Draws the session into `area`; `totals` are the session's summary when known.
    pub fn render(&mut self, buf: &mut Buffer, area: Rect, totals: Option<&Summary>, theme: Theme) {
        if area.height < 4 || area.width < 20 {
            return;
        }
        buf.set_line(area.x, area.y, &fit(self.header(totals, theme), area.width), area.width);
        if !self.events.is_empty() {
            buf.set_line(area.x, area.bottom() - 1, &self.progress(area.width, theme), area.width);
        }
        let body = Rect { y: area.y + 1, height: area.height - 2, ..area };
        if let Some(err) = &self.error {
            let lines = vec![
                Line::styled(format!(" The steps of {} could not be loaded.", self.session.title()), theme.error()),
                Line::styled(format!(" {err}"), theme.text()),
                Line::styled(" r: try again · Esc: back to the sessions", theme.dim()),
            ];
            Paragraph::new(lines).wrap(Wrap { trim: false }).render(body, buf);
            return;
        }
        if self.events.is_empty() {
            let text = if self.loading { " Loading the recorded steps…" } else { " This session recorded no steps." };
            buf.set_stringn(body.x, body.y + 1, text, usize::from(body.width), theme.dim());
            return;
        }
        let (chat, detail) = if area.width >= SIDE_BY_SIDE {
            let left = body.width * 11 / 20;
            (Rect { width: left, ..body }, Rect { x: body.x + left, width: body.width - left, ..body })
        } else {
            let top = body.height * 11 / 20;
            (Rect { height: top, ..body }, Rect { y: body.y + top, height: body.height - top, ..body })
        };
        let chat_block = Block::new()
            .borders(Borders::TOP)
            .border_style(theme.dim())
            .title(Line::styled(" conversation ", theme.accent()));
        let chat_inner = chat_block.inner(chat);
        chat_block.render(chat, buf);
        self.chat.render(buf, chat_inner, &self.timeline, self.step, theme);
        self.render_detail(buf, detail, area.width >= SIDE_BY_SIDE, theme);
    }

    fn header(&self, totals: Option<&Summary>, theme: Theme) -> Vec<Span<'static>> {
        let s = &self.session;
        let mut spans = vec![
            Span::styled(format!(" {} ", format::truncate(s.title(), 40)), theme.accent()),
            Span::styled(format!("· {} · ", s.hand), theme.dim()),
            Span::styled(format!("{} ", s.state.replace('_', " ")), state_style(&s.state, theme)),
        ];
        if let Some(t) = totals {
            spans.extend(totals_spans(t, theme));
        }
        spans
    }

    fn render_detail(&mut self, buf: &mut Buffer, area: Rect, beside: bool, theme: Theme) {
        let Some(event) = self.events.get(self.step) else { return };
        let title = format!(" step {} · {} ", self.step + 1, event.kind.replace('_', " "));
        let borders = if beside { Borders::TOP | Borders::LEFT } else { Borders::TOP };
        let block = Block::new()
            .borders(borders)
            .border_style(theme.dim())
            .title(Line::styled(title, detail::kind_style(event, theme)));
        let inner = block.inner(area);
        block.render(area, buf);
        let inner = Rect { x: inner.x + 1, width: inner.width.saturating_sub(1), ..inner };
        if self.detail.as_ref().is_none_or(|(s, _)| *s != self.step) {
            let start = self.events.first().map_or(0, |e| e.at_ms);
            self.detail = Some((self.step, detail::lines(event, start, theme)));
        }
        let Some((_, lines)) = &self.detail else { return };
        self.detail_page = usize::from(inner.height);
        self.detail_scroll = self.detail_scroll.min(lines.len().saturating_sub(1));
        let shown: Vec<Line<'static>> =
            lines.iter().skip(self.detail_scroll).take(usize::from(inner.height)).cloned().collect();
        Paragraph::new(shown).wrap(Wrap { trim: false }).render(inner, buf);
    }
}

/// The turn number of each of `len` steps, from the timeline's turn entries.
fn turn_numbers(timeline: &Timeline, len: usize) -> Vec<usize> {
    let mut turns = vec![0; len];
    let starts: Vec<(usize, usize)> = timeline
        .entries
        .iter()
        .filter_map(|e| match e.part {
            Part::Turn { number, .. } => Some((e.step, number)),
            _ => None,
        })
        .collect();
    let mut current = 0;
    let mut next = starts.iter().peekable();
    for (step, slot) in turns.iter_mut().enumerate() {
        while let Some(&&(at, number)) = next.peek() {
            if at > step {
                break;
            }
            current = number;
            next.next();
        }
        *slot = current;
    }
    turns
}
