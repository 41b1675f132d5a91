//! Compaction: the transcript of older messages, the `llm::complete` request that summarises
//! it, the summary note that replaces them, and where a `context::compact` cuts.
//!
//! Rules it keeps:
//! - The transcript labels every message with its role, shows tool calls with their JSON
//!   arguments and tool results with the call they answer. Earlier summary notes (system
//!   messages) are shown whole; any other text longer than [`MESSAGE_BYTES`] is clipped, and
//!   when the transcript would exceed [`TRANSCRIPT_BYTES`] the oldest non-system messages are
//!   left out with a marker, so the request fits even a small fast model.
//! - The summary request is `[system: INSTRUCTIONS, user: transcript]` at tier `fast` with
//!   [`SUMMARY_MAX_TOKENS`], unless a model is named.
//! - The note is a system message whose first line says what it is and how many messages it
//!   replaces, so neither the model nor a person reading the history mistakes it for the user.

use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role};

use crate::error::ContextError;

/// What the summarising model is asked to do.
pub const INSTRUCTIONS: &str = "Summarise this conversation for your future self: you will continue it with only this summary and the most recent messages. Keep everything needed to carry on: decisions made and why, facts learned, the user's goals and preferences, open tasks and next steps, file paths, commands, identifiers, URLs and error messages (verbatim). Write terse notes under short headings; leave out pleasantries and what no longer matters.";

/// The longest answer the summary request allows.
pub const SUMMARY_MAX_TOKENS: u32 = 1024;

/// The tier the summary request asks for: summarising does not need the chat model.
pub const SUMMARY_TIER: &str = "fast";

/// The most bytes of one message's text (or one call's arguments) the transcript shows: long
/// tool outputs matter less than the decisions around them.
pub const MESSAGE_BYTES: usize = 4_000;

/// The most bytes a transcript may have (about 25k tokens of prose), so it fits even a
/// 32k-token fast model with room for the answer.
pub const TRANSCRIPT_BYTES: usize = 100_000;

/// `text` cut to at most `max` bytes at a character boundary, with a marker saying how much
/// was cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let end = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    let head = text.get(..end).unwrap_or_default();
    format!("{head}… [{} bytes cut]", text.len() - end)
}

/// One message of the transcript.
fn entry(m: &ChatMessage) -> String {
    let mut out = match (m.role, m.tool_call_id.as_deref()) {
        (Role::System, _) => "[system note]".to_string(),
        (Role::User, _) => "[user]".to_string(),
        (Role::Assistant, _) => "[assistant]".to_string(),
        (Role::Tool, Some(id)) => format!("[tool result for {id}]"),
        (Role::Tool, None) => "[tool result]".to_string(),
    };
    let text = if m.role == Role::System { m.content.clone() } else { clip(&m.content, MESSAGE_BYTES) };
    if !text.is_empty() {
        out.push('\n');
        out.push_str(&text);
    }
    for call in &m.tool_calls {
        let args = serde_json::to_string(&call.arguments).unwrap_or_default();
        out.push_str(&format!("\n→ called {} {} (call {})", call.name, clip(&args, MESSAGE_BYTES), call.id));
    }
    out
}

/// The transcript of `messages`, oldest first (see the module rules).
pub fn transcript(messages: &[ChatMessage]) -> String {
    let entries: Vec<String> = messages.iter().map(entry).collect();
    let separators = entries.len().saturating_sub(1) * 2;
    let mut total: usize = entries.iter().map(String::len).sum::<usize>() + separators;
    let mut omitted = vec![false; entries.len()];
    if total > TRANSCRIPT_BYTES {
        // Room for the marker line that replaces what is left out.
        let target = TRANSCRIPT_BYTES - 100;
        for (i, m) in messages.iter().enumerate() {
            if total <= target {
                break;
            }
            if m.role != Role::System {
                omitted[i] = true;
                total -= entries[i].len() + 2;
            }
        }
    }
    let left_out = omitted.iter().filter(|o| **o).count();
    let mut parts: Vec<&str> = Vec::with_capacity(entries.len() + 1);
    let marker = format!("[… {left_out} earlier messages left out to keep this transcript short]");
    let mut marked = false;
    for (e, skip) in entries.iter().zip(&omitted) {
        if *skip {
            if !marked {
                parts.push(&marker);
                marked = true;
            }
        } else {
            parts.push(e);
        }
    }
    parts.join("\n\n")
}

/// The `llm::complete` request that summarises `messages`: at tier `fast` unless `model` is
/// named.
pub fn request(messages: &[ChatMessage], model: Option<String>) -> CompletionRequest {
    let tier = if model.is_none() { Some(SUMMARY_TIER.to_string()) } else { None };
    CompletionRequest {
        model,
        messages: vec![ChatMessage::system(INSTRUCTIONS), ChatMessage::user(transcript(messages))],
        max_tokens: Some(SUMMARY_MAX_TOKENS),
        tier,
        ..CompletionRequest::default()
    }
}

/// The summary in a completion, trimmed.
///
/// Errors: [`ContextError::EmptySummary`] when the model answered without text.
pub fn text(completion: &Completion) -> Result<String, ContextError> {
    let summary = completion.content.trim();
    if summary.is_empty() {
        return Err(ContextError::EmptySummary { model: format!("{}/{}", completion.provider, completion.model) });
    }
    Ok(summary.to_string())
}

