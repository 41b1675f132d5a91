//! `state::*`: durable key/value state in scopes, with atomic update ops and `state` triggers.
//!
//! Output shapes follow iii v0.11.6 exactly (spec §4.2), quirks included: `state::delete`
//! returns the bare old value and `state::list_groups` returns `{groups}`. Triggers fire after
//! the function has answered, one after another, in a background task. A value whose JSON is
//! over `iii-state.max_value_bytes` is refused with `payload_too_large` and nothing changes.

use agentos_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::builtins::store_error;
use crate::engine::Engine;
use crate::triggers;
use crate::update_ops::apply_ops;

/// The config key of the largest value `state::set` and `state::update` write.
const LIMIT_KEY: &str = "iii-state.max_value_bytes";

#[derive(Deserialize)]
struct KeyInput {
    scope: String,
    key: String,
}

#[derive(Deserialize)]
struct SetInput {
    scope: String,
    key: String,
    #[serde(default)]
    value: Option<Value>,
    /// Accepted as an alias of `value`, as in iii.
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
struct UpdateInput {
    scope: String,
    key: String,
    #[serde(default)]
    ops: Vec<Value>,
}

#[derive(Deserialize)]
struct ScopeInput {
    scope: String,
}

fn err(code: &str, e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(code, e.to_string())
}

/// Fires the `state` triggers whose scope/key filters match.
fn fire(
    engine: &Engine,
    event_type: &str,
    scope: &str,
    key: &str,
    old: Option<Value>,
    new: Option<Value>,
    traceparent: Option<String>,
) {
    let targets: Vec<_> = triggers::of_type(engine, "state")
        .into_iter()
        .filter(|t| {
            let field = |k: &str| t.config.get(k).and_then(Value::as_str);
            field("scope").is_none_or(|s| s == scope) && field("key").is_none_or(|k| k == key)
        })
        .collect();
    let payload = json!({
        "type": "state", "event_type": event_type, "scope": scope, "key": key,
        "old_value": old, "new_value": new,
    });
    triggers::fire_sequential(engine, targets, payload, traceparent);
}

/// Registers `state::*`.
pub fn register(engine: &Engine) {
    engine.register_typed("state::get", "Get a value", |engine, i: KeyInput, _| async move {
        let v = engine.store().state_get(&i.scope, &i.key).map_err(|e| err("GET_ERROR", e))?;
        Ok(v.unwrap_or(Value::Null))
    });
    engine.register_typed(
        "state::set",
        "Set a value; returns {old_value, new_value}",
        |engine, i: SetInput, meta| async move {
            let value = i.value.or(i.data).unwrap_or(Value::Null);
            let limit = engine.config().state_max_value_bytes;
            let old = engine
                .store()
                .state_set(&i.scope, &i.key, &value, limit)
                .map_err(|e| store_error(e, "SET_ERROR", LIMIT_KEY))?;
            let event = if old.is_some() { "state:updated" } else { "state:created" };
            fire(&engine, event, &i.scope, &i.key, old.clone(), Some(value.clone()), meta.traceparent);
            Ok(json!({ "old_value": old, "new_value": value }))
        },
    );
    engine.register_typed(
        "state::delete",
        "Delete a value; returns the deleted value",
        |engine, i: KeyInput, meta| async move {
            let old = engine.store().state_delete(&i.scope, &i.key).map_err(|e| err("DELETE_ERROR", e))?;
            fire(&engine, "state:deleted", &i.scope, &i.key, old.clone(), None, meta.traceparent);
            Ok(old.unwrap_or(Value::Null))
        },
    );
    engine.register_typed("state::update", "Apply update ops atomically", |engine, i: UpdateInput, meta| async move {
        let ops = i.ops;
        let (old, new, errors) = engine
            .store()
            .state_update(&i.scope, &i.key, engine.config().state_max_value_bytes, |old| apply_ops(old, &ops))
            .map_err(|e| store_error(e, "UPDATE_ERROR", LIMIT_KEY))?;
        let event = if old.is_some() { "state:updated" } else { "state:created" };
        fire(&engine, event, &i.scope, &i.key, old.clone(), Some(new.clone()), meta.traceparent);
        Ok(crate::update_ops::update_answer(old.as_ref(), &new, &errors))
    });
    engine.register_typed(
        "state::list",
        "Every value in a scope, in insertion order",
        |engine, i: ScopeInput, _| async move {
            let values = engine.store().state_list(&i.scope).map_err(|e| err("LIST_ERROR", e))?;
            Ok(Value::Array(values))
        },
    );
    engine.register_typed("state::list_groups", "Every scope name", |engine, _: Value, _| async move {
        let groups = engine.store().state_groups().map_err(|e| err("LIST_GROUPS_ERROR", e))?;
        Ok(json!({ "groups": groups }))
    });
}
