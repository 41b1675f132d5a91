//! The builtin rules: what agentos decides about the `code::*` workbench tools when neither the
//! config nor the hand says otherwise (and, for denials, even when they do).
//!
//! - **deny** (`builtin:privileged-command`): `code::run_command` of `sudo`, `su`, `shutdown`,
//!   `reboot`, `mkfs*` or `dd`, by name or by path (`/usr/bin/sudo`).
//! - **deny** (`builtin:destructive-rm`): `rm` with `-r`/`-R`/`--recursive` (alone or in a flag
//!   cluster such as `-rf`) on `/`, `~` or `..` (also `/*`, `~/`, `../..` and the like).
//! - **auto** (`builtin:read-only-code`): `code::read_file`, `code::list`, `code::search`: they
//!   only read inside the workspace.
//! - **auto** (`builtin:safe-command`): `code::run_command` of a read-only program on
//!   [`SAFE_PROGRAMS`], named exactly (no path), with no argument reaching outside the workspace
//!   (absolute, `~…` or `..` paths, and, when the workspace is known, any argument that leads
//!   out of it on disk, through a symlink for example: [`escaping_argument`]), and without the flags that make it write or run other
//!   programs: `find` without `-exec`/`-execdir`/`-ok`/`-okdir`/`-delete`/`-fprint*`/`-fls`;
//!   `git` only as `status`, `diff`, `log`, `show`, `branch` (listing only), `rev-parse`,
//!   `ls-files` or `blame`, never with `--output` or `--ext-diff`; `rg` without `--pre`;
//!   `tree` without `-o`/`-R`; `file` without `-C`.
//! - **auto** (`builtin:memory`): `memory::recall`, `memory::get`, `memory::stats` and
//!   `memory::store`: agent-core runs them in the turn's own realm, and a stored memory changes
//!   nothing outside it. `memory::forget`, `consolidate` and `evict` delete, so they fall to the
//!   default (`ask`).
//! - **ask** (`builtin:workspace-write`): `code::write_file` and `code::apply_patch`.
//! - **ask** (`builtin:command`): every other `code::run_command`, with the reason it is not
//!   safe (for example `sh -c` runs a script, which is never on the safe list).
//!
//! Rule: only exact, reviewable facts about a command make it `auto`; anything this module cannot
//! see through (a shell, a wrapper like `env`, a program given by path) is `ask`.
//!
//! The one look at the disk: where a safe command's arguments lead ([`escaping_argument`], read
//! only: stat and readlink), because a name like `pw` says nothing about a symlink behind it.

use std::path::Path;

use agentos_kit::workspace::leads_to;
use serde_json::Value;

use crate::rules::Tier;

/// The read-only programs `code::run_command` may run without asking.
pub const SAFE_PROGRAMS: &[&str] = &[
    "ls", "cat", "head", "tail", "wc", "pwd", "echo", "grep", "rg", "find", "tree", "stat", "file", "du", "df",
    "which", "git",
];

/// The git subcommands that only read.
pub const SAFE_GIT: &[&str] = &["status", "diff", "log", "show", "branch", "rev-parse", "ls-files", "blame"];

/// Programs an agent never runs: privilege changes, power, raw disks.
pub const DENIED_PROGRAMS: &[&str] = &["sudo", "su", "shutdown", "reboot", "dd"];

/// `find` actions that run programs, delete or write files.
const FIND_UNSAFE: &[&str] =
    &["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"];

/// `git branch` flags that change branches (anything else but listing flags is unsafe too, see
/// [`git_branch_lists_only`]).
const GIT_BRANCH_WRITES: &[&str] = &[
    "-d",
    "-D",
    "--delete",
    "-m",
    "-M",
    "--move",
    "-c",
    "-C",
    "--copy",
    "-f",
    "--force",
    "-u",
    "--set-upstream-to",
    "--unset-upstream",
    "--edit-description",
    "-t",
    "--track",
    "--no-track",
    "--create-reflog",
];

/// A builtin rule that matched: its id, the function pattern it is written for, its tier and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinMatch {
    /// `builtin:…`.
    pub id: &'static str,
    /// The function pattern the rule is written for.
    pub function: &'static str,
    /// The tier it gives.
    pub tier: Tier,
    /// Why, in words.
    pub reason: String,
}

impl BuiltinMatch {
    fn new(id: &'static str, function: &'static str, tier: Tier, reason: String) -> Self {
        Self { id, function, tier, reason }
    }
}

