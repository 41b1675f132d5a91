//! Token estimation: a fast heuristic instead of a tokenizer (nothing to download, no model
//! files, one pass over the bytes).
//!
//! Rules it keeps:
//! - Text is counted in quarter tokens per byte class (`UNITS`), and the sum is rounded up:
//!   - ASCII letters, digits and whitespace: ¼ token each, so English prose is ~4 characters
//!     per token (what BPE tokenizers give for it);
//!   - ASCII punctuation and symbols: ½ token each, so code, JSON and other symbol-dense text
//!     comes out at 2–3 characters per token;
//!   - a 2-byte UTF-8 character (accented Latin, Greek, Cyrillic, Hebrew, Arabic): ¾ token;
//!   - a 3-byte character (CJK, most other scripts): 1¼ tokens;
//!   - a 4-byte character (emoji, rare CJK): 2 tokens.
//! - A message costs [`MESSAGE_OVERHEAD`] on top of its text (role and separators); each tool
//!   call in it costs its id, name and JSON arguments plus [`MESSAGE_OVERHEAD`].
//! - A tool schema costs the estimate of its JSON text (name, description, parameters).
//! - The estimate errs high rather than low: a prompt it accepts should fit the real window.
//! - Estimates add up: the estimate of a list of messages is the sum of the estimates of its
//!   messages, so callers can plan with per-message numbers.

use std::io;

use agentos_kit::chat::{ChatMessage, ToolSpec};
use serde::Serialize;

/// Tokens a message costs beyond its text: role markers and separators (OpenAI documents 3–4
/// per message for its chat format; we take the upper end).
pub const MESSAGE_OVERHEAD: u64 = 4;

/// Quarter tokens per byte value: see the module rules. Continuation bytes of a UTF-8
/// character (`0x80..=0xBF`) count 0, so each character is counted once, by its lead byte.
const UNITS: [u8; 256] = units_table();

/// Builds [`UNITS`].
const fn units_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let byte = b as u8;
        table[b] = if byte.is_ascii_alphanumeric() || byte.is_ascii_whitespace() {
            1
        } else if byte < 0x80 {
            // punctuation, symbols and control characters
            2
        } else if byte < 0xC0 {
            0
        } else if byte < 0xE0 {
            3
        } else if byte < 0xF0 {
            5
        } else {
            8
        };
        b += 1;
    }
    table
}

/// Quarter tokens of `bytes`.
fn units(bytes: &[u8]) -> u64 {
    bytes.iter().map(|&b| u64::from(UNITS[usize::from(b)])).sum()
}

/// The estimated tokens of `text`.
pub fn text_tokens(text: &str) -> u64 {
    units(text.as_bytes()).div_ceil(4)
}

