//! Approval requests as the API sends them (`GET /v1/approvals`, the bus's
//! `approval_requested` / `approval_decided`), and what the approval prompt and the approvals
//! pane both say about them.
//!
//! Rules it keeps:
//! - Requests are read as the approval contract's [`Request`]; one that does not fit (or has
//!   no id: nothing could be decided on it) is left out and logged at debug, never shown half.
//!   Blank optional texts read as absent.
//! - Every helper is pure; times are Unix milliseconds passed in, so tests fix the clock.

use agentos_protocol::approval::{self, Listing, Request};
use serde::Deserialize;
use serde_json::Value;

/// How a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Denied,
}

impl From<approval::Status> for Status {
    fn from(status: approval::Status) -> Self {
        match status {
            approval::Status::Pending => Status::Pending,
            approval::Status::Approved => Status::Approved,
            approval::Status::Denied => Status::Denied,
        }
    }
}

impl Status {
    /// The word shown.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
        }
    }
}

/// The rule that sent a call to a person: `builtin:workspace-write` from `builtin`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub source: String,
}

impl Rule {
    /// `builtin:workspace-write (builtin)`, or the id alone when the source says nothing more.
    pub fn label(&self) -> String {
        match (self.id.is_empty(), self.source.is_empty() || self.source == self.id) {
            (true, _) => "none".to_string(),
            (false, true) => self.id.clone(),
            (false, false) => format!("{} ({})", self.id, self.source),
        }
    }
}

/// A request's decision: who, through what, when, and what it covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// `approve` or `deny`.
    pub decision: String,
    /// `once`, `session` or `always`.
    pub scope: String,
    pub note: Option<String>,
    pub who: Option<String>,
    /// `http`, `cli`, `tui` or `timeout`.
    pub via: String,
    pub decided_ms: u64,
    /// The remembered rule an `always` decision stored.
    pub rule_id: Option<String>,
}

impl From<approval::Decision> for Decision {
    fn from(d: approval::Decision) -> Self {
        Self {
            decision: d.decision.as_str().to_string(),
            scope: d.scope.as_str().to_string(),
            note: present(d.note),
            who: present(d.by.who),
            via: d.by.via.as_str().to_string(),
            decided_ms: d.decided_ms,
            rule_id: present(d.rule_id),
        }
    }
}

impl Decision {
    /// `ana via tui`, `via cli`, `timeout`.
    pub fn by(&self) -> String {
        match (&self.who, self.via.as_str()) {
            (_, "timeout") => "timeout".to_string(),
            (Some(who), "") => who.clone(),
            (Some(who), via) => format!("{who} via {via}"),
            (None, "") => "unknown".to_string(),
            (None, via) => format!("via {via}"),
        }
    }
}

/// One approval request.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: String,
    pub status: Status,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub session_id: String,
    pub agent: Option<String>,
    pub hand: Option<String>,
    pub realm: Option<String>,
    pub function_id: String,
    pub arguments: Value,
    pub reason: String,
    pub rule: Rule,
    pub diff: Option<String>,
    pub decision: Option<Decision>,
}

impl From<Request> for Approval {
    fn from(r: Request) -> Self {
        Self {
            id: r.id,
            status: r.status.into(),
            created_ms: r.created_ms,
            expires_ms: Some(r.expires_ms).filter(|ms| *ms > 0),
            session_id: r.session_id,
            agent: present(r.agent),
            hand: present(r.hand),
            realm: present(r.realm),
            function_id: r.function_id,
            arguments: r.arguments,
            reason: r.reason.unwrap_or_default(),
            rule: Rule { id: r.rule.id, source: r.rule.source },
            diff: present(r.diff),
            decision: r.decision.map(Decision::from),
        }
    }
}

