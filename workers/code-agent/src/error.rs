//! The code-agent worker's typed errors.
//!
//! Rule: every variant has a stable code ([`CodeError::code`]) and a message written for the
//! model that called the tool: it names the path or input at fault and says what to do instead.
//! Leaving the crate, a [`CodeError`] becomes the kit's [`agentos_kit::WorkerError`] with the
//! same code.

use agentos_kit::{ErrorCode, codes};

/// The code for a path that leaves the workspace (`..`, an absolute path elsewhere, a symlink
/// pointing out).
pub const OUTSIDE_WORKSPACE: &str = "OUTSIDE_WORKSPACE";
/// The code for a file or directory that is over a size cap.
pub const TOO_LARGE: &str = "TOO_LARGE";
/// The code for a patch whose hunks do not apply to the files as they are.
pub const PATCH_FAILED: &str = "PATCH_FAILED";
/// The code for a file-system or process failure that is not the caller's fault.
pub const IO_ERROR: &str = "IO_ERROR";
/// The code for a command refused because the OS sandbox cannot be set up and
/// `[sandbox] required` is true.
pub const SANDBOX_UNAVAILABLE: &str = "SANDBOX_UNAVAILABLE";

/// Why a `code::*` tool failed.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The path leaves the workspace (`OUTSIDE_WORKSPACE`).
    #[error("path {path:?} is outside the workspace {root}: {reason}")]
    OutsideWorkspace {
        /// The path as given.
        path: String,
        /// The workspace root, for the message.
        root: String,
        /// Why it is outside and what to give instead.
        reason: String,
    },
    /// The named file or directory does not exist (`NOT_FOUND`).
    #[error("{path:?} does not exist: {hint}")]
    NotFound {
        /// The path as given.
        path: String,
        /// What to do instead.
        hint: String,
    },
    /// The request is malformed or asks for something that cannot be done (`INVALID_INPUT`).
    #[error("{0}")]
    InvalidInput(String),
    /// A file or an input is over a cap (`TOO_LARGE`).
    #[error("{0}")]
    TooLarge(String),
    /// A patch does not apply; nothing was written (`PATCH_FAILED`).
    #[error("{0}; nothing was changed")]
    PatchFailed(String),
    /// A file-system or process operation failed (`IO_ERROR`).
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The worker's own work took too long (`TIMEOUT`). A command that runs past its
    /// `timeout_ms` is not this error: it is a normal result with `timed_out: true`.
    #[error("{0}")]
    Timeout(String),
    /// The OS sandbox cannot be set up and is required (`SANDBOX_UNAVAILABLE`); the message
    /// names the fix.
    #[error("{0}")]
    SandboxUnavailable(String),
}

impl ErrorCode for CodeError {
    fn code(&self) -> &str {
        match self {
            Self::OutsideWorkspace { .. } => OUTSIDE_WORKSPACE,
            Self::NotFound { .. } => codes::NOT_FOUND,
            Self::InvalidInput(_) => codes::INVALID_INPUT,
            Self::TooLarge(_) => TOO_LARGE,
            Self::PatchFailed(_) => PATCH_FAILED,
            Self::Io { .. } => IO_ERROR,
            Self::Timeout(_) => codes::TIMEOUT,
            Self::SandboxUnavailable(_) => SANDBOX_UNAVAILABLE,
        }
    }
}

impl CodeError {
    /// An [`CodeError::Io`] for `what` (which names the path).
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::error::assert_leaves_as;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_message() {
        let table = [
            (
                CodeError::OutsideWorkspace { path: "../x".into(), root: "/w".into(), reason: "r".into() },
                "OUTSIDE_WORKSPACE",
            ),
            (CodeError::NotFound { path: "a".into(), hint: "h".into() }, "NOT_FOUND"),
            (CodeError::InvalidInput("bad".into()), "INVALID_INPUT"),
            (CodeError::TooLarge("big".into()), "TOO_LARGE"),
            (CodeError::PatchFailed("hunk".into()), "PATCH_FAILED"),
            (CodeError::io("reading a", std::io::Error::other("disk")), "IO_ERROR"),
            (CodeError::Timeout("slow".into()), "TIMEOUT"),
            (CodeError::SandboxUnavailable("no bwrap".into()), "SANDBOX_UNAVAILABLE"),
        ];
        for (err, code) in table {
            assert_leaves_as(&err, code);
        }
    }
}
