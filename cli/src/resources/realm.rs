//! `agentos realm list|get|create|delete|export|import` over `/v1/realms` (the realm worker's
//! routes: `GET/POST /v1/realms`, `GET/DELETE /v1/realms/:id`, `GET /v1/realms/:id/export`,
//! `POST /v1/realms/import`).
//!
//! Rules it keeps:
//! - A realm's id is a slug; `create NAME` derives it from the name ([`slug`]) unless `--id`
//!   gives one, and sends the name as the realm's name.
//! - `export` writes the document the server sent; `import` sends a file's document back
//!   unchanged except for `--id` and `--overwrite`, so an export always imports.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Subcommand;
use serde_json::{Value, json};

use super::{connect, print_json};
use crate::client::segment;
use crate::status::block_on;
use crate::table::{fields, table, text, time_ms};

/// The routes `agentos realm` calls (for `doctor`).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/realms"),
    ("POST", "/v1/realms"),
    ("GET", "/v1/realms/:id"),
    ("DELETE", "/v1/realms/:id"),
    ("GET", "/v1/realms/:id/export"),
    ("POST", "/v1/realms/import"),
];

/// The longest realm id the realm worker accepts.
const ID_MAX: usize = 63;

/// `agentos realm …`.
#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Every realm.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One realm.
    Get {
        /// The realm's id.
        id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Create a realm.
    Create {
        /// Its name; the id is made from it unless --id is given.
        name: String,
        /// Its id (a-z, 0-9 and -).
        #[arg(long)]
        id: Option<String>,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Delete a realm and everything stored in it.
    Delete {
        /// The realm's id.
        id: String,
    },
    /// Write a realm and everything stored in it as JSON.
    Export {
        /// The realm's id.
        id: String,
        /// The file to write (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Restore a realm from an export (`-` reads stdin).
    Import {
        /// The export file.
        file: PathBuf,
        /// Import under this id instead of the exported one.
        #[arg(long)]
        id: Option<String>,
        /// Replace a realm that already exists, with everything stored in it.
        #[arg(long)]
        overwrite: bool,
    },
}

/// Runs `agentos realm …`.
pub fn run(command: RealmCommand) -> anyhow::Result<()> {
    let client = connect()?;
    match command {
        RealmCommand::List { json } => {
            let body = block_on(client.get("/v1/realms"))?;
            if json {
                return print_json(&body);
            }
            print!("{}", list_table(&body));
        }
        RealmCommand::Get { id, json } => {
            let realm = block_on(client.get(&format!("/v1/realms/{}", segment(&id))))?;
            if json {
                return print_json(&realm);
            }
            print!("{}", details(&realm));
        }
        RealmCommand::Create { name, id, description, json } => {
            let id = match id {
                Some(id) => id,
                None => slug(&name).ok_or_else(|| {
                    anyhow!("cannot make a realm id from {name:?}; fix: pass one with --id (a-z, 0-9 and -)")
                })?,
            };
            let body = json!({ "id": id, "name": name, "description": description.unwrap_or_default() });
            let realm = block_on(client.post("/v1/realms", &body))?;
            if json {
                return print_json(&realm);
            }
            println!("created realm {} ({})", text(&realm, "id"), text(&realm, "name"));
        }
        RealmCommand::Delete { id } => {
            let deleted = block_on(client.delete(&format!("/v1/realms/{}", segment(&id))))?;
            println!("deleted realm {} ({})", text(&deleted, "id"), counts(&deleted["items"], &deleted["scopes"]));
        }
        RealmCommand::Export { id, output } => {
            let doc = block_on(client.get(&format!("/v1/realms/{}/export", segment(&id))))?;
            let pretty = serde_json::to_string_pretty(&doc)?;
            match output {
                None => println!("{pretty}"),
                Some(path) => {
                    std::fs::write(&path, format!("{pretty}\n"))
                        .with_context(|| format!("writing {}; fix: check that its folder exists", path.display()))?;
                    let items: usize = doc["scopes"].as_object().map(|s| s.values().map(len).sum()).unwrap_or(0);
                    println!("exported realm {id} ({}) to {}", counts(&json!(items), &doc["scopes"]), path.display());
                }
            }
        }
        RealmCommand::Import { file, id, overwrite } => {
            let doc = import_document(read_document(&file)?, &file, id, overwrite)?;
            let imported = block_on(client.post("/v1/realms/import", &doc))?;
            let verb = if imported["replaced"] == true { "replaced" } else { "imported" };
            println!(
                "{verb} realm {} ({})",
                text(&imported["realm"], "id"),
                counts(&imported["items"], &imported["scopes"])
            );
        }
    }
    Ok(())
}

/// The `realm list` table.
fn list_table(body: &Value) -> String {
    let rows: Vec<Vec<String>> = body["realms"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| vec![text(r, "id"), text(r, "name"), time_ms(&r["created_ms"]), text(r, "description")])
        .collect();
    table(&["ID", "NAME", "CREATED", "DESCRIPTION"], &rows)
}

/// The `realm get` fields.
fn details(realm: &Value) -> String {
    let settings = match realm["settings"].as_object() {
        Some(s) if !s.is_empty() => realm["settings"].to_string(),
        _ => String::new(),
    };
    fields(&[
        ("id", text(realm, "id")),
        ("name", text(realm, "name")),
        ("description", text(realm, "description")),
        ("created", time_ms(&realm["created_ms"])),
        ("updated", time_ms(&realm["updated_ms"])),
        ("settings", settings),
    ])
}

/// `3 values in 2 scopes`, from a count and either a count or a list of scopes.
fn counts(items: &Value, scopes: &Value) -> String {
    let items = items.as_u64().unwrap_or(0);
    let scopes = scopes.as_u64().unwrap_or_else(|| len(scopes) as u64);
    let plural = |n: u64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    format!("{} in {}", plural(items, "value", "values"), plural(scopes, "scope", "scopes"))
}

/// The length of a JSON array or object; 0 for anything else.
fn len(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => 0,
    }
}

/// A realm id made from a name: lowercase ASCII letters and digits, every other run of
/// characters one `-`, no `-` at either end, at most 63 characters. `None` when nothing is left.
pub fn slug(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(ID_MAX);
    let trimmed = out.trim_end_matches('-');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The JSON document in `file` (`-` for stdin).
fn read_document(file: &Path) -> anyhow::Result<Value> {
    let raw = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading the export from stdin")?;
        text
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("reading {}; fix: pass the file `agentos realm export` wrote", file.display()))?
    };
    serde_json::from_str(&raw).with_context(|| {
        format!(
            "{} is not JSON; fix: pass a file written by `agentos realm export ID -o FILE`",
            if file == Path::new("-") { "stdin".to_string() } else { file.display().to_string() }
        )
    })
}

