//! What a person's past decisions leave behind for classify: `always` rules and session grants.
//!
//! The approval worker writes them when a request is approved with scope `always` or `session`;
//! approval-tiers only reads them. Both live in the engine's state, so they survive restarts of
//! either worker:
//! - [`RULES_SCOPE`], key = rule id: an [`AlwaysRule`] auto-approves the next call of the same
//!   function with the same arguments (compared as canonical JSON: object keys sorted, so key
//!   order does not matter, but every value does). The id is derived from the function and the
//!   canonical arguments ([`always_rule_id`]), so classify finds a rule with one `state::get`
//!   and approving the same call `always` twice keeps one rule.
//! - [`GRANTS_SCOPE`], key = session id: a [`SessionGrant`] lists the functions a person
//!   approved for the rest of that session.

use serde_json::{Map, Value};

/// The state scope of `always` rules, keyed by rule id.
pub const RULES_SCOPE: &str = "approval:rules";

/// The state scope of session grants, keyed by session id.
pub const GRANTS_SCOPE: &str = "approval:grants";

/// Who decided and through what, a remembered `always` rule and a session grant (the approval
/// contract).
pub use agentos_protocol::approval::{AlwaysRule, By, SessionGrant, Via};

/// Whether an `always` rule approves a call.
pub trait CoversCall {
    /// Whether it approves a call of `function_id` with `arguments`: the same function and
    /// canonically equal arguments.
    fn covers(&self, function_id: &str, arguments: &Value) -> bool;
}

impl CoversCall for AlwaysRule {
    fn covers(&self, function_id: &str, arguments: &Value) -> bool {
        self.function_id == function_id && canonical(&self.arguments) == canonical(arguments)
    }
}

/// Whether a session grant approves a function.
pub trait CoversFunction {
    /// Whether `function_id` is granted.
    fn covers(&self, function_id: &str) -> bool;
}

impl CoversFunction for SessionGrant {
    fn covers(&self, function_id: &str) -> bool {
        self.functions.iter().any(|f| f == function_id)
    }
}

/// `value` with every object's keys sorted (recursively), so equal data serialises equally
/// whatever order the keys came in. A missing (`null`) argument object reads as `{}`.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Null => Value::Object(Map::new()),
        other => sorted(other),
    }
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The id of the `always` rule for a call: `always-` and the 64-bit FNV-1a hash of the function
/// id and the canonical arguments, in hex. FNV is written out here because the id is stored: it
/// must not change with a Rust release (as `DefaultHasher` may).
pub fn always_rule_id(function_id: &str, arguments: &Value) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let text = format!("{function_id}\n{}", canonical(arguments));
    let hash = text.bytes().fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("always-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_the_canonical_form_or_the_rule_id() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}});
        let b: Value = serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1}"#).unwrap();
        assert_eq!(canonical(&a).to_string(), r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#);
        assert_eq!(canonical(&a).to_string(), canonical(&b).to_string());
        assert_eq!(always_rule_id("code::run_command", &a), always_rule_id("code::run_command", &b));
    }

    #[test]
    fn any_difference_in_function_or_arguments_is_another_rule() {
        let args = json!({"program": "cargo", "args": ["test"]});
        let id = always_rule_id("code::run_command", &args);
        assert!(id.starts_with("always-") && id.len() == 23, "{id}");
        assert_ne!(id, always_rule_id("code::run_commands", &args));
        assert_ne!(id, always_rule_id("code::run_command", &json!({"program": "cargo", "args": ["test", "-q"]})));
        // A known value pins the hash, so stored ids stay valid across releases.
        assert_eq!(always_rule_id("x::y", &json!({})), always_rule_id("x::y", &Value::Null));
        assert_eq!(always_rule_id("x::y", &json!({})), "always-b2b46620aeac2da4");
    }

    #[test]
    fn a_rule_covers_only_the_identical_call_and_a_grant_only_its_functions() {
        let rule = AlwaysRule {
            id: "always-1".into(),
            function_id: "code::write_file".into(),
            arguments: canonical(&json!({"path": "a", "content": "x"})),
            created_ms: 1,
            by: By { who: None, via: Via::Cli },
            from_request: "apr-1".into(),
        };
        assert!(rule.covers("code::write_file", &json!({"content": "x", "path": "a"})));
        assert!(!rule.covers("code::write_file", &json!({"content": "y", "path": "a"})));
        assert!(!rule.covers("code::apply_patch", &json!({"content": "x", "path": "a"})));
        let grant = SessionGrant { session_id: "s".into(), functions: vec!["code::write_file".into()], updated_ms: 1 };
        assert!(grant.covers("code::write_file"));
        assert!(!grant.covers("code::apply_patch"));
    }
}
