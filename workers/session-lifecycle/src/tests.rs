//! The session verbs against an in-memory store: each rule of the crate docs, one test.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

use super::*;

/// Sessions by realm then id, the index, what was published; a clock that ticks 1 ms per read.
#[derive(Default)]
struct Fake {
    sessions: Mutex<BTreeMap<String, BTreeMap<String, Session>>>,
    index: Mutex<BTreeMap<String, IndexEntry>>,
    published: Mutex<Vec<SessionEvent>>,
    clock: AtomicU64,
    ids: AtomicU64,
}

impl Fake {
    fn events(&self) -> Vec<(String, String)> {
        self.published.lock().unwrap().iter().map(|e| (e.event.clone(), e.data.id.clone())).collect()
    }

    fn index(&self) -> BTreeMap<String, IndexEntry> {
        self.index.lock().unwrap().clone()
    }

    /// Puts a record straight into a realm's scope, as a realm import would.
    fn plant(&self, realm: &str, session: Session) {
        self.sessions.lock().unwrap().entry(realm.to_string()).or_default().insert(session.id.clone(), session);
    }

    /// Empties a realm's scope, as a realm delete would.
    fn wipe(&self, realm: &str) {
        self.sessions.lock().unwrap().remove(realm);
    }
}

impl SessionStore for Fake {
    fn now_ms(&self) -> u64 {
        1_000 + self.clock.fetch_add(1, Ordering::SeqCst)
    }

    fn new_id(&self) -> String {
        format!("new-{}", self.ids.fetch_add(1, Ordering::SeqCst) + 1)
    }

    async fn get(&self, realm: &str, id: &str) -> Result<Option<Session>, WorkerError> {
        Ok(self.sessions.lock().unwrap().get(realm).and_then(|r| r.get(id)).cloned())
    }

    async fn put(&self, session: &Session) -> Result<(), WorkerError> {
        self.plant(&session.realm.clone(), session.clone());
        Ok(())
    }

    async fn list(&self, realm: &str) -> Result<Vec<Session>, WorkerError> {
        Ok(self.sessions.lock().unwrap().get(realm).map(|r| r.values().cloned().collect()).unwrap_or_default())
    }

    async fn realms(&self) -> Result<Vec<String>, WorkerError> {
        Ok(self.sessions.lock().unwrap().keys().cloned().collect())
    }

    async fn index_get(&self, id: &str) -> Result<Option<IndexEntry>, WorkerError> {
        Ok(self.index.lock().unwrap().get(id).cloned())
    }

    async fn index_put(&self, entry: &IndexEntry) -> Result<(), WorkerError> {
        self.index.lock().unwrap().insert(entry.id.clone(), entry.clone());
        Ok(())
    }

    async fn index_delete(&self, id: &str) -> Result<(), WorkerError> {
        self.index.lock().unwrap().remove(id);
        Ok(())
    }

    async fn publish(&self, event: &SessionEvent) {
        self.published.lock().unwrap().push(event.clone());
    }
}

fn open_req(id: Option<&str>, name: Option<&str>, realm: Option<&str>) -> OpenSession {
    OpenSession {
        id: id.map(str::to_string),
        name: name.map(str::to_string),
        realm: realm.map(str::to_string),
        hand: "coder".into(),
        agent: None,
        model: None,
    }
}

#[tokio::test]
async fn open_creates_an_active_session_with_one_turn_and_indexes_it() {
    let s = Sessions::new(Fake::default());
    let session = s.open(OpenSession { model: Some("m1".into()), ..open_req(Some("s1"), None, None) }).await.unwrap();
    assert_eq!(
        session,
        Session {
            id: "s1".into(),
            name: None,
            realm: "default".into(),
            hand: "coder".into(),
            agent: None,
            model: Some("m1".into()),
            state: SessionState::Active,
            turns: 1,
            created_ms: 1_000,
            updated_ms: 1_000,
            last_error: None,
        }
    );
    assert_eq!(
        s.store().index(),
        BTreeMap::from([("s1".into(), IndexEntry { id: "s1".into(), realm: "default".into() })])
    );
    assert_eq!(s.store().events(), vec![("session_started".into(), "s1".into())]);
}

#[tokio::test]
async fn open_without_an_id_or_a_known_name_makes_a_new_id() {
    let s = Sessions::new(Fake::default());
    assert_eq!(s.open(open_req(None, None, None)).await.unwrap().id, "new-1");
    let named = s.open(open_req(None, Some("  bugfix "), Some("team"))).await.unwrap();
    assert_eq!((named.id.as_str(), named.name.as_deref(), named.realm.as_str()), ("new-2", Some("bugfix"), "team"));
}

