//! Text handling: the terms the keyword index sees, the normalised form duplicate detection
//! compares, and how the texts of merged memories are joined.
//!
//! Rules it keeps:
//! - Documents and queries go through the same [`terms`], so a query term matches exactly what
//!   indexing produced. Terms contain only lower-case letters, digits and `_`.
//! - An identifier (`ERR_QUOTA_7731`, `eu-west-1`, `src/main.rs`, `v1.2.3`) is indexed whole,
//!   with its joiners (`_ - . / :`) turned into `_`, and also part by part, so the exact
//!   identifier is a rare, decisive term and its parts still match on their own.
//! - Plain words are lower-cased, English stop words are dropped, and a light plural rule
//!   (`memories` → `memory`, `boxes` → `box`, `cats` → `cat`) folds the commonest inflection;
//!   anything subtler is the embeddings' job.
//! - [`normalised`] is what "identical text" means for duplicates: case, punctuation and
//!   runs of white space do not count.

/// Characters that join the parts of an identifier.
const JOINERS: &[char] = &['_', '-', '.', '/', ':'];

/// The longest term kept, in bytes: long enough for a commit hash or a UUID, short enough that
/// a pasted blob does not make one giant term.
const MAX_TERM_BYTES: usize = 96;

/// Common English words that carry no meaning for keyword search. They would match most
/// memories and only slow the search down (their BM25 weight is near zero anyway).
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "up", "us", "was",
    "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// The keyword terms of `text`, in order, duplicates kept (term frequency counts for BM25).
pub fn terms(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for chunk in lower.split(|c: char| !(c.is_alphanumeric() || JOINERS.contains(&c))) {
        let chunk = chunk.trim_matches(|c| JOINERS.contains(&c));
        if chunk.is_empty() {
            continue;
        }
        let parts: Vec<&str> = chunk.split(|c| JOINERS.contains(&c)).filter(|p| !p.is_empty()).collect();
        if parts.len() > 1 {
            out.push(clip(parts.join("_")));
            out.extend(parts.iter().filter_map(|p| word(p)));
        } else if let Some(w) = word(chunk) {
            out.push(w);
        }
    }
    out
}

/// One plain word as a term: `None` for a stop word, else lower-cased and folded.
fn word(w: &str) -> Option<String> {
    if STOP_WORDS.binary_search(&w).is_ok() {
        return None;
    }
    Some(clip(fold_plural(w)))
}

/// Cuts a term to [`MAX_TERM_BYTES`] at a character boundary.
fn clip(mut term: String) -> String {
    if term.len() > MAX_TERM_BYTES {
        let mut end = MAX_TERM_BYTES;
        while !term.is_char_boundary(end) {
            end -= 1;
        }
        term.truncate(end);
    }
    term
}

/// A light plural rule after Harman's "S" stemmer: `-ies` → `-y` (not `-eies`, `-aies`),
/// `-es` dropped after `sh`, `ch`, `x` and `ss`, else a final `-s` dropped unless it follows
/// `s`, `u` or `i` (`glass`, `status`, `analysis`). Words of three letters or fewer and words
/// with digits are left alone.
fn fold_plural(w: &str) -> String {
    if w.len() <= 3 || !w.chars().all(char::is_alphabetic) {
        return w.to_string();
    }
    if let Some(stem) = w.strip_suffix("ies")
        && !stem.ends_with(['e', 'a'])
    {
        return format!("{stem}y");
    }
    if let Some(stem) = w.strip_suffix("es")
        && (stem.ends_with("sh") || stem.ends_with("ch") || stem.ends_with('x') || stem.ends_with("ss"))
    {
        return stem.to_string();
    }
    if let Some(stem) = w.strip_suffix('s')
        && !stem.ends_with(['s', 'u', 'i'])
    {
        return stem.to_string();
    }
    w.to_string()
}

