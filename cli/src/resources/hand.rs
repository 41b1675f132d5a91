//! `agentos hand list|get|reload|run` over `/v1/hands`: `GET /v1/hands` → `{hands, errors}`,
//! `GET /v1/hands/:name` → a hand with its system prompt, `POST /v1/hands/reload` →
//! `{hands, errors}`, `POST /v1/hands/:name/trigger` `{message?, realm?, session_id?}` → the
//! `/v1/chat` answer.
//!
//! Rules it keeps:
//! - Hand files that did not load are named on stderr with their error; `list` still succeeds,
//!   `reload` exits non-zero so scripts notice.
//! - `run` prints its answer as `agentos chat` prints a turn (tool lines, reply, footer).

use clap::Subcommand;
use serde_json::{Map, Value};

use super::{connect, print_json};
use crate::chat::events::ChatAnswer;
use crate::chat::render::Renderer;
use crate::client::segment;
use crate::status::block_on;
use crate::table::{fields, table, text, time_ms};
use crate::theme::Theme;

/// The routes `agentos hand` (and `doctor`) call.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/hands"),
    ("GET", "/v1/hands/:name"),
    ("POST", "/v1/hands/reload"),
    ("POST", "/v1/hands/:name/trigger"),
];

/// `agentos hand …`.
#[derive(Debug, Subcommand)]
pub enum HandCommand {
    /// Every hand, and the hand files that did not load.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One hand, with its system prompt.
    Get {
        /// The hand's name.
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Read the hand files again.
    Reload {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run one turn of a hand now and print its reply.
    Run {
        /// The hand's name.
        name: String,
        /// What to say (default: the hand's scheduled prompt).
        message: Option<String>,
        /// The realm to run in.
        #[arg(long)]
        realm: Option<String>,
        /// Continue this session.
        #[arg(long)]
        session: Option<String>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `agentos hand …`.
pub fn run(command: HandCommand) -> anyhow::Result<()> {
    let client = connect()?;
    match command {
        HandCommand::List { json } => {
            let body = block_on(client.get("/v1/hands"))?;
            if json {
                return print_json(&body);
            }
            print!("{}", list_table(&body));
            eprint!("{}", load_errors(&body["errors"]));
        }
        HandCommand::Get { name, json } => {
            let hand = block_on(client.get(&format!("/v1/hands/{}", segment(&name))))?;
            if json {
                return print_json(&hand);
            }
            print!("{}", details(&hand));
        }
        HandCommand::Reload { json } => {
            let body = block_on(client.post("/v1/hands/reload", &Value::Object(Map::new())))?;
            let failed = body["errors"].as_array().map_or(0, Vec::len);
            if json {
                print_json(&body)?;
            } else {
                println!("loaded {} hand(s)", body["hands"].as_u64().unwrap_or(0));
                eprint!("{}", load_errors(&body["errors"]));
            }
            if failed > 0 {
                return Err(anyhow::anyhow!(
                    "{failed} hand file(s) did not load; fix: correct them, then `agentos hand reload`"
                ));
            }
        }
        HandCommand::Run { name, message, realm, session, json } => {
            let body = trigger_body([("message", message), ("realm", realm), ("session_id", session)]);
            let raw = block_on(client.post(&format!("/v1/hands/{}/trigger", segment(&name)), &body))?;
            if json {
                return print_json(&raw);
            }
            let answer: ChatAnswer = serde_json::from_value(raw).map_err(|e| {
                anyhow::anyhow!(
                    "the hand's answer is not the /v1/chat answer this CLI reads ({e}); fix: use the same agentos version for the CLI and the stack, or pass --json"
                )
            })?;
            print!("{}", Renderer::new(Theme::for_stdout()).answer(&answer));
        }
    }
    Ok(())
}

/// The `POST /v1/hands/:name/trigger` body: the options given.
fn trigger_body(options: [(&str, Option<String>); 3]) -> Value {
    let body: Map<String, Value> =
        options.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), Value::String(v)))).collect();
    Value::Object(body)
}

/// The `hand list` table.
fn list_table(body: &Value) -> String {
    let rows: Vec<Vec<String>> = body["hands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            vec![
                text(h, "name"),
                text(h, "model"),
                text(h, "tier"),
                text(&h["schedule"], "cron"),
                h["allowed_functions"].as_array().map_or(0, Vec::len).to_string(),
                last_run(&h["last_run"]),
                text(h, "description"),
            ]
        })
        .collect();
    table(&["NAME", "MODEL", "TIER", "SCHEDULE", "FUNCTIONS", "LAST RUN", "DESCRIPTION"], &rows)
}

