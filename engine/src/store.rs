//! The engine's durable store: one SQLite database (WAL mode) in the data dir.
//!
//! It holds state, streams, durable queue jobs, trace spans and logs. Rules it keeps:
//! - Every write that a function acknowledges is committed before the function returns. WAL with
//!   `synchronous = NORMAL` never loses a committed transaction when the *process* dies (`kill -9`);
//!   only an OS crash or power loss can roll back the last commits.
//! - One connection behind one mutex: SQLite allows one writer at a time anyway, and holding the
//!   lock across a read-modify-write makes `state::update` atomic without retry loops.
//! - A file that is not a database, or fails the quick integrity check, is a start-up error that
//!   names the file. It is never reset silently.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// A failure of the embedded database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or failed its integrity check at start-up.
    #[error(
        "the engine database {path} is unreadable or corrupt. Move the file aside (or restore a \
         backup) and start again; agentos never resets it on its own"
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A statement failed at run time.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored value is not valid JSON (written by something other than the engine).
    #[error("stored value is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    /// A stable code for logs and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Corrupt { .. } => "STORE_CORRUPT",
            Self::DataDir { .. } => "STORE_DATA_DIR",
            Self::Sql(_) => "STORE_SQL",
            Self::Json(_) => "STORE_JSON",
        }
    }
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS state (
    scope TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS streams (
    stream_name TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (stream_name, group_id, item_id)
);
CREATE TABLE IF NOT EXISTS queue_jobs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    queue       TEXT NOT NULL,
    function_id TEXT NOT NULL,
    data        TEXT NOT NULL,
    traceparent TEXT,
    baggage     TEXT,
    group_key   TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at_ms  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    last_error  TEXT,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_jobs_ready ON queue_jobs (queue, status, next_at_ms);
CREATE TABLE IF NOT EXISTS spans (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id        TEXT NOT NULL,
    span_id         TEXT NOT NULL,
    parent_span_id  TEXT,
    remote_span_id  TEXT,
    name            TEXT NOT NULL,
    function_id     TEXT,
    worker_id       TEXT,
    caller_worker_id TEXT,
    internal        INTEGER NOT NULL DEFAULT 0,
    start_ns        INTEGER NOT NULL,
    end_ns          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    error_code      TEXT,
    error_message   TEXT,
    service_name    TEXT NOT NULL,
    attributes      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id);
CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns);
CREATE TABLE IF NOT EXISTS logs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    record          TEXT NOT NULL,
    ts_ns           INTEGER NOT NULL,
    severity_number INTEGER NOT NULL,
    trace_id        TEXT,
    span_id         TEXT
);
"#;

/// The embedded database.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A queued job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub function_id: String,
    pub data: Value,
    pub traceparent: Option<String>,
    pub baggage: Option<String>,
    pub group_key: Option<String>,
    pub attempts: u32,
    pub next_at_ms: i64,
    pub status: JobStatus,
    pub last_error: Option<String>,
    pub created_ms: i64,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its `next_at_ms`.
    Ready,
    /// Handed to a consumer; back to `Ready` after a crash.
    Running,
    /// Out of retries: in the dead-letter queue.
    Dead,
}

impl JobStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Dead => "dead",
        }
    }
    fn parse(text: &str) -> Self {
        match text {
            "running" => Self::Running,
            "dead" => Self::Dead,
            _ => Self::Ready,
        }
    }
}

/// One finished span, as the engine records it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// The span id the callee's SDK reported in its reply, so its own child calls link here.
    pub remote_span_id: Option<String>,
    pub name: String,
    pub function_id: Option<String>,
    pub worker_id: Option<String>,
    pub caller_worker_id: Option<String>,
    pub internal: bool,
    pub start_ns: i64,
    pub end_ns: i64,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub service_name: String,
    pub attributes: Vec<(String, String)>,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves SQLite itself consistent (every statement is atomic),
    // so recovering the guard is safe.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn to_json(value: &Value) -> String {
    value.to_string()
}

fn from_json(text: &str) -> StoreResult<Value> {
    Ok(serde_json::from_str(text)?)
}

