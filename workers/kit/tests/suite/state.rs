//! Typed state helpers against the engine's `state::*`.

use agentos_kit::harness::TestStack;
use agentos_kit::state;
use pretty_assertions::assert_eq;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Realm {
    id: String,
    agents: u32,
    tags: Vec<String>,
}

#[tokio::test]
async fn a_struct_round_trips_through_set_get_list_update_and_delete() {
    let stack = TestStack::start().await;
    let iii = stack.client();
    let realm = Realm { id: "r1".into(), agents: 2, tags: vec!["home".into()] };

    assert_eq!(state::get::<Realm>(&iii, "realms", "r1").await.unwrap(), None);
    state::set(&iii, "realms", "r1", &realm).await.unwrap();
    assert_eq!(state::get::<Realm>(&iii, "realms", "r1").await.unwrap(), Some(realm.clone()));
    assert_eq!(state::list::<Realm>(&iii, "realms").await.unwrap(), vec![realm.clone()]);

    let new = state::update(&iii, "realms", "r1", vec![json!({"type": "increment", "path": "agents", "by": 3})])
        .await
        .unwrap();
    assert_eq!(new, json!({"id": "r1", "agents": 5, "tags": ["home"]}));

    assert!(state::delete(&iii, "realms", "r1").await.unwrap());
    assert!(!state::delete(&iii, "realms", "r1").await.unwrap());
    assert_eq!(state::get::<Realm>(&iii, "realms", "r1").await.unwrap(), None);
    stack.stop().await;
}

#[tokio::test]
async fn a_stored_value_of_another_shape_is_bad_state_not_a_default() {
    let stack = TestStack::start().await;
    let iii = stack.client();
    state::set(&iii, "realms", "r2", &json!({"id": "r2"})).await.unwrap();

    let err = state::get::<Realm>(&iii, "realms", "r2").await.unwrap_err();
    assert_eq!(err.code, "BAD_STATE");
    assert!(err.message.starts_with("state realms/r2 does not match"), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn an_update_op_that_does_not_fit_the_stored_value_is_invalid_input() {
    let stack = TestStack::start().await;
    let iii = stack.client();
    state::set(&iii, "counters", "c", &json!({"n": "not a number"})).await.unwrap();

    let err = state::update(&iii, "counters", "c", vec![json!({"type": "increment", "path": "n", "by": 1})])
        .await
        .unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    assert!(err.message.starts_with("state::update counters/c: op 0 failed (increment.not_number"), "{}", err.message);
    stack.stop().await;
}
