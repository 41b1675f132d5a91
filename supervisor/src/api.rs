//! What the supervisor serves on the bus and the REST port: `supervisor::status`,
//! `supervisor::restart`, `GET /v1/health` (no key), `GET /v1/workers`,
//! `POST /v1/workers/:name/restart` and `GET /v1/workers/:name/logs`. Handlers read the driver's
//! published snapshot and send restart requests to the driver; they never touch processes
//! themselves. The log route reads the worker's log file (the one `agentos logs` reads), its end
//! only, off the async threads.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::http::HttpResponse;
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, codes};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::home::Home;
use agentos_protocol::status::WorkerList;

use crate::run::{Command, Published, WorkerStatus};

/// How long a restart request waits for the driver.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// What the supervisor serves, derived from [`declaration`] (for `doctor` and the duplicate
/// check). It is not a worker of the catalogue: `agentos up` registers it itself.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| declaration().into_manifest());

/// The functions the supervisor registers.
pub fn functions() -> &'static [&'static str] {
    &MANIFEST.functions
}

/// What the supervisor's handlers share: the driver's published snapshot, its command queue,
/// and where the worker logs are.
#[derive(Clone)]
pub(crate) struct Api {
    snapshot: Snapshot,
    commands: mpsc::UnboundedSender<Command>,
    home: Home,
}

/// Every supervisor function and route.
fn declaration() -> Worker<Api> {
    Worker::new("supervisor", "agentos up: every worker's state, restarts and logs.")
        .function("supervisor::status", "Every worker's state", |api: Api, _: Value| async move {
            Ok::<_, WorkerError>(WorkerList { workers: rows(&api.snapshot) })
        })
        .function("supervisor::restart", "Restart one worker", |api: Api, req: RestartRequest| async move {
            restart(&api.commands, req.name).await
        })
        .route("supervisor::http_health", "GET", "/v1/health", |api, _req| async move {
            let rows = rows(&api.snapshot);
            let ready = rows.iter().filter(|r| r.state == crate::run::WorkerState::Ready).count();
            Ok(HttpResponse::ok(json!({ "status": "ok", "workers": rows.len(), "ready": ready })))
        })
        .route("supervisor::http_workers", "GET", "/v1/workers", |api, _req| async move {
            Ok(HttpResponse::ok(WorkerList { workers: rows(&api.snapshot) }))
        })
        .route("supervisor::http_restart", "POST", "/v1/workers/:name/restart", |api, req| async move {
            let name = req.path_param("name").unwrap_or_default().to_string();
            Ok(HttpResponse::json(202, restart(&api.commands, name).await?))
        })
        .route("supervisor::http_logs", "GET", "/v1/workers/:name/logs", |api, req| async move {
            let rows = rows(&api.snapshot);
            let name = req.path_param("name")?.to_string();
            let lines = req.query("lines").map(str::to_string);
            // File reads block: they run on tokio's blocking pool, never on the bus threads.
            let answer = tokio::task::spawn_blocking(move || worker_logs(&rows, &api.home, &name, lines.as_deref()))
                .await
                .map_err(|e| WorkerError::internal(format!("reading the log failed: {e}")))??;
            Ok(HttpResponse::ok(answer))
        })
}

/// Lines `GET /v1/workers/:name/logs` answers without `lines`: a screenful or two.
pub const LOG_LINES_DEFAULT: usize = 200;
/// The most lines it answers: enough to scroll back through a crash, small enough (a few
/// hundred KiB) to send in one JSON answer.
pub const LOG_LINES_MAX: usize = 5000;

type Snapshot = Arc<std::sync::Mutex<Vec<Published>>>;

fn rows(snapshot: &Snapshot) -> Vec<WorkerStatus> {
    snapshot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().map(Published::refreshed).collect()
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

/// How many lines a `lines` query value asks for; `INVALID_INPUT` naming the range otherwise.
fn log_lines(raw: Option<&str>) -> Result<usize, WorkerError> {
    let Some(raw) = raw else { return Ok(LOG_LINES_DEFAULT) };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=LOG_LINES_MAX).contains(&n) => Ok(n),
        _ => Err(WorkerError::invalid_input(format!(
            "lines must be a whole number from 1 to {LOG_LINES_MAX} (got '{raw}'); leave it out for the last {LOG_LINES_DEFAULT}"
        ))),
    }
}

