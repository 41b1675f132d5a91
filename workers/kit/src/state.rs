//! Typed helpers over the engine's `state::*` functions (spec §4.2).
//!
//! Rules it keeps:
//! - Durable data goes through the engine (no worker keeps the only copy in memory).
//! - A stored value that no longer decodes into the type that reads it is `BAD_STATE`, naming
//!   the scope and key: an error, never a silent reset to a default.
//! - Shapes follow v0.11.6 exactly: `get` answers the bare value (or nothing), `delete` the
//!   bare deleted value, `list` a flat array, `update` `{old_value, new_value, errors?}`.

use std::time::Duration;

use iii_sdk::III;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{WorkerError, codes};
use crate::typed::call;

/// How long a state call may take. State lives in the engine's local database, so a call is
/// milliseconds; 10 s only trips when the engine is gone or wedged, and still fails well inside
/// the 30 s an HTTP request may take.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the engine's state through one connection. A worker implements its own store
/// trait (`RealmStore`, `SessionStore`, …) on it, so its domain can be tested over a fake while
/// the handle itself is written once.
#[derive(Clone)]
pub struct StateStore {
    iii: III,
}

impl StateStore {
    /// A store that talks to the engine through `iii`.
    pub fn new(iii: III) -> Self {
        Self { iii }
    }

    /// The connection it talks through.
    pub fn iii(&self) -> &III {
        &self.iii
    }
}

/// The value at `scope`/`key`, or `None` when there is none.
pub async fn get<T: DeserializeOwned>(iii: &III, scope: &str, key: &str) -> Result<Option<T>, WorkerError> {
    let value: Value = call(iii, "state::get", &json!({"scope": scope, "key": key}), STATE_TIMEOUT).await?;
    if value.is_null() {
        return Ok(None);
    }
    decode_stored(scope, Some(key), value).map(Some)
}

/// Stores `value` at `scope`/`key`, replacing what was there.
pub async fn set<T: Serialize + ?Sized>(iii: &III, scope: &str, key: &str, value: &T) -> Result<(), WorkerError> {
    let value = serde_json::to_value(value)
        .map_err(|e| WorkerError::internal(format!("state {scope}/{key}: could not encode the value: {e}")))?;
    let _: Value = call(iii, "state::set", &json!({"scope": scope, "key": key, "value": value}), STATE_TIMEOUT).await?;
    Ok(())
}

/// Deletes `scope`/`key`; `true` when a (non-null) value was there.
pub async fn delete(iii: &III, scope: &str, key: &str) -> Result<bool, WorkerError> {
    let old: Value = call(iii, "state::delete", &json!({"scope": scope, "key": key}), STATE_TIMEOUT).await?;
    Ok(!old.is_null())
}

/// Every value in `scope`, in insertion order.
pub async fn list<T: DeserializeOwned>(iii: &III, scope: &str) -> Result<Vec<T>, WorkerError> {
    let values: Vec<Value> = call(iii, "state::list", &json!({"scope": scope}), STATE_TIMEOUT).await?;
    values.into_iter().map(|v| decode_stored(scope, None, v)).collect()
}

/// Applies update `ops` (`{"type":"set"|"merge"|"increment"|"decrement"|"append"|"remove", ..}`,
/// spec §4.2) atomically and returns the new value. When an op fails the engine still applies
/// the others; that is reported as `INVALID_INPUT` listing each failed op, since the ops were
/// wrong for the stored value.
pub async fn update(iii: &III, scope: &str, key: &str, ops: Vec<Value>) -> Result<Value, WorkerError> {
    let result: UpdateResult =
        call(iii, "state::update", &json!({"scope": scope, "key": key, "ops": ops}), STATE_TIMEOUT).await?;
    if result.errors.is_empty() {
        return Ok(result.new_value);
    }
    let failures: Vec<String> =
        result.errors.iter().map(|e| format!("op {} failed ({}: {})", e.op_index, e.code, e.message)).collect();
    Err(WorkerError::invalid_input(format!(
        "state::update {scope}/{key}: {}; the other ops were applied, so fix the failing ops for the stored value and retry",
        failures.join(", ")
    )))
}

/// The result of `state::update`.
#[derive(Debug, Deserialize)]
struct UpdateResult {
    #[serde(default)]
    new_value: Value,
    #[serde(default)]
    errors: Vec<UpdateOpError>,
}

/// One failed op of `state::update`.
#[derive(Debug, Deserialize)]
struct UpdateOpError {
    op_index: usize,
    code: String,
    message: String,
}

/// Decodes a stored value, or `BAD_STATE` naming where it lives.
fn decode_stored<T: DeserializeOwned>(scope: &str, key: Option<&str>, value: Value) -> Result<T, WorkerError> {
    serde_json::from_value(value).map_err(|e| {
        let at = key.map_or_else(|| format!("a value in scope {scope}"), |k| format!("state {scope}/{k}"));
        WorkerError::new(
            codes::BAD_STATE,
            format!(
                "{at} does not match {}: {e}; repair or delete it, it is never reset silently",
                std::any::type_name::<T>()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_stored_value_of_the_wrong_shape_is_bad_state_naming_its_key() {
        let err = decode_stored::<u32>("realms", Some("r1"), json!("x")).unwrap_err();
        assert_eq!(err.code, "BAD_STATE");
        assert!(err.message.starts_with("state realms/r1 does not match u32: invalid type"), "{}", err.message);
    }
}
