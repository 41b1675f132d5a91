//! Prompt assembly within the budget: what goes into the system message, which history
//! messages are kept, and the final message list of a `context::build`.
//!
//! Rules it keeps:
//! - Order: one system message (system prompt, a `Standing directives:` list, a `Relevant
//!   memories:` block when any), then the summary note of compacted history (when there is
//!   one), then the kept history, then the new user message. An empty system message is left
//!   out.
//! - The system prompt with its directives, the new message and the tool schemas are never
//!   dropped; when they alone exceed the budget the build fails with `CONTEXT_TOO_LARGE`.
//! - Recalled memories may take at most a quarter ([`MEMORY_SHARE`]) of what those leave, so
//!   they never crowd out the recent history; the ones that do not fit are left out, in order.
//! - History is kept newest first, whole groups at a time: a group is a message plus the tool
//!   results that follow it, so an assistant's tool calls are never separated from the results
//!   answering them. The kept part is always a suffix of the history.
//! - When history must be cut and there is room for it, the older part is summarised: the kept
//!   tail leaves [`SUMMARY_ROOM`] (at most half the history room) for the note. When the summary
//!   fails, the tail is recut with the whole room and the older part is dropped.
//! - The answer's `estimated_tokens` (messages plus tool schemas, counted as
//!   `context::estimate` counts them) never exceeds its `budget_tokens`.

use agentos_kit::chat::{ChatMessage, Role, ToolSpec};

use crate::BuildAnswer;
use crate::error::ContextError;
use crate::estimate::{MESSAGE_OVERHEAD, message_tokens, prefix_within, text_tokens, tools_tokens};
use crate::recall::Memory;
use crate::summary::{self, SUMMARY_MAX_TOKENS};
use crate::window::Budget;

/// The heading of the directives list in the system message.
pub const DIRECTIVES_HEADING: &str = "Standing directives:";

/// The heading of the memories block in the system message.
pub const MEMORIES_HEADING: &str = "Relevant memories:";

/// Memories may take at most 1/`MEMORY_SHARE` of the room the fixed parts leave.
pub const MEMORY_SHARE: u64 = 4;

/// The room held for the summary note when compacting: the summary's token limit, half as
/// much again because this estimate and the summarising model's tokenizer disagree, and the
/// note's label.
pub const SUMMARY_ROOM: u64 = SUMMARY_MAX_TOKENS as u64 * 3 / 2 + 64;

/// Below this much room for history no summary is written (it could hardly say anything), and
/// the older history is dropped.
pub const MIN_SUMMARY_ROOM: u64 = 256;

/// `- text` for a list item; continuation lines are indented so the item stays one item.
fn item(text: &str) -> String {
    format!("- {}", text.trim().replace('\n', "\n  "))
}

/// The system message's text: the system prompt, the directives and the memories, each part
/// only when present, separated by blank lines.
pub fn system_text(system: &str, directives: &[String], memories: &[Memory]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !system.trim().is_empty() {
        parts.push(system.trim().to_string());
    }
    let directives: Vec<String> = directives.iter().filter(|d| !d.trim().is_empty()).map(|d| item(d)).collect();
    if !directives.is_empty() {
        parts.push(format!("{DIRECTIVES_HEADING}\n{}", directives.join("\n")));
    }
    if !memories.is_empty() {
        let lines: Vec<String> = memories.iter().map(|m| item(&m.text)).collect();
        parts.push(format!("{MEMORIES_HEADING}\n{}", lines.join("\n")));
    }
    parts.join("\n\n")
}

/// The system message for `text`, or none when it is empty.
fn system_message(text: String) -> Option<ChatMessage> {
    (!text.is_empty()).then(|| ChatMessage::system(text))
}

/// Where each group of `history` starts: every message that is not a tool result starts one,
/// and tool results join the group before them (the assistant message that called them).
pub fn group_starts(history: &[ChatMessage]) -> Vec<usize> {
    history.iter().enumerate().filter(|(i, m)| *i == 0 || m.role != Role::Tool).map(|(i, _)| i).collect()
}

