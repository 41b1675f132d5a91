//! agentos-supervisor: boots the engine, spawns every worker as its own process
//! (`agentos worker <name>`), decides readiness and liveness, restarts by policy with backoff,
//! and stops everything (workers first, the engine last) on Ctrl-C, SIGTERM or `agentos down`.

pub mod api;
pub mod api_key;
pub mod home;
pub mod iii_config;
pub mod lock;
pub mod logfile;
pub mod policy;
pub mod run;
pub mod runtime;
pub mod settings;
pub mod spawn;

pub use home::Home;
pub use run::{Supervisor, UpOptions, WorkerState, WorkerStatus};
