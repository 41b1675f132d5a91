//! The engine conformance suite: the embedded engine in-process on free ports, driven by real
//! `iii-sdk =0.11.6` workers and real HTTP clients.

mod suite;
