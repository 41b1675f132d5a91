//! agentos-worker-realm: realms, the unit of tenancy (`realm::*`).
//!
//! Agents, sessions and memory are scoped to a realm. This crate is the domain: the [`Realm`]
//! record, typed requests, and one async function per verb ([`create`], [`get`], [`list`],
//! [`update`], [`delete`], [`export`], [`import`]) over a small [`RealmStore`] trait, so unit
//! tests run them against an in-memory fake. [`register()`] binds them to the engine.
//!
//! Rules it keeps:
//! - A realm id is a slug, `[a-z0-9][a-z0-9-]{0,62}`; a name has 1 to 100 characters.
//! - [`DEFAULT_REALM`] always exists: reading it creates it when it is missing, creating it is
//!   a `CONFLICT`, deleting it is `FORBIDDEN`.
//! - Realm records live in the state scope [`REALMS_SCOPE`], keyed by id. Data other workers
//!   keep for a realm lives in state scopes named `realm:<id>:<what>` ([`scope_name`]); each
//!   value there is a JSON object whose string `id` field is its key. That convention is what
//!   lets realm export, import and delete those scopes: the engine lists a scope's values, not
//!   its keys. A value that breaks it is `BAD_STATE`, reported before anything is changed.
//! - Deleting a realm deletes its scoped state first and its record last, so a delete that fails
//!   half-way leaves the realm visible and can be retried.
//! - An export is `{realm, scopes: {<what>: [values]}}`, scope names relative to the realm, so
//!   the same document imports under another id.

mod error;
pub mod register;

use std::collections::BTreeMap;
use std::future::Future;

use agentos_kit::WorkerError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use error::RealmError;
pub use register::{MANIFEST, StateStore, register, run};

/// The realm that always exists and cannot be deleted.
pub const DEFAULT_REALM: &str = "default";

/// The state scope that holds the realm records, keyed by realm id.
pub const REALMS_SCOPE: &str = "realms";

/// The longest realm id: 63 characters, so an id is also a valid DNS label and file name.
pub const ID_MAX: usize = 63;

/// The longest realm name, in characters: enough for a title, short enough for a table column.
pub const NAME_MAX: usize = 100;

/// A realm: the record stored at `realms/<id>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realm {
    /// The slug that names the realm everywhere (state scopes, URLs, the CLI).
    pub id: String,
    /// A human-readable name.
    pub name: String,
    /// What the realm is for; may be empty.
    #[serde(default)]
    pub description: String,
    /// When it was created, in Unix milliseconds.
    pub created_ms: u64,
    /// When it was last changed, in Unix milliseconds.
    pub updated_ms: u64,
    /// Free-form settings other workers read (for example a default hand or model).
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// Where realm records and realm-scoped state live, and what time it is. The worker implements
/// it over the engine's `state::*` ([`StateStore`]); tests use an in-memory fake.
pub trait RealmStore: Send + Sync {
    /// Wall-clock Unix milliseconds for `created_ms` / `updated_ms`.
    fn now_ms(&self) -> u64;
    /// The record of realm `id`, if stored.
    fn get_realm(&self, id: &str) -> impl Future<Output = Result<Option<Realm>, WorkerError>> + Send;
    /// Stores `realm` under its id, replacing what was there.
    fn put_realm(&self, realm: &Realm) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Deletes the record of realm `id`; `true` when there was one.
    fn delete_realm(&self, id: &str) -> impl Future<Output = Result<bool, WorkerError>> + Send;
    /// Every stored realm record.
    fn list_realms(&self) -> impl Future<Output = Result<Vec<Realm>, WorkerError>> + Send;
    /// Every state scope name (all workers', not only realm's).
    fn scopes(&self) -> impl Future<Output = Result<Vec<String>, WorkerError>> + Send;
    /// Every value in `scope`.
    fn scope_items(&self, scope: &str) -> impl Future<Output = Result<Vec<Value>, WorkerError>> + Send;
    /// Stores `item` at `scope`/`key`.
    fn put_item(&self, scope: &str, key: &str, item: &Value) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Deletes `scope`/`key`; `true` when there was a value.
    fn delete_item(&self, scope: &str, key: &str) -> impl Future<Output = Result<bool, WorkerError>> + Send;
}

