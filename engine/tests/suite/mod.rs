//! Tests over a started engine.

mod bounds;
mod harness;
mod http;
mod rbac;
