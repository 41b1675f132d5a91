//! Worker RBAC on a worker-socket listener, with iii v0.11.6's model and names.
//!
//! A listener (`iii-worker-manager` entry) may carry an `rbac` block and a
//! `middleware_function_id`:
//! - `rbac.auth_function_id` names a function that receives the handshake (`headers`,
//!   `query_params`, `ip_address`) and answers an [`AuthResult`]: which functions the
//!   connection may call besides the exposed ones, which it may not, whether it may register
//!   functions and trigger types, which trigger types it may use, a `context` that later hooks
//!   receive, and an optional `function_registration_prefix`. An error answer refuses the
//!   connection. Without an auth function every connection gets the defaults.
//! - `rbac.expose_functions` lists `match("pattern")` strings and `{metadata: {...}}` filters:
//!   what a connection may call when the auth result does not name it.
//! - `rbac.on_function_registration_function_id`, `on_trigger_registration_function_id`,
//!   `on_trigger_type_registration_function_id`: called before each registration with its
//!   fields and the context; an object answer allows it (and may rewrite fields), anything else
//!   drops it.
//! - `middleware_function_id` (beside `rbac`): every call a connection makes to a function
//!   outside `engine::*` goes to the middleware instead, with `function_id`, `payload`,
//!   `action` and `context`; its answer is the call's answer.
//!
//! Our extension: `allowed_origins` on a listener. A handshake carrying an `Origin` header (any
//! browser page sends one) is refused unless the origin is listed; the default list is empty.
//!
//! Decisions are pure functions here; the socket code in [`crate::ws`] carries them out.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

/// Calls every connection may make unless its auth result forbids them (iii's carve-out:
/// connection setup, logging and context propagation).
pub const INFRASTRUCTURE_FUNCTIONS: &[&str] = &[
    "engine::channels::create",
    "engine::workers::register",
    "engine::log::info",
    "engine::log::warn",
    "engine::log::error",
    "engine::log::debug",
    "engine::log::trace",
    "engine::baggage::get",
    "engine::baggage::set",
    "engine::baggage::get_all",
];

/// A `*` wildcard pattern over function ids (`api::*`, `*::public`, `api::*::read`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// A pattern from its text.
    pub fn new(text: &str) -> Self {
        Self(text.to_string())
    }

    /// Whether `value` matches: each `*` stands for any run of characters.
    pub fn matches(&self, value: &str) -> bool {
        glob_match(&self.0, value)
    }

    /// The pattern's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub use agentos_protocol::glob_match;

/// One `expose_functions` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionFilter {
    /// `match("pattern")`: the function id matches.
    Match(Pattern),
    /// `{metadata: {key: value}}`: every key of the function's metadata equals the value (or
    /// matches it, when the value is itself `match("...")`).
    Metadata(BTreeMap<String, MetadataValue>),
}

/// A metadata condition.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Equal to this JSON value.
    Exact(Value),
    /// A string matching this pattern.
    Wildcard(Pattern),
}

impl FunctionFilter {
    /// Whether a function with this id and metadata passes the filter.
    pub fn matches(&self, function_id: &str, metadata: Option<&Value>) -> bool {
        match self {
            Self::Match(p) => p.matches(function_id),
            Self::Metadata(expected) => {
                let Some(obj) = metadata.and_then(Value::as_object) else { return false };
                expected.iter().all(|(key, want)| {
                    obj.get(key).is_some_and(|v| match want {
                        MetadataValue::Exact(e) => v == e,
                        MetadataValue::Wildcard(p) => v.as_str().is_some_and(|s| p.matches(s)),
                    })
                })
            }
        }
    }

