//! The trigger registry: built-in trigger types, worker-provided types, and every trigger.
//!
//! Rules it keeps (spec §3, with the v0.11.6 quirks fixed):
//! - A trigger is keyed by its id; registering the same id again replaces it (an identical
//!   re-registration, which the Rust SDK sends for every trigger, changes nothing).
//! - The owner of a trigger is the connection that registered it last; clean-up after a
//!   disconnect removes only triggers the departing connection still owns.
//! - A trigger for a type nobody provides yet is kept pending and handed to the provider when
//!   the type is registered (the real engine drops it).
//! - `queue` is accepted as an alias of `durable:subscriber` (what the SDKs emit).
//! - A worker may not replace a built-in trigger type.
//! - Unsubscribing one pubsub trigger leaves the other subscribers of the topic alone.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use agentos_protocol::{ErrorBody, Message};
use serde_json::{Value, json};

use crate::engine::{Engine, WorkerId, lock};

/// A registered trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEntry {
    pub id: String,
    pub trigger_type: String,
    pub function_id: String,
    pub config: Value,
    pub metadata: Option<Value>,
    /// The connection that registered it; `None` for triggers made inside the engine.
    pub owner: Option<WorkerId>,
}

/// A trigger type provided by a worker.
#[derive(Debug, Clone)]
pub struct TriggerTypeEntry {
    pub id: String,
    pub description: String,
    pub trigger_request_format: Option<Value>,
    pub call_request_format: Option<Value>,
    pub provider: WorkerId,
}

/// An HTTP route key: (METHOD, path without surrounding slashes).
pub type RouteKey = (String, String);

/// All trigger bookkeeping.
#[derive(Default)]
pub struct TriggerRegistry {
    triggers: Mutex<HashMap<String, TriggerEntry>>,
    types: Mutex<HashMap<String, TriggerTypeEntry>>,
    cron_jobs: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// HTTP routes → trigger id.
    pub(crate) routes: Mutex<HashMap<RouteKey, String>>,
    /// Ordered delivery lanes, one per trigger id.
    lanes: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Delivery>>>,
}

/// The built-in trigger types: (id, description, the config.yaml worker that provides it).
pub const BUILTIN_TYPES: &[(&str, &str, &str)] = &[
    ("http", "HTTP route on the REST port", "iii-http"),
    ("cron", "Cron schedule (seconds field first)", "iii-cron"),
    ("state", "State change (state::set, update, delete)", "iii-state"),
    ("stream", "Stream item change", "iii-stream"),
    ("stream:join", "A client joined a stream", "iii-stream"),
    ("stream:leave", "A client left a stream", "iii-stream"),
    ("subscribe", "Pub/sub topic subscription", "iii-pubsub"),
    ("durable:subscriber", "Durable queue topic subscription", "iii-queue"),
    ("queue", "Alias of durable:subscriber (the SDKs' name)", "iii-queue"),
    ("log", "Log records", "iii-observability"),
    ("engine::functions-available", "The set of functions changed", "iii-engine-functions"),
    ("engine::workers-available", "A worker connected or disconnected", "iii-engine-functions"),
];

fn builtin_enabled(engine: &Engine, provider: &str) -> bool {
    let enabled = &engine.config().enabled;
    match provider {
        "iii-http" => enabled.http,
        "iii-cron" => enabled.cron,
        "iii-state" => enabled.state,
        "iii-stream" => enabled.stream,
        "iii-pubsub" => enabled.pubsub,
        "iii-queue" => enabled.queue,
        _ => true,
    }
}

fn builtin(id: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    BUILTIN_TYPES.iter().find(|(t, _, _)| *t == id)
}

/// Whether `trigger_type` is served by the durable queue.
pub fn is_durable(trigger_type: &str) -> bool {
    trigger_type == "durable:subscriber" || trigger_type == "queue"
}

