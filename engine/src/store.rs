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
//! - A state value or stream item is written only when its JSON fits the limit the caller gives
//!   ([`StoreError::TooLarge`] otherwise, and nothing changes).
//! - Spans and logs are bounded by count on every insert (cheap: one delete by primary key) and
//!   by age and total size in [`Store::sweep`], which the engine runs periodically. A new
//!   database is created with `auto_vacuum = INCREMENTAL`, so the sweep hands freed pages back
//!   to the file system; an older database keeps `auto_vacuum = NONE` (switching needs a full
//!   `VACUUM`, which rewrites the file under an exclusive lock), and there SQLite reuses the freed
//!   pages for new rows, so the file stops growing at its high-water mark.

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
    /// A value to write is larger than the caller's limit; nothing was written.
    #[error("the value is {bytes} bytes of JSON, over the limit of {limit} bytes")]
    TooLarge {
        /// The size of the value's JSON.
        bytes: usize,
        /// The limit it exceeds.
        limit: usize,
    },
}

impl StoreError {
    /// A stable code for logs and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Corrupt { .. } => "STORE_CORRUPT",
            Self::DataDir { .. } => "STORE_DATA_DIR",
            Self::Sql(_) => "STORE_SQL",
            Self::Json(_) => "STORE_JSON",
            Self::TooLarge { .. } => "STORE_TOO_LARGE",
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

/// The stored size of a span row, in SQL over the `spans` table: its variable text columns plus
/// a fixed 120 bytes for its ids, times, flags and row header (an estimate, so measuring stays
/// one cheap sum).
const SPAN_BYTES: &str = "(length(name) + length(attributes) + coalesce(length(error_message), 0) \
                          + coalesce(length(function_id), 0) + 120)";
/// The stored size of a log row, in SQL over the `logs` table: its record JSON plus a fixed
/// 40 bytes for its columns and row header.
const LOG_BYTES: &str = "(length(record) + 40)";
/// Free pages one sweep hands back to the file system at most (4 MiB at 4 KiB pages), so one
/// sweep holds the lock for milliseconds even after a large delete; the next sweep goes on.
const VACUUM_PAGES_PER_SWEEP: i64 = 1024;

/// The bounds [`Store::sweep`] enforces on spans and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Rows whose time is before this (Unix ns) go; `None`: no age bound.
    pub older_than_ns: Option<i64>,
    /// Spans and logs together are cut to this many measured bytes, the oldest rows of each
    /// going first and each table keeping its share; `None`: no size bound.
    pub max_bytes: Option<u64>,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Spans deleted.
    pub spans_deleted: u64,
    /// Log records deleted.
    pub logs_deleted: u64,
    /// Free pages handed back to the file system.
    pub pages_released: u64,
}

/// The size of the database file, from SQLite's own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbSize {
    /// Bytes per page.
    pub page_size: u64,
    /// Pages in the main file.
    pub page_count: u64,
    /// Pages of those that are free (reused by later writes).
    pub freelist_count: u64,
    /// Whether freed pages can be handed back (`auto_vacuum = INCREMENTAL`).
    pub incremental_vacuum: bool,
}

impl DbSize {
    /// Bytes of the main file.
    pub fn file_bytes(&self) -> u64 {
        self.page_size * self.page_count
    }