impl Store {
    /// Opens (or creates) `engine.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join("engine.db");
        let corrupt = |source| StoreError::Corrupt { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(corrupt)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(corrupt)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(corrupt)?;
        let check: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).map_err(corrupt)?;
        if check != "ok" {
            return Err(corrupt(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(check),
            )));
        }
        conn.execute_batch(SCHEMA).map_err(corrupt)?;
        // Jobs that were running when the engine died go back to the queue: delivery is
        // at-least-once.
        conn.execute("UPDATE queue_jobs SET status = 'ready' WHERE status = 'running'", []).map_err(corrupt)?;
        Ok(Self { conn: Mutex::new(conn), path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---- state -------------------------------------------------------------------------------

    /// The value at (scope, key).
    pub fn state_get(&self, scope: &str, key: &str) -> StoreResult<Option<Value>> {
        let conn = lock(&self.conn);
        get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])
    }

    /// Stores a value; returns the previous one.
    pub fn state_set(&self, scope: &str, key: &str, value: &Value) -> StoreResult<Option<Value>> {
        let conn = lock(&self.conn);
        let old = get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        put_state(&conn, scope, key, value)?;
        Ok(old)
    }

    /// Read-modify-write under the store lock: `f` gets the current value and returns the new
    /// one plus anything to hand back. Returns (old, new, extra).
    pub fn state_update<T>(
        &self,
        scope: &str,
        key: &str,
        f: impl FnOnce(Option<Value>) -> (Value, T),
    ) -> StoreResult<(Option<Value>, Value, T)> {
        let conn = lock(&self.conn);
        let old = get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        let (new, extra) = f(old.clone());
        put_state(&conn, scope, key, &new)?;
        Ok((old, new, extra))
    }

    /// Deletes (scope, key); returns the deleted value.
    pub fn state_delete(&self, scope: &str, key: &str) -> StoreResult<Option<Value>> {
        let conn = lock(&self.conn);
        let old = get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        conn.execute("DELETE FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        Ok(old)
    }

    /// Every value in a scope, in insertion order.
    pub fn state_list(&self, scope: &str) -> StoreResult<Vec<Value>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached("SELECT value FROM state WHERE scope = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map(params![scope], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    /// Sorted unique scope names.
    pub fn state_groups(&self) -> StoreResult<Vec<String>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached("SELECT DISTINCT scope FROM state ORDER BY scope")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- streams -----------------------------------------------------------------------------

    /// The item at (stream, group, item).
    pub fn stream_get(&self, stream: &str, group: &str, item: &str) -> StoreResult<Option<Value>> {
        let conn = lock(&self.conn);
        get_value(
            &conn,
            "SELECT value FROM streams WHERE stream_name = ?1 AND group_id = ?2 AND item_id = ?3",
            params![stream, group, item],
        )
    }

    /// Read-modify-write of a stream item; `f` returns `None` to delete it.
    pub fn stream_update<T>(
        &self,
        stream: &str,
        group: &str,
        item: &str,
        f: impl FnOnce(Option<Value>) -> (Option<Value>, T),
    ) -> StoreResult<(Option<Value>, Option<Value>, T)> {
        let conn = lock(&self.conn);
        let old = get_value(
            &conn,
            "SELECT value FROM streams WHERE stream_name = ?1 AND group_id = ?2 AND item_id = ?3",
            params![stream, group, item],
        )?;
        let (new, extra) = f(old.clone());
        match &new {
            Some(value) => {
                conn.prepare_cached(
                    "INSERT INTO streams (stream_name, group_id, item_id, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (stream_name, group_id, item_id) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![stream, group, item, to_json(value)])?;
            }
            None => {
                conn.execute(
                    "DELETE FROM streams WHERE stream_name = ?1 AND group_id = ?2 AND item_id = ?3",
                    params![stream, group, item],
                )?;
            }
        }
        Ok((old, new, extra))
    }

    /// Items of a group, in insertion order, with their ids.
    pub fn stream_list(&self, stream: &str, group: &str) -> StoreResult<Vec<(String, Value)>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT item_id, value FROM streams WHERE stream_name = ?1 AND group_id = ?2 ORDER BY rowid",
        )?;
        let rows = stmt.query_map(params![stream, group], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|r| {
            let (id, text) = r?;
            Ok((id, from_json(&text)?))
        })
        .collect()
    }

    /// Sorted group ids of a stream.
    pub fn stream_groups(&self, stream: &str) -> StoreResult<Vec<String>> {
        let conn = lock(&self.conn);
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT group_id FROM streams WHERE stream_name = ?1 ORDER BY group_id")?;
        let rows = stmt.query_map(params![stream], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stream with its sorted groups.
    pub fn stream_all(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        let conn = lock(&self.conn);
        let mut stmt =
            conn.prepare_cached("SELECT DISTINCT stream_name, group_id FROM streams ORDER BY stream_name, group_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for row in rows {
            let (stream, group) = row?;
            match out.last_mut() {
                Some((name, groups)) if *name == stream => groups.push(group),
                _ => out.push((stream, vec![group])),
            }
        }
        Ok(out)
    }

    // ---- queue jobs --------------------------------------------------------------------------

    /// Persists a new job.
    pub fn job_insert(&self, job: &Job) -> StoreResult<()> {
        let conn = lock(&self.conn);
        conn.prepare_cached(
            "INSERT INTO queue_jobs (id, queue, function_id, data, traceparent, baggage, group_key,
                                     attempts, next_at_ms, status, last_error, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            job.id,
            job.queue,
            job.function_id,
            to_json(&job.data),
            job.traceparent,
            job.baggage,
            job.group_key,
            job.attempts,
            job.next_at_ms,
            job.status.as_str(),
            job.last_error,
            job.created_ms,
        ])?;
        Ok(())
    }

    /// Jobs of a queue that are ready or running, oldest first (at most `limit`).
    pub fn jobs_pending(&self, queue: &str, limit: usize) -> StoreResult<Vec<Job>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM queue_jobs WHERE queue = ?1 AND status != 'dead'
             ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![queue, limit as i64], job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Dead-lettered jobs of a queue, oldest first.
    pub fn jobs_dead(&self, queue: &str, offset: usize, limit: usize) -> StoreResult<Vec<Job>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM queue_jobs WHERE queue = ?1 AND status = 'dead'
             ORDER BY seq LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt.query_map(params![queue, limit as i64, offset as i64], job_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets a job's status, attempts, next time and last error.
    pub fn job_update(
        &self,
        id: &str,
        status: JobStatus,
        attempts: u32,
        next_at_ms: i64,
        last_error: Option<&str>,
    ) -> StoreResult<()> {
        let conn = lock(&self.conn);
        conn.prepare_cached(
            "UPDATE queue_jobs SET status = ?2, attempts = ?3, next_at_ms = ?4, last_error = ?5 WHERE id = ?1",
        )?
        .execute(params![id, status.as_str(), attempts, next_at_ms, last_error])?;
        Ok(())
    }

    /// Removes a job (delivered or discarded). Returns whether it existed.
    pub fn job_delete(&self, id: &str) -> StoreResult<bool> {
        let conn = lock(&self.conn);
        Ok(conn.prepare_cached("DELETE FROM queue_jobs WHERE id = ?1")?.execute(params![id])? > 0)
    }

    /// Moves dead jobs of a queue back to ready (all of them, or one by id). Returns how many.
    pub fn jobs_redrive(&self, queue: &str, id: Option<&str>, now_ms: i64) -> StoreResult<usize> {
        let conn = lock(&self.conn);
        let n = match id {
            Some(id) => conn.execute(
                "UPDATE queue_jobs SET status = 'ready', attempts = 0, next_at_ms = ?3
                 WHERE queue = ?1 AND id = ?2 AND status = 'dead'",
                params![queue, id, now_ms],
            )?,
            None => conn.execute(
                "UPDATE queue_jobs SET status = 'ready', attempts = 0, next_at_ms = ?2
                 WHERE queue = ?1 AND status = 'dead'",
                params![queue, now_ms],
            )?,
        };
        Ok(n)
    }

    /// Deletes one dead job. Returns whether it existed.
    pub fn job_discard_dead(&self, queue: &str, id: &str) -> StoreResult<bool> {
        let conn = lock(&self.conn);
        Ok(conn
            .execute("DELETE FROM queue_jobs WHERE queue = ?1 AND id = ?2 AND status = 'dead'", params![queue, id])?
            > 0)
    }

    /// Per queue: (queue, ready, running, dead).
    pub fn queue_stats(&self) -> StoreResult<Vec<(String, u64, u64, u64)>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT queue,
                    SUM(status = 'ready'), SUM(status = 'running'), SUM(status = 'dead')
             FROM queue_jobs GROUP BY queue ORDER BY queue",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- spans -------------------------------------------------------------------------------

    /// Appends a batch of spans in one transaction and trims to the newest `keep`.
    pub fn spans_insert(&self, spans: &[SpanRecord], keep: usize) -> StoreResult<()> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO spans (trace_id, span_id, parent_span_id, remote_span_id, name, function_id,
                                    worker_id, caller_worker_id, internal, start_ns, end_ns, status,
                                    error_code, error_message, service_name, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            for s in spans {
                let attributes = serde_json::to_string(&s.attributes)?;
                stmt.execute(params![
                    s.trace_id,
                    s.span_id,
                    s.parent_span_id,
                    s.remote_span_id,
                    s.name,
                    s.function_id,
                    s.worker_id,
                    s.caller_worker_id,
                    s.internal,
                    s.start_ns,
                    s.end_ns,
                    s.status,
                    s.error_code,
                    s.error_message,
                    s.service_name,
                    attributes,
                ])?;
            }
            tx.execute("DELETE FROM spans WHERE seq <= (SELECT MAX(seq) FROM spans) - ?1", params![keep as i64])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Spans matching a SQL filter over the `spans` table (built by the traces module from
    /// typed input only: never from user text).
    pub fn spans_query(&self, where_sql: &str, args: &[&dyn rusqlite::ToSql]) -> StoreResult<Vec<SpanRecord>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare(&format!(
            "SELECT trace_id, span_id, parent_span_id, remote_span_id, name, function_id, worker_id,
                    caller_worker_id, internal, start_ns, end_ns, status, error_code, error_message,
                    service_name, attributes
             FROM spans WHERE {where_sql} ORDER BY start_ns, seq"
        ))?;
        let rows = stmt.query_map(args, |r| {
            let attributes: String = r.get(15)?;
            Ok(SpanRecord {
                trace_id: r.get(0)?,
                span_id: r.get(1)?,
                parent_span_id: r.get(2)?,
                remote_span_id: r.get(3)?,
                name: r.get(4)?,
                function_id: r.get(5)?,
                worker_id: r.get(6)?,
                caller_worker_id: r.get(7)?,
                internal: r.get(8)?,
                start_ns: r.get(9)?,
                end_ns: r.get(10)?,
                status: r.get(11)?,
                error_code: r.get(12)?,
                error_message: r.get(13)?,
                service_name: r.get(14)?,
                attributes: serde_json::from_str(&attributes).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes every span.
    pub fn spans_clear(&self) -> StoreResult<()> {
        lock(&self.conn).execute("DELETE FROM spans", [])?;
        Ok(())
    }

    // ---- logs --------------------------------------------------------------------------------

    /// Appends log records (each a full `StoredLog` JSON object) and trims to the newest `keep`.
    pub fn logs_insert(&self, records: &[Value], keep: usize) -> StoreResult<()> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO logs (record, ts_ns, severity_number, trace_id, span_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in records {
                stmt.execute(params![
                    to_json(r),
                    r.get("timestamp_unix_nano").and_then(Value::as_i64).unwrap_or(0),
                    r.get("severity_number").and_then(Value::as_i64).unwrap_or(0),
                    r.get("trace_id").and_then(Value::as_str),
                    r.get("span_id").and_then(Value::as_str),
                ])?;
            }
            tx.execute("DELETE FROM logs WHERE seq <= (SELECT MAX(seq) FROM logs) - ?1", params![keep as i64])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored log record, oldest first.
    pub fn logs_all(&self) -> StoreResult<Vec<Value>> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached("SELECT record FROM logs ORDER BY seq")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| from_json(&r?)).collect()
    }

    /// Deletes every log record.
    pub fn logs_clear(&self) -> StoreResult<()> {
        lock(&self.conn).execute("DELETE FROM logs", [])?;
        Ok(())
    }
}

const JOB_COLUMNS: &str = "id, queue, function_id, data, traceparent, baggage, group_key, attempts, \
                           next_at_ms, status, last_error, created_ms";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let data: String = r.get(3)?;
    let status: String = r.get(9)?;
    Ok(Job {
        id: r.get(0)?,
        queue: r.get(1)?,
        function_id: r.get(2)?,
        data: serde_json::from_str(&data).unwrap_or(Value::Null),
        traceparent: r.get(4)?,
        baggage: r.get(5)?,
        group_key: r.get(6)?,
        attempts: r.get(7)?,
        next_at_ms: r.get(8)?,
        status: JobStatus::parse(&status),
        last_error: r.get(10)?,
        created_ms: r.get(11)?,
    })
}

fn get_value(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Option<Value>> {
    let text: Option<String> = conn.prepare_cached(sql)?.query_row(args, |r| r.get(0)).optional()?;
    text.map(|t| from_json(&t)).transpose()
}

fn put_state(conn: &Connection, scope: &str, key: &str, value: &Value) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO state (scope, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![scope, key, to_json(value)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn state_round_trips_and_lists_in_insertion_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.state_set("s", "b", &json!(1)).unwrap(), None);
        assert_eq!(store.state_set("s", "a", &json!(2)).unwrap(), None);
        assert_eq!(store.state_set("s", "b", &json!(3)).unwrap(), Some(json!(1)));
        assert_eq!(store.state_list("s").unwrap(), vec![json!(3), json!(2)]);
        assert_eq!(store.state_groups().unwrap(), vec!["s".to_string()]);
        assert_eq!(store.state_delete("s", "a").unwrap(), Some(json!(2)));
        assert_eq!(store.state_get("s", "a").unwrap(), None);
    }

    #[test]
    fn data_survives_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.state_set("s", "k", &json!({"v": 1})).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.state_get("s", "k").unwrap(), Some(json!({"v": 1})));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = vec![0x42_u8; 8192];
        std::fs::write(dir.path().join("engine.db"), &garbage).unwrap();
        let err = Store::open(dir.path()).err().unwrap();
        assert_eq!(err.code(), "STORE_CORRUPT");
        assert!(err.to_string().contains("engine.db"), "{err}");
        assert_eq!(std::fs::read(dir.path().join("engine.db")).unwrap(), garbage);
    }

    #[test]
    fn running_jobs_go_back_to_ready_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let job = Job {
            id: "j1".into(),
            queue: "q".into(),
            function_id: "f::g".into(),
            data: json!({"n": 1}),
            traceparent: None,
            baggage: None,
            group_key: None,
            attempts: 1,
            next_at_ms: 0,
            status: JobStatus::Running,
            last_error: None,
            created_ms: 0,
        };
        {
            let store = Store::open(dir.path()).unwrap();
            store.job_insert(&job).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let pending = store.jobs_pending("q", 10).unwrap();
        assert_eq!(pending, vec![Job { status: JobStatus::Ready, ..job }]);
    }

    #[test]
    fn span_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let span = |n: i64| SpanRecord {
            trace_id: "t".into(),
            span_id: format!("s{n}"),
            parent_span_id: None,
            remote_span_id: None,
            name: "call x".into(),
            function_id: Some("x".into()),
            worker_id: None,
            caller_worker_id: None,
            internal: false,
            start_ns: n,
            end_ns: n + 1,
            status: "ok".into(),
            error_code: None,
            error_message: None,
            service_name: "agentos".into(),
            attributes: vec![],
        };
        let spans: Vec<_> = (0..10).map(span).collect();
        store.spans_insert(&spans, 4).unwrap();
        let kept: Vec<_> = store.spans_query("1 = 1", &[]).unwrap().into_iter().map(|s| s.span_id).collect();
        assert_eq!(kept, vec!["s6", "s7", "s8", "s9"]);
    }
}