/// The text as duplicate detection compares it: lower-case words (letters and digits) joined
/// by single spaces, so case, punctuation and white space do not make two texts differ.
pub fn normalised(text: &str) -> String {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The texts of a merged cluster as one text: the first (the kept memory's) in full, then each
/// other text that adds something, each as a sentence. A text whose normalised form is already
/// contained in what was joined so far is left out. The result is cut to `max_chars`.
pub fn join_texts<'a>(texts: impl IntoIterator<Item = &'a str>, max_chars: usize) -> String {
    let mut joined = String::new();
    let mut seen = String::new();
    for text in texts {
        let text = text.trim();
        let norm = normalised(text);
        if text.is_empty() || (!norm.is_empty() && seen.contains(&norm)) {
            continue;
        }
        if !joined.is_empty() {
            if !joined.ends_with(['.', '!', '?']) {
                joined.push('.');
            }
            joined.push(' ');
        }
        joined.push_str(text);
        seen.push_str(&norm);
        seen.push('\n');
    }
    truncate_chars(&joined, max_chars)
}

/// `text` cut to at most `max` characters.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn t(text: &str) -> Vec<String> {
        terms(text)
    }

    #[test]
    fn the_stop_word_list_is_sorted_so_binary_search_finds_every_entry() {
        let mut sorted = STOP_WORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOP_WORDS);
    }

    #[test]
    fn words_are_lower_cased_folded_and_stop_words_dropped() {
        assert_eq!(t("The Cats slept on the warm MAT."), ["cat", "slept", "warm", "mat"]);
        assert_eq!(
            t("memories, boxes, wishes, glass, status, analysis, notes"),
            ["memory", "box", "wish", "glass", "status", "analysis", "note"]
        );
    }

    #[test]
    fn an_identifier_is_one_term_plus_its_parts() {
        assert_eq!(t("Deploy failed: ERR_QUOTA_7731!"), ["deploy", "failed", "err_quota_7731", "err", "quota", "7731"]);
        assert_eq!(t("region eu-west-1"), ["region", "eu_west_1", "eu", "west", "1"]);
        assert_eq!(
            t("edit src/main.rs (v1.2.3)"),
            ["edit", "src_main_rs", "src", "main", "rs", "v1_2_3", "v1", "2", "3"]
        );
    }

    #[test]
    fn leading_and_trailing_joiners_do_not_make_an_identifier() {
        assert_eq!(t("--force ... _private_"), ["force", "private"]);
    }

    #[test]
    fn terms_only_hold_letters_digits_and_underscores() {
        let all = t("Ünïcode wörds, emoji 🎉, tabs\tand\nnew-lines; a/b:c.d");
        for term in &all {
            assert!(term.chars().all(|c| c.is_alphanumeric() || c == '_'), "{term:?}");
        }
        assert!(all.contains(&"wörd".to_string()), "{all:?}");
        assert!(all.contains(&"a_b_c_d".to_string()), "{all:?}");
    }

    #[test]
    fn a_huge_token_is_clipped_at_a_character_boundary() {
        let long = "é".repeat(100);
        let term = &t(&long)[0];
        assert!(term.len() <= MAX_TERM_BYTES);
        assert_eq!(term.chars().count(), MAX_TERM_BYTES / 2);
    }

    #[test]
    fn normalised_text_ignores_case_punctuation_and_spacing() {
        assert_eq!(normalised("  The user prefers TABS!\n"), "the user prefers tabs");
        assert_eq!(normalised("the user, prefers tabs"), normalised("The user prefers tabs."));
    }

    #[test]
    fn joined_texts_are_sentences_without_repeats() {
        let joined = join_texts(
            ["The user prefers tabs", "Prefers tabs!", "They write Rust.", "  ", "the user prefers TABS"],
            1000,
        );
        assert_eq!(joined, "The user prefers tabs. They write Rust.");
    }

    #[test]
    fn joined_texts_are_cut_to_the_limit() {
        assert_eq!(join_texts(["abcdef", "ghij"], 9), "abcdef. g");
        assert_eq!(truncate_chars("ééé", 2), "éé");
    }
}
