mod harness;
mod http;
mod invoke;
mod lifecycle;
mod queue;
mod state;
mod streams;
mod triggers;
