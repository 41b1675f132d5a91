//! agentos-worker-code-agent: the workbench tools (`code::*`), confined to one workspace.
//!
//! A model calls these through the bus to read, list, search and write files, apply unified
//! diffs and run commands. This crate is the domain: typed requests and one function per tool
//! ([`read_file`], [`list`], [`search`], [`write_file`], [`apply_patch`], [`run_command`]) over
//! a [`Workspace`], so unit tests run them on a temporary directory. [`register()`] binds them
//! to the engine.
//!
//! Rules it keeps:
//! - Everything stays inside the workspace root (`AGENTOS_WORKSPACE`, else the directory the
//!   worker started in): `..`, absolute paths elsewhere and symlinks pointing out are
//!   `OUTSIDE_WORKSPACE` ([`workspace`]).
//! - Inputs come from a model: requests reject unknown fields, every limit is checked, and every
//!   error names what was wrong and what to send instead ([`CodeError`]).
//! - Every answer is bounded: file reads, listings, search matches and command output all have
//!   caps, and say `truncated` when they hit them.
//! - A patch applies whole or not at all ([`patch`]); a command that times out is killed with
//!   its whole process group and reported as `timed_out`, not as an error ([`command`]).
//! - Commands run in the OS sandbox ([`sandbox`]): bubblewrap namespaces with only the workspace
//!   writable, no home directory, no network unless `[sandbox] network = true`, and limits.

pub mod command;
mod error;
pub mod files;
pub mod patch;
pub mod register;
pub mod sandbox;
pub mod schemas;
pub mod workspace;

pub use command::{CommandOutput, RunCommand, run_command};
pub use error::{CodeError, IO_ERROR, OUTSIDE_WORKSPACE, PATCH_FAILED, SANDBOX_UNAVAILABLE, TOO_LARGE};
pub use files::{
    Entry, EntryKind, FileContent, List, Listing, Match, ReadFile, Search, SearchResult, WriteFile, Written, list,
    read_file, search, write_file,
};
pub use patch::{ApplyPatch, PatchAction, PatchResult, PatchedFile, apply_patch};
pub use register::{MANIFEST, Tools, register, run, worker};
pub use sandbox::{Sandbox, SandboxInfo, SandboxReport, SandboxSettings};
pub use workspace::{WORKSPACE_ENV, Workspace};

#[cfg(test)]
mod command_tests;
#[cfg(test)]
mod patch_tests;
#[cfg(test)]
mod sandbox_tests;
#[cfg(test)]
mod tests;