/// The answer of `GET /v1/workers/:name/logs`: `{worker, lines, path}` with the last `lines` of
/// the worker's log file in `home`, or `NOT_FOUND` naming the workers `rows` lists. A worker
/// that has not written anything yet has no lines.
pub fn worker_logs(rows: &[WorkerStatus], home: &Home, name: &str, lines: Option<&str>) -> Result<Value, WorkerError> {
    if !rows.iter().any(|r| r.name == name) {
        let known: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        return Err(WorkerError::not_found(format!("no worker named '{name}'; known: {}", known.join(", "))));
    }
    let n = log_lines(lines)?;
    let path = home.log_file(name);
    let tail = match crate::logfile::tail(&path, n) {
        Ok(tail) => tail,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(WorkerError::internal(format!("cannot read {}: {e}", path.display()))),
    };
    Ok(json!({ "worker": name, "lines": tail, "path": path.display().to_string() }))
}

/// Registers every supervisor function and route on `iii`; worker logs are read from `home`.
pub(crate) fn register(
    iii: &III,
    snapshot: Snapshot,
    commands: mpsc::UnboundedSender<Command>,
    api_key: &str,
    home: Home,
) {
    declaration().register(iii, Api { snapshot, commands, home }, Some(Arc::from(api_key)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::WorkerState;
    use pretty_assertions::assert_eq;

    fn row(name: &str) -> WorkerStatus {
        WorkerStatus {
            name: name.into(),
            description: String::new(),
            state: WorkerState::Ready,
            pid: Some(1),
            restarts: 0,
            uptime_ms: Some(1),
            functions_registered: 1,
            functions_expected: 1,
            last_error: None,
            problem: None,
            launched_at_ms: Some(0),
            ready_after_ms: Some(1),
        }
    }

    fn home_with_log(lines: usize) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::under(dir.path());
        home.create_all().unwrap();
        let text: String = (0..lines).map(|i| format!("realm line {i}\n")).collect();
        std::fs::write(home.log_file("realm"), text).unwrap();
        (dir, home)
    }

    #[test]
    fn a_workers_log_answers_its_last_lines_and_where_they_are() {
        let (_dir, home) = home_with_log(300);
        let rows = [row("realm")];
        let answer = worker_logs(&rows, &home, "realm", Some("2")).unwrap();
        let path = home.log_file("realm").display().to_string();
        assert_eq!(answer, json!({"worker": "realm", "lines": ["realm line 298", "realm line 299"], "path": path}));
        let default = worker_logs(&rows, &home, "realm", None).unwrap();
        assert_eq!(default["lines"].as_array().unwrap().len(), LOG_LINES_DEFAULT);
        assert_eq!(default["lines"][0], "realm line 100");
    }

    #[test]
    fn an_unknown_worker_is_not_found_and_the_message_names_the_workers() {
        let (_dir, home) = home_with_log(1);
        let err = worker_logs(&[row("realm"), row("approval")], &home, "../secrets", None).unwrap_err();
        assert_eq!(err.code, codes::NOT_FOUND);
        assert_eq!(err.message, "no worker named '../secrets'; known: realm, approval");
    }

    #[test]
    fn lines_out_of_range_or_not_a_number_are_invalid_input_naming_the_range() {
        let (_dir, home) = home_with_log(1);
        for bad in ["0", "5001", "-3", "ten", ""] {
            let err = worker_logs(&[row("realm")], &home, "realm", Some(bad)).unwrap_err();
            assert_eq!(err.code, codes::INVALID_INPUT, "{bad}");
            assert!(err.message.contains("from 1 to 5000"), "{}", err.message);
        }
        assert!(worker_logs(&[row("realm")], &home, "realm", Some("5000")).is_ok());
    }

    #[test]
    fn a_worker_that_never_wrote_has_no_lines() {
        let home = Home::under(tempfile::tempdir().unwrap().path());
        let answer = worker_logs(&[row("memory")], &home, "memory", None).unwrap();
        assert_eq!(answer["lines"], json!([]));
    }
}
