//! The atomic `state::update` / `stream::update` operations: a list of update ops applied in order
//! to one stored JSON value. Pure functions, no IO; the caller reads and writes the store.
//!
//! Rules kept (iii engine v0.11.6 semantics):
//! - Ops are tagged by `type`: `set`, `merge`, `increment`, `decrement`, `append`, `remove`.
//! - A key path is **one literal top-level key**: `"a.b"` is the key `a.b`, never a nested walk.
//!   The empty path `""` addresses the whole value (the root). Only `merge` walks nested objects,
//!   and only along an explicit array of segments.
//! - A missing key (`current == None`) starts as `{}`, except for root-addressing ops while
//!   nothing has applied yet: a root `increment` gives the number, a root `append` gives the
//!   value (or `[value]`), a root `set` replaces. A `null` value or field counts as missing for
//!   `increment`/`decrement`/`append`.
//! - A failing op leaves the value untouched, is reported as an [`OpError`] with its index and a
//!   stable dotted code, and the remaining ops still apply.
//! - `merge` is bounded (path segments, segment bytes, value keys, value depth) and refuses the
//!   JavaScript prototype-pollution keys, because consumers spread the stored JSON into objects.

use serde::Serialize;
use serde_json::{Map, Value};

/// Most segments a merge path may have.
const MAX_PATH_SEGMENTS: usize = 32;
/// Most bytes (not chars) one merge path segment may have.
const MAX_SEGMENT_BYTES: usize = 256;
/// Deepest nesting a merge value may have (a flat object is depth 1).
const MAX_VALUE_DEPTH: usize = 16;
/// Most top-level keys a merge value may have.
const MAX_VALUE_KEYS: usize = 1024;
/// Keys that pollute a JavaScript prototype when the merged JSON is spread into an object.
const FORBIDDEN_KEYS: [&str; 3] = ["__proto__", "constructor", "prototype"];
/// The code of an op that is not an object or has no known `type`.
const UNKNOWN_TYPE: &str = "op.unknown_type";
/// Where agentos documents the merge bounds; merge errors point there.
const MERGE_DOC_URL: &str = "docs/engine.md#state-update-ops";

/// One op as received on the wire: a JSON object tagged by `type`.
type Op = Map<String, Value>;

/// One failed op: its index in the list, a stable dotted code, a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpError {
    /// Position of the failing op in the list it came in.
    pub op_index: usize,
    /// Stable machine-readable code, e.g. `merge.path.too_deep` or `increment.not_number`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Documentation for the rule that failed, when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_url: Option<String>,
}

/// An op failure; `apply_ops` fills in the index, which the op itself does not know.
fn fail(code: impl Into<String>, message: impl Into<String>) -> OpError {
    let (code, message) = (code.into(), message.into());
    OpError { op_index: 0, code, message, doc_url: None }
}

/// A merge failure: these carry the engine's documentation link for the merge bounds.
fn merge_fail(code: &str, message: impl Into<String>) -> OpError {
    let doc_url = Some(MERGE_DOC_URL.to_owned());
    OpError { doc_url, ..fail(code, message) }
}

/// A malformed op: a required field is missing or has the wrong JSON type.
fn invalid(message: impl Into<String>) -> OpError {
    fail("op.invalid", message)
}

/// The stored value as an object, for the ops that address one of its top-level keys.
fn object_root<'a>(root: &'a mut Value, kind: &str, key: &str) -> Result<&'a mut Op, OpError> {
    let message = || format!("{kind} of key {key:?} needs the stored value to be an object");
    match root {
        Value::Object(map) => Ok(map),
        _ => Err(fail(format!("{kind}.target_not_object"), message())),
    }
}