/// The note that stands for `count` compacted messages.
pub fn note(count: usize, summary: &str) -> ChatMessage {
    let noun = if count == 1 { "message" } else { "messages" };
    ChatMessage::system(format!(
        "[Summary of the {count} earlier {noun} of this conversation, written by context-manager to fit the context window; not from the user]\n{summary}"
    ))
}

/// Where `context::compact` cuts `history` to keep the last `keep_last` messages: the first
/// kept index. The cut moves earlier (keeping more) rather than separate tool results from the
/// assistant message that called them; 0 means nothing is old enough to compact.
pub fn compact_cut(history: &[ChatMessage], keep_last: usize) -> usize {
    let mut cut = history.len().saturating_sub(keep_last);
    while cut > 0 && history.get(cut).is_some_and(|m| m.role == Role::Tool) {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::chat::ToolCall;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn call(id: &str) -> ToolCall {
        ToolCall { id: id.into(), name: "code::read_file".into(), arguments: json!({"path": "src/main.rs"}) }
    }

    #[test]
    fn the_transcript_labels_roles_tool_calls_and_results() {
        let messages = vec![
            ChatMessage::system("[Summary …]\nearlier facts"),
            ChatMessage::user("Fix the build."),
            ChatMessage::assistant_calls("Reading it.", vec![call("c1")]),
            ChatMessage::tool_result("c1", "fn main() {}"),
            ChatMessage::new(Role::Assistant, "Done."),
        ];
        assert_eq!(
            transcript(&messages),
            "[system note]\n[Summary …]\nearlier facts\n\n[user]\nFix the build.\n\n[assistant]\nReading it.\n→ called code::read_file {\"path\":\"src/main.rs\"} (call c1)\n\n[tool result for c1]\nfn main() {}\n\n[assistant]\nDone."
        );
    }

    #[test]
    fn long_messages_are_clipped_at_a_character_boundary() {
        let long = "é".repeat(MESSAGE_BYTES); // 2 bytes each
        let t = transcript(&[ChatMessage::tool_result("c1", long)]);
        assert_eq!(
            t,
            format!("[tool result for c1]\n{}… [{} bytes cut]", "é".repeat(MESSAGE_BYTES / 2), MESSAGE_BYTES)
        );
    }

    #[test]
    fn an_oversized_transcript_leaves_out_the_oldest_messages_but_keeps_earlier_summaries() {
        let mut messages = vec![ChatMessage::system("earlier summary")];
        for i in 0..60 {
            messages.push(ChatMessage::user(format!("{i:02} {}", "x".repeat(3_000))));
        }
        let t = transcript(&messages);
        assert!(t.len() <= TRANSCRIPT_BYTES, "{}", t.len());
        assert!(
            t.starts_with("[system note]\nearlier summary\n\n[… 27 earlier messages left out"),
            "{}",
            t.chars().take(120).collect::<String>()
        );
        assert!(!t.contains("[user]\n26 ") && t.contains("[user]\n27 ") && t.contains("[user]\n59 "));
    }

    #[test]
    fn the_summary_request_asks_the_fast_tier_unless_a_model_is_named() {
        let history = vec![ChatMessage::user("hi")];
        assert_eq!(
            request(&history, None),
            CompletionRequest {
                messages: vec![ChatMessage::system(INSTRUCTIONS), ChatMessage::user("[user]\nhi")],
                max_tokens: Some(1024),
                tier: Some("fast".into()),
                ..CompletionRequest::default()
            }
        );
        let named = request(&history, Some("openai/gpt-4o-mini".into()));
        assert_eq!((named.model.as_deref(), named.tier), (Some("openai/gpt-4o-mini"), None));
    }

    #[test]
    fn an_empty_answer_is_not_a_summary() {
        let mut done: Completion = serde_json::from_value(json!({
            "model": "m", "provider": "p", "content": "  \n", "tool_calls": [], "finish_reason": "stop",
            "usage": {"input_tokens": 1, "output_tokens": 1}, "latency_ms": 1
        }))
        .unwrap();
        assert_eq!(text(&done), Err(ContextError::EmptySummary { model: "p/m".into() }));
        done.content = " Decided X.\n".into();
        assert_eq!(text(&done), Ok("Decided X.".into()));
    }

    #[test]
    fn the_note_is_a_labelled_system_message() {
        assert_eq!(
            note(1, "facts"),
            ChatMessage::system(
                "[Summary of the 1 earlier message of this conversation, written by context-manager to fit the context window; not from the user]\nfacts"
            )
        );
    }

    #[test]
    fn a_compact_cut_never_separates_tool_results_from_their_call() {
        let history = vec![
            ChatMessage::user("a"),
            ChatMessage::assistant_calls("", vec![call("c1"), call("c2")]),
            ChatMessage::tool_result("c1", "r1"),
            ChatMessage::tool_result("c2", "r2"),
            ChatMessage::new(Role::Assistant, "b"),
        ];
        assert_eq!(compact_cut(&history, 1), 4);
        assert_eq!(compact_cut(&history, 2), 1, "keeping the last 2 would start at a tool result");
        assert_eq!(compact_cut(&history, 3), 1);
        assert_eq!(compact_cut(&history, 4), 1);
        assert_eq!(compact_cut(&history, 5), 0);
        assert_eq!(compact_cut(&history, 50), 0);
        assert_eq!(compact_cut(&history, 0), 5);
    }
}
