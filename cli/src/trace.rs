//! `agentos trace [ID] [--realm R] [--json]`: span trees as text waterfalls, over session-replay's
//! `GET /v1/traces/:id` (`{trace_id, roots}`) and `GET /v1/traces[?session_id=]`
//! (`{traces: [{trace_id, root, started_ms, duration_ms, turn_id?}]}`).
//!
//! Rules it keeps:
//! - ID is a trace id (32 hex digits) or a session's id or name. A trace id is asked for as a
//!   trace first; anything else, or a trace id the engine does not know, is resolved as a
//!   session, whose every trace is drawn in the order the session ran them.
//! - A session trace the engine no longer keeps is named in one dim line, not an error.
//! - Without ID: the recent traces as a table (newest first).
//! - `--json` prints the server's answers: one `{trace_id, roots}`, or for a session
//!   `{session_id, traces: [{trace_id, turn_id, roots}]}`, or the recent list.
//! - On a terminal, without `--json` or `--print`, the dashboard opens on its trace pane
//!   instead: on the trace, on a session's latest trace, or on the recent traces when no ID is
//!   given (or the session has none yet).

pub mod waterfall;

use agentos_protocol::session::Session;
use agentos_protocol::trace::{TraceList, TraceSummary, TraceTree};
use agentos_tui::{AppOptions, PaneId};
use serde_json::{Value, json};

use crate::client::{Client, read, segment};
use crate::sessions::{connect, print_json, resolve};
use crate::status::block_on;
use crate::table::{table, utc_minute};
use crate::theme::Theme;

/// The routes `agentos trace` calls (for `doctor`), besides `GET /v1/sessions/:id`.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/v1/traces"), ("GET", "/v1/traces/:id")];

/// `agentos trace`'s arguments.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// A trace id, or a session's id or name; without it, the recent traces.
    pub id: Option<String>,
    /// The realm of the session's name.
    #[arg(long)]
    pub realm: Option<String>,
    /// How many recent traces to list (without ID).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Print the waterfall as text even on a terminal (instead of opening the dashboard).
    #[arg(long)]
    pub print: bool,
}

/// What `trace ID` found.
enum Found {
    /// One trace: `{trace_id, roots}`, as the server sent it.
    Trace(Value),
    /// A session and its traces with their trees.
    Session { session: Box<Session>, traces: Vec<(TraceSummary, Option<TraceTree>)> },
}

/// Runs `agentos trace`.
pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    if !args.json && !args.print && crate::tui::on_terminal() {
        return dashboard(args.id.as_deref(), args.realm.as_deref());
    }
    let client = connect()?;
    let theme = Theme::for_stdout();
    let Some(id) = args.id else {
        let limit = args.limit.map(|n| n.to_string());
        let body = block_on(client.get_query("/v1/traces", &[("limit", limit.as_deref())]))?;
        if args.json {
            return print_json(&body);
        }
        print!("{}", recent_table(&read("GET /v1/traces", body)?));
        return Ok(());
    };
    match block_on(find(&client, &id, args.realm.as_deref()))? {
        Found::Trace(tree) if args.json => print_json(&tree),
        Found::Trace(tree) => {
            print!("{}", draw(&read("GET /v1/traces/:id", tree)?, theme));
            Ok(())
        }
        Found::Session { session, traces } if args.json => {
            let traces: Vec<Value> = traces
                .into_iter()
                .map(|(t, tree)| json!({"trace_id": t.trace_id, "turn_id": t.turn_id, "roots": tree.map(|t| t.roots)}))
                .collect();
            print_json(&json!({"session_id": session.id, "traces": traces}))
        }
        Found::Session { session, traces } => {
            print!("{}", session_view(&session, &traces, theme));
            Ok(())
        }
    }
}

/// Opens the dashboard's trace pane on what `id` names: a trace id as it is, a session as its
/// latest trace; without one (or for a session without traces), on the recent traces.
fn dashboard(id: Option<&str>, realm: Option<&str>) -> anyhow::Result<()> {
    let trace = match id {
        None => None,
        Some(id) if is_trace_id(id) => Some(id.to_string()),
        Some(id) => block_on(latest_trace_of_session(&connect()?, id, realm))?,
    };
    crate::tui::open(AppOptions { trace, ..crate::tui::options(PaneId::Trace) })
}

/// The most recent trace of the session `key` names (id or name), if it has one.
async fn latest_trace_of_session(client: &Client, key: &str, realm: Option<&str>) -> anyhow::Result<Option<String>> {
    let session: Session = read("GET /v1/sessions/:id", resolve(client, key, realm).await?)?;
    let list: TraceList =
        read("GET /v1/traces", client.get_query("/v1/traces", &[("session_id", Some(session.id.as_str()))]).await?)?;
    Ok(list.traces.into_iter().max_by_key(|t| t.started_ms).map(|t| t.trace_id))
}

