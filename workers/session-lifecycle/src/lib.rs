//! agentos-worker-session-lifecycle: sessions, one conversation each (`session::*`).
//!
//! A [`Session`] is the record of a conversation: its realm, the hand, agent and model of its
//! latest turn, its [`SessionState`], how many turns it has started and its last error. The
//! conversation's messages are not here (agent-core keeps them in `realm:<realm>:history`), nor
//! its steps (session-replay keeps them in `replay:<id>`).
//!
//! This crate is the domain: typed requests and one async method per verb on [`Sessions`]
//! ([`Sessions::open`], [`Sessions::get`], [`Sessions::list`], [`Sessions::rename`],
//! [`Sessions::set_state`], [`Sessions::fail_running`], [`Sessions::close`]) over a small [`SessionStore`] trait, so unit
//! tests run them against an in-memory fake. [`register()`] binds them to the engine.
//!
//! Rules it keeps:
//! - A session lives in the realm's scope `realm:<realm>:sessions` ([`scope`]) under its id,
//!   and its `id` field is that key, so realm export, import and delete carry it. The scope a
//!   record is read from decides its realm (a realm imported under another id owns its copies).
//! - The index scope [`INDEX_SCOPE`] maps an id to its realm, so a session is found by id alone.
//!   The index is a cache of the sessions scopes: a stale entry (its realm was deleted) is
//!   dropped when met, and a missing one (a session imported with its realm) is found by
//!   scanning every `realm:*:sessions` scope and then written back.
//! - Ids are unique across realms: opening an id that a session of another realm holds is a
//!   `CONFLICT`. Names are unique within a realm (`CONFLICT` too).
//! - **`open` means a turn starts**: it resumes the session (by id, else by name, in the realm,
//!   `default` when none is given) or creates it, sets `active`, counts the turn in `turns` and
//!   takes the turn's hand, agent and model. A `done` or `failed` session can be opened again.
//! - No session stays `active` or `waiting_approval` after its turn is gone: agent-core calls
//!   `session::fail_running` when it starts and when it lost the engine, and every session left
//!   running before then becomes `failed` with the reason ([`left_running`]).
//! - Writes are serialised by one lock in the worker, so two turns that start together both
//!   count and two sessions never take one name. Reads take no lock.
//! - Every change is published on the engine's `publish` topic [`EVENTS_TOPIC`] as
//!   `{"event": "session_started" | "session_state" | "session_renamed", "data": Session}` for
//!   live inboxes; a failed publish is logged, never a failed call.

mod error;
pub mod register;

use std::future::Future;

use agentos_kit::WorkerError;
use serde::{Deserialize, Serialize};

pub use error::SessionError;
pub use register::{MANIFEST, StateStore, register, run};

/// The realm of every session whose request names none.
pub const DEFAULT_REALM: &str = "default";

/// The index scope: session id → `{id, realm}`.
pub const INDEX_SCOPE: &str = "sessions:index";

/// The `publish` topic of session changes (and of the other workers' live events).
pub const EVENTS_TOPIC: &str = "agentos.events";

/// The longest session id: long enough for a UUID with a prefix, short enough for a state key.
pub const ID_MAX: usize = 128;

/// The longest session name, in characters: enough for a title, short enough for a table.
pub const NAME_MAX: usize = 100;

/// The longest hand, agent or model name a session records, in characters.
pub const LABEL_MAX: usize = 200;

/// How many sessions `session::list` answers when the request says nothing.
pub const LIST_DEFAULT: usize = 100;

/// The most sessions one `session::list` answers.
pub const LIST_MAX: usize = 1000;

/// A session's record, its states and why its last turn failed: the session contract, shared
/// with every reader.
pub use agentos_protocol::error::ErrorInfo;
pub use agentos_protocol::session::{Session, SessionEvent, SessionList, SessionState, UnknownState};

/// A state nobody knows is `INVALID_INPUT` listing the states.
impl From<UnknownState> for SessionError {
    fn from(e: UnknownState) -> Self {
        SessionError::InvalidState { given: e.given }
    }
}

/// A value of [`INDEX_SCOPE`]: where session `id` lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The session id (also the key).
    pub id: String,
    /// Its realm.
    pub realm: String,
}

