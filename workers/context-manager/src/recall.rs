//! Recalled memory: the `memory::recall` request context-manager sends, and the tolerant
//! reading of its answer.
//!
//! Rules it keeps:
//! - The expected answer is `{memories: [{id, text, score}]}`; a missing or `null` answer or
//!   list means no memories, entries without text are skipped, a numeric id is read as text,
//!   and keys context-manager does not use are ignored (the memory worker may add its own).
//! - Order is kept: the memory worker ranks, context-manager only cuts to fit.

use serde::{Deserialize, Serialize};

/// How many memories a build asks for.
pub const RECALL_K: u32 = 5;

/// One recalled memory, as it appears in a build's `recalled` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// The memory's id in the memory worker, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is remembered.
    pub text: String,
    /// The recall score, when the memory worker gave one (higher is more relevant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The `memory::recall` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecallRequest<'a> {
    /// What to recall memories about: the new user message.
    pub query: &'a str,
    /// The realm to search, when the build names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<&'a str>,
    /// The agent whose memories to search, when the build names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a str>,
    /// How many memories to return at most.
    pub k: u32,
}

/// The `memory::recall` answer, read leniently (see the module rules).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct RecallAnswer {
    /// The memories, best first.
    #[serde(default, deserialize_with = "null_as_empty")]
    memories: Vec<Recalled>,
}

/// One entry of the answer, before the entries without text are skipped.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Recalled {
    #[serde(default)]
    id: Option<Id>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    score: Option<f64>,
}

/// A memory id: text, or a number read as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(serde_json::Number),
}

/// A list that may be `null`.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Recalled>, D::Error> {
    Ok(Option::<Vec<Recalled>>::deserialize(d)?.unwrap_or_default())
}

impl RecallAnswer {
    /// The usable memories, in the memory worker's order.
    pub fn into_memories(self) -> Vec<Memory> {
        self.memories
            .into_iter()
            .filter_map(|r| {
                let text = r.text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())?;
                let id = r.id.map(|id| match id {
                    Id::Text(s) => s,
                    Id::Number(n) => n.to_string(),
                });
                Some(Memory { id, text, score: r.score })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn read(value: serde_json::Value) -> Vec<Memory> {
        serde_json::from_value::<Option<RecallAnswer>>(value).unwrap().unwrap_or_default().into_memories()
    }

    #[test]
    fn the_expected_answer_shape_is_read_in_order() {
        let memories = read(json!({"memories": [
            {"id": "m1", "text": "The user prefers tabs.", "score": 0.9},
            {"id": 7, "text": "Project lives in ~/src/app", "score": 0.5, "created_at": 1}
        ]}));
        assert_eq!(
            memories,
            vec![
                Memory { id: Some("m1".into()), text: "The user prefers tabs.".into(), score: Some(0.9) },
                Memory { id: Some("7".into()), text: "Project lives in ~/src/app".into(), score: Some(0.5) },
            ]
        );
    }

    #[test]
    fn absent_null_and_textless_answers_mean_no_memories() {
        assert_eq!(read(json!(null)), vec![]);
        assert_eq!(read(json!({})), vec![]);
        assert_eq!(read(json!({"memories": null})), vec![]);
        assert_eq!(read(json!({"memories": [{"id": "m1"}, {"id": "m2", "text": "  "}]})), vec![]);
        assert_eq!(
            read(json!({"memories": [{"text": "bare"}]})),
            vec![Memory { id: None, text: "bare".into(), score: None }]
        );
    }

    #[test]
    fn the_request_leaves_out_what_the_build_does_not_name() {
        let req = RecallRequest { query: "hi", realm: None, agent: Some("a1"), k: RECALL_K };
        assert_eq!(serde_json::to_value(req).unwrap(), json!({"query": "hi", "agent": "a1", "k": 5}));
    }
}