/// The `POST /v1/realms/import` body: the export document with `id` and `overwrite` set when
/// given.
fn import_document(doc: Value, file: &Path, id: Option<String>, overwrite: bool) -> anyhow::Result<Value> {
    let Value::Object(mut doc) = doc else {
        return Err(anyhow!(
            "{} is not a realm export (a JSON object with `realm` and `scopes`); fix: make one with `agentos realm export ID -o FILE`",
            file.display()
        ));
    };
    if let Some(id) = id {
        doc.insert("id".to_string(), Value::String(id));
    }
    if overwrite {
        doc.insert("overwrite".to_string(), Value::Bool(true));
    }
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_realm_id_is_a_slug_of_the_name() {
        assert_eq!(slug("Team Alpha"), Some("team-alpha".into()));
        assert_eq!(slug("  --Ops & Infra (2025)!  "), Some("ops-infra-2025".into()));
        assert_eq!(slug("Ünïcode"), Some("n-code".into()));
        assert_eq!(slug("!!!"), None);
        assert_eq!(slug(&"a".repeat(100)).map(|s| s.len()), Some(ID_MAX));
    }

    #[test]
    fn the_list_shows_every_realm_with_its_creation_time() {
        let body = json!({"realms": [
            {"id": "default", "name": "Default", "description": "Everything else.", "created_ms": 1_738_332_300_000_i64, "updated_ms": 0, "settings": {}},
            {"id": "team-alpha", "name": "Team Alpha", "description": "", "created_ms": 1_738_332_300_000_i64, "updated_ms": 0, "settings": {}},
        ]});
        assert_eq!(
            list_table(&body),
            "ID          NAME        CREATED               DESCRIPTION\n\
             default     Default     2025-01-31 14:05 UTC  Everything else.\n\
             team-alpha  Team Alpha  2025-01-31 14:05 UTC  -\n"
        );
    }

    #[test]
    fn counts_read_from_a_delete_or_an_import_answer() {
        assert_eq!(counts(&json!(3), &json!(["memory", "sessions"])), "3 values in 2 scopes");
        assert_eq!(counts(&json!(1), &json!(1)), "1 value in 1 scope");
    }

    #[test]
    fn an_import_sends_the_export_back_with_only_id_and_overwrite_added() {
        let doc = json!({"realm": {"id": "a"}, "scopes": {}});
        assert_eq!(import_document(doc.clone(), Path::new("f.json"), None, false).unwrap(), doc);
        assert_eq!(
            import_document(doc, Path::new("f.json"), Some("b".into()), true).unwrap(),
            json!({"realm": {"id": "a"}, "scopes": {}, "id": "b", "overwrite": true})
        );
        let err = import_document(json!([1]), Path::new("f.json"), None, false).unwrap_err().to_string();
        assert!(err.contains("f.json is not a realm export") && err.contains("fix:"), "{err}");
    }
}