/// Where sessions and the index live, what time it is, fresh ids, and the event topic. The
/// worker implements it over the engine ([`StateStore`]); tests use an in-memory fake.
pub trait SessionStore: Send + Sync {
    /// Wall-clock Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// A fresh session id.
    fn new_id(&self) -> String;
    /// Session `id` of `realm`, if stored.
    fn get(&self, realm: &str, id: &str) -> impl Future<Output = Result<Option<Session>, WorkerError>> + Send;
    /// Stores `session` in its realm's scope under its id.
    fn put(&self, session: &Session) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Every session of `realm`.
    fn list(&self, realm: &str) -> impl Future<Output = Result<Vec<Session>, WorkerError>> + Send;
    /// Every realm that has a sessions scope.
    fn realms(&self) -> impl Future<Output = Result<Vec<String>, WorkerError>> + Send;
    /// The index entry of `id`.
    fn index_get(&self, id: &str) -> impl Future<Output = Result<Option<IndexEntry>, WorkerError>> + Send;
    /// Stores an index entry.
    fn index_put(&self, entry: &IndexEntry) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Removes the index entry of `id`.
    fn index_delete(&self, id: &str) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Publishes `event` on [`EVENTS_TOPIC`]; failures are the implementation's to log.
    fn publish(&self, event: &SessionEvent) -> impl Future<Output = ()> + Send;
}

/// `session::open`: a turn starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenSession {
    /// The session to resume, or the id of a new one (1–128 of `[A-Za-z0-9._:-]`); a new UUID
    /// when left out and no session has `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resume the realm's session of this name when no id is given; with an id, (re)name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The realm; `default` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The hand of this turn.
    pub hand: String,
    /// The agent of this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The model of this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `session::set_state`: a turn waits, ends or fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetState {
    /// The session id.
    pub id: String,
    /// The new state.
    pub state: SessionState,
    /// Why the turn failed; stored as `last_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Look only in this realm (else the session is found by id alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// `session::get`: one session by id, or by name in a realm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetSession {
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The session name (when no id is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// With an id: look only in this realm. With a name: the realm of the name (`default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// `session::list`: sessions, newest activity first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSessions {
    /// Only this realm's sessions; every realm's when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Only sessions in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<SessionState>,
    /// At most this many (default [`LIST_DEFAULT`], at most [`LIST_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `session::rename`: give a session a new name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameSession {
    /// The session id.
    pub id: String,
    /// The new name, unique in the realm.
    pub name: String,
    /// Look only in this realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// `session::close`: the session is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseSession {
    /// The session id.
    pub id: String,
    /// Look only in this realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// `session::fail_running`: the turns of the sessions still `active` or `waiting_approval`
/// are gone (agent-core started, or lost the engine under them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRunning {
    /// Only sessions last changed before this, in Unix ms: a turn started since is alive.
    pub before_ms: u64,
    /// Why their turns are gone; stored as each one's `last_error`.
    pub error: ErrorInfo,
}

/// What `session::fail_running` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// The sessions it marked `failed`, as stored now.
    pub sessions: Vec<Session>,
}

/// Whether `session`'s turn was running (`active` or `waiting_approval`) when it last changed,
/// before `before_ms`: a turn that a restart left behind.
pub fn left_running(session: &Session, before_ms: u64) -> bool {
    matches!(session.state, SessionState::Active | SessionState::WaitingApproval) && session.updated_ms < before_ms
}

/// The state scope of `realm`'s sessions: `realm:<realm>:sessions`.
pub fn scope(realm: &str) -> String {
    format!("realm:{realm}:sessions")
}

/// The realm of a sessions scope name (`realm:<realm>:sessions` → `<realm>`).
pub fn realm_of_scope(scope: &str) -> Option<&str> {
    scope.strip_prefix("realm:")?.strip_suffix(":sessions").filter(|r| !r.is_empty() && !r.contains(':'))
}

/// Checks a session id: 1 to [`ID_MAX`] of `[A-Za-z0-9._:-]` (the rule agent-core's
/// `session_id` follows too).
pub fn check_id(id: &str) -> Result<(), SessionError> {
    let ok = !id.is_empty()
        && id.len() <= ID_MAX
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok { Ok(()) } else { Err(SessionError::InvalidId { id: id.to_string() }) }
}