/// An `io::Write` that counts quarter tokens of what is written, so a JSON value is estimated
/// by serialising it without building the string.
#[derive(Default)]
struct Counter {
    units: u64,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.units += units(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The estimated tokens of `value`'s compact JSON text. Serialising a `Value` or a derived
/// struct into a counter cannot fail; if it ever did, what was counted so far is returned.
pub fn json_tokens<T: Serialize + ?Sized>(value: &T) -> u64 {
    let mut counter = Counter::default();
    let _ = serde_json::to_writer(&mut counter, value);
    counter.units.div_ceil(4)
}

/// The estimated tokens of one message: its text, its tool calls and the overhead.
pub fn message_tokens(message: &ChatMessage) -> u64 {
    let calls: u64 = message
        .tool_calls
        .iter()
        .map(|c| MESSAGE_OVERHEAD + text_tokens(&c.id) + text_tokens(&c.name) + json_tokens(&c.arguments))
        .sum();
    let answers = message.tool_call_id.as_deref().map_or(0, text_tokens);
    MESSAGE_OVERHEAD + text_tokens(&message.content) + calls + answers
}

/// The estimated tokens of a list of messages: the sum of [`message_tokens`].
pub fn messages_tokens(messages: &[ChatMessage]) -> u64 {
    messages.iter().map(message_tokens).sum()
}

/// The estimated tokens of the tool schemas sent with a request: their JSON text.
pub fn tools_tokens(tools: &[ToolSpec]) -> u64 {
    tools.iter().map(json_tokens).sum()
}

/// The longest prefix of `text` whose estimate is at most `max_tokens`, cut at a character
/// boundary.
pub fn prefix_within(text: &str, max_tokens: u64) -> &str {
    let limit = max_tokens.saturating_mul(4);
    let mut total = 0u64;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        let u = u64::from(UNITS[usize::from(b)]);
        // A lead byte (non-zero units) starts a character: cutting here keeps UTF-8 whole.
        if u > 0 && total + u > limit {
            return text.get(..i).unwrap_or_default();
        }
        total += u;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::chat::ToolCall;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn english_prose_is_about_four_characters_per_token() {
        let prose = "The quick brown fox jumps over the lazy dog and keeps running until the evening comes";
        let tokens = text_tokens(prose);
        let chars = prose.len() as u64;
        assert_eq!(tokens, chars.div_ceil(4), "no punctuation: exactly a quarter token per character");
        let sentence = "Meet me at noon, then we go.";
        assert_eq!(text_tokens(sentence), 8, "26 letters and spaces, 2 punctuation marks: (26 + 4) / 4 rounded up");
    }

    #[test]
    fn code_costs_more_tokens_per_character_than_prose() {
        let code = "fn main(){let v=vec![1,2,3];println!(\"{:?}\",v.iter().map(|x|x*2).collect::<Vec<_>>());}";
        let prose = "a".repeat(code.len());
        assert!(text_tokens(code) as f64 > 1.4 * text_tokens(&prose) as f64, "{}", text_tokens(code));
        let per_token = code.len() as f64 / text_tokens(code) as f64;
        assert!((2.0..=3.0).contains(&per_token), "code at {per_token:.2} characters per token");
    }

    #[test]
    fn non_ascii_text_costs_more_per_character_than_ascii() {
        assert_eq!(text_tokens("日本語のテキスト"), 10, "8 CJK characters at 1¼ tokens");
        assert_eq!(text_tokens("привет"), 5, "6 Cyrillic characters at ¾ token, rounded up");
        assert_eq!(text_tokens("🙂🙂"), 4, "emoji at 2 tokens");
        assert_eq!(text_tokens("café"), 2, "3 ASCII letters and one accented letter: (3 + 3) / 4 rounded up");
        assert_eq!(text_tokens(""), 0);
    }

    #[test]
    fn a_message_costs_its_text_its_tool_calls_and_an_overhead() {
        assert_eq!(message_tokens(&ChatMessage::user("")), MESSAGE_OVERHEAD);
        assert_eq!(message_tokens(&ChatMessage::user("abcdefgh")), MESSAGE_OVERHEAD + 2);
        let call = ToolCall { id: "c1".into(), name: "ls".into(), arguments: json!({"path": "src"}) };
        // {"path":"src"}: 7 letters (7 quarters) + 7 symbols (14 quarters) = 21 quarters = 6 tokens
        assert_eq!(
            message_tokens(&ChatMessage::assistant_calls("", vec![call])),
            MESSAGE_OVERHEAD + (MESSAGE_OVERHEAD + 1 + 1 + 6)
        );
        assert_eq!(message_tokens(&ChatMessage::tool_result("c1", "abcd")), MESSAGE_OVERHEAD + 1 + 1);
    }

    #[test]
    fn a_list_of_messages_costs_the_sum_of_its_messages() {
        let list = vec![ChatMessage::system("Be brief."), ChatMessage::user("hello there"), ChatMessage::user("")];
        assert_eq!(messages_tokens(&list), list.iter().map(message_tokens).sum::<u64>());
        assert_eq!(messages_tokens(&[]), 0);
    }

    #[test]
    fn a_tool_schema_is_counted_by_its_json_text() {
        let tool = ToolSpec {
            name: "get_weather".into(),
            description: "Current weather for a city".into(),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        };
        let text = serde_json::to_string(&tool).unwrap();
        assert_eq!(tools_tokens(std::slice::from_ref(&tool)), text_tokens(&text));
        assert_eq!(tools_tokens(&[tool.clone(), tool]), 2 * text_tokens(&text));
    }

    #[test]
    fn the_longest_prefix_within_a_limit_never_splits_a_character() {
        assert_eq!(prefix_within("abcdefgh", 1), "abcd");
        assert_eq!(prefix_within("abcdefgh", 5), "abcdefgh");
        assert_eq!(prefix_within("日本語", 2), "日", "1¼ + 1¼ would exceed 2 tokens");
        assert_eq!(prefix_within("abc", 0), "");
        for max in 0..12 {
            let p = prefix_within("héllo wörld, 日本", max);
            assert!(text_tokens(p) <= max, "{p:?} is over {max}");
        }
    }
}
