//! `realm::*` on the bus: typed calls from another worker, codes intact.

use agentos_kit::harness::TestStack;
use agentos_kit::{ErrorCode, call};
use agentos_worker_realm::{CreateRealm, ListRealms, Realm, RealmError, RealmId, RealmList, RealmPatch};
use pretty_assertions::assert_eq;
use serde_json::{Map, json};

use super::{T, start_realm};

fn team() -> CreateRealm {
    CreateRealm { id: "team".into(), name: Some("Team".into()), description: "the team".into(), settings: Map::new() }
}

#[tokio::test]
async fn a_realm_created_on_the_bus_reads_back_and_lists_with_default() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let client = stack.client();

    let created: Realm = call(&client, "realm::create", &team(), T).await.unwrap();
    assert_eq!(
        created,
        Realm {
            id: "team".into(),
            name: "Team".into(),
            description: "the team".into(),
            created_ms: created.created_ms,
            updated_ms: created.created_ms,
            settings: Map::new(),
        }
    );
    let got: Realm = call(&client, "realm::get", &RealmId { id: "team".into() }, T).await.unwrap();
    assert_eq!(got, created);

    let listed: RealmList = call(&client, "realm::list", &ListRealms {}, T).await.unwrap();
    let ids: Vec<&str> = listed.realms.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["default", "team"]);
    stack.stop().await;
}

#[tokio::test]
async fn conflict_and_not_found_reach_a_typed_caller_with_their_codes() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let client = stack.client();
    let _: Realm = call(&client, "realm::create", &team(), T).await.unwrap();

    let err = call::<_, Realm>(&client, "realm::create", &team(), T).await.unwrap_err();
    assert_eq!(
        err,
        RealmError::Exists { id: "team".into(), fix: "pick another id, or change it with realm::update" }
            .to_worker_error()
    );
    assert_eq!(err.code, "CONFLICT");

    let err = call::<_, Realm>(&client, "realm::get", &RealmId { id: "ghost".into() }, T).await.unwrap_err();
    assert_eq!(err, RealmError::NotFound { id: "ghost".into() }.to_worker_error());
    assert_eq!(err.code, "NOT_FOUND");

    let err = call::<_, Realm>(&client, "realm::delete", &RealmId { id: "default".into() }, T).await.unwrap_err();
    assert_eq!(err.code, "FORBIDDEN");
    stack.stop().await;
}

#[tokio::test]
async fn update_on_the_bus_merges_settings_and_an_unknown_field_is_invalid_input() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let client = stack.client();
    let _: Realm = call(&client, "realm::create", &team(), T).await.unwrap();

    let patch = RealmPatch {
        settings: Some(serde_json::from_value(json!({"hand": "coder"})).unwrap()),
        ..RealmPatch::default()
    };
    let updated: Realm = call(&client, "realm::update", &patch.for_realm("team"), T).await.unwrap();
    assert_eq!(updated.settings, serde_json::from_value::<Map<_, _>>(json!({"hand": "coder"})).unwrap());

    let err = call::<_, Realm>(&client, "realm::update", &json!({"id": "team", "nmae": "x"}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    assert!(err.message.starts_with("realm::update: unknown field `nmae`"), "{}", err.message);
    stack.stop().await;
}
