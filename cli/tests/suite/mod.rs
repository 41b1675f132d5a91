//! The suites, and the fake stack they share.

mod approvals;
mod chat;
mod doctor;
mod fake;
#[cfg(target_os = "linux")]
mod interactive;
mod resources;
mod sessions;
#[cfg(target_os = "linux")]
mod tui;
