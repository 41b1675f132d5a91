//! The driver: carries out what the pure functions of the crate root decide, over the engine's
//! state, `code::read_file` (for diffs) and `publish` (for live inboxes), and runs the expiry
//! timer.
//!
//! Rules it keeps:
//! - State is the truth. The process keeps only an index of pending expiry times (rebuilt at
//!   start from `approval:requests`) and a change counter that wakes waiters.
//! - Requests and decisions run under one async mutex, so the pending limit and "the first
//!   decision wins" hold however many surfaces answer at once. Events and history pruning happen
//!   after the lock is released; their failures are logged, never the caller's.
//! - The timer denies each request when its `expires_ms` passes. It starts with a sweep of the
//!   stored requests (retried until the engine answers), so requests that expired while the
//!   worker was down are denied as soon as it is back.
//! - `wait` blocks at most [`crate::MAX_WAIT`]; a request found expired there is denied on the
//!   spot (the timer may be behind), so a waiter never sees a request pending past its expiry.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use agentos_kit::{ErrorCode, III, WorkerError, call, clock, codes, state};
use agentos_worker_approval_tiers::{AlwaysRule, ApprovalSettings, By, GRANTS_SCOPE, RULES_SCOPE, SessionGrant, Via};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::diff::{DiffSource, source, write_diff};
use crate::error::ApprovalError;
use crate::{
    Decide, Deleted, EVENTS_TOPIC, ExpireTurn, Expired, GRANT_PREFIX, HISTORY_LIMIT, Listing, NewRequest,
    REQUESTS_SCOPE, Remembered, Request, Scope, Status, Verdict, check_pending_limit, decide, expire_gone, gone_from,
    granted, history_to_prune, listing, new_id, new_request, overdue, remembered, timeout_decision, wait_for, waits_on,
};

/// How long reading the current file for a diff may take: a local file read through the
/// code-agent; past 5 s the request is made without a diff rather than holding up the turn.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long agent-core may take to say whether a turn still runs (an in-memory lookup): past
/// 2 s the decision goes ahead, as before the question existed.
const RUNNING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a `publish` may take: an in-engine fan-out; an event is not worth holding a decision.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the timer waits before trying again when the engine did not answer (the SDK
/// reconnects every 2 s, so a little more than that).
const RETRY: Duration = Duration::from_secs(3);

/// The worker's settings, from `[approval]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long a request waits for a decision before it is denied.
    pub timeout: Duration,
    /// Pending requests per agent (per session without an agent).
    pub max_pending: usize,
}

impl From<&ApprovalSettings> for Config {
    fn from(s: &ApprovalSettings) -> Self {
        Self { timeout: Duration::from_secs(s.timeout_secs), max_pending: s.max_pending_per_agent }
    }
}

