//! The embedded engine's door: agentos's token check and capability map, on iii's RBAC model.
//!
//! `agentos engine` (and so `agentos up`) gives its worker socket an `rbac` block whose auth
//! function, registration hooks and middleware are the security-map decisions, registered as
//! built-ins before the first connection is accepted. A config file that brings its own `rbac`
//! keeps it; `--insecure-no-auth` leaves the socket open.

use std::path::PathBuf;
use std::sync::Arc;

use agentos_engine::Engine;
use agentos_engine::engine::CallMeta;
use agentos_engine::rbac::{FunctionFilter, ListenerSecurity, Pattern, RbacConfig};
use agentos_protocol::{ErrorBody, TriggerAction};
use agentos_worker_security_map::hooks;
use agentos_worker_security_map::tokens::TokenCache;
use serde::Deserialize;
use serde_json::Value;

/// The listener settings that put agentos's checks on a worker socket.
pub fn listener_security() -> ListenerSecurity {
    ListenerSecurity {
        rbac: Some(RbacConfig {
            auth_function_id: Some(hooks::AUTHENTICATE.to_string()),
            // Everything is exposed at the RBAC level; the middleware decides per identity, and
            // the auth result forbids the engine built-ins the middleware never sees.
            expose_functions: vec![FunctionFilter::Match(Pattern::new("*"))],
            on_function_registration_function_id: Some(hooks::ON_FUNCTION_REGISTRATION.to_string()),
            on_trigger_registration_function_id: Some(hooks::ON_TRIGGER_REGISTRATION.to_string()),
            on_trigger_type_registration_function_id: Some(hooks::ON_TRIGGER_TYPE_REGISTRATION.to_string()),
        }),
        middleware_function_id: Some(hooks::MIDDLEWARE.to_string()),
        allowed_origins: Vec::new(),
    }
}

/// Registers the auth function, the hooks and the middleware as built-ins of `engine`, reading
/// tokens from `tokens_file`.
pub fn register(engine: &Engine, tokens_file: PathBuf) {
    let tokens = Arc::new(TokenCache::new(tokens_file));
    engine.register_builtin(hooks::AUTHENTICATE, "agentos: the engine token of a handshake", move |_, input, _| {
        let tokens = Arc::clone(&tokens);
        async move { hooks::authenticate(&tokens, &input).map(Some).map_err(|m| ErrorBody::new("AUTH_ERROR", m)) }
    });
    let hook = |f: fn(&Value) -> Result<Value, String>| {
        move |_: Engine, input: Value, _: CallMeta| async move {
            f(&input).map(Some).map_err(|m| ErrorBody::new("FORBIDDEN", m))
        }
    };
    engine.register_builtin(
        hooks::ON_FUNCTION_REGISTRATION,
        "agentos: functions only in the identity's namespaces",
        hook(hooks::on_function_registration),
    );
    engine.register_builtin(
        hooks::ON_TRIGGER_REGISTRATION,
        "agentos: triggers only for the identity's own functions",
        hook(hooks::on_trigger_registration),
    );
    engine.register_builtin(
        hooks::ON_TRIGGER_TYPE_REGISTRATION,
        "agentos: trigger types by identity",
        hook(hooks::on_trigger_type_registration),
    );
    engine.register_builtin(
        hooks::MIDDLEWARE,
        "agentos: the capability map, then the call",
        |engine: Engine, mut input: Value, meta: CallMeta| async move {
            if let Err(reason) = hooks::check_middleware_call(&input) {
                let caller = input.pointer("/context/identity").and_then(Value::as_str).unwrap_or("?");
                tracing::warn!(target: "agentos::audit", identity = caller, function_id = input["function_id"].as_str().unwrap_or_default(), "call denied: {reason}");
                return Err(ErrorBody::new("FORBIDDEN", reason));
            }
            // Every call a worker makes passes here: move the payload out rather than copy it.
            let payload = input.get_mut("payload").map(Value::take).unwrap_or(Value::Null);
            let action = Option::<TriggerAction>::deserialize(&input["action"]).ok().flatten();
            let function_id = input["function_id"].as_str().unwrap_or_default();
            engine.dispatch(function_id, payload, action, meta).await
        },
    );
}
