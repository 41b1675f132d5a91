//! `agentos doctor`: checks a running stack and says how to fix each problem. Exits non-zero
//! when anything is wrong.
//!
//! Checks: the API key file's permissions; whether the worker socket runs without agentos's token
//! check (`--insecure-no-auth`, or a real iii engine); the engine answers; every worker is ready with every
//! manifest function registered; every HTTP route the CLI and workers declare is served (a
//! route whose function is missing answers 503, a route nobody registered 404); no two workers
//! of the catalogue claim the same function; every hand loads, and every function a hand allows
//! is live.
//!
//! "Live" for a hand's function is read from what the stack exposes over REST: `/v1/workers`
//! rows carry counts, not function ids, so a function is live when a worker of this binary's
//! catalogue declares it and that worker's row is ready with all its functions registered, or
//! when the supervisor or the engine itself serves it ([`ENGINE_NAMESPACES`]).

use std::path::Path;

use agentos_kit::WorkerManifest;
use agentos_protocol::error::ErrorResponse;
use agentos_protocol::status::{WorkerList, WorkerState};
use agentos_supervisor::Home;
use serde::Deserialize;
use serde_json::Value;

use crate::client::{Client, read};
use crate::resources::{agent, hand, realm};
use crate::status::block_on;

/// The routes `status`, `restart` and `doctor` call.
const STACK_ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/health"), ("GET", "/v1/workers"), ("POST", "/v1/workers/:name/restart")];

/// Every route the CLI calls, by command group.
const CLI_ROUTES: &[&[(&str, &str)]] = &[
    STACK_ROUTES,
    crate::chat::ROUTES,
    realm::ROUTES,
    agent::ROUTES,
    hand::ROUTES,
    crate::sessions::ROUTES,
    crate::replay::ROUTES,
    crate::trace::ROUTES,
    crate::approvals::ROUTES,
    crate::approvals::POLICY_ROUTES,
    crate::capabilities::ROUTES,
    crate::memory::ROUTES,
    crate::tui::ROUTES,
];

/// The namespaces of the functions the engine serves itself (state, streams, introspection,
/// queues). Which of them are enabled is not visible over REST, so they count as live.
const ENGINE_NAMESPACES: &[&str] = &["engine", "state", "stream", "iii"];

/// Runs `doctor`; returns the problems found.
pub fn run() -> anyhow::Result<Vec<String>> {
    let home = Home::discover()?;
    let mut problems = Vec::new();
    if let Some(mode) = agentos_supervisor::api_key::loose_permissions(&home) {
        problems.push(format!(
            "the API key file {} has mode {mode:o}; fix: chmod 600 {}",
            home.api_key_file().display(),
            home.api_key_file().display()
        ));
    }
    if let Some(gap) = agentos_supervisor::runtime::RuntimeInfo::read(&home).and_then(|r| r.engine_auth_gap) {
        problems.push(gap);
    }
    let manifests: Vec<_> = crate::catalogue::all().into_iter().map(|e| e.manifest).collect();
    for (function, owners) in agentos_supervisor::run::duplicate_functions(&manifests) {
        problems.push(format!(
            "function {function} is claimed by several workers ({}); fix: give it one owner",
            owners.join(", ")
        ));
    }
    let client = match Client::discover(&home) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("{e}"));
            return Ok(problems);
        }
    };
    let workers: WorkerList = match block_on(client.get("/v1/workers")).and_then(|b| read("GET /v1/workers", b)) {
        Ok(list) => list,
        Err(e) => {
            problems.push(format!("the engine or the supervisor does not answer: {e}; fix: `agentos down` then `agentos up`, and see `agentos logs engine`"));
            return Ok(problems);
        }
    };
    for w in &workers.workers {
        let name = if w.name.is_empty() { "?" } else { w.name.as_str() };
        if w.state != WorkerState::Ready {
            let error = w.last_error.as_deref().unwrap_or("no error recorded");
            problems.push(format!(
                "worker {name} is {} ({error}); fix: see `agentos logs {name}`, then `agentos restart {name}`",
                w.state.as_str()
            ));
        }
        // A worker that serves but says something is wrong (the embedding model's own check
        // below says more about a missing model).
        if let Some(problem) = &w.problem
            && name != "embedding"
        {
            problems.push(format!("worker {name} is degraded: {problem}"));
        }
        if w.functions_registered != w.functions_expected {
            problems.push(format!(
                "worker {name} registered {} of its {} functions; fix: see `agentos logs {name}`",
                w.functions_registered, w.functions_expected
            ));
        }
    }
    match block_on(client.get("/v1/hands")) {
        Ok(hands) => problems.extend(hand_problems(&hands, &workers, &manifests, &home.config_dir)),
        // An unserved route is reported by the route probes below.
        Err(e) if is_unserved(&e) => {}
        Err(e) => problems.push(format!(
            "the hands could not be listed to check their functions ({e:#}); fix: see `agentos logs hand-runner`"
        )),
    }
    problems.extend(block_on(async { Ok(crate::models::doctor_problems(&client).await) })?);
    let mut routes: Vec<(String, String)> =
        CLI_ROUTES.iter().flat_map(|group| group.iter()).map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for m in &manifests {
        routes.extend(m.http_routes.iter().map(|r| (r.method.to_string(), r.path.to_string())));
    }
    let mut seen = std::collections::HashSet::new();
    routes.retain(|route| seen.insert(route.clone()));
    for (method, path) in routes {
        if let Some(problem) = block_on(probe(&client, &method, &path))? {
            problems.push(problem);
        }
    }
    Ok(problems)
}