/// Every trigger of a type (the `queue` alias counts as `durable:subscriber`).
pub fn of_type(engine: &Engine, trigger_type: &str) -> Vec<TriggerEntry> {
    let durable = is_durable(trigger_type);
    let mut out: Vec<TriggerEntry> = lock(&engine.inner.triggers.triggers)
        .values()
        .filter(|t| t.trigger_type == trigger_type || (durable && is_durable(&t.trigger_type)))
        .cloned()
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Every trigger, sorted by id.
pub fn all(engine: &Engine) -> Vec<TriggerEntry> {
    let mut out: Vec<_> = lock(&engine.inner.triggers.triggers).values().cloned().collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// One trigger by id.
pub fn get(engine: &Engine, id: &str) -> Option<TriggerEntry> {
    lock(&engine.inner.triggers.triggers).get(id).cloned()
}

/// Worker-provided trigger types, sorted by id.
pub fn worker_types(engine: &Engine) -> Vec<TriggerTypeEntry> {
    let mut out: Vec<_> = lock(&engine.inner.triggers.types).values().cloned().collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Registers (or replaces) a trigger. Invalid configs are logged and dropped, as the protocol
/// has no reply for `registertrigger`.
pub async fn register(
    engine: &Engine,
    owner: Option<WorkerId>,
    id: String,
    trigger_type: String,
    function_id: String,
    config: Value,
    metadata: Option<Value>,
) {
    let entry = TriggerEntry { id: id.clone(), trigger_type, function_id, config, metadata, owner };
    // The SDK sends every registration twice, and again after each reconnect: an identical
    // entry only changes hands.
    {
        let mut triggers = lock(&engine.inner.triggers.triggers);
        if let Some(existing) = triggers.get_mut(&id)
            && (TriggerEntry { owner, ..existing.clone() }) == entry
        {
            existing.owner = owner;
            return;
        }
    }
    if let Err(reason) = validate(&entry) {
        tracing::warn!(trigger_id = %entry.id, trigger_type = %entry.trigger_type, function_id = %entry.function_id,
            "trigger rejected: {reason}");
        return;
    }
    if let Some((_, _, provider)) = builtin(&entry.trigger_type)
        && !builtin_enabled(engine, provider)
    {
        tracing::warn!(trigger_id = %entry.id, "trigger type '{}' needs the {provider} worker, which config.yaml does not enable; add it to `workers:`",
            entry.trigger_type);
        return;
    }
    // Replacing a different trigger with the same id: undo the old one first.
    let previous = lock(&engine.inner.triggers.triggers).insert(entry.id.clone(), entry.clone());
    if let Some(previous) = previous {
        replace(engine, &previous, &entry).await;
    }
    setup(engine, &entry).await;
}

/// Whether `worker` may register a trigger with this id and, for `http`, this route: a trigger
/// id or a route held by a live connection of another identity is not taken over (a worker
/// reconnecting as the same identity replaces its own).
pub fn may_take(engine: &Engine, worker: WorkerId, id: &str, trigger_type: &str, config: &Value) -> Result<(), String> {
    let Some(session) = engine.session_of(worker) else { return Ok(()) };
    let held_by_other = |owner: Option<WorkerId>| match owner {
        Some(owner) if owner != worker => {
            engine.session_of(owner).is_some_and(|owner_session| !owner_session.same_identity(&session))
        }
        _ => false,
    };
    let triggers = lock(&engine.inner.triggers.triggers);
    if let Some(existing) = triggers.get(id)
        && held_by_other(existing.owner)
    {
        return Err(format!("trigger id {id} belongs to another worker connection"));
    }
    if trigger_type == "http" {
        let key = route_key(config);
        let holder = lock(&engine.inner.triggers.routes).get(&key).cloned();
        if let Some(holder) = holder
            && holder != id
            && triggers.get(&holder).is_some_and(|t| held_by_other(t.owner))
        {
            return Err(format!("route {} /{} is served by another worker connection", key.0, key.1));
        }
    }
    Ok(())
}

/// Checks a trigger's config for its built-in type.
pub fn validate(entry: &TriggerEntry) -> Result<(), String> {
    let config = &entry.config;
    let string_field = |key: &str| config.get(key).and_then(Value::as_str);
    let optional_string = |key: &str| match config.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(format!("`{key}` must be a string")),
    };
    match entry.trigger_type.as_str() {
        "http" => {
            string_field("api_path").ok_or("`api_path` (string) is required for http triggers")?;
            let method = string_field("http_method").unwrap_or("GET").to_ascii_uppercase();
            if !["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains(&method.as_str()) {
                return Err(format!("http_method '{method}' is not one of GET POST PUT DELETE PATCH HEAD OPTIONS"));
            }
            Ok(())
        }
        "cron" => {
            let expr = string_field("expression").ok_or("`expression` (string) is required for cron triggers")?;
            parse_cron(expr).map(|_| ())
        }
        "state" => {
            optional_string("scope")?;
            optional_string("key")
        }
        "stream" => {
            string_field("stream_name").ok_or("`stream_name` (string) is required for stream triggers")?;
            optional_string("group_id")?;
            optional_string("item_id")
        }
        "subscribe" => match string_field("topic") {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err("`topic` (non-empty string) is required for subscribe triggers".into()),
        },
        t if is_durable(t) => match string_field("topic") {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err("`topic` (non-empty string) is required for durable:subscriber triggers".into()),
        },
        "log" => match string_field("level").unwrap_or("all") {
            "all" | "trace" | "debug" | "info" | "warn" | "error" => Ok(()),
            other => Err(format!("log level '{other}' is not one of all trace debug info warn error")),
        },
        _ => Ok(()),
    }
}

/// Parses a cron expression with the same grammar as iii (the `cron` crate, 6 or 7 fields,
/// seconds first). A message names the fix when it does not parse.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let fields = expr.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "cron expression '{expr}' has {fields} fields; use 6 or 7 with seconds first, e.g. '0 */5 * * * *'"
        ));
    }
    cron::Schedule::from_str(expr).map_err(|e| format!("cron expression '{expr}' is invalid: {e}"))
}

