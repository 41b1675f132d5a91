//! The thin glue between the approval service and the engine: the manifest and the bindings of
//! `approval::*` ids and `/v1/approvals` routes to [`Approvals`].
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one service method and encodes.
//! - Routes are separate functions (`approval::http_list`, ...) because a route's function
//!   receives the HTTP request envelope. Their errors use [`crate::http_status`]: a second decision is
//!   a 409, a request whose turn is gone a 409 `TURN_GONE`, an unknown id a 404.
//! - `GET /v1/approvals/rules` and `GET /v1/approvals/:id` coexist because the engine prefers
//!   the route with more static segments; request ids start with `apr-`, so none is `rules`.
//! - Path parameters arrive raw (not percent-decoded); ids are decoded here, so a grant id
//!   `grant:<session>` sent as `grant%3A<session>` is found.
//! - `[approval]` is read once at start; a bad section stops the worker naming the file.

use std::sync::{Arc, LazyLock};

use agentos_kit::http::HttpResponse;
use agentos_kit::{III, Worker, WorkerError, WorkerManifest};
use agentos_worker_approval_tiers::ApprovalSettings;

use crate::error::ApprovalError;
use crate::service::{Approvals, Config, http_by};
use crate::{Decide, DecideBody, ExpireTurn, Id, ListRequest, NewRequest, NoArgs, Wait};

/// The approval worker's manifest, derived from [`worker`]; `workers/approval/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The approval worker: every `approval::*` function and `/v1/approvals` route over the
/// [`Approvals`] service (whose expiry timer runs from [`Approvals::start`]).
pub fn worker() -> Worker<Arc<Approvals>, ApprovalError> {
    Worker::new(
        "approval",
        "The human gate: pending approval requests with diffs, decisions (once, session, always) from HTTP, CLI and TUI, waiting for them, timeouts, remembered rules.",
    )
    .function(
        "approval::request",
        "Files a pending approval request: {session_id, function_id, arguments, tier, rule, reason?, agent?, hand?, realm?, tool_call_id?, turn_id?} -> Request {id, status, created_ms, expires_ms, ..., diff?}.",
        |s: Arc<Approvals>, req: NewRequest| async move { s.request(req).await },
    )
    .function(
        "approval::decide",
        "Decides a request, first decision wins: {id, decision: approve|deny, scope?: once|session|always, note?, by?: {who?, via}} -> the decided Request; CONFLICT when already decided.",
        |s: Arc<Approvals>, req: Decide| async move { s.decide(req).await },
    )
    .function("approval::get", "One request: {id} -> Request.", |s: Arc<Approvals>, req: Id| async move {
        s.get(&req.id).await
    })
    .function(
        "approval::list",
        "Requests, pending first then newest: {all?, session_id?} -> {approvals: [Request]}.",
        |s: Arc<Approvals>, req: ListRequest| async move { s.list(req.all, req.session_id.as_deref()).await },
    )
    .function(
        "approval::wait",
        "Waits for a decision: {id, timeout_ms? (default 30000, at most 60000)} -> the Request, decided or still pending.",
        |s: Arc<Approvals>, req: Wait| async move { s.wait(&req.id, req.timeout_ms).await },
    )
    .function(
        "approval::expire_turn",
        "Expires the pending requests of a turn that is gone (deciding them is then TURN_GONE): {session_id, turn_id?, reason} -> {expired: [Request]}.",
        |s: Arc<Approvals>, req: ExpireTurn| async move { s.expire_turn(req).await },
    )
    .function(
        "approval::rules",
        "The remembered approvals: {} -> {rules: [{id, function_id, arguments, created_ms, by, from_request}], grants: [{session_id, functions, updated_ms}]}.",
        |s: Arc<Approvals>, _: NoArgs| async move { s.rules().await },
    )
    .function(
        "approval::delete_rule",
        "Forgets a remembered rule (or a session grant, id grant:<session>): {id} -> {deleted}.",
        |s: Arc<Approvals>, req: Id| async move { s.delete_rule(&req.id).await },
    )
    // GET /v1/approvals: pending requests (`?all=1` adds the history, `?session_id=` filters).
    .route("approval::http_list", "GET", "/v1/approvals", |s, req| async move {
        let all = req.query("all").is_some_and(truthy);
        Ok(HttpResponse::ok(s.list(all, req.query("session_id")).await?))
    })
    // GET /v1/approvals/rules: the remembered rules and session grants.
    .route("approval::http_rules", "GET", "/v1/approvals/rules", |s, _req| async move {
        Ok(HttpResponse::ok(s.rules().await?))
    })
    // DELETE /v1/approvals/rules/:id: forget a remembered rule or a grant.
    .route("approval::http_delete_rule", "DELETE", "/v1/approvals/rules/:id", |s, req| async move {
        let id = decoded(req.path_param("id")?);
        Ok(HttpResponse::ok(s.delete_rule(&id).await?))
    })
    // GET /v1/approvals/:id: one request.
    .route("approval::http_get", "GET", "/v1/approvals/:id", |s, req| async move {
        let id = decoded(req.path_param("id")?);
        Ok(HttpResponse::ok(s.get(&id).await?))
    })
    // POST /v1/approvals/:id: decide it (body: DecideBody).
    .route("approval::http_decide", "POST", "/v1/approvals/:id", |s, req| async move {
        let id = decoded(req.path_param("id")?);
        let body: DecideBody = req.body_as()?;
        let by = http_by(req.header("x-agentos-user"), body.via);
        let decide = Decide { id, decision: body.decision, scope: body.scope, note: body.note, by: Some(by) };
        Ok(HttpResponse::ok(s.decide(decide).await?))
    })
}

