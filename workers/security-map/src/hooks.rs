//! The engine-facing decisions, on the JSON the iii RBAC model exchanges: the auth function
//! (handshake → auth result), the three registration hooks and the middleware's check. The
//! embedded engine runs them in process as built-ins; their ids are below.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::map::{self, Identity};
use crate::tokens::{Kind, TokenCache};

/// `rbac.auth_function_id`.
pub const AUTHENTICATE: &str = "security::authenticate";
/// `rbac.on_function_registration_function_id`.
pub const ON_FUNCTION_REGISTRATION: &str = "security::on_function_registration";
/// `rbac.on_trigger_registration_function_id`.
pub const ON_TRIGGER_REGISTRATION: &str = "security::on_trigger_registration";
/// `rbac.on_trigger_type_registration_function_id`.
pub const ON_TRIGGER_TYPE_REGISTRATION: &str = "security::on_trigger_type_registration";
/// `middleware_function_id`.
pub const MIDDLEWARE: &str = "security::middleware";

/// The token a handshake presents: one `Authorization: Bearer …` header, else one `token`
/// query parameter (the SDKs' telemetry socket cannot send headers).
///
/// Errors: no token, a header of another scheme, or more than one header or parameter.
pub fn presented_token(input: &Value) -> Result<String, String> {
    let header = input.pointer("/headers/authorization").and_then(Value::as_str);
    if let Some(header) = header {
        if header.contains(',') {
            return Err("more than one Authorization header; send exactly one".into());
        }
        let (scheme, token) =
            header.trim().split_once(' ').ok_or("the Authorization header is not `Bearer <token>`")?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err("the Authorization header is not `Bearer <token>`".into());
        }
        return Ok(token.trim().to_string());
    }
    match input.pointer("/query_params/token").and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::String(token)]) if !token.is_empty() => Ok(token.clone()),
        Some([_, _, ..]) => Err("more than one token parameter; send exactly one".into()),
        _ => Err("no engine token: a worker connects with Authorization: Bearer <token> (AGENTOS_ENGINE_TOKEN or III_TOKEN); \
             `agentos up` gives its workers one, `agentos token create NAME --namespaces NS` makes one for your own worker"
            .to_string()),
    }
}

/// The auth function: the identity of the token the handshake presents, as an iii auth result.
///
/// Errors: no token, an unknown token, an unreadable token file.
pub fn authenticate(tokens: &TokenCache, input: &Value) -> Result<Value, String> {
    let token = presented_token(input)?;
    let entry = tokens
        .verify(&token)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "unknown engine token; use the one `agentos up` or `agentos token create` gave".to_string())?;
    let forbidden = match entry.kind {
        Kind::Worker => map::FORBIDDEN_ENGINE_FUNCTIONS,
        Kind::External => map::FORBIDDEN_ENGINE_FUNCTIONS_EXTERNAL,
    };
    let identity =
        Identity { identity: entry.identity, kind: entry.kind, namespaces: entry.namespaces, calls: entry.calls };
    Ok(json!({
        "allowed_functions": [],
        "forbidden_functions": forbidden,
        "allow_trigger_type_registration": true,
        "allow_function_registration": true,
        "context": identity,
    }))
}

fn identity_of(input: &Value) -> Result<Identity, String> {
    // Read in place: the middleware asks this on every call a worker makes.
    Identity::deserialize(input.get("context").unwrap_or(&Value::Null))
        .map_err(|_| "the connection has no agentos identity (was it authenticated by security::authenticate?)".into())
}

fn field<'a>(input: &'a Value, name: &str) -> &'a str {
    input.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The function-registration hook: `{}` (keep everything) or the reason it is refused.
pub fn on_function_registration(input: &Value) -> Result<Value, String> {
    map::check_function_registration(&identity_of(input)?, field(input, "function_id")).map(|()| json!({}))
}

/// The trigger-registration hook.
pub fn on_trigger_registration(input: &Value) -> Result<Value, String> {
    let config = input.get("config").cloned().unwrap_or(Value::Null);
    map::check_trigger_registration(
        &identity_of(input)?,
        field(input, "trigger_type"),
        field(input, "function_id"),
        &config,
    )
    .map(|()| json!({}))
}

/// The trigger-type-registration hook.
pub fn on_trigger_type_registration(input: &Value) -> Result<Value, String> {
    map::check_trigger_type_registration(&identity_of(input)?, field(input, "trigger_type_id")).map(|()| json!({}))
}

/// The middleware's check: the call may go on, or the reason it may not.
pub fn check_middleware_call(input: &Value) -> Result<(), String> {
    map::check_call(&identity_of(input)?, field(input, "function_id"), input.get("payload").unwrap_or(&Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenFile;

    fn handshake(headers: Value, query: Value) -> Value {
        json!({"headers": headers, "query_params": query, "ip_address": "127.0.0.1"})
    }

    #[test]
    fn a_handshake_authenticates_by_bearer_header_or_token_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        let mut file = TokenFile::default();
        let issued = file.reissue_workers(&[("approval".into(), vec!["approval".into()])]);
        file.save(&path).unwrap();
        let cache = TokenCache::new(path);
        let token = &issued[0].1;
        let ok =
            authenticate(&cache, &handshake(json!({"authorization": format!("Bearer {token}")}), json!({}))).unwrap();
        assert_eq!(ok["context"]["identity"], "approval");
        assert_eq!(ok["forbidden_functions"], json!(["engine::traces::clear"]));
        let ok = authenticate(&cache, &handshake(json!({}), json!({"token": [token]}))).unwrap();
        assert_eq!(ok["context"]["namespaces"], json!(["approval"]));

        let err = authenticate(&cache, &handshake(json!({}), json!({}))).unwrap_err();
        assert!(err.starts_with("no engine token"), "{err}");
        let err = authenticate(&cache, &handshake(json!({"authorization": "Bearer nope"}), json!({}))).unwrap_err();
        assert!(err.starts_with("unknown engine token"), "{err}");
        let two = format!("Bearer {token}, Bearer {token}");
        let err = authenticate(&cache, &handshake(json!({"authorization": two}), json!({}))).unwrap_err();
        assert_eq!(err, "more than one Authorization header; send exactly one");
        let err = authenticate(&cache, &handshake(json!({"authorization": format!("Basic {token}")}), json!({})))
            .unwrap_err();
        assert!(err.contains("not `Bearer <token>`"), "{err}");
    }

    #[test]
    fn hooks_read_the_identity_from_the_context() {
        let ctx = json!({"identity": "py", "kind": "external", "namespaces": ["py"], "calls": []});
        assert_eq!(on_function_registration(&json!({"function_id": "py::x", "context": ctx})).unwrap(), json!({}));
        assert!(on_function_registration(&json!({"function_id": "approval::classify", "context": ctx})).is_err());
        assert!(on_function_registration(&json!({"function_id": "py::x", "context": {}})).is_err());
        let trig = json!({"trigger_type": "http", "function_id": "py::x", "config": {"api_path": "v1/approvals"}, "context": ctx});
        assert!(on_trigger_registration(&trig).is_err());
        assert!(check_middleware_call(&json!({"function_id": "py::x", "payload": {}, "context": ctx})).is_ok());
        assert!(
            check_middleware_call(&json!({"function_id": "approval::decide", "payload": {}, "context": ctx})).is_err()
        );
    }
}
