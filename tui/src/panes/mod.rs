//! The panes of the dashboard, one module each, and the approval prompt over them.

pub mod approvals;
pub mod chat;
pub mod prompt;
pub mod replay;
pub mod trace;
pub mod workers;
