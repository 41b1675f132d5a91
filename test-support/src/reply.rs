//! What the scripted server answers: one [`Reply`] per request, consumed in order.

use serde_json::Value;

/// Token counts reported for one reply, in both providers' usage shapes.
///
/// OpenAI reports `prompt_tokens`/`completion_tokens`/`total_tokens`, Anthropic
/// `input_tokens`/`output_tokens`; both are derived from these two numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Tokens the provider claims the request consumed (`prompt_tokens` / `input_tokens`).
    pub prompt_tokens: u64,
    /// Tokens the provider claims it generated (`completion_tokens` / `output_tokens`).
    pub completion_tokens: u64,
}

impl Usage {
    /// The usage a reply reports unless it is wrapped with [`Reply::with_usage`]: 10 prompt, 5
    /// completion tokens.
    pub const DEFAULT: Usage = Usage { prompt_tokens: 10, completion_tokens: 5 };

    /// Usage with the given prompt and completion token counts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self { prompt_tokens, completion_tokens }
    }
}

impl Default for Usage {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One tool call the scripted model makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCallSpec {
    /// The call id (`tool_calls[].id` for OpenAI, the `tool_use` block's `id` for Anthropic).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments. OpenAI receives them as a JSON *string* (`function.arguments`), Anthropic
    /// as an object (`input`), streamed as `partial_json` pieces.
    pub arguments: Value,
}

impl ToolCallSpec {
    /// A tool call with the given id, name and arguments.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        Self { id: id.into(), name: name.into(), arguments }
    }
}

/// One scripted answer to one chat request.
///
/// The content variants ([`Reply::Text`], [`Reply::ToolCalls`]) are rendered in the requesting
/// provider's wire format, streamed or not as the request's `"stream"` field asks. The two
/// wrappers ([`Reply::Gated`], [`Reply::WithUsage`]) modify the reply they wrap and can be
/// nested in any order; build them with [`Reply::gated`] and [`Reply::with_usage`].
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A plain assistant text answer (`finish_reason: "stop"` / `stop_reason: "end_turn"`).
    Text(String),
    /// Tool calls, optionally preceded by assistant text (`finish_reason: "tool_calls"` /
    /// `stop_reason: "tool_use"`).
    ToolCalls {
        /// Text the model says before calling the tools, if any.
        text: Option<String>,
        /// The calls, in order.
        calls: Vec<ToolCallSpec>,
    },
    /// An HTTP error in the provider's own error JSON shape.
    Status {
        /// The HTTP status (e.g. 500, 429, 529, 400).
        status: u16,
        /// The error message placed in the provider's error body.
        message: String,
        /// Seconds for a `retry-after` header, if any.
        retry_after: Option<u64>,
    },
    /// Accept the request and never answer (until the server is dropped): for client timeouts.
    Hang,
    /// The wrapped reply, held at a gate: a stream sends its first part (the role chunk and the
    /// first content delta for OpenAI; `message_start` through the first `content_block_delta`
    /// for Anthropic) and then waits; a non-streamed or error reply waits before answering.
    /// The n-th gated reply added to the script (counting from 0, across all queues) waits for
    /// [`ScriptedLlm::gate(n)`](crate::ScriptedLlm::gate) to be opened.
    Gated(Box<Reply>),
    /// The wrapped reply, reporting these token counts instead of [`Usage::DEFAULT`].
    WithUsage(Box<Reply>, Usage),
}

impl Reply {
    /// [`Reply::Text`].
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    /// [`Reply::ToolCalls`] with no text before the calls.
    pub fn tool_calls(calls: Vec<ToolCallSpec>) -> Self {
        Self::ToolCalls { text: None, calls }
    }

    /// [`Reply::ToolCalls`] preceded by assistant text.
    pub fn text_then_tool_calls(text: impl Into<String>, calls: Vec<ToolCallSpec>) -> Self {
        Self::ToolCalls { text: Some(text.into()), calls }
    }

