//! iii's worker RBAC on a listener, with an auth function, registration hooks and a middleware
//! of the test's own (built-ins), over real `iii-sdk` clients and raw handshakes.

use std::time::{Duration, Instant};

use agentos_engine::rbac::{FunctionFilter, ListenerSecurity, Pattern, RbacConfig};
use agentos_protocol::ErrorBody;
use iii_sdk::{RegisterFunctionMessage, TriggerRequest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call, client_with, handshake, remote};

/// `Bearer alice`/`Bearer bob` authenticate as those users; `alice` may not call `api::secret`
/// and owns the `alice` namespace; anything else is refused.
fn setup(engine: &agentos_engine::Engine) {
    engine.register_builtin("auth::check", "test auth", |_, input: Value, _| async move {
        let user = match input["headers"]["authorization"].as_str() {
            Some("Bearer alice") => "alice",
            Some("Bearer bob") => "bob",
            _ => return Err(ErrorBody::new("AUTH_ERROR", "who are you?")),
        };
        let forbidden: Vec<&str> = if user == "alice" { vec!["api::secret"] } else { vec![] };
        Ok(Some(json!({"forbidden_functions": forbidden, "context": {"user": user}})))
    });
    engine.register_builtin("auth::on_function", "test hook", |_, input: Value, _| async move {
        let user = input["context"]["user"].as_str().unwrap_or_default().to_string();
        let id = input["function_id"].as_str().unwrap_or_default();
        if id.starts_with(&format!("{user}::")) || id.starts_with("shared::") {
            Ok(Some(json!({})))
        } else {
            Err(ErrorBody::new("FORBIDDEN", format!("{user} may not register {id}")))
        }
    });
    engine.register_builtin("auth::middleware", "test middleware", |engine, input: Value, meta| async move {
        if input["function_id"] == "api::audited" {
            return Ok(Some(json!({"audited_for": input["context"]["user"]})));
        }
        let action = serde_json::from_value(input["action"].clone()).ok().flatten();
        engine.dispatch(input["function_id"].as_str().unwrap_or_default(), input["payload"].clone(), action, meta).await
    });
    engine.register_builtin("api::echo", "echo", |_, input: Value, _| async move { Ok(Some(input)) });
    engine.register_builtin("api::secret", "secret", |_, _, _| async move { Ok(Some(json!("s3cret"))) });
    engine.register_builtin("internal::x", "not exposed", |_, _, _| async move { Ok(Some(json!(1))) });
}

