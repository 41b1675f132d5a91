//! The durable queue (`iii-queue`, builtin adapter).
//!
//! Jobs live in the store before the enqueue is acknowledged, so an acknowledged job survives
//! `kill -9`; jobs that were running when the engine died run again (at-least-once). Each queue
//! has one consumer task that hands ready jobs to their function, at most `concurrency` at a
//! time (FIFO queues: one per message group, in order). A failed delivery is retried after
//! `backoff_ms × 2^(attempt-1)`; after `max_retries` retries the job moves to the dead-letter
//! queue, where `iii::queue::redrive*` and `discard_message` act on it.
//!
//! Named queues come from `iii-queue.queue_configs`. Durable topics (`iii::durable::publish` and
//! `durable:subscriber`/`queue` triggers) get one internal queue per (topic, function), so
//! different functions each get a copy while triggers sharing a function compete.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentos_protocol::{ErrorBody, codes};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::{QueueConfig, QueueKind};
use crate::engine::{Engine, lock};
use crate::store::{Job, JobStatus};
use crate::trace::now_ms;
use crate::triggers::{self, TriggerEntry};

/// Running queue consumers by queue name.
#[derive(Default)]
pub struct Queues {
    consumers: Mutex<HashMap<String, Arc<Consumer>>>,
}

struct Consumer {
    name: String,
    config: QueueConfig,
    wake: Notify,
    running: Mutex<HashSet<String>>,
}

/// The internal queue name of a durable topic subscription.
pub fn topic_queue(topic: &str, function_id: &str) -> String {
    format!("topic:{topic}:{function_id}")
}

/// Starts a consumer for every configured queue (jobs left from a previous run resume).
pub fn start(engine: &Engine) {
    if !engine.config().enabled.queue {
        return;
    }
    for (name, config) in &engine.config().queues {
        ensure_consumer(engine, name, config.clone());
    }
}

fn ensure_consumer(engine: &Engine, name: &str, config: QueueConfig) -> Arc<Consumer> {
    let mut consumers = lock(&engine.inner.queues.consumers);
    if let Some(c) = consumers.get(name) {
        return c.clone();
    }
    let consumer =
        Arc::new(Consumer { name: name.to_string(), config, wake: Notify::new(), running: Mutex::new(HashSet::new()) });
    consumers.insert(name.to_string(), consumer.clone());
    tokio::spawn(consume(engine.clone(), consumer.clone()));
    consumer
}

