//! The capability map: which identity may call which function, register what, and touch which
//! state scopes. Pure decisions over an [`Identity`]; the rules are the tables below, printed by
//! `agentos policy capabilities`.
//!
//! Rules it keeps:
//! - A built-in worker may call any function except the guarded ones, which only the listed
//!   identities may call; `state::*` on a guarded scope likewise.
//! - An external identity (a token from `agentos token create`) may call its own namespaces,
//!   the patterns it was granted (`--call`), and `state::*` on scopes named after its own
//!   namespaces (`ns` or `ns:…`); nothing else.
//! - Every identity registers functions, triggers and trigger types only in its own
//!   namespaces; an external identity may not serve routes under `/v1/` (the agentos API, whose
//!   requests carry the user's key).
//! - Decisions name the authenticated identity; the caller cannot choose it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tokens::Kind;

/// Who a connection authenticated as (the auth context every hook and the middleware receive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Its name.
    pub identity: String,
    /// Built-in worker or external.
    pub kind: Kind,
    /// The namespaces it owns.
    pub namespaces: Vec<String>,
    /// Extra call grants (external identities).
    #[serde(default)]
    pub calls: Vec<String>,
}

/// One guarded group of functions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Guard {
    /// The function ids (a `*` pattern).
    pub functions: &'static str,
    /// The only identities that may call them over the engine.
    pub callers: &'static [&'static str],
    /// Why.
    pub reason: &'static str,
}

/// One guarded group of state scopes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScopeGuard {
    /// The scopes (a `*` pattern).
    pub scopes: &'static str,
    /// The only identities that may read or write them.
    pub owners: &'static [&'static str],
    /// Why.
    pub reason: &'static str,
}

/// Functions only some identities may call (the first group that matches applies). People reach
/// them through the REST API, whose routes are called by the engine itself and pass no identity
/// check.
pub const GUARDED_CALLS: &[Guard] = &[
    Guard {
        functions: "code::read_file",
        callers: &["agent-core", "approval"],
        reason: "file contents are read for a chat turn, and by the approval worker for the diff a person sees",
    },
    Guard {
        functions: "code::*",
        callers: &["agent-core"],
        reason: "workspace tools run only inside a chat turn, under the approval policy and the loop guard",
    },
    Guard {
        functions: "approval::decide",
        callers: &["agent-core"],
        reason: "people decide through the REST API; the agent loop only withdraws its own requests",
    },
    Guard {
        functions: "approval::delete_rule",
        callers: &[],
        reason: "remembered rules are removed by people, through the REST API",
    },
    Guard { functions: "replay::delete", callers: &[], reason: "the record is deleted only through the REST API" },
    Guard {
        functions: "supervisor::restart",
        callers: &[],
        reason: "restarts are asked for through the REST API (agentos restart, the dashboard)",
    },
    Guard { functions: "security::*", callers: &[], reason: "the security map is read through the REST API" },
];

/// State scopes only their owners may touch.
pub const GUARDED_SCOPES: &[ScopeGuard] = &[
    ScopeGuard {
        scopes: "approval:*",
        owners: &["approval", "approval-tiers"],
        reason: "approval requests, remembered rules and session grants decide what runs unasked",
    },
    ScopeGuard {
        scopes: "replay:*",
        owners: &["session-replay"],
        reason: "the replay record is append-only evidence of what happened",
    },
];

/// Engine built-ins no connection may call (they bypass the middleware, so the auth result
/// forbids them outright).
pub const FORBIDDEN_ENGINE_FUNCTIONS: &[&str] = &["engine::traces::clear"];

/// Engine built-ins external identities may not call either.
pub const FORBIDDEN_ENGINE_FUNCTIONS_EXTERNAL: &[&str] = &[
    "engine::traces::clear",
    "engine::traces::list",
    "engine::traces::tree",
    "engine::logs::list",
    "engine::queue::redrive",
];

/// The namespace of a function id: the text before the first `::`.
pub fn namespace(function_id: &str) -> &str {
    function_id.split_once("::").map_or(function_id, |(ns, _)| ns)
}

/// `*`-pattern matching, as the engine's RBAC filters do.
pub use agentos_protocol::glob_match as matches;

