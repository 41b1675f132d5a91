//! The conversation of a session: its messages, kept in engine state so any agent-core process
//! (or a restarted one) continues it. The session record itself (name, state, turns) belongs to
//! the session-lifecycle worker (`session::*`).
//!
//! History lives in the realm's scope `realm:<realm>:history` under the session id, so realm
//! export, import and delete carry it.

use agentos_kit::chat::ChatMessage;
use agentos_kit::{WorkerError, codes};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::turn::{Bus, QUICK, call_as};

/// The messages of one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The session id (also the state key).
    pub id: String,
    /// The conversation, oldest first (without the system prompt).
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// Last changed, Unix ms.
    pub updated_ms: u64,
}

/// The state scope of a realm's histories.
pub fn scope(realm: &str) -> String {
    format!("realm:{realm}:history")
}

/// The messages of session `id` in `realm`; empty for a new session.
pub async fn load<B: Bus>(bus: &B, realm: &str, id: &str) -> Result<Vec<ChatMessage>, WorkerError> {
    let value: Value = call_as(bus, "state::get", json!({"scope": scope(realm), "key": id}), QUICK).await?;
    if value.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value::<History>(value).map(|h| h.messages).map_err(|e| {
        WorkerError::new(
            codes::BAD_STATE,
            format!("the history of session {id} in realm {realm} cannot be read ({e}); it was not changed"),
        )
    })
}

/// Stores the messages of session `id`.
pub async fn save<B: Bus>(bus: &B, realm: &str, id: &str, messages: Vec<ChatMessage>) -> Result<(), WorkerError> {
    let history = History { id: id.to_string(), messages, updated_ms: agentos_kit::clock::now_ms() };
    call_as::<_, Value>(bus, "state::set", json!({"scope": scope(realm), "key": id, "value": history}), QUICK)
        .await
        .map(|_| ())
}
