//! The suites, and the fake stack they share.

mod chat;
mod doctor;
mod fake;
#[cfg(target_os = "linux")]
mod interactive;
mod resources;
