//! The file tools: `code::read_file`, `code::list`, `code::search` and `code::write_file`.
//!
//! Rules they keep:
//! - Every path goes through [`Workspace::resolve`]; every path they answer with is
//!   workspace-relative.
//! - Text only: a file with a NUL byte is binary and is refused by `read_file`, skipped by
//!   `search`. Other bytes that are not UTF-8 are shown as U+FFFD.
//! - Walks never follow symlinks (a link is listed, not entered) and never enter `.git`;
//!   `search` also skips `target` and `node_modules`.
//! - Writes are atomic: a temporary file in the same directory, synced, then renamed over the
//!   target, so a reader never sees half a file.

use std::collections::VecDeque;
use std::fs::{self, File, Metadata};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::CodeError;
use crate::workspace::Workspace;

/// The largest file `read_file` returns whole, and the most content one call returns: 1 MiB,
/// far more than a model's context wants at once, small enough for one bus message.
pub const MAX_READ_BYTES: u64 = 1024 * 1024;
/// `list`'s default entry cap.
pub const DEFAULT_MAX_ENTRIES: usize = 500;
/// The most entries one `list` call may ask for.
pub const MAX_ENTRIES_CAP: usize = 10_000;
/// `search`'s default match cap.
pub const DEFAULT_MAX_MATCHES: usize = 200;
/// The most matches one `search` call may ask for.
pub const MAX_MATCHES_CAP: usize = 5_000;
/// Files larger than this are skipped by `search`: 4 MiB is larger than any hand-written
/// source file and keeps a search over generated blobs fast.
pub const SEARCH_FILE_CAP: u64 = 4 * 1024 * 1024;
/// A matching line longer than this many characters is cut, so minified files do not flood
/// the answer.
pub const MATCH_TEXT_CHARS: usize = 400;
/// The largest content `write_file` accepts: 8 MiB.
pub const MAX_WRITE_BYTES: usize = 8 * 1024 * 1024;
/// Directories `search` never enters (besides `.git`, which no walk enters).
pub const SEARCH_SKIP_DIRS: &[&str] = &[".git", "target", "node_modules"];

/// `code::read_file`: read a text file, optionally a window of its lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadFile {
    /// The file, relative to the workspace root.
    pub path: String,
    /// The first line to return, 1-based; 1 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_line: Option<usize>,
    /// How many lines to return at most; all when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
}

/// What `code::read_file` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileContent {
    /// The file, workspace-relative.
    pub path: String,
    /// The lines asked for, with their line endings.
    pub content: String,
    /// How many lines the whole file has.
    pub total_lines: usize,
    /// Whether lines after the returned ones were left out.
    pub truncated: bool,
}

/// `code::list`: the entries of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct List {
    /// The directory, relative to the workspace root; the root when left out.
    #[serde(default = "dot")]
    pub path: String,
    /// Whether to descend into subdirectories (never into `.git` or through symlinks).
    #[serde(default)]
    pub recursive: bool,
    /// How many entries to return at most (default 500, at most 10 000).
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

fn dot() -> String {
    ".".to_string()
}

fn default_max_entries() -> usize {
    DEFAULT_MAX_ENTRIES
}

fn default_max_matches() -> usize {
    DEFAULT_MAX_MATCHES
}

/// What kind of thing an entry is. Symlinks are reported as such, never followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file (or anything that is neither a directory nor a symlink).
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// One entry of `code::list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Workspace-relative path.
    pub path: String,
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Size in bytes (of the link itself for a symlink).
    pub size: u64,
}

/// What `code::list` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Entries sorted by path.
    pub entries: Vec<Entry>,
    /// Whether entries were left out because of `max_entries`.
    pub truncated: bool,
}

/// `code::search`: lines matching a regular expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// A regular expression (Rust `regex` syntax), matched line by line.
    pub pattern: String,
    /// The file or directory to search; the workspace root when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A file-name filter with `*` and `?` wildcards, for example `*.rs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// How many matches to return at most (default 200, at most 5 000).
    #[serde(default = "default_max_matches")]
    pub max_matches: usize,
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// Workspace-relative file path.
    pub path: String,
    /// 1-based line number.
    pub line: usize,
    /// The line, without its line ending, cut at 400 characters.
    pub text: String,
}

/// What `code::search` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Matches in path order, then line order.
    pub matches: Vec<Match>,
    /// Whether matches were left out because of `max_matches`.
    pub truncated: bool,
}

/// `code::write_file`: create or replace a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    /// The file, relative to the workspace root.
    pub path: String,
    /// The whole new content.
    pub content: String,
    /// Whether to create missing parent directories.
    #[serde(default)]
    pub create_dirs: bool,
}

/// What `code::write_file` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Workspace-relative path.
    pub path: String,
    /// Bytes written.
    pub bytes: usize,
    /// Whether the file is new.
    pub created: bool,
}