/// Whether `who` may call `function_id` with `payload`; `Err` says why not.
pub fn check_call(who: &Identity, function_id: &str, payload: &Value) -> Result<(), String> {
    let deny = |why: String| Err(format!("{} may not call {function_id}: {why}", who.identity));
    if function_id.starts_with("state::") {
        return check_scope(who, function_id, payload);
    }
    if let Some(guard) = GUARDED_CALLS.iter().find(|g| matches(g.functions, function_id)) {
        if guard.callers.contains(&who.identity.as_str()) && who.kind == Kind::Worker {
            return Ok(());
        }
        return deny(guard.reason.to_string());
    }
    match who.kind {
        Kind::Worker => Ok(()),
        Kind::External => {
            let own = who.namespaces.iter().any(|ns| ns == namespace(function_id));
            if own || who.calls.iter().any(|p| matches(p, function_id)) {
                Ok(())
            } else {
                deny(format!(
                    "it owns {} and was granted {}; grant more with `agentos token create {} --call PATTERN`",
                    who.namespaces.join(", "),
                    if who.calls.is_empty() { "no other calls".to_string() } else { who.calls.join(", ") },
                    who.identity
                ))
            }
        }
    }
}

fn check_scope(who: &Identity, function_id: &str, payload: &Value) -> Result<(), String> {
    let scope = payload.get("scope").and_then(Value::as_str).unwrap_or_default();
    let deny = |why: &str| Err(format!("{} may not call {function_id} on scope {scope:?}: {why}", who.identity));
    if let Some(guard) = GUARDED_SCOPES.iter().find(|g| matches(g.scopes, scope)) {
        if who.kind == Kind::Worker && guard.owners.contains(&who.identity.as_str()) {
            return Ok(());
        }
        return deny(guard.reason);
    }
    match who.kind {
        Kind::Worker => Ok(()),
        Kind::External => {
            let own = who.namespaces.iter().any(|ns| scope == ns || scope.starts_with(&format!("{ns}:")));
            if own { Ok(()) } else { deny("an external worker keeps its state in scopes named after its namespaces") }
        }
    }
}

/// Whether `who` may register `function_id`.
pub fn check_function_registration(who: &Identity, function_id: &str) -> Result<(), String> {
    let ns = namespace(function_id);
    if who.namespaces.iter().any(|own| own == ns) {
        Ok(())
    } else {
        Err(format!(
            "{} may not register {function_id}: it owns the namespaces {}",
            who.identity,
            who.namespaces.join(", ")
        ))
    }
}

/// Whether `who` may register a trigger of `trigger_type` calling `function_id` with `config`.
pub fn check_trigger_registration(
    who: &Identity,
    trigger_type: &str,
    function_id: &str,
    config: &Value,
) -> Result<(), String> {
    check_function_registration(who, function_id).map_err(|_| {
        format!("{} may not point a {trigger_type} trigger at {function_id}, which it does not own", who.identity)
    })?;
    if trigger_type == "http" && who.kind == Kind::External {
        let path = config.get("api_path").and_then(Value::as_str).unwrap_or_default().trim_start_matches('/');
        if path == "v1" || path.starts_with("v1/") {
            return Err(format!(
                "{} may not serve /{path}: routes under /v1/ belong to agentos and receive the user's API key",
                who.identity
            ));
        }
    }
    Ok(())
}

