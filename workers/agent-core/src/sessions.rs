//! Session history: the messages of a conversation, kept in engine state so any agent-core
//! process (or a restarted one) continues it.
//!
//! A session lives in the realm's scope `realm:<realm>:sessions` under its id, so realm export,
//! import and delete carry it (see the realm worker's scoping rule).

use agentos_kit::chat::ChatMessage;
use agentos_kit::{WorkerError, codes};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::turn::{Bus, QUICK, call_as};

/// The longest session id a client may choose.
const ID_MAX: usize = 128;

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Its id (also the state key).
    pub id: String,
    /// The realm it belongs to.
    pub realm: String,
    /// The hand of its first turn.
    pub hand: String,
    /// The agent, when one was named.
    #[serde(default)]
    pub agent: Option<String>,
    /// The model of the last turn.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation, oldest first (without the system prompt).
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// Completed turns.
    #[serde(default)]
    pub turns: u64,
    /// Created, Unix ms.
    pub created_ms: u64,
    /// Last changed, Unix ms.
    pub updated_ms: u64,
}

impl Session {
    /// A new, empty session.
    pub fn new(id: &str, realm: &str, hand: &str, agent: Option<&str>, now_ms: u64) -> Self {
        Self {
            id: id.to_string(),
            realm: realm.to_string(),
            hand: hand.to_string(),
            agent: agent.map(str::to_string),
            model: None,
            messages: Vec::new(),
            turns: 0,
            created_ms: now_ms,
            updated_ms: now_ms,
        }
    }
}

/// The state scope of a realm's sessions.
pub fn scope(realm: &str) -> String {
    format!("realm:{realm}:sessions")
}

/// A fresh session id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A client-chosen id, checked: 1–128 characters of `[A-Za-z0-9._:-]`.
pub fn check_id(id: &str) -> Result<String, WorkerError> {
    let ok = !id.is_empty()
        && id.len() <= ID_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok {
        Ok(id.to_string())
    } else {
        Err(WorkerError::invalid_input(format!(
            "session_id {id:?} is not valid: use 1-{ID_MAX} letters, digits, '.', '_', ':' or '-'"
        )))
    }
}

/// The session `id` of `realm`, if it exists.
pub async fn load<B: Bus>(bus: &B, realm: &str, id: &str) -> Result<Option<Session>, WorkerError> {
    let value: Value = call_as(bus, "state::get", json!({"scope": scope(realm), "key": id}), QUICK).await?;
    if value.is_null() {
        return Ok(None);
    }
    serde_json::from_value(value).map(Some).map_err(|e| {
        WorkerError::new(
            codes::BAD_STATE,
            format!("session {id} in realm {realm} cannot be read ({e}); it was not changed"),
        )
    })
}

/// Stores `session`.
pub async fn save<B: Bus>(bus: &B, session: &Session) -> Result<(), WorkerError> {
    let input = json!({"scope": scope(&session.realm), "key": session.id, "value": session});
    call_as::<_, Value>(bus, "state::set", input, QUICK).await.map(|_| ())
}
