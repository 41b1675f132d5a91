//! Unit tests of the file tools on a temporary workspace, and the fixture the other
//! `*_tests.rs` modules share.

use std::os::unix::fs::symlink;

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

use super::*;

/// A workspace in a temp dir, with `src/lib.rs` (3 lines), plus a directory outside it.
pub(crate) struct Fixture {
    _inside: tempfile::TempDir,
    pub(crate) outside: tempfile::TempDir,
    pub(crate) ws: Workspace,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(inside.path().join("src")).unwrap();
        std::fs::write(inside.path().join("src/lib.rs"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret\n").unwrap();
        let ws = Workspace::new(inside.path()).unwrap();
        Self { _inside: inside, outside, ws }
    }

    pub(crate) fn path(&self, rel: &str) -> std::path::PathBuf {
        self.ws.root().join(rel)
    }

    pub(crate) fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }
}

fn read(path: &str) -> ReadFile {
    ReadFile { path: path.into(), offset_line: None, max_lines: None }
}

// ---- read_file

#[test]
fn read_file_returns_the_whole_text_with_its_line_count() {
    let f = Fixture::new();
    let got = read_file(&f.ws, read("src/lib.rs")).unwrap();
    assert_eq!(
        got,
        FileContent {
            path: "src/lib.rs".into(),
            content: "one\ntwo\nthree\n".into(),
            total_lines: 3,
            truncated: false
        }
    );
}

#[test]
fn read_file_returns_a_window_of_lines_and_says_it_is_truncated() {
    let f = Fixture::new();
    let got =
        read_file(&f.ws, ReadFile { path: "src/lib.rs".into(), offset_line: Some(2), max_lines: Some(1) }).unwrap();
    assert_eq!(
        got,
        FileContent { path: "src/lib.rs".into(), content: "two\n".into(), total_lines: 3, truncated: true }
    );
}

#[test]
fn read_file_refuses_binary_files_directories_and_line_zero() {
    let f = Fixture::new();
    std::fs::write(f.path("blob.bin"), b"ab\0cd").unwrap();
    let err = read_file(&f.ws, read("blob.bin")).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    assert!(err.to_string().contains("binary"), "{err}");
    assert_eq!(read_file(&f.ws, read("src")).unwrap_err().code(), "INVALID_INPUT");
    let zero = ReadFile { path: "src/lib.rs".into(), offset_line: Some(0), max_lines: None };
    assert_eq!(read_file(&f.ws, zero).unwrap_err().code(), "INVALID_INPUT");
}

#[test]
fn read_file_refuses_a_file_over_the_cap_unless_a_window_is_given() {
    let f = Fixture::new();
    let line = "x".repeat(99) + "\n";
    f.write("big.txt", &line.repeat(11_000));
    let err = read_file(&f.ws, read("big.txt")).unwrap_err();
    assert_eq!(err.code(), "TOO_LARGE");
    assert!(err.to_string().contains("offset_line and max_lines"), "{err}");
    let window =
        read_file(&f.ws, ReadFile { path: "big.txt".into(), offset_line: Some(10_999), max_lines: Some(5) }).unwrap();
    assert_eq!((window.content.len(), window.total_lines, window.truncated), (200, 11_000, false));
}

#[test]
fn read_file_of_a_missing_file_is_not_found() {
    let f = Fixture::new();
    assert_eq!(read_file(&f.ws, read("nope.rs")).unwrap_err().code(), "NOT_FOUND");
}

#[test]
fn every_escape_attempt_is_outside_workspace_for_every_file_tool() {
    let f = Fixture::new();
    symlink(f.outside.path().join("secret"), f.path("leak")).unwrap();
    symlink(f.outside.path(), f.path("outdir")).unwrap();
    for path in ["../x", "/etc/passwd", "leak", "outdir/secret", "src/../../x"] {
        assert_eq!(read_file(&f.ws, read(path)).unwrap_err().code(), "OUTSIDE_WORKSPACE", "read {path}");
        let w = WriteFile { path: path.into(), content: "pwned".into(), create_dirs: true };
        assert_eq!(write_file(&f.ws, w).unwrap_err().code(), "OUTSIDE_WORKSPACE", "write {path}");
        let l = List { path: path.into(), recursive: false, max_entries: 10 };
        assert_eq!(list(&f.ws, l).unwrap_err().code(), "OUTSIDE_WORKSPACE", "list {path}");
    }
    let w = WriteFile { path: "outdir/new.txt".into(), content: "pwned".into(), create_dirs: false };
    assert_eq!(write_file(&f.ws, w).unwrap_err().code(), "OUTSIDE_WORKSPACE");
    assert!(!f.outside.path().join("new.txt").exists());
    assert_eq!(std::fs::read_to_string(f.outside.path().join("secret")).unwrap(), "s3cret\n");
}

// ---- list

