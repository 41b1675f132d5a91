//! The workers this binary can run, in catalogue order. `agentos worker <name>` runs one;
//! `agentos up` supervises the enabled ones.

use agentos_kit::{WorkerError, WorkerManifest};

/// One worker of the catalogue.
pub struct Entry {
    /// Its manifest.
    pub manifest: &'static WorkerManifest,
    /// Runs it in this process until SIGTERM.
    pub run: fn() -> Result<(), WorkerError>,
}

/// Every worker.
pub fn all() -> Vec<Entry> {
    vec![Entry { manifest: &agentos_worker_realm::MANIFEST, run: agentos_worker_realm::run }]
}

/// One worker by name.
pub fn find(name: &str) -> Option<Entry> {
    all().into_iter().find(|e| e.manifest.name == name)
}

/// Every worker's name, for messages.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|e| e.manifest.name).collect()
}