/// Applies `ops` (each a raw JSON op object, as received on the wire) in order to `current`
/// (None when the key does not exist). Returns the new value and the errors of the ops that failed;
/// a failing op is skipped and the remaining ops still apply.
pub fn apply_ops(current: Option<Value>, ops: &[Value]) -> (Value, Vec<OpError>) {
    // While nothing has applied to a missing key, root-addressing ops see "no value" rather
    // than the `{}` placeholder, so `[increment "" by 5]` gives `5`, not a type error.
    let mut missing = current.is_none();
    let mut value = current.unwrap_or_else(|| Value::Object(Map::new()));
    let mut errors = Vec::new();
    for (op_index, op) in ops.iter().enumerate() {
        match apply_one(&mut value, missing, op) {
            Ok(()) => missing = false,
            Err(error) => errors.push(OpError { op_index, ..error }),
        }
    }
    (value, errors)
}

/// Applies one op. Every op validates before it mutates, so a failure leaves `root` as it was.
fn apply_one(root: &mut Value, missing: bool, op: &Value) -> Result<(), OpError> {
    let Some(op) = op.as_object() else {
        return Err(fail(UNKNOWN_TYPE, "an op must be a JSON object"));
    };
    match op.get("type").and_then(Value::as_str) {
        Some("set") => apply_set(root, op),
        Some("merge") => apply_merge(root, op),
        Some(kind @ ("increment" | "decrement")) => apply_step(root, missing, op, kind),
        Some("append") => apply_append(root, missing, op),
        Some("remove") => apply_remove(root, op),
        Some(other) => Err(fail(UNKNOWN_TYPE, format!("unknown op type {other:?}"))),
        None => Err(fail(UNKNOWN_TYPE, "an op needs a string `type`")),
    }
}

/// The key a `set` addresses: a missing or null path means the root (`""`).
fn optional_key(op: &Op) -> Result<&str, OpError> {
    match op.get("path") {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(key)) => Ok(key),
        Some(_) => Err(invalid("set needs `path` to be a string")),
    }
}

/// The key the other key-addressed ops address. It must be present: a forgotten path silently
/// meaning "the whole value" would turn e.g. a `remove` into a wipe.
fn required_key<'a>(op: &'a Op, kind: &str) -> Result<&'a str, OpError> {
    let key = op.get("path").and_then(Value::as_str);
    key.ok_or_else(|| invalid(format!("{kind} needs a string `path`")))
}

fn required_value<'a>(op: &'a Op, kind: &str) -> Result<&'a Value, OpError> {
    let message = || invalid(format!("{kind} needs a `value`"));
    op.get("value").ok_or_else(message)
}

fn apply_set(root: &mut Value, op: &Op) -> Result<(), OpError> {
    let key = optional_key(op)?;
    let value = required_value(op, "set")?.clone();
    if key.is_empty() {
        *root = value;
        return Ok(());
    }
    object_root(root, "set", key)?.insert(key.to_owned(), value);
    Ok(())
}

fn apply_merge(root: &mut Value, op: &Op) -> Result<(), OpError> {
    let segments = merge_segments(op.get("path"))?;
    check_merge_path(&segments)?;
    let value = required_value(op, "merge")?;
    let Value::Object(patch) = value else {
        let message = "merge value not an object";
        return Err(merge_fail("merge.value_not_object", message));
    };
    check_merge_value(value, patch)?;
    merge_at(root, &segments, patch);
    Ok(())
}

/// The segments of a merge path: null, missing, `""` and `[]` all mean the root; a string is
/// one literal segment; an array is a list of segments.
fn merge_segments(path: Option<&Value>) -> Result<Vec<&str>, OpError> {
    match path {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(key)) if key.is_empty() => Ok(Vec::new()),
        Some(Value::String(key)) => Ok(vec![key.as_str()]),
        Some(Value::Array(items)) => items.iter().map(segment).collect(),
        Some(_) => Err(invalid("merge `path` must be null, a string or an array")),
    }
}

fn segment(item: &Value) -> Result<&str, OpError> {
    let message = || invalid("merge path segment not a string");
    item.as_str().ok_or_else(message)
}