    /// Parses one entry: a `match("…")` string or a `{metadata: {…}}` map.
    pub fn parse(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(s) => match match_pattern(s) {
                Some(p) => Ok(Self::Match(Pattern::new(&p))),
                None => Err(format!("expected match(\"pattern\"), found {s:?}")),
            },
            Value::Object(map) => {
                let Some(Value::Object(inner)) = map.get("metadata") else {
                    return Err("expected a map with a `metadata` mapping of conditions".into());
                };
                if inner.is_empty() {
                    return Err("`metadata` needs at least one condition".into());
                }
                let conditions = inner
                    .iter()
                    .map(|(k, v)| {
                        let cond = match v.as_str().and_then(match_pattern) {
                            Some(p) => MetadataValue::Wildcard(Pattern::new(&p)),
                            None => MetadataValue::Exact(v.clone()),
                        };
                        (k.clone(), cond)
                    })
                    .collect();
                Ok(Self::Metadata(conditions))
            }
            other => Err(format!("expected match(\"pattern\") or {{metadata: ...}}, found {other}")),
        }
    }
}

fn match_pattern(s: &str) -> Option<String> {
    let t = s.trim();
    let inner = t.strip_prefix("match(")?.strip_suffix(')')?;
    let quoted = (inner.starts_with('"') && inner.ends_with('"')) || (inner.starts_with('\'') && inner.ends_with('\''));
    (quoted && inner.len() >= 2).then(|| inner[1..inner.len() - 1].to_string())
}

/// A listener's `rbac` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RbacConfig {
    /// Authenticates each handshake.
    pub auth_function_id: Option<String>,
    /// What connections may call beyond their auth result's allowed list.
    pub expose_functions: Vec<FunctionFilter>,
    /// Asked before each function registration.
    pub on_function_registration_function_id: Option<String>,
    /// Asked before each trigger registration.
    pub on_trigger_registration_function_id: Option<String>,
    /// Asked before each trigger type registration.
    pub on_trigger_type_registration_function_id: Option<String>,
}

/// The security settings of one worker-socket listener.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerSecurity {
    /// `rbac`; `None` lets every connection do everything (iii's default).
    pub rbac: Option<RbacConfig>,
    /// `middleware_function_id`.
    pub middleware_function_id: Option<String>,
    /// Browser origins whose handshakes are accepted (our extension); empty refuses every
    /// handshake that carries an `Origin` header.
    pub allowed_origins: Vec<String>,
}

impl ListenerSecurity {
    /// Whether a handshake with this `Origin` header (if any) may proceed. Non-browser clients
    /// send none; a listed origin (or `*`) passes.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(o) => self.allowed_origins.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(o.trim())),
        }
    }
}

/// What an auth function answers (iii's `AuthResult`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthResult {
    /// Callable whatever `expose_functions` says.
    #[serde(default)]
    pub allowed_functions: Vec<String>,
    /// Never callable.
    #[serde(default)]
    pub forbidden_functions: Vec<String>,
    /// Trigger types the connection may register triggers of; `None`: every type.
    #[serde(default)]
    pub allowed_trigger_types: Option<Vec<String>>,
    /// Whether it may register trigger types.
    #[serde(default)]
    pub allow_trigger_type_registration: bool,
    /// Whether it may register functions.
    #[serde(default = "yes")]
    pub allow_function_registration: bool,
    /// Passed to every hook and to the middleware.
    #[serde(default = "empty_object")]
    pub context: Value,
    /// Prefixed (`{prefix}::`) to every function id the connection registers.
    #[serde(default)]
    pub function_registration_prefix: Option<String>,
}

fn yes() -> bool {
    true
}

fn empty_object() -> Value {
    json!({})
}

impl AuthResult {
    /// What a connection gets when its listener has no auth function.
    pub fn open() -> Self {
        Self {
            allowed_functions: Vec::new(),
            forbidden_functions: Vec::new(),
            allowed_trigger_types: None,
            allow_trigger_type_registration: true,
            allow_function_registration: true,
            context: empty_object(),
            function_registration_prefix: None,
        }
    }
}

/// One authenticated connection: its listener's rules and its auth result.
#[derive(Debug, Clone)]
pub struct Session {
    /// The listener's settings.
    pub security: std::sync::Arc<ListenerSecurity>,
    /// The auth function's answer.
    pub auth: AuthResult,
}

impl Session {
    /// A session with no restrictions (a listener without `rbac`).
    pub fn open() -> Self {
        Self { security: std::sync::Arc::new(ListenerSecurity::default()), auth: AuthResult::open() }
    }

