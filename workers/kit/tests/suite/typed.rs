//! The typed adapter and typed calls, through the engine.

use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, call, register_typed};
use iii_sdk::RegisterFunctionMessage;
use pretty_assertions::assert_eq;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

static GREETER: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "kit-greeter",
    description: "Greets people; a test worker for the typed adapter.",
    functions: vec!["greeter::greet", "greeter::fail", "greeter::raw"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

const T: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Greet {
    name: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Greeting {
    text: String,
}

fn register(iii: &III) {
    register_typed(iii, "greeter::greet", "Greets someone by name.", |req: Greet| async move {
        Ok(Greeting { text: format!("hello {}", req.name) })
    });
    register_typed(iii, "greeter::fail", "Never finds anyone.", |req: Greet| async move {
        Err::<Greeting, _>(WorkerError::not_found(format!("no one called {}; list people first", req.name)))
    });
    // A raw echo, to show what the engine really delivers.
    iii.register_function_with(
        RegisterFunctionMessage::with_id("greeter::raw".to_string()),
        |input: Value| async move { Ok(input) },
    );
}

#[tokio::test]
async fn a_deny_unknown_fields_request_works_although_the_engine_injects_the_caller_id() {
    let stack = TestStack::start().await;
    stack.worker(&GREETER, register).await;
    let client = stack.client();

    let raw: Value = call(&client, "greeter::raw", &json!({"name": "ada"}), T).await.unwrap();
    assert!(raw.get("_caller_worker_id").is_some(), "the engine injects the caller id: {raw}");

    let greeting: Greeting = call(&client, "greeter::greet", &Greet { name: "ada".into() }, T).await.unwrap();
    assert_eq!(greeting, Greeting { text: "hello ada".into() });
    stack.stop().await;
}

#[tokio::test]
async fn bad_input_is_invalid_input_naming_the_function_and_the_fields_it_expects() {
    let stack = TestStack::start().await;
    stack.worker(&GREETER, register).await;

    let err = call::<_, Greeting>(&stack.client(), "greeter::greet", &json!({"nme": "ada"}), T).await.unwrap_err();
    assert_eq!(
        err,
        WorkerError::invalid_input("greeter::greet: unknown field `nme`, expected `name`; expected fields: name")
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_worker_errors_code_reaches_a_typed_caller() {
    let stack = TestStack::start().await;
    stack.worker(&GREETER, register).await;

    let err =
        call::<_, Greeting>(&stack.client(), "greeter::fail", &Greet { name: "bob".into() }, T).await.unwrap_err();
    assert_eq!(err, WorkerError::not_found("no one called bob; list people first"));
    stack.stop().await;
}

#[tokio::test]
async fn a_result_of_the_wrong_shape_is_bad_response() {
    let stack = TestStack::start().await;
    stack.worker(&GREETER, register).await;

    let err =
        call::<_, Vec<u32>>(&stack.client(), "greeter::greet", &Greet { name: "ada".into() }, T).await.unwrap_err();
    assert_eq!(err.code, "BAD_RESPONSE");
    assert!(err.message.starts_with("greeter::greet answered with a value that is not a Vec<u32>"), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn calling_a_function_nobody_registered_keeps_the_engines_code() {
    let stack = TestStack::start().await;

    let err = call::<_, Value>(&stack.client(), "nobody::here", &json!({}), T).await.unwrap_err();
    assert_eq!(err.code, "function_not_found");
    stack.stop().await;
}
