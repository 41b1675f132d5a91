//! `embedding::*` on the bus: what the memory worker and `agentos doctor` see.

use std::sync::Arc;

use agentos_kit::harness::{TestStack, wait_until};
use agentos_kit::health::{Health, HealthStatus};
use agentos_kit::{III, WorkerError, call};
use agentos_worker_embedding::model::{FILES, cosine};
use agentos_worker_embedding::{EmbedResponse, Embedder, InfoResponse, MANIFEST, SimilarityResponse, register};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, model_dir};

/// Starts the worker over the model in `dir` and returns the health status it reports through.
async fn start(stack: &TestStack, dir: std::path::PathBuf) -> HealthStatus {
    let health = HealthStatus::new();
    let embedder = Arc::new(Embedder::new(dir, health.clone()));
    stack.worker_with_health(&MANIFEST, health.clone(), |iii| register(iii, embedder, Some(Arc::from(KEY)))).await;
    health
}

/// The API key the worker's route checks.
const KEY: &str = "embedding-test-key";

/// `GET /v1/embedding` with the key.
async fn get_info(stack: &TestStack) -> InfoResponse {
    let url = format!("{}/v1/embedding", stack.http_url());
    reqwest::Client::new().get(url).bearer_auth(KEY).send().await.unwrap().json().await.unwrap()
}

async fn health(client: &III) -> Health {
    call(client, "embedding::health", &json!({}), T).await.unwrap()
}

#[tokio::test]
async fn embed_answers_one_unit_vector_of_384_numbers_per_text_in_order() {
    let stack = TestStack::start().await;
    start(&stack, model_dir()).await;
    let client = stack.client();

    let texts = ["The cat slept on the warm mat", "Quarterly revenue grew twelve percent", "A feline napping on a rug"];
    let raw: Value = call(&client, "embedding::embed", &json!({"texts": texts}), T).await.unwrap();
    assert_eq!((raw["model"].clone(), raw["dims"].clone()), (json!("all-minilm-l6-v2"), json!(384)));
    let answer: EmbedResponse = serde_json::from_value(raw).unwrap();
    assert_eq!(answer.vectors.len(), 3);
    assert!(answer.vectors.iter().all(|v| v.len() == 384));
    // Request order: the cat is closer to the feline (third) than to the revenue (second).
    assert!(cosine(&answer.vectors[0], &answer.vectors[2]) > cosine(&answer.vectors[0], &answer.vectors[1]) + 0.3);

    let h = health(&client).await;
    assert_eq!((h.status.as_str(), h.problem), ("ok", None));
    stack.stop().await;
}

#[tokio::test]
async fn similarity_compares_two_texts() {
    let stack = TestStack::start().await;
    start(&stack, model_dir()).await;
    let client = stack.client();
    let related: SimilarityResponse = call(
        &client,
        "embedding::similarity",
        &json!({"a": "The cat slept on the warm mat", "b": "A feline napping on a rug"}),
        T,
    )
    .await
    .unwrap();
    let unrelated: SimilarityResponse = call(
        &client,
        "embedding::similarity",
        &json!({"a": "The cat slept on the warm mat", "b": "Quarterly revenue grew twelve percent"}),
        T,
    )
    .await
    .unwrap();
    assert!((related.cosine - 0.55).abs() <= 0.05, "{related:?}");
    assert!(unrelated.cosine.abs() < 0.1, "{unrelated:?}");
    let same: SimilarityResponse =
        call(&client, "embedding::similarity", &json!({"a": "same", "b": "same"}), T).await.unwrap();
    assert!((same.cosine - 1.0).abs() < 1e-5, "{same:?}");
    stack.stop().await;
}

#[tokio::test]
async fn requests_outside_the_limits_are_invalid_input_naming_the_limit() {
    let stack = TestStack::start().await;
    start(&stack, model_dir()).await;
    let client = stack.client();
    let cases = [
        (json!({"texts": []}), "embedding::embed: texts is empty; send 1 to 256 texts"),
        (
            json!({"texts": vec!["a"; 257]}),
            "embedding::embed: 257 texts is more than 256 in one call; split them into several calls",
        ),
    ];
    for (req, message) in cases {
        let err = call::<_, Value>(&client, "embedding::embed", &req, T).await.unwrap_err();
        assert_eq!(err, WorkerError::new("INVALID_INPUT", message));
    }
    let err = call::<_, Value>(&client, "embedding::embed", &json!({"text": "a"}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    assert!(err.message.contains("expected fields: texts"), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn info_and_get_v1_embedding_report_the_loaded_model() {
    let stack = TestStack::start().await;
    let dir = model_dir();
    start(&stack, dir.clone()).await;
    let info: InfoResponse = call(&stack.client(), "embedding::info", &json!({}), T).await.unwrap();
    assert_eq!(
        info,
        InfoResponse {
            model: "all-minilm-l6-v2".into(),
            dims: 384,
            installed: true,
            dir: dir.display().to_string(),
            load_ms: info.load_ms,
            problem: None,
        }
    );
    assert!(info.load_ms.is_some());
    let http = get_info(&stack).await;
    assert_eq!(http, info);
    stack.stop().await;
}

#[tokio::test]
async fn without_the_model_health_is_degraded_and_embed_names_the_install_command_until_it_appears() {
    let stack = TestStack::start().await;
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().join("all-minilm-l6-v2");
    start(&stack, dir.clone()).await;
    let client = stack.client();

    let h = health(&client).await;
    assert_eq!(h.status, "degraded");
    let problem = h.problem.unwrap();
    assert!(
        problem.starts_with(&format!("the embedding model is not installed: {} lacks", dir.display())),
        "{problem}"
    );
    assert!(problem.contains("fix: run `agentos models install`"), "{problem}");

    let err = call::<_, Value>(&client, "embedding::embed", &json!({"texts": ["hello"]}), T).await.unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("MODEL_MISSING", problem.as_str()));
    let info: InfoResponse = call(&client, "embedding::info", &json!({}), T).await.unwrap();
    assert_eq!((info.installed, info.problem.as_deref()), (false, Some(problem.as_str())));
    // GET /v1/embedding (what doctor reads) answers with the same report.
    let http = get_info(&stack).await;
    assert_eq!(http, info);

    // The model appears (as `agentos models install` would put it): no restart needed.
    std::fs::create_dir_all(&dir).unwrap();
    for f in FILES {
        std::os::unix::fs::symlink(model_dir().join(f), dir.join(f)).unwrap();
    }
    let info: InfoResponse = call(&client, "embedding::info", &json!({}), T).await.unwrap();
    assert_eq!((info.installed, info.problem), (true, None));
    let c = client.clone();
    wait_until("health to recover", move || {
        let c = c.clone();
        async move { health(&c).await.status == "ok" }
    })
    .await;
    let answer: EmbedResponse = call(&client, "embedding::embed", &json!({"texts": ["hello"]}), T).await.unwrap();
    assert_eq!(answer.vectors[0].len(), 384);
    stack.stop().await;
}
