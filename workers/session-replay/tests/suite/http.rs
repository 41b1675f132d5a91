//! The replay routes next to session-lifecycle's: auth, errors, and the CLI's path from a
//! session name to its steps.

use agentos_kit::call;
use agentos_worker_session_lifecycle::{OpenSession, Session};
use agentos_worker_session_replay::{DeletedEvents, SessionRef};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::json;

use super::{T, get, record, send, stack, step};

#[tokio::test]
async fn every_replay_route_answers_401_json_without_the_bearer_key() {
    let stack = stack().await;
    for path in
        ["/v1/sessions/s1/events", "/v1/sessions/s1/summary", "/v1/replay/search?q=x", "/v1/traces", "/v1/traces/abc"]
    {
        let (status, body) = send(&stack, Method::GET, path, None).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")), "{path}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_session_name_leads_to_its_steps_through_both_workers() {
    let stack = stack().await;
    let client = stack.client();
    let open = OpenSession {
        name: Some("nightly run".into()),
        realm: Some("team".into()),
        hand: "coder".into(),
        ..OpenSession::default()
    };
    let session: Session = call(&client, "session::open", &open, T).await.unwrap();
    record(&client, &step(&session.id, 1, "user_message", "t1", json!({"text": "go"}))).await;

    let (status, found) = get(&stack, "/v1/sessions/nightly%20run?realm=team").await;
    assert_eq!((status, &found["id"]), (200, &json!(session.id)));
    let (status, page) = get(&stack, &format!("/v1/sessions/{}/events", session.id)).await;
    assert_eq!((status, page["events"].as_array().unwrap().len()), (200, 1));
    let (status, summary) = get(&stack, &format!("/v1/sessions/{}/summary", session.id)).await;
    assert_eq!((status, &summary["turns"]), (200, &json!(1)));

    let deleted: DeletedEvents =
        call(&client, "replay::delete", &SessionRef { session_id: session.id.clone() }, T).await.unwrap();
    assert_eq!(deleted, DeletedEvents { session_id: session.id.clone(), deleted: 1 });
    let (_, page) = get(&stack, &format!("/v1/sessions/{}/events", session.id)).await;
    assert_eq!(page["events"], json!([]));
    stack.stop().await;
}

#[tokio::test]
async fn bad_query_values_are_400_naming_the_fix() {
    let stack = stack().await;
    for (path, says) in [
        ("/v1/sessions/s1/events?limit=lots", "?limit=10"),
        ("/v1/sessions/s1/events?limit=0", "ask for 1 to 10000"),
        ("/v1/sessions/bad%20id/events", "is not valid"),
        ("/v1/replay/search?q=x&kind=Bad-Kind", "event kind"),
        ("/v1/traces?limit=100000", "ask for 1 to 200"),
        ("/v1/traces/not%20a%20trace", "trace_id"),
    ] {
        let (status, body) = get(&stack, path).await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!("INVALID_INPUT")), "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{path}: {body}");
    }
    stack.stop().await;
}
