//! The engine's integration tests: a real engine on free ports, real `iii-sdk` clients and raw
//! sockets.

mod suite;
