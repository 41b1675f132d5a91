//! What a worker that went away served, remembered for a while, so that a call or a request
//! arriving while its worker restarts waits for it instead of failing at once.
//!
//! Rules it keeps:
//! - Only functions and HTTP routes whose worker disconnected are remembered, for
//!   [`REMEMBERED_FOR`]; an id nobody ever served still fails at once (`function_not_found`,
//!   `route_not_found`).
//! - A waiting call has not been delivered anywhere yet, so carrying it out once the worker is
//!   back never runs anything twice. A call that was in flight when its worker died still fails
//!   at once (`invocation_stopped`): repeating it might not be safe.
//! - The wait is bounded by [`RESTART_WAIT`] (configurable) and by the call's own deadline. A request that
//!   waited in vain is told which worker it waited for: a call gets `function_not_found`
//!   naming it, a route `503 worker_unavailable` naming it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::engine::{Engine, lock};

/// How long a departed worker's functions and routes are remembered: a restart, even with a
/// backoff or two, happens within it; after it, the id is simply unknown again.
pub const REMEMBERED_FOR: Duration = Duration::from_secs(60);

/// How long a call or a request waits for a departed worker to register again, unless the
/// configuration says otherwise ([`crate::config::EngineConfig::restart_wait`]).
pub const RESTART_WAIT: Duration = Duration::from_secs(5);

/// Functions and routes whose worker went away, and a signal for every registration.
#[derive(Default)]
pub struct Departed {
    /// Function id → (the worker that served it, when it went away).
    functions: std::sync::Mutex<HashMap<String, (String, Instant)>>,
    /// (METHOD, path pattern) → (the worker that served it, when it went away).
    routes: std::sync::Mutex<HashMap<(String, String), (String, Instant)>>,
    /// Woken whenever a function or a trigger is registered.
    registered: tokio::sync::Notify,
}

impl Departed {
    /// Remembers that `worker` served these functions and routes until now.
    pub fn worker_left(&self, worker: &str, functions: Vec<String>, routes: Vec<(String, String)>) {
        let now = Instant::now();
        let fresh = |(_, at): &(String, Instant)| now.duration_since(*at) < REMEMBERED_FOR;
        let mut known = lock(&self.functions);
        known.retain(|_, v| fresh(v));
        known.extend(functions.into_iter().map(|id| (id, (worker.to_string(), now))));
        drop(known);
        let mut known = lock(&self.routes);
        known.retain(|_, v| fresh(v));
        known.extend(routes.into_iter().map(|r| (r, (worker.to_string(), now))));
    }

    /// A function was registered: it is no longer departed, and every waiter looks again.
    pub fn function_registered(&self, id: &str) {
        lock(&self.functions).remove(id);
        self.registered.notify_waiters();
    }

    /// A trigger was registered (perhaps a departed route): every waiter looks again.
    pub fn trigger_registered(&self, route: Option<&(String, String)>) {
        if let Some(route) = route {
            lock(&self.routes).remove(route);
        }
        self.registered.notify_waiters();
    }

    /// The worker that served `function_id` until it went away, if that was recent.
    pub fn function(&self, function_id: &str) -> Option<String> {
        let known = lock(&self.functions);
        known.get(function_id).filter(|(_, at)| at.elapsed() < REMEMBERED_FOR).map(|(w, _)| w.clone())
    }

    /// The worker that served a route matching `method path` until it went away, if recent;
    /// `matches(pattern)` says whether a stored pattern matches the request path.
    pub fn route(&self, method: &str, matches: impl Fn(&str) -> bool) -> Option<(String, String)> {
        let known = lock(&self.routes);
        known
            .iter()
            .filter(|((m, _), (_, at))| m == method && at.elapsed() < REMEMBERED_FOR)
            .find(|((_, pattern), _)| matches(pattern))
            .map(|((_, pattern), (worker, _))| (worker.clone(), pattern.clone()))
    }
}

/// Waits until `ready()` gives a value or `limit` passes; `ready` is asked again after every
/// registration the engine sees.
pub async fn wait_for<T>(engine: &Engine, limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let registered = engine.inner.departed.registered.notified();
        tokio::pin!(registered);
        // Listen before looking, so a registration between the look and the wait is not missed.
        registered.as_mut().enable();
        if let Some(found) = ready() {
            return Some(found);
        }
        if tokio::time::timeout_at(deadline, registered).await.is_err() {
            return ready();
        }
    }
}

/// How a departed worker is named in messages: what it called itself, else its connection id.
pub fn worker_label(metadata: &serde_json::Value, fallback: impl std::fmt::Display) -> String {
    metadata.get("name").and_then(serde_json::Value::as_str).map_or_else(|| fallback.to_string(), str::to_string)
}