/// Checks a realm id as realm does (a slug of at most 63 characters), so the scope name it
/// builds is one realm can export.
pub fn check_realm(realm: &str) -> Result<(), SessionError> {
    let slug_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = realm.len() <= 63 && realm.starts_with(slug_char) && realm.chars().all(|c| slug_char(c) || c == '-');
    if ok { Ok(()) } else { Err(SessionError::InvalidRealm { realm: realm.to_string() }) }
}

/// Checks a name and returns it trimmed: 1 to [`NAME_MAX`] characters, none of them control
/// characters.
pub fn check_name(name: &str) -> Result<String, SessionError> {
    let name = name.trim();
    let count = name.chars().count();
    let problem = if count == 0 {
        "is empty".to_string()
    } else if count > NAME_MAX {
        format!("has {count} characters")
    } else if name.chars().any(char::is_control) {
        "contains control characters".to_string()
    } else {
        return Ok(name.to_string());
    };
    Err(SessionError::InvalidName { problem })
}

/// Checks a hand, agent or model name: 1 to [`LABEL_MAX`] characters without control
/// characters; returns it trimmed.
fn check_label(field: &'static str, value: &str) -> Result<String, SessionError> {
    let value = value.trim();
    let count = value.chars().count();
    if count == 0 || count > LABEL_MAX || value.chars().any(char::is_control) {
        return Err(SessionError::InvalidLabel { field, value: value.to_string() });
    }
    Ok(value.to_string())
}

/// `%XX` escapes of a URL path segment decoded (the engine hands `:param`s over raw).
pub use agentos_kit::url::decode_segment as percent_decode;

/// Sorts sessions newest activity first: `updated_ms`, then `created_ms` (both descending),
/// then id, so equal times still give one order.
pub fn sort_newest_first(sessions: &mut [Session]) {
    sessions.sort_by(|a, b| {
        b.updated_ms.cmp(&a.updated_ms).then(b.created_ms.cmp(&a.created_ms)).then_with(|| a.id.cmp(&b.id))
    });
}

/// The `session::*` verbs over a [`SessionStore`]; writes go one at a time.
pub struct Sessions<S> {
    store: S,
    write: tokio::sync::Mutex<()>,
}

impl<S: SessionStore> Sessions<S> {
    /// The verbs over `store`.
    pub fn new(store: S) -> Self {
        Self { store, write: tokio::sync::Mutex::new(()) }
    }

    /// The store (tests look inside it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// `session::open`: a turn starts. Resumes the session `id` (in the realm; `CONFLICT` when
    /// another realm holds it), else the realm's session called `name`, else creates one (the
    /// given id, or a new UUID). The session becomes `active`, `turns` grows by one, and the
    /// hand, agent and model of the turn are recorded. With both an id and a name the session
    /// takes the name (`CONFLICT` when another session of the realm has it).
    pub async fn open(&self, req: OpenSession) -> Result<Session, SessionError> {
        let realm = req.realm.unwrap_or_else(|| DEFAULT_REALM.to_string());
        check_realm(&realm)?;
        if let Some(id) = &req.id {
            check_id(id)?;
        }
        let name = req.name.as_deref().map(check_name).transpose()?;
        let hand = check_label("hand", &req.hand)?;
        let agent = req.agent.as_deref().map(|a| check_label("agent", a)).transpose()?;
        let model = req.model.as_deref().map(|m| check_label("model", m)).transpose()?;

        let _one_writer = self.write.lock().await;
        let existing = match (&req.id, &name) {
            (Some(id), _) => self.in_realm(&realm, id).await?,
            (None, Some(name)) => self.by_name(&realm, name).await?,
            (None, None) => None,
        };
        if let Some(name) = &name {
            self.name_is_free(&realm, name, existing.as_ref().map(|s| s.id.as_str())).await?;
        }
        let now = self.store.now_ms();
        let (session, event) = match existing {
            Some(mut session) => {
                session.state = SessionState::Active;
                session.turns += 1;
                session.hand = hand;
                session.agent = agent.or(session.agent);
                session.model = model.or(session.model);
                session.name = name.or(session.name);
                session.updated_ms = now;
                self.store.put(&session).await?;
                self.store.index_put(&IndexEntry { id: session.id.clone(), realm: realm.clone() }).await?;
                (session, SessionEvent::STATE)
            }
            None => {
                let session = Session {
                    id: req.id.unwrap_or_else(|| self.store.new_id()),
                    name,
                    realm: realm.clone(),
                    hand,
                    agent,
                    model,
                    state: SessionState::Active,
                    turns: 1,
                    created_ms: now,
                    updated_ms: now,
                    last_error: None,
                };
                // The record first: a crash before the index leaves a session the scan finds.
                self.store.put(&session).await?;
                self.store.index_put(&IndexEntry { id: session.id.clone(), realm }).await?;
                (session, SessionEvent::STARTED)
            }
        };
        self.store.publish(&SessionEvent::new(event, &session)).await;
        Ok(session)
    }