    /// [`Reply::Status`] without a `retry-after` header.
    pub fn status(status: u16, message: impl Into<String>) -> Self {
        Self::Status { status, message: message.into(), retry_after: None }
    }

    /// A 429 in the provider's rate-limit shape with `retry-after: {seconds}`.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::Status {
            status: 429,
            message: "Rate limit reached for requests".to_owned(),
            retry_after: Some(retry_after_seconds),
        }
    }

    /// Wraps this reply in [`Reply::Gated`].
    #[must_use]
    pub fn gated(self) -> Self {
        Self::Gated(Box::new(self))
    }

    /// Wraps this reply in [`Reply::WithUsage`].
    #[must_use]
    pub fn with_usage(self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self::WithUsage(Box::new(self), Usage::new(prompt_tokens, completion_tokens))
    }
}

/// A reply with its wrappers peeled off.
#[derive(Clone, Debug)]
pub(crate) enum Content {
    Answer { text: Option<String>, calls: Vec<ToolCallSpec> },
    Status { status: u16, message: String, retry_after: Option<u64> },
    Hang,
}

/// Peels [`Reply::Gated`] and [`Reply::WithUsage`] off a reply; the outermost usage wins.
pub(crate) fn flatten(reply: Reply) -> (Content, Usage, bool) {
    let mut usage = None;
    let mut gated = false;
    let mut current = reply;
    loop {
        current = match current {
            Reply::Gated(inner) => {
                gated = true;
                *inner
            }
            Reply::WithUsage(inner, u) => {
                usage.get_or_insert(u);
                *inner
            }
            Reply::Text(text) => {
                let content = Content::Answer { text: Some(text), calls: Vec::new() };
                return (content, usage.unwrap_or_default(), gated);
            }
            Reply::ToolCalls { text, calls } => {
                return (Content::Answer { text, calls }, usage.unwrap_or_default(), gated);
            }
            Reply::Status { status, message, retry_after } => {
                let content = Content::Status { status, message, retry_after };
                return (content, usage.unwrap_or_default(), gated);
            }
            Reply::Hang => return (Content::Hang, usage.unwrap_or_default(), gated),
        }
    }
}

/// Splits text into streamed pieces the way providers do: word by word, each piece after the
/// first carrying its leading whitespace. A single word is split in two so that every non-trivial
/// text arrives in at least two deltas.
pub(crate) fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        if ch.is_whitespace() && !current.trim().is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        current.push(ch);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    if pieces.len() == 1 {
        let only = pieces.remove(0);
        let mid = only.chars().count() / 2;
        let split = only.char_indices().nth(mid).map_or(only.len(), |(i, _)| i);
        let (head, tail) = only.split_at(split);
        pieces.extend([head, tail].into_iter().filter(|p| !p.is_empty()).map(str::to_owned));
    }
    pieces
}

/// Splits a JSON arguments string into fixed-size pieces (at char boundaries), as streamed
/// tool-call arguments arrive.
pub(crate) fn json_pieces(json: &str) -> Vec<String> {
    const PIECE_CHARS: usize = 6;
    let chars: Vec<char> = json.chars().collect();
    chars.chunks(PIECE_CHARS).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn text_is_split_word_by_word_keeping_the_spaces() {
        assert_eq!(text_pieces("Hello there world"), ["Hello", " there", " world"]);
        assert_eq!(text_pieces("Hello").concat(), "Hello");
        assert_eq!(text_pieces("Hello").len(), 2);
        assert_eq!(text_pieces(""), Vec::<String>::new());
    }

    #[test]
    fn json_pieces_reassemble_to_the_original_string() {
        let json = r#"{"city":"Paris","unit":"c"}"#;
        assert!(json_pieces(json).len() > 2);
        assert_eq!(json_pieces(json).concat(), json);
    }

    #[test]
    fn the_outermost_usage_wins_and_gates_are_seen_through_wrappers() {
        let (_, usage, gated) = flatten(Reply::text("x").gated().with_usage(1, 2).with_usage(3, 4));
        assert_eq!(usage, Usage::new(3, 4));
        assert!(gated);
    }
}