fn check_merge_path(segments: &[&str]) -> Result<(), OpError> {
    let count = segments.len();
    if count > MAX_PATH_SEGMENTS {
        let message = format!("merge path has {count} segments, over {MAX_PATH_SEGMENTS}");
        return Err(merge_fail("merge.path.too_deep", message));
    }
    for segment in segments {
        // An empty segment inside an array is almost always a client bug (a `split('.')` of
        // `"a..b"`); the iii engine refuses it rather than writing a `""` key.
        if segment.is_empty() {
            let message = "empty merge path segment";
            return Err(merge_fail("merge.path.empty_segment", message));
        }
        let bytes = segment.len();
        if bytes > MAX_SEGMENT_BYTES {
            let message = format!("merge path segment of {bytes} bytes, over {MAX_SEGMENT_BYTES}");
            return Err(merge_fail("merge.path.segment_too_long", message));
        }
        if FORBIDDEN_KEYS.contains(segment) {
            let message = format!("merge path segment {segment:?} is a prototype-pollution key");
            return Err(merge_fail("merge.path.forbidden_segment", message));
        }
    }
    Ok(())
}

fn check_merge_value(value: &Value, patch: &Op) -> Result<(), OpError> {
    let keys = patch.len();
    if keys > MAX_VALUE_KEYS {
        let message = format!("merge value has {keys} top-level keys, over {MAX_VALUE_KEYS}");
        return Err(merge_fail("merge.value.too_many_keys", message));
    }
    // Only the top-level keys are checked: the merge is shallow, so they are the only keys it
    // spreads into an existing object; nested values are stored as given.
    let forbidden = |key: &&String| FORBIDDEN_KEYS.contains(&key.as_str());
    if let Some(key) = patch.keys().find(forbidden) {
        let message = format!("merge value key {key:?} is a prototype-pollution key");
        return Err(merge_fail("merge.value.forbidden_key", message));
    }
    if deeper_than(value, MAX_VALUE_DEPTH) {
        let message = format!("merge value nests deeper than {MAX_VALUE_DEPTH} levels");
        return Err(merge_fail("merge.value.too_deep", message));
    }
    Ok(())
}

/// Whether `value` nests more than `limit` levels (objects and arrays each count one level).
/// It never descends past the limit, so a hostile value cannot exhaust the stack.
fn deeper_than(value: &Value, limit: usize) -> bool {
    let Some(below) = limit.checked_sub(1) else {
        return matches!(value, Value::Object(_) | Value::Array(_));
    };
    match value {
        Value::Object(map) => map.values().any(|child| deeper_than(child, below)),
        Value::Array(items) => items.iter().any(|child| deeper_than(child, below)),
        _ => false,
    }
}

