//! `agentos replay SESSION [--realm R] [--json]`: a recorded session, step by step, over
//! `GET /v1/sessions/:id` (the session, by id or name), `GET /v1/sessions/:id/events`
//! (its steps, paged by `from_seq`) and `GET /v1/sessions/:id/summary` (its totals).
//!
//! Rules it keeps:
//! - SESSION is an id or a name; session-lifecycle resolves it, so a name works in any realm
//!   `--realm` names (`default` otherwise).
//! - Every step is fetched, a page of [`PAGE`] at a time, before anything is printed.
//! - What it looks like is [`render`]'s job; colour follows the terminal and `NO_COLOR`.
//!   `--json` prints `{session, events, summary}` as the server sent them.
//! - On a terminal, without `--json` or `--print`, the dashboard opens on its replay pane
//!   instead: on the session (resolved first, so a bad name fails here, with the server's
//!   message), or on the session list when none is given. Off a terminal a session is needed.

pub mod render;

use agentos_protocol::replay::{Event, EventPage, Summary};
use agentos_protocol::session::Session;
use agentos_tui::{AppOptions, PaneId};
use anyhow::anyhow;
use serde_json::{Value, json};

use crate::client::{Client, read, segment};
use crate::sessions::{connect, print_json, resolve};
use crate::status::block_on;
use crate::theme::Theme;

/// The routes `agentos replay` calls (for `doctor`), besides `GET /v1/sessions/:id`.
pub const ROUTES: &[(&str, &str)] =
    &[("GET", "/v1/sessions/:id/events"), ("GET", "/v1/sessions/:id/summary"), ("GET", "/v1/replay/search")];

/// How many steps one request asks for: the server's default page.
const PAGE: u64 = 1000;

/// `agentos replay`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The session's id or name (on a terminal, without it: the dashboard's session list).
    pub session: Option<String>,
    /// The realm of the session's name.
    #[arg(long)]
    pub realm: Option<String>,
    /// Print `{session, events, summary}` as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the replay as text even on a terminal (instead of opening the dashboard).
    #[arg(long)]
    pub print: bool,
}

/// Runs `agentos replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if !args.json && !args.print && crate::tui::on_terminal() {
        return dashboard(args.session.as_deref(), args.realm.as_deref());
    }
    let Some(key) = args.session else {
        return Err(anyhow!(
            "name the session to replay (its id or name; `agentos sessions` lists them), e.g. `agentos replay SESSION --print`"
        ));
    };
    let client = connect()?;
    let (session, events, summary) = block_on(fetch(&client, &key, args.realm.as_deref()))?;
    if args.json {
        return print_json(&json!({"session": session, "events": events, "summary": summary}));
    }
    let (session, summary): (Session, Summary) =
        (read("GET /v1/sessions/:id", session)?, read("GET /v1/sessions/:id/summary", summary)?);
    print!("{}", render::replay(&session, &events, &summary, Theme::for_stdout()));
    Ok(())
}

/// Opens the dashboard's replay pane on the session `key` names (its id, resolved here), or on
/// the session list.
fn dashboard(key: Option<&str>, realm: Option<&str>) -> anyhow::Result<()> {
    let session = match key {
        Some(key) => {
            let found: Session = read("GET /v1/sessions/:id", block_on(resolve(&connect()?, key, realm))?)?;
            Some(found.id)
        }
        None => None,
    };
    crate::tui::open(AppOptions { session, ..crate::tui::options(PaneId::Replay) })
}

/// The session `key` names, all its steps and its totals; the session and the totals as the
/// server sent them.
async fn fetch(client: &Client, key: &str, realm: Option<&str>) -> anyhow::Result<(Value, Vec<Event>, Value)> {
    let session = resolve(client, key, realm).await?;
    let found: Session = read("GET /v1/sessions/:id", session.clone())?;
    let id = segment(&found.id);
    let mut events: Vec<Event> = Vec::new();
    let mut from = 0;
    loop {
        let (from_text, limit) = (from.to_string(), PAGE.to_string());
        let query = [("from_seq", Some(from_text.as_str())), ("limit", Some(limit.as_str()))];
        let page: EventPage =
            read("GET /v1/sessions/:id/events", client.get_query(&format!("/v1/sessions/{id}/events"), &query).await?)?;
        let last = page.events.last().map(|e| e.seq);
        let full = page.events.len() as u64 == PAGE;
        events.extend(page.events);
        match last {
            Some(seq) if full && seq < u64::MAX => from = seq + 1,
            _ => break,
        }
    }
    let summary = client.get(&format!("/v1/sessions/{id}/summary")).await?;
    Ok((session, events, summary))
}
