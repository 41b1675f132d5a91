//! Every fixture file is JSON lines: one payload per line, as a producer wrote it (captured from
//! the producers' own tests, keys sorted as `serde_json` writes a `Value`). Each test reads a
//! line into its type and writes it back: the JSON must be the same value, so a renamed or
//! retyped field fails here before it fails at run time.

mod approval;
mod chat;
mod error;
mod replay;
mod session;
mod status;
mod trace;

use std::path::PathBuf;

use pretty_assertions::assert_eq;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The lines of fixture `name` (`chat/events.jsonl`), parsed.
pub fn fixture(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1)))
        .collect()
}

/// Reads `value` as a `T` and writes it back; the JSON must not change. Returns the `T`.
pub fn round_trip<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{what}: {e}: {value}"));
    let back = serde_json::to_value(&typed).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(&back, value, "{what} changed on the way through its type");
    typed
}