/// Whether `error` is the engine saying nobody serves the route (or its function is gone).
fn is_unserved(error: &anyhow::Error) -> bool {
    let text = error.to_string();
    text.starts_with("route_not_found") || text.starts_with("function_unavailable")
}

/// The problems with the hands of a `GET /v1/hands` answer: files that did not load, and
/// allowed functions that are not live given the `/v1/workers` answer and the catalogue's
/// `manifests`.
/// `config_dir` is where a user hand that replaces a built-in one goes (`hands/<name>/`).
fn hand_problems(hands: &Value, workers: &WorkerList, manifests: &[&WorkerManifest], config_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for e in hands["errors"].as_array().into_iter().flatten() {
        problems.push(format!(
            "hand file {} does not load: {}; fix: correct it, then `agentos hand reload`",
            e["path"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("no message")
        ));
    }
    let row = |name: &str| workers.workers.iter().find(|w| w.name == name);
    for h in hands["hands"].as_array().into_iter().flatten() {
        let hand = h["name"].as_str().unwrap_or("?");
        let edit = match h["source"].as_str() {
            Some("builtin") | None => format!(
                "replace the built-in hand with {} listing only live functions",
                config_dir.join("hands").join(hand).join("HAND.toml").display()
            ),
            Some(path) => format!("correct allowed_functions in {path}"),
        };
        for function in h["allowed_functions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let namespace = function.split("::").next().unwrap_or_default();
            if ENGINE_NAMESPACES.contains(&namespace) || agentos_supervisor::api::functions().contains(&function) {
                continue;
            }
            let Some(owner) = manifests.iter().find(|m| m.all_function_ids().iter().any(|f| f == function)) else {
                problems.push(format!(
                    "hand {hand} allows {function}, which no worker of this build provides; fix: {edit}, then `agentos hand reload`"
                ));
                continue;
            };
            let worker = owner.name;
            match row(worker) {
                None => problems.push(format!(
                    "hand {hand} allows {function}, but its worker {worker} is not enabled; fix: enable {worker} in agentos.toml ([workers]), then `agentos down` and `agentos up`"
                )),
                Some(w) if w.state != WorkerState::Ready || w.functions_registered != w.functions_expected => {
                    problems.push(format!(
                        "hand {hand} allows {function}, but its worker {worker} is not ready; fix: see `agentos logs {worker}`, then `agentos restart {worker}`"
                    ))
                }
                Some(_) => {}
            }
        }
    }
    problems
}

/// Probes a route with an unauthenticated-looking request shape: only "is anything serving this
/// path" matters, so 404 `route_not_found` and 503 `function_unavailable` are problems and any
/// other answer (401, 400, 200, …) means the route exists.
async fn probe(client: &Client, method: &str, path: &str) -> anyhow::Result<Option<String>> {
    let concrete =
        path.split('/').map(|s| if s.starts_with(':') { "doctor-probe" } else { s }).collect::<Vec<_>>().join("/");
    let answer: Value = client.probe(method, &concrete).await?;
    let code = ErrorResponse::deserialize(&answer).map(|r| r.error.code).unwrap_or_default();
    Ok(match code.as_str() {
        "route_not_found" => Some(format!(
            "route {method} {path} is not registered; fix: check that its worker is enabled and ready (`agentos status`)"
        )),
        "function_unavailable" => Some(format!(
            "route {method} {path} has no function behind it; fix: `agentos status` and restart its worker"
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::RestartPolicy;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    static CODE: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
        name: "code-agent",
        description: "test",
        functions: vec!["code::read_file", "code::write_file"],
        http_routes: vec![],
        depends_on: &[],
        restart: RestartPolicy::Always,
    });
    static MEMORY: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
        name: "memory",
        description: "test",
        functions: vec!["memory::recall"],
        http_routes: vec![],
        depends_on: &[],
        restart: RestartPolicy::Always,
    });

    fn workers(code_state: &str) -> WorkerList {
        serde_json::from_value(json!({"workers": [
            {"name": "code-agent", "state": code_state, "functions_registered": 2, "functions_expected": 2},
        ]}))
        .unwrap()
    }

    fn hands(allowed: &[&str]) -> Value {
        json!({"hands": [{"name": "coder", "source": "hands/coder/HAND.toml", "allowed_functions": allowed}], "errors": []})
    }

    #[test]
    fn live_engine_supervisor_and_ready_worker_functions_are_no_problem() {
        let allowed = ["code::read_file", "state::get", "engine::functions::list", "supervisor::status"];
        assert_eq!(
            hand_problems(&hands(&allowed), &workers("ready"), &[&CODE, &MEMORY], Path::new("/cfg")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_hand_function_no_worker_provides_names_the_hand_file() {
        assert_eq!(hand_problems(&hands(&["code::delete_everything"]), &workers("ready"), &[&CODE], Path::new("/cfg")), vec![
            "hand coder allows code::delete_everything, which no worker of this build provides; fix: correct allowed_functions in hands/coder/HAND.toml, then `agentos hand reload`".to_string()
        ]);
    }

    #[test]
    fn a_hand_function_of_a_worker_that_is_down_or_disabled_names_the_worker() {
        assert_eq!(hand_problems(&hands(&["code::read_file", "memory::recall"]), &workers("backoff"), &[&CODE, &MEMORY], Path::new("/cfg")), vec![
            "hand coder allows code::read_file, but its worker code-agent is not ready; fix: see `agentos logs code-agent`, then `agentos restart code-agent`".to_string(),
            "hand coder allows memory::recall, but its worker memory is not enabled; fix: enable memory in agentos.toml ([workers]), then `agentos down` and `agentos up`".to_string(),
        ]);
    }

    #[test]
    fn a_built_in_hand_with_a_missing_function_says_where_to_replace_it() {
        let body = json!({"hands": [{"name": "coder", "source": "builtin", "allowed_functions": ["web::fetch"]}], "errors": []});
        assert_eq!(hand_problems(&body, &workers("ready"), &[&CODE], Path::new("/cfg")), vec![
            "hand coder allows web::fetch, which no worker of this build provides; fix: replace the built-in hand with /cfg/hands/coder/HAND.toml listing only live functions, then `agentos hand reload`".to_string()
        ]);
    }

    #[test]
    fn a_hand_file_that_does_not_load_is_a_problem() {
        let body = json!({"hands": [], "errors": [{"path": "hands/x/HAND.toml", "message": "missing name"}]});
        assert_eq!(
            hand_problems(&body, &workers("ready"), &[], Path::new("/cfg")),
            vec![
                "hand file hands/x/HAND.toml does not load: missing name; fix: correct it, then `agentos hand reload`"
                    .to_string()
            ]
        );
    }

    #[test]
    fn every_route_a_command_calls_is_probed() {
        let all: Vec<_> = CLI_ROUTES.iter().flat_map(|g| g.iter()).collect();
        for route in [
            ("POST", "/v1/chat/stream"),
            ("GET", "/v1/realms/:id/export"),
            ("POST", "/v1/realms/import"),
            ("DELETE", "/v1/agents/:id"),
            ("POST", "/v1/hands/:name/trigger"),
        ] {
            assert!(all.contains(&&route), "{route:?} is not probed");
        }
    }
}
