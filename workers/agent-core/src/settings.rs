//! The `[agent]` section of `agentos.toml`: step limit, the tool allow-list, timeouts, the
//! largest chat message.
//!
//! Until the approval workers land, a tool call runs only when its function id matches the
//! allow-list; anything else is refused with a message the model sees, naming the setting.

use std::time::Duration;

use agentos_kit::WorkerError;
use serde::{Deserialize, Serialize};

/// The read-only workbench tools: allowed without asking by default.
pub const DEFAULT_ALLOW: &[&str] = &["code::read_file", "code::list", "code::search"];

/// The code of a chat message over `[agent] max_message_bytes` (HTTP 413).
pub use agentos_kit::codes::MESSAGE_TOO_LARGE;

/// The default `[agent] max_message_bytes`: 256 KiB is some 60 000 tokens of prose, more than a
/// person types or pastes into a chat, and far below what would fill engine state when stored
/// in every replay step; bigger inputs belong in a file of the workspace the tools can read.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// `[agent]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The hand used when a request names neither a hand nor an agent.
    pub default_hand: String,
    /// The most LLM calls in one turn, unless the hand sets its own.
    pub max_steps: u32,
    /// Function-id patterns a tool call may run without approval (`code::read_file`, `code::*`,
    /// `*`).
    pub allow: Vec<String>,
    /// How long one tool call may take, in seconds.
    pub tool_timeout_secs: u64,
    /// How long one LLM call may take, in seconds.
    pub llm_timeout_secs: u64,
    /// The longest tool result given back to the model, in bytes; longer results are cut.
    pub max_tool_result_bytes: usize,
    /// The longest chat message a turn accepts, in bytes; a longer one is refused
    /// (`MESSAGE_TOO_LARGE`) before anything is stored.
    pub max_message_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_hand: "coder".to_string(),
            max_steps: 16,
            allow: DEFAULT_ALLOW.iter().map(ToString::to_string).collect(),
            tool_timeout_secs: 300,
            llm_timeout_secs: 600,
            max_tool_result_bytes: 32 * 1024,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl Settings {
    /// Whether `function_id` may run without approval.
    pub fn allows(&self, function_id: &str) -> bool {
        self.allow.iter().any(|pattern| pattern_matches(pattern, function_id))
    }

    /// `MESSAGE_TOO_LARGE`, naming the limit and the setting, when `message` is longer than
    /// `max_message_bytes`.
    pub fn check_message(&self, message: &str) -> Result<(), WorkerError> {
        if message.len() <= self.max_message_bytes {
            return Ok(());
        }
        Err(WorkerError::new(
            MESSAGE_TOO_LARGE,
            format!(
                "the message is {} bytes, over the limit of {} bytes ([agent] max_message_bytes in agentos.toml); nothing was stored. Send a shorter message, put the text in a file of the workspace and ask about the file, or raise max_message_bytes",
                message.len(),
                self.max_message_bytes
            ),
        ))
    }

    /// The tool-call timeout.
    pub fn tool_timeout(&self) -> Duration {
        Duration::from_secs(self.tool_timeout_secs)
    }

    /// The LLM-call timeout.
    pub fn llm_timeout(&self) -> Duration {
        Duration::from_secs(self.llm_timeout_secs)
    }
}

/// `*` matches everything, `ns::*` a whole namespace, anything else itself.
pub fn pattern_matches(pattern: &str, function_id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => function_id.starts_with(prefix),
        None => pattern == function_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_allow_list_is_read_only() {
        let s = Settings::default();
        assert!(s.allows("code::read_file"));
        assert!(s.allows("code::search"));
        assert!(!s.allows("code::write_file"));
        assert!(!s.allows("code::run_command"));
    }

    #[test]
    fn patterns_cover_a_namespace_or_everything() {
        assert!(pattern_matches("code::*", "code::run_command"));
        assert!(!pattern_matches("code::*", "codex::run"));
        assert!(pattern_matches("*", "memory::store"));
        assert!(!pattern_matches("code::read", "code::read_file"));
    }

    #[test]
    fn a_message_over_the_limit_is_refused_naming_the_limit_and_the_setting() {
        let s = Settings { max_message_bytes: 4, ..Settings::default() };
        assert_eq!(s.check_message("four"), Ok(()));
        let err = s.check_message("fives").unwrap_err();
        assert_eq!(err.code, MESSAGE_TOO_LARGE);
        assert!(
            err.message.starts_with(
                "the message is 5 bytes, over the limit of 4 bytes ([agent] max_message_bytes in agentos.toml); nothing was stored."
            ),
            "{err}"
        );
        assert_eq!(Settings::default().max_message_bytes, 262_144);
        let s: Settings = agentos_kit::config::section_in("[agent]\nmax_message_bytes = 1024\n", "agent").unwrap();
        assert_eq!(s.max_message_bytes, 1024);
    }

    #[test]
    fn the_section_is_strict() {
        let err = agentos_kit::config::section_in::<Settings>("[agent]\nmax_step = 3\n", "agent").unwrap_err();
        assert!(err.contains("max_step"), "{err}");
        let s: Settings = agentos_kit::config::section_in("[agent]\nallow = [\"code::*\"]\n", "agent").unwrap();
        assert!(s.allows("code::write_file"));
        assert_eq!(s.max_steps, 16);
    }
}
