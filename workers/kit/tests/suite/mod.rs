//! One module per kit concern, each booting its own [`agentos_kit::harness::TestStack`].

mod health;
mod http;
mod state;
mod typed;
mod worker;