/// Runs the approval worker as its own process until SIGTERM or SIGINT (`agentos worker
/// approval`). Refuses to start, naming the file, when `[approval]` is invalid.
pub fn run() -> Result<(), WorkerError> {
    let settings = ApprovalSettings::load()
        .map_err(|e| WorkerError::new(e.code.clone(), format!("{} cannot start: {}", MANIFEST.name, e.message)))?;
    let config = Config::from(&settings);
    tracing::info!(
        worker = MANIFEST.name,
        timeout_secs = settings.timeout_secs,
        max_pending_per_agent = settings.max_pending_per_agent,
        "approval settings"
    );
    worker().run(|iii| Ok(Approvals::start(iii, config)))
}

/// Starts the [`Approvals`] service (its expiry timer: call inside a tokio runtime) and
/// registers every `approval::*` function and `/v1/approvals` route on `iii` over it. Routes
/// check `Authorization: Bearer <api_key>`; with `None` they refuse every request (a warning is
/// logged). Returns the service, which tests may stop to simulate the end of the process.
pub fn register(iii: &III, api_key: Option<Arc<str>>, config: Config) -> Arc<Approvals> {
    let service = Approvals::start(iii, config);
    worker().register(iii, Arc::clone(&service), api_key);
    service
}

/// `1`, `true`, `yes` (any case).
fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")
}

/// A raw path segment percent-decoded; a malformed escape is kept as it is.
pub use agentos_kit::url::decode_segment as decoded;

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function_and_the_manifest_is_valid() {
        for verb in ["request", "decide", "get", "list", "wait", "expire_turn", "rules", "delete_rule"] {
            let id = format!("approval::{verb}");
            assert!(MANIFEST.functions.contains(&id.as_str()), "{id} is missing");
        }
        assert_eq!(MANIFEST.validate(), Ok(()));
    }

    #[test]
    fn path_ids_are_percent_decoded_and_a_bad_escape_is_kept() {
        assert_eq!(decoded("grant%3As1"), "grant:s1");
        assert_eq!(decoded("apr-1a2b"), "apr-1a2b");
        assert_eq!(decoded("100%"), "100%");
        assert_eq!(decoded("%zz%C3%A9"), "%zzé");
    }

    #[test]
    fn all_reads_one_true_or_yes() {
        assert!(truthy("1") && truthy("TRUE") && truthy("yes"));
        assert!(!truthy("0") && !truthy("") && !truthy("no"));
    }
}