    /// Bytes in use (the file less its free pages).
    pub fn used_bytes(&self) -> u64 {
        self.page_size * (self.page_count - self.freelist_count.min(self.page_count))
    }
}

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
        // Only possible before the first table exists; an existing file keeps its mode.
        let fresh: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(corrupt)?;
        if fresh == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL").map_err(corrupt)?;
        }
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

    /// Stores a value whose JSON is at most `max_bytes`; returns the previous one.
    pub fn state_set(&self, scope: &str, key: &str, value: &Value, max_bytes: usize) -> StoreResult<Option<Value>> {
        let text = bounded_json(value, max_bytes)?;
        let conn = lock(&self.conn);
        let old = get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        put_state(&conn, scope, key, &text)?;
        Ok(old)
    }

    /// Read-modify-write under the store lock: `f` gets the current value and returns the new
    /// one plus anything to hand back. Returns (old, new, extra). A new value whose JSON is over
    /// `max_bytes` is [`StoreError::TooLarge`] and leaves the stored one as it was.
    pub fn state_update<T>(
        &self,
        scope: &str,
        key: &str,
        max_bytes: usize,
        f: impl FnOnce(Option<Value>) -> (Value, T),
    ) -> StoreResult<(Option<Value>, Value, T)> {
        let conn = lock(&self.conn);
        let old = get_value(&conn, "SELECT value FROM state WHERE scope = ?1 AND key = ?2", params![scope, key])?;
        let (new, extra) = f(old.clone());
        put_state(&conn, scope, key, &bounded_json(&new, max_bytes)?)?;
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

    /// Read-modify-write of a stream item; `f` returns `None` to delete it. A new item whose
    /// JSON is over `max_bytes` is [`StoreError::TooLarge`] and leaves the stored one as it was.
    pub fn stream_update<T>(
        &self,
        stream: &str,
        group: &str,
        item: &str,
        max_bytes: usize,
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
                .execute(params![stream, group, item, bounded_json(value, max_bytes)?])?;
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

    // ---- retention ---------------------------------------------------------------------------

    /// Measured bytes of (spans, logs): their text plus a fixed per-row estimate. One scan of
    /// each table.
    pub fn trace_log_bytes(&self) -> StoreResult<(u64, u64)> {
        let conn = lock(&self.conn);
        measured(&conn)
    }

    /// Enforces `retention` on spans and logs in one transaction, then hands up to
    /// `VACUUM_PAGES_PER_SWEEP` free pages (4 MiB) back to the file system when the database allows it.
    pub fn sweep(&self, retention: &Retention) -> StoreResult<SweepReport> {
        let mut conn = lock(&self.conn);
        let mut report = SweepReport::default();
        let tx = conn.transaction()?;
        if let Some(before) = retention.older_than_ns {
            report.spans_deleted += tx.execute("DELETE FROM spans WHERE start_ns < ?1", params![before])? as u64;
            report.logs_deleted += tx.execute("DELETE FROM logs WHERE ts_ns < ?1", params![before])? as u64;
        }
        if let Some(max) = retention.max_bytes {
            let (spans, logs) = measured(&tx)?;
            let total = spans + logs;
            if total > max {
                // Each table keeps its share of the bound, so a burst of logs cannot push every
                // span out (nor the other way round).
                let share = |bytes: u64| (u128::from(max) * u128::from(bytes) / u128::from(total)) as i64;
                report.spans_deleted += trim_to_bytes(&tx, "spans", SPAN_BYTES, share(spans))?;
                report.logs_deleted += trim_to_bytes(&tx, "logs", LOG_BYTES, share(logs))?;
            }
        }
        tx.commit()?;
        if incremental(&conn)? {
            let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
            if free > 0 {
                let pages = free.min(VACUUM_PAGES_PER_SWEEP);
                // The pragma frees one page per step: step it to the end.
                let mut stmt = conn.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
                let mut rows = stmt.query([])?;
                while rows.next()?.is_some() {}
                report.pages_released = pages as u64;
            }
        }
        Ok(report)
    }

    /// The database file's size from SQLite's page counters (the WAL file is not counted).
    pub fn size(&self) -> StoreResult<DbSize> {
        let conn = lock(&self.conn);
        let pragma = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0));
        Ok(DbSize {
            page_size: pragma("page_size")? as u64,
            page_count: pragma("page_count")? as u64,
            freelist_count: pragma("freelist_count")? as u64,
            incremental_vacuum: incremental(&conn)?,
        })
    }
}

/// Measured bytes of (spans, logs).
fn measured(conn: &Connection) -> StoreResult<(u64, u64)> {
    let sum = |table: &str, bytes_sql: &str| -> StoreResult<u64> {
        let n: i64 = conn.query_row(&format!("SELECT coalesce(SUM({bytes_sql}), 0) FROM {table}"), [], |r| r.get(0))?;
        Ok(n as u64)
    };
    Ok((sum("spans", SPAN_BYTES)?, sum("logs", LOG_BYTES)?))
}

