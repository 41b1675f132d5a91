//! One module per concern. Tests that need the real model read it from
//! `AGENTOS_EMBEDDING_MODEL_DIR` (scripts/test exports it after scripts/install-test-deps.sh has
//! installed the model into `.models/`) and fail, naming the script, when it is not there.

mod bus;
mod install;
mod reference;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use agentos_worker_embedding::Model;
use agentos_worker_embedding::model::{MODEL_DIR_ENV, missing_files};

/// How long a bus call may take in tests: generous for a loaded CI machine (the first call may
/// wait for the model to load).
pub const T: Duration = Duration::from_secs(30);

/// The installed model's folder; panics with the fix when it is not installed.
pub fn model_dir() -> PathBuf {
    let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from) else {
        panic!(
            "{MODEL_DIR_ENV} is not set: these tests need the all-MiniLM-L6-v2 model; run scripts/install-test-deps.sh, then export {MODEL_DIR_ENV}=$PWD/.models/all-minilm-l6-v2 (scripts/test does both)"
        );
    };
    let missing = missing_files(&dir);
    assert!(
        missing.is_empty(),
        "{MODEL_DIR_ENV}={} lacks {}: run scripts/install-test-deps.sh to install the model there",
        dir.display(),
        missing.join(", ")
    );
    dir
}

/// The model, loaded once for the whole test binary.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load(&model_dir()).unwrap())
}
