//! `code::apply_patch`: unified diffs, one or more files, all or nothing.
//!
//! Rules it keeps:
//! - Accepts plain unified diffs (`--- x` / `+++ x`) and git diffs (`diff --git`, `a/` and `b/`
//!   prefixes); `/dev/null` on one side creates or deletes a file. Parsing is diffy's
//!   [`PatchSet`]. The `a/`/`b/` prefixes are stripped when every header in the patch has them
//!   (as `git apply` and `patch -p1` would), so a plain diff of a directory named `a` still works.
//! - Every hunk of every file is applied in memory first; only when all apply is anything
//!   written. A failed hunk is reported with its file, its number, its header and the lines it
//!   expected, so the model can re-read the file and regenerate the patch.
//! - Renames and copies are refused (write the new file and delete the old one instead);
//!   binary patches are refused.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
use diffy::{Hunk, Line, Patch};
use serde::{Deserialize, Serialize};

use crate::error::CodeError;
use crate::files::{MAX_WRITE_BYTES, write_atomic};
use crate::workspace::Workspace;

/// `code::apply_patch`: a unified diff to apply inside the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyPatch {
    /// The diff text.
    pub patch: String,
}

/// What a patch did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchAction {
    /// An existing file was changed.
    Modified,
    /// A new file was written.
    Created,
    /// A file was removed.
    Deleted,
}

/// One file a patch touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchedFile {
    /// Workspace-relative path.
    pub path: String,
    /// What happened to it.
    pub action: PatchAction,
}

/// What `code::apply_patch` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchResult {
    /// The files in the order the patch names them.
    pub files: Vec<PatchedFile>,
}

/// One file's change as parsed: paths with their git prefixes still on.
struct Change<'a> {
    op: FileOperation<'a, str>,
    patch: Patch<'a, str>,
}

/// `code::apply_patch`. Errors: `INVALID_INPUT` (an unparsable patch, a rename, a binary
/// patch), `OUTSIDE_WORKSPACE`, `PATCH_FAILED` (a hunk does not apply, a created file exists,
/// a modified or deleted file is missing). Nothing is written unless every file applies.
pub fn apply_patch(ws: &Workspace, req: ApplyPatch) -> Result<PatchResult, CodeError> {
    if req.patch.len() > MAX_WRITE_BYTES {
        return Err(CodeError::TooLarge(format!(
            "the patch is {} bytes, over the {MAX_WRITE_BYTES}-byte cap; split it",
            req.patch.len()
        )));
    }
    let changes = parse(&req.patch)?;
    let strip = uses_git_prefixes(&changes);

    // New content per resolved path; `None` means deleted. Later changes to the same path
    // apply on top of earlier ones.
    let mut planned: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    let mut report = Vec::new();
    for change in &changes {
        let (shown, action) = match &change.op {
            FileOperation::Create(p) => (without_prefix(p, "b/", strip), PatchAction::Created),
            FileOperation::Delete(p) => (without_prefix(p, "a/", strip), PatchAction::Deleted),
            FileOperation::Modify { original, modified } => {
                let (from, to) = (without_prefix(original, "a/", strip), without_prefix(modified, "b/", strip));
                if from != to {
                    return Err(rename_refused(from, to));
                }
                (to, PatchAction::Modified)
            }
            FileOperation::Rename { from, to } | FileOperation::Copy { from, to } => {
                return Err(rename_refused(without_prefix(from, "a/", strip), without_prefix(to, "b/", strip)));
            }
        };
        let path = ws.resolve(shown)?;
        let current = match planned.get(&path) {
            Some(state) => state.clone(),
            None => read_current(&path, shown)?,
        };
        let base = match (action, current) {
            (PatchAction::Created, None) => String::new(),
            (PatchAction::Created, Some(_)) => {
                return Err(CodeError::PatchFailed(format!(
                    "{shown:?} already exists, but the patch creates it (--- /dev/null); patch it as a modification instead"
                )));
            }
            (_, None) => {
                return Err(CodeError::PatchFailed(format!(
                    "{shown:?} does not exist, so it cannot be changed or deleted; create it with --- /dev/null"
                )));
            }
            (_, Some(text)) => text,
        };
        let patched = apply_hunks(&base, &change.patch, shown)?;
        let after = if action == PatchAction::Deleted {
            if !patched.is_empty() {
                return Err(CodeError::PatchFailed(format!(
                    "the patch deletes {shown:?} but does not remove all of its lines; include every line as a `-` line"
                )));
            }
            None
        } else {
            Some(patched)
        };
        planned.insert(path.clone(), after);
        report.push(PatchedFile { path: ws.display(&path), action });
    }

    for (path, content) in &planned {
        let shown = ws.display(path);
        match content {
            Some(text) => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| CodeError::io(format!("creating the directories of {shown:?}"), e))?;
                }
                write_atomic(path, text.as_bytes(), &shown)?;
            }
            None => fs::remove_file(path).map_err(|e| CodeError::io(format!("deleting {shown:?}"), e))?,
        }
    }
    Ok(PatchResult { files: report })
}