/// The function id of the command tool.
const RUN_COMMAND: &str = "code::run_command";

/// The builtin denial that covers the call, if any.
pub fn deny(function_id: &str, arguments: &Value) -> Option<BuiltinMatch> {
    let (program, args) = command(function_id, arguments)?;
    let name = program.rsplit('/').next().unwrap_or(program);
    if DENIED_PROGRAMS.contains(&name) || name.starts_with("mkfs") {
        return Some(BuiltinMatch::new(
            "builtin:privileged-command",
            RUN_COMMAND,
            Tier::Deny,
            format!(
                "`{name}` is never run by an agent: privilege changes (sudo, su), shutdown/reboot, formatting (mkfs*) and raw disk copies (dd) are denied by the builtin policy"
            ),
        ));
    }
    if name == "rm"
        && let Some(target) = destructive_rm_target(&args)
    {
        return Some(BuiltinMatch::new(
            "builtin:destructive-rm",
            RUN_COMMAND,
            Tier::Deny,
            format!(
                "`rm` recursive on `{target}` is denied by the builtin policy: it would delete far outside the task; remove specific paths inside the workspace instead"
            ),
        ));
    }
    None
}

/// The builtin auto/ask rule that covers the call, if any (denials are [`deny`]'s). With the
/// `workspace` root (canonical), a safe command whose argument leads out of it asks.
pub fn decide(function_id: &str, arguments: &Value, workspace: Option<&Path>) -> Option<BuiltinMatch> {
    match function_id {
        "code::read_file" | "code::list" | "code::search" => Some(BuiltinMatch::new(
            "builtin:read-only-code",
            "code::read_file|list|search",
            Tier::Auto,
            format!("{function_id} only reads inside the workspace"),
        )),
        "memory::recall" | "memory::get" | "memory::stats" | "memory::store" => Some(BuiltinMatch::new(
            "builtin:memory",
            "memory::recall|get|stats|store",
            Tier::Auto,
            format!("{function_id} works in the turn's own realm and deletes nothing"),
        )),
        "code::write_file" | "code::apply_patch" => Some(BuiltinMatch::new(
            "builtin:workspace-write",
            "code::write_file|apply_patch",
            Tier::Ask,
            format!("{function_id} changes files in the workspace, so a person approves it"),
        )),
        RUN_COMMAND => {
            let (program, args) = command(function_id, arguments)?;
            let checked = safe_command(program, &args).and_then(|()| match workspace {
                Some(root) => {
                    let cwd = arguments.get("cwd").and_then(Value::as_str).unwrap_or(".");
                    match escaping_argument(root, cwd, &args) {
                        Some((arg, target)) => {
                            Err(format!("the argument `{arg}` leads to {}, outside the workspace", target.display()))
                        }
                        None => Ok(()),
                    }
                }
                None => Ok(()),
            });
            Some(match checked {
                Ok(()) => BuiltinMatch::new(
                    "builtin:safe-command",
                    RUN_COMMAND,
                    Tier::Auto,
                    format!("`{}` is a read-only command on the builtin safe list", shown(program, &args)),
                ),
                Err(why) => BuiltinMatch::new(
                    "builtin:command",
                    RUN_COMMAND,
                    Tier::Ask,
                    format!("{why}, so a person approves `{}`", shown(program, &args)),
                ),
            })
        }
        _ => None,
    }
}

/// The program and arguments of a `code::run_command` call; `None` for other functions or when
/// `program` is not a string (the tool will refuse such a call itself).
fn command<'a>(function_id: &str, arguments: &'a Value) -> Option<(&'a str, Vec<&'a str>)> {
    if function_id != RUN_COMMAND {
        return None;
    }
    let program = arguments.get("program")?.as_str()?;
    let args = match arguments.get("args") {
        Some(Value::Array(items)) => items.iter().map(|a| a.as_str().unwrap_or("")).collect(),
        _ => Vec::new(),
    };
    Some((program, args))
}

/// `program args…` for messages, shortened to 80 characters.
fn shown(program: &str, args: &[&str]) -> String {
    let full = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    if full.chars().count() > 80 { format!("{}…", full.chars().take(79).collect::<String>()) } else { full }
}

