//! What the workers pane knows about a worker: one row of `GET /v1/workers`, how its state
//! reads, and the text of its cells.
//!
//! Rules it keeps:
//! - Rows are read as the status contract's [`WorkerStatus`] and sorted by name; a row without a
//!   name is dropped, a missing number reads as none, a state this build does not know as
//!   `unknown`.
//! - A worker's "change" is a new state, pid or restart count: a restart that went from ready
//!   back to ready between two polls still counts.

use agentos_protocol::status::{WorkerList, WorkerStatus};
use serde::Deserialize;
use serde_json::Value;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// One worker as the supervisor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub name: String,
    pub description: String,
    /// `pending`, `starting`, `ready`, `backoff`, `failed` or `stopped`.
    pub state: String,
    pub pid: Option<u64>,
    pub restarts: u64,
    pub uptime_ms: Option<u64>,
    pub functions_registered: u64,
    pub functions_expected: u64,
    pub last_error: Option<String>,
    pub ready_after_ms: Option<u64>,
}

impl From<WorkerStatus> for WorkerRow {
    fn from(w: WorkerStatus) -> Self {
        Self {
            name: w.name,
            description: w.description,
            state: w.state.as_str().to_string(),
            pid: w.pid.map(u64::from),
            restarts: u64::from(w.restarts),
            uptime_ms: w.uptime_ms,
            functions_registered: w.functions_registered as u64,
            functions_expected: w.functions_expected as u64,
            last_error: w.last_error.filter(|e| !e.trim().is_empty()),
            ready_after_ms: w.ready_after_ms,
        }
    }
}

impl WorkerRow {
    /// The rows of a `GET /v1/workers` answer, sorted by name; none when it is not one.
    pub fn list(answer: &Value) -> Vec<Self> {
        let list = WorkerList::deserialize(answer).unwrap_or_else(|e| {
            tracing::debug!("not a list of workers ({e}): {answer}");
            WorkerList::default()
        });
        let mut rows: Vec<Self> = list.workers.into_iter().filter(|w| !w.name.is_empty()).map(Self::from).collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        rows
    }

    /// What makes a change worth flashing, and ends a "restarting…".
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint { state: self.state.clone(), pid: self.pid, restarts: self.restarts }
    }

    /// How the state reads.
    pub fn health(&self) -> Health {
        Health::of(&self.state)
    }

    /// `12/12`.
    pub fn functions(&self) -> String {
        format!("{}/{}", self.functions_registered, self.functions_expected)
    }

    /// The uptime as `42s`, `3m12s` or `2h05m`, or `-` when the worker is not running.
    pub fn uptime(&self) -> String {
        self.uptime_ms.map_or_else(|| "-".to_string(), uptime)
    }
}

/// A worker's state, pid and restart count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub state: String,
    pub pid: Option<u64>,
    pub restarts: u64,
}

/// How a state reads on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// `ready`.
    Ok,
    /// `starting`, `pending`, or a state this dashboard does not know.
    Warn,
    /// `backoff`, `failed`.
    Error,
    /// `stopped`.
    Off,
}

impl Health {
    pub fn of(state: &str) -> Self {
        match state {
            "ready" => Health::Ok,
            "backoff" | "failed" => Health::Error,
            "stopped" => Health::Off,
            _ => Health::Warn,
        }
    }
}

/// `ms` as `42s`, `3m12s`, `2h05m`.
pub fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `text` cut to `width` columns, with `…` where it was cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `text` cut or padded with spaces to exactly `width` columns, left-aligned.
pub fn pad(text: &str, width: usize) -> String {
    let cut = truncate(text, width);
    let fill = width.saturating_sub(cut.width());
    format!("{cut}{}", " ".repeat(fill))
}

/// `text` cut or padded to exactly `width` columns, right-aligned.
pub fn pad_left(text: &str, width: usize) -> String {
    let cut = truncate(text, width);
    let fill = width.saturating_sub(cut.width());
    format!("{}{cut}", " ".repeat(fill))
}

/// The first line of `text` (errors may span lines; a table cell shows one).
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn rows_are_sorted_by_name_and_nameless_rows_dropped() {
        let answer = json!({"workers": [
            {"name": "realm", "state": "ready", "pid": 7, "restarts": 1, "uptime_ms": 192000,
             "functions_registered": 12, "functions_expected": 12, "last_error": null},
            {"name": "approval", "state": "failed", "last_error": "exited with code 1"},
            {"state": "ready"},
        ]});
        let rows = WorkerRow::list(&answer);
        assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["approval", "realm"]);
        assert_eq!(rows[1].pid, Some(7));
        assert_eq!(rows[1].functions(), "12/12");
        assert_eq!(rows[1].uptime(), "3m12s");
        assert_eq!(rows[0].uptime(), "-");
        assert_eq!(rows[0].last_error.as_deref(), Some("exited with code 1"));
    }

    #[test]
    fn uptimes_read_as_seconds_minutes_or_hours() {
        assert_eq!(uptime(999), "0s");
        assert_eq!(uptime(42_000), "42s");
        assert_eq!(uptime(192_000), "3m12s");
        assert_eq!(uptime(7_500_000), "2h05m");
    }

    #[test]
    fn states_read_as_ok_warn_error_or_off() {
        let healths: Vec<Health> = ["ready", "starting", "pending", "backoff", "failed", "stopped", "new"]
            .iter()
            .map(|s| Health::of(s))
            .collect();
        use Health::*;
        assert_eq!(healths, vec![Ok, Warn, Warn, Error, Error, Off, Warn]);
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis_and_padded_to_their_width() {
        assert_eq!(truncate("session-lifecycle", 8), "session…");
        assert_eq!(truncate("short", 8), "short");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad_left("12/12", 9), "    12/12");
        assert_eq!(truncate("日本語", 4), "日…");
    }
}