/// `realm::create`: a new realm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRealm {
    /// The new realm's id (a slug).
    pub id: String,
    /// Its name; the id when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Initial settings.
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// `realm::get`, `realm::delete` and `realm::export`: the realm to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmId {
    /// The realm id.
    pub id: String,
}

/// `realm::list`: no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRealms {}

/// What `realm::list` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealmList {
    /// Every realm, `default` included, sorted by id.
    pub realms: Vec<Realm>,
}

/// The changes of `PATCH /v1/realms/:id` (the id comes from the URL).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Settings merged into the current ones key by key; a `null` value removes the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
}

impl RealmPatch {
    /// The `realm::update` request applying this patch to realm `id`.
    pub fn for_realm(self, id: impl Into<String>) -> UpdateRealm {
        UpdateRealm { id: id.into(), name: self.name, description: self.description, settings: self.settings }
    }
}

/// `realm::update`: change a realm's name, description or settings. Fields left out stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRealm {
    /// The realm to change (ids never change).
    pub id: String,
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Settings merged into the current ones key by key; a `null` value removes the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
}

/// What `realm::delete` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The deleted realm.
    pub id: String,
    /// The realm's scopes that were emptied, relative to the realm (`<what>` of `realm:<id>:<what>`).
    pub scopes: Vec<String>,
    /// How many scoped values were deleted.
    pub items: usize,
}

/// What `realm::export` answers and `realm::import` takes: a realm and its scoped state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmExport {
    /// The realm record.
    pub realm: Realm,
    /// The values of each of its scopes, keyed by scope name relative to the realm.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<Value>>,
}

/// `realm::import`: an export document, restored under `id` (the document's own id when left
/// out). An existing realm is replaced, scoped state included, only with `overwrite: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRealm {
    /// The exported realm record.
    pub realm: Realm,
    /// The exported scopes.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<Value>>,
    /// The id to import as; `realm.id` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Replace an existing realm (its record and all its scoped state) instead of failing.
    #[serde(default)]
    pub overwrite: bool,
}

impl From<RealmExport> for ImportRealm {
    fn from(doc: RealmExport) -> Self {
        Self { realm: doc.realm, scopes: doc.scopes, id: None, overwrite: false }
    }
}

/// What `realm::import` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    /// The realm as stored.
    pub realm: Realm,
    /// How many scopes were written.
    pub scopes: usize,
    /// How many scoped values were written.
    pub items: usize,
    /// Whether an existing realm was replaced.
    pub replaced: bool,
}

/// The full state scope name for `what` in realm `id`: `realm:<id>:<what>`.
pub fn scope_name(id: &str, what: &str) -> String {
    format!("{}{what}", scope_prefix(id))
}

/// The prefix of every state scope of realm `id`: `realm:<id>:`. The trailing ':' keeps realm
/// `a` from claiming the scopes of realm `a-b`.
pub fn scope_prefix(id: &str) -> String {
    format!("realm:{id}:")
}

/// Checks that `id` is a slug: 1 to [`ID_MAX`] of `a-z`, `0-9`, `-`, not starting with `-`.
pub fn validate_id(id: &str) -> Result<(), RealmError> {
    let slug_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = id.len() <= ID_MAX && id.starts_with(slug_char) && id.chars().all(|c| slug_char(c) || c == '-');
    if ok { Ok(()) } else { Err(RealmError::InvalidId { id: id.to_string() }) }
}

/// Checks a name and returns it trimmed: 1 to [`NAME_MAX`] characters.
pub fn validate_name(name: &str) -> Result<String, RealmError> {
    let name = name.trim();
    let count = name.chars().count();
    if count == 0 {
        return Err(RealmError::InvalidName { problem: "is empty".to_string() });
    }
    if count > NAME_MAX {
        return Err(RealmError::InvalidName { problem: format!("has {count} characters") });
    }
    Ok(name.to_string())
}

/// The `default` realm's record, as created on first use.
pub fn default_realm(now_ms: u64) -> Realm {
    Realm {
        id: DEFAULT_REALM.to_string(),
        name: "Default".to_string(),
        description: "The realm of everything that names no other realm.".to_string(),
        created_ms: now_ms,
        updated_ms: now_ms,
        settings: Map::new(),
    }
}