/// The approval service of one worker process.
pub struct Approvals {
    iii: III,
    config: Config,
    /// Serialises requests and decisions.
    gate: tokio::sync::Mutex<()>,
    /// Bumped after every decision; waiters watch it.
    changed: watch::Sender<u64>,
    /// Pending requests by expiry: `(expires_ms, id)`.
    expiries: Mutex<BTreeSet<(u64, String)>>,
    /// Wakes the timer when an earlier expiry arrives.
    wake: Notify,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl Approvals {
    /// The service over `iii`, with its timer started (call inside a tokio runtime).
    pub fn start(iii: &III, config: Config) -> Arc<Self> {
        let this = Arc::new(Self {
            iii: iii.clone(),
            config,
            gate: tokio::sync::Mutex::new(()),
            changed: watch::Sender::new(0),
            expiries: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
            timer: Mutex::new(None),
        });
        let task = tokio::spawn(Arc::clone(&this).run_timer());
        *lock(&this.timer) = Some(task);
        this
    }

    /// Stops the timer (what the end of the process does; tests call it to simulate one).
    pub fn stop(&self) {
        if let Some(task) = lock(&self.timer).take() {
            task.abort();
        }
    }

    /// `approval::request`: files a pending request, with a diff for file changes.
    pub async fn request(&self, req: NewRequest) -> Result<Request, ApprovalError> {
        crate::check_new(&req)?;
        let diff = self.diff(&req.function_id, &req.arguments).await;
        let made = {
            let _serialised = self.gate.lock().await;
            let existing: Vec<Request> = state::list(&self.iii, REQUESTS_SCOPE).await?;
            check_pending_limit(&existing, &req, self.config.max_pending)?;
            let made = new_request(new_id(), req, clock::now_ms(), self.config.timeout, diff)?;
            state::set(&self.iii, REQUESTS_SCOPE, &made.id, &made).await?;
            made
        };
        self.schedule(made.expires_ms, &made.id);
        tracing::info!(id = %made.id, function_id = %made.function_id, session_id = %made.session_id, "approval requested");
        self.publish("approval_requested", &made).await;
        Ok(made)
    }

    /// `approval::decide` from a person: `timeout` is not theirs to claim.
    pub async fn decide(&self, input: Decide) -> Result<Request, ApprovalError> {
        if input.by.as_ref().is_some_and(|b| b.via == Via::Timeout) {
            return Err(ApprovalError::InvalidInput(
                "by.via \"timeout\" is reserved for requests nobody decided in time; send http, cli or tui".into(),
            ));
        }
        self.check_turn(&input.id).await?;
        self.apply(input, None).await
    }

    /// `TURN_GONE` (after expiring the request) when request `id` is pending, names its turn,
    /// and agent-core says that turn no longer runs ([`gone_from`]).
    async fn check_turn(&self, id: &str) -> Result<(), ApprovalError> {
        let stored = self.get(id).await?;
        let Some(turn_id) = stored.turn_id.clone().filter(|_| stored.decision.is_none()) else {
            return Ok(());
        };
        let input = json!({"session_id": stored.session_id});
        let answer = call::<_, Value>(&self.iii, "agent::running", &input, RUNNING_TIMEOUT).await;
        let running = match &answer {
            Ok(v) => Ok(v["running"].as_bool().unwrap_or(true)),
            Err(e) => Err(e.code.as_str()),
        };
        let Some(reason) = gone_from(running) else { return Ok(()) };
        let expire =
            ExpireTurn { session_id: stored.session_id.clone(), turn_id: Some(turn_id), reason: reason.into() };
        self.expire_turn(expire).await?;
        Err(ApprovalError::TurnGone { id: id.to_string(), reason: reason.to_string() })
    }

    /// `approval::expire_turn`: expires the pending requests whose turn is gone (of the session,
    /// or of one turn of it), so nobody approves a call that can no longer run.
    pub async fn expire_turn(&self, req: ExpireTurn) -> Result<Expired, ApprovalError> {
        if req.session_id.trim().is_empty() || req.reason.trim().is_empty() {
            return Err(ApprovalError::InvalidInput(
                "approval::expire_turn: send the session_id whose turn is gone and the reason, in words a person reads"
                    .into(),
            ));
        }
        let expired = {
            let _serialised = self.gate.lock().await;
            let all: Vec<Request> = state::list(&self.iii, REQUESTS_SCOPE).await?;
            let now = clock::now_ms();
            let mut expired = Vec::new();
            for request in all.iter().filter(|r| waits_on(r, &req.session_id, req.turn_id.as_deref())) {
                if let Some(done) = expire_gone(request, &req.reason, now) {
                    state::set(&self.iii, REQUESTS_SCOPE, &done.id, &done).await?;
                    expired.push(done);
                }
            }
            expired
        };
        if expired.is_empty() {
            return Ok(Expired { expired });
        }
        for request in &expired {
            self.unschedule(request.expires_ms, &request.id);
            tracing::info!(id = %request.id, session_id = %request.session_id, reason = %req.reason, "approval expired: its turn is gone");
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        for request in &expired {
            self.publish("approval_decided", request).await;
        }
        self.prune().await;
        Ok(Expired { expired })
    }

    /// `approval::get`.
    pub async fn get(&self, id: &str) -> Result<Request, ApprovalError> {
        state::get::<Request>(&self.iii, REQUESTS_SCOPE, id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound { id: id.to_string() })
    }

    /// `approval::list`.
    pub async fn list(&self, all: bool, session_id: Option<&str>) -> Result<Listing, ApprovalError> {
        let requests: Vec<Request> = state::list(&self.iii, REQUESTS_SCOPE).await?;
        Ok(Listing { approvals: listing(requests, all, session_id) })
    }

    /// `approval::wait`: the request once decided, or as it is after `timeout_ms`.
    pub async fn wait(&self, id: &str, timeout_ms: Option<u64>) -> Result<Request, ApprovalError> {
        let deadline = Instant::now() + wait_for(timeout_ms);
        let mut changes = self.changed.subscribe();
        loop {
            changes.borrow_and_update();
            let request = self.get(id).await?;
            if request.decision.is_some() {
                return Ok(request);
            }
            let now = clock::now_ms();
            if now >= request.expires_ms {
                return self.expire(id).await;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(request);
            }
            let until_expiry = Duration::from_millis(request.expires_ms - now);
            tokio::select! {
                _ = changes.changed() => {}
                () = tokio::time::sleep(left.min(until_expiry)) => {}
            }
        }
    }

    /// `approval::rules`: the remembered rules and the session grants.
    pub async fn rules(&self) -> Result<Remembered, ApprovalError> {
        let mut rules: Vec<AlwaysRule> = state::list(&self.iii, RULES_SCOPE).await?;
        let mut grants: Vec<SessionGrant> = state::list(&self.iii, GRANTS_SCOPE).await?;
        rules.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
        grants.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(a.session_id.cmp(&b.session_id)));
        Ok(Remembered { rules, grants })
    }

    /// `approval::delete_rule`: forgets an `always` rule, or a session's grant (`grant:<session>`).
    pub async fn delete_rule(&self, id: &str) -> Result<Deleted, ApprovalError> {
        let deleted = match id.strip_prefix(GRANT_PREFIX) {
            Some(session) => state::delete(&self.iii, GRANTS_SCOPE, session).await?,
            None => state::delete(&self.iii, RULES_SCOPE, id).await?,
        };
        if deleted {
            tracing::info!(id, "remembered rule forgotten");
            return Ok(Deleted { deleted: id.to_string() });
        }
        let all = self.rules().await?;
        let mut known: Vec<String> = all.rules.into_iter().map(|r| r.id).collect();
        known.extend(all.grants.into_iter().map(|g| format!("{GRANT_PREFIX}{}", g.session_id)));
        known.sort();
        Err(ApprovalError::RuleNotFound { id: id.to_string(), known })
    }

    /// Decides `input` (the first decision wins), stores what an approval leaves behind, wakes
    /// waiters and publishes the decision. With `expired_at`, only a request whose expiry has
    /// passed by then is decided (the timer's and `wait`'s own denials). A person's decision on a
    /// request past its expiry that the timer has not reached yet denies it by timeout and is
    /// `CONFLICT` naming that ([`overdue`]).
    async fn apply(&self, input: Decide, expired_at: Option<u64>) -> Result<Request, ApprovalError> {
        let (decided, late) = {
            let _serialised = self.gate.lock().await;
            let stored = self.get(&input.id).await?;
            if let Some(now) = expired_at
                && stored.decision.is_none()
                && stored.expires_ms > now
            {
                // Not due (a stale timer entry): leave it pending, and keep it scheduled.
                self.schedule(stored.expires_ms, &stored.id);
                return Ok(stored);
            }
            let now = clock::now_ms();
            let (input, late) = overdue(&stored, input, now, self.config.timeout);
            let decided = decide(&stored, &input, now)?;
            if let Some(d) = &decided.decision
                && d.decision == Verdict::Approve
            {
                match d.scope {
                    Scope::Once => {}
                    Scope::Session => {
                        let existing: Option<SessionGrant> =
                            state::get(&self.iii, GRANTS_SCOPE, &decided.session_id).await?;
                        let grant = granted(existing, &decided.session_id, &decided.function_id, d.decided_ms);
                        state::set(&self.iii, GRANTS_SCOPE, &decided.session_id, &grant).await?;
                    }
                    Scope::Always => {
                        if let Some(rule) = remembered(&decided) {
                            state::set(&self.iii, RULES_SCOPE, &rule.id, &rule).await?;
                        }
                    }
                }
            }
            state::set(&self.iii, REQUESTS_SCOPE, &decided.id, &decided).await?;
            (decided, late)
        };
        self.unschedule(decided.expires_ms, &decided.id);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        if let Some(d) = &decided.decision {
            tracing::info!(id = %decided.id, decision = %d.summary(), "approval decided");
        }
        self.publish("approval_decided", &decided).await;
        self.prune().await;
        match (late, decided.decision) {
            // A person answered after the expiry: the timeout was first, and they are told so.
            (true, Some(first)) => Err(ApprovalError::AlreadyDecided { id: decided.id, decision: Box::new(first) }),
            (_, decision) => Ok(Request { decision, ..decided }),
        }
    }

    /// Denies request `id` by timeout if it is due; the request as it is afterwards (decided by
    /// whoever was first).
    async fn expire(&self, id: &str) -> Result<Request, ApprovalError> {
        let stored = self.get(id).await?;
        let input = timeout_decision(&stored, self.config.timeout);
        match self.apply(input, Some(clock::now_ms())).await {
            Ok(request) => Ok(request),
            Err(ApprovalError::AlreadyDecided { .. }) => self.get(id).await,
            Err(e) => Err(e),
        }
    }

    /// The diff a request for `function_id` shows; `None` (logged) when it cannot be built.
    async fn diff(&self, function_id: &str, arguments: &Value) -> Option<String> {
        match source(function_id, arguments)? {
            DiffSource::Patch(patch) => Some(crate::diff::cap(patch)),
            DiffSource::WriteFile { path, content } => {
                #[derive(Deserialize)]
                struct FileContent {
                    content: String,
                }
                let input = json!({"path": path});
                let old = match call::<_, FileContent>(&self.iii, "code::read_file", &input, READ_TIMEOUT).await {
                    Ok(file) => file.content,
                    Err(e) if e.code == codes::NOT_FOUND => String::new(),
                    Err(e) => {
                        tracing::warn!(path, code = %e.code, message = %e.message, "no diff: the current file could not be read");
                        return None;
                    }
                };
                Some(write_diff(&path, &old, &content))
            }
        }
    }

    /// Publishes `{"event": event, "data": request}` on [`EVENTS_TOPIC`]; a failure is logged.
    async fn publish(&self, event: &str, request: &Request) {
        let message = json!({"topic": EVENTS_TOPIC, "data": {"event": event, "data": request}});
        if let Err(e) = call::<_, Value>(&self.iii, "publish", &message, PUBLISH_TIMEOUT).await {
            tracing::warn!(event, id = %request.id, code = %e.code, message = %e.message, "could not publish the event");
        }
    }

    /// Deletes the decided requests beyond [`HISTORY_LIMIT`]; a failure is logged (the next
    /// decision tries again).
    async fn prune(&self) {
        let all = match state::list::<Request>(&self.iii, REQUESTS_SCOPE).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(code = %e.code, message = %e.message, "could not list requests to prune the history");
                return;
            }
        };
        for id in history_to_prune(&all, HISTORY_LIMIT) {
            if let Err(e) = state::delete(&self.iii, REQUESTS_SCOPE, &id).await {
                tracing::warn!(id, code = %e.code, message = %e.message, "could not prune a decided request");
            }
        }
    }

    /// Adds a pending request's expiry to the timer.
    fn schedule(&self, expires_ms: u64, id: &str) {
        lock(&self.expiries).insert((expires_ms, id.to_string()));
        self.wake.notify_one();
    }

    /// Removes a decided request from the timer.
    fn unschedule(&self, expires_ms: u64, id: &str) {
        lock(&self.expiries).remove(&(expires_ms, id.to_string()));
    }

    /// The start-up sweep (until it succeeds), then the timer loop.
    async fn run_timer(self: Arc<Self>) {
        loop {
            match self.load_pending().await {
                Ok(n) => {
                    tracing::info!(pending = n, "approval timer started");
                    break;
                }
                Err(e) => {
                    tracing::warn!(code = %e.code, message = %e.message, "cannot read the pending approvals yet; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        loop {
            let now = clock::now_ms();
            let due: Vec<(u64, String)> = {
                let mut expiries = lock(&self.expiries);
                let later = expiries.split_off(&(now.saturating_add(1), String::new()));
                std::mem::replace(&mut *expiries, later).into_iter().collect()
            };
            for (expires_ms, id) in due {
                match self.expire(&id).await {
                    Ok(request) if request.status == Status::Pending => {}
                    Ok(_) | Err(ApprovalError::NotFound { .. }) => {}
                    Err(e) => {
                        tracing::warn!(id, code = e.code(), "could not deny an expired request: {e}; retrying");
                        let retry_ms = u64::try_from(RETRY.as_millis()).unwrap_or(u64::MAX);
                        lock(&self.expiries).insert((expires_ms.max(now).saturating_add(retry_ms), id));
                    }
                }
            }
            let next = lock(&self.expiries).first().map(|(at, _)| *at);
            match next {
                Some(at) => {
                    let pause = Duration::from_millis(at.saturating_sub(clock::now_ms()));
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// Fills the timer from the stored pending requests; how many there are.
    async fn load_pending(&self) -> Result<usize, WorkerError> {
        let requests: Vec<Request> = state::list(&self.iii, REQUESTS_SCOPE).await?;
        let pending: Vec<(u64, String)> =
            requests.into_iter().filter(|r| r.status == Status::Pending).map(|r| (r.expires_ms, r.id)).collect();
        let n = pending.len();
        lock(&self.expiries).extend(pending);
        Ok(n)
    }
}

/// Who decided through HTTP: the `x-agentos-user` header (if any) and the surface.
pub fn http_by(who: Option<&str>, via: Option<Via>) -> By {
    By { who: who.map(str::trim).filter(|w| !w.is_empty()).map(str::to_string), via: via.unwrap_or(Via::Http) }
}

/// The mutex's value, recovered if a holder panicked: the worst left behind is a timer entry
/// too many, which a later expiry check ignores.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
