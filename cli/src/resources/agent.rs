//! `agentos agent list|get|create|delete` over `/v1/agents`: `GET /v1/agents[?realm=]` →
//! `{agents}`, `POST /v1/agents` → 201 Agent, `GET /v1/agents/:id` → Agent,
//! `DELETE /v1/agents/:id` → `{deleted}`.
//!
//! Rules it keeps:
//! - Only the options given are sent; the server fills in the realm and the rest.

use clap::Subcommand;
use serde_json::{Map, Value};

use super::{connect, print_json};
use crate::client::segment;
use crate::status::block_on;
use crate::table::{fields, table, text, time_ms};

/// The routes `agentos agent` calls (for `doctor`).
pub const ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/agents"), ("POST", "/v1/agents"), ("GET", "/v1/agents/:id"), ("DELETE", "/v1/agents/:id")];

/// `agentos agent …`.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Every agent (of one realm with --realm).
    List {
        /// Only this realm's agents.
        #[arg(long)]
        realm: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One agent.
    Get {
        /// The agent's id.
        id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Create an agent.
    Create {
        /// Its name.
        name: String,
        /// The hand (persona) it runs as.
        #[arg(long)]
        hand: Option<String>,
        /// The model it uses.
        #[arg(long)]
        model: Option<String>,
        /// Its realm (default: `default`).
        #[arg(long)]
        realm: Option<String>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Delete an agent.
    Delete {
        /// The agent's id.
        id: String,
    },
}

/// Runs `agentos agent …`.
pub fn run(command: AgentCommand) -> anyhow::Result<()> {
    let client = connect()?;
    match command {
        AgentCommand::List { realm, json } => {
            let body = block_on(client.get_query("/v1/agents", &[("realm", realm.as_deref())]))?;
            if json {
                return print_json(&body);
            }
            print!("{}", list_table(&body));
        }
        AgentCommand::Get { id, json } => {
            let agent = block_on(client.get(&format!("/v1/agents/{}", segment(&id))))?;
            if json {
                return print_json(&agent);
            }
            print!("{}", details(&agent));
        }
        AgentCommand::Create { name, hand, model, realm, description, json } => {
            let body =
                create_body(name, [("hand", hand), ("model", model), ("realm", realm), ("description", description)]);
            let agent = block_on(client.post("/v1/agents", &body))?;
            if json {
                return print_json(&agent);
            }
            println!(
                "created agent {} ({}) in realm {}",
                text(&agent, "id"),
                text(&agent, "name"),
                text(&agent, "realm")
            );
        }
        AgentCommand::Delete { id } => {
            let deleted = block_on(client.delete(&format!("/v1/agents/{}", segment(&id))))?;
            println!("deleted agent {}", text(&deleted, "deleted"));
        }
    }
    Ok(())
}

/// The `POST /v1/agents` body: the name and the options given.
fn create_body(name: String, options: [(&str, Option<String>); 4]) -> Value {
    let mut body = Map::new();
    body.insert("name".to_string(), Value::String(name));
    for (key, value) in options {
        if let Some(value) = value {
            body.insert(key.to_string(), Value::String(value));
        }
    }
    Value::Object(body)
}

/// The `agent list` table.
fn list_table(body: &Value) -> String {
    let rows: Vec<Vec<String>> = body["agents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                text(a, "id"),
                text(a, "name"),
                text(a, "realm"),
                text(a, "hand"),
                text(a, "model"),
                text(a, "description"),
            ]
        })
        .collect();
    table(&["ID", "NAME", "REALM", "HAND", "MODEL", "DESCRIPTION"], &rows)
}

/// The `agent get` fields.
fn details(agent: &Value) -> String {
    fields(&[
        ("id", text(agent, "id")),
        ("name", text(agent, "name")),
        ("realm", text(agent, "realm")),
        ("hand", text(agent, "hand")),
        ("model", text(agent, "model")),
        ("description", text(agent, "description")),
        ("created", time_ms(&agent["created_at_ms"])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn create_sends_only_the_options_given() {
        assert_eq!(
            create_body(
                "ops".into(),
                [("hand", Some("coder".into())), ("model", None), ("realm", None), ("description", Some("d".into()))]
            ),
            json!({"name": "ops", "hand": "coder", "description": "d"})
        );
    }

    #[test]
    fn the_list_and_the_details_show_every_field_of_an_agent() {
        let agent = json!({"id": "ag-1", "name": "ops", "realm": "default", "hand": "coder", "created_at_ms": 1_738_332_300_000_i64});
        assert_eq!(
            list_table(&json!({"agents": [agent]})),
            "ID    NAME  REALM    HAND   MODEL  DESCRIPTION\nag-1  ops   default  coder  -      -\n"
        );
        assert_eq!(
            details(&agent),
            "id       ag-1\nname     ops\nrealm    default\nhand     coder\ncreated  2025-01-31 14:05 UTC\n"
        );
    }
}
