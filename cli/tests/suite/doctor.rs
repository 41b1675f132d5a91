//! `agentos doctor` against a fake stack: hands whose functions are not live and routes the CLI
//! calls that nobody serves are reported with their fix.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::fake::{FakeStack, error, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_hand_function_no_worker_provides_and_an_unserved_cli_route() {
    let stack = FakeStack::start(|r| match (r.method.as_str(), r.uri.as_str(), r.authorization.is_some()) {
        ("GET", "/v1/workers", true) => json(
            200,
            json!({"workers": [{"name": "code-agent", "state": "ready", "functions_registered": 5, "functions_expected": 5}]}),
        ),
        ("GET", "/v1/hands", true) => json(
            200,
            json!({"hands": [{"name": "coder", "source": "hands/coder/HAND.toml", "description": "",
                              "allowed_functions": ["code::read_file", "state::get", "code::teleport"]}],
                   "errors": []}),
        ),
        ("POST", "/v1/chat/stream", _) => error(404, "route_not_found", "no route for POST /v1/chat/stream"),
        // Every other route exists and wants the key, as on a real stack.
        _ => error(401, "UNAUTHORIZED", "missing API key"),
    })
    .await;
    let out = stack.agentos(&["doctor"], None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec![
            "✗ hand coder allows code::teleport, which no worker of this build provides; fix: correct allowed_functions in hands/coder/HAND.toml, then `agentos hand reload`",
            "✗ route POST /v1/chat/stream is not registered; fix: check that its worker is enabled and ready (`agentos status`)",
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
    let probed: Vec<_> =
        stack.requests().into_iter().filter(|r| r.authorization.is_none()).map(|r| (r.method, r.uri)).collect();
    for route in [("POST", "/v1/hands/doctor-probe/trigger"), ("GET", "/v1/realms/doctor-probe/export")] {
        assert!(probed.contains(&(route.0.to_string(), route.1.to_string())), "{route:?} not probed: {probed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_agentos_models_install_when_the_embedding_worker_lacks_its_model() {
    let stack = FakeStack::start(|r| match (r.method.as_str(), r.uri.as_str(), r.authorization.is_some()) {
        ("GET", "/v1/workers", true) => json(200, json!({"workers": []})),
        ("GET", "/v1/hands", true) => json(200, json!({"hands": [], "errors": []})),
        ("GET", "/v1/embedding", true) => json(
            200,
            json!({"model": "all-minilm-l6-v2", "dims": 384, "installed": false, "dir": "/data/models/all-minilm-l6-v2",
                   "problem": "the embedding model is not installed: /data/models/all-minilm-l6-v2 lacks model.safetensors"}),
        ),
        _ => error(401, "UNAUTHORIZED", "missing API key"),
    })
    .await;
    let out = stack.agentos(&["doctor"], None).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().collect::<Vec<_>>(),
        vec![
            "✗ the embedding model is not installed in /data/models/all-minilm-l6-v2; fix: `agentos models install` (the embedding worker picks it up without a restart)"
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1));
}