    /// Whether this connection may call `function_id` (iii's decision order: forbidden, allowed,
    /// infrastructure, exposed; without `rbac` everything).
    pub fn may_call(&self, function_id: &str, metadata: Option<&Value>) -> bool {
        if self.auth.forbidden_functions.iter().any(|f| f == function_id) {
            return false;
        }
        if self.auth.allowed_functions.iter().any(|f| f == function_id) {
            return true;
        }
        if INFRASTRUCTURE_FUNCTIONS.contains(&function_id) {
            return true;
        }
        match &self.security.rbac {
            Some(rbac) => rbac.expose_functions.iter().any(|f| f.matches(function_id, metadata)),
            None => true,
        }
    }

    /// Whether [`Session::may_call`] would look at a function's metadata: only when the call is
    /// not settled by the lists and a `{metadata: …}` filter is exposed.
    pub fn reads_metadata(&self) -> bool {
        self.security
            .rbac
            .as_ref()
            .is_some_and(|r| r.expose_functions.iter().any(|f| matches!(f, FunctionFilter::Metadata(_))))
    }

    /// The `FORBIDDEN` message for a refused call, naming the fix as iii does.
    pub fn refusal(&self, function_id: &str) -> String {
        let fix = if self.auth.forbidden_functions.iter().any(|f| f == function_id) {
            "remove from rbac.forbidden_functions"
        } else {
            "add to rbac.expose_functions"
        };
        format!("function '{function_id}' not allowed ({fix})")
    }

    /// The middleware that calls of this connection go through, if any (never for `engine::*`).
    pub fn middleware_for(&self, function_id: &str) -> Option<&str> {
        self.security.middleware_function_id.as_deref().filter(|_| !function_id.starts_with("engine::"))
    }

    /// The id a registration of `id` is stored under (the auth result's prefix applied).
    pub fn registered_id(&self, id: &str) -> String {
        match &self.auth.function_registration_prefix {
            Some(prefix) => format!("{prefix}::{id}"),
            None => id.to_string(),
        }
    }

    /// The id the worker knows a stored function by (the prefix removed).
    pub fn local_id<'a>(&self, stored: &'a str) -> &'a str {
        match &self.auth.function_registration_prefix {
            Some(prefix) => stored.strip_prefix(prefix.as_str()).and_then(|r| r.strip_prefix("::")).unwrap_or(stored),
            None => stored,
        }
    }

    /// Whether two sessions are the same identity: an owner may be replaced only by a
    /// connection that authenticated as the same one (equal auth contexts).
    pub fn same_identity(&self, other: &Session) -> bool {
        self.auth.context == other.auth.context
    }

    /// A hook id from the listener's `rbac` block.
    pub fn hook(&self, pick: impl Fn(&RbacConfig) -> Option<&String>) -> Option<String> {
        self.security.rbac.as_ref().and_then(pick).cloned()
    }
}