    /// `session::set_state`: records the state of the running turn and, with `error`, why it
    /// failed. Setting the state a session already has (and no error) changes nothing.
    pub async fn set_state(&self, req: SetState) -> Result<Session, SessionError> {
        check_id(&req.id)?;
        let _one_writer = self.write.lock().await;
        let mut session = self.locate(&req.id, req.realm.as_deref()).await?;
        if session.state == req.state && req.error.is_none() {
            return Ok(session);
        }
        session.state = req.state;
        if let Some(error) = req.error {
            session.last_error = Some(error);
        }
        session.updated_ms = self.store.now_ms();
        self.store.put(&session).await?;
        self.store.publish(&SessionEvent::new(SessionEvent::STATE, &session)).await;
        Ok(session)
    }

    /// `session::fail_running`: every session whose turn was left running before `before_ms`
    /// ([`left_running`]) becomes `failed` with `error`. Under the write lock, so a turn that
    /// opens its session meanwhile is never caught.
    pub async fn fail_running(&self, req: FailRunning) -> Result<Failed, SessionError> {
        let _one_writer = self.write.lock().await;
        let now = self.store.now_ms();
        let mut failed = Vec::new();
        for realm in self.store.realms().await? {
            for session in self.store.list(&realm).await? {
                if !left_running(&session, req.before_ms) {
                    continue;
                }
                let session = Session {
                    realm: realm.clone(),
                    state: SessionState::Failed,
                    last_error: Some(req.error.clone()),
                    updated_ms: now,
                    ..session
                };
                self.store.put(&session).await?;
                failed.push(session);
            }
        }
        for session in &failed {
            self.store.publish(&SessionEvent::new(SessionEvent::STATE, session)).await;
        }
        Ok(Failed { sessions: failed })
    }

    /// `session::close`: the session is `done` (opening it again starts another turn).
    pub async fn close(&self, req: CloseSession) -> Result<Session, SessionError> {
        self.set_state(SetState { id: req.id, state: SessionState::Done, error: None, realm: req.realm }).await
    }

    /// `session::rename`: a new name, unique in the session's realm.
    pub async fn rename(&self, req: RenameSession) -> Result<Session, SessionError> {
        check_id(&req.id)?;
        let name = check_name(&req.name)?;
        let _one_writer = self.write.lock().await;
        let mut session = self.locate(&req.id, req.realm.as_deref()).await?;
        if session.name.as_deref() == Some(name.as_str()) {
            return Ok(session);
        }
        self.name_is_free(&session.realm, &name, Some(&session.id)).await?;
        session.name = Some(name);
        session.updated_ms = self.store.now_ms();
        self.store.put(&session).await?;
        self.store.publish(&SessionEvent::new(SessionEvent::RENAMED, &session)).await;
        Ok(session)
    }

    /// `session::get`: one session by id (anywhere, or only in `realm`), else by name in
    /// `realm` (`default`). `NOT_FOUND` says how to list sessions.
    pub async fn get(&self, req: GetSession) -> Result<Session, SessionError> {
        match (req.id, req.name) {
            (Some(id), _) => {
                check_id(&id)?;
                self.locate(&id, req.realm.as_deref()).await
            }
            (None, Some(name)) => {
                let realm = req.realm.unwrap_or_else(|| DEFAULT_REALM.to_string());
                check_realm(&realm)?;
                self.by_name(&realm, &name)
                    .await?
                    .ok_or(SessionError::NotFound { what: format!("named {name:?}"), realm: Some(realm) })
            }
            (None, None) => Err(SessionError::NoKey),
        }
    }

