//! `agentos approvals [approve|deny|rules|forget]` over `/v1/approvals`, and `agentos policy
//! explain` over `POST /v1/policy/explain`.
//!
//! - `GET /v1/approvals[?all=1]` → `{approvals: [Request]}` (pending first, newest first);
//! - `POST /v1/approvals/:id` `{decision, scope?, note?, via: "cli"}` → the decided Request, or
//!   `409 CONFLICT` naming the first decision, or `409 TURN_GONE` when the turn that waited on it
//!   is gone (agent-core or the engine restarted): nothing ran;
//! - `GET /v1/approvals/rules` → `{rules, grants}`; `DELETE /v1/approvals/rules/:id` → `{deleted}`;
//! - `POST /v1/policy/explain` `{function_id, arguments, hand?}` → `{tier, rule, reason}`.
//!
//! Rules it keeps:
//! - The list is a table (id, age, session, function, a short summary of the arguments,
//!   tier/rule, status); `--json` prints the server's answer as it came.
//! - A second decision is reported as `already decided: …` with the first decision; a request
//!   whose turn is gone (`409 TURN_GONE`) as `turn gone: …` with the server's message; other
//!   errors come from the server as `CODE: message` with their fix.

use agentos_protocol::approval::{
    self, Classification, ClassifyRequest, DecideBody, Deleted, Listing, Remembered, Request, Verdict,
};
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use agentos_supervisor::Home;

use crate::client::{Client, read, segment};
use crate::status::block_on;
use crate::table::{fields, table, text, utc_minute};

/// The routes `agentos approvals` (and `doctor`) call.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/approvals"),
    ("GET", "/v1/approvals/:id"),
    ("POST", "/v1/approvals/:id"),
    ("GET", "/v1/approvals/rules"),
    ("DELETE", "/v1/approvals/rules/:id"),
];

/// The routes `agentos policy` (and `doctor`) call.
pub const POLICY_ROUTES: &[(&str, &str)] = &[("POST", "/v1/policy/explain")];

/// `agentos approvals …`: without a subcommand, the pending requests.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    command: Option<ApprovalsCommand>,
    /// Include decided requests (the history).
    #[arg(long)]
    all: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// How far an approval reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// This call only.
    Once,
    /// Every call of this function for the rest of the session.
    Session,
    /// Every identical call (same function, same arguments), from now on.
    Always,
}

impl From<Scope> for approval::Scope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Once => Self::Once,
            Scope::Session => Self::Session,
            Scope::Always => Self::Always,
        }
    }
}

