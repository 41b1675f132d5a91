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
    vec![
        Entry { manifest: &agentos_worker_realm::MANIFEST, run: agentos_worker_realm::run },
        Entry { manifest: &agentos_worker_loop_guard::MANIFEST, run: agentos_worker_loop_guard::run },
        Entry { manifest: &agentos_worker_code_agent::MANIFEST, run: agentos_worker_code_agent::run },
        Entry { manifest: &agentos_worker_llm_router::MANIFEST, run: agentos_worker_llm_router::run },
        Entry { manifest: &agentos_worker_context_manager::MANIFEST, run: agentos_worker_context_manager::run },
        Entry { manifest: &agentos_worker_hand_runner::MANIFEST, run: agentos_worker_hand_runner::run },
        Entry { manifest: &agentos_worker_agent_core::MANIFEST, run: agentos_worker_agent_core::run },
        Entry { manifest: &agentos_worker_streaming::MANIFEST, run: agentos_worker_streaming::run },
        Entry { manifest: &agentos_worker_embedding::MANIFEST, run: agentos_worker_embedding::run },
        Entry { manifest: &agentos_worker_approval_tiers::MANIFEST, run: agentos_worker_approval_tiers::run },
        Entry { manifest: &agentos_worker_approval::MANIFEST, run: agentos_worker_approval::run },
        Entry { manifest: &agentos_worker_session_lifecycle::MANIFEST, run: agentos_worker_session_lifecycle::run },
        Entry { manifest: &agentos_worker_session_replay::MANIFEST, run: agentos_worker_session_replay::run },
        Entry { manifest: &agentos_worker_memory::MANIFEST, run: agentos_worker_memory::run },
        Entry { manifest: &agentos_worker_context_cache::MANIFEST, run: agentos_worker_context_cache::run },
        Entry { manifest: &agentos_worker_security_map::MANIFEST, run: agentos_worker_security_map::run },
    ]
}

/// One worker by name.
pub fn find(name: &str) -> Option<Entry> {
    all().into_iter().find(|e| e.manifest.name == name)
}

/// Every worker's name, for messages.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|e| e.manifest.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ManifestFile;

    #[test]
    fn every_worker_ships_an_iii_worker_yaml_that_agrees_with_its_manifest() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for entry in all() {
            let name = entry.manifest.name;
            let path = root.join("workers").join(name).join("iii.worker.yaml");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file: ManifestFile =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(differences) = entry.manifest.agrees_with(&file) {
                panic!("{} disagrees with the code: {differences:?}", path.display());
            }
            assert_eq!(entry.manifest.validate(), Ok(()), "{name}");
        }
    }

    #[test]
    fn no_two_workers_register_the_same_function_id() {
        let manifests: Vec<_> = all().into_iter().map(|e| e.manifest).collect();
        assert_eq!(agentos_supervisor::run::duplicate_functions(&manifests), vec![]);
        // Nor may a worker take one of the supervisor's own.
        for m in &manifests {
            for f in m.all_function_ids() {
                assert!(!agentos_supervisor::api::functions().contains(&f.as_str()), "{} registers {f}", m.name);
            }
        }
    }

    #[test]
    fn worker_names_are_unique() {
        let mut names = names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
