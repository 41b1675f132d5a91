//! The workspace directory the agent works in, as every worker finds it, and where a path
//! really leads from it.
//!
//! Rules it keeps:
//! - The workspace is `AGENTOS_WORKSPACE` (set by the supervisor for every worker it starts),
//!   else the current directory. An empty variable counts as unset.
//! - [`leads_to`] answers where a path ends up the way the kernel would open it: symlinks that
//!   exist are followed, and a `..` after a symlink climbs from the symlink's target, not from
//!   the link. Parts that do not exist yet are appended as plain names. It is read-only (stat
//!   and readlink), so a policy can ask it without changing anything.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The environment variable that names the workspace root.
pub const WORKSPACE_ENV: &str = "AGENTOS_WORKSPACE";

/// The workspace directory (see the module rules), not canonicalised; errors only when the
/// current directory cannot be read.
pub fn workspace_dir() -> io::Result<PathBuf> {
    workspace_dir_from(std::env::var_os(WORKSPACE_ENV))
}

/// [`workspace_dir`] from the variable's value, so the rule is testable without touching the
/// process environment.
pub fn workspace_dir_from(var: Option<OsString>) -> io::Result<PathBuf> {
    match var {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => std::env::current_dir(),
    }
}

/// Where `path` leads when opened from the directory `base`: absolute, with symlinks resolved
/// as far as the path exists and every `.`/`..` gone. `base` must be absolute.
pub fn leads_to(base: &Path, path: &Path) -> PathBuf {
    leads_to_within(base, path, MAX_LINKS)
}

/// How many dangling symlinks [`leads_to`] follows by hand before it stops: the kernel's own
/// limit (40), so a loop of links ends.
const MAX_LINKS: u32 = 40;

fn leads_to_within(base: &Path, path: &Path, links_left: u32) -> PathBuf {
    let start = if path.is_absolute() { PathBuf::from("/") } else { base.to_path_buf() };
    let mut here = std::fs::canonicalize(&start).unwrap_or(start);
    let mut exists = true;
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                here.pop();
            }
            Component::Normal(name) => {
                here.push(name);
                if exists {
                    match std::fs::canonicalize(&here) {
                        Ok(real) => here = real,
                        // A dangling symlink leads to its target (which may lie anywhere).
                        Err(_) => match std::fs::read_link(&here) {
                            Ok(target) if links_left > 0 => {
                                here.pop();
                                here = leads_to_within(&here, &target, links_left - 1);
                                exists = false;
                            }
                            _ => exists = false,
                        },
                    }
                }
            }
        }
    }
    here
}

/// Whether `path`, opened from `base`, stays inside `root` (which should be canonical); see
/// [`leads_to`].
pub fn stays_within(root: &Path, base: &Path, path: &Path) -> bool {
    leads_to(base, path).starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap().join("ws");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("README.md"), "hi").unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        (dir, root)
    }

    #[test]
    fn plain_paths_and_new_names_stay_where_they_are_written() {
        let (_dir, root) = tree();
        assert_eq!(leads_to(&root, Path::new("README.md")), root.join("README.md"));
        assert_eq!(leads_to(&root, Path::new("./src/new/file.rs")), root.join("src/new/file.rs"));
        assert_eq!(leads_to(&root, Path::new("src/../README.md")), root.join("README.md"));
        assert!(stays_within(&root, &root, Path::new("src/../src")));
    }

    #[test]
    fn symlinks_are_followed_and_dot_dot_climbs_from_their_target() {
        let (_dir, root) = tree();
        symlink("/etc/passwd", root.join("pw")).unwrap();
        assert_eq!(leads_to(&root, Path::new("pw")), PathBuf::from("/etc/passwd"));
        assert!(!stays_within(&root, &root, Path::new("pw")));
        let outside = root.parent().unwrap().join("outside");
        symlink(&outside, root.join("src/out")).unwrap();
        assert_eq!(leads_to(&root, Path::new("src/out/x")), outside.join("x"));
        // `src/out/../ws` is the workspace again: `..` from the target, not from `src`.
        assert!(stays_within(&root, &root, Path::new("src/out/../ws/README.md")));
        assert!(!stays_within(&root, &root, Path::new("src/out/..")));
    }

    #[test]
    fn a_dangling_symlink_leads_to_its_target() {
        let (_dir, root) = tree();
        symlink("/nonexistent/secret", root.join("dangling")).unwrap();
        assert_eq!(leads_to(&root, Path::new("dangling")), PathBuf::from("/nonexistent/secret"));
    }

    #[test]
    fn a_loop_of_symlinks_ends() {
        let (_dir, root) = tree();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        assert!(stays_within(&root, &root, Path::new("a")));
    }

    #[test]
    fn the_workspace_is_the_variable_else_the_current_directory() {
        assert_eq!(workspace_dir_from(Some("/w".into())).unwrap(), PathBuf::from("/w"));
        assert_eq!(workspace_dir_from(Some("".into())).unwrap(), std::env::current_dir().unwrap());
        assert_eq!(workspace_dir_from(None).unwrap(), std::env::current_dir().unwrap());
    }
}