/// `code::read_file`. Errors: `NOT_FOUND`, `OUTSIDE_WORKSPACE`, `INVALID_INPUT` (a directory,
/// a binary file, line 0), `TOO_LARGE` (over 1 MiB without a window).
pub fn read_file(ws: &Workspace, req: ReadFile) -> Result<FileContent, CodeError> {
    let path = ws.resolve(&req.path)?;
    let meta = metadata(&path, &req.path, "list the directory with code::list to see what exists")?;
    if meta.is_dir() {
        return Err(CodeError::InvalidInput(format!(
            "{:?} is a directory; use code::list to see its entries",
            req.path
        )));
    }
    let windowed = req.offset_line.is_some() || req.max_lines.is_some();
    if meta.len() > MAX_READ_BYTES && !windowed {
        return Err(CodeError::TooLarge(format!(
            "{:?} is {} bytes, over the {MAX_READ_BYTES}-byte read cap; read it in parts with offset_line and max_lines (for example offset_line: 1, max_lines: 500)",
            req.path,
            meta.len()
        )));
    }
    let first = match req.offset_line {
        Some(0) => {
            return Err(CodeError::InvalidInput("offset_line is 1-based: use 1 for the first line".into()));
        }
        Some(n) => n,
        None => 1,
    };
    let max_lines = req.max_lines.unwrap_or(usize::MAX);
    let file = File::open(&path).map_err(|e| CodeError::io(format!("opening {:?}", req.path), e))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut content = Vec::new();
    let (mut total, mut taken, mut truncated) = (0usize, 0usize, false);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| CodeError::io(format!("reading {:?}", req.path), e))?;
        if n == 0 {
            break;
        }
        if line.contains(&0) {
            return Err(CodeError::InvalidInput(format!(
                "{:?} is a binary file (it contains NUL bytes); code::read_file reads text only",
                req.path
            )));
        }
        total += 1;
        if total < first {
            continue;
        }
        if taken < max_lines && content.len() as u64 + line.len() as u64 <= MAX_READ_BYTES {
            content.extend_from_slice(&line);
            taken += 1;
        } else {
            truncated = true;
        }
    }
    Ok(FileContent {
        path: ws.display(&path),
        content: String::from_utf8_lossy(&content).into_owned(),
        total_lines: total,
        truncated,
    })
}

/// `code::list`. Errors: `NOT_FOUND`, `OUTSIDE_WORKSPACE`, `INVALID_INPUT` (`max_entries` 0
/// or over the cap).
pub fn list(ws: &Workspace, req: List) -> Result<Listing, CodeError> {
    if req.max_entries == 0 || req.max_entries > MAX_ENTRIES_CAP {
        return Err(CodeError::InvalidInput(format!(
            "max_entries must be between 1 and {MAX_ENTRIES_CAP}, not {}",
            req.max_entries
        )));
    }
    let path = ws.resolve(&req.path)?;
    let meta = metadata(&path, &req.path, "list the workspace root with code::list {} to see what exists")?;
    let mut entries = Vec::new();
    if !meta.is_dir() {
        entries.push(entry(ws, &path, &meta));
        return Ok(Listing { entries, truncated: false });
    }
    let mut truncated = false;
    // Breadth first, so a truncated listing shows the shallow entries.
    let mut queue = VecDeque::from([path]);
    'walk: while let Some(dir) = queue.pop_front() {
        for (child, meta) in read_dir_sorted(&dir)? {
            if entries.len() == req.max_entries {
                truncated = true;
                break 'walk;
            }
            let e = entry(ws, &child, &meta);
            if req.recursive && e.kind == EntryKind::Dir && child.file_name().is_none_or(|n| n != ".git") {
                queue.push_back(child);
            }
            entries.push(e);
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Listing { entries, truncated })
}

/// `code::search`. Errors: `INVALID_INPUT` (a bad regex, `max_matches` 0 or over the cap),
/// `NOT_FOUND`, `OUTSIDE_WORKSPACE`.
pub fn search(ws: &Workspace, req: Search) -> Result<SearchResult, CodeError> {
    if req.max_matches == 0 || req.max_matches > MAX_MATCHES_CAP {
        return Err(CodeError::InvalidInput(format!(
            "max_matches must be between 1 and {MAX_MATCHES_CAP}, not {}",
            req.max_matches
        )));
    }
    let regex = regex::Regex::new(&req.pattern).map_err(|e| {
        CodeError::InvalidInput(format!(
            "pattern {:?} is not a valid regular expression (Rust regex syntax): {e}",
            req.pattern
        ))
    })?;
    let given = req.path.as_deref().unwrap_or(".");
    let start = ws.resolve(given)?;
    let meta = metadata(&start, given, "list the workspace with code::list to see what exists")?;
    let mut files = Vec::new();
    if meta.is_dir() {
        collect_files(&start, &mut files)?;
    } else {
        files.push((start, meta));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));

    let mut matches = Vec::new();
    for (file, meta) in files {
        if !meta.is_file() || meta.len() > SEARCH_FILE_CAP {
            continue;
        }
        if let Some(glob) = &req.glob
            && !file.file_name().is_some_and(|n| glob_matches(glob, &n.to_string_lossy()))
        {
            continue;
        }
        // A file that vanished or cannot be read is skipped, like grep -s.
        let Ok(bytes) = fs::read(&file) else {
            continue;
        };
        if bytes.contains(&0) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            if regex.is_match(line) {
                if matches.len() == req.max_matches {
                    return Ok(SearchResult { matches, truncated: true });
                }
                matches.push(Match {
                    path: ws.display(&file),
                    line: i + 1,
                    text: line.chars().take(MATCH_TEXT_CHARS).collect(),
                });
            }
        }
    }
    Ok(SearchResult { matches, truncated: false })
}

