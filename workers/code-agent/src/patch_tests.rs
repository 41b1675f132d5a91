//! Unit tests of `code::apply_patch` on a temporary workspace.

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

use crate::tests::Fixture;
use crate::*;

#[test]
fn a_git_patch_modifies_creates_and_deletes_files_in_one_go() {
    let f = Fixture::new();
    f.write("old.txt", "bye\n");
    let patch = "\
diff --git a/src/lib.rs b/src/lib.rs
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
diff --git a/docs/new.md b/docs/new.md
new file mode 100644
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+text
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
";
    let got = apply_patch(&f.ws, ApplyPatch { patch: patch.into() }).unwrap();
    assert_eq!(
        got.files,
        vec![
            PatchedFile { path: "src/lib.rs".into(), action: PatchAction::Modified },
            PatchedFile { path: "docs/new.md".into(), action: PatchAction::Created },
            PatchedFile { path: "old.txt".into(), action: PatchAction::Deleted },
        ]
    );
    assert_eq!(f.read("src/lib.rs"), "one\nTWO\nthree\n");
    assert_eq!(f.read("docs/new.md"), "# New\ntext\n");
    assert!(!f.path("old.txt").exists());
}

#[test]
fn a_plain_unified_diff_without_prefixes_applies() {
    let f = Fixture::new();
    let patch = "--- src/lib.rs\n+++ src/lib.rs\n@@ -3 +3,2 @@\n three\n+four\n";
    apply_patch(&f.ws, ApplyPatch { patch: patch.into() }).unwrap();
    assert_eq!(f.read("src/lib.rs"), "one\ntwo\nthree\nfour\n");
}

#[test]
fn a_failing_hunk_names_the_file_and_the_expected_lines_and_changes_nothing() {
    let f = Fixture::new();
    let patch = "\
--- /dev/null
+++ b/created.txt
@@ -0,0 +1 @@
+new
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,2 +1,2 @@
 one
-zwei
+ZWEI
";
    let err = apply_patch(&f.ws, ApplyPatch { patch: patch.into() }).unwrap_err();
    assert_eq!(err.code(), "PATCH_FAILED");
    let message = err.to_string();
    assert!(message.starts_with("hunk 1 (@@ -1,2 +1,2 @@) of \"src/lib.rs\" does not apply"), "{message}");
    assert!(message.contains("one\nzwei\n"), "{message}");
    assert!(message.ends_with("nothing was changed"), "{message}");
    assert_eq!(f.read("src/lib.rs"), "one\ntwo\nthree\n");
    assert!(!f.path("created.txt").exists());
}

#[test]
fn a_patch_that_escapes_or_renames_or_is_garbage_is_refused() {
    let f = Fixture::new();
    let escape = "--- /dev/null\n+++ b/../evil.txt\n@@ -0,0 +1 @@\n+x\n";
    assert_eq!(apply_patch(&f.ws, ApplyPatch { patch: escape.into() }).unwrap_err().code(), "OUTSIDE_WORKSPACE");
    let rename = "--- a/src/lib.rs\n+++ b/src/main.rs\n@@ -1 +1 @@\n-one\n+uno\n";
    assert_eq!(apply_patch(&f.ws, ApplyPatch { patch: rename.into() }).unwrap_err().code(), "INVALID_INPUT");
    assert_eq!(apply_patch(&f.ws, ApplyPatch { patch: "hello".into() }).unwrap_err().code(), "INVALID_INPUT");
    let exists = "--- /dev/null\n+++ b/src/lib.rs\n@@ -0,0 +1 @@\n+x\n";
    assert_eq!(apply_patch(&f.ws, ApplyPatch { patch: exists.into() }).unwrap_err().code(), "PATCH_FAILED");
}
