//! Aligned plain-text output for the resource commands: tables with a header row (like
//! `agentos status`) and `field  value` lists for one record.
//!
//! Rules it keeps:
//! - Columns are as wide as their widest cell, counted in characters; the last column is not
//!   padded, so lines carry no trailing spaces.
//! - An empty cell is shown as `-`, so columns never collapse.
//! - Times are shown in UTC (`2025-01-31 14:05 UTC`), the same for every user of a shared stack.

use serde_json::Value;

/// `headers` and `rows` as aligned lines, two spaces between columns, ending in a newline.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| if s.is_empty() { "-".to_string() } else { s.to_string() };
    let all: Vec<Vec<String>> = std::iter::once(headers.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| r.iter().map(|c| cell(c)).collect()))
        .collect();
    let mut widths = vec![0; headers.len()];
    for row in &all {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for row in &all {
        let last = row.len().min(widths.len()).saturating_sub(1);
        for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push('\n');
    }
    out
}

/// One record as `field  value` lines, the names aligned; fields with an empty value are left
/// out.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let shown: Vec<_> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    let width = shown.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    shown.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

/// A string field of a JSON record, or empty.
pub fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Unix milliseconds as `2025-01-31 14:05 UTC`; empty when missing or out of range.
pub fn time_ms(v: &Value) -> String {
    v.as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Unix milliseconds as `2025-01-31 14:05 UTC`; empty when out of range.
pub fn utc_minute(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_lines_have_no_trailing_spaces() {
        let rows = vec![
            vec!["default".to_string(), "Default".to_string(), String::new()],
            vec!["x".to_string(), "Ünïcode name".to_string(), "for tests".to_string()],
        ];
        assert_eq!(
            table(&["ID", "NAME", "DESCRIPTION"], &rows),
            "ID       NAME          DESCRIPTION\n\
             default  Default       -\n\
             x        Ünïcode name  for tests\n"
        );
    }

    #[test]
    fn fields_align_their_names_and_skip_empty_values() {
        assert_eq!(
            fields(&[("id", "a".into()), ("description", String::new()), ("created", "now".into())]),
            "id       a\ncreated  now\n"
        );
    }

    #[test]
    fn values_become_text_and_times_utc() {
        let v = json!({"s": "x", "n": 3, "ms": 1_738_332_300_000_i64});
        assert_eq!(text(&v, "s"), "x");
        assert_eq!(text(&v, "n"), "3");
        assert_eq!(text(&v, "missing"), "");
        assert_eq!(time_ms(&v["ms"]), "2025-01-31 14:05 UTC");
        assert_eq!(time_ms(&v["missing"]), "");
    }
}
