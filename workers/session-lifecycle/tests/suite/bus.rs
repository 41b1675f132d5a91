//! `session::*` on the bus: open and resume, state changes, live events, the realm-scoped
//! layout, and a worker restart.

use agentos_kit::harness::{TestStack, wait_until};
use agentos_kit::{WorkerError, call, state};
use agentos_worker_session_lifecycle::{
    CloseSession, ErrorInfo, GetSession, IndexEntry, ListSessions, OpenSession, Session, SessionList, SessionState,
    SetState,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, inbox, start_sessions};

fn open(id: Option<&str>, name: Option<&str>, realm: Option<&str>) -> OpenSession {
    OpenSession {
        id: id.map(str::to_string),
        name: name.map(str::to_string),
        realm: realm.map(str::to_string),
        hand: "coder".into(),
        agent: None,
        model: Some("small".into()),
    }
}

#[tokio::test]
async fn open_creates_a_session_and_opening_it_again_by_id_or_name_resumes_it() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let client = stack.client();

    let fresh: Session = call(&client, "session::open", &open(None, None, None), T).await.unwrap();
    assert_eq!(fresh.id.len(), 36, "a UUID: {}", fresh.id);
    assert_eq!((fresh.realm.as_str(), fresh.state, fresh.turns), ("default", SessionState::Active, 1));

    let named: Session =
        call(&client, "session::open", &open(Some("s:1"), Some("bugfix"), Some("team")), T).await.unwrap();
    let by_id: Session = call(&client, "session::open", &open(Some("s:1"), None, Some("team")), T).await.unwrap();
    let by_name: Session = call(&client, "session::open", &open(None, Some("bugfix"), Some("team")), T).await.unwrap();
    assert_eq!((by_id.id.as_str(), by_id.turns), ("s:1", 2));
    assert_eq!((by_name.id.as_str(), by_name.turns, by_name.name.as_deref()), ("s:1", 3, Some("bugfix")));
    assert_eq!(by_name.created_ms, named.created_ms);

    let got: Session =
        call(&client, "session::get", &GetSession { id: Some("s:1".into()), ..GetSession::default() }, T)
            .await
            .unwrap();
    assert_eq!(got, by_name);
    let err = call::<_, Session>(&client, "session::open", &open(Some("s:1"), None, None), T).await.unwrap_err();
    assert_eq!(err.code, "CONFLICT", "{}", err.message);
    assert!(err.message.contains("belongs to realm \"team\""), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn sessions_live_in_their_realm_scope_keyed_by_id_with_an_index_by_id() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let client = stack.client();
    let session: Session = call(&client, "session::open", &open(Some("s1"), None, Some("team")), T).await.unwrap();

    let stored: Vec<Value> = state::list(&client, "realm:team:sessions").await.unwrap();
    assert_eq!(stored, vec![serde_json::to_value(&session).unwrap()]);
    assert_eq!(stored[0]["id"], "s1", "realm export needs the key in `id`");
    let index: Option<IndexEntry> = state::get(&client, "sessions:index", "s1").await.unwrap();
    assert_eq!(index, Some(IndexEntry { id: "s1".into(), realm: "team".into() }));
    stack.stop().await;
}