fn secured(config: &mut agentos_engine::EngineConfig) {
    config.worker_security = ListenerSecurity {
        rbac: Some(RbacConfig {
            auth_function_id: Some("auth::check".into()),
            expose_functions: vec![
                FunctionFilter::Match(Pattern::new("api::*")),
                FunctionFilter::Match(Pattern::new("alice::*")),
                FunctionFilter::Match(Pattern::new("bob::*")),
                FunctionFilter::Match(Pattern::new("shared::*")),
            ],
            on_function_registration_function_id: Some("auth::on_function".into()),
            ..RbacConfig::default()
        }),
        middleware_function_id: Some("auth::middleware".into()),
        allowed_origins: vec!["http://localhost:5173".into()],
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_are_authenticated_before_the_upgrade_and_origins_are_checked() {
    let engine = TestEngine::start_with_setup(secured, setup).await;
    let http = engine.ws_url.replace("ws://", "http://");
    assert_eq!(handshake(&http, &[]).await, 401);
    assert_eq!(handshake(&http, &[("authorization", "Bearer mallory")]).await, 401);
    assert_eq!(handshake(&http, &[("authorization", "Bearer alice")]).await, 101);
    let from_page = [("authorization", "Bearer alice"), ("origin", "https://evil.example")];
    assert_eq!(handshake(&http, &from_page).await, 403);
    let from_dev_server = [("authorization", "Bearer alice"), ("origin", "http://localhost:5173")];
    assert_eq!(handshake(&http, &from_dev_server).await, 101);
    assert_eq!(handshake(&format!("{http}/otel"), &[]).await, 401);
    // The stream socket: a client without an origin passes the same authentication; a browser
    // origin must be listed in iii-stream.allowed_origins (none here).
    let stream = format!("http://{}", engine.stream_addr.unwrap());
    assert_eq!(handshake(&stream, &[]).await, 401);
    assert_eq!(handshake(&stream, &[("authorization", "Bearer bob")]).await, 101);
    assert_eq!(handshake(&stream, &[("origin", "http://localhost:5173")]).await, 403);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_follow_forbidden_exposed_and_infrastructure_rules_through_the_middleware() {
    let engine = TestEngine::start_with_setup(secured, setup).await;
    let alice = client_with(&engine.ws_url, Some("Bearer alice"));
    let bob = client_with(&engine.ws_url, Some("Bearer bob"));
    // Exposed, through the middleware, which dispatches with the caller's id added.
    let echoed = call(&alice, "api::echo", json!({"n": 1})).await.unwrap();
    assert_eq!(echoed["n"], 1);
    assert!(echoed["_caller_worker_id"].is_string(), "{echoed}");
    // The middleware answers for the call, with the session's context.
    assert_eq!(call(&bob, "api::audited", json!({})).await.unwrap(), json!({"audited_for": "bob"}));
    // Forbidden for alice only.
    let (code, message) = remote(call(&alice, "api::secret", json!({})).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("FORBIDDEN", "function 'api::secret' not allowed (remove from rbac.forbidden_functions)")
    );
    assert_eq!(call(&bob, "api::secret", json!({})).await.unwrap(), json!("s3cret"));
    // Not exposed; discovery built-ins are not infrastructure; logging is.
    let (code, message) = remote(call(&bob, "internal::x", json!({})).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("FORBIDDEN", "function 'internal::x' not allowed (add to rbac.expose_functions)")
    );
    assert_eq!(remote(call(&bob, "engine::functions::list", json!({})).await).0, "FORBIDDEN");
    call(&bob, "engine::log::info", json!({"message": "hello"})).await.unwrap();
    alice.shutdown_async().await;
    bob.shutdown_async().await;
    engine.stop().await;
}

/// Waits until `function_id` answers `want` for `caller`.
async fn answers(caller: &iii_sdk::III, function_id: &str, want: Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = caller
            .trigger(TriggerRequest {
                function_id: function_id.into(),
                payload: json!({}),
                action: None,
                timeout_ms: Some(2_000),
            })
            .await;
        if got.as_ref().ok() == Some(&want) {
            return;
        }
        assert!(Instant::now() < deadline, "{function_id} never answered {want}; last {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_vetted_and_a_live_identitys_functions_cannot_be_taken_over() {
    let engine = TestEngine::start_with_setup(secured, setup).await;
    let alice = client_with(&engine.ws_url, Some("Bearer alice"));
    let bob = client_with(&engine.ws_url, Some("Bearer bob"));
    alice.register_function_with(RegisterFunctionMessage::with_id("alice::hi".into()), |_: Value| async {
        Ok(json!("alice"))
    });
    alice.register_function_with(RegisterFunctionMessage::with_id("shared::who".into()), |_: Value| async {
        Ok(json!("alice"))
    });
    answers(&bob, "alice::hi", json!("alice")).await;
    answers(&bob, "shared::who", json!("alice")).await;
    // The hook refuses bob's registration in alice's namespace; a live alice keeps shared::who
    // although the hook lets bob register there; nobody replaces a built-in.
    bob.register_function_with(RegisterFunctionMessage::with_id("alice::hi".into()), |_: Value| async {
        Ok(json!("bob"))
    });
    bob.register_function_with(RegisterFunctionMessage::with_id("shared::who".into()), |_: Value| async {
        Ok(json!("bob"))
    });
    bob.register_function_with(RegisterFunctionMessage::with_id("bob::probe".into()), |_: Value| async {
        Ok(json!("bob"))
    });
    answers(&alice, "bob::probe", json!("bob")).await;
    assert_eq!(call(&bob, "alice::hi", json!({})).await.unwrap(), json!("alice"));
    assert_eq!(call(&bob, "shared::who", json!({})).await.unwrap(), json!("alice"));
    // Alice reconnecting (the same identity) takes her functions back over at once.
    let alice_again = client_with(&engine.ws_url, Some("Bearer alice"));
    alice_again.register_function_with(RegisterFunctionMessage::with_id("shared::who".into()), |_: Value| async {
        Ok(json!("alice again"))
    });
    answers(&bob, "shared::who", json!("alice again")).await;
    // Once alice's connections are gone, bob may register in the shared namespace.
    alice.shutdown_async().await;
    alice_again.shutdown_async().await;
    bob.register_function_with(RegisterFunctionMessage::with_id("shared::later".into()), |_: Value| async {
        Ok(json!("bob"))
    });
    answers(&bob, "shared::later", json!("bob")).await;
    bob.shutdown_async().await;
    engine.stop().await;
}
