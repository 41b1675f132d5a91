//! The thin glue between the session domain and the engine: the manifest, the bindings of
//! `session::*` ids and `/v1/sessions` routes to [`Sessions`], and [`StateStore`], the
//! [`SessionStore`] over the engine's `state::*` and `publish`.
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one domain method and encodes.
//! - Routes are separate functions (`session::http_list`, ...) because a route's function
//!   receives the HTTP request envelope; both call the same domain method. A route's `:id` is
//!   percent-decoded and may be an id or a name (`?realm=` says the name's realm).
//! - The worker keeps nothing in memory but the write lock: a restarted worker answers from
//!   the engine's state.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::state::{self, STATE_TIMEOUT};
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, call, clock};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    CloseSession, EVENTS_TOPIC, FailRunning, GetSession, INDEX_SCOPE, IndexEntry, ListSessions, OpenSession,
    RenameSession, Session, SessionError, SessionEvent, SessionState, SessionStore, Sessions, SetState, percent_decode,
    realm_of_scope, scope,
};

/// The session-lifecycle worker's manifest, derived from [`worker`];
/// `workers/session-lifecycle/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// How long a `publish` may take: the engine fans out in process and answers at once, so 2 s
/// only trips when it is wedged, and a turn never waits longer than that for a live inbox.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// The worker's service: the session domain over the engine's state.
type Service = Arc<Sessions<StateStore>>;

/// The session-lifecycle worker: every `session::*` function and `/v1/sessions` route over
/// [`Sessions`].
pub fn worker() -> Worker<Service, SessionError> {
    Worker::new(
        "session-lifecycle",
        "Sessions, one conversation each, scoped to a realm: open (a turn starts), get, list, rename, set state and close them; changes are published on agentos.events.",
    )
    .function(
        "session::open",
        "A turn starts: resumes a session by {id} or {name} in {realm?} (default), else creates it; sets active, counts the turn: {id?, name?, realm?, hand, agent?, model?} -> Session.",
        |s: Service, req: OpenSession| async move { s.open(req).await },
    )
    .function(
        "session::set_state",
        "Sets a session's state (active, waiting_approval, done, failed) and, with error, its last_error: {id, state, error?: {code, message}, realm?} -> Session.",
        |s: Service, req: SetState| async move { s.set_state(req).await },
    )
    .function(
        "session::fail_running",
        "Marks failed every session left active or waiting_approval before before_ms (its turn is gone): {before_ms, error: {code, message}} -> {sessions}.",
        |s: Service, req: FailRunning| async move { s.fail_running(req).await },
    )
    .function(
        "session::get",
        "One session: {id} (any realm, or realm?) or {name, realm?} -> Session.",
        |s: Service, req: GetSession| async move { s.get(req).await },
    )
    .function(
        "session::list",
        "Sessions by latest activity: {realm?, state?, limit?} -> {sessions, total}.",
        |s: Service, req: ListSessions| async move { s.list(req).await },
    )
    .function(
        "session::rename",
        "Names a session (names are unique per realm): {id, name, realm?} -> Session.",
        |s: Service, req: RenameSession| async move { s.rename(req).await },
    )
    .function(
        "session::close",
        "Marks a session done (open resumes it): {id, realm?} -> Session.",
        |s: Service, req: CloseSession| async move { s.close(req).await },
    )
    // GET /v1/sessions?realm=&state=&limit=: sessions, newest first.
    .route("session::http_list", "GET", "/v1/sessions", |s, req| async move {
        Ok(HttpResponse::ok(s.list(list_query(&req)?).await?))
    })
    // GET /v1/sessions/:id?realm=: one session by id or name.
    .route("session::http_get", "GET", "/v1/sessions/:id", |s, req| async move {
        Ok(HttpResponse::ok(target(&s, &req).await?))
    })
    // PATCH /v1/sessions/:id {name}: rename it.
    .route("session::http_rename", "PATCH", "/v1/sessions/:id", |s, req| async move {
        let patch = req.body_as::<RenameBody>()?;
        let session = target(&s, &req).await?;
        Ok(HttpResponse::ok(
            s.rename(RenameSession { id: session.id, name: patch.name, realm: Some(session.realm) }).await?,
        ))
    })
    // POST /v1/sessions/:id/close: it is done.
    .route("session::http_close", "POST", "/v1/sessions/:id/close", |s, req| async move {
        let session = target(&s, &req).await?;
        Ok(HttpResponse::ok(s.close(CloseSession { id: session.id, realm: Some(session.realm) }).await?))
    })
}

/// Runs the session-lifecycle worker as its own process until SIGTERM or SIGINT
/// (`agentos worker session-lifecycle`).
pub fn run() -> Result<(), WorkerError> {
    worker().run(|iii| Ok(Arc::new(Sessions::new(StateStore::new(iii.clone())))))
}