/// Whether a command is on the safe list: `Ok` when it is, else why not (a sentence fragment).
pub fn safe_command(program: &str, args: &[&str]) -> Result<(), String> {
    if program.contains('/') {
        return Err(format!("`{program}` is given by path, and only safe-list programs named exactly run unasked"));
    }
    if matches!(program, "sh" | "bash" | "zsh" | "dash" | "fish") {
        return Err(format!("`{program}` runs a shell script, which is never on the safe list"));
    }
    if !SAFE_PROGRAMS.contains(&program) {
        return Err(format!("`{program}` is not on the read-only safe list"));
    }
    if let Some(arg) = args.iter().find(|a| leaves_workspace(a)) {
        return Err(format!("the argument `{arg}` reaches outside the workspace"));
    }
    let has = |flags: &[&str]| args.iter().find(|a| flags.iter().any(|f| *a == f || a.starts_with(&format!("{f}="))));
    match program {
        "find" => match has(FIND_UNSAFE) {
            Some(flag) => Err(format!("`find {flag}` can run programs, delete or write files")),
            None => Ok(()),
        },
        "git" => {
            let Some(sub) = args.first() else { return Ok(()) };
            if !SAFE_GIT.contains(sub) {
                return Err(format!("`git {sub}` is not one of the read-only git commands ({})", SAFE_GIT.join(", ")));
            }
            if let Some(flag) = has(&["--output", "--ext-diff"]) {
                return Err(format!("`git {sub} {flag}` writes a file or runs an external diff program"));
            }
            if *sub == "branch" && !git_branch_lists_only(&args[1..]) {
                return Err("`git branch` with these arguments creates, deletes or changes branches".to_string());
            }
            Ok(())
        }
        "rg" => match has(&["--pre", "--pre-glob"]) {
            Some(flag) => Err(format!("`rg {flag}` runs a preprocessor program")),
            None => Ok(()),
        },
        "tree" => match has(&["-o", "-R"]) {
            Some(flag) => Err(format!("`tree {flag}` writes files")),
            None => Ok(()),
        },
        "file" => match has(&["-C", "--compile"]) {
            Some(flag) => Err(format!("`file {flag}` writes a compiled magic file")),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The first argument (or `--flag=value` value) of a command run in `cwd` (relative to `root`)
/// that leads outside `root` on disk, with where it leads: symlinks followed, `..` normalised.
/// Flags (`-x`) are not paths; every other argument is taken as one, since a pattern that
/// names no file stays inside anyway. The working directory itself counts too.
pub fn escaping_argument<'a>(root: &Path, cwd: &'a str, args: &[&'a str]) -> Option<(&'a str, std::path::PathBuf)> {
    let base = leads_to(root, Path::new(cwd));
    if !base.starts_with(root) {
        return Some((cwd, base));
    }
    args.iter().find_map(|arg| {
        let value = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => value,
            _ if arg.starts_with('-') => return None,
            _ => arg,
        };
        if value.is_empty() {
            return None;
        }
        let target = leads_to(&base, Path::new(value));
        (!target.starts_with(root)).then_some((*arg, target))
    })
}

/// Whether `git branch` arguments only list: every one is a flag, and none changes a branch.
fn git_branch_lists_only(args: &[&str]) -> bool {
    args.iter()
        .all(|a| a.starts_with('-') && !GIT_BRANCH_WRITES.iter().any(|f| a == f || a.starts_with(&format!("{f}="))))
        && !args
            .iter()
            .any(|a| !a.starts_with("--") && a.len() > 2 && a.chars().skip(1).any(|c| "dDmMcCfut".contains(c)))
}

/// Whether an argument (or the value of `--flag=value`) is a path outside the workspace: absolute,
/// under a home directory (`~…`), or with a `..` component.
fn leaves_workspace(arg: &str) -> bool {
    let value = match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with('-') => value,
        _ => arg,
    };
    value.starts_with('/') || value.starts_with('~') || value.split('/').any(|c| c == "..")
}

/// The target that makes an `rm` destructive: a recursive flag plus a target that is `/`, a home
/// directory or only `..` components. `None` when it is not both.
fn destructive_rm_target(args: &[&str]) -> Option<String> {
    let mut recursive = false;
    let mut targets = Vec::new();
    let mut after_dashdash = false;
    for arg in args {
        if after_dashdash {
            targets.push(*arg);
        } else if *arg == "--" {
            after_dashdash = true;
        } else if *arg == "--recursive" {
            recursive = true;
        } else if arg.starts_with("--") {
            // other long options (--force, --no-preserve-root, ...) do not name targets
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            recursive |= cluster.contains(['r', 'R']);
        } else {
            targets.push(*arg);
        }
    }
    if !recursive {
        return None;
    }
    targets.into_iter().find(|t| is_root_home_or_parent(t)).map(str::to_string)
}

/// `/`, `~`, `~user`, `$HOME` or `..` (after dropping empty, `.` and `*` components, so `/*`,
/// `~/`, `../..` count too).
fn is_root_home_or_parent(target: &str) -> bool {
    let parts: Vec<&str> = target.split('/').filter(|c| !matches!(*c, "" | "." | "*")).collect();
    if target.starts_with('/') && parts.is_empty() {
        return true;
    }
    match parts.split_first() {
        Some((first, rest)) if first.starts_with('~') || *first == "$HOME" || *first == "${HOME}" => rest.is_empty(),
        Some(_) => parts.iter().all(|c| *c == ".."),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn run(program: &str, args: &[&str]) -> Value {
        json!({"program": program, "args": args})
    }

    /// The builtin tier of `program args`: deny first, then the auto/ask rules.
    fn tier(program: &str, args: &[&str]) -> (Tier, &'static str) {
        let call = run(program, args);
        let m = deny(RUN_COMMAND, &call).or_else(|| decide(RUN_COMMAND, &call, None)).unwrap();
        (m.tier, m.id)
    }

    #[test]
    fn read_only_programs_of_the_safe_list_are_auto() {
        for (program, args) in [
            ("ls", vec!["-la", "src"]),
            ("cat", vec!["Cargo.toml"]),
            ("head", vec!["-n", "5", "README.md"]),
            ("tail", vec!["x.log"]),
            ("wc", vec!["-l", "a.rs"]),
            ("pwd", vec![]),
            ("echo", vec!["hi"]),
            ("grep", vec!["-rn", "fn main", "src"]),
            ("rg", vec!["TODO", "--glob", "*.rs"]),
            ("find", vec![".", "-name", "*.rs", "-type", "f"]),
            ("tree", vec!["-L", "2"]),
            ("stat", vec!["a"]),
            ("file", vec!["a.bin"]),
            ("du", vec!["-sh", "."]),
            ("df", vec!["-h"]),
            ("which", vec!["cargo"]),
            ("git", vec!["status"]),
            ("git", vec!["diff", "--stat"]),
            ("git", vec!["log", "--oneline", "-5"]),
            ("git", vec!["show", "HEAD"]),
            ("git", vec!["branch", "-a", "--list"]),
            ("git", vec!["rev-parse", "HEAD"]),
            ("git", vec!["ls-files"]),
            ("git", vec!["blame", "src/lib.rs"]),
        ] {
            assert_eq!(tier(program, &args), (Tier::Auto, "builtin:safe-command"), "{program} {args:?}");
        }
    }

    #[test]
    fn flags_that_write_or_run_programs_and_other_git_subcommands_ask() {
        for (program, args) in [
            ("find", vec![".", "-name", "*.tmp", "-delete"]),
            ("find", vec![".", "-exec", "rm", "{}", ";"]),
            ("find", vec![".", "-execdir", "sh", "-c", "x", ";"]),
            ("find", vec![".", "-fprint", "out.txt"]),
            ("git", vec!["push"]),
            ("git", vec!["commit", "-m", "x"]),
            ("git", vec!["reset", "--hard"]),
            ("git", vec!["-c", "core.pager=evil", "log"]),
            ("git", vec!["diff", "--output=patch.txt"]),
            ("git", vec!["log", "--ext-diff"]),
            ("git", vec!["branch", "new-feature"]),
            ("git", vec!["branch", "-D", "main"]),
            ("git", vec!["branch", "-vD", "main"]),
            ("git", vec!["branch", "--set-upstream-to=origin/x"]),
            ("rg", vec!["--pre", "sh", "x"]),
            ("rg", vec!["--pre=./evil", "x"]),
            ("tree", vec!["-o", "out.txt"]),
            ("file", vec!["-C", "-m", "magic"]),
            ("sh", vec!["-c", "ls"]),
            ("bash", vec!["-c", "cat a"]),
            ("env", vec!["ls"]),
            ("cargo", vec!["build"]),
            ("./ls", vec![]),
            ("/bin/cat", vec!["a"]),
            ("cat", vec!["/etc/passwd"]),
            ("cat", vec!["~/.ssh/id_rsa"]),
            ("grep", vec!["-r", "x", "../other"]),
            ("ls", vec!["--directory=/"]),
            ("rm", vec!["-rf", "target"]),
            ("rm", vec!["a.txt"]),
        ] {
            assert_eq!(tier(program, &args), (Tier::Ask, "builtin:command"), "{program} {args:?}");
        }
    }

    #[test]
    fn privileged_programs_by_name_or_path_are_denied() {
        for (program, args) in [
            ("sudo", vec!["ls"]),
            ("su", vec!["-"]),
            ("shutdown", vec!["-h", "now"]),
            ("reboot", vec![]),
            ("mkfs", vec!["/dev/sda1"]),
            ("mkfs.ext4", vec!["/dev/sda1"]),
            ("dd", vec!["if=/dev/zero", "of=/dev/sda"]),
            ("/usr/bin/sudo", vec!["true"]),
        ] {
            assert_eq!(tier(program, &args), (Tier::Deny, "builtin:privileged-command"), "{program} {args:?}");
        }
    }

    #[test]
    fn recursive_rm_of_root_home_or_parent_is_denied_and_other_rm_asks() {
        for args in [
            vec!["-rf", "/"],
            vec!["-r", "~"],
            vec!["-fr", ".."],
            vec!["-R", "../.."],
            vec!["--recursive", "/*"],
            vec!["-rf", "--no-preserve-root", "/"],
            vec!["-r", "-f", "~/"],
            vec!["-rf", "target", "~/*"],
            vec!["-rf", "--", "$HOME"],
            vec!["-vrf", "//"],
        ] {
            assert_eq!(tier("rm", &args), (Tier::Deny, "builtin:destructive-rm"), "rm {args:?}");
        }
        for args in [vec!["-f", "/"], vec!["-rf", "target"], vec!["-rf", "./build"], vec!["-rf", "../x"], vec!["~"]] {
            assert_eq!(tier("rm", &args).0, Tier::Ask, "rm {args:?}");
        }
    }

    #[test]
    fn read_only_tools_are_auto_and_writes_ask_and_other_functions_have_no_builtin() {
        let read = decide("code::search", &json!({"pattern": "x"}), None).unwrap();
        assert_eq!((read.tier, read.id), (Tier::Auto, "builtin:read-only-code"));
        let write = decide("code::apply_patch", &json!({"patch": "x"}), None).unwrap();
        assert_eq!((write.tier, write.id), (Tier::Ask, "builtin:workspace-write"));
        let remember = decide("memory::store", &json!({"text": "x"}), None).unwrap();
        assert_eq!((remember.tier, remember.id), (Tier::Auto, "builtin:memory"));
        assert_eq!(decide("memory::forget", &json!({"id": "m1"}), None), None);
        assert_eq!(decide("vault::get", &json!({}), None), None);
        assert_eq!(deny("code::write_file", &json!({"program": "sudo"})), None);
    }

    #[test]
    fn a_safe_command_whose_argument_leads_out_of_the_workspace_through_a_symlink_asks() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("README.md"), "hi").unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("src/etc")).unwrap();
        let classify = |args: Value| decide(RUN_COMMAND, &args, Some(&root)).unwrap();

        let m = classify(run("cat", &["pw"]));
        assert_eq!((m.tier, m.id), (Tier::Ask, "builtin:command"));
        assert_eq!(
            m.reason,
            "the argument `pw` leads to /etc/passwd, outside the workspace, so a person approves `cat pw`"
        );
        let m = classify(run("cat", &["README.md"]));
        assert_eq!((m.tier, m.id), (Tier::Auto, "builtin:safe-command"));
        // A flag's value, a path through a linked directory, and a cwd through it count too.
        assert_eq!(classify(run("grep", &["-r", "--file=pw", "x"])).tier, Tier::Ask);
        assert_eq!(classify(run("ls", &["src/etc/ssl"])).tier, Tier::Ask);
        assert_eq!(classify(json!({"program": "ls", "args": [], "cwd": "src/etc"})).tier, Tier::Ask);
        // Names that do not exist, and links that stay inside, are fine.
        std::os::unix::fs::symlink(root.join("README.md"), root.join("readme")).unwrap();
        assert_eq!(classify(run("grep", &["-n", "TODO", "readme", "src", "new.txt"])).tier, Tier::Auto);
    }

    #[test]
    fn the_reason_says_why_a_command_is_not_safe() {
        let m = decide(RUN_COMMAND, &run("find", &[".", "-delete"]), None).unwrap();
        assert_eq!(
            m.reason,
            "`find -delete` can run programs, delete or write files, so a person approves `find . -delete`"
        );
        let m = decide(RUN_COMMAND, &run("git", &["status"]), None).unwrap();
        assert_eq!(m.reason, "`git status` is a read-only command on the builtin safe list");
    }
}