impl Approval {
    /// A request from its JSON (an answer, a bus event's data); `None` when it is not one.
    pub fn parse(v: &Value) -> Option<Self> {
        match Request::deserialize(v) {
            Ok(r) if !r.id.is_empty() => Some(r.into()),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("not an approval request ({e}): {v}");
                None
            }
        }
    }

    /// Every request of a `{"approvals": [...]}` answer; one that is not a request is left out
    /// (and logged), the others are kept.
    pub fn list(answer: &Value) -> Vec<Self> {
        /// The listing with its requests unread, to read them one by one.
        #[derive(Deserialize)]
        struct Unread {
            approvals: Vec<Value>,
        }
        match Listing::deserialize(answer) {
            Ok(listing) => listing.approvals.into_iter().filter(|r| !r.id.is_empty()).map(Self::from).collect(),
            Err(_) => match Unread::deserialize(answer) {
                Ok(unread) => unread.approvals.iter().filter_map(Self::parse).collect(),
                Err(e) => {
                    tracing::debug!("not a list of approval requests ({e}): {answer}");
                    Vec::new()
                }
            },
        }
    }

    pub fn is_pending(&self) -> bool {
        self.status == Status::Pending
    }

    /// `session 3f2a9c1e · hand coder · agent a1 · realm team`: where the call comes from.
    pub fn origin(&self) -> String {
        let mut parts = vec![format!("session {}", short_id(&self.session_id))];
        if let Some(hand) = &self.hand {
            parts.push(format!("hand {hand}"));
        }
        if let Some(agent) = &self.agent {
            parts.push(format!("agent {agent}"));
        }
        if let Some(realm) = self.realm.as_ref().filter(|r| r.as_str() != "default") {
            parts.push(format!("realm {realm}"));
        }
        parts.join(" · ")
    }
}

/// An optional text, absent when blank.
fn present(text: Option<String>) -> Option<String> {
    text.filter(|s| !s.trim().is_empty())
}

/// The first 8 characters of a session id (UUIDs are told apart by them); short ids whole.
pub fn short_id(id: &str) -> String {
    if id.chars().count() <= 12 { id.to_string() } else { id.chars().take(8).collect() }
}

/// How long ago `ms` was at `now_ms`: `just now`, `12s ago`, `3m ago`, `5h ago`, `4d ago`.
pub fn ago(now_ms: u64, ms: u64) -> String {
    if ms == 0 {
        return "—".to_string();
    }
    let secs = now_ms.saturating_sub(ms) / 1000;
    match secs {
        0 => "just now".to_string(),
        1..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// How long until `ms` at `now_ms`: `4m 12s`, `45s`, `1h 05m`; `None` once it has passed.
pub fn left(now_ms: u64, ms: u64) -> Option<String> {
    let secs = ms.checked_sub(now_ms).filter(|d| *d > 0)?.div_ceil(1000);
    Some(match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    })
}

/// The arguments as the prompt shows them: long strings (a file's content, a patch) cut to
/// their first line with how much was left out, since the diff shows them whole.
pub fn clipped_arguments(arguments: &Value) -> Value {
    match arguments {
        Value::String(s) => Value::String(clip(s)),
        Value::Array(items) => Value::Array(items.iter().map(clipped_arguments).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), clipped_arguments(v))).collect()),
        other => other.clone(),
    }
}

/// The longest string argument shown whole (characters).
const CLIP_CHARS: usize = 120;

/// How much of a long string's first line is kept (characters).
const CLIP_KEEP: usize = 32;

fn clip(s: &str) -> String {
    let lines = s.lines().count();
    if lines <= 1 && s.chars().count() <= CLIP_CHARS {
        return s.to_string();
    }
    let first: String = s.lines().next().unwrap_or_default().chars().take(CLIP_KEEP).collect();
    let size = if s.len() < 1024 { format!("{} B", s.len()) } else { format!("{:.1} KiB", s.len() as f64 / 1024.0) };
    format!("{first}… ({lines} lines, {size})")
}

/// `value` as JSON text for `width` cells: on one line when it fits, else indented with each
/// member on its own line, members that fit kept on one line (`"args": ["test", "-p", "x"]`).
pub fn compact_json(value: &Value, width: usize) -> String {
    let mut out = String::new();
    write_json(value, 0, width, &mut out);
    out
}

fn write_json(value: &Value, indent: usize, width: usize, out: &mut String) {
    let inline = inline_json(value);
    let fits = indent + inline.chars().count() <= width;
    let pad = " ".repeat(indent + 2);
    match value {
        Value::Object(map) if !fits && !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                let key = Value::String(k.clone()).to_string();
                out.push_str(&format!("{pad}{key}: "));
                write_json(v, indent + 2, width.saturating_sub(key.chars().count() + 2), out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", " ".repeat(indent)));
        }
        Value::Array(items) if !fits && !items.is_empty() => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                out.push_str(&pad);
                write_json(v, indent + 2, width, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", " ".repeat(indent)));
        }
        _ => out.push_str(&inline),
    }
}