/// The first index of the longest suffix of whole groups whose tokens fit in `room`:
/// `tokens[i]` is message `i`'s estimate, `starts` are the group starts. `tokens.len()` when
/// not even the newest group fits.
pub fn keep_from(tokens: &[u64], starts: &[usize], room: u64) -> usize {
    let mut kept = tokens.len();
    let mut used = 0u64;
    for &start in starts.iter().rev() {
        let group: u64 = tokens.get(start..kept).map_or(0, |g| g.iter().sum());
        if used + group > room {
            break;
        }
        used += group;
        kept = start;
    }
    kept
}

/// How a build treats its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Everything fits.
    All,
    /// Keep `history[keep_from..]` and summarise the messages before it.
    Compact {
        /// The first kept message.
        keep_from: usize,
    },
    /// Keep `history[keep_from..]` and drop the messages before it (no room for a summary).
    Drop {
        /// The first kept message.
        keep_from: usize,
    },
}

/// A build in progress: the fixed parts sized against the budget, the history with its
/// per-message estimates. Made by [`Plan::new`], finished by [`Plan::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    budget: Budget,
    base_system: String,
    directives: Vec<String>,
    base_tokens: u64,
    system: Option<ChatMessage>,
    system_tokens: u64,
    recalled: Vec<Memory>,
    user: Option<ChatMessage>,
    user_tokens: u64,
    tools_tokens: u64,
    history: Vec<ChatMessage>,
    history_tokens: Vec<u64>,
    starts: Vec<usize>,
}

impl Plan {
    /// Sizes the fixed parts (system prompt with directives, new message, tool schemas) and the
    /// history against `budget`. A blank `message` is no message.
    ///
    /// Errors: [`ContextError::TooLarge`] when the fixed parts alone exceed the budget.
    pub fn new(
        system: Option<&str>,
        directives: Vec<String>,
        history: Vec<ChatMessage>,
        message: Option<&str>,
        tools: &[ToolSpec],
        budget: Budget,
    ) -> Result<Self, ContextError> {
        let base_system = system.unwrap_or_default().to_string();
        let system = system_message(system_text(&base_system, &directives, &[]));
        let system_tokens = system.as_ref().map_or(0, message_tokens);
        let user = message.filter(|m| !m.trim().is_empty()).map(ChatMessage::user);
        let user_tokens = user.as_ref().map_or(0, message_tokens);
        let tools_tokens = tools_tokens(tools);
        if system_tokens + user_tokens + tools_tokens > budget.prompt {
            return Err(ContextError::TooLarge {
                system: system_tokens,
                message: user_tokens,
                tools: tools_tokens,
                prompt: budget.prompt,
                budget: budget.describe(),
            });
        }
        let history_tokens = history.iter().map(message_tokens).collect();
        let starts = group_starts(&history);
        Ok(Self {
            budget,
            base_system,
            directives,
            base_tokens: system_tokens,
            system,
            system_tokens,
            recalled: Vec::new(),
            user,
            user_tokens,
            tools_tokens,
            history,
            history_tokens,
            starts,
        })
    }

    /// The new user message, if the build has one.
    pub fn message(&self) -> Option<&str> {
        self.user.as_ref().map(|m| m.content.as_str())
    }

    /// The history as given.
    pub fn history(&self) -> &[ChatMessage] {
        &self.history
    }

    /// Tokens the system message (with its memories), the new message and the tools take.
    fn fixed(&self) -> u64 {
        self.system_tokens + self.user_tokens + self.tools_tokens
    }

