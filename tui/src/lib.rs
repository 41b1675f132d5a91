//! agentos-tui: the dashboard. A client of the REST API and its SSE streams only.
//!
//! - [`event`]: the one event enum and the sender panes hold.
//! - [`app`]: owns the panes, routes keys and events, draws the frame.
//! - [`panes`]: chat, approvals, trace, replay, workers, and the approval prompt.
//! - `runtime`: the terminal and the loop that carries out the panes' requests.

pub mod app;
pub mod event;
pub mod highlight;
pub mod pane;
pub mod panes;
pub mod runtime;
pub mod theme;

#[cfg(test)]
pub mod testing;

pub use app::{App, AppOptions};
pub use event::{AppEvent, AppEventSender, PaneId};
pub use runtime::{RunOptions, run};
pub use theme::Theme;
