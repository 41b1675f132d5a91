//! Introspection (`engine::functions|workers|triggers|trigger-types::list`), worker metadata
//! (`engine::workers::register`), `engine::health::check`, and the `engine::workers-available`
//! and `engine::functions-available` events.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::{Engine, Target, WorkerId};
use crate::trace::now_ms;
use crate::triggers::{self, BUILTIN_TYPES};

#[derive(Deserialize, Default)]
struct ListInput {
    #[serde(default)]
    include_internal: bool,
}

#[derive(Deserialize, Default)]
struct WorkersInput {
    #[serde(default)]
    worker_id: Option<String>,
}

/// Fires `engine::workers-available` triggers.
pub fn fire_workers_available(engine: &Engine, event: &str, worker: WorkerId) {
    let targets = triggers::of_type(engine, "engine::workers-available");
    let payload = json!({ "event": event, "worker_id": worker.to_string() });
    triggers::fire_sequential(engine, targets, payload, None);
}

fn function_infos(engine: &Engine, include_internal: bool) -> Vec<Value> {
    engine
        .functions()
        .into_iter()
        .filter(|(id, _)| include_internal || !id.starts_with("engine::"))
        .map(|(id, e)| {
            json!({
                "function_id": id, "description": e.description, "request_format": e.request_format,
                "response_format": e.response_format, "metadata": e.metadata,
            })
        })
        .collect()
}

fn worker_infos(engine: &Engine, filter: Option<&str>) -> Vec<Value> {
    let mut out: Vec<Value> = engine
        .workers()
        .into_iter()
        .filter(|w| match filter {
            Some(id) => w.id.to_string() == id,
            // As in iii: socket workers that have described themselves (they sent a pid).
            None => w.metadata.get("pid").is_some_and(|p| !p.is_null()),
        })
        .map(|w| {
            let functions = engine.functions_of(w.id);
            let m = &w.metadata;
            json!({
                "id": w.id.to_string(),
                "name": m.get("name"),
                "runtime": m.get("runtime").and_then(Value::as_str).unwrap_or("unknown"),
                "version": m.get("version"),
                "os": m.get("os"),
                "ip_address": w.ip_address,
                "internal": false,
                "status": "connected",
                "connected_at_ms": w.connected_at_ms,
                "function_count": functions.len(),
                "functions": functions,
                "active_invocations": engine.active_invocations(w.id),
                "latest_metrics": Value::Null,
                "pid": m.get("pid"),
                "isolation": m.get("isolation"),
            })
        })
        .collect();
    let builtin: Vec<String> = engine
        .functions()
        .into_iter()
        .filter(|(_, e)| matches!(e.target, Target::Builtin(_)))
        .map(|(id, _)| id)
        .collect();
    if filter.is_none() {
        out.push(json!({
            "id": "agentos-engine", "name": "agentos-engine", "runtime": "engine",
            "version": env!("CARGO_PKG_VERSION"), "os": std::env::consts::OS, "ip_address": Value::Null,
            "internal": true, "status": "available", "connected_at_ms": 0, "function_count": builtin.len(),
            "functions": builtin, "active_invocations": 0, "latest_metrics": Value::Null,
            "isolation": "in-process",
        }));
    }
    out.sort_by(|a, b| {
        let name = |v: &Value| v.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        name(a).cmp(&name(b))
    });
    out
}

/// Registers the introspection functions and starts the functions-available watcher.
pub fn register(engine: &Engine) {
    engine.register_typed("engine::functions::list", "Registered functions", |engine, i: ListInput, _| async move {
        Ok(json!({ "functions": function_infos(&engine, i.include_internal) }))
    });
    engine.register_typed("engine::workers::list", "Connected workers", |engine, i: WorkersInput, _| async move {
        Ok(json!({ "workers": worker_infos(&engine, i.worker_id.as_deref()), "timestamp": now_ms() }))
    });
    engine.register_typed("engine::triggers::list", "Registered triggers", |engine, i: ListInput, _| async move {
        let list: Vec<Value> = triggers::all(&engine)
            .into_iter()
            .filter(|t| i.include_internal || !t.function_id.starts_with("engine::"))
            .map(|t| json!({"id": t.id, "trigger_type": t.trigger_type, "function_id": t.function_id, "config": t.config, "metadata": t.metadata}))
            .collect();
        Ok(json!({ "triggers": list }))
    });
    engine.register_typed(
        "engine::trigger-types::list",
        "Available trigger types",
        |engine, _: ListInput, _| async move {
            let mut list: Vec<Value> = BUILTIN_TYPES
                .iter()
                .map(|(id, description, _)| json!({"id": id, "description": description}))
                .collect();
            for t in triggers::worker_types(&engine) {
                let mut v = json!({"id": t.id, "description": t.description});
                if let Some(f) = t.trigger_request_format {
                    v["trigger_request_format"] = f;
                }
                if let Some(f) = t.call_request_format {
                    v["call_request_format"] = f;
                }
                list.push(v);
            }
            Ok(json!({ "trigger_types": list }))
        },
    );
    engine.register_builtin(
        "engine::workers::register",
        "A worker describes itself",
        |engine, input, meta| async move {
            let caller = meta
                .caller
                .or_else(|| input.get("_caller_worker_id").and_then(Value::as_str).and_then(|s| s.parse().ok()));
            if let Some(worker) = caller {
                let mut metadata = input.clone();
                if let Some(obj) = metadata.as_object_mut() {
                    obj.remove("_caller_worker_id");
                }
                if engine.set_worker_metadata(worker, metadata) {
                    fire_workers_available(&engine, "worker_metadata_updated", worker);
                }
            }
            Ok(Some(json!({ "success": true })))
        },
    );
    engine.register_typed("engine::health::check", "Engine health", |engine, _: Value, _| async move {
        let db = engine.store().state_groups().map(|_| "healthy").unwrap_or("unhealthy");
        let status = if db == "healthy" { "healthy" } else { "degraded" };
        Ok(json!({
            "status": status,
            "components": {
                "store": {"status": db, "details": engine.store().path().display().to_string()},
                "spans": {"status": "healthy", "details": format!("max {} spans", engine.config().trace_max_spans)},
                "logs": {"status": "healthy", "details": format!("max {} records", engine.config().logs_max_count)},
                "workers": {"status": "healthy", "details": format!("{} connected", engine.workers().len())},
            },
            "timestamp": now_ms(),
            "version": env!("CARGO_PKG_VERSION"),
        }))
    });
    start_functions_watch(engine);
}

/// How often the function set is compared for `engine::functions-available`: the real engine
/// polls every 5 s, and consumers (consoles) expect that cadence, not a storm of events.
const FUNCTIONS_POLL: Duration = Duration::from_secs(5);

fn start_functions_watch(engine: &Engine) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut last = 0_u64;
        let mut shutdown = engine.inner.shutdown.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FUNCTIONS_POLL) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let ids: Vec<String> = engine.functions().into_iter().map(|(id, _)| id).collect();
            let mut hasher = DefaultHasher::new();
            ids.hash(&mut hasher);
            let hash = hasher.finish();
            if hash != last {
                last = hash;
                let targets = triggers::of_type(&engine, "engine::functions-available");
                if !targets.is_empty() {
                    let payload = json!({ "event": "functions_changed", "functions": function_infos(&engine, true) });
                    triggers::fire_sequential(&engine, targets, payload, None);
                }
            }
        }
    });
}
