//! The wall clock, in one place.
//!
//! Rule: workers get wall-clock milliseconds only from [`now_ms`] (never `SystemTime` directly),
//! so every timestamp in state, traces and events means the same thing, and a test double has
//! one seam to replace. Durations inside a process use `std::time::Instant` instead.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. A clock set before 1970 reads as 0 rather than failing:
/// timestamps are informational and must never take a worker down.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2024_and_does_not_go_backwards_between_two_reads() {
        let a = now_ms();
        let b = now_ms();
        // 2024-01-01T00:00:00Z
        assert!(a > 1_704_067_200_000, "{a}");
        assert!(b >= a);
    }
}