/// The subcommands of `agentos approvals`.
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Approve a pending request: the tool call runs.
    Approve {
        /// The request id (`apr-…`).
        id: String,
        /// How far the approval reaches.
        #[arg(long, value_enum, default_value = "once")]
        scope: Scope,
        /// A note kept with the decision.
        #[arg(long)]
        note: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Deny a pending request: the model is told, with the note.
    Deny {
        /// The request id (`apr-…`).
        id: String,
        /// What the model should do instead.
        #[arg(long)]
        note: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The remembered approvals: `always` rules and session grants.
    Rules {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Forget a remembered rule (or a session grant, `grant:<session>`).
    Forget {
        /// The rule id, as `agentos approvals rules` shows it.
        rule_id: String,
    },
}

/// `agentos policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The capability map: which worker identity may call what, and whose state scopes are whose.
    Capabilities {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Which tier a tool call would get, and the rule that decides it.
    Explain {
        /// The function, for example code::run_command.
        function: String,
        /// Its arguments as JSON, for example '{"program": "ls"}' (default {}).
        arguments: Option<String>,
        /// The hand the call would come from (its rules take part).
        #[arg(long)]
        hand: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `agentos approvals …`.
pub fn run(args: ApprovalsArgs) -> anyhow::Result<()> {
    let client = connect()?;
    match args.command {
        None => {
            let path = if args.all { "/v1/approvals?all=1" } else { "/v1/approvals" };
            let body = block_on(client.get(path))?;
            if args.json {
                return print_json(&body);
            }
            let listing: Listing = read("GET /v1/approvals", body)?;
            print!("{}", list_table(&listing, agentos_kit::clock::now_ms(), args.all));
        }
        Some(ApprovalsCommand::Approve { id, scope, note, json }) => {
            let body = decide_body(Verdict::Approve, scope, note);
            let decided = block_on(client.post(&format!("/v1/approvals/{}", segment(&id)), &body)).map_err(conflict)?;
            if json {
                return print_json(&decided);
            }
            println!("{}", decided_line(&read("POST /v1/approvals/:id", decided)?));
        }
        Some(ApprovalsCommand::Deny { id, note, json }) => {
            let body = decide_body(Verdict::Deny, Scope::Once, note);
            let decided = block_on(client.post(&format!("/v1/approvals/{}", segment(&id)), &body)).map_err(conflict)?;
            if json {
                return print_json(&decided);
            }
            println!("{}", decided_line(&read("POST /v1/approvals/:id", decided)?));
        }
        Some(ApprovalsCommand::Rules { json }) => {
            let body = block_on(client.get("/v1/approvals/rules"))?;
            if json {
                return print_json(&body);
            }
            print!("{}", rules_tables(&read("GET /v1/approvals/rules", body)?));
        }
        Some(ApprovalsCommand::Forget { rule_id }) => {
            let body = block_on(client.delete(&format!("/v1/approvals/rules/{}", segment(&rule_id))))?;
            let deleted: Deleted = read("DELETE /v1/approvals/rules/:id", body)?;
            println!("forgot {}", deleted.deleted);
        }
    }
    Ok(())
}

/// Runs `agentos policy …`.
pub fn run_policy(command: PolicyCommand) -> anyhow::Result<()> {
    let (function, arguments, hand, json) = match command {
        PolicyCommand::Capabilities { json } => return crate::capabilities::run(json),
        PolicyCommand::Explain { function, arguments, hand, json } => (function, arguments, hand, json),
    };
    let body = explain_body(&function, arguments.as_deref(), hand)?;
    let client = connect()?;
    let answer = block_on(client.post("/v1/policy/explain", &json!(body)))?;
    if json {
        return print_json(&answer);
    }
    print!("{}", explanation(&read("POST /v1/policy/explain", answer)?));
    Ok(())
}

/// The client of the running stack, or an error saying how to start one.
fn connect() -> anyhow::Result<Client> {
    Client::discover(&Home::discover()?)
}

/// Prints `value` as pretty JSON.
fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The body of `POST /v1/approvals/:id` the CLI sends: only what was given, and `via: cli`.
fn decide_body(decision: Verdict, scope: Scope, note: Option<String>) -> Value {
    let body = DecideBody { decision, scope: scope.into(), note, via: Some(approval::Via::Cli) };
    let mut body = json!(body);
    // The worker reads a missing scope as `once`: the CLI names it only when it is more.
    if let (Scope::Once, Some(fields)) = (scope, body.as_object_mut()) {
        fields.remove("scope");
    }
    body
}

/// A `CONFLICT` answer as `already decided: <the first decision>`, a `TURN_GONE` one as
/// `turn gone: <why>`; other errors unchanged.
fn conflict(e: anyhow::Error) -> anyhow::Error {
    let text = e.to_string();
    if let Some(message) = text.strip_prefix("TURN_GONE: ") {
        return anyhow::anyhow!("turn gone: {message}");
    }
    match text.strip_prefix("CONFLICT: ") {
        Some(message) => {
            let first = message.split_once("already decided: ").map_or(message, |(_, rest)| rest);
            anyhow::anyhow!("already decided: {first}; `agentos approvals --all` shows the history")
        }
        None => e,
    }
}

/// The body of `POST /v1/policy/explain`; the arguments must be a JSON object.
fn explain_body(function: &str, arguments: Option<&str>, hand: Option<String>) -> anyhow::Result<ClassifyRequest> {
    let arguments: Value = match arguments {
        None => json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "the arguments are not JSON ({e}); fix: pass one JSON object in single quotes, for example '{{\"program\": \"ls\", \"args\": [\"-la\"]}}'"
            )
        })?,
    };
    if !arguments.is_object() {
        return Err(anyhow::anyhow!(
            "the arguments must be a JSON object, not {arguments}; fix: name each argument, for example '{{\"path\": \"README.md\"}}'"
        ));
    }
    Ok(ClassifyRequest { function_id: function.to_string(), arguments, hand, ..ClassifyRequest::default() })
}

/// The `approvals` table at `now_ms`; a line saying there are none when the list is empty.
fn list_table(listing: &Listing, now_ms: u64, all: bool) -> String {
    if listing.approvals.is_empty() {
        return if all { "no approval requests\n".into() } else { "no pending approvals\n".into() };
    }
    let rows: Vec<Vec<String>> = listing
        .approvals
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                age(now_ms, Some(r.created_ms)),
                r.session_id.clone(),
                r.function_id.clone(),
                args_summary(&r.function_id, &r.arguments),
                format!("{}/{}", r.tier.as_str(), r.rule.id),
                status(r),
            ]
        })
        .collect();
    table(&["ID", "AGE", "SESSION", "FUNCTION", "ARGS", "TIER/RULE", "STATUS"], &rows)
}

