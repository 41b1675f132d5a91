//! The resource commands, one module per resource: `agentos realm`, `agentos agent` and
//! `agentos hand`, each a thin client of its `/v1` routes.
//!
//! Rules they keep:
//! - Lists are aligned tables ([`crate::table`]); `--json` prints the server's answer as it came.
//! - Ids and names from the command line are percent-encoded into paths ([`crate::client::segment`]).
//! - Errors come from the server as `CODE: message` and are passed on with their fix.

pub mod agent;
pub mod hand;
pub mod realm;

use agentos_supervisor::Home;
use serde_json::Value;

use crate::client::Client;

/// The client of the running stack, or an error saying how to start one.
fn connect() -> anyhow::Result<Client> {
    Client::discover(&Home::discover()?)
}

/// Prints `value` as pretty JSON.
fn print_json(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