#[tokio::test]
async fn open_again_is_the_next_turn_of_the_same_session_by_id_or_by_name() {
    let s = Sessions::new(Fake::default());
    let first = s.open(open_req(Some("s1"), Some("work"), None)).await.unwrap();
    s.close(CloseSession { id: "s1".into(), realm: None }).await.unwrap();
    let by_id = s
        .open(OpenSession { hand: "reviewer".into(), agent: Some("a1".into()), ..open_req(Some("s1"), None, None) })
        .await
        .unwrap();
    assert_eq!(
        (by_id.turns, by_id.state, by_id.hand.as_str(), by_id.agent.as_deref(), by_id.name.as_deref()),
        (2, SessionState::Active, "reviewer", Some("a1"), Some("work"))
    );
    let by_name = s.open(open_req(None, Some("work"), None)).await.unwrap();
    assert_eq!((by_name.id.as_str(), by_name.turns, by_name.agent.as_deref()), ("s1", 3, Some("a1")));
    assert_eq!(by_name.created_ms, first.created_ms);
    assert!(by_name.updated_ms > first.updated_ms);
    assert_eq!(
        s.store().events(),
        vec![
            ("session_started".into(), "s1".into()),
            ("session_state".into(), "s1".into()),
            ("session_state".into(), "s1".into()),
            ("session_state".into(), "s1".into()),
        ]
    );
}

#[tokio::test]
async fn an_id_is_unique_across_realms_and_a_name_within_its_realm() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("s1"), Some("work"), Some("team"))).await.unwrap();
    assert_eq!(
        s.open(open_req(Some("s1"), None, None)).await.unwrap_err(),
        SessionError::IdInOtherRealm { id: "s1".into(), realm: "team".into() }
    );
    assert_eq!(
        s.open(open_req(Some("s2"), Some("work"), Some("team"))).await.unwrap_err(),
        SessionError::NameTaken { name: "work".into(), realm: "team".into(), holder: "s1".into() }
    );
    // The same name in another realm is another session.
    let other = s.open(open_req(None, Some("work"), None)).await.unwrap();
    assert_eq!((other.id.as_str(), other.realm.as_str()), ("new-1", "default"));
}

#[tokio::test]
async fn set_state_records_the_error_and_an_unchanged_state_writes_nothing() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("s1"), None, None)).await.unwrap();
    let waiting = s
        .set_state(SetState { id: "s1".into(), state: SessionState::WaitingApproval, error: None, realm: None })
        .await
        .unwrap();
    assert_eq!(waiting.state, SessionState::WaitingApproval);
    let again = s
        .set_state(SetState { id: "s1".into(), state: SessionState::WaitingApproval, error: None, realm: None })
        .await
        .unwrap();
    assert_eq!(again, waiting);
    let error = ErrorInfo { code: "PROVIDER_ERROR".into(), message: "502 from the provider".into() };
    let failed = s
        .set_state(SetState {
            id: "s1".into(),
            state: SessionState::Failed,
            error: Some(error.clone()),
            realm: Some("default".into()),
        })
        .await
        .unwrap();
    assert_eq!((failed.state, failed.last_error), (SessionState::Failed, Some(error.clone())));
    let reopened = s.open(open_req(Some("s1"), None, None)).await.unwrap();
    assert_eq!(reopened.last_error, Some(error), "the last error stays until another replaces it");
    assert_eq!(s.store().events().len(), 4, "started, waiting, failed, reopened");
}

#[tokio::test]
async fn get_finds_by_id_anywhere_or_in_one_realm_and_by_name_in_a_realm() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("s1"), Some("work"), Some("team"))).await.unwrap();
    let by_id = s.get(GetSession { id: Some("s1".into()), ..GetSession::default() }).await.unwrap();
    assert_eq!(by_id.realm, "team");
    let err = s
        .get(GetSession { id: Some("s1".into()), realm: Some("default".into()), ..GetSession::default() })
        .await
        .unwrap_err();
    assert_eq!(err, SessionError::NotFound { what: "with id \"s1\"".into(), realm: Some("default".into()) });
    let by_name = s.get(GetSession { name: Some("work".into()), realm: Some("team".into()), id: None }).await.unwrap();
    assert_eq!(by_name, by_id);
    let err = s.get(GetSession { name: Some("work".into()), ..GetSession::default() }).await.unwrap_err();
    assert_eq!(err, SessionError::NotFound { what: "named \"work\"".into(), realm: Some("default".into()) });
    assert_eq!(s.get(GetSession::default()).await.unwrap_err(), SessionError::NoKey);
}