/// Registers every `session::*` function and `/v1/sessions` route on `iii`; routes check
/// `Authorization: Bearer <api_key>` (with `None` they refuse every request).
pub fn register(iii: &III, api_key: Option<Arc<str>>) {
    worker().register(iii, Arc::new(Sessions::new(StateStore::new(iii.clone()))), api_key);
}

/// The body of `PATCH /v1/sessions/:id`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    /// The new name.
    name: String,
}

/// The session a `/v1/sessions/:id…` route names: by id, else by name in `?realm=`.
async fn target(sessions: &Sessions<StateStore>, req: &HttpRequest) -> Result<Session, SessionError> {
    let key = percent_decode(req.path_param("id")?);
    sessions.resolve(&key, req.query("realm")).await
}

/// The `session::list` request of `GET /v1/sessions?realm=&state=&limit=`.
fn list_query(req: &HttpRequest) -> Result<ListSessions, SessionError> {
    let state = req.query("state").map(SessionState::parse).transpose()?;
    let limit = match req.query("limit") {
        None => None,
        Some(text) => Some(text.parse::<usize>().map_err(|_| {
            WorkerError::invalid_input(format!(
                "limit {text:?} is not a number: ask for 1 to {} sessions, for example ?limit=20",
                crate::LIST_MAX
            ))
        })?),
    };
    Ok(ListSessions { realm: req.query("realm").map(str::to_string), state, limit })
}

/// The answer of `state::list_groups`.
#[derive(Debug, Deserialize)]
struct Groups {
    /// Every scope name, sorted.
    groups: Vec<String>,
}

pub use agentos_kit::state::StateStore;

/// [`SessionStore`] over the engine: sessions in `realm:<realm>:sessions`, the index in
/// [`INDEX_SCOPE`], events through `publish`, the wall clock from the kit.
impl SessionStore for StateStore {
    fn now_ms(&self) -> u64 {
        clock::now_ms()
    }

    fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    async fn get(&self, realm: &str, id: &str) -> Result<Option<Session>, WorkerError> {
        state::get(self.iii(), &scope(realm), id).await
    }

    async fn put(&self, session: &Session) -> Result<(), WorkerError> {
        state::set(self.iii(), &scope(&session.realm), &session.id, session).await
    }

    async fn list(&self, realm: &str) -> Result<Vec<Session>, WorkerError> {
        state::list(self.iii(), &scope(realm)).await
    }

    async fn realms(&self) -> Result<Vec<String>, WorkerError> {
        // The kit has no helper for `state::list_groups`; this is the same typed call.
        let answer: Groups = call(self.iii(), "state::list_groups", &json!({}), STATE_TIMEOUT).await?;
        Ok(answer.groups.iter().filter_map(|g| realm_of_scope(g)).map(str::to_string).collect())
    }

    async fn index_get(&self, id: &str) -> Result<Option<IndexEntry>, WorkerError> {
        state::get(self.iii(), INDEX_SCOPE, id).await
    }

    async fn index_put(&self, entry: &IndexEntry) -> Result<(), WorkerError> {
        state::set(self.iii(), INDEX_SCOPE, &entry.id, entry).await
    }

    async fn index_delete(&self, id: &str) -> Result<(), WorkerError> {
        state::delete(self.iii(), INDEX_SCOPE, id).await.map(drop)
    }

    async fn publish(&self, event: &SessionEvent) {
        let input = json!({"topic": EVENTS_TOPIC, "data": event});
        if let Err(e) = call::<_, Value>(self.iii(), "publish", &input, PUBLISH_TIMEOUT).await {
            tracing::warn!(
                worker = MANIFEST.name,
                event = %event.event,
                session = %event.data.id,
                code = %e.code,
                message = %e.message,
                "could not publish a session change; live inboxes miss it until they reload"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ErrorCode;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function_and_the_manifest_is_valid() {
        for verb in ["open", "set_state", "get", "list", "rename", "close"] {
            let id = format!("session::{verb}");
            assert!(MANIFEST.functions.contains(&id.as_str()), "{id} is missing");
        }
        assert_eq!(MANIFEST.validate(), Ok(()));
    }

    #[test]
    fn the_list_query_reads_realm_state_and_limit_and_names_the_fix_for_bad_values() {
        let mut req = HttpRequest::default();
        req.query_params.insert("realm".into(), "team".into());
        req.query_params.insert("state".into(), "waiting_approval".into());
        req.query_params.insert("limit".into(), "5".into());
        assert_eq!(
            list_query(&req).unwrap(),
            ListSessions { realm: Some("team".into()), state: Some(SessionState::WaitingApproval), limit: Some(5) }
        );
        req.query_params.insert("limit".into(), "many".into());
        let err = list_query(&req).unwrap_err().to_worker_error();
        assert_eq!(err.code, "INVALID_INPUT");
        assert!(err.message.contains("?limit=20"), "{}", err.message);
        req.query_params.insert("state".into(), "paused".into());
        assert_eq!(list_query(&req).unwrap_err(), SessionError::InvalidState { given: "paused".into() });
    }
}
