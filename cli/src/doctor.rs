//! `agentos doctor`: checks a running stack and says how to fix each problem. Exits non-zero
//! when anything is wrong.
//!
//! Checks: the API key file's permissions; the engine answers; every worker is ready with every
//! manifest function registered; every HTTP route the CLI and workers declare is served (a
//! route whose function is missing answers 503, a route nobody registered 404); no two workers
//! of the catalogue claim the same function.

use agentos_supervisor::Home;
use serde_json::Value;

use crate::client::Client;
use crate::status::block_on;

/// The routes the CLI itself calls.
const CLI_ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/health"), ("GET", "/v1/workers"), ("POST", "/v1/workers/:name/restart")];

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
    let workers = match block_on(client.get("/v1/workers")) {
        Ok(body) => body,
        Err(e) => {
            problems.push(format!("the engine or the supervisor does not answer: {e}; fix: `agentos down` then `agentos up`, and see `agentos logs engine`"));
            return Ok(problems);
        }
    };
    for w in workers["workers"].as_array().into_iter().flatten() {
        let name = w["name"].as_str().unwrap_or("?");
        if w["state"] != "ready" {
            let error = w["last_error"].as_str().unwrap_or("no error recorded");
            problems.push(format!(
                "worker {name} is {} ({error}); fix: see `agentos logs {name}`, then `agentos restart {name}`",
                w["state"].as_str().unwrap_or("?")
            ));
        }
        if w["functions_registered"] != w["functions_expected"] {
            problems.push(format!(
                "worker {name} registered {} of its {} functions; fix: see `agentos logs {name}`",
                w["functions_registered"], w["functions_expected"]
            ));
        }
    }
    let mut routes: Vec<(String, String)> = CLI_ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for m in &manifests {
        routes.extend(m.http_routes.iter().map(|r| (r.method.to_string(), r.path.to_string())));
    }
    for (method, path) in routes {
        if let Some(problem) = block_on(probe(&client, &method, &path))? {
            problems.push(problem);
        }
    }
    Ok(problems)
}

/// Probes a route with an unauthenticated-looking request shape: only "is anything serving this
/// path" matters, so 404 `route_not_found` and 503 `function_unavailable` are problems and any
/// other answer (401, 400, 200, …) means the route exists.
async fn probe(client: &Client, method: &str, path: &str) -> anyhow::Result<Option<String>> {
    let concrete =
        path.split('/').map(|s| if s.starts_with(':') { "doctor-probe" } else { s }).collect::<Vec<_>>().join("/");
    let answer: Value = client.probe(method, &concrete).await?;
    let code = answer["error"]["code"].as_str().unwrap_or_default();
    Ok(match code {
        "route_not_found" => Some(format!(
            "route {method} {path} is not registered; fix: check that its worker is enabled and ready (`agentos status`)"
        )),
        "function_unavailable" => Some(format!(
            "route {method} {path} has no function behind it; fix: `agentos status` and restart its worker"
        )),
        _ => None,
    })
}