#[tokio::test]
async fn resolve_prefers_the_id_and_falls_back_to_the_name() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("work"), None, None)).await.unwrap();
    s.open(open_req(Some("s2"), Some("work"), None)).await.unwrap();
    s.open(open_req(Some("s3"), Some("has space"), None)).await.unwrap();
    assert_eq!(s.resolve("work", None).await.unwrap().id, "work");
    assert_eq!(s.resolve("has space", None).await.unwrap().id, "s3");
    assert_eq!(
        s.resolve("nothing", Some("default")).await.unwrap_err(),
        SessionError::NotFound { what: "with id or name \"nothing\"".into(), realm: Some("default".into()) }
    );
}

#[tokio::test]
async fn a_stale_index_entry_is_dropped_and_a_missing_one_is_repaired_by_a_scan() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("s1"), None, Some("team"))).await.unwrap();
    s.store().wipe("team");
    let err = s.get(GetSession { id: Some("s1".into()), ..GetSession::default() }).await.unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    assert_eq!(s.store().index(), BTreeMap::new(), "the stale entry went");

    // A realm imported under another id: the record still says the old realm.
    let imported = Session {
        id: "s9".into(),
        name: None,
        realm: "old".into(),
        hand: "coder".into(),
        agent: None,
        model: None,
        state: SessionState::Done,
        turns: 4,
        created_ms: 1,
        updated_ms: 2,
        last_error: None,
    };
    s.store().plant("copy", imported.clone());
    let found = s.get(GetSession { id: Some("s9".into()), ..GetSession::default() }).await.unwrap();
    assert_eq!(found, Session { realm: "copy".into(), ..imported });
    assert_eq!(s.store().index()["s9"], IndexEntry { id: "s9".into(), realm: "copy".into() });
}

#[tokio::test]
async fn list_filters_by_realm_and_state_and_puts_the_newest_activity_first() {
    let s = Sessions::new(Fake::default());
    for (id, realm) in [("a", "default"), ("b", "team"), ("c", "default"), ("d", "default")] {
        s.open(open_req(Some(id), None, Some(realm))).await.unwrap();
    }
    s.close(CloseSession { id: "c".into(), realm: None }).await.unwrap();
    s.open(open_req(Some("a"), None, None)).await.unwrap();
    let ids = |l: SessionList| l.sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list(ListSessions::default()).await.unwrap()), vec!["a", "c", "d", "b"]);
    let only_default = ListSessions { realm: Some("default".into()), ..ListSessions::default() };
    assert_eq!(ids(s.list(only_default).await.unwrap()), vec!["a", "c", "d"]);
    let active = ListSessions { state: Some(SessionState::Active), limit: Some(2), ..ListSessions::default() };
    let page = s.list(active).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(ids(page), vec!["a", "d"]);
    for bad in [0, LIST_MAX + 1] {
        let req = ListSessions { limit: Some(bad), ..ListSessions::default() };
        assert_eq!(s.list(req).await.unwrap_err(), SessionError::InvalidLimit { given: bad });
    }
}