/// `value` on one line, with a space after every `:` and `,` (easier to read than the wire form).
fn inline_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let members: Vec<String> =
                map.iter().map(|(k, v)| format!("{}: {}", Value::String(k.clone()), inline_json(v))).collect();
            format!("{{{}}}", members.join(", "))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(inline_json).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// For a `code::run_command` call, the command as a person would type it
/// (`cargo test -p parser`) and its working directory.
pub fn command_line(function_id: &str, arguments: &Value) -> Option<(String, Option<String>)> {
    if !function_id.ends_with("::run_command") {
        return None;
    }
    let program = arguments["program"].as_str()?;
    let mut words = vec![shell_word(program)];
    words.extend(arguments["args"].as_array().into_iter().flatten().map(|a| match a.as_str() {
        Some(s) => shell_word(s),
        None => a.to_string(),
    }));
    let cwd = arguments["cwd"].as_str().filter(|c| !c.is_empty() && *c != ".").map(str::to_string);
    Some((words.join(" "), cwd))
}

/// `word` quoted for a POSIX shell when it needs quoting.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '=' | '+' | ',' | '@' | '%')
        });
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_request_is_read_from_the_api_shape_and_a_request_without_an_id_is_dropped() {
        let v = json!({"id": "apr-1", "status": "approved", "created_ms": 5, "expires_ms": 300_005, "session_id": "3f2a9c1e-77aa-4bbb-8ccc-0123456789ab",
            "hand": "coder", "realm": "default", "function_id": "code::run_command", "arguments": {"program": "ls"},
            "reason": "commands need a person", "tier": "ask", "rule": {"id": "config#1", "source": "config", "function": "code::*"},
            "decision": {"decision": "approve", "scope": "session", "by": {"who": "ana", "via": "cli"}, "decided_ms": 9}});
        let a = Approval::parse(&v).unwrap();
        assert_eq!(
            (a.status, a.rule.label(), a.origin()),
            (Status::Approved, "config#1 (config)".into(), "session 3f2a9c1e · hand coder".into())
        );
        let d = a.decision.unwrap();
        assert_eq!((d.by(), d.scope.as_str(), d.decided_ms), ("ana via cli".into(), "session", 9));
        assert_eq!(Approval::list(&json!({"approvals": [{"status": "pending"}, v]})).len(), 1);
    }

    #[test]
    fn times_read_as_people_say_them() {
        assert_eq!(ago(100_000, 88_000), "12s ago");
        assert_eq!(ago(1_000_000, 820_000), "3m ago");
        assert_eq!(ago(5, 9), "just now");
        assert_eq!(left(0, 252_000).as_deref(), Some("4m 12s"));
        assert_eq!(left(10, 10), None);
    }

    #[test]
    fn json_is_compact_where_it_fits() {
        let v = json!({"program": "cargo", "args": ["test", "-p", "parser"]});
        assert_eq!(compact_json(&v, 80), r#"{"args": ["test", "-p", "parser"], "program": "cargo"}"#);
        assert_eq!(compact_json(&v, 40), "{\n  \"args\": [\"test\", \"-p\", \"parser\"],\n  \"program\": \"cargo\"\n}");
        assert_eq!(compact_json(&json!({}), 1), "{}");
    }

    #[test]
    fn a_command_reads_as_typed_with_quotes_where_a_shell_needs_them() {
        let v = json!({"program": "sh", "args": ["-c", "echo 'hi' > out.txt"], "cwd": "crates/parser"});
        assert_eq!(
            command_line("code::run_command", &v),
            Some((r#"sh -c 'echo '\''hi'\'' > out.txt'"#.to_string(), Some("crates/parser".to_string())))
        );
        assert_eq!(command_line("code::write_file", &v), None);
    }

    #[test]
    fn long_strings_in_arguments_are_cut_to_their_first_line() {
        let content = "fn main() {\n    println!(\"hi\");\n}\n";
        let clipped = clipped_arguments(&json!({"path": "src/main.rs", "content": content, "args": ["-p", "x"]}));
        assert_eq!(
            clipped,
            json!({"path": "src/main.rs", "content": "fn main() {… (3 lines, 34 B)", "args": ["-p", "x"]})
        );
    }
}
