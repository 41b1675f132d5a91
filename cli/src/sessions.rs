//! `agentos sessions [--realm R] [--state S] [--limit N] [--json]`, `agentos sessions rename ID
//! NAME` and `agentos sessions close ID`, over session-lifecycle's routes: `GET /v1/sessions`
//! → `{sessions, total}`, `PATCH /v1/sessions/:id` `{name}` → Session,
//! `POST /v1/sessions/:id/close` → Session.
//!
//! Rules it keeps:
//! - A session is named by its id or its name (`--realm` says the name's realm; `default`
//!   otherwise); the server resolves it ([`resolve`], also used by `replay` and `trace`).
//! - The list is a table, newest activity first as the server sends it; when `--limit` cut it,
//!   a last line says how many there are. `--json` prints the server's answer as it came.

use agentos_protocol::session::{Session, SessionList};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use agentos_supervisor::Home;

use crate::client::{Client, read, segment};
use crate::status::block_on;
use crate::table::{table, utc_minute};

/// The routes `agentos sessions` (and `replay`, `trace`) call, for `doctor`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/sessions"),
    ("GET", "/v1/sessions/:id"),
    ("PATCH", "/v1/sessions/:id"),
    ("POST", "/v1/sessions/:id/close"),
];

/// `agentos sessions …`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SessionsArgs {
    /// Rename or close a session; without a command, list sessions.
    #[command(subcommand)]
    pub command: Option<SessionsCommand>,
    /// Only this realm's sessions.
    #[arg(long)]
    pub realm: Option<String>,
    /// Only sessions in this state: active, waiting_approval, done or failed.
    #[arg(long)]
    pub state: Option<String>,
    /// At most this many (the server's default is 100).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `agentos sessions rename|close`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Give a session a name (unique in its realm).
    Rename {
        /// The session's id or current name.
        id: String,
        /// The new name.
        name: String,
        /// The realm of the current name.
        #[arg(long)]
        realm: Option<String>,
    },
    /// Mark a session done (the next chat turn in it opens it again).
    Close {
        /// The session's id or name.
        id: String,
        /// The realm of the name.
        #[arg(long)]
        realm: Option<String>,
    },
}

/// Runs `agentos sessions …`.
pub fn run(args: SessionsArgs) -> anyhow::Result<()> {
    let client = connect()?;
    match args.command {
        None => {
            let limit = args.limit.map(|n| n.to_string());
            let query =
                [("realm", args.realm.as_deref()), ("state", args.state.as_deref()), ("limit", limit.as_deref())];
            let body = block_on(client.get_query("/v1/sessions", &query))?;
            if args.json {
                return print_json(&body);
            }
            print!("{}", list_table(&read("GET /v1/sessions", body)?));
        }
        Some(SessionsCommand::Rename { id, name, realm }) => {
            let session: Session = block_on(async {
                let found: Session = read("GET /v1/sessions/:id", resolve(&client, &id, realm.as_deref()).await?)?;
                let path = format!("/v1/sessions/{}?realm={}", segment(&found.id), segment(&found.realm));
                read("PATCH /v1/sessions/:id", client.patch(&path, &json!({ "name": name })).await?)
            })?;
            println!("renamed session {} to {}", session.id, session.name.unwrap_or_default());
        }
        Some(SessionsCommand::Close { id, realm }) => {
            let session: Session = block_on(async {
                let found: Session = read("GET /v1/sessions/:id", resolve(&client, &id, realm.as_deref()).await?)?;
                let path = format!("/v1/sessions/{}/close?realm={}", segment(&found.id), segment(&found.realm));
                read("POST /v1/sessions/:id/close", client.post(&path, &Value::Null).await?)
            })?;
            println!("closed session {} ({})", session.id, session.state.as_str());
        }
    }
    Ok(())
}

/// The client of the running stack, or an error saying how to start one.
pub fn connect() -> anyhow::Result<Client> {
    Client::discover(&Home::discover()?)
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The session `key` names: `GET /v1/sessions/:key[?realm=]` (an id, else a name).
pub async fn resolve(client: &Client, key: &str, realm: Option<&str>) -> anyhow::Result<Value> {
    client.get_query(&format!("/v1/sessions/{}", segment(key)), &[("realm", realm)]).await
}

/// The `sessions` table, with a note when the list was cut.
pub fn list_table(list: &SessionList) -> String {
    let sessions = &list.sessions;
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.name.clone().unwrap_or_default(),
                s.realm.clone(),
                s.hand.clone(),
                s.state.as_str().to_string(),
                s.turns.to_string(),
                utc_minute(s.updated_ms),
            ]
        })
        .collect();
    let mut out = table(&["ID", "NAME", "REALM", "HAND", "STATE", "TURNS", "UPDATED"], &rows);
    if list.total > sessions.len() {
        out.push_str(&format!("({} of {} sessions; see more with --limit)\n", sessions.len(), list.total));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn session(id: &str, name: Option<&str>, state: &str) -> Value {
        let mut s = json!({"id": id, "realm": "default", "hand": "coder", "state": state, "turns": 3,
                           "created_ms": 1_738_332_300_000_i64, "updated_ms": 1_738_332_300_000_i64});
        if let Some(n) = name {
            s["name"] = json!(n);
        }
        s
    }

    #[test]
    fn the_list_shows_id_name_realm_hand_state_turns_and_update_time() {
        let body =
            json!({"sessions": [session("s-1", Some("bugfix"), "active"), session("s-22", None, "done")], "total": 2});
        assert_eq!(
            list_table(&serde_json::from_value(body).unwrap()),
            "ID    NAME    REALM    HAND   STATE   TURNS  UPDATED\n\
             s-1   bugfix  default  coder  active  3      2025-01-31 14:05 UTC\n\
             s-22  -       default  coder  done    3      2025-01-31 14:05 UTC\n"
        );
    }

    #[test]
    fn a_cut_list_says_how_many_there_are() {
        let body = json!({"sessions": [session("s-1", None, "done")], "total": 40});
        let list: SessionList = serde_json::from_value(body).unwrap();
        assert!(list_table(&list).ends_with("(1 of 40 sessions; see more with --limit)\n"), "{}", list_table(&list));
    }
}