/// `code::write_file`. Errors: `OUTSIDE_WORKSPACE`, `NOT_FOUND` (the directory is missing and
/// `create_dirs` is false), `INVALID_INPUT` (the path is a directory), `TOO_LARGE`.
pub fn write_file(ws: &Workspace, req: WriteFile) -> Result<Written, CodeError> {
    if req.content.len() > MAX_WRITE_BYTES {
        return Err(CodeError::TooLarge(format!(
            "content is {} bytes, over the {MAX_WRITE_BYTES}-byte write cap; split the file, or edit it with code::apply_patch",
            req.content.len()
        )));
    }
    let path = ws.resolve(&req.path)?;
    let created = match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            return Err(CodeError::InvalidInput(format!("{:?} is a directory; give a file path", req.path)));
        }
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::NotFound => true,
        Err(e) => return Err(CodeError::io(format!("checking {:?}", req.path), e)),
    };
    let parent = parent_of(&path, &req.path)?;
    if !parent.is_dir() {
        if !req.create_dirs {
            return Err(CodeError::NotFound {
                path: ws.display(parent),
                hint: format!("the directory for {:?} is missing; pass create_dirs: true to create it", req.path),
            });
        }
        fs::create_dir_all(parent)
            .map_err(|e| CodeError::io(format!("creating the directories of {:?}", req.path), e))?;
    }
    write_atomic(&path, req.content.as_bytes(), &req.path)?;
    Ok(Written { path: ws.display(&path), bytes: req.content.len(), created })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename; an
/// existing file keeps its permissions.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], shown: &str) -> Result<(), CodeError> {
    /// Makes temporary names unique within the process; the pid makes them unique across
    /// processes.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let parent = parent_of(path, shown)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp =
        parent.join(format!(".{name}.agentos-{}-{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CodeError::io(format!("writing {shown:?}"), e)
    })
}

/// The directory `path` is in.
fn parent_of<'a>(path: &'a Path, shown: &str) -> Result<&'a Path, CodeError> {
    path.parent()
        .ok_or_else(|| CodeError::InvalidInput(format!("{shown:?} names the file-system root; give a file path")))
}

/// `symlink_metadata` of `path`, with `NOT_FOUND` naming `shown` and `hint`.
fn metadata(path: &Path, shown: &str, hint: &str) -> Result<Metadata, CodeError> {
    fs::symlink_metadata(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => CodeError::NotFound { path: shown.to_string(), hint: hint.to_string() },
        _ => CodeError::io(format!("reading {shown:?}"), e),
    })
}

/// The entry for `path`.
fn entry(ws: &Workspace, path: &Path, meta: &Metadata) -> Entry {
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else {
        EntryKind::File
    };
    Entry { path: ws.display(path), kind, size: if kind == EntryKind::Dir { 0 } else { meta.len() } }
}

/// The children of `dir` with their (non-following) metadata, sorted by name. Children that
/// vanish while being read are left out.
fn read_dir_sorted(dir: &Path) -> Result<Vec<(PathBuf, Metadata)>, CodeError> {
    let read = fs::read_dir(dir).map_err(|e| CodeError::io(format!("listing {}", dir.display()), e))?;
    let mut children: Vec<(PathBuf, Metadata)> =
        read.filter_map(Result::ok).filter_map(|e| e.metadata().ok().map(|m| (e.path(), m))).collect();
    children.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(children)
}

/// Every file under `dir`, not following symlinks, skipping [`SEARCH_SKIP_DIRS`].
fn collect_files(dir: &Path, out: &mut Vec<(PathBuf, Metadata)>) -> Result<(), CodeError> {
    for (child, meta) in read_dir_sorted(dir)? {
        if meta.is_dir() {
            let skip = child.file_name().is_some_and(|n| SEARCH_SKIP_DIRS.iter().any(|s| n == *s));
            if !skip {
                collect_files(&child, out)?;
            }
        } else if meta.is_file() {
            out.push((child, meta));
        }
    }
    Ok(())
}

/// Whether `name` matches `glob`, where `*` is any run of characters and `?` is one.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (g, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    // Classic backtracking wildcard match: remember the last `*` and retry from there.
    let (mut gi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ni;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}
