//! `publish`: fan-out to `subscribe` triggers, without persistence. Each subscriber is called
//! concurrently; one slow subscriber does not delay the others.

use agentos_protocol::ErrorBody;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::triggers;

#[derive(Deserialize)]
struct PublishInput {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    data: Value,
}

/// Calls every function subscribed to `topic` with `data`. Returns how many were called.
pub fn publish(engine: &Engine, topic: &str, data: &Value, traceparent: Option<String>) -> usize {
    let targets: Vec<_> = triggers::of_type(engine, "subscribe")
        .into_iter()
        .filter(|t| t.config.get("topic").and_then(Value::as_str) == Some(topic))
        .collect();
    for t in &targets {
        let engine = engine.clone();
        let (function_id, data, tp) = (t.function_id.clone(), data.clone(), traceparent.clone());
        tokio::spawn(async move {
            if let Err(e) = engine.deliver(&function_id, data, tp).await {
                tracing::warn!(%function_id, "subscriber failed: {}: {}", e.code, e.message);
            }
        });
    }
    targets.len()
}

/// Registers `publish`.
pub fn register(engine: &Engine) {
    engine.register_typed(
        "publish",
        "Publish to a topic (fan-out to subscribe triggers)",
        |engine, input: PublishInput, meta| async move {
            if input.topic.is_empty() {
                return Err(ErrorBody::new("topic_not_set", "`topic` must be a non-empty string"));
            }
            publish(&engine, &input.topic, &input.data, meta.traceparent);
            Ok(Value::Null)
        },
    );
}
