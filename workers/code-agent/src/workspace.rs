//! The workspace: the one directory every `code::*` tool is confined to.
//!
//! Rules it keeps:
//! - The root is canonical (no symlinks, no `.`/`..`), so "inside" is a plain prefix test.
//! - A user path is relative to the root, or absolute and under the root. Any `..` component is
//!   refused outright (even one that would stay inside): a model that needs the parent directory
//!   must name it from the root.
//! - Symlinks are followed only when their target stays inside: [`Workspace::resolve`]
//!   canonicalises the deepest part of the path that exists and checks it is under the root;
//!   the parts that do not exist yet (a file or directories to be created) are plain names
//!   appended to it. A dangling symlink is refused, since where it would lead cannot be checked.
//! - The check and the use are separate system calls; a process that swaps a directory for a
//!   symlink in between could still race it. The workspace guards against a model's mistakes and
//!   prompt injection, not against a hostile local process.

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::error::CodeError;

/// The environment variable that names the workspace root.
pub use agentos_kit::workspace::WORKSPACE_ENV;

/// A workspace root, canonicalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The workspace at `root`, which must be an existing directory.
    ///
    /// Errors: `NOT_FOUND` when it does not exist, `INVALID_INPUT` when it is not a directory.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, CodeError> {
        let given = root.as_ref();
        let root = std::fs::canonicalize(given).map_err(|e| match e.kind() {
            ErrorKind::NotFound => CodeError::NotFound {
                path: given.display().to_string(),
                hint: format!(
                    "the workspace directory must exist; create it or point {WORKSPACE_ENV} at an existing directory"
                ),
            },
            _ => CodeError::io(format!("opening the workspace {}", given.display()), e),
        })?;
        if !root.is_dir() {
            return Err(CodeError::InvalidInput(format!(
                "the workspace {} is not a directory; point {WORKSPACE_ENV} at a directory",
                root.display()
            )));
        }
        Ok(Self { root })
    }

    /// The workspace named by `AGENTOS_WORKSPACE`, else the current directory.
    pub fn from_env() -> Result<Self, CodeError> {
        let dir =
            agentos_kit::workspace::workspace_dir().map_err(|e| CodeError::io("reading the current directory", e))?;
        Self::new(dir)
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `user_path` to an absolute path inside the workspace; the path need not exist.
    ///
    /// Errors: `OUTSIDE_WORKSPACE` for a `..` component, an absolute path elsewhere, or a
    /// symlink (anywhere along the path) whose target is outside or missing; `INVALID_INPUT`
    /// for an empty path or one with a NUL byte.
    pub fn resolve(&self, user_path: &str) -> Result<PathBuf, CodeError> {
        if user_path.is_empty() {
            return Err(CodeError::InvalidInput(
                "the path is empty: give a path relative to the workspace root, or \".\" for the root".into(),
            ));
        }
        if user_path.contains('\0') {
            return Err(CodeError::InvalidInput(format!("the path {user_path:?} contains a NUL byte")));
        }
        let given = Path::new(user_path);
        let relative = if given.is_absolute() {
            given.strip_prefix(&self.root).map_err(|_| {
                self.outside(
                    user_path,
                    "absolute paths must lie under the workspace root; give a path relative to it instead",
                )
            })?
        } else {
            given
        };
        let mut names = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => names.push(name),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(
                        self.outside(user_path, "`..` is not allowed; name the file from the workspace root instead")
                    );
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(self.outside(user_path, "give a path relative to the workspace root"));
                }
            }
        }

        // Walk down while the path exists, so symlinks along it are resolved by the OS.
        let mut existing = self.root.clone();
        let mut depth = 0;
        for name in &names {
            let next = existing.join(name);
            match std::fs::symlink_metadata(&next) {
                Ok(_) => {
                    existing = next;
                    depth += 1;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => break,
                Err(e) if e.kind() == ErrorKind::NotADirectory => {
                    return Err(CodeError::InvalidInput(format!(
                        "{user_path:?} goes through {}, which is a file, not a directory",
                        self.display(&existing)
                    )));
                }
                Err(e) => return Err(CodeError::io(format!("checking {user_path:?}"), e)),
            }
        }
        let canonical = std::fs::canonicalize(&existing).map_err(|e| match e.kind() {
            ErrorKind::NotFound => self.outside(user_path, "it goes through a symlink whose target does not exist"),
            _ => CodeError::io(format!("resolving {user_path:?}"), e),
        })?;
        if !canonical.starts_with(&self.root) {
            return Err(self.outside(user_path, "it goes through a symlink that points out of the workspace"));
        }
        Ok(names[depth..].iter().fold(canonical, |path, name| path.join(name)))
    }

    /// `path` (absolute, inside the workspace) as the workspace-relative string tools answer
    /// with: `.` for the root, `/` between components.
    pub fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
            Err(_) => path.display().to_string(),
        }
    }

    /// An `OUTSIDE_WORKSPACE` error for `path`.
    fn outside(&self, path: &str, reason: &str) -> CodeError {
        CodeError::OutsideWorkspace {
            path: path.to_string(),
            root: self.root.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ErrorCode;
    use pretty_assertions::assert_eq;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Workspace) {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(inside.path().join("src")).unwrap();
        std::fs::write(inside.path().join("src/lib.rs"), "fn main() {}\n").unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret\n").unwrap();
        let ws = Workspace::new(inside.path()).unwrap();
        (inside, outside, ws)
    }

    fn code(result: Result<PathBuf, CodeError>) -> String {
        result.unwrap_err().code().to_string()
    }

    #[test]
    fn relative_and_absolute_paths_inside_resolve_under_the_root() {
        let (_in, _out, ws) = setup();
        let lib = ws.root().join("src/lib.rs");
        assert_eq!(ws.resolve("src/lib.rs").unwrap(), lib);
        assert_eq!(ws.resolve("./src/./lib.rs").unwrap(), lib);
        assert_eq!(ws.resolve(lib.to_str().unwrap()).unwrap(), lib);
        assert_eq!(ws.resolve(".").unwrap(), ws.root());
        assert_eq!(ws.resolve("new/dir/file.txt").unwrap(), ws.root().join("new/dir/file.txt"));
    }

    #[test]
    fn a_dot_dot_component_is_refused_even_when_it_would_stay_inside() {
        let (_in, _out, ws) = setup();
        assert_eq!(code(ws.resolve("../x")), "OUTSIDE_WORKSPACE");
        assert_eq!(code(ws.resolve("src/../src/lib.rs")), "OUTSIDE_WORKSPACE");
        let err = ws.resolve("../x").unwrap_err().to_string();
        assert!(err.contains("`..` is not allowed"), "{err}");
    }

    #[test]
    fn an_absolute_path_elsewhere_is_refused() {
        let (_in, _out, ws) = setup();
        assert_eq!(code(ws.resolve("/etc/passwd")), "OUTSIDE_WORKSPACE");
    }

    #[test]
    fn a_symlinked_file_pointing_out_is_refused() {
        let (inside, outside, ws) = setup();
        symlink(outside.path().join("secret"), inside.path().join("leak")).unwrap();
        assert_eq!(code(ws.resolve("leak")), "OUTSIDE_WORKSPACE");
    }

    #[test]
    fn a_symlinked_directory_pointing_out_is_refused_for_files_that_do_not_exist_yet() {
        let (inside, outside, ws) = setup();
        symlink(outside.path(), inside.path().join("out")).unwrap();
        assert_eq!(code(ws.resolve("out/secret")), "OUTSIDE_WORKSPACE");
        assert_eq!(code(ws.resolve("out/new/file.txt")), "OUTSIDE_WORKSPACE");
    }

    #[test]
    fn a_dangling_symlink_is_refused() {
        let (inside, outside, ws) = setup();
        symlink(outside.path().join("missing"), inside.path().join("dangling")).unwrap();
        assert_eq!(code(ws.resolve("dangling")), "OUTSIDE_WORKSPACE");
    }

    #[test]
    fn a_symlink_that_stays_inside_is_followed() {
        let (inside, _out, ws) = setup();
        symlink(inside.path().join("src"), inside.path().join("alias")).unwrap();
        assert_eq!(ws.resolve("alias/lib.rs").unwrap(), ws.root().join("src/lib.rs"));
    }

    #[test]
    fn empty_paths_and_paths_through_a_file_are_invalid_input() {
        let (_in, _out, ws) = setup();
        assert_eq!(code(ws.resolve("")), "INVALID_INPUT");
        assert_eq!(code(ws.resolve("src/lib.rs/x")), "INVALID_INPUT");
    }

    #[test]
    fn a_missing_workspace_is_not_found_naming_the_variable() {
        let err = Workspace::new("/definitely/not/here").unwrap_err();
        assert_eq!(err.code(), "NOT_FOUND");
        assert!(err.to_string().contains(WORKSPACE_ENV), "{err}");
    }

    #[test]
    fn display_is_workspace_relative() {
        let (_in, _out, ws) = setup();
        assert_eq!(ws.display(ws.root()), ".");
        assert_eq!(ws.display(&ws.root().join("src/lib.rs")), "src/lib.rs");
    }
}