/// Shallow-merges `patch` into the object at `segments` below `node`, turning `node` and every
/// missing or non-object step into `{}` first. Recursion is bounded by the checked path length.
fn merge_at(node: &mut Value, segments: &[&str], patch: &Op) {
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else { return };
    match segments.split_first() {
        None => map.extend(patch.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some((first, rest)) => merge_at(map.entry(*first).or_insert(Value::Null), rest, patch),
    }
}

/// `increment` and `decrement`; `kind` is the op type, which prefixes the error codes.
fn apply_step(root: &mut Value, missing: bool, op: &Op, kind: &str) -> Result<(), OpError> {
    let key = required_key(op, kind)?;
    let Some(by) = op.get("by").and_then(Value::as_i64) else {
        let message = format!("{kind} needs an integer `by`");
        return Err(fail(format!("{kind}.invalid_by"), message));
    };
    // i128 holds any i64 or u64 plus or minus any i64, so the step itself never overflows
    // (not even `decrement` by `i64::MIN`); the result is narrowed afterwards.
    let sign = if kind == "decrement" { -1 } else { 1 };
    let delta = sign * i128::from(by);
    if key.is_empty() {
        *root = stepped((!missing).then_some(&*root), delta, kind, key)?;
        return Ok(());
    }
    let map = object_root(root, kind, key)?;
    let next = stepped(map.get(key), delta, kind, key)?;
    map.insert(key.to_owned(), next);
    Ok(())
}

/// The value after adding `delta` to `existing` (missing or null start at zero).
fn stepped(existing: Option<&Value>, delta: i128, kind: &str, key: &str) -> Result<Value, OpError> {
    let number = match existing {
        None | Some(Value::Null) => return Ok(integer_value(delta)),
        Some(Value::Number(number)) => number,
        Some(_) => {
            let message = format!("{kind} of {key:?} needs the current value to be a number");
            return Err(fail(format!("{kind}.not_number"), message));
        }
    };
    Ok(match (number.as_i64(), number.as_u64()) {
        (Some(int), _) => integer_value(i128::from(int) + delta),
        (None, Some(uint)) => integer_value(i128::from(uint) + delta),
        // A stored float stays a float; a finite f64 plus an i64 stays finite.
        (None, None) => Value::from(number.as_f64().unwrap_or(0.0) + delta as f64),
    })
}

/// The narrowest JSON number for an integer result: i64, else u64, else (lossy) f64.
fn integer_value(n: i128) -> Value {
    let beyond_i64 = || u64::try_from(n).map_or(Value::from(n as f64), Value::from);
    i64::try_from(n).map_or_else(|_| beyond_i64(), Value::from)
}

fn apply_append(root: &mut Value, missing: bool, op: &Op) -> Result<(), OpError> {
    let key = required_key(op, "append")?;
    let value = required_value(op, "append")?;
    if key.is_empty() && missing {
        *root = first_append(value);
        return Ok(());
    }
    if key.is_empty() {
        return append_into(root, value, key);
    }
    let map = object_root(root, "append", key)?;
    match map.get_mut(key) {
        Some(target) => append_into(target, value, key),
        None => {
            map.insert(key.to_owned(), first_append(value));
            Ok(())
        }
    }
}

/// What an append to a missing (or null) target gives: a string starts a string, anything
/// else starts a one-element list.
fn first_append(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        _ => Value::Array(vec![value.clone()]),
    }
}

fn append_into(target: &mut Value, value: &Value, key: &str) -> Result<(), OpError> {
    match (target, value) {
        (Value::Array(items), _) => items.push(value.clone()),
        (Value::String(text), Value::String(more)) => text.push_str(more),
        (target @ Value::Null, _) => *target = first_append(value),
        _ => {
            let message = format!("append to {key:?} needs an array, null or (string, string)");
            return Err(fail("append.type_mismatch", message));
        }
    }
    Ok(())
}

fn apply_remove(root: &mut Value, op: &Op) -> Result<(), OpError> {
    let key = required_key(op, "remove")?;
    if key.is_empty() {
        *root = Value::Null;
        return Ok(());
    }
    // Removing an absent key is a no-op, not an error: the caller wanted it gone, and it is.
    object_root(root, "remove", key)?.remove(key);
    Ok(())
}