/// `realm::create`: stores a new realm. `CONFLICT` when the id is taken (`default` always is).
pub async fn create<S: RealmStore>(store: &S, req: CreateRealm) -> Result<Realm, RealmError> {
    validate_id(&req.id)?;
    let name = validate_name(req.name.as_deref().unwrap_or(&req.id))?;
    if req.id == DEFAULT_REALM || store.get_realm(&req.id).await?.is_some() {
        return Err(RealmError::Exists { id: req.id, fix: "pick another id, or change it with realm::update" });
    }
    let now = store.now_ms();
    let realm = Realm {
        id: req.id,
        name,
        description: req.description,
        created_ms: now,
        updated_ms: now,
        settings: req.settings,
    };
    store.put_realm(&realm).await?;
    Ok(realm)
}

/// `realm::get`: one realm; `NOT_FOUND` when missing (`default` is created instead).
pub async fn get<S: RealmStore>(store: &S, req: RealmId) -> Result<Realm, RealmError> {
    load(store, &req.id).await
}

/// `realm::list`: every realm sorted by id, creating `default` when it is missing.
pub async fn list<S: RealmStore>(store: &S, _req: ListRealms) -> Result<RealmList, RealmError> {
    let mut realms = store.list_realms().await?;
    if !realms.iter().any(|r| r.id == DEFAULT_REALM) {
        let realm = default_realm(store.now_ms());
        store.put_realm(&realm).await?;
        realms.push(realm);
    }
    realms.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(RealmList { realms })
}

/// `realm::update`: applies the given fields; `updated_ms` moves only when something changed.
pub async fn update<S: RealmStore>(store: &S, req: UpdateRealm) -> Result<Realm, RealmError> {
    let mut realm = load(store, &req.id).await?;
    let before = realm.clone();
    if let Some(name) = req.name {
        realm.name = validate_name(&name)?;
    }
    if let Some(description) = req.description {
        realm.description = description;
    }
    for (key, value) in req.settings.unwrap_or_default() {
        if value.is_null() {
            realm.settings.remove(&key);
        } else {
            realm.settings.insert(key, value);
        }
    }
    if realm != before {
        realm.updated_ms = store.now_ms();
        store.put_realm(&realm).await?;
    }
    Ok(realm)
}

/// `realm::delete`: deletes the realm's scoped state, then its record. `FORBIDDEN` for
/// `default`, `NOT_FOUND` when missing, `BAD_STATE` (before any change) when a scoped value
/// cannot be addressed, or when values are still there after deleting.
pub async fn delete<S: RealmStore>(store: &S, req: RealmId) -> Result<Deleted, RealmError> {
    validate_id(&req.id)?;
    if req.id == DEFAULT_REALM {
        return Err(RealmError::DefaultIsPermanent);
    }
    if store.get_realm(&req.id).await?.is_none() {
        return Err(RealmError::NotFound { id: req.id });
    }
    let scoped = gather(store, &req.id).await?;
    let items = wipe(store, &req.id, &scoped).await?;
    store.delete_realm(&req.id).await?;
    Ok(Deleted { id: req.id, scopes: scoped.into_keys().collect(), items })
}

/// `realm::export`: the realm and the values of every `realm:<id>:*` scope.
pub async fn export<S: RealmStore>(store: &S, req: RealmId) -> Result<RealmExport, RealmError> {
    let realm = load(store, &req.id).await?;
    let scopes = gather(store, &realm.id)
        .await?
        .into_iter()
        .map(|(what, items)| (what, items.into_values().collect()))
        .collect();
    Ok(RealmExport { realm, scopes })
}

/// `realm::import`: restores an export under `req.id` (else the document's id). The whole
/// document is checked before anything is written. An existing realm (`default` always
/// exists) is `CONFLICT` unless `overwrite` is set, which first deletes its scoped state. The
/// record is written last and keeps the document's `created_ms`; `updated_ms` is now.
pub async fn import<S: RealmStore>(store: &S, req: ImportRealm) -> Result<Imported, RealmError> {
    let ImportRealm { realm: doc, scopes, id, overwrite } = req;
    let id = id.unwrap_or_else(|| doc.id.clone());
    validate_id(&id)?;
    let name = validate_name(&doc.name)?;
    let keyed = key_document(&scopes)?;

    let exists = id == DEFAULT_REALM || store.get_realm(&id).await?.is_some();
    if exists && !overwrite {
        return Err(RealmError::Exists {
            id,
            fix: "import with \"overwrite\": true to replace it, or give another \"id\"",
        });
    }
    if exists {
        let old = gather(store, &id).await?;
        wipe(store, &id, &old).await?;
    }
    let mut items = 0;
    for (what, values) in &keyed {
        let scope = scope_name(&id, what);
        for (key, value) in values {
            store.put_item(&scope, key, value).await?;
            items += 1;
        }
    }
    let realm = Realm { id, name, updated_ms: store.now_ms(), ..doc };
    store.put_realm(&realm).await?;
    Ok(Imported { realm, scopes: keyed.len(), items, replaced: exists })
}