#[test]
fn list_is_sorted_does_not_follow_symlinks_and_skips_git_contents() {
    let f = Fixture::new();
    f.write(".git/HEAD", "ref\n");
    f.write("src/nested/mod.rs", "x\n");
    symlink(f.outside.path(), f.path("outdir")).unwrap();
    let got = list(&f.ws, List { path: ".".into(), recursive: true, max_entries: 100 }).unwrap();
    let kinds: Vec<(String, EntryKind)> = got.entries.iter().map(|e| (e.path.clone(), e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (".git".into(), EntryKind::Dir),
            ("outdir".into(), EntryKind::Symlink),
            ("src".into(), EntryKind::Dir),
            ("src/lib.rs".into(), EntryKind::File),
            ("src/nested".into(), EntryKind::Dir),
            ("src/nested/mod.rs".into(), EntryKind::File),
        ]
    );
    assert_eq!(got.entries[3].size, 14);
    assert!(!got.truncated);
}

#[test]
fn list_stops_at_max_entries_and_says_so() {
    let f = Fixture::new();
    for i in 0..5 {
        f.write(&format!("f{i}.txt"), "x");
    }
    let got = list(&f.ws, List { path: ".".into(), recursive: false, max_entries: 3 }).unwrap();
    assert_eq!((got.entries.len(), got.truncated), (3, true));
    assert_eq!(
        list(&f.ws, List { path: ".".into(), recursive: false, max_entries: 0 }).unwrap_err().code(),
        "INVALID_INPUT"
    );
}

#[test]
fn list_defaults_come_from_an_empty_request() {
    let req: List = serde_json::from_str("{}").unwrap();
    assert_eq!(req, List { path: ".".into(), recursive: false, max_entries: 500 });
}

// ---- search

#[test]
fn search_finds_lines_by_regex_and_skips_binary_and_build_directories() {
    let f = Fixture::new();
    f.write("target/debug/out.rs", "two\n");
    f.write("node_modules/x.js", "two\n");
    f.write("notes.md", "nothing\ntwo times\n");
    std::fs::write(f.path("blob.bin"), b"two\0").unwrap();
    let got = search(&f.ws, Search { pattern: "^two".into(), path: None, glob: None, max_matches: 10 }).unwrap();
    assert_eq!(
        got,
        SearchResult {
            matches: vec![
                Match { path: "notes.md".into(), line: 2, text: "two times".into() },
                Match { path: "src/lib.rs".into(), line: 2, text: "two".into() },
            ],
            truncated: false,
        }
    );
}

#[test]
fn search_filters_by_glob_and_stops_at_max_matches() {
    let f = Fixture::new();
    f.write("notes.md", "two\n");
    let got = search(
        &f.ws,
        Search { pattern: "t".into(), path: Some("src".into()), glob: Some("*.rs".into()), max_matches: 1 },
    )
    .unwrap();
    assert_eq!(
        got,
        SearchResult {
            matches: vec![Match { path: "src/lib.rs".into(), line: 2, text: "two".into() }],
            truncated: true
        }
    );
}

#[test]
fn a_bad_regex_is_invalid_input_quoting_the_pattern() {
    let f = Fixture::new();
    let err = search(&f.ws, Search { pattern: "(".into(), path: None, glob: None, max_matches: 10 }).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    assert!(err.to_string().starts_with("pattern \"(\" is not a valid regular expression"), "{err}");
}

#[test]
fn globs_match_stars_and_question_marks_against_the_whole_name() {
    assert!(files::glob_matches("*.rs", "lib.rs"));
    assert!(files::glob_matches("l?b.*", "lib.rs"));
    assert!(files::glob_matches("Cargo.toml", "Cargo.toml"));
    assert!(!files::glob_matches("*.rs", "lib.rs.bak"));
    assert!(!files::glob_matches("a*b", "acbx"));
}

// ---- write_file

#[test]
fn write_file_creates_then_replaces_and_reports_which() {
    let f = Fixture::new();
    let w = |content: &str| WriteFile { path: "new.txt".into(), content: content.into(), create_dirs: false };
    assert_eq!(write_file(&f.ws, w("hello")).unwrap(), Written { path: "new.txt".into(), bytes: 5, created: true });
    assert_eq!(write_file(&f.ws, w("hi")).unwrap(), Written { path: "new.txt".into(), bytes: 2, created: false });
    assert_eq!(f.read("new.txt"), "hi");
    let leftovers: Vec<_> = std::fs::read_dir(f.ws.root())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn write_file_needs_create_dirs_for_a_missing_directory() {
    let f = Fixture::new();
    let err =
        write_file(&f.ws, WriteFile { path: "a/b/c.txt".into(), content: "x".into(), create_dirs: false }).unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
    assert!(err.to_string().contains("create_dirs: true"), "{err}");
    write_file(&f.ws, WriteFile { path: "a/b/c.txt".into(), content: "x".into(), create_dirs: true }).unwrap();
    assert_eq!(f.read("a/b/c.txt"), "x");
}