async fn setup(engine: &Engine, entry: &TriggerEntry) {
    match entry.trigger_type.as_str() {
        "http" => {
            let key = route_key(&entry.config);
            let old = lock(&engine.inner.triggers.routes).insert(key.clone(), entry.id.clone());
            if let Some(old) = old.filter(|o| *o != entry.id) {
                tracing::warn!(route = ?key, "http route re-registered by trigger {}; replaces trigger {old}", entry.id);
            }
            engine.inner.departed.trigger_registered(Some(&key));
        }
        "cron" => start_cron(engine, entry),
        t if is_durable(t) => crate::queue::ensure_topic_consumer(engine, entry),
        t if builtin(t).is_some() => {}
        _ => {
            let provider = lock(&engine.inner.triggers.types).get(&entry.trigger_type).map(|t| t.provider);
            match provider {
                Some(provider) => {
                    let frame = register_frame(entry);
                    if let Err(e) = engine.send_to(provider, &frame).await {
                        tracing::warn!(trigger_id = %entry.id, "could not forward trigger to its provider: {}", e.message);
                    }
                }
                None => tracing::info!(trigger_id = %entry.id, trigger_type = %entry.trigger_type,
                    "no worker provides trigger type '{}' yet; the trigger is kept until one does", entry.trigger_type),
            }
        }
    }
}

/// Undoes what [`setup`] did for a trigger that is gone. When the id has been registered again
/// meanwhile (a reconnecting worker), the new registration owns the route or job and nothing is
/// touched.
fn teardown_local(engine: &Engine, entry: &TriggerEntry) {
    if get(engine, &entry.id).is_none() {
        release_route_or_job(engine, entry);
    }
}

/// Removes the HTTP route or stops the cron job that `entry` set up (if it still holds them).
fn release_route_or_job(engine: &Engine, entry: &TriggerEntry) {
    match entry.trigger_type.as_str() {
        "http" => {
            let key = route_key(&entry.config);
            let mut routes = lock(&engine.inner.triggers.routes);
            if routes.get(&key) == Some(&entry.id) {
                routes.remove(&key);
            }
        }
        "cron" => {
            if let Some(job) = lock(&engine.inner.triggers.cron_jobs).remove(&entry.id) {
                job.abort();
            }
        }
        _ => {}
    }
}

/// Tells a worker-provided type's provider that a trigger went away.
async fn tell_provider(engine: &Engine, entry: &TriggerEntry) {
    if builtin(&entry.trigger_type).is_some() || get(engine, &entry.id).is_some() {
        return;
    }
    let provider = lock(&engine.inner.triggers.types).get(&entry.trigger_type).map(|t| t.provider);
    if let Some(provider) = provider {
        let frame = Message::UnregisterTrigger { id: entry.id.clone(), trigger_type: Some(entry.trigger_type.clone()) };
        let _ = engine.send_to(provider, &frame).await;
    }
}

/// Replaces `previous` by a trigger with the same id: its route, job or provider entry goes
/// before the new one is set up.
async fn replace(engine: &Engine, previous: &TriggerEntry, new: &TriggerEntry) {
    release_route_or_job(engine, previous);
    let t = previous.trigger_type.as_str();
    if builtin(t).is_none() && t != new.trigger_type {
        let provider = lock(&engine.inner.triggers.types).get(t).map(|t| t.provider);
        if let Some(provider) = provider {
            let frame = Message::UnregisterTrigger { id: previous.id.clone(), trigger_type: Some(t.to_string()) };
            let _ = engine.send_to(provider, &frame).await;
        }
    }
}

/// Removes a trigger. From a worker, only the current owner may remove it.
pub async fn unregister(engine: &Engine, by: Option<WorkerId>, id: &str) {
    let removed = {
        let mut triggers = lock(&engine.inner.triggers.triggers);
        match triggers.get(id) {
            Some(t) if by.is_none() || t.owner == by => triggers.remove(id),
            _ => None,
        }
    };
    if let Some(entry) = removed {
        teardown_local(engine, &entry);
        tell_provider(engine, &entry).await;
    }
}