    /// Puts recalled memories into the system message, in order, as many as fit in the memory
    /// share (see the module rules). Calling it again replaces the earlier choice.
    pub fn add_memories(&mut self, memories: Vec<Memory>) {
        let share =
            self.budget.prompt.saturating_sub(self.base_tokens + self.user_tokens + self.tools_tokens) / MEMORY_SHARE;
        // The heading with its blank line, and the system message's own overhead when the
        // memories are its only content.
        let mut used = text_tokens(MEMORIES_HEADING) + 1 + if self.base_tokens == 0 { MESSAGE_OVERHEAD } else { 0 };
        let mut chosen = Vec::new();
        for memory in memories {
            let cost = text_tokens(&item(&memory.text)) + 1;
            if used + cost <= share {
                used += cost;
                chosen.push(memory);
            }
        }
        // Per-part estimates round up, so the whole message is normally within their sum; if
        // it is not, drop memories from the end rather than exceed the share.
        loop {
            let system = system_message(system_text(&self.base_system, &self.directives, &chosen));
            let tokens = system.as_ref().map_or(0, message_tokens);
            if chosen.is_empty() || tokens <= self.base_tokens + share {
                self.system = system;
                self.system_tokens = tokens;
                self.recalled = chosen;
                return;
            }
            chosen.pop();
        }
    }

    /// The room left for history (and a summary note).
    pub fn history_room(&self) -> u64 {
        self.budget.prompt.saturating_sub(self.fixed())
    }

    /// How the history is treated (see the module rules).
    pub fn cut(&self) -> Cut {
        let room = self.history_room();
        if self.history_tokens.iter().sum::<u64>() <= room {
            return Cut::All;
        }
        if room < MIN_SUMMARY_ROOM {
            return Cut::Drop { keep_from: self.drop_cut() };
        }
        let note_room = SUMMARY_ROOM.min(room / 2);
        Cut::Compact { keep_from: keep_from(&self.history_tokens, &self.starts, room - note_room) }
    }

    /// The first kept message when the older history is dropped instead of summarised: the
    /// tail gets the whole room.
    pub fn drop_cut(&self) -> usize {
        keep_from(&self.history_tokens, &self.starts, self.history_room())
    }

    /// The answer: `history[keep_from..]` kept, behind the note for `summary` when there is
    /// one (then the older messages count as compacted, otherwise as dropped). A summary
    /// longer than the room left is cut to fit.
    pub fn finish(self, keep_from: usize, summary: Option<String>) -> BuildAnswer {
        let keep_from = keep_from.min(self.history.len());
        let room = self.history_room();
        let tail_tokens: u64 = self.history_tokens.get(keep_from..).map_or(0, |t| t.iter().sum());
        let note = summary.map(|summary| {
            let label_tokens = message_tokens(&summary::note(keep_from, ""));
            let max = room.saturating_sub(tail_tokens).saturating_sub(label_tokens);
            let fitted = prefix_within(&summary, max);
            if fitted.len() < summary.len() {
                tracing::warn!(
                    kept_bytes = fitted.len(),
                    bytes = summary.len(),
                    "the summary was longer than the room left for it and was cut"
                );
            }
            fitted.to_string()
        });
        let note = note.filter(|text| !text.trim().is_empty());
        let compacted = note.is_some();
        let note = note.map(|text| {
            let message = summary::note(keep_from, &text);
            (message_tokens(&message), message, text)
        });
        // Estimates add up, so the total is the sum of the parts already counted: the same
        // number `context::estimate` gives for the messages, without counting them again.
        let estimated_tokens = self.system_tokens
            + note.as_ref().map_or(0, |(tokens, _, _)| *tokens)
            + tail_tokens
            + self.user_tokens
            + self.tools_tokens;
        let mut messages = Vec::with_capacity(self.history.len() - keep_from + 3);
        messages.extend(self.system);
        let summary = note.map(|(_, message, text)| {
            messages.push(message);
            text
        });
        messages.extend(self.history.into_iter().skip(keep_from));
        messages.extend(self.user);
        BuildAnswer {
            estimated_tokens,
            messages,
            budget_tokens: self.budget.prompt,
            recalled: self.recalled,
            compacted,
            summary,
            dropped_messages: if compacted { 0 } else { keep_from as u64 },
        }
    }
}
