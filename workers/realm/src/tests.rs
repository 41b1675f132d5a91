//! Unit tests of the domain functions, run synchronously against an in-memory [`RealmStore`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

/// A [`RealmStore`] in memory: scope → key → value, like the engine's state, with a clock
/// the test sets.
#[derive(Default)]
struct Fake {
    now: AtomicU64,
    state: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
}

impl Fake {
    fn at(now: u64) -> Self {
        let fake = Self::default();
        fake.now.store(now, Ordering::SeqCst);
        fake
    }

    fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    fn seed(&self, scope: &str, key: &str, value: Value) {
        self.lock().entry(scope.to_string()).or_default().insert(key.to_string(), value);
    }

    fn scope(&self, scope: &str) -> BTreeMap<String, Value> {
        self.lock().get(scope).cloned().unwrap_or_default()
    }

    fn snapshot(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<String, Value>>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RealmStore for Fake {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn get_realm(&self, id: &str) -> Result<Option<Realm>, WorkerError> {
        Ok(self.scope(REALMS_SCOPE).get(id).map(|v| serde_json::from_value(v.clone()).unwrap()))
    }

    async fn put_realm(&self, realm: &Realm) -> Result<(), WorkerError> {
        self.seed(REALMS_SCOPE, &realm.id, serde_json::to_value(realm).unwrap());
        Ok(())
    }

    async fn delete_realm(&self, id: &str) -> Result<bool, WorkerError> {
        self.delete_item(REALMS_SCOPE, id).await
    }

    async fn list_realms(&self) -> Result<Vec<Realm>, WorkerError> {
        Ok(self.scope(REALMS_SCOPE).into_values().map(|v| serde_json::from_value(v).unwrap()).collect())
    }

    async fn scopes(&self) -> Result<Vec<String>, WorkerError> {
        Ok(self.lock().keys().cloned().collect())
    }

    async fn scope_items(&self, scope: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(self.scope(scope).into_values().collect())
    }

    async fn put_item(&self, scope: &str, key: &str, item: &Value) -> Result<(), WorkerError> {
        self.seed(scope, key, item.clone());
        Ok(())
    }

    async fn delete_item(&self, scope: &str, key: &str) -> Result<bool, WorkerError> {
        let mut state = self.lock();
        let Some(values) = state.get_mut(scope) else { return Ok(false) };
        let existed = values.remove(key).is_some();
        // Like the engine: a scope without values is no longer listed.
        if values.is_empty() {
            state.remove(scope);
        }
        Ok(existed)
    }
}

/// Runs a domain future to completion at once: the fake never waits.
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the in-memory store never waits"),
    }
}

fn new(id: &str) -> CreateRealm {
    CreateRealm { id: id.into(), name: None, description: String::new(), settings: Map::new() }
}

fn id(id: &str) -> RealmId {
    RealmId { id: id.into() }
}

fn realm(id: &str, name: &str, at: u64) -> Realm {
    Realm {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        created_ms: at,
        updated_ms: at,
        settings: Map::new(),
    }
}

