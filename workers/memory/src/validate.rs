//! Checks of request fields, each returning the cleaned value or an `INVALID_INPUT` error that
//! names the field, the rule and the fix.

use crate::error::MemoryError;
use crate::{DEFAULT_REALM, K_DEFAULT, K_MAX, TAGS_MAX, TEXT_MAX};

/// The longest agent id and tag, in characters.
const NAME_MAX: usize = 64;

/// The realm asked for, `default` when none; its id must be a realm slug.
pub fn realm(realm: Option<&str>) -> Result<String, MemoryError> {
    let realm = realm.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REALM);
    agentos_worker_realm::validate_id(realm).map_err(|e| MemoryError::Invalid(e.to_string()))?;
    Ok(realm.to_string())
}

/// The text of a memory or a query: trimmed, not empty, at most [`TEXT_MAX`] characters.
pub fn text(field: &str, text: &str) -> Result<String, MemoryError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(MemoryError::Invalid(format!("{field} is empty: send the text to {}", verb(field))));
    }
    let chars = text.chars().count();
    if chars > TEXT_MAX {
        return Err(MemoryError::Invalid(format!(
            "{field} has {chars} characters, more than {TEXT_MAX}: split it into several memories or shorten it"
        )));
    }
    Ok(text.to_string())
}

fn verb(field: &str) -> &'static str {
    if field == "query" { "search for" } else { "remember" }
}

/// An agent id: 1 to 64 of `[A-Za-z0-9._:-]`; empty means none.
pub fn agent(agent: Option<&str>) -> Result<Option<String>, MemoryError> {
    let Some(agent) = agent.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(None) };
    if agent.chars().count() > NAME_MAX || !agent.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) {
        return Err(MemoryError::Invalid(format!(
            "agent {agent:?} is not an agent id: use 1 to {NAME_MAX} letters, digits, '.', '_', ':' or '-'"
        )));
    }
    Ok(Some(agent.to_string()))
}

/// Tags: each trimmed and lower-cased, 1 to 64 of `[a-z0-9._:/-]`; sorted, without repeats,
/// at most [`TAGS_MAX`].
pub fn tags(tags: Option<&[String]>) -> Result<Vec<String>, MemoryError> {
    let mut out = Vec::new();
    for tag in tags.unwrap_or_default() {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty()
            || tag.chars().count() > NAME_MAX
            || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._:/-".contains(c))
        {
            return Err(MemoryError::Invalid(format!(
                "tag {tag:?} is not a tag: use 1 to {NAME_MAX} letters, digits, '.', '_', ':', '/' or '-' (no spaces or commas)"
            )));
        }
        out.push(tag);
    }
    out.sort_unstable();
    out.dedup();
    if out.len() > TAGS_MAX {
        return Err(MemoryError::Invalid(format!(
            "{} tags is more than {TAGS_MAX}: keep the ones you will filter by",
            out.len()
        )));
    }
    Ok(out)
}

/// A number from 0 to 1 (`field` names it in the error).
pub fn unit(field: &str, value: f64) -> Result<f64, MemoryError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(MemoryError::Invalid(format!("{field} is {value}: use a number from 0 to 1")));
    }
    Ok(value)
}

/// How many memories to return: [`K_DEFAULT`] when left out, 1 to [`K_MAX`].
pub fn k(k: Option<usize>) -> Result<usize, MemoryError> {
    match k {
        None => Ok(K_DEFAULT),
        Some(k) if (1..=K_MAX).contains(&k) => Ok(k),
        Some(k) => Err(MemoryError::Invalid(format!("k is {k}: ask for 1 to {K_MAX} memories"))),
    }
}

/// A memory id: what `memory::store` makes (`mem-` and hex digits) or any other id of 1 to 128
/// of `[A-Za-z0-9._:-]` (imported memories keep theirs).
pub fn id(id: &str) -> Result<String, MemoryError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)) {
        return Err(MemoryError::Invalid(format!(
            "{id:?} is not a memory id: ids look like mem-0123456789abcdef (see `agentos memory search`)"
        )));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn message(e: MemoryError) -> String {
        e.to_string()
    }

    #[test]
    fn the_realm_defaults_and_must_be_a_slug() {
        assert_eq!(realm(None).unwrap(), "default");
        assert_eq!(realm(Some(" ")).unwrap(), "default");
        assert_eq!(realm(Some("team-a")).unwrap(), "team-a");
        assert!(realm(Some("Team A")).is_err());
    }

    #[test]
    fn text_is_trimmed_and_must_not_be_empty_or_huge() {
        assert_eq!(text("text", "  hi \n").unwrap(), "hi");
        assert_eq!(message(text("text", " ").unwrap_err()), "text is empty: send the text to remember");
        assert_eq!(message(text("query", "").unwrap_err()), "query is empty: send the text to search for");
        assert!(message(text("text", &"x".repeat(TEXT_MAX + 1)).unwrap_err()).contains("split it"));
    }

    #[test]
    fn tags_are_lower_cased_sorted_and_deduplicated() {
        let given = vec!["Style".to_string(), " editor ".into(), "style".into()];
        assert_eq!(tags(Some(&given)).unwrap(), vec!["editor", "style"]);
        assert_eq!(tags(None).unwrap(), Vec::<String>::new());
        assert!(message(tags(Some(&["a b".to_string()])).unwrap_err()).contains("no spaces or commas"));
        let many: Vec<String> = (0..=TAGS_MAX).map(|i| format!("t{i}")).collect();
        assert!(tags(Some(&many)).is_err());
    }

    #[test]
    fn agents_ids_and_numbers_are_checked() {
        assert_eq!(agent(Some("coder-1")).unwrap(), Some("coder-1".to_string()));
        assert_eq!(agent(Some("")).unwrap(), None);
        assert!(agent(Some("a b")).is_err());
        assert_eq!(id(" mem-00ff ").unwrap(), "mem-00ff");
        assert!(id("../etc").is_err());
        assert_eq!(unit("importance", 1.0).unwrap(), 1.0);
        assert_eq!(message(unit("importance", 1.5).unwrap_err()), "importance is 1.5: use a number from 0 to 1");
        assert!(unit("importance", f64::NAN).is_err());
        assert_eq!(k(None).unwrap(), 5);
        assert_eq!(message(k(Some(0)).unwrap_err()), "k is 0: ask for 1 to 50 memories");
        assert!(k(Some(51)).is_err());
    }
}