/// Scoped values by relative scope name, then by key.
type Scoped = BTreeMap<String, BTreeMap<String, Value>>;

/// The stored record of `id`, creating `default` on first use; `NOT_FOUND` otherwise.
async fn load<S: RealmStore>(store: &S, id: &str) -> Result<Realm, RealmError> {
    validate_id(id)?;
    if let Some(realm) = store.get_realm(id).await? {
        return Ok(realm);
    }
    if id != DEFAULT_REALM {
        return Err(RealmError::NotFound { id: id.to_string() });
    }
    let realm = default_realm(store.now_ms());
    store.put_realm(&realm).await?;
    Ok(realm)
}

/// Every value of realm `id`'s scopes, keyed; `BAD_STATE` for a value without a key.
async fn gather<S: RealmStore>(store: &S, id: &str) -> Result<Scoped, RealmError> {
    let prefix = scope_prefix(id);
    let mut scoped = Scoped::new();
    for scope in store.scopes().await? {
        let Some(what) = scope.strip_prefix(&prefix) else { continue };
        let mut keyed = BTreeMap::new();
        for value in store.scope_items(&scope).await? {
            let Some(key) = item_key(&value) else {
                return Err(RealmError::BadState {
                    scope,
                    problem: format!("the value {} has no string \"id\"", preview(&value)),
                });
            };
            keyed.insert(key, value);
        }
        if !keyed.is_empty() {
            scoped.insert(what.to_string(), keyed);
        }
    }
    Ok(scoped)
}

/// Deletes every gathered value of realm `id` and returns how many; `BAD_STATE` when one was
/// not stored under its `id` (so deleting by that key removed nothing).
async fn wipe<S: RealmStore>(store: &S, id: &str, scoped: &Scoped) -> Result<usize, RealmError> {
    let mut items = 0;
    for (what, values) in scoped {
        let scope = scope_name(id, what);
        for key in values.keys() {
            if !store.delete_item(&scope, key).await? {
                return Err(RealmError::BadState {
                    scope,
                    problem: format!(
                        "the value with \"id\" {key:?} is stored under another key, so it could not be deleted"
                    ),
                });
            }
            items += 1;
        }
    }
    Ok(items)
}

/// Checks an import document's scopes and keys their values, before anything is written.
fn key_document(scopes: &BTreeMap<String, Vec<Value>>) -> Result<Scoped, RealmError> {
    let mut keyed = Scoped::new();
    for (what, values) in scopes {
        if what.is_empty() {
            return Err(RealmError::InvalidDocument {
                problem: "a scope name is empty; name each scope, for example \"memory\"".to_string(),
            });
        }
        let mut by_key = BTreeMap::new();
        for (index, value) in values.iter().enumerate() {
            let Some(key) = item_key(value) else {
                return Err(RealmError::InvalidDocument {
                    problem: format!(
                        "scopes.{what}[{index}] has no string \"id\"; every value must be an object with a non-empty \"id\""
                    ),
                });
            };
            if by_key.insert(key.clone(), value.clone()).is_some() {
                return Err(RealmError::InvalidDocument {
                    problem: format!("scopes.{what} lists \"id\" {key:?} twice; keep one"),
                });
            }
        }
        if !by_key.is_empty() {
            keyed.insert(what.clone(), by_key);
        }
    }
    Ok(keyed)
}

/// The key of a realm-scoped value: its non-empty string `id`.
fn item_key(value: &Value) -> Option<String> {
    /// The one field realm knows about a scoped value.
    #[derive(Deserialize)]
    struct Keyed {
        id: String,
    }
    Keyed::deserialize(value).ok().map(|k| k.id).filter(|id| !id.is_empty())
}

/// A value shortened for an error message.
fn preview(value: &Value) -> String {
    /// Enough characters to recognise a value, few enough for one log line.
    const MAX: usize = 80;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