/// The handshake input an auth function receives: lower-case header names (a repeated header's
/// values joined with `, `), query parameters with every value, and the peer's address.
pub fn auth_input(headers: &axum::http::HeaderMap, query: Option<&str>, ip_address: &str) -> Value {
    let mut header_map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        header_map
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let mut query_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        query_map.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    json!({ "headers": header_map, "query_params": query_map, "ip_address": ip_address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposing(patterns: &[&str]) -> Session {
        let rbac = RbacConfig {
            expose_functions: patterns.iter().map(|p| FunctionFilter::Match(Pattern::new(p))).collect(),
            ..RbacConfig::default()
        };
        Session {
            security: std::sync::Arc::new(ListenerSecurity { rbac: Some(rbac), ..ListenerSecurity::default() }),
            auth: AuthResult::open(),
        }
    }

    #[test]
    fn wildcards_match_prefixes_suffixes_and_middles() {
        assert!(glob_match("api::*", "api::users::list"));
        assert!(!glob_match("api::*", "apix::users"));
        assert!(glob_match("*::public", "x::y::public"));
        assert!(glob_match("api::*::read", "api::users::read"));
        assert!(!glob_match("api::*::read", "api::users::write"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn filters_parse_from_config_values() {
        assert_eq!(
            FunctionFilter::parse(&json!("match(\"api::*\")")).unwrap(),
            FunctionFilter::Match(Pattern::new("api::*"))
        );
        assert_eq!(FunctionFilter::parse(&json!("match('x')")).unwrap(), FunctionFilter::Match(Pattern::new("x")));
        assert!(FunctionFilter::parse(&json!("api::*")).is_err());
        let meta = FunctionFilter::parse(&json!({"metadata": {"public": true, "tier": "match(\"gold*\")"}})).unwrap();
        assert!(meta.matches("any", Some(&json!({"public": true, "tier": "golden"}))));
        assert!(!meta.matches("any", Some(&json!({"public": true, "tier": "silver"}))));
        assert!(!meta.matches("any", None));
        assert!(FunctionFilter::parse(&json!({"metadata": {}})).is_err());
    }

    #[test]
    fn forbidden_beats_allowed_which_beats_exposure() {
        let mut s = exposing(&["*"]);
        s.auth.allowed_functions = vec!["t::f".into()];
        s.auth.forbidden_functions = vec!["t::f".into()];
        assert!(!s.may_call("t::f", None));
        assert_eq!(s.refusal("t::f"), "function 't::f' not allowed (remove from rbac.forbidden_functions)");
        let mut s = exposing(&[]);
        s.auth.allowed_functions = vec!["t::f".into()];
        assert!(s.may_call("t::f", None));
        assert!(!s.may_call("t::g", None));
        assert_eq!(s.refusal("t::g"), "function 't::g' not allowed (add to rbac.expose_functions)");
    }

    #[test]
    fn infrastructure_is_callable_unless_forbidden_and_discovery_is_not() {
        let s = exposing(&["api::*"]);
        for id in INFRASTRUCTURE_FUNCTIONS {
            assert!(s.may_call(id, None), "{id}");
        }
        assert!(!s.may_call("engine::functions::list", None));
        let mut s = exposing(&[]);
        s.auth.forbidden_functions = vec!["engine::log::info".into()];
        assert!(!s.may_call("engine::log::info", None));
        assert!(Session::open().may_call("anything::at_all", None));
    }

    #[test]
    fn middleware_skips_engine_functions() {
        let mut s = Session::open();
        s.security = std::sync::Arc::new(ListenerSecurity {
            middleware_function_id: Some("sec::mw".into()),
            ..ListenerSecurity::default()
        });
        assert_eq!(s.middleware_for("state::get"), Some("sec::mw"));
        assert_eq!(s.middleware_for("engine::functions::list"), None);
    }

    #[test]
    fn prefixes_apply_on_registration_and_come_off_on_dispatch() {
        let mut s = Session::open();
        s.auth.function_registration_prefix = Some("tenant".into());
        assert_eq!(s.registered_id("echo"), "tenant::echo");
        assert_eq!(s.local_id("tenant::echo"), "echo");
        assert_eq!(s.local_id("other::echo"), "other::echo");
    }

    #[test]
    fn origins_are_refused_unless_listed() {
        let mut l = ListenerSecurity::default();
        assert!(l.origin_allowed(None));
        assert!(!l.origin_allowed(Some("https://evil.example")));
        l.allowed_origins = vec!["http://localhost:5173".into()];
        assert!(l.origin_allowed(Some("http://localhost:5173")));
        assert!(!l.origin_allowed(Some("http://localhost:5174")));
    }

    #[test]
    fn the_handshake_input_joins_repeated_headers_and_keeps_every_query_value() {
        let mut h = axum::http::HeaderMap::new();
        h.append("Authorization", "Bearer a".parse().unwrap());
        h.append("authorization", "Bearer b".parse().unwrap());
        let input = auth_input(&h, Some("token=x&token=y&k=v%20w"), "127.0.0.1");
        assert_eq!(input["headers"]["authorization"], "Bearer a, Bearer b");
        assert_eq!(input["query_params"]["token"], json!(["x", "y"]));
        assert_eq!(input["query_params"]["k"], json!(["v w"]));
        assert_eq!(input["ip_address"], "127.0.0.1");
    }
}
