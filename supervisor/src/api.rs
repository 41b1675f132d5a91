//! What the supervisor serves on the bus and the REST port: `supervisor::status`,
//! `supervisor::restart`, `GET /v1/health` (no key), `GET /v1/workers` and
//! `POST /v1/workers/:name/restart`. Handlers read the driver's published snapshot and send
//! restart requests to the driver; they never touch processes themselves.

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::http::{HttpRequest, HttpResponse, register_route};
use agentos_kit::{HttpRoute, III, WorkerError, codes, register_typed};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::run::{Command, WorkerStatus};

/// How long a restart request waits for the driver.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The supervisor's routes.
pub const ROUTES: &[HttpRoute] = &[
    HttpRoute { method: "GET", path: "/v1/health", function_id: "supervisor::http_health" },
    HttpRoute { method: "GET", path: "/v1/workers", function_id: "supervisor::http_workers" },
    HttpRoute { method: "POST", path: "/v1/workers/:name/restart", function_id: "supervisor::http_restart" },
];

/// The functions the supervisor registers (for `doctor` and the duplicate check).
pub const FUNCTIONS: &[&str] = &[
    "supervisor::status",
    "supervisor::restart",
    "supervisor::http_health",
    "supervisor::http_workers",
    "supervisor::http_restart",
];

type Snapshot = Arc<std::sync::Mutex<Vec<WorkerStatus>>>;

fn rows(snapshot: &Snapshot) -> Vec<WorkerStatus> {
    snapshot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().map(WorkerStatus::refreshed).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestartRequest {
    name: String,
}

async fn restart(commands: &mpsc::UnboundedSender<Command>, name: String) -> Result<Value, WorkerError> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Restart(name.clone(), reply))
        .map_err(|_| WorkerError::new(codes::ENGINE_UNAVAILABLE, "the supervisor is shutting down"))?;
    match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
        Ok(Ok(Ok(()))) => Ok(json!({ "restarting": name })),
        Ok(Ok(Err(message))) => Err(WorkerError::not_found(message)),
        _ => Err(WorkerError::new(codes::TIMEOUT, "the supervisor did not answer the restart request")),
    }
}

/// Registers every supervisor function and route on `iii`.
pub(crate) fn register(iii: &III, snapshot: Snapshot, commands: mpsc::UnboundedSender<Command>, api_key: &str) {
    let key: Option<Arc<str>> = Some(Arc::from(api_key));
    let s = snapshot.clone();
    register_typed(iii, "supervisor::status", "Every worker's state", move |_: Value| {
        let rows = rows(&s);
        async move { Ok(json!({ "workers": rows })) }
    });
    let c = commands.clone();
    register_typed(iii, "supervisor::restart", "Restart one worker", move |req: RestartRequest| {
        let c = c.clone();
        async move { restart(&c, req.name).await }
    });
    let s = snapshot.clone();
    let routes = [
        register_route(iii, "supervisor", ROUTES[0], key.clone(), move |_: HttpRequest| {
            let rows = rows(&s);
            async move {
                let ready = rows.iter().filter(|r| r.state == crate::run::WorkerState::Ready).count();
                Ok(HttpResponse::ok(json!({ "status": "ok", "workers": rows.len(), "ready": ready })))
            }
        }),
        register_route(iii, "supervisor", ROUTES[1], key.clone(), move |_: HttpRequest| {
            let rows = rows(&snapshot);
            async move { Ok(HttpResponse::ok(json!({ "workers": rows }))) }
        }),
        register_route(iii, "supervisor", ROUTES[2], key, move |req: HttpRequest| {
            let c = commands.clone();
            async move {
                let name = req.path_param("name").unwrap_or_default().to_string();
                Ok(HttpResponse::json(202, restart(&c, name).await?))
            }
        }),
    ];
    for r in routes {
        if let Err(e) = r {
            tracing::error!("cannot register a supervisor route: {e}");
        }
    }
}