/// Whether `who` may register a trigger type with this id.
pub fn check_trigger_type_registration(who: &Identity, trigger_type_id: &str) -> Result<(), String> {
    match who.kind {
        Kind::Worker => Ok(()),
        Kind::External => check_function_registration(who, trigger_type_id).map_err(|_| {
            format!("{} may register trigger types only as <namespace>::<name> in its namespaces", who.identity)
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn worker(name: &str, namespaces: &[&str]) -> Identity {
        Identity {
            identity: name.into(),
            kind: Kind::Worker,
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            calls: vec![],
        }
    }

    fn external(name: &str, namespaces: &[&str], calls: &[&str]) -> Identity {
        Identity {
            identity: name.into(),
            kind: Kind::External,
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            calls: calls.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn guarded_functions_are_callable_only_by_their_callers() {
        let core = worker("agent-core", &["agent", "agent-core"]);
        let memory = worker("memory", &["memory"]);
        assert!(check_call(&core, "code::run_command", &json!({})).is_ok());
        let approval = worker("approval", &["approval"]);
        assert!(check_call(&approval, "code::read_file", &json!({})).is_ok());
        assert!(check_call(&approval, "code::write_file", &json!({})).is_err());
        let err = check_call(&memory, "code::run_command", &json!({})).unwrap_err();
        assert!(err.starts_with("memory may not call code::run_command: workspace tools"), "{err}");
        assert!(check_call(&core, "approval::decide", &json!({})).is_ok());
        assert!(check_call(&memory, "approval::decide", &json!({})).is_err());
        assert!(check_call(&core, "replay::delete", &json!({})).is_err());
        assert!(check_call(&memory, "llm::complete", &json!({})).is_ok());
        // An external identity never passes a guard, whatever its name.
        assert!(check_call(&external("agent-core", &["x"], &["*"]), "code::run_command", &json!({})).is_err());
    }

    #[test]
    fn guarded_state_scopes_belong_to_their_owners() {
        let tiers = worker("approval-tiers", &["approval"]);
        let core = worker("agent-core", &["agent"]);
        let set = |scope: &str| json!({"scope": scope, "key": "k", "value": 1});
        assert!(check_call(&tiers, "state::get", &set("approval:grants")).is_ok());
        let err = check_call(&core, "state::set", &set("approval:grants")).unwrap_err();
        assert!(err.contains("agent-core may not call state::set on scope \"approval:grants\""), "{err}");
        assert!(check_call(&core, "state::set", &set("replay:s1")).is_err());
        assert!(check_call(&core, "state::set", &set("realm:default:sessions")).is_ok());
    }

    #[test]
    fn external_identities_keep_to_their_namespaces_and_grants() {
        let py = external("py", &["py"], &["llm::complete"]);
        assert!(check_call(&py, "py::echo", &json!({})).is_ok());
        assert!(check_call(&py, "llm::complete", &json!({})).is_ok());
        let err = check_call(&py, "memory::recall", &json!({})).unwrap_err();
        assert!(err.contains("agentos token create py --call PATTERN"), "{err}");
        assert!(check_call(&py, "state::set", &json!({"scope": "py:cache"})).is_ok());
        assert!(check_call(&py, "state::set", &json!({"scope": "py"})).is_ok());
        assert!(check_call(&py, "state::set", &json!({"scope": "pyx"})).is_err());
        assert!(check_call(&py, "state::get", &json!({"scope": "realm:default:agents"})).is_err());
    }

    #[test]
    fn registrations_stay_in_owned_namespaces() {
        let py = external("py", &["py"], &[]);
        assert!(check_function_registration(&py, "py::echo").is_ok());
        let err = check_function_registration(&py, "approval::classify").unwrap_err();
        assert_eq!(err, "py may not register approval::classify: it owns the namespaces py");
        assert!(check_trigger_registration(&py, "http", "py::echo", &json!({"api_path": "/py/echo"})).is_ok());
        let err =
            check_trigger_registration(&py, "http", "py::echo", &json!({"api_path": "v1/approvals"})).unwrap_err();
        assert!(err.contains("routes under /v1/ belong to agentos"), "{err}");
        assert!(check_trigger_registration(&py, "http", "approval::http_list", &json!({"api_path": "x"})).is_err());
        let approval = worker("approval", &["approval"]);
        assert!(
            check_trigger_registration(&approval, "http", "approval::http_list", &json!({"api_path": "v1/approvals"}))
                .is_ok()
        );
        assert!(check_trigger_type_registration(&py, "py::events").is_ok());
        assert!(check_trigger_type_registration(&py, "webhook").is_err());
    }

    #[test]
    fn patterns_match_like_the_engine() {
        assert!(matches("code::*", "code::read_file"));
        assert!(!matches("code::*", "codex::x"));
        assert!(matches("approval:*", "approval:grants"));
        assert!(matches("*", "anything"));
    }
}