/// Parses every file of `text`, as a git diff when it has `diff --git` headers.
fn parse(text: &str) -> Result<Vec<Change<'_>>, CodeError> {
    let git = text.starts_with("diff --git ") || text.contains("\ndiff --git ");
    let options = if git { ParseOptions::gitdiff() } else { ParseOptions::unidiff() };
    let mut changes = Vec::new();
    for parsed in PatchSet::parse(text, options) {
        let file = parsed.map_err(|e| {
            CodeError::InvalidInput(format!(
                "the patch is not a valid unified diff: {e}; give `--- a/path` and `+++ b/path` headers followed by `@@ -l,n +l,n @@` hunks"
            ))
        })?;
        let op = file.operation().clone();
        let patch = match file.into_patch().as_text() {
            Some(p) => p.clone(),
            None => {
                return Err(CodeError::InvalidInput(
                    "binary patches are not supported; write the file with code::write_file".into(),
                ));
            }
        };
        changes.push(Change { op, patch });
    }
    Ok(changes)
}

/// Whether every old-side path starts with `a/` and every new-side path with `b/`.
fn uses_git_prefixes(changes: &[Change<'_>]) -> bool {
    changes.iter().all(|c| match &c.op {
        FileOperation::Create(p) => p.starts_with("b/"),
        FileOperation::Delete(p) => p.starts_with("a/"),
        FileOperation::Modify { original: from, modified: to }
        | FileOperation::Rename { from, to }
        | FileOperation::Copy { from, to } => from.starts_with("a/") && to.starts_with("b/"),
    })
}

/// `path` without `prefix` when `strip` is on.
fn without_prefix<'a>(path: &'a str, prefix: &str, strip: bool) -> &'a str {
    if strip { path.strip_prefix(prefix).unwrap_or(path) } else { path }
}

fn rename_refused(from: &str, to: &str) -> CodeError {
    CodeError::InvalidInput(format!(
        "the patch renames or copies {from:?} to {to:?}, which is not supported; write {to:?} with code::write_file and delete {from:?} with a --- a/{from} / +++ /dev/null patch"
    ))
}

/// The file's text now, `None` when it does not exist.
fn read_current(path: &std::path::Path, shown: &str) -> Result<Option<String>, CodeError> {
    match fs::read(path) {
        Ok(bytes) if bytes.contains(&0) => {
            Err(CodeError::InvalidInput(format!("{shown:?} is a binary file; it cannot be patched as text")))
        }
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            CodeError::InvalidInput(format!(
                "{shown:?} is not UTF-8 text; it cannot be patched, rewrite it with code::write_file"
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == ErrorKind::IsADirectory => {
            Err(CodeError::InvalidInput(format!("{shown:?} is a directory; patch files only")))
        }
        Err(e) => Err(CodeError::io(format!("reading {shown:?}"), e)),
    }
}

/// Applies every hunk of `patch` to `base`, naming the first hunk that does not apply.
fn apply_hunks(base: &str, patch: &Patch<'_, str>, shown: &str) -> Result<String, CodeError> {
    diffy::apply(base, patch).map_err(|e| {
        // diffy's error carries the 1-based hunk number only in its text ("error applying hunk #N").
        let number = e.to_string().rsplit('#').next().and_then(|n| n.trim().parse::<usize>().ok());
        let hunk = number.and_then(|n| patch.hunks().get(n.wrapping_sub(1)));
        match (number, hunk) {
            (Some(n), Some(hunk)) => hunk_failed(shown, n, hunk),
            _ => CodeError::PatchFailed(format!("{shown:?}: {e}; read the file again and regenerate the patch")),
        }
    })
}

/// The `PATCH_FAILED` error for hunk `n` of `shown`, quoting the lines it expected.
fn hunk_failed(shown: &str, n: usize, hunk: &Hunk<'_, str>) -> CodeError {
    let (old, new) = (hunk.old_range(), hunk.new_range());
    let expected: String = hunk
        .lines()
        .iter()
        .filter_map(|line| match line {
            Line::Context(text) | Line::Delete(text) => Some(*text),
            Line::Insert(_) => None,
        })
        .collect();
    CodeError::PatchFailed(format!(
        "hunk {n} (@@ -{},{} +{},{} @@) of {shown:?} does not apply: the file has no place with these lines (expected near line {}):\n{}\nread the file again with code::read_file and regenerate the patch against its current content",
        old.start(),
        old.len(),
        new.start(),
        new.len(),
        old.start(),
        expected.trim_end_matches('\n')
    ))
}