/// The trace `id` names, or the session it names with every trace of it.
async fn find(client: &Client, id: &str, realm: Option<&str>) -> anyhow::Result<Found> {
    let trace_error = if is_trace_id(id) {
        match client.get(&format!("/v1/traces/{}", segment(id))).await {
            Ok(tree) => return Ok(Found::Trace(tree)),
            Err(e) if e.to_string().starts_with("NOT_FOUND") => Some(e),
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let session: Session = match resolve(client, id, realm).await {
        Ok(session) => read("GET /v1/sessions/:id", session)?,
        // Neither a trace nor a session: the trace's message says how to list traces.
        Err(e) if e.to_string().starts_with("NOT_FOUND") => return Err(trace_error.unwrap_or(e)),
        Err(e) => return Err(e),
    };
    let list: TraceList =
        read("GET /v1/traces", client.get_query("/v1/traces", &[("session_id", Some(session.id.as_str()))]).await?)?;
    let mut traces = Vec::new();
    for trace in list.traces {
        let tree = if trace.root.is_none() {
            None
        } else {
            match client.get(&format!("/v1/traces/{}", segment(&trace.trace_id))).await {
                Ok(tree) => Some(read("GET /v1/traces/:id", tree)?),
                // Evicted between the list and now: shown like any trace no longer kept.
                Err(e) if e.to_string().starts_with("NOT_FOUND") => None,
                Err(e) => return Err(e),
            }
        };
        traces.push((trace, tree));
    }
    Ok(Found::Session { session: Box::new(session), traces })
}

/// Whether `id` looks like a W3C trace id: 32 hex digits.
pub fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// One `{trace_id, roots}` answer as a waterfall.
pub fn draw(tree: &TraceTree, theme: Theme) -> String {
    waterfall::waterfall(&tree.trace_id, &tree.nodes(), theme)
}

/// Every trace of a session, one waterfall each, under a line naming the session.
pub fn session_view(session: &Session, traces: &[(TraceSummary, Option<TraceTree>)], theme: Theme) -> String {
    let mut out = format!("session {}\n", session.id);
    if traces.is_empty() {
        out.push_str(&theme.dim("no traces recorded for this session yet"));
        out.push('\n');
        return out;
    }
    for (i, (trace, tree)) in traces.iter().enumerate() {
        let turn = trace.turn_id.as_ref().map(|t| format!("turn {t}")).unwrap_or_else(|| format!("trace {}", i + 1));
        out.push('\n');
        out.push_str(&theme.cyan(&turn));
        out.push('\n');
        match tree {
            Some(tree) => out.push_str(&draw(tree, theme)),
            None => {
                out.push_str(&theme.dim(&format!(
                    "trace {} is no longer kept by the engine (it keeps its newest spans only)",
                    trace.trace_id
                )));
                out.push('\n');
            }
        }
    }
    out
}

/// The recent traces table.
pub fn recent_table(list: &TraceList) -> String {
    let rows: Vec<Vec<String>> = list
        .traces
        .iter()
        .map(|t| {
            let name = t.root_span().map(|root| root.label().to_string()).unwrap_or_default();
            let took = waterfall::duration((t.duration_ms * 1e6) as i64);
            vec![t.trace_id.clone(), utc_minute(t.started_ms), took, name]
        })
        .collect();
    table(&["TRACE", "STARTED", "DURATION", "ROOT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// `value` read as the contract's type, as the CLI reads the server's answers.
    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_trace_id_is_32_hex_digits() {
        assert!(is_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(!is_trace_id("4bf92f3577b34da6a3ce929d0e0e473"));
        assert!(!is_trace_id("session-1"));
        assert!(!is_trace_id("4bf92f3577b34da6a3ce929d0e0e473z"));
    }

    #[test]
    fn a_session_view_draws_each_trace_and_names_the_ones_no_longer_kept() {
        let tree = json!({"trace_id": "t1", "roots": [{"function_id": "agent::chat", "start_time_unix_nano": 0,
                          "end_time_unix_nano": 2_000_000, "children": []}]});
        let traces = vec![
            (typed(json!({"trace_id": "t1", "turn_id": "u1"})), Some(typed(tree))),
            (typed(json!({"trace_id": "t0", "root": null})), None),
        ];
        assert_eq!(
            session_view(&typed(json!({"id": "s1"})), &traces, Theme::PLAIN),
            "session s1\n\
             \nturn u1\n\
             trace t1 · 2.0 ms · 1 span\n\
             agent::chat  2.0 ms  │████████████████████████████████████████│\n\
             \ntrace 2\n\
             trace t0 is no longer kept by the engine (it keeps its newest spans only)\n"
        );
        assert_eq!(
            session_view(&typed(json!({"id": "s1"})), &[], Theme::PLAIN),
            "session s1\nno traces recorded for this session yet\n"
        );
    }

    #[test]
    fn recent_traces_are_a_table_of_id_start_duration_and_root() {
        let body = json!({"traces": [{"trace_id": "abc", "started_ms": 1_738_332_300_000_i64, "duration_ms": 12.5,
                                      "root": {"function_id": "agent::chat", "name": "call agent::chat"}}]});
        assert_eq!(
            recent_table(&typed(body)),
            "TRACE  STARTED               DURATION  ROOT\nabc    2025-01-31 14:05 UTC  12.5 ms   agent::chat\n"
        );
    }
}
