//! Routes behind `http` triggers: auth, JSON errors, statuses.

use std::sync::Arc;

use agentos_kit::harness::TestStack;
use agentos_kit::http::{HttpResponse, register_route};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const KEY: &str = "test-key-0123456789";

const THING: HttpRoute = HttpRoute { method: "GET", path: "/v1/things/:id", function_id: "things::get" };
const HEALTH: HttpRoute = HttpRoute { method: "GET", path: "/v1/health", function_id: "things::health_route" };
const OPEN: HttpRoute = HttpRoute { method: "GET", path: "/open/ping", function_id: "things::ping" };

static THINGS: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "kit-things",
    description: "Serves things over HTTP; a test worker for routes.",
    functions: vec!["things::get", "things::health_route", "things::ping"],
    http_routes: vec![THING, HEALTH, OPEN],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

fn register(iii: &III) {
    let key: Option<Arc<str>> = Some(Arc::from(KEY));
    register_route(iii, THINGS.name, THING, key.clone(), |req| async move {
        let id = req.path_param("id")?;
        if id == "missing" {
            return Err(WorkerError::not_found(format!("no thing {id:?}; list them with GET /v1/things")));
        }
        Ok(HttpResponse::ok(json!({"id": id})))
    })
    .unwrap();
    register_route(iii, THINGS.name, HEALTH, key, |_req| async { Ok(HttpResponse::ok(json!({"status": "ok"}))) })
        .unwrap();
    register_route(iii, THINGS.name, OPEN, None, |_req| async { Ok(HttpResponse::json(201, json!({"pong": true}))) })
        .unwrap();
}

async fn get(url: String, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_route_with_auth_answers_401_json_without_the_bearer_and_200_with_it() {
    let stack = TestStack::start().await;
    stack.worker(&THINGS, register).await;
    let url = format!("{}/v1/things/42", stack.http_url());

    let (status, body) = get(url.clone(), None).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": {"code": "UNAUTHORIZED", "message": "missing API key: pass the key from the api_key file in the agentos config dir ($AGENTOS_HOME/config/api_key, or ~/.config/agentos/api_key) as Authorization: Bearer <key>, or set AGENTOS_API_KEY"}})
    );
    let (status, body) = get(url.clone(), Some("wrong")).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")));

    assert_eq!(get(url, Some(KEY)).await, (200, json!({"id": "42"})));
    stack.stop().await;
}

#[tokio::test]
async fn get_v1_health_answers_without_a_key_and_a_route_registered_without_one_refuses_everyone() {
    let stack = TestStack::start().await;
    stack.worker(&THINGS, register).await;

    assert_eq!(get(format!("{}/v1/health", stack.http_url()), None).await, (200, json!({"status": "ok"})));
    // A worker given no API key fails closed: its routes answer nobody, with or without a key.
    let refused = json!({"error": {"code": "UNAUTHORIZED", "message": "this worker was started without an API key (AGENTOS_API_KEY), so its routes refuse every request; start it through `agentos up`, or set AGENTOS_API_KEY"}});
    assert_eq!(get(format!("{}/open/ping", stack.http_url()), None).await, (401, refused.clone()));
    assert_eq!(get(format!("{}/open/ping", stack.http_url()), Some(KEY)).await, (401, refused));
    stack.stop().await;
}

#[tokio::test]
async fn a_not_found_worker_error_becomes_a_404_json_error() {
    let stack = TestStack::start().await;
    stack.worker(&THINGS, register).await;

    assert_eq!(
        get(format!("{}/v1/things/missing", stack.http_url()), Some(KEY)).await,
        (
            404,
            json!({"error": {"code": "NOT_FOUND", "message": "no thing \"missing\"; list them with GET /v1/things"}})
        )
    );
    stack.stop().await;
}
