//! What agent-core remembers, and how memory tools stay in the turn's realm.
//!
//! Rules it keeps:
//! - A turn is remembered only when its hand's `[memory] store` is `turns` and the turn ended
//!   with an answer (`finish = "stop"`): the user's message and the answer, cut to
//!   [`TEXT_MAX`] characters, in the turn's realm, under its agent, tagged `turn` and the hand.
//! - The memory goes out through the durable queue, so a memory worker that is restarting
//!   still gets it; the turn never fails because of it.
//! - A model calling a `memory::*` tool acts in the turn's realm and for the turn's agent,
//!   whatever realm its arguments name: a model never reaches another tenant's memories.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::turn::TurnContext;
use crate::turn::machine::Finish;

/// The longest memory text a turn stores (characters).
pub const TEXT_MAX: usize = 4_000;

/// A hand's `[memory]` section, as `hand::get` answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryPolicy {
    /// `turns` or `off`.
    #[serde(default)]
    pub store: String,
    /// The memories' importance (0 to 1).
    #[serde(default)]
    pub importance: Option<f64>,
    /// Extra tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The `memory::store` input that remembers this turn, or `None` when the policy says not to.
pub fn turn_memory(
    policy: Option<&MemoryPolicy>,
    ctx: &TurnContext,
    message: &str,
    reply: &str,
    finish: Finish,
) -> Option<Value> {
    let policy = policy.filter(|p| p.store == "turns")?;
    if finish != Finish::Stop || reply.trim().is_empty() {
        return None;
    }
    let text: String = format!("User: {}\nAnswer: {}", message.trim(), reply.trim()).chars().take(TEXT_MAX).collect();
    let mut tags = vec!["turn".to_string(), ctx.hand.clone()];
    tags.extend(policy.tags.iter().cloned());
    let mut input = json!({"text": text, "realm": ctx.realm, "tags": tags});
    if let Some(agent) = &ctx.agent {
        input["agent"] = json!(agent);
    }
    if let Some(importance) = policy.importance {
        input["importance"] = json!(importance);
    }
    Some(input)
}

/// The arguments a tool call runs with: for `memory::*`, the turn's realm (always) and agent
/// (unless the model named one); anything else unchanged.
pub fn scoped_arguments(function_id: &str, arguments: &Value, ctx: &TurnContext) -> Value {
    let mut arguments = arguments.clone();
    if !function_id.starts_with("memory::") {
        return arguments;
    }
    if let Value::Object(map) = &mut arguments {
        map.insert("realm".to_string(), json!(ctx.realm));
        if let Some(agent) = &ctx.agent {
            map.entry("agent").or_insert_with(|| json!(agent));
        }
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn ctx(agent: Option<&str>) -> TurnContext {
        TurnContext {
            session_id: "s1".into(),
            turn_id: "t1".into(),
            realm: "team".into(),
            hand: "coder".into(),
            agent: agent.map(str::to_string),
        }
    }

    fn turns() -> MemoryPolicy {
        MemoryPolicy { store: "turns".into(), importance: Some(0.3), tags: vec!["ops".into()] }
    }

    #[test]
    fn a_finished_turn_is_remembered_only_when_the_policy_says_turns() {
        let stored = turn_memory(Some(&turns()), &ctx(Some("a1")), " fix the build ", "Done.", Finish::Stop).unwrap();
        assert_eq!(
            stored,
            json!({"text": "User: fix the build\nAnswer: Done.", "realm": "team", "agent": "a1",
                   "tags": ["turn", "coder", "ops"], "importance": 0.3})
        );
        assert_eq!(turn_memory(None, &ctx(None), "m", "r", Finish::Stop), None);
        let off = MemoryPolicy { store: "off".into(), ..turns() };
        assert_eq!(turn_memory(Some(&off), &ctx(None), "m", "r", Finish::Stop), None);
        assert_eq!(turn_memory(Some(&turns()), &ctx(None), "m", "r", Finish::StepLimit), None);
        assert_eq!(turn_memory(Some(&turns()), &ctx(None), "m", "  ", Finish::Stop), None);
    }

    #[test]
    fn a_long_turn_is_cut_on_a_character_boundary() {
        let stored = turn_memory(Some(&turns()), &ctx(None), &"é".repeat(5000), "ok", Finish::Stop).unwrap();
        assert_eq!(stored["text"].as_str().unwrap().chars().count(), TEXT_MAX);
        assert!(stored.get("agent").is_none());
    }

    #[test]
    fn memory_tools_act_in_the_turns_realm_and_for_its_agent() {
        let args = json!({"query": "deploy", "realm": "other"});
        assert_eq!(
            scoped_arguments("memory::recall", &args, &ctx(Some("a1"))),
            json!({"query": "deploy", "realm": "team", "agent": "a1"})
        );
        let named = json!({"text": "x", "agent": "a2"});
        assert_eq!(
            scoped_arguments("memory::store", &named, &ctx(Some("a1"))),
            json!({"text": "x", "agent": "a2", "realm": "team"})
        );
        assert_eq!(scoped_arguments("code::read_file", &args, &ctx(None)), args);
    }
}
