//! The diff a request shows the person deciding: what a `code::write_file` would change in the
//! file (a unified diff of the current content against the new), or the patch of a
//! `code::apply_patch`.
//!
//! Rules it keeps:
//! - Headers are `--- a/<path>` and `+++ b/<path>`, as `git diff` and `code::apply_patch` write
//!   them, so the diff reads (and applies) like any other.
//! - A diff is capped at [`DIFF_CAP`] bytes, cut at a line end with a marker saying so: a person
//!   cannot review more on a screen, and the request stays a small state value.

use serde_json::Value;

/// The largest diff kept on a request, in bytes: 256 KiB.
pub const DIFF_CAP: usize = 256 * 1024;

/// What a request for `function_id` needs to build its diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffSource {
    /// A `code::write_file`: the current file must be read (through `code::read_file`).
    WriteFile {
        /// The workspace-relative path.
        path: String,
        /// The new content.
        content: String,
    },
    /// A `code::apply_patch`: the patch is the diff.
    Patch(String),
}

/// What the diff of a call comes from, or `None` when the call changes no file (or its
/// arguments are not the tool's: the tool refuses those itself).
pub fn source(function_id: &str, arguments: &Value) -> Option<DiffSource> {
    let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(str::to_string);
    match function_id {
        "code::write_file" => Some(DiffSource::WriteFile { path: text("path")?, content: text("content")? }),
        "code::apply_patch" => text("patch").map(DiffSource::Patch),
        _ => None,
    }
}

/// The unified diff of `path` from `old` to `new`, capped.
pub fn write_diff(path: &str, old: &str, new: &str) -> String {
    let mut options = diffy::DiffOptions::new();
    options.set_original_filename(format!("a/{path}")).set_modified_filename(format!("b/{path}"));
    cap(options.create_patch(old, new).to_string())
}

/// `diff` cut to [`DIFF_CAP`] bytes at a line end, with a marker when it was cut.
pub fn cap(diff: String) -> String {
    if diff.len() <= DIFF_CAP {
        return diff;
    }
    let mut end = DIFF_CAP;
    while !diff.is_char_boundary(end) {
        end -= 1;
    }
    let cut = diff[..end].rfind('\n').map_or(end, |i| i + 1);
    format!("{}… the diff is {} bytes; only the first {DIFF_CAP} are shown\n", &diff[..cut], diff.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_write_diff_is_a_unified_diff_with_git_style_headers() {
        assert_eq!(
            write_diff("src/a.txt", "one\ntwo\nthree\n", "one\n2\nthree\n"),
            "--- a/src/a.txt\n+++ b/src/a.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"
        );
        assert_eq!(write_diff("new.txt", "", "hello\n"), "--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n");
    }

    #[test]
    fn only_writes_and_patches_have_a_diff_source() {
        assert_eq!(
            source("code::write_file", &json!({"path": "a", "content": "x"})),
            Some(DiffSource::WriteFile { path: "a".into(), content: "x".into() })
        );
        assert_eq!(
            source("code::apply_patch", &json!({"patch": "--- a/x\n"})),
            Some(DiffSource::Patch("--- a/x\n".into()))
        );
        assert_eq!(source("code::write_file", &json!({"path": "a"})), None);
        assert_eq!(source("code::run_command", &json!({"program": "ls"})), None);
    }

    #[test]
    fn a_huge_diff_is_cut_at_a_line_end_and_says_so() {
        let big = "+line\n".repeat(DIFF_CAP / 6 + 100);
        let capped = cap(big.clone());
        assert!(capped.len() < DIFF_CAP + 100, "{}", capped.len());
        let (kept, marker) = capped.rsplit_once("… ").unwrap();
        assert!(kept.ends_with("+line\n") && kept.len() <= DIFF_CAP);
        assert_eq!(marker, format!("the diff is {} bytes; only the first {DIFF_CAP} are shown\n", big.len()));
        assert_eq!(cap("small\n".into()), "small\n");
    }
}