    /// What a URL's `:id` names: the session with that id (anywhere, or only in `realm`), else
    /// the one with that name in `realm` (`default`). Ids win over names.
    pub async fn resolve(&self, key: &str, realm: Option<&str>) -> Result<Session, SessionError> {
        if check_id(key).is_ok() {
            match self.locate(key, realm).await {
                Err(SessionError::NotFound { .. }) => {}
                found => return found,
            }
        }
        let req = GetSession { id: None, name: Some(key.to_string()), realm: realm.map(str::to_string) };
        self.get(req).await.map_err(|e| match e {
            SessionError::NotFound { realm, .. } => {
                SessionError::NotFound { what: format!("with id or name {key:?}"), realm }
            }
            other => other,
        })
    }

    /// `session::list`: the sessions of one realm (or every realm), optionally in one state,
    /// newest activity first, at most `limit`.
    pub async fn list(&self, req: ListSessions) -> Result<SessionList, SessionError> {
        let limit = match req.limit {
            None => LIST_DEFAULT,
            Some(n) if (1..=LIST_MAX).contains(&n) => n,
            Some(n) => return Err(SessionError::InvalidLimit { given: n }),
        };
        let realms = match req.realm {
            Some(realm) => {
                check_realm(&realm)?;
                vec![realm]
            }
            None => self.store.realms().await?,
        };
        let mut sessions = Vec::new();
        for realm in &realms {
            let found = self.store.list(realm).await?;
            sessions.extend(found.into_iter().map(|s| Session { realm: realm.clone(), ..s }));
        }
        sessions.retain(|s| req.state.is_none_or(|state| s.state == state));
        sort_newest_first(&mut sessions);
        let total = sessions.len();
        sessions.truncate(limit);
        Ok(SessionList { sessions, total })
    }

    /// Session `id` of `realm`; `None` when that realm has none. `CONFLICT` when a session of
    /// another realm holds the id (ids are unique across realms).
    async fn in_realm(&self, realm: &str, id: &str) -> Result<Option<Session>, SessionError> {
        if let Some(session) = self.load(realm, id).await? {
            return Ok(Some(session));
        }
        match self.find_anywhere(id).await? {
            Some(other) => Err(SessionError::IdInOtherRealm { id: id.to_string(), realm: other.realm }),
            None => Ok(None),
        }
    }

    /// Session `id`, only in `realm` when given, else wherever it is; `NOT_FOUND` otherwise.
    async fn locate(&self, id: &str, realm: Option<&str>) -> Result<Session, SessionError> {
        let found = match realm {
            Some(realm) => {
                check_realm(realm)?;
                self.load(realm, id).await?
            }
            None => self.find_anywhere(id).await?,
        };
        found
            .ok_or_else(|| SessionError::NotFound { what: format!("with id {id:?}"), realm: realm.map(str::to_string) })
    }

    /// Session `id` of whatever realm: through the index, else by scanning every realm (and
    /// then repairing the index). A stale index entry is dropped.
    async fn find_anywhere(&self, id: &str) -> Result<Option<Session>, SessionError> {
        if let Some(entry) = self.store.index_get(id).await? {
            if let Some(session) = self.load(&entry.realm, id).await? {
                return Ok(Some(session));
            }
            self.store.index_delete(id).await?;
        }
        for realm in self.store.realms().await? {
            if let Some(session) = self.load(&realm, id).await? {
                self.store.index_put(&IndexEntry { id: id.to_string(), realm }).await?;
                return Ok(Some(session));
            }
        }
        Ok(None)
    }

    /// Session `id` as stored in `realm`'s scope, its realm set to that realm.
    async fn load(&self, realm: &str, id: &str) -> Result<Option<Session>, SessionError> {
        Ok(self.store.get(realm, id).await?.map(|s| Session { realm: realm.to_string(), ..s }))
    }

    /// The session of `realm` called `name`. Reads the realm's whole scope: names are looked up
    /// by people and tools, not on every turn.
    async fn by_name(&self, realm: &str, name: &str) -> Result<Option<Session>, SessionError> {
        let name = name.trim();
        let found = self.store.list(realm).await?.into_iter().find(|s| s.name.as_deref() == Some(name));
        Ok(found.map(|s| Session { realm: realm.to_string(), ..s }))
    }

    /// `CONFLICT` when a session of `realm` other than `owner` is called `name`.
    async fn name_is_free(&self, realm: &str, name: &str, owner: Option<&str>) -> Result<(), SessionError> {
        match self.by_name(realm, name).await? {
            Some(holder) if Some(holder.id.as_str()) != owner => {
                Err(SessionError::NameTaken { name: name.to_string(), realm: realm.to_string(), holder: holder.id })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