/// Registers a worker-provided trigger type and replays its stored triggers to the provider.
pub async fn register_type(
    engine: &Engine,
    provider: WorkerId,
    id: String,
    description: String,
    trigger_request_format: Option<Value>,
    call_request_format: Option<Value>,
) {
    if builtin(&id).is_some() {
        tracing::warn!(%provider, trigger_type = %id, "a worker may not replace the built-in trigger type '{id}'; registration ignored");
        return;
    }
    lock(&engine.inner.triggers.types).insert(
        id.clone(),
        TriggerTypeEntry { id: id.clone(), description, trigger_request_format, call_request_format, provider },
    );
    for entry in of_type(engine, &id) {
        if let Err(e) = engine.send_to(provider, &register_frame(&entry)).await {
            tracing::warn!(trigger_id = %entry.id, "could not replay trigger to its provider: {}", e.message);
        }
    }
}

/// Removes a trigger type if `provider` still provides it. Its triggers stay stored.
pub fn unregister_type(engine: &Engine, provider: WorkerId, id: &str) {
    let mut types = lock(&engine.inner.triggers.types);
    if types.get(id).is_some_and(|t| t.provider == provider) {
        types.remove(id);
    }
}

/// Clean-up for a departing worker: its triggers (if it still owns them), then its types.
/// Returns the HTTP routes it served.
pub fn remove_worker(engine: &Engine, worker: WorkerId) -> Vec<RouteKey> {
    let owned: Vec<TriggerEntry> = {
        let mut triggers = lock(&engine.inner.triggers.triggers);
        let ids: Vec<String> = triggers.values().filter(|t| t.owner == Some(worker)).map(|t| t.id.clone()).collect();
        ids.iter().filter_map(|id| triggers.remove(id)).collect()
    };
    let routes = owned.iter().filter(|t| t.trigger_type == "http").map(|t| route_key(&t.config)).collect();
    lock(&engine.inner.triggers.types).retain(|_, t| t.provider != worker);
    for entry in &owned {
        teardown_local(engine, entry);
    }
    if owned.iter().all(|t| builtin(&t.trigger_type).is_some()) {
        return routes;
    }
    let engine = engine.clone();
    tokio::spawn(async move {
        for entry in owned {
            tell_provider(&engine, &entry).await;
        }
    });
    routes
}

fn register_frame(entry: &TriggerEntry) -> Message {
    Message::RegisterTrigger {
        id: entry.id.clone(),
        trigger_type: entry.trigger_type.clone(),
        function_id: entry.function_id.clone(),
        config: entry.config.clone(),
        metadata: entry.metadata.clone(),
    }
}