fn settings(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn ids_are_slugs_of_1_to_63_lower_case_letters_digits_and_dashes() {
    let long = "a".repeat(63);
    let too_long = "a".repeat(64);
    let table = [
        ("a", true),
        ("team-1", true),
        ("0day", true),
        ("a-", true),
        (long.as_str(), true),
        ("", false),
        ("-a", false),
        ("Team", false),
        ("a_b", false),
        ("a b", false),
        ("a:b", false),
        ("é", false),
        (too_long.as_str(), false),
    ];
    for (candidate, ok) in table {
        let expected = if ok { Ok(()) } else { Err(RealmError::InvalidId { id: candidate.to_string() }) };
        assert_eq!(validate_id(candidate), expected, "{candidate:?}");
    }
}

#[test]
fn names_are_trimmed_and_hold_1_to_100_characters() {
    let hundred = "é".repeat(100);
    let table = [
        ("Home", Ok("Home".to_string())),
        ("  Home  ", Ok("Home".to_string())),
        (hundred.as_str(), Ok(hundred.clone())),
        ("", Err(RealmError::InvalidName { problem: "is empty".into() })),
        ("   ", Err(RealmError::InvalidName { problem: "is empty".into() })),
        (&*"x".repeat(101), Err(RealmError::InvalidName { problem: "has 101 characters".into() })),
    ];
    for (name, expected) in table {
        assert_eq!(validate_name(name), expected, "{name:?}");
    }
}

#[test]
fn create_stores_the_realm_with_both_timestamps_now_and_the_id_as_the_default_name() {
    let store = Fake::at(1_000);
    let req = CreateRealm { description: "work".into(), settings: settings(json!({"model": "m"})), ..new("work") };
    let expected =
        Realm { description: "work".into(), settings: settings(json!({"model": "m"})), ..realm("work", "work", 1_000) };
    assert_eq!(now(create(&store, req)), Ok(expected.clone()));
    assert_eq!(now(get(&store, id("work"))), Ok(expected));
}

#[test]
fn create_refuses_bad_ids_bad_names_and_taken_ids_with_their_codes() {
    let store = Fake::at(1);
    now(create(&store, new("taken"))).unwrap();
    let table = [
        (new("Bad Id"), RealmError::InvalidId { id: "Bad Id".into() }, "INVALID_INPUT"),
        (
            CreateRealm { name: Some(" ".into()), ..new("ok") },
            RealmError::InvalidName { problem: "is empty".into() },
            "INVALID_INPUT",
        ),
        (
            new("taken"),
            RealmError::Exists { id: "taken".into(), fix: "pick another id, or change it with realm::update" },
            "CONFLICT",
        ),
        (
            new("default"),
            RealmError::Exists { id: "default".into(), fix: "pick another id, or change it with realm::update" },
            "CONFLICT",
        ),
    ];
    for (req, expected, code) in table {
        let err = now(create(&store, req)).unwrap_err();
        assert_eq!((err.code(), &err), (code, &expected));
    }
    assert_eq!(now(list(&store, ListRealms {})).unwrap().realms.len(), 2, "nothing but taken and default was stored");
}

#[test]
fn a_missing_realm_is_not_found_for_get_update_delete_and_export() {
    let store = Fake::at(1);
    let expected = RealmError::NotFound { id: "ghost".into() };
    assert_eq!(now(get(&store, id("ghost"))), Err(expected.clone()));
    assert_eq!(now(update(&store, RealmPatch::default().for_realm("ghost"))), Err(expected.clone()));
    assert_eq!(now(delete(&store, id("ghost"))), Err(expected.clone()));
    assert_eq!(expected.code(), "NOT_FOUND");
    assert_eq!(now(export(&store, id("ghost"))).unwrap_err(), expected);
    assert_eq!(store.snapshot(), BTreeMap::new(), "a miss writes nothing");
}

#[test]
fn default_is_created_on_first_read_and_then_read_back_unchanged() {
    let store = Fake::at(5);
    assert_eq!(now(get(&store, id("default"))), Ok(default_realm(5)));
    store.set_now(9);
    assert_eq!(now(get(&store, id("default"))), Ok(default_realm(5)));
}

#[test]
fn list_creates_default_once_and_sorts_realms_by_id() {
    let store = Fake::at(7);
    for name in ["zeta", "alpha"] {
        now(create(&store, new(name))).unwrap();
    }
    let expected = RealmList { realms: vec![realm("alpha", "alpha", 7), default_realm(7), realm("zeta", "zeta", 7)] };
    assert_eq!(now(list(&store, ListRealms {})), Ok(expected.clone()));
    store.set_now(8);
    assert_eq!(now(list(&store, ListRealms {})), Ok(expected));
}

#[test]
fn update_changes_only_the_given_fields_and_merges_settings_where_null_removes_a_key() {
    let store = Fake::at(10);
    now(create(&store, CreateRealm { settings: settings(json!({"keep": 1, "drop": 2, "change": 3})), ..new("r") }))
        .unwrap();
    store.set_now(20);
    let patch = RealmPatch {
        name: Some("  Renamed ".into()),
        description: None,
        settings: Some(settings(json!({"drop": null, "change": 4, "add": 5}))),
    };
    let expected = Realm {
        updated_ms: 20,
        settings: settings(json!({"keep": 1, "change": 4, "add": 5})),
        ..realm("r", "Renamed", 10)
    };
    assert_eq!(now(update(&store, patch.for_realm("r"))), Ok(expected.clone()));
    assert_eq!(now(get(&store, id("r"))), Ok(expected));
}

#[test]
fn an_update_that_changes_nothing_keeps_updated_ms() {
    let store = Fake::at(10);
    now(create(&store, new("r"))).unwrap();
    store.set_now(20);
    let same = RealmPatch {
        name: Some("r".into()),
        description: Some(String::new()),
        settings: Some(settings(json!({"gone": null}))),
    };
    assert_eq!(now(update(&store, same.for_realm("r"))), Ok(realm("r", "r", 10)));
}

#[test]
fn an_update_with_an_empty_name_is_invalid_and_changes_nothing() {
    let store = Fake::at(10);
    now(create(&store, new("r"))).unwrap();
    let patch = RealmPatch { name: Some(String::new()), description: Some("new".into()), settings: None };
    assert_eq!(now(update(&store, patch.for_realm("r"))), Err(RealmError::InvalidName { problem: "is empty".into() }));
    assert_eq!(now(get(&store, id("r"))), Ok(realm("r", "r", 10)));
}

#[test]
fn default_can_be_updated_before_it_was_ever_read() {
    let store = Fake::at(3);
    let patch = RealmPatch { name: Some("Home".into()), ..RealmPatch::default() };
    assert_eq!(now(update(&store, patch.for_realm("default"))), Ok(Realm { name: "Home".into(), ..default_realm(3) }));
}

#[test]
fn deleting_default_is_forbidden_and_says_why() {
    let store = Fake::at(1);
    let err = now(delete(&store, id("default"))).unwrap_err();
    assert_eq!((err.code(), &err), ("FORBIDDEN", &RealmError::DefaultIsPermanent));
    assert!(err.to_string().contains("agents, sessions and memory that name no realm live in it"), "{err}");
}

#[test]
fn delete_removes_the_realm_and_its_own_scopes_but_not_a_realm_whose_id_extends_it() {
    let store = Fake::at(1);
    now(create(&store, new("a"))).unwrap();
    now(create(&store, new("a-b"))).unwrap();
    store.seed("realm:a:memory", "m1", json!({"id": "m1", "text": "x"}));
    store.seed("realm:a:memory", "m2", json!({"id": "m2", "text": "y"}));
    store.seed("realm:a:agents", "ag", json!({"id": "ag"}));
    store.seed("realm:a-b:memory", "m1", json!({"id": "m1"}));
    store.seed("other", "k", json!({"id": "k"}));

    let deleted = now(delete(&store, id("a")));
    assert_eq!(deleted, Ok(Deleted { id: "a".into(), scopes: vec!["agents".into(), "memory".into()], items: 3 }));
    assert_eq!(now(get(&store, id("a"))), Err(RealmError::NotFound { id: "a".into() }));
    let left: Vec<String> = store.snapshot().into_keys().collect();
    assert_eq!(left, vec!["other".to_string(), "realm:a-b:memory".to_string(), "realms".to_string()]);
}

#[test]
fn export_gathers_every_scope_of_the_realm_by_relative_name() {
    let store = Fake::at(1);
    now(create(&store, new("a"))).unwrap();
    store.seed("realm:a:memory", "m1", json!({"id": "m1", "text": "x"}));
    store.seed("realm:a:sessions", "s1", json!({"id": "s1", "turns": [1, 2]}));
    store.seed("realm:ab:memory", "z", json!({"id": "z"}));

    let expected = RealmExport {
        realm: realm("a", "a", 1),
        scopes: BTreeMap::from([
            ("memory".to_string(), vec![json!({"id": "m1", "text": "x"})]),
            ("sessions".to_string(), vec![json!({"id": "s1", "turns": [1, 2]})]),
        ]),
    };
    assert_eq!(now(export(&store, id("a"))), Ok(expected));
}

#[test]
fn export_then_delete_then_import_restores_the_realm_and_its_state() {
    let store = Fake::at(1);
    now(create(
        &store,
        CreateRealm { name: Some("Team".into()), settings: settings(json!({"hand": "coder"})), ..new("team") },
    ))
    .unwrap();
    store.seed("realm:team:memory", "m1", json!({"id": "m1", "text": "x"}));
    store.seed("realm:team:agents", "a1", json!({"id": "a1", "model": "m"}));
    let before = store.snapshot();

    let doc = now(export(&store, id("team"))).unwrap();
    now(delete(&store, id("team"))).unwrap();
    store.set_now(50);
    let imported = now(import(&store, ImportRealm::from(doc.clone())));

    let restored = Realm { updated_ms: 50, ..doc.realm };
    assert_eq!(imported, Ok(Imported { realm: restored.clone(), scopes: 2, items: 2, replaced: false }));
    let mut expected = before;
    expected.insert(
        REALMS_SCOPE.to_string(),
        BTreeMap::from([("team".to_string(), serde_json::to_value(&restored).unwrap())]),
    );
    assert_eq!(store.snapshot(), expected);
}

#[test]
fn import_over_an_existing_realm_is_a_conflict_unless_overwrite_which_replaces_its_state() {
    let store = Fake::at(1);
    now(create(&store, new("r"))).unwrap();
    store.seed("realm:r:memory", "old", json!({"id": "old"}));
    let doc = ImportRealm {
        realm: realm("r", "Restored", 1),
        scopes: BTreeMap::from([("memory".to_string(), vec![json!({"id": "new"})])]),
        id: None,
        overwrite: false,
    };

    let err = now(import(&store, doc.clone())).unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
    assert!(err.to_string().contains("\"overwrite\": true"), "{err}");
    assert_eq!(store.scope("realm:r:memory"), BTreeMap::from([("old".to_string(), json!({"id": "old"}))]));

    store.set_now(2);
    let imported = now(import(&store, ImportRealm { overwrite: true, ..doc }));
    assert_eq!(
        imported,
        Ok(Imported {
            realm: Realm { updated_ms: 2, ..realm("r", "Restored", 1) },
            scopes: 1,
            items: 1,
            replaced: true
        })
    );
    assert_eq!(store.scope("realm:r:memory"), BTreeMap::from([("new".to_string(), json!({"id": "new"}))]));
}

#[test]
fn import_under_a_new_id_copies_the_scopes_to_that_realm() {
    let store = Fake::at(1);
    now(create(&store, new("src"))).unwrap();
    store.seed("realm:src:memory", "m1", json!({"id": "m1"}));
    let doc = now(export(&store, id("src"))).unwrap();

    let imported = now(import(&store, ImportRealm { id: Some("copy".into()), ..ImportRealm::from(doc) })).unwrap();
    assert_eq!(imported.realm.id, "copy");
    assert_eq!(store.scope("realm:copy:memory"), store.scope("realm:src:memory"));
    assert_eq!(now(get(&store, id("copy"))), Ok(imported.realm));
}

#[test]
fn importing_as_default_without_overwrite_is_a_conflict_because_default_always_exists() {
    let store = Fake::at(1);
    let doc = ImportRealm { realm: default_realm(1), scopes: BTreeMap::new(), id: None, overwrite: false };
    assert_eq!(now(import(&store, doc)).unwrap_err().code(), "CONFLICT");
}

#[test]
fn a_bad_import_document_is_invalid_input_and_writes_nothing() {
    let store = Fake::at(1);
    let doc = |scopes: Value| ImportRealm {
        realm: realm("r", "R", 1),
        scopes: serde_json::from_value(scopes).unwrap(),
        id: None,
        overwrite: false,
    };
    let table = [
        (doc(json!({"memory": [{"id": "a"}, {"text": "no id"}]})), "scopes.memory[1] has no string \"id\""),
        (doc(json!({"memory": [{"id": ""}]})), "scopes.memory[0] has no string \"id\""),
        (doc(json!({"memory": ["just text"]})), "scopes.memory[0] has no string \"id\""),
        (doc(json!({"memory": [{"id": "a"}, {"id": "a"}]})), "scopes.memory lists \"id\" \"a\" twice"),
        (doc(json!({"": [{"id": "a"}]})), "a scope name is empty"),
        (ImportRealm { id: Some("Bad".into()), ..doc(json!({})) }, "realm id \"Bad\" is not a slug"),
        (ImportRealm { realm: realm("r", "", 1), ..doc(json!({})) }, "realm name is empty"),
    ];
    for (req, start) in table {
        let err = now(import(&store, req)).unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT");
        assert!(err.to_string().contains(start), "{err}");
    }
    assert_eq!(store.snapshot(), BTreeMap::new());
}

#[test]
fn a_scoped_value_without_an_id_is_bad_state_and_delete_then_changes_nothing() {
    let store = Fake::at(1);
    now(create(&store, new("r"))).unwrap();
    store.seed("realm:r:memory", "a", json!({"id": "a"}));
    store.seed("realm:r:notes", "k", json!("free text"));
    let before = store.snapshot();

    let err = now(delete(&store, id("r"))).unwrap_err();
    assert_eq!(err.code(), "BAD_STATE");
    assert!(
        err.to_string().starts_with("state scope realm:r:notes: the value \"free text\" has no string \"id\""),
        "{err}"
    );
    assert_eq!(store.snapshot(), before);
    assert_eq!(now(export(&store, id("r"))).unwrap_err(), err);
}

#[test]
fn a_value_stored_under_a_key_other_than_its_id_makes_delete_bad_state_and_keeps_the_record() {
    let store = Fake::at(1);
    now(create(&store, new("r"))).unwrap();
    store.seed("realm:r:memory", "key-1", json!({"id": "other"}));

    let err = now(delete(&store, id("r"))).unwrap_err();
    assert_eq!(
        err,
        RealmError::BadState {
            scope: "realm:r:memory".into(),
            problem: "the value with \"id\" \"other\" is stored under another key, so it could not be deleted".into()
        }
    );
    assert_eq!(now(get(&store, id("r"))), Ok(realm("r", "r", 1)));
}

#[test]
fn a_long_value_is_shortened_in_messages() {
    let long = json!({"id": 1, "text": "x".repeat(200)});
    let shown = preview(&long);
    assert_eq!(shown.chars().count(), 81);
    assert!(shown.ends_with('…'), "{shown}");
}
