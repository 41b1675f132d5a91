//! `agentos memory add|search|forget` over `/v1/memory`: `POST /v1/memory` → 201
//! `{memory, merged}` (200 when merged into an existing memory), `GET /v1/memory/search?q=…` →
//! `{memories, semantic, note?}`, `DELETE /v1/memory/:id` → `{forgotten}`.
//!
//! Rules it keeps:
//! - Only the options given are sent; the server fills in the realm and the rest.
//! - The search table shows score, id, tags and the start of the text on one line each; when
//!   recall ran without embeddings, the server's note is printed under it.

use agentos_supervisor::Home;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::client::{Client, segment};
use crate::status::block_on;
use crate::table::{table, text};

/// The routes `agentos memory` calls (for `doctor`).
pub const ROUTES: &[(&str, &str)] =
    &[("POST", "/v1/memory"), ("GET", "/v1/memory/search"), ("GET", "/v1/memory/:id"), ("DELETE", "/v1/memory/:id")];

/// How many characters of a memory's text the search table shows.
const PREVIEW: usize = 72;

/// `agentos memory …`.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Remember a text (a near-duplicate merges into the existing memory).
    Add {
        /// What to remember.
        text: String,
        /// Its realm (default: `default`).
        #[arg(long)]
        realm: Option<String>,
        /// The agent it belongs to (default: every agent of the realm).
        #[arg(long)]
        agent: Option<String>,
        /// Tags, comma-separated.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// How much it matters, 0 to 1 (default 0.5).
        #[arg(long)]
        importance: Option<f64>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Find memories (keywords and meaning, recency and importance).
    Search {
        /// What to look for.
        query: String,
        /// How many to show (1 to 50).
        #[arg(short, long)]
        k: Option<usize>,
        /// The realm to search (default: `default`).
        #[arg(long)]
        realm: Option<String>,
        /// Only this agent's memories and the realm-wide ones.
        #[arg(long)]
        agent: Option<String>,
        /// Only memories with all of these tags, comma-separated.
        #[arg(long)]
        tags: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Delete a memory.
    Forget {
        /// The memory's id.
        id: String,
        /// Its realm (default: `default`).
        #[arg(long)]
        realm: Option<String>,
    },
}

/// Runs `agentos memory …`.
pub fn run(command: MemoryCommand) -> anyhow::Result<()> {
    let client = Client::discover(&Home::discover()?)?;
    match command {
        MemoryCommand::Add { text, realm, agent, tags, importance, json } => {
            let body = add_body(text, realm, agent, tags, importance);
            let answer = block_on(client.post("/v1/memory", &body))?;
            if json {
                return print_json(&answer);
            }
            println!("{}", added_line(&answer));
        }
        MemoryCommand::Search { query, k, realm, agent, tags, json } => {
            let k = k.map(|k| k.to_string());
            let params = [
                ("q", Some(query.as_str())),
                ("k", k.as_deref()),
                ("realm", realm.as_deref()),
                ("agent", agent.as_deref()),
                ("tags", tags.as_deref()),
            ];
            let answer = block_on(client.get_query("/v1/memory/search", &params))?;
            if json {
                return print_json(&answer);
            }
            print!("{}", search_table(&answer));
        }
        MemoryCommand::Forget { id, realm } => {
            let path = match realm {
                Some(realm) => format!("/v1/memory/{}?realm={}", segment(&id), segment(&realm)),
                None => format!("/v1/memory/{}", segment(&id)),
            };
            let answer = block_on(client.delete(&path))?;
            println!("forgot memory {}", text(&answer, "forgotten"));
        }
    }
    Ok(())
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The `POST /v1/memory` body: the text and the options given.
fn add_body(
    text: String,
    realm: Option<String>,
    agent: Option<String>,
    tags: Vec<String>,
    importance: Option<f64>,
) -> Value {
    let mut body = Map::new();
    body.insert("text".into(), Value::String(text));
    for (key, value) in [("realm", realm), ("agent", agent)] {
        if let Some(value) = value {
            body.insert(key.into(), Value::String(value));
        }
    }
    let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    if !tags.is_empty() {
        body.insert("tags".into(), json!(tags));
    }
    if let Some(importance) = importance {
        body.insert("importance".into(), json!(importance));
    }
    Value::Object(body)
}

/// What `memory add` prints.
fn added_line(answer: &Value) -> String {
    let memory = &answer["memory"];
    let verb = if answer["merged"] == json!(true) { "merged into existing memory" } else { "stored memory" };
    let embedded =
        if memory["embedded"] == json!(true) { "" } else { " (not embedded yet: found by keywords until it is)" };
    format!("{verb} {} in realm {}{embedded}", text(memory, "id"), text(memory, "realm"))
}

/// The `memory search` table, and the server's note under it.
fn search_table(answer: &Value) -> String {
    let memories = answer["memories"].as_array().cloned().unwrap_or_default();
    if memories.is_empty() {
        let mut out = "no memories found\n".to_string();
        if let Some(note) = answer["note"].as_str() {
            out.push_str(&format!("note: {note}\n"));
        }
        return out;
    }
    let rows: Vec<Vec<String>> = memories
        .iter()
        .map(|m| {
            let tags = m["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            vec![format!("{:.3}", m["score"].as_f64().unwrap_or(0.0)), text(m, "id"), tags, preview(&text(m, "text"))]
        })
        .collect();
    let mut out = table(&["SCORE", "ID", "TAGS", "TEXT"], &rows);
    if let Some(note) = answer["note"].as_str() {
        out.push_str(&format!("note: {note}\n"));
    }
    out
}

/// The first [`PREVIEW`] characters of `text` on one line, with `…` when cut.
fn preview(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(PREVIEW) {
        Some((end, _)) => format!("{}…", &one_line[..end]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_add_body_has_only_what_was_given() {
        assert_eq!(add_body("hi".into(), None, None, vec![], None), json!({"text": "hi"}));
        assert_eq!(
            add_body("hi".into(), Some("r".into()), Some("a".into()), vec!["x".into(), " ".into()], Some(0.7)),
            json!({"text": "hi", "realm": "r", "agent": "a", "tags": ["x"], "importance": 0.7})
        );
    }

    #[test]
    fn the_search_table_shows_score_id_tags_and_a_preview_then_the_note() {
        let long = "word ".repeat(30);
        let answer = json!({"memories": [
            {"id": "mem-1", "text": "The user\nprefers tabs", "score": 0.91234, "tags": ["style", "editor"]},
            {"id": "mem-2", "text": long, "score": 0.5, "tags": []}
        ], "semantic": false, "note": "embeddings unavailable"});
        let expected_preview = format!("{}…", &"word ".repeat(30).trim_end()[..PREVIEW]);
        assert_eq!(
            search_table(&answer),
            format!(
                "SCORE  ID     TAGS          TEXT\n0.912  mem-1  style,editor  The user prefers tabs\n0.500  mem-2  -             {expected_preview}\nnote: embeddings unavailable\n"
            )
        );
        assert_eq!(search_table(&json!({"memories": []})), "no memories found\n");
    }

    #[test]
    fn the_add_line_says_whether_it_merged_and_whether_it_is_embedded() {
        let stored = json!({"merged": false, "memory": {"id": "mem-1", "realm": "default", "embedded": true}});
        assert_eq!(added_line(&stored), "stored memory mem-1 in realm default");
        let merged = json!({"merged": true, "memory": {"id": "mem-1", "realm": "team", "embedded": false}});
        assert_eq!(
            added_line(&merged),
            "merged into existing memory mem-1 in realm team (not embedded yet: found by keywords until it is)"
        );
    }
}