/// The route key of an http trigger config: `/x` and `x` are the same route.
pub fn route_key(config: &Value) -> RouteKey {
    let method = config.get("http_method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let path = config.get("api_path").and_then(Value::as_str).unwrap_or_default();
    (method, normalize_path(path))
}

/// A path without surrounding slashes.
pub fn normalize_path(path: &str) -> String {
    path.trim_matches('/').to_string()
}

/// Runs a trigger's condition function, if any. `Ok(false)` only for an explicit `false`.
pub async fn condition_passes(engine: &Engine, entry: &TriggerEntry, payload: &Value) -> Result<bool, ErrorBody> {
    let Some(condition) = entry.config.get("condition_function_id").and_then(Value::as_str) else {
        return Ok(true);
    };
    let result = engine.deliver(condition, payload.clone(), None).await?;
    Ok(result != Some(Value::Bool(false)))
}

/// One queued trigger delivery.
type Delivery = (TriggerEntry, Value, Option<String>);

/// Fires each target trigger with `payload`. Deliveries to one trigger run one after another in
/// the order the events happened (one lane per trigger), so a handler sees `created` before
/// `updated` before `deleted`; different triggers do not wait for each other. Used by state,
/// stream, log and engine events.
pub fn fire_sequential(engine: &Engine, targets: Vec<TriggerEntry>, payload: Value, traceparent: Option<String>) {
    for entry in targets {
        let mut lanes = lock(&engine.inner.triggers.lanes);
        let item = (entry, payload.clone(), traceparent.clone());
        let id = item.0.id.clone();
        let item = match lanes.get(&id) {
            Some(tx) => match tx.send(item) {
                Ok(()) => continue,
                Err(tokio::sync::mpsc::error::SendError(item)) => item,
            },
            None => item,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(item);
        lanes.insert(id.clone(), tx);
        tokio::spawn(run_lane(engine.clone(), id, rx));
    }
}

/// How long an idle delivery lane lives before its task ends.
const LANE_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

async fn run_lane(engine: Engine, id: String, mut rx: tokio::sync::mpsc::UnboundedReceiver<Delivery>) {
    loop {
        let next = match tokio::time::timeout(LANE_IDLE, rx.recv()).await {
            Ok(Some(item)) => Some(item),
            Ok(None) => None,
            Err(_) => {
                // Retire the lane under the lock, then finish whatever slipped in meanwhile.
                lock(&engine.inner.triggers.lanes).remove(&id);
                None
            }
        };
        match next {
            Some(item) => deliver_one(&engine, item).await,
            None => {
                while let Ok(item) = rx.try_recv() {
                    deliver_one(&engine, item).await;
                }
                return;
            }
        }
    }
}

async fn deliver_one(engine: &Engine, (entry, payload, traceparent): Delivery) {
    match condition_passes(engine, &entry, &payload).await {
        Ok(true) => {
            if let Err(e) = engine.deliver(&entry.function_id, payload, traceparent).await {
                tracing::warn!(trigger_id = %entry.id, function_id = %entry.function_id,
                    "trigger delivery failed: {}: {}", e.code, e.message);
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(trigger_id = %entry.id, "trigger condition failed: {}: {}", e.code, e.message),
    }
}

fn start_cron(engine: &Engine, entry: &TriggerEntry) {
    let Some(schedule) = entry.config.get("expression").and_then(Value::as_str).and_then(|e| parse_cron(e).ok()) else {
        return;
    };
    let engine2 = engine.clone();
    let trigger_id = entry.id.clone();
    let task = tokio::spawn(async move {
        for scheduled in schedule.upcoming(chrono::Utc) {
            let wait = (scheduled - chrono::Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            let Some(entry) = get(&engine2, &trigger_id) else { return };
            let actual = chrono::Utc::now();
            let payload = json!({
                "trigger": "cron",
                "job_id": entry.id,
                "scheduled_time": scheduled.to_rfc3339(),
                "actual_time": actual.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false),
            });
            // Each firing runs on its own so a slow handler does not delay the next tick.
            let engine3 = engine2.clone();
            tokio::spawn(async move {
                match condition_passes(&engine3, &entry, &payload).await {
                    Ok(true) => {
                        if let Err(e) = engine3.deliver(&entry.function_id, payload, None).await {
                            tracing::warn!(trigger_id = %entry.id, "cron delivery failed: {}: {}", e.code, e.message);
                        }
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(trigger_id = %entry.id, "cron condition failed: {}", e.message),
                }
            });
        }
    });
    if let Some(old) = lock(&engine.inner.triggers.cron_jobs).insert(entry.id.clone(), task.abort_handle()) {
        old.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(trigger_type: &str, config: Value) -> TriggerEntry {
        TriggerEntry {
            id: "t".into(),
            trigger_type: trigger_type.into(),
            function_id: "f::g".into(),
            config,
            metadata: None,
            owner: None,
        }
    }

    #[test]
    fn cron_needs_six_or_seven_fields() {
        assert!(parse_cron("*/2 * * * * *").is_ok());
        assert!(parse_cron("0 0 * * * * 2030").is_ok());
        let err = parse_cron("* * * * *").err().unwrap_or_default();
        assert!(err.contains("5 fields"), "{err}");
    }

    #[test]
    fn a_stream_trigger_without_a_stream_name_is_rejected_not_a_panic() {
        assert!(validate(&trigger("stream", json!({}))).is_err());
        assert!(validate(&trigger("stream", json!({"stream_name": "chat"}))).is_ok());
    }

    #[test]
    fn http_routes_ignore_surrounding_slashes_and_default_to_get() {
        assert_eq!(route_key(&json!({"api_path": "/echo/:id/"})), ("GET".to_string(), "echo/:id".to_string()));
        assert_eq!(route_key(&json!({"api_path": "x", "http_method": "post"})), ("POST".to_string(), "x".to_string()));
    }

    #[test]
    fn the_queue_alias_is_durable() {
        assert!(is_durable("queue"));
        assert!(is_durable("durable:subscriber"));
        assert!(validate(&trigger("queue", json!({"topic": ""}))).is_err());
    }

    #[test]
    fn state_filters_must_be_strings() {
        assert!(validate(&trigger("state", json!({"scope": 3}))).is_err());
        assert!(validate(&trigger("state", json!({"scope": "users"}))).is_ok());
    }
}
