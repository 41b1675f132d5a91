//! What outlives a call: scoped state through export → delete → import, and a worker restart.

use agentos_kit::harness::{TestStack, wait_until};
use agentos_kit::{III, call, state};
use agentos_worker_realm::{CreateRealm, Deleted, ImportRealm, Imported, Realm, RealmExport, RealmId, scope_name};
use pretty_assertions::assert_eq;
use serde_json::{Map, Value, json};

use super::{KEY, T, start_realm};

/// Creates realm `team` with two memories and an agent in its scopes, plus a neighbour's value.
async fn seed(client: &III) -> Realm {
    let req =
        CreateRealm { id: "team".into(), name: Some("Team".into()), description: String::new(), settings: Map::new() };
    let realm: Realm = call(client, "realm::create", &req, T).await.unwrap();
    for (what, value) in [
        ("memory", json!({"id": "m1", "text": "likes tea"})),
        ("memory", json!({"id": "m2", "text": "works late"})),
        ("agents", json!({"id": "coder", "model": "small"})),
    ] {
        let key = value["id"].as_str().unwrap().to_string();
        state::set(client, &scope_name("team", what), &key, &value).await.unwrap();
    }
    state::set(client, "realm:team-b:memory", "n1", &json!({"id": "n1"})).await.unwrap();
    realm
}

/// Every value of `team`'s scopes, by scope.
async fn team_state(client: &III) -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    for what in ["agents", "memory"] {
        let scope = scope_name("team", what);
        out.push((scope.clone(), state::list::<Value>(client, &scope).await.unwrap()));
    }
    out
}

#[tokio::test]
async fn export_then_delete_then_import_over_http_restores_the_scoped_state() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let client = stack.client();
    let realm = seed(&client).await;
    let before = team_state(&client).await;
    let http = reqwest::Client::new();
    let base = format!("{}/v1/realms", stack.http_url());

    let resp = http.get(format!("{base}/team/export")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let doc: RealmExport = resp.json().await.unwrap();
    assert_eq!(doc.realm, realm);
    assert_eq!(doc.scopes.keys().collect::<Vec<_>>(), vec!["agents", "memory"]);

    let deleted: Deleted = call(&client, "realm::delete", &RealmId { id: "team".into() }, T).await.unwrap();
    assert_eq!(deleted, Deleted { id: "team".into(), scopes: vec!["agents".into(), "memory".into()], items: 3 });
    assert_eq!(
        team_state(&client).await,
        vec![(scope_name("team", "agents"), vec![]), (scope_name("team", "memory"), vec![])]
    );
    assert_eq!(
        state::list::<Value>(&client, "realm:team-b:memory").await.unwrap(),
        vec![json!({"id": "n1"})],
        "the neighbour stays"
    );

    let resp = http
        .post(format!("{base}/import"))
        .bearer_auth(KEY)
        .json(&ImportRealm::from(doc.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let imported: Imported = resp.json().await.unwrap();
    assert_eq!((imported.scopes, imported.items, imported.replaced), (2, 3, false));
    assert_eq!(Realm { updated_ms: realm.updated_ms, ..imported.realm.clone() }, realm);

    let mut after = team_state(&client).await;
    let mut expected = before;
    for (_, values) in after.iter_mut().chain(expected.iter_mut()) {
        values.sort_by_key(Value::to_string);
    }
    assert_eq!(after, expected);

    let again = ImportRealm { overwrite: false, ..ImportRealm::from(doc) };
    let resp = http.post(format!("{base}/import")).bearer_auth(KEY).json(&again).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    stack.stop().await;
}

#[tokio::test]
async fn a_restarted_worker_loses_nothing_because_state_lives_in_the_engine() {
    let stack = TestStack::start().await;
    let first = start_realm(&stack).await;
    let client = stack.client();
    let realm = seed(&client).await;
    let exported: RealmExport = call(&client, "realm::export", &RealmId { id: "team".into() }, T).await.unwrap();

    // Stop the worker the way a crash would look to the engine: its connection goes away.
    tokio::task::spawn_blocking(move || first.shutdown()).await.unwrap();
    let engine = stack.engine().clone();
    wait_until("the engine to drop the stopped worker's functions", || {
        let gone = !engine.has_function("realm::get");
        async move { gone }
    })
    .await;

    start_realm(&stack).await;
    let got: Realm = call(&client, "realm::get", &RealmId { id: "team".into() }, T).await.unwrap();
    assert_eq!(got, realm);
    let again: RealmExport = call(&client, "realm::export", &RealmId { id: "team".into() }, T).await.unwrap();
    assert_eq!(again, exported);
    stack.stop().await;
}