/// Starts the consumer of a durable subscription's internal queue, configured by the trigger's
/// camelCase `queue_config`.
pub fn ensure_topic_consumer(engine: &Engine, trigger: &TriggerEntry) {
    let Some(topic) = trigger.config.get("topic").and_then(Value::as_str) else { return };
    let config = subscriber_config(trigger.config.get("queue_config"));
    ensure_consumer(engine, &topic_queue(topic, &trigger.function_id), config);
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SubscriberConfig {
    #[serde(rename = "type")]
    kind: Option<String>,
    max_retries: Option<u32>,
    concurrency: Option<usize>,
    backoff_delay_ms: Option<u64>,
    message_group_field: Option<String>,
}

fn subscriber_config(raw: Option<&Value>) -> QueueConfig {
    let parsed: SubscriberConfig = raw.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    let defaults = QueueConfig::default();
    let fifo = parsed.kind.as_deref() == Some("fifo") && parsed.message_group_field.is_some();
    QueueConfig {
        max_retries: parsed.max_retries.unwrap_or(defaults.max_retries),
        concurrency: parsed.concurrency.unwrap_or(defaults.concurrency).max(1),
        kind: if fifo { QueueKind::Fifo } else { QueueKind::Standard },
        message_group_field: parsed.message_group_field,
        backoff_ms: parsed.backoff_delay_ms.unwrap_or(defaults.backoff_ms),
        poll_interval_ms: defaults.poll_interval_ms,
    }
}

fn enqueue_error(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(codes::ENQUEUE_ERROR, message)
}

/// Persists a call on a named queue; returns the message receipt id.
pub fn enqueue(
    engine: &Engine,
    queue: &str,
    function_id: &str,
    data: Value,
    traceparent: Option<String>,
    baggage: Option<String>,
) -> Result<String, ErrorBody> {
    if !engine.config().enabled.queue {
        return Err(enqueue_error("QueueModule not loaded: add iii-queue to `workers:` in config.yaml"));
    }
    let Some(config) = engine.config().queues.get(queue).cloned() else {
        let known: Vec<&String> = engine.config().queues.keys().collect();
        return Err(enqueue_error(format!(
            "Queue '{queue}' not found; declare it under iii-queue.queue_configs (known: {known:?})"
        )));
    };
    let group_key = group_of(&config, &data)?;
    let consumer = ensure_consumer(engine, queue, config);
    let id = insert_job(engine, queue, function_id, data, traceparent, baggage, group_key)?;
    consumer.wake.notify_one();
    Ok(id)
}

fn group_of(config: &QueueConfig, data: &Value) -> Result<Option<String>, ErrorBody> {
    if config.kind != QueueKind::Fifo {
        return Ok(None);
    }
    let field = config.message_group_field.as_deref().unwrap_or_default();
    match data.get(field) {
        None | Some(Value::Null) => Err(enqueue_error(format!(
            "FIFO queue needs the message group field '{field}' in the data, and it must not be null"
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Ok(Some(other.to_string())),
    }
}

fn insert_job(
    engine: &Engine,
    queue: &str,
    function_id: &str,
    data: Value,
    traceparent: Option<String>,
    baggage: Option<String>,
    group_key: Option<String>,
) -> Result<String, ErrorBody> {
    let id = Uuid::new_v4().to_string();
    let now = now_ms();
    let job = Job {
        id: id.clone(),
        queue: queue.to_string(),
        function_id: function_id.to_string(),
        data,
        traceparent,
        baggage,
        group_key,
        attempts: 0,
        next_at_ms: now,
        status: JobStatus::Ready,
        last_error: None,
        created_ms: now,
    };
    engine.store().job_insert(&job).map_err(|e| enqueue_error(format!("could not persist the job: {e}")))?;
    Ok(id)
}

/// `iii::durable::publish`: one persisted job per function subscribed to the topic.
pub fn durable_publish(
    engine: &Engine,
    topic: &str,
    data: &Value,
    traceparent: Option<String>,
) -> Result<usize, ErrorBody> {
    if topic.is_empty() {
        return Err(ErrorBody::new("topic_not_set", "`topic` must be a non-empty string"));
    }
    let mut functions: Vec<TriggerEntry> = triggers::of_type(engine, "durable:subscriber")
        .into_iter()
        .filter(|t| t.config.get("topic").and_then(Value::as_str) == Some(topic))
        .collect();
    functions.sort_by(|a, b| a.function_id.cmp(&b.function_id));
    functions.dedup_by(|a, b| a.function_id == b.function_id);
    for trigger in &functions {
        let queue = topic_queue(topic, &trigger.function_id);
        let config = subscriber_config(trigger.config.get("queue_config"));
        let group_key = group_of(&config, data)?;
        let consumer = ensure_consumer(engine, &queue, config);
        insert_job(engine, &queue, &trigger.function_id, data.clone(), traceparent.clone(), None, group_key)?;
        consumer.wake.notify_one();
    }
    Ok(functions.len())
}

/// How many jobs one poll reads at most; more wait for the next poll.
const POLL_BATCH: usize = 1000;

async fn consume(engine: Engine, consumer: Arc<Consumer>) {
    let poll = Duration::from_millis(consumer.config.poll_interval_ms.max(10));
    let mut shutdown = engine.inner.shutdown.subscribe();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let jobs = match engine.store().jobs_pending(&consumer.name, POLL_BATCH) {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(queue = %consumer.name, "could not read jobs: {e}");
                Vec::new()
            }
        };
        for job in pick(&consumer, jobs, now_ms()) {
            lock(&consumer.running).insert(job.id.clone());
            if let Err(e) = engine.store().job_update(&job.id, JobStatus::Running, job.attempts, job.next_at_ms, None) {
                tracing::warn!(queue = %consumer.name, "could not mark job running: {e}");
            }
            tokio::spawn(run_job(engine.clone(), consumer.clone(), job));
        }
        tokio::select! {
            _ = consumer.wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Chooses which pending jobs to start now: ready and due, within the concurrency limit; for
/// FIFO queues only the oldest job of each group, and only when that group is idle.
fn pick(consumer: &Consumer, jobs: Vec<Job>, now: i64) -> Vec<Job> {
    let running = lock(&consumer.running).clone();
    let mut free = consumer.config.concurrency.max(1).saturating_sub(running.len());
    let mut chosen = Vec::new();
    let mut seen_groups: HashSet<Option<String>> = HashSet::new();
    let fifo = consumer.config.kind == QueueKind::Fifo;
    for job in jobs {
        if free == 0 {
            break;
        }
        if fifo {
            // The first job of a group in seq order is its head; later ones wait behind it.
            if !seen_groups.insert(job.group_key.clone()) {
                continue;
            }
        }
        if running.contains(&job.id) || job.next_at_ms > now {
            continue;
        }
        free -= 1;
        chosen.push(job);
    }
    chosen
}

/// The delay before retry number `attempt` (1-based): `backoff_ms × 2^(attempt-1)`, capped at
/// one hour so a large retry count cannot overflow or park a job for days.
pub fn backoff_delay_ms(backoff_ms: u64, attempt: u32) -> u64 {
    let factor = 1_u64.checked_shl(attempt.saturating_sub(1)).unwrap_or(u64::MAX);
    backoff_ms.saturating_mul(factor).min(3_600_000)
}

async fn run_job(engine: Engine, consumer: Arc<Consumer>, job: Job) {
    let result = engine.deliver(&job.function_id, job.data.clone(), job.traceparent.clone()).await;
    let store = engine.store();
    let outcome = match result {
        Ok(_) => store.job_delete(&job.id).map(|_| ()),
        Err(err) => {
            let attempts = job.attempts + 1;
            let message = format!("{}: {}", err.code, err.message);
            if attempts > consumer.config.max_retries {
                tracing::warn!(queue = %consumer.name, job_id = %job.id, "job failed {attempts} times; moved to the dead-letter queue: {message}");
                store.job_update(&job.id, JobStatus::Dead, attempts, now_ms(), Some(&message))
            } else {
                let delay = backoff_delay_ms(consumer.config.backoff_ms, attempts);
                tracing::info!(queue = %consumer.name, job_id = %job.id, "job failed (attempt {attempts}); retry in {delay} ms: {message}");
                store.job_update(&job.id, JobStatus::Ready, attempts, now_ms() + delay as i64, Some(&message))
            }
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(queue = %consumer.name, job_id = %job.id, "could not record the job outcome: {e}");
    }
    lock(&consumer.running).remove(&job.id);
    consumer.wake.notify_one();
}

#[derive(Deserialize)]
struct QueueInput {
    queue: String,
}

#[derive(Deserialize)]
struct MessageInput {
    queue: String,
    message_id: String,
}

#[derive(Deserialize)]
struct TopicInput {
    topic: String,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
struct PublishInput {
    #[serde(default)]
    topic: String,
    #[serde(default)]
    data: Value,
}

fn store_error(code: &str, e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(code, e.to_string())
}

fn wake(engine: &Engine, queue: &str) {
    if let Some(c) = lock(&engine.inner.queues.consumers).get(queue) {
        c.wake.notify_one();
    }
}

/// Registers `iii::durable::publish`, `iii::queue::*` and `engine::queue::*`.
pub fn register_builtins(engine: &Engine) {
    engine.register_typed(
        "iii::durable::publish",
        "Publish to a durable topic",
        |engine, input: PublishInput, meta| async move {
            durable_publish(&engine, &input.topic, &input.data, meta.traceparent)?;
            Ok(Value::Null)
        },
    );
    engine.register_typed(
        "iii::queue::redrive",
        "Move every dead-lettered job of a queue back",
        |engine, input: QueueInput, _| async move {
            let n = engine
                .store()
                .jobs_redrive(&input.queue, None, now_ms())
                .map_err(|e| store_error("redrive_failed", e))?;
            wake(&engine, &input.queue);
            Ok(json!({ "queue": input.queue, "redriven": n }))
        },
    );
    engine.register_typed(
        "iii::queue::redrive_message",
        "Move one dead-lettered job back",
        |engine, input: MessageInput, _| async move {
            let n = engine
                .store()
                .jobs_redrive(&input.queue, Some(&input.message_id), now_ms())
                .map_err(|e| store_error("redrive_message_failed", e))?;
            wake(&engine, &input.queue);
            Ok(json!({ "queue": input.queue, "message_id": input.message_id, "redriven": n }))
        },
    );
    engine.register_typed(
        "iii::queue::discard_message",
        "Delete one dead-lettered job",
        |engine, input: MessageInput, _| async move {
            let gone = engine
                .store()
                .job_discard_dead(&input.queue, &input.message_id)
                .map_err(|e| store_error("discard_message_failed", e))?;
            Ok(json!({ "queue": input.queue, "message_id": input.message_id, "redriven": u8::from(gone) }))
        },
    );
    engine.register_typed("engine::queue::list_topics", "Queues with job counts", |engine, _: Value, _| async move {
        let stats = engine.store().queue_stats().map_err(|e| store_error("list_topics_failed", e))?;
        let mut names: Vec<String> = engine.config().queues.keys().cloned().collect();
        names.extend(lock(&engine.inner.queues.consumers).keys().cloned());
        names.extend(stats.iter().map(|s| s.0.clone()));
        names.sort();
        names.dedup();
        let topics: Vec<Value> = names.iter().map(|n| stats_json(n, &stats)).collect();
        Ok(json!({ "topics": topics }))
    });
    engine.register_typed(
        "engine::queue::topic_stats",
        "Job counts of one queue",
        |engine, input: TopicInput, _| async move {
            let stats = engine.store().queue_stats().map_err(|e| store_error("topic_stats_failed", e))?;
            Ok(stats_json(&input.topic, &stats))
        },
    );
    engine.register_typed(
        "engine::queue::dlq_topics",
        "Queues with dead-lettered jobs",
        |engine, _: Value, _| async move {
            let stats = engine.store().queue_stats().map_err(|e| store_error("dlq_topics_failed", e))?;
            let topics: Vec<Value> =
                stats.iter().filter(|s| s.3 > 0).map(|s| json!({ "topic": s.0, "count": s.3 })).collect();
            Ok(json!({ "topics": topics }))
        },
    );
    engine.register_typed(
        "engine::queue::dlq_messages",
        "Dead-lettered jobs of a queue",
        |engine, input: TopicInput, _| async move {
            let jobs = engine
                .store()
                .jobs_dead(&input.topic, input.offset.unwrap_or(0), input.limit.unwrap_or(100).min(1000))
                .map_err(|e| store_error("dlq_messages_failed", e))?;
            let messages: Vec<Value> = jobs
                .iter()
                .map(|j| {
                    json!({
                        "id": j.id, "function_id": j.function_id, "data": j.data, "attempts": j.attempts,
                        "last_error": j.last_error, "created_ms": j.created_ms, "failed_ms": j.next_at_ms,
                    })
                })
                .collect();
            Ok(json!({ "topic": input.topic, "messages": messages }))
        },
    );
}

fn stats_json(name: &str, stats: &[(String, u64, u64, u64)]) -> Value {
    let (ready, running, dead) = stats.iter().find(|s| s.0 == name).map(|s| (s.1, s.2, s.3)).unwrap_or((0, 0, 0));
    json!({ "topic": name, "ready": ready, "running": running, "dead": dead })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, group: Option<&str>, next_at_ms: i64) -> Job {
        Job {
            id: id.into(),
            queue: "q".into(),
            function_id: "f".into(),
            data: Value::Null,
            traceparent: None,
            baggage: None,
            group_key: group.map(str::to_string),
            attempts: 0,
            next_at_ms,
            status: JobStatus::Ready,
            last_error: None,
            created_ms: 0,
        }
    }

    fn consumer(kind: QueueKind, concurrency: usize, running: &[&str]) -> Consumer {
        Consumer {
            name: "q".into(),
            config: QueueConfig { kind, concurrency, ..QueueConfig::default() },
            wake: Notify::new(),
            running: Mutex::new(running.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn ids(jobs: Vec<Job>) -> Vec<String> {
        jobs.into_iter().map(|j| j.id).collect()
    }

    #[test]
    fn backoff_doubles_per_attempt_and_is_capped() {
        assert_eq!(backoff_delay_ms(1000, 1), 1000);
        assert_eq!(backoff_delay_ms(1000, 2), 2000);
        assert_eq!(backoff_delay_ms(1000, 4), 8000);
        assert_eq!(backoff_delay_ms(1000, 200), 3_600_000);
    }

    #[test]
    fn standard_queues_start_due_jobs_up_to_the_concurrency_limit() {
        let c = consumer(QueueKind::Standard, 2, &[]);
        let jobs = vec![job("a", None, 0), job("b", None, 50), job("c", None, 0), job("d", None, 0)];
        assert_eq!(ids(pick(&c, jobs, 10)), vec!["a", "c"]);
    }

    #[test]
    fn running_jobs_count_against_the_limit() {
        let c = consumer(QueueKind::Standard, 2, &["a"]);
        let jobs = vec![job("a", None, 0), job("b", None, 0), job("c", None, 0)];
        assert_eq!(ids(pick(&c, jobs, 10)), vec!["b"]);
    }

    #[test]
    fn fifo_queues_run_only_the_head_of_each_group() {
        let c = consumer(QueueKind::Fifo, 10, &["a1"]);
        let jobs = vec![
            job("a1", Some("a"), 0),
            job("a2", Some("a"), 0),
            job("b1", Some("b"), 99),
            job("b2", Some("b"), 0),
            job("c1", Some("c"), 0),
        ];
        assert_eq!(ids(pick(&c, jobs, 10)), vec!["c1"]);
    }
}