/// `pending`, or the decision with how it came: `approved (session, cli)`, `denied (timeout)`.
fn status(r: &Request) -> String {
    let Some(d) = &r.decision else { return r.status.as_str().to_string() };
    let scope = match d.scope {
        approval::Scope::Once => String::new(),
        other => format!("{}, ", other.as_str()),
    };
    format!("{} ({scope}{})", r.status.as_str(), d.by.via.as_str())
}

/// How long ago `created_ms` was: `42s`, `5m`, `3h`, `2d`.
fn age(now_ms: u64, created_ms: Option<u64>) -> String {
    let Some(created) = created_ms else { return String::new() };
    let secs = now_ms.saturating_sub(created) / 1000;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The most telling arguments in one short line: the command line of a command, the path of a
/// file tool, else compact JSON; at most 48 characters.
fn args_summary(function_id: &str, arguments: &Value) -> String {
    let full = match (function_id, arguments) {
        ("code::run_command", a) if a["program"].is_string() => {
            let args = a["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
            std::iter::once(text(a, "program")).chain(args).collect::<Vec<_>>().join(" ")
        }
        (_, a) if a["path"].is_string() => text(a, "path"),
        (_, Value::Object(m)) if m.is_empty() => String::new(),
        (_, a) => a.to_string(),
    };
    if full.chars().count() > 48 { format!("{}…", full.chars().take(47).collect::<String>()) } else { full }
}

/// `approved apr-x (scope session)`, plus how to forget an `always` rule.
fn decided_line(r: &Request) -> String {
    match &r.decision {
        Some(d) if d.decision == Verdict::Approve => {
            let line = format!("approved {} (scope {}): {}", r.id, d.scope.as_str(), r.function_id);
            match &d.rule_id {
                Some(rule) => format!("{line}; remembered as {rule} (`agentos approvals forget {rule}` removes it)"),
                None => line,
            }
        }
        _ => format!("denied {}: {}", r.id, r.function_id),
    }
}

/// The `approvals rules` tables: remembered rules, then session grants.
fn rules_tables(remembered: &Remembered) -> String {
    let (rules, grants) = (&remembered.rules, &remembered.grants);
    if rules.is_empty() && grants.is_empty() {
        return "no remembered approvals\n".into();
    }
    let mut out = String::new();
    if !rules.is_empty() {
        let rows: Vec<Vec<String>> = rules
            .iter()
            .map(|r| {
                let by = match r.by.who.as_deref().unwrap_or_default() {
                    "" => r.by.via.as_str().to_string(),
                    who => format!("{who} ({})", r.by.via.as_str()),
                };
                vec![
                    r.id.clone(),
                    r.function_id.clone(),
                    args_summary(&r.function_id, &r.arguments),
                    utc_minute(r.created_ms),
                    by,
                ]
            })
            .collect();
        out.push_str(&table(&["RULE", "FUNCTION", "ARGS", "CREATED", "BY"], &rows));
    }
    if !grants.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let rows: Vec<Vec<String>> = grants
            .iter()
            .map(|g| vec![format!("grant:{}", g.session_id), g.functions.join(", "), utc_minute(g.updated_ms)])
            .collect();
        out.push_str(&table(&["GRANT", "FUNCTIONS", "UPDATED"], &rows));
    }
    out
}

/// The `policy explain` fields.
fn explanation(answer: &Classification) -> String {
    let rule = &answer.rule;
    let when = rule.when.as_ref().map(Value::to_string).unwrap_or_default();
    fields(&[
        ("tier", answer.tier.as_str().to_string()),
        ("rule", rule.id.clone()),
        ("source", rule.source.clone()),
        ("function", rule.function.clone()),
        ("when", when),
        ("reason", answer.reason.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// `value` read as the contract's type `T`, as the CLI reads the answer.
    fn typed<T: serde::de::DeserializeOwned>(value: Value) -> T {
        read("a test answer", value).unwrap()
    }

    fn request(id: &str, created_ms: u64, function_id: &str, arguments: Value) -> Value {
        json!({"id": id, "status": "pending", "created_ms": created_ms, "expires_ms": created_ms + 300_000,
               "session_id": "s1", "agent": null, "hand": "coder", "realm": null,
               "function_id": function_id, "arguments": arguments, "reason": null, "tier": "ask",
               "rule": {"id": "builtin:command", "source": "builtin", "function": "code::run_command"}})
    }

    #[test]
    fn the_list_shows_age_session_function_arguments_rule_and_status() {
        let mut done = request("apr-2", 0, "code::write_file", json!({"path": "src/lib.rs", "content": "x"}));
        done["status"] = json!("approved");
        done["decision"] = json!({"decision": "approve", "scope": "session", "by": {"via": "cli"}, "decided_ms": 5});
        let body = json!({"approvals": [
            request("apr-1", 3_590_000, "code::run_command", json!({"program": "cargo", "args": ["publish", "--allow-dirty", "--no-verify", "--registry", "crates-io"]})),
            done,
        ]});
        assert_eq!(
            list_table(&typed(body), 3_600_000, true),
            "ID     AGE  SESSION  FUNCTION           ARGS                                              TIER/RULE            STATUS\n\
             apr-1  10s  s1       code::run_command  cargo publish --allow-dirty --no-verify --regis…  ask/builtin:command  pending\n\
             apr-2  1h   s1       code::write_file   src/lib.rs                                        ask/builtin:command  approved (session, cli)\n"
        );
        assert_eq!(list_table(&typed(json!({"approvals": []})), 0, false), "no pending approvals\n");
    }

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        let table =
            [(0, "0s"), (59_999, "59s"), (60_000, "1m"), (3_599_000, "59m"), (7_200_000, "2h"), (172_800_000, "2d")];
        for (ago, shown) in table {
            assert_eq!(age(1_000_000_000, Some(1_000_000_000 - ago)), shown, "{ago}");
        }
        assert_eq!(age(5, None), "");
    }

    #[test]
    fn a_decision_sends_only_what_was_given_and_says_via_cli() {
        assert_eq!(decide_body(Verdict::Approve, Scope::Once, None), json!({"decision": "approve", "via": "cli"}));
        assert_eq!(
            decide_body(Verdict::Approve, Scope::Always, Some("fine".into())),
            json!({"decision": "approve", "via": "cli", "scope": "always", "note": "fine"})
        );
    }

    #[test]
    fn a_conflict_becomes_already_decided_with_the_first_decision() {
        let e = conflict(anyhow::anyhow!(
            "CONFLICT: approval apr-1 was already decided: denied via timeout at 2025-01-31 14:05:00 UTC; the first decision wins, nothing was changed"
        ));
        assert_eq!(
            e.to_string(),
            "already decided: denied via timeout at 2025-01-31 14:05:00 UTC; the first decision wins, nothing was changed; `agentos approvals --all` shows the history"
        );
        assert_eq!(
            conflict(anyhow::anyhow!("NOT_FOUND: no approval request")).to_string(),
            "NOT_FOUND: no approval request"
        );
    }

    #[test]
    fn a_request_whose_turn_is_gone_says_so_and_never_approved() {
        let e = conflict(anyhow::anyhow!(
            "TURN_GONE: approval apr-1 can no longer be decided: the turn that waited on it is gone (agent-core restarted while it waited), so nothing ran and nothing will; ask again in a new turn of the session"
        ));
        assert_eq!(
            e.to_string(),
            "turn gone: approval apr-1 can no longer be decided: the turn that waited on it is gone (agent-core restarted while it waited), so nothing ran and nothing will; ask again in a new turn of the session"
        );
    }

    #[test]
    fn explain_takes_a_json_object_and_names_the_fix_otherwise() {
        assert_eq!(
            json!(explain_body("code::list", None, Some("coder".into())).unwrap()),
            json!({"function_id": "code::list", "arguments": {}, "hand": "coder"})
        );
        let err = explain_body("x::y", Some("{program: ls}"), None).unwrap_err().to_string();
        assert!(err.starts_with("the arguments are not JSON (") && err.contains("fix: pass one JSON object"), "{err}");
        let err = explain_body("x::y", Some("[1]"), None).unwrap_err().to_string();
        assert!(err.starts_with("the arguments must be a JSON object, not [1]"), "{err}");
    }

    #[test]
    fn the_explanation_names_tier_rule_conditions_and_reason() {
        let answer = json!({"tier": "auto", "rule": {"id": "config#1", "source": "config", "function": "code::run_command", "when": {"program": ["cargo"]}}, "reason": "builds"});
        assert_eq!(
            explanation(&typed(answer)),
            "tier      auto\nrule      config#1\nsource    config\nfunction  code::run_command\nwhen      {\"program\":[\"cargo\"]}\nreason    builds\n"
        );
    }

    #[test]
    fn rules_and_grants_are_two_tables_and_an_always_approval_says_how_to_forget() {
        let body = json!({
            "rules": [{"id": "always-1", "function_id": "code::run_command", "arguments": {"program": "make"}, "created_ms": 1_738_332_300_000_i64, "by": {"who": "ana", "via": "http"}, "from_request": "apr-1"}],
            "grants": [{"session_id": "s1", "functions": ["code::write_file", "code::apply_patch"], "updated_ms": 1_738_332_300_000_i64}]
        });
        assert_eq!(
            rules_tables(&typed(body)),
            "RULE      FUNCTION           ARGS  CREATED               BY\n\
             always-1  code::run_command  make  2025-01-31 14:05 UTC  ana (http)\n\
             \n\
             GRANT     FUNCTIONS                            UPDATED\n\
             grant:s1  code::write_file, code::apply_patch  2025-01-31 14:05 UTC\n"
        );
        assert_eq!(rules_tables(&typed(json!({"rules": [], "grants": []}))), "no remembered approvals\n");
        let mut decided = request("apr-1", 0, "code::run_command", json!({"program": "make"}));
        decided["status"] = json!("approved");
        decided["decision"] = json!({"decision": "approve", "scope": "always", "rule_id": "always-1", "by": {"via": "cli"}, "decided_ms": 5});
        assert_eq!(
            decided_line(&typed(decided)),
            "approved apr-1 (scope always): code::run_command; remembered as always-1 (`agentos approvals forget always-1` removes it)"
        );
    }
}
