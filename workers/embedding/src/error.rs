//! The embedding worker's typed errors.
//!
//! Rule: every variant has a stable code (its [`ErrorCode::code`]) and a message that says how
//! to fix the problem. Leaving the crate, an [`EmbeddingError`] becomes the kit's
//! [`agentos_kit::WorkerError`], so bus callers get the code back. The installer's errors are
//! [`crate::install::InstallError`].

use std::path::PathBuf;

use agentos_kit::{ErrorCode, codes};

/// The code of [`EmbeddingError::ModelMissing`].
pub use agentos_kit::codes::MODEL_MISSING;

/// The code of [`EmbeddingError::ModelInvalid`].
pub const MODEL_INVALID: &str = "MODEL_INVALID";

/// Why an embedding could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The model folder lacks files (`MODEL_MISSING`).
    #[error(
        "the embedding model is not installed: {} lacks {}; fix: run `agentos models install` (or set AGENTOS_EMBEDDING_MODEL_DIR to a folder holding config.json, model.safetensors and tokenizer.json)",
        .dir.display(),
        .missing.join(", ")
    )]
    ModelMissing {
        /// The folder looked in.
        dir: PathBuf,
        /// The files it lacks.
        missing: Vec<String>,
    },
    /// The model files are there but do not load (`MODEL_INVALID`).
    #[error(
        "the embedding model in {} does not load ({what}): {source}; fix: reinstall it with `agentos models install --force`",
        .dir.display()
    )]
    ModelInvalid {
        /// The model folder.
        dir: PathBuf,
        /// Which part failed (a file name, or the weights).
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request breaks a limit (`INVALID_INPUT`); the message names the limit.
    #[error("{0}")]
    Invalid(String),
    /// A forward pass failed (`INTERNAL`): a bug, or the machine ran out of memory.
    #[error(
        "the embedding forward pass failed: {0}; fix: retry with fewer or shorter texts, and report it if it persists"
    )]
    Inference(#[source] candle_core::Error),
    /// The tokenizer rejected an input (`INTERNAL`).
    #[error("the tokenizer failed: {0}; fix: check the texts are valid UTF-8 text, and report it if it persists")]
    Tokenize(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The blocking task running the model died (`INTERNAL`).
    #[error("the embedding task stopped before it answered: {0}; fix: retry, and see `agentos logs embedding`")]
    Task(#[source] tokio::task::JoinError),
}

impl ErrorCode for EmbeddingError {
    fn code(&self) -> &str {
        match self {
            Self::ModelMissing { .. } => MODEL_MISSING,
            Self::ModelInvalid { .. } => MODEL_INVALID,
            Self::Invalid(_) => codes::INVALID_INPUT,
            Self::Inference(_) | Self::Tokenize(_) | Self::Task(_) => codes::INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::WorkerError;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_missing_model_names_the_folder_the_files_and_the_install_command() {
        let e = EmbeddingError::ModelMissing {
            dir: PathBuf::from("/data/models/all-minilm-l6-v2"),
            missing: vec!["model.safetensors".into(), "tokenizer.json".into()],
        };
        assert_eq!(
            e.to_worker_error(),
            WorkerError::new(
                "MODEL_MISSING",
                "the embedding model is not installed: /data/models/all-minilm-l6-v2 lacks model.safetensors, tokenizer.json; fix: run `agentos models install` (or set AGENTOS_EMBEDDING_MODEL_DIR to a folder holding config.json, model.safetensors and tokenizer.json)"
            )
        );
    }

    #[test]
    fn a_model_that_does_not_load_says_to_reinstall_it() {
        let e = EmbeddingError::ModelInvalid {
            dir: PathBuf::from("/m"),
            what: "config.json".into(),
            source: "expected value at line 1 column 1".into(),
        };
        assert_eq!(e.code(), "MODEL_INVALID");
        assert_eq!(
            e.to_string(),
            "the embedding model in /m does not load (config.json): expected value at line 1 column 1; fix: reinstall it with `agentos models install --force`"
        );
    }
}
