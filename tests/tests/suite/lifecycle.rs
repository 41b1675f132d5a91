//! Connections coming and going: reconnects, ownership races, bad frames, ping/pong.