#[tokio::test]
async fn rename_checks_the_name_is_free_in_the_realm_and_publishes() {
    let s = Sessions::new(Fake::default());
    s.open(open_req(Some("s1"), Some("one"), None)).await.unwrap();
    s.open(open_req(Some("s2"), None, None)).await.unwrap();
    let err = s.rename(RenameSession { id: "s2".into(), name: "one".into(), realm: None }).await.unwrap_err();
    assert_eq!(err, SessionError::NameTaken { name: "one".into(), realm: "default".into(), holder: "s1".into() });
    let renamed = s.rename(RenameSession { id: "s2".into(), name: " two ".into(), realm: None }).await.unwrap();
    assert_eq!(renamed.name.as_deref(), Some("two"));
    let same = s.rename(RenameSession { id: "s1".into(), name: "one".into(), realm: None }).await.unwrap();
    assert_eq!(same.name.as_deref(), Some("one"));
    assert_eq!(s.store().events().last(), Some(&("session_renamed".to_string(), "s2".to_string())));
    assert_eq!(s.store().events().len(), 3, "renaming to the same name publishes nothing");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_written() {
    let s = Sessions::new(Fake::default());
    let cases = [
        (open_req(Some("has space"), None, None), "INVALID_INPUT"),
        (open_req(Some(&"x".repeat(ID_MAX + 1)), None, None), "INVALID_INPUT"),
        (open_req(None, None, Some("Team")), "INVALID_INPUT"),
        (open_req(None, Some(""), None), "INVALID_INPUT"),
        (open_req(None, Some("a\u{7}b"), None), "INVALID_INPUT"),
        (OpenSession { hand: " ".into(), ..open_req(None, None, None) }, "INVALID_INPUT"),
    ];
    for (req, code) in cases {
        assert_eq!(s.open(req.clone()).await.unwrap_err().code(), code, "{req:?}");
    }
    assert_eq!(s.store().realms().await.unwrap(), Vec::<String>::new());
    let err = s.close(CloseSession { id: "nope".into(), realm: None }).await.unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

#[test]
fn ids_names_realms_and_states_follow_their_rules() {
    assert!(check_id("a.b_c:d-9").is_ok());
    assert!(check_id("").is_err());
    assert!(check_id("é").is_err());
    assert_eq!(check_name("  x  ").unwrap(), "x");
    assert!(check_name(&"n".repeat(NAME_MAX)).is_ok());
    assert!(check_name(&"n".repeat(NAME_MAX + 1)).is_err());
    assert!(check_realm("team-1").is_ok());
    assert!(check_realm("-x").is_err());
    assert!(check_realm("a:b").is_err());
    for state in SessionState::ALL {
        assert_eq!(SessionState::parse(state.as_str()), Ok(state));
        assert_eq!(serde_json::to_value(state).unwrap(), serde_json::Value::String(state.as_str().into()));
    }
}

#[test]
fn a_sessions_scope_names_its_realm() {
    assert_eq!(scope("team"), "realm:team:sessions");
    assert_eq!(realm_of_scope("realm:team:sessions"), Some("team"));
    assert_eq!(realm_of_scope("realm:team:history"), None);
    assert_eq!(realm_of_scope("realm::sessions"), None);
    assert_eq!(realm_of_scope("sessions:index"), None);
}

#[test]
fn path_segments_are_percent_decoded_and_broken_escapes_kept() {
    assert_eq!(percent_decode("s%3A1"), "s:1");
    assert_eq!(percent_decode("my%20session"), "my session");
    assert_eq!(percent_decode("caf%C3%A9"), "café");
    assert_eq!(percent_decode("100%"), "100%");
    assert_eq!(percent_decode("%zz%4"), "%zz%4");
}

#[test]
fn a_record_without_a_state_reads_as_done_and_unknown_fields_are_ignored() {
    let old = serde_json::json!({
        "id": "s1", "realm": "default", "hand": "coder", "messages": [{"role": "user", "content": "hi"}],
        "created_ms": 1, "updated_ms": 2
    });
    let session: Session = serde_json::from_value(old).unwrap();
    assert_eq!((session.state, session.turns, session.name.clone()), (SessionState::Done, 0, None));
    let written = serde_json::to_value(&session).unwrap();
    assert_eq!(
        written,
        serde_json::json!({"id": "s1", "realm": "default", "hand": "coder", "state": "done", "turns": 0, "created_ms": 1, "updated_ms": 2})
    );
}

#[tokio::test]
async fn fail_running_fails_only_the_sessions_left_running_before_the_restart() {
    let s = Sessions::new(Fake::default());
    // Clock: each read ticks 1 ms from 1 000.
    s.open(open_req(Some("waiting"), None, None)).await.unwrap();
    s.set_state(SetState { id: "waiting".into(), state: SessionState::WaitingApproval, error: None, realm: None })
        .await
        .unwrap();
    s.open(open_req(Some("running"), None, Some("team"))).await.unwrap();
    s.open(open_req(Some("finished"), None, None)).await.unwrap();
    s.close(CloseSession { id: "finished".into(), realm: None }).await.unwrap();
    let restart_ms = s.store().now_ms() + 1;
    s.open(open_req(Some("after"), None, None)).await.unwrap();
    let error = ErrorInfo { code: "TURN_INTERRUPTED".into(), message: "agent-core restarted".into() };
    let failed = s.fail_running(FailRunning { before_ms: restart_ms, error: error.clone() }).await.unwrap();
    let mut ids: Vec<(&str, &str)> = failed.sessions.iter().map(|s| (s.id.as_str(), s.realm.as_str())).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![("running", "team"), ("waiting", "default")]);
    for id in ["running", "waiting"] {
        let stored = s.get(GetSession { id: Some(id.into()), ..GetSession::default() }).await.unwrap();
        assert_eq!((stored.state, stored.last_error), (SessionState::Failed, Some(error.clone())), "{id}");
    }
    let after = s.get(GetSession { id: Some("after".into()), ..GetSession::default() }).await.unwrap();
    assert_eq!(after.state, SessionState::Active, "a turn started since the restart is alive");
    let finished = s.get(GetSession { id: Some("finished".into()), ..GetSession::default() }).await.unwrap();
    assert_eq!(finished.state, SessionState::Done);
    let again = s.fail_running(FailRunning { before_ms: restart_ms, error }).await.unwrap();
    assert_eq!(again.sessions, vec![], "a second sweep finds nothing");
}
