//! Agent records: a named agent of a realm with its hand and model (`agent::create`, `get`,
//! `list`, `delete`).
//!
//! An agent's id is a slug (`[a-z0-9][a-z0-9_-]{0,62}`) unique within its realm; records live in
//! the realm's scope `realm:<realm>:agents`, so realm export, import and delete carry them.

use agentos_kit::{WorkerError, codes};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::DEFAULT_REALM;
use crate::turn::{Bus, QUICK, call_as};

/// The longest agent id.
const ID_MAX: usize = 63;

/// An agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Its id, unique in the realm.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its hand.
    #[serde(default)]
    pub hand: Option<String>,
    /// Its model (`provider/model`).
    #[serde(default)]
    pub model: Option<String>,
    /// The realm it lives in.
    pub realm: String,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Created, Unix ms.
    pub created_at_ms: u64,
}

/// `agent::create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    /// The name; the id is the name when it is a slug, else `id` must be given.
    pub name: String,
    /// An explicit id.
    #[serde(default)]
    pub id: Option<String>,
    /// Its hand.
    #[serde(default)]
    pub hand: Option<String>,
    /// Its model.
    #[serde(default)]
    pub model: Option<String>,
    /// Its realm (default `default`).
    #[serde(default)]
    pub realm: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// `agent::get` and `agent::delete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    /// The agent's id.
    pub id: String,
    /// Its realm (default `default`).
    #[serde(default)]
    pub realm: Option<String>,
}

/// `agent::list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListAgents {
    /// The realm (default `default`).
    #[serde(default)]
    pub realm: Option<String>,
}

/// The `agent::list` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentList {
    /// The realm's agents, sorted by id.
    pub agents: Vec<Agent>,
}

/// The `agent::delete` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The id that was deleted.
    pub deleted: String,
}

/// The state scope of a realm's agents.
pub fn scope(realm: &str) -> String {
    format!("realm:{realm}:agents")
}

/// Whether `id` is a valid agent id.
pub fn is_slug(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= ID_MAX
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn realm_of(realm: &Option<String>) -> String {
    realm.clone().unwrap_or_else(|| DEFAULT_REALM.to_string())
}

/// Creates an agent; `CONFLICT` when the id is taken in the realm.
pub async fn create<B: Bus>(bus: &B, req: CreateAgent, now_ms: u64) -> Result<Agent, WorkerError> {
    let name = req.name.trim().to_string();
    if name.is_empty() {
        return Err(WorkerError::invalid_input("an agent needs a name"));
    }
    let id = req.id.clone().unwrap_or_else(|| name.clone());
    if !is_slug(&id) {
        return Err(WorkerError::invalid_input(format!(
            "agent id {id:?} is not valid: use 1-{ID_MAX} lower-case letters, digits, '-' or '_', starting with a letter or digit (give `id` when the name is not one)"
        )));
    }
    let realm = realm_of(&req.realm);
    call_as::<_, Value>(bus, "realm::get", json!({"id": realm}), QUICK).await?;
    if let Some(hand) = &req.hand {
        call_as::<_, Value>(bus, "hand::get", json!({"name": hand}), QUICK).await?;
    }
    let agent = Agent {
        id,
        name,
        hand: req.hand,
        model: req.model,
        realm: realm.clone(),
        description: req.description,
        created_at_ms: now_ms,
    };
    // Two creates of one id at the same instant: the later write wins. Agents are created by a
    // person, so the window is not worth a lock.
    let existing: Value = call_as(bus, "state::get", json!({"scope": scope(&realm), "key": agent.id}), QUICK).await?;
    if !existing.is_null() {
        return Err(WorkerError::conflict(format!("agent {} already exists in realm {realm}", agent.id)));
    }
    call_as::<_, Value>(bus, "state::set", json!({"scope": scope(&realm), "key": agent.id, "value": agent}), QUICK)
        .await?;
    Ok(agent)
}

/// One agent; `NOT_FOUND` naming the realm's agents.
pub async fn get<B: Bus>(bus: &B, realm: &str, id: &str) -> Result<Agent, WorkerError> {
    let value: Value = call_as(bus, "state::get", json!({"scope": scope(realm), "key": id}), QUICK).await?;
    if value.is_null() {
        let known: Vec<String> = list(bus, realm).await?.agents.into_iter().map(|a| a.id).collect();
        return Err(WorkerError::new(
            codes::NOT_FOUND,
            format!(
                "no agent {id:?} in realm {realm}; its agents: {} (create one with POST /v1/agents or `agentos agent create`)",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| WorkerError::new(codes::BAD_STATE, format!("agent {id} in realm {realm} cannot be read: {e}")))
}

/// Every agent of `realm`, sorted by id.
pub async fn list<B: Bus>(bus: &B, realm: &str) -> Result<AgentList, WorkerError> {
    let values: Vec<Value> = call_as(bus, "state::list", json!({"scope": scope(realm)}), QUICK).await?;
    let mut agents = values
        .into_iter()
        .map(|v| {
            serde_json::from_value::<Agent>(v).map_err(|e| {
                WorkerError::new(codes::BAD_STATE, format!("an agent of realm {realm} cannot be read: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(AgentList { agents })
}

/// Deletes an agent; `NOT_FOUND` when there is none.
pub async fn delete<B: Bus>(bus: &B, realm: &str, id: &str) -> Result<Deleted, WorkerError> {
    let old: Value = call_as(bus, "state::delete", json!({"scope": scope(realm), "key": id}), QUICK).await?;
    if old.is_null() {
        return Err(WorkerError::not_found(format!("no agent {id:?} in realm {realm}")));
    }
    Ok(Deleted { deleted: id.to_string() })
}
