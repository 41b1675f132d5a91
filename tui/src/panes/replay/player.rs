//! Playback of a recorded session: the steps follow one another with the gaps they were
//! recorded with, scaled by the speed.
//!
//! Rules it keeps:
//! - The wait before step `n + 1` is its recorded gap (`at_ms` difference) divided by the
//!   speed, and never more than [`MAX_GAP`]: a user who went for coffee is not replayed.
//! - Deadlines are kept from the previous deadline, not from the tick that noticed it, so
//!   ticks' lateness does not add up; a tick that finds several steps due takes them all.
//! - Playback stops by itself at the last step.
//! - It is pure: the pane passes `now`, so tests need no clock.

use std::time::{Duration, Instant};

/// The longest wait between two steps, whatever was recorded.
pub const MAX_GAP: Duration = Duration::from_secs(2);

/// Playback speeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speed {
    X1,
    X4,
}

impl Speed {
    fn factor(self) -> u32 {
        match self {
            Speed::X1 => 1,
            Speed::X4 => 4,
        }
    }

    /// `1×` or `4×`.
    pub fn label(self) -> &'static str {
        match self {
            Speed::X1 => "1×",
            Speed::X4 => "4×",
        }
    }
}

/// The wait before the step recorded `gap_ms` after the previous one, at `speed`.
pub fn delay(gap_ms: u64, speed: Speed) -> Duration {
    (Duration::from_millis(gap_ms) / speed.factor()).min(MAX_GAP)
}

/// Whether playback runs, how fast, and when the next step is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Player {
    pub speed: Speed,
    due: Option<Instant>,
}

impl Default for Player {
    fn default() -> Self {
        Self { speed: Speed::X1, due: None }
    }
}

impl Player {
    /// Whether it is playing.
    pub fn playing(&self) -> bool {
        self.due.is_some()
    }

    /// Starts playing from step `at` of `times` (the events' `at_ms`).
    pub fn play(&mut self, now: Instant, times: &[u64], at: usize) {
        self.due = Some(now + self.wait_after(times, at));
    }

    /// Stops playing.
    pub fn pause(&mut self) {
        self.due = None;
    }

    /// Changes the speed; a step already scheduled keeps its time.
    pub fn set_speed(&mut self, speed: Speed) {
        self.speed = speed;
    }

    fn wait_after(&self, times: &[u64], at: usize) -> Duration {
        match (times.get(at), times.get(at + 1)) {
            (Some(a), Some(b)) => delay(b.saturating_sub(*a), self.speed),
            _ => Duration::ZERO,
        }
    }

    /// The step to show at `now`, from step `at` of `times`: the same when nothing is due.
    /// Stops at the last step.
    pub fn tick(&mut self, now: Instant, times: &[u64], mut at: usize) -> usize {
        let Some(mut due) = self.due else { return at };
        while now >= due {
            if at + 1 >= times.len() {
                self.due = None;
                return at;
            }
            at += 1;
            due += self.wait_after(times, at);
            if at + 1 >= times.len() {
                self.due = None;
                return at;
            }
        }
        self.due = Some(due);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn gaps_are_scaled_by_the_speed_and_capped() {
        assert_eq!(delay(800, Speed::X1), Duration::from_millis(800));
        assert_eq!(delay(800, Speed::X4), Duration::from_millis(200));
        assert_eq!(delay(60_000, Speed::X1), MAX_GAP);
        assert_eq!(delay(60_000, Speed::X4), MAX_GAP);
        assert_eq!(delay(0, Speed::X4), Duration::ZERO);
    }

    #[test]
    fn playback_follows_the_recorded_gaps() {
        let times = [0, 1000, 1500, 61_500, 61_600];
        let t0 = Instant::now();
        let mut player = Player::default();
        player.play(t0, &times, 0);
        assert_eq!(player.tick(t0 + Duration::from_millis(999), &times, 0), 0);
        assert_eq!(player.tick(t0 + Duration::from_millis(1000), &times, 0), 1);
        // Due at 1500 ms; a tick at 1600 takes it, the next is 2 s (capped) after 1500, not 1600.
        assert_eq!(player.tick(t0 + Duration::from_millis(1600), &times, 1), 2);
        assert_eq!(player.tick(t0 + Duration::from_millis(3499), &times, 2), 2);
        assert_eq!(player.tick(t0 + Duration::from_millis(3500), &times, 2), 3);
        assert!(player.playing());
        assert_eq!(player.tick(t0 + Duration::from_millis(3600), &times, 3), 4);
        assert!(!player.playing(), "stops at the last step");
    }

    #[test]
    fn a_late_tick_takes_every_step_that_is_due() {
        let times = [0, 10, 20, 30, 5000];
        let t0 = Instant::now();
        let mut player = Player { speed: Speed::X4, due: None };
        player.play(t0, &times, 0);
        assert_eq!(player.tick(t0 + Duration::from_millis(100), &times, 0), 3);
        assert!(player.playing());
        // 4970 ms / 4 = 1242.5 ms after the step due at 7.5 ms.
        assert_eq!(player.tick(t0 + Duration::from_millis(1249), &times, 3), 3);
        assert_eq!(player.tick(t0 + Duration::from_millis(1251), &times, 3), 4);
    }
}
