//! The provider-neutral chat vocabulary: what `llm::complete` takes and returns whatever
//! provider serves it, and what context-manager, agent-core and the chat surfaces pass around.
//!
//! Rules it keeps:
//! - One shape for every provider; the llm-router translates it to and from each wire format.
//! - Tool-call arguments are always a JSON value (OpenAI's argument *string* is parsed), and
//!   `finish_reason` is normalised to `stop`, `tool_calls` or `length` (other provider values
//!   pass through unchanged).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channel::ChannelRef;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model (OpenAI `system` message, Anthropic `system` field).
    System,
    /// The person (or the agent loop speaking for them).
    User,
    /// The model's earlier answers, possibly with tool calls.
    Assistant,
    /// The result of one tool call, answering `tool_call_id`.
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text (for `tool`, the tool's result).
    #[serde(default)]
    pub content: String,
    /// The tool calls an assistant message made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with only text.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An `assistant` message that made `tool_calls` after saying `content`.
    pub fn assistant_calls(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Self { tool_calls, ..Self::new(Role::Assistant, content) }
    }

    /// A `tool` message carrying the result of call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self { tool_call_id: Some(tool_call_id.into()), ..Self::new(Role::Tool, content) }
    }
}

/// One tool call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The provider's call id, echoed back in the `tool` message that answers it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, as a JSON value.
    #[serde(default)]
    pub arguments: Value,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Its name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default)]
    pub description: String,
    /// The JSON schema of its arguments.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
}

/// `{"type":"object","properties":{}}`: a tool without arguments.
fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// The `llm::complete` request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionRequest {
    /// `provider/model` or a bare model id; when absent the router picks (see [`crate::router`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// `fast`, `standard` or `deep`: the tier to route to when `model` is absent (the router's
    /// policy picks one from the request when both are absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// A channel writer: when present the answer is streamed and every text delta is written to
    /// it as a `token` event ([`crate::channel`]); the channel is closed when the call ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<ChannelRef>,
}

/// Tokens one call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (`prompt_tokens` / `input_tokens`).
    pub input_tokens: u64,
    /// Generated tokens (`completion_tokens` / `output_tokens`).
    pub output_tokens: u64,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The model that answered, as the provider named it.
    pub model: String,
    /// The provider that answered (`anthropic`, `openai`).
    pub provider: String,
    /// The answer's text (empty when it only called tools).
    pub content: String,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped: `stop`, `tool_calls`, `length` or the provider's own value.
    pub finish_reason: String,
    /// Tokens consumed.
    pub usage: Usage,
    /// Wall time of the successful attempt, in milliseconds.
    pub latency_ms: u64,
    /// What the call cost in US dollars, when the model's price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The tier that routed the call (`fast`, `standard`, `deep`); absent when the request
    /// named a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Why the router chose this route, in a few words (`explicit model`, `2 tools offered`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reason: Option<String>,
}

/// An answer as the replay records it (`llm_response`): every field of the completion.
impl From<&Completion> for agentos_protocol::replay::LlmResponse {
    fn from(c: &Completion) -> Self {
        use agentos_protocol::replay::{CountOrList, Usage as StepUsage};
        let tool_calls = c.tool_calls.iter().map(|t| serde_json::to_value(t).unwrap_or(Value::Null)).collect();
        Self {
            model: Some(c.model.clone()),
            provider: Some(c.provider.clone()),
            content: Some(c.content.clone()),
            tool_calls: Some(CountOrList::List(tool_calls)),
            finish_reason: Some(c.finish_reason.clone()),
            usage: Some(StepUsage { input_tokens: c.usage.input_tokens, output_tokens: c.usage.output_tokens }),
            cost_usd: c.cost_usd,
            latency_ms: Some(c.latency_ms),
            tier: c.tier.clone(),
            route_reason: c.route_reason.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_request_decodes_from_its_documented_json() {
        let req: CompletionRequest = serde_json::from_value(json!({
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "ls", "arguments": {}}]},
                {"role": "tool", "content": "a.txt", "tool_call_id": "c1"}
            ],
            "tools": [{"name": "ls", "description": "List", "parameters": {"type": "object"}}],
            "max_tokens": 100
        }))
        .unwrap();
        assert_eq!(
            req.messages,
            vec![
                ChatMessage::user("hi"),
                ChatMessage::assistant_calls(
                    "",
                    vec![ToolCall { id: "c1".into(), name: "ls".into(), arguments: json!({}) }]
                ),
                ChatMessage::tool_result("c1", "a.txt"),
            ]
        );
        assert_eq!(req.max_tokens, Some(100));
    }
}