/// Whether the database was created with `auto_vacuum = INCREMENTAL` (2).
fn incremental(conn: &Connection) -> StoreResult<bool> {
    Ok(conn.query_row("PRAGMA auto_vacuum", [], |r| r.get::<_, i64>(0))? == 2)
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

fn put_state(conn: &Connection, scope: &str, key: &str, json: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO state (scope, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![scope, key, json])?;
    Ok(())
}

/// The JSON of `value`, or [`StoreError::TooLarge`] when it is over `max_bytes`.
fn bounded_json(value: &Value, max_bytes: usize) -> StoreResult<String> {
    let text = to_json(value);
    if text.len() > max_bytes {
        return Err(StoreError::TooLarge { bytes: text.len(), limit: max_bytes });
    }
    Ok(text)
}

/// Deletes the oldest rows of `table` (by `seq`) until its measured bytes (`bytes_sql` per row)
/// are at most `keep`. One pass of a window sum from the newest row.
fn trim_to_bytes(conn: &Connection, table: &str, bytes_sql: &str, keep: i64) -> StoreResult<u64> {
    let cut: Option<i64> = conn
        .query_row(
            &format!(
                "SELECT seq FROM (SELECT seq, SUM({bytes_sql}) OVER (ORDER BY seq DESC) AS newer FROM {table})
                 WHERE newer > ?1 ORDER BY seq DESC LIMIT 1"
            ),
            params![keep],
            |r| r.get(0),
        )
        .optional()?;
    match cut {
        Some(seq) => Ok(conn.execute(&format!("DELETE FROM {table} WHERE seq <= ?1"), params![seq])? as u64),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    const MIB: usize = 1024 * 1024;

    fn span(n: i64) -> SpanRecord {
        SpanRecord {
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
        }
    }

    fn log(n: i64, body: &str) -> Value {
        json!({"timestamp_unix_nano": n, "severity_number": 9, "body": body})
    }

    fn span_ids(store: &Store) -> Vec<String> {
        store.spans_query("1 = 1", &[]).unwrap().into_iter().map(|s| s.span_id).collect()
    }

    fn log_times(store: &Store) -> Vec<i64> {
        store.logs_all().unwrap().iter().map(|r| r["timestamp_unix_nano"].as_i64().unwrap()).collect()
    }

    #[test]
    fn state_round_trips_and_lists_in_insertion_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.state_set("s", "b", &json!(1), MIB).unwrap(), None);
        assert_eq!(store.state_set("s", "a", &json!(2), MIB).unwrap(), None);
        assert_eq!(store.state_set("s", "b", &json!(3), MIB).unwrap(), Some(json!(1)));
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
            store.state_set("s", "k", &json!({"v": 1}), MIB).unwrap();
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
        let spans: Vec<_> = (0..10).map(span).collect();
        store.spans_insert(&spans, 4).unwrap();
        assert_eq!(span_ids(&store), vec!["s6", "s7", "s8", "s9"]);
    }

    #[test]
    fn a_value_over_the_limit_is_refused_and_the_stored_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.state_set("s", "k", &json!("small"), 16).unwrap();
        let big = json!("x".repeat(20));
        let err = store.state_set("s", "k", &big, 16).unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { bytes: 22, limit: 16 }), "{err:?}");
        assert_eq!(err.code(), "STORE_TOO_LARGE");
        let err = store.state_update("s", "k", 16, |_| (big.clone(), ())).unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { bytes: 22, limit: 16 }), "{err:?}");
        assert_eq!(store.state_get("s", "k").unwrap(), Some(json!("small")));
        let err = store.stream_update("st", "g", "i", 16, |_| (Some(big.clone()), ())).unwrap_err();
        assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");
        assert_eq!(store.stream_get("st", "g", "i").unwrap(), None);
        // Exactly at the limit is allowed.
        store.state_set("s", "k", &json!("x".repeat(14)), 16).unwrap();
    }

    #[test]
    fn the_sweep_deletes_spans_and_logs_older_than_the_age_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.spans_insert(&(0..10).map(span).collect::<Vec<_>>(), 100).unwrap();
        store.logs_insert(&(0..10).map(|n| log(n, "hi")).collect::<Vec<_>>(), 100).unwrap();
        let report = store.sweep(&Retention { older_than_ns: Some(7), max_bytes: None }).unwrap();
        assert_eq!((report.spans_deleted, report.logs_deleted), (7, 7));
        assert_eq!(span_ids(&store), vec!["s7", "s8", "s9"]);
        assert_eq!(log_times(&store), vec![7, 8, 9]);
        // Nothing to do: nothing changes.
        let report = store.sweep(&Retention { older_than_ns: Some(7), max_bytes: None }).unwrap();
        assert_eq!((report.spans_deleted, report.logs_deleted), (0, 0));
    }

    #[test]
    fn the_sweep_cuts_spans_and_logs_to_the_size_bound_oldest_first_each_keeping_its_share() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.spans_insert(&(0..100).map(span).collect::<Vec<_>>(), 1000).unwrap();
        let body = "b".repeat(1000);
        store.logs_insert(&(0..100).map(|n| log(n, &body)).collect::<Vec<_>>(), 1000).unwrap();
        let (spans, logs) = store.trace_log_bytes().unwrap();
        let total = spans + logs;
        let max = total / 4;
        let report = store.sweep(&Retention { older_than_ns: None, max_bytes: Some(max) }).unwrap();
        let (spans_after, logs_after) = store.trace_log_bytes().unwrap();
        assert!(spans_after + logs_after <= max, "{spans_after} + {logs_after} > {max}");
        // Each table kept about a quarter of its own bytes (within one row).
        assert!(spans_after * 4 <= spans && spans_after * 4 + 4 * 200 > spans, "{spans_after} of {spans}");
        assert!(logs_after * 4 <= logs && logs_after * 4 + 4 * 1200 > logs, "{logs_after} of {logs}");
        assert_eq!(report.spans_deleted as usize + span_ids(&store).len(), 100);
        // The newest rows are the ones kept.
        assert_eq!(span_ids(&store).last().map(String::as_str), Some("s99"));
        assert_eq!(log_times(&store).first().copied(), Some(100 - log_times(&store).len() as i64));
    }

    #[test]
    fn a_new_database_hands_freed_pages_back_after_a_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.size().unwrap().incremental_vacuum);
        let body = "b".repeat(4000);
        store.logs_insert(&(0..500).map(|n| log(n, &body)).collect::<Vec<_>>(), 10_000).unwrap();
        let full = store.size().unwrap();
        assert!(full.file_bytes() > 2_000_000, "{full:?}");
        let report = store.sweep(&Retention { older_than_ns: Some(490), max_bytes: None }).unwrap();
        assert_eq!(report.logs_deleted, 490);
        assert!(report.pages_released > 0, "{report:?}");
        let after = store.size().unwrap();
        assert!(after.file_bytes() < full.file_bytes() / 2, "{after:?} vs {full:?}");
    }

    #[test]
    fn an_existing_database_without_auto_vacuum_keeps_its_mode_and_reuses_freed_pages() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A database made the way older engines made it.
            let conn = Connection::open(dir.path().join("engine.db")).unwrap();
            conn.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.size().unwrap().incremental_vacuum);
        let body = "b".repeat(4000);
        let batch = |from: i64| (from..from + 200).map(|n| log(n, &body)).collect::<Vec<_>>();
        store.logs_insert(&batch(0), 10_000).unwrap();
        store.sweep(&Retention { older_than_ns: Some(200), max_bytes: None }).unwrap();
        let high_water = store.size().unwrap();
        assert!(high_water.freelist_count > 100, "{high_water:?}");
        // The next rows go into the free pages: the file does not grow.
        store.logs_insert(&batch(200), 10_000).unwrap();
        assert!(store.size().unwrap().page_count <= high_water.page_count + 2);
    }
}