/// The answer of `state::update` and `stream::update`: `{old_value, new_value}`, plus `errors`
/// when any op failed (left out when none did, as in iii).
pub fn update_answer(old: Option<&Value>, new: &Value, errors: &[OpError]) -> Value {
    let mut out = serde_json::json!({ "old_value": old, "new_value": new });
    if !errors.is_empty() {
        out["errors"] = serde_json::to_value(errors).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Runs a table of cases written as JSON objects:
    /// `{"current": v, "ops": [..], "want": v, "errors": [[op_index, code], ..]}`.
    /// A case without `current` runs against a missing key; without `errors` it expects none.
    fn check(cases: Value) {
        for case in cases.as_array().into_iter().flatten() {
            let ops = case["ops"].as_array().cloned().unwrap_or_default();
            let (value, errors) = apply_ops(case.get("current").cloned(), &ops);
            let errors: Vec<Value> = errors.iter().map(|e| json!([e.op_index, e.code])).collect();
            let want_errors = case.get("errors").cloned().unwrap_or(json!([]));
            let want = (case["want"].clone(), want_errors);
            assert_eq!((value, Value::Array(errors)), want, "case {case}");
        }
    }

    /// Applies a JSON array of ops to a missing key.
    fn run(ops: Value) -> (Value, Vec<OpError>) {
        apply_ops(None, ops.as_array().map_or(&[], Vec::as_slice))
    }

    /// A merge value with `count` top-level keys.
    fn keys(count: usize) -> Value {
        Value::Object((0..count).map(|i| (format!("k{i}"), json!(i))).collect())
    }

    #[test]
    fn no_ops_give_the_current_value_or_an_empty_object() {
        check(json!([
            {"ops": [], "want": {}},
            {"current": [1, 2], "ops": [], "want": [1, 2]},
            {"current": null, "ops": [], "want": null},
        ]));
    }

    #[test]
    fn set_replaces_the_root_for_an_empty_or_absent_path_and_a_top_level_key_otherwise() {
        check(json!([
            {"current": {"a": 1}, "ops": [{"type": "set", "path": "", "value": 7}], "want": 7},
            {"current": {"a": 1}, "ops": [{"type": "set", "value": [7]}], "want": [7]},
            {"ops": [{"type": "set", "path": null, "value": "s"}], "want": "s"},
            {"current": {"a": 1}, "ops": [{"type": "set", "path": "b", "value": {"x": null}}],
             "want": {"a": 1, "b": {"x": null}}},
        ]));
    }

    #[test]
    fn a_dotted_path_is_one_literal_key() {
        check(json!([{"current": {"a": {"b": 0}}, "ops": [
            {"type": "set", "path": "a.b", "value": 1},
            {"type": "increment", "path": "c.d", "by": 2},
            {"type": "append", "path": "e.f", "value": "x"},
            {"type": "merge", "path": "g.h", "value": {"k": 1}},
        ], "want": {"a": {"b": 0}, "a.b": 1, "c.d": 2, "e.f": "x", "g.h": {"k": 1}}}]));
    }

    #[test]
    fn key_ops_on_a_non_object_root_fail_with_target_not_object() {
        for kind in ["set", "increment", "decrement", "append", "remove"] {
            let op = json!({"type": kind, "path": "a", "value": 1, "by": 1});
            let code = format!("{kind}.target_not_object");
            check(json!([
                {"current": 3, "ops": [op], "want": 3, "errors": [[0, code]]},
                {"current": null, "ops": [op], "want": null, "errors": [[0, code]]},
            ]));
        }
    }

    #[test]
    fn merge_is_shallow_and_every_root_path_spelling_targets_the_root() {
        let current = json!({"a": {"x": 1}, "b": 1});
        let want = json!({"a": {"y": 2}, "b": 1, "c": 3});
        for path in [json!(null), json!(""), json!([])] {
            let op = json!({"type": "merge", "path": path, "value": {"a": {"y": 2}, "c": 3}});
            check(json!([{"current": current, "ops": [op], "want": want}]));
        }
        check(json!([{"ops": [{"type": "merge", "value": {"a": 1}}], "want": {"a": 1}}]));
    }

    #[test]
    fn merge_turns_a_non_object_root_or_intermediate_into_an_object() {
        check(json!([
            {"current": "text", "ops": [{"type": "merge", "value": {"b": 2}}], "want": {"b": 2}},
            {"current": 1, "ops": [{"type": "merge", "path": ["a"], "value": {}}],
             "want": {"a": {}}},
            {"current": {"a": {"b": 5, "keep": true}},
             "ops": [{"type": "merge", "path": ["a", "b", "c"], "value": {"k": 1}}],
             "want": {"a": {"b": {"c": {"k": 1}}, "keep": true}}},
            {"current": {"a.b": {"j": 0}}, "want": {"a.b": {"j": 0, "k": 1}},
             "ops": [{"type": "merge", "path": "a.b", "value": {"k": 1}}]},
        ]));
    }

    #[test]
    fn merge_rejects_values_and_paths_outside_the_bounds() {
        let deep = (0..MAX_VALUE_DEPTH).fold(json!([]), |inner, _| json!([inner]));
        let long_path = vec!["s"; MAX_PATH_SEGMENTS + 1];
        let wide = "é".repeat(MAX_SEGMENT_BYTES / 2 + 1);
        check(json!([{"current": {"a": 1}, "ops": [
            {"type": "merge", "value": 5}, {"type": "merge", "value": null},
            {"type": "merge", "value": keys(MAX_VALUE_KEYS + 1)},
            {"type": "merge", "value": {"d": deep}},
            {"type": "merge", "path": long_path, "value": {}},
            {"type": "merge", "path": [wide], "value": {}},
            {"type": "merge", "path": ["a", ""], "value": {}},
        ], "want": {"a": 1}, "errors": [
            [0, "merge.value_not_object"], [1, "merge.value_not_object"],
            [2, "merge.value.too_many_keys"], [3, "merge.value.too_deep"],
            [4, "merge.path.too_deep"], [5, "merge.path.segment_too_long"],
            [6, "merge.path.empty_segment"],
        ]}]));
    }

    #[test]
    fn merge_accepts_values_and_paths_exactly_at_the_bounds() {
        let deep = (1..MAX_VALUE_DEPTH).fold(json!({}), |inner, _| json!({"d": inner}));
        let path = vec!["x".repeat(MAX_SEGMENT_BYTES); MAX_PATH_SEGMENTS];
        let mut nested = deep.clone();
        for key in &path {
            nested = json!({key: nested});
        }
        check(json!([
            {"ops": [{"type": "merge", "value": keys(MAX_VALUE_KEYS)}],
             "want": keys(MAX_VALUE_KEYS)},
            {"ops": [{"type": "merge", "path": path, "value": deep}], "want": nested},
        ]));
    }

    #[test]
    fn merge_rejects_prototype_pollution_keys_in_the_path_and_the_value() {
        for key in FORBIDDEN_KEYS {
            check(json!([{"ops": [
                {"type": "merge", "path": ["a", key], "value": {}},
                {"type": "merge", "path": key, "value": {}},
                {"type": "merge", "value": {key: {}}},
            ], "want": {}, "errors": [
                [0, "merge.path.forbidden_segment"], [1, "merge.path.forbidden_segment"],
                [2, "merge.value.forbidden_key"],
            ]}]));
        }
    }

    #[test]
    fn a_missing_or_null_field_starts_at_by_or_minus_by() {
        check(json!([{"current": {"nulled": null}, "ops": [
            {"type": "increment", "path": "up", "by": 3},
            {"type": "decrement", "path": "down", "by": 3},
            {"type": "increment", "path": "nulled", "by": 4},
        ], "want": {"up": 3, "down": -3, "nulled": 4}}]));
    }

    #[test]
    fn stepping_uses_integer_arithmetic_falling_back_to_u64_then_f64() {
        let past_i64 = i64::MAX as u64 + 1;
        let table = json!([
            ["increment", 10, 5, 15],
            ["decrement", 10, 15, -5],
            ["increment", 1.5, 1, 2.5],
            ["decrement", 1.5, 2, -0.5],
            ["increment", i64::MAX, 1, past_i64],
            ["decrement", 0, i64::MIN, past_i64],
            ["increment", u64::MAX, 1, 18_446_744_073_709_551_616.0],
            ["decrement", i64::MIN, 1, -9_223_372_036_854_775_809.0],
            ["decrement", u64::MAX, 1, u64::MAX - 1]
        ]);
        for row in table.as_array().into_iter().flatten() {
            let ops = json!([{"type": row[0], "path": "n", "by": row[2]}]);
            check(json!([{"current": {"n": row[1]}, "ops": ops, "want": {"n": row[3]}}]));
        }
    }

    #[test]
    fn stepping_a_non_number_or_with_a_bad_by_fails_and_changes_nothing() {
        for kind in ["increment", "decrement"] {
            let (not_number, bad_by) = (format!("{kind}.not_number"), format!("{kind}.invalid_by"));
            check(json!([{"current": {"s": "1", "o": {}, "n": 1}, "ops": [
                {"type": kind, "path": "s", "by": 1}, {"type": kind, "path": "o", "by": 1},
                {"type": kind, "path": "n"}, {"type": kind, "path": "n", "by": 1.5},
                {"type": kind, "path": "n", "by": "1"},
            ], "want": {"s": "1", "o": {}, "n": 1}, "errors": [
                [0, not_number], [1, not_number], [2, bad_by], [3, bad_by], [4, bad_by],
            ]}]));
        }
    }

    #[test]
    fn root_increment_on_a_missing_key_gives_the_number() {
        check(json!([
            {"ops": [{"type": "increment", "path": "", "by": 5}], "want": 5},
            {"ops": [{"type": "decrement", "path": "", "by": 5},
                     {"type": "increment", "path": "", "by": 2}], "want": -3},
            {"current": 1, "ops": [{"type": "increment", "path": "", "by": 5}], "want": 6},
            {"current": null, "ops": [{"type": "increment", "path": "", "by": 5}], "want": 5},
            {"current": {}, "ops": [{"type": "increment", "path": "", "by": 5}], "want": {},
             "errors": [[0, "increment.not_number"]]},
        ]));
    }

    #[test]
    fn append_pushes_onto_arrays_and_concatenates_strings() {
        check(json!([{"current": {"list": [1], "text": "ab"}, "ops": [
            {"type": "append", "path": "list", "value": [2]},
            {"type": "append", "path": "text", "value": "cd"},
        ], "want": {"list": [1, [2]], "text": "abcd"}}]));
    }

    #[test]
    fn append_to_missing_string_field_gives_the_string() {
        let op = json!({"type": "append", "path": "t", "value": "hi"});
        check(json!([{"ops": [op], "want": {"t": "hi"}}]));
    }

    #[test]
    fn append_to_a_missing_or_null_field_wraps_a_non_string_in_an_array() {
        check(json!([{"current": {"n": null, "s": null}, "ops": [
            {"type": "append", "path": "a", "value": {"k": 1}},
            {"type": "append", "path": "n", "value": 2},
            {"type": "append", "path": "s", "value": "x"},
        ], "want": {"a": [{"k": 1}], "n": [2], "s": "x"}}]));
    }

    #[test]
    fn append_to_an_incompatible_target_is_a_type_mismatch() {
        let current = json!({"text": "ab", "num": 1, "obj": {}, "flag": false});
        let mismatch = "append.type_mismatch";
        check(json!([{"current": current, "ops": [
            {"type": "append", "path": "text", "value": 1},
            {"type": "append", "path": "num", "value": 1},
            {"type": "append", "path": "obj", "value": "x"},
            {"type": "append", "path": "flag", "value": "x"},
            {"type": "append", "path": "", "value": 1},
        ], "want": current, "errors": [
            [0, mismatch], [1, mismatch], [2, mismatch], [3, mismatch], [4, mismatch],
        ]}]));
    }

    #[test]
    fn root_append_on_a_missing_key_gives_the_value_or_a_one_element_array() {
        check(json!([
            {"ops": [{"type": "append", "path": "", "value": "s"}], "want": "s"},
            {"ops": [{"type": "append", "path": "", "value": 1},
                     {"type": "append", "path": "", "value": 2}], "want": [1, 2]},
            {"current": "a", "ops": [{"type": "append", "path": "", "value": "b"}], "want": "ab"},
        ]));
    }

    #[test]
    fn remove_deletes_a_top_level_key_tolerates_a_missing_one_and_nulls_the_root() {
        check(json!([
            {"current": {"a": 1, "b": 2}, "ops": [{"type": "remove", "path": "a"},
                {"type": "remove", "path": "absent"}], "want": {"b": 2}},
            {"current": {"a": 1}, "ops": [{"type": "remove", "path": ""}], "want": null},
            {"ops": [{"type": "remove", "path": ""}], "want": null},
        ]));
    }

    #[test]
    fn unknown_or_malformed_ops_are_reported_with_their_codes() {
        check(json!([{"current": {"a": 1}, "ops": [
            5, {"path": "a"}, {"type": "rename", "path": "a"}, {"type": 1},
            {"type": "set", "path": "a"}, {"type": "set", "path": 3, "value": 1},
            {"type": "remove"}, {"type": "increment", "by": 1}, {"type": "append", "path": "a"},
            {"type": "merge", "path": "a"}, {"type": "merge", "path": ["a", 1], "value": {}},
            {"type": "merge", "path": 7, "value": {}},
        ], "want": {"a": 1}, "errors": [
            [0, "op.unknown_type"], [1, "op.unknown_type"], [2, "op.unknown_type"],
            [3, "op.unknown_type"], [4, "op.invalid"], [5, "op.invalid"], [6, "op.invalid"],
            [7, "op.invalid"], [8, "op.invalid"], [9, "op.invalid"], [10, "op.invalid"],
            [11, "op.invalid"],
        ]}]));
    }

    #[test]
    fn a_failing_op_does_not_stop_the_rest() {
        check(json!([{"current": {"s": "hi"}, "ops": [
            {"type": "increment", "path": "n", "by": 1},
            {"type": "increment", "path": "s", "by": 1},
            {"type": "bogus"}, {"type": "append", "path": "s", "value": "!"},
        ], "want": {"s": "hi!", "n": 1},
           "errors": [[1, "increment.not_number"], [2, "op.unknown_type"]]}]));
    }

    #[test]
    fn a_missing_key_stays_missing_for_root_ops_until_an_op_applies() {
        check(json!([
            {"ops": [{"type": "increment", "path": "", "by": "x"},
                     {"type": "increment", "path": "", "by": 5}],
             "want": 5, "errors": [[0, "increment.invalid_by"]]},
            {"ops": [{"type": "set", "path": "a", "value": 1},
                     {"type": "increment", "path": "", "by": 5}],
             "want": {"a": 1}, "errors": [[1, "increment.not_number"]]},
        ]));
    }

    #[test]
    fn ops_apply_in_order() {
        check(json!([{"current": "old", "ops": [
            {"type": "set", "path": "", "value": {"n": 1}},
            {"type": "increment", "path": "n", "by": 1},
            {"type": "merge", "value": {"m": [0], "n2": 0}},
            {"type": "append", "path": "m", "value": 1},
            {"type": "remove", "path": "n"},
        ], "want": {"m": [0, 1], "n2": 0}}]));
    }

    #[test]
    fn only_merge_errors_carry_a_doc_url_and_a_missing_one_is_not_serialized() {
        let ops = json!([{"type": "merge", "value": 1}, {"type": "remove"}]);
        let errors = serde_json::to_value(run(ops).1).ok();
        let want = json!([
            {"op_index": 0, "code": "merge.value_not_object",
             "message": "merge value not an object", "doc_url": MERGE_DOC_URL},
            {"op_index": 1, "code": "op.invalid", "message": "remove needs a string `path`"},
        ]);
        assert_eq!(errors, Some(want));
    }
}