#[tokio::test]
async fn state_changes_are_stored_and_each_is_published_to_live_inboxes() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let inbox = inbox(&stack).await;
    let client = stack.client();

    let _: Session = call(&client, "session::open", &open(Some("s1"), None, None), T).await.unwrap();
    let set = |state: SessionState, error: Option<ErrorInfo>| SetState { id: "s1".into(), state, error, realm: None };
    let waiting: Session =
        call(&client, "session::set_state", &set(SessionState::WaitingApproval, None), T).await.unwrap();
    assert_eq!(waiting.state, SessionState::WaitingApproval);
    let error = ErrorInfo { code: "PROVIDER_ERROR".into(), message: "the provider answered 502".into() };
    let failed: Session =
        call(&client, "session::set_state", &set(SessionState::Failed, Some(error.clone())), T).await.unwrap();
    assert_eq!((failed.state, failed.last_error), (SessionState::Failed, Some(error)));
    let closed: Session =
        call(&client, "session::close", &CloseSession { id: "s1".into(), realm: None }, T).await.unwrap();
    assert_eq!(closed.state, SessionState::Done);
    let reopened: Session = call(&client, "session::open", &open(Some("s1"), None, None), T).await.unwrap();
    assert_eq!((reopened.state, reopened.turns), (SessionState::Active, 2));

    let expected = [
        ("session_started", "active"),
        ("session_state", "waiting_approval"),
        ("session_state", "failed"),
        ("session_state", "done"),
        ("session_state", "active"),
    ];
    let probe = inbox.clone();
    wait_until("the inbox to see five changes", move || {
        let n = probe.seen().len();
        async move { n >= 5 }
    })
    .await;
    // The engine delivers each publish on its own task, so arrival order is not promised:
    // compare what arrived, sorted.
    let mut seen: Vec<(String, String)> = inbox.seen().into_iter().map(|(e, _, s)| (e, s)).collect();
    seen.sort();
    let mut want: Vec<(String, String)> = expected.iter().map(|(e, s)| (e.to_string(), s.to_string())).collect();
    want.sort();
    assert_eq!(seen, want);

    let bad = call::<_, Session>(&client, "session::set_state", &json!({"id": "s1", "state": "paused"}), T).await;
    assert_eq!(bad.unwrap_err().code, "INVALID_INPUT");
    let missing = call::<_, Session>(&client, "session::close", &json!({"id": "nope"}), T).await.unwrap_err();
    assert_eq!(missing.code, "NOT_FOUND");
    assert!(missing.message.contains("agentos sessions"), "{}", missing.message);
    stack.stop().await;
}

#[tokio::test]
async fn list_filters_by_realm_and_state_newest_first() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let client = stack.client();
    for (id, realm) in [("a", "default"), ("b", "team"), ("c", "default")] {
        let _: Session = call(&client, "session::open", &open(Some(id), None, Some(realm)), T).await.unwrap();
        // Distinct milliseconds, so "newest first" has one answer.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let _: Session = call(&client, "session::close", &CloseSession { id: "c".into(), realm: None }, T).await.unwrap();
    let ids = |l: SessionList| l.sessions.into_iter().map(|s| s.id).collect::<Vec<_>>();

    let all: SessionList = call(&client, "session::list", &ListSessions::default(), T).await.unwrap();
    assert_eq!(ids(all), vec!["c", "b", "a"]);
    let team = ListSessions { realm: Some("team".into()), ..ListSessions::default() };
    assert_eq!(ids(call(&client, "session::list", &team, T).await.unwrap()), vec!["b"]);
    let active = ListSessions { state: Some(SessionState::Active), limit: Some(1), ..ListSessions::default() };
    let page: SessionList = call(&client, "session::list", &active, T).await.unwrap();
    assert_eq!((page.total, ids(page)), (2, vec!["b".to_string()]));
    stack.stop().await;
}

#[tokio::test]
async fn a_restarted_worker_finds_every_session_because_state_lives_in_the_engine() {
    let stack = TestStack::start().await;
    let first = start_sessions(&stack).await;
    let client = stack.client();
    let before: Session =
        call(&client, "session::open", &open(Some("s1"), Some("keep"), Some("team")), T).await.unwrap();

    tokio::task::spawn_blocking(move || first.shutdown()).await.unwrap();
    let engine = stack.engine().clone();
    wait_until("the engine to drop the stopped worker's functions", move || {
        let gone = !engine.has_function("session::get");
        async move { gone }
    })
    .await;

    start_sessions(&stack).await;
    let by_name = GetSession { name: Some("keep".into()), realm: Some("team".into()), id: None };
    let after: Session = call(&client, "session::get", &by_name, T).await.unwrap();
    assert_eq!(after, before);
    let resumed: Session = call(&client, "session::open", &open(Some("s1"), None, Some("team")), T).await.unwrap();
    assert_eq!(resumed.turns, 2);
    let bad: Result<Session, WorkerError> = call(&client, "session::get", &json!({}), T).await;
    assert_eq!(bad.unwrap_err().code, "INVALID_INPUT");
    stack.stop().await;
}
