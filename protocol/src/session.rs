//! The session contract: a session's record as session-lifecycle keeps it and answers it
//! (`session::get|list|open|rename|close`, `GET /v1/sessions[/:id]`), its states, and the event
//! published on `agentos.events` when it changes.
//!
//! Rules it keeps:
//! - A record's unknown fields are ignored and the fields it lacks take their defaults, so
//!   records written by older workers still read.
//! - Optional fields the worker leaves out are skipped, never written as `null`.

use serde::{Deserialize, Serialize};

use crate::error::ErrorInfo;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// A turn is running.
    Active,
    /// A turn waits for a person to approve a tool call.
    WaitingApproval,
    /// The last turn finished (or the session was closed). Records without a state read as this.
    #[default]
    Done,
    /// The last turn failed; `last_error` says why.
    Failed,
}

/// A state nobody knows (`?state=paused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState {
    /// The state as given.
    pub given: String,
}

impl SessionState {
    /// Every state, in the order of a session's life.
    pub const ALL: [SessionState; 4] = [Self::Active, Self::WaitingApproval, Self::Done, Self::Failed];

    /// The wire spelling: `active`, `waiting_approval`, `done` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::WaitingApproval => "waiting_approval",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// The state spelled `text`.
    pub fn parse(text: &str) -> Result<Self, UnknownState> {
        Self::ALL.into_iter().find(|s| s.as_str() == text).ok_or_else(|| UnknownState { given: text.to_string() })
    }
}

/// One conversation: the record at `realm:<realm>:sessions/<id>`, and every answer's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The id (also the state key).
    pub id: String,
    /// A name unique in the realm, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The realm it belongs to.
    #[serde(default)]
    pub realm: String,
    /// The hand of the latest turn.
    #[serde(default)]
    pub hand: String,
    /// The agent of the latest turn that named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The model of the latest turn that named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where it is in its life.
    #[serde(default)]
    pub state: SessionState,
    /// How many turns have started (each `session::open` counts one).
    #[serde(default)]
    pub turns: u64,
    /// Created, Unix ms.
    #[serde(default)]
    pub created_ms: u64,
    /// Last changed, Unix ms.
    #[serde(default)]
    pub updated_ms: u64,
    /// The error of the latest failed turn; kept until another error replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ErrorInfo>,
}

/// What `session::list` and `GET /v1/sessions` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    /// The sessions, by `updated_ms` newest first (then `created_ms`, then id).
    pub sessions: Vec<Session>,
    /// How many matched before `limit` cut the list.
    pub total: usize,
}

/// What is published on `agentos.events` when a session changes:
/// `{"event": "session_started" | "session_state" | "session_renamed", "data": Session}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// `session_started`, `session_state` or `session_renamed`.
    pub event: String,
    /// The session as stored after the change.
    pub data: Session,
}

impl SessionEvent {
    /// A session was created (its first turn starts).
    pub const STARTED: &'static str = "session_started";
    /// A session's state changed (a turn started, waits, ended or failed).
    pub const STATE: &'static str = "session_state";
    /// A session's name changed.
    pub const RENAMED: &'static str = "session_renamed";

    /// The event named `event` for `session`.
    pub fn new(event: &str, session: &Session) -> Self {
        Self { event: event.to_string(), data: session.clone() }
    }

    /// Whether an event named `event` is a session's.
    pub fn is_session_event(event: &str) -> bool {
        matches!(event, Self::STARTED | Self::STATE | Self::RENAMED)
    }
}