/// A hand's last run (`{trigger, started_ms, ok, ...}`) as `2025-01-31 14:05 UTC cron ok`;
/// empty when it never ran.
fn last_run(run: &Value) -> String {
    if !run.is_object() {
        return String::new();
    }
    let outcome = if run["ok"] == true { "ok" } else { "failed" };
    format!("{} {} {outcome}", time_ms(&run["started_ms"]), text(run, "trigger"))
}

/// The lines naming each hand file that did not load, and what to do; empty when none failed.
fn load_errors(errors: &Value) -> String {
    let errors = errors.as_array().map(Vec::as_slice).unwrap_or_default();
    if errors.is_empty() {
        return String::new();
    }
    let mut out: String = errors.iter().map(|e| format!("✗ {}: {}\n", text(e, "path"), text(e, "message"))).collect();
    out.push_str("fix the file(s) above, then `agentos hand reload`\n");
    out
}

/// The `hand get` fields, then the system prompt.
fn details(hand: &Value) -> String {
    let functions: Vec<&str> =
        hand["allowed_functions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let run = &hand["last_run"];
    let last_run = match run["error"].is_object() {
        true => format!("{} ({}: {})", last_run(run), text(&run["error"], "code"), text(&run["error"], "message")),
        false => last_run(run),
    };
    let mut out = fields(&[
        ("name", text(hand, "name")),
        ("description", text(hand, "description")),
        ("source", text(hand, "source")),
        ("model", text(hand, "model")),
        ("tier", text(hand, "tier")),
        ("max steps", text(hand, "max_steps")),
        ("functions", functions.join(", ")),
        ("schedule", text(&hand["schedule"], "cron")),
        ("schedule realm", text(&hand["schedule"], "realm")),
        ("schedule prompt", text(&hand["schedule"], "prompt")),
        ("last run", last_run),
    ]);
    let prompt = text(hand, "system_prompt");
    if !prompt.is_empty() {
        out.push_str(&format!("\nsystem prompt:\n{}\n", prompt.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn coder() -> Value {
        json!({
            "name": "coder", "description": "Edits code.", "model": "anthropic/claude", "tier": "smart",
            "allowed_functions": ["code::read_file", "code::write_file"],
            "schedule": {"cron": "0 0 9 * * *", "prompt": "Summarise yesterday."},
            "source": "builtin", "system_prompt": "You write code.\n", "max_steps": 12,
            "last_run": {"hand": "coder", "trigger": "cron", "started_ms": 1_738_332_300_000_i64,
                         "finished_ms": 1_738_332_360_000_i64, "ok": false,
                         "error": {"code": "NO_PROVIDER", "message": "no LLM provider"}}
        })
    }

    #[test]
    fn the_list_shows_each_hands_schedule_and_function_count() {
        let body = json!({"hands": [coder(), {"name": "idle", "description": "", "allowed_functions": [], "source": "x"}], "errors": []});
        assert_eq!(
            list_table(&body),
            "NAME   MODEL             TIER   SCHEDULE     FUNCTIONS  LAST RUN                          DESCRIPTION\n\
             coder  anthropic/claude  smart  0 0 9 * * *  2          2025-01-31 14:05 UTC cron failed  Edits code.\n\
             idle   -                 -      -            0          -                                 -\n"
        );
    }

    #[test]
    fn the_details_end_with_the_system_prompt() {
        assert_eq!(
            details(&coder()),
            "name             coder\n\
             description      Edits code.\n\
             source           builtin\n\
             model            anthropic/claude\n\
             tier             smart\n\
             max steps        12\n\
             functions        code::read_file, code::write_file\n\
             schedule         0 0 9 * * *\n\
             schedule prompt  Summarise yesterday.\n\
             last run         2025-01-31 14:05 UTC cron failed (NO_PROVIDER: no LLM provider)\n\
             \n\
             system prompt:\n\
             You write code.\n"
        );
    }

    #[test]
    fn files_that_did_not_load_are_named_with_the_fix() {
        assert_eq!(load_errors(&json!([])), "");
        assert_eq!(
            load_errors(&json!([{"path": "hands/x/HAND.toml", "message": "missing name"}])),
            "✗ hands/x/HAND.toml: missing name\nfix the file(s) above, then `agentos hand reload`\n"
        );
    }

    #[test]
    fn a_trigger_sends_only_what_was_given() {
        assert_eq!(trigger_body([("message", None), ("realm", None), ("session_id", None)]), json!({}));
        assert_eq!(
            trigger_body([("message", Some("go".into())), ("realm", None), ("session_id", Some("s".into()))]),
            json!({"message": "go", "session_id": "s"})
        );
    }
}
