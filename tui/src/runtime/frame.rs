//! When to draw: the loop marks the screen dirty after anything it handled, and the pacer turns
//! that into at most one frame per [`FRAME_INTERVAL`].
//!
//! Rules it keeps:
//! - Nothing changed, nothing drawn: an idle dashboard draws no frames.
//! - Bursts coalesce: 200 streamed tokens a second cost at most one frame per interval, not 200.
//! - Nothing waits longer than one interval: a change marked at `t` is drawn by
//!   `max(t, last frame + interval)`, so a key press shows within one interval.

use std::time::{Duration, Instant};

/// The shortest time between two frames: about 60 frames a second, as fast as a terminal shows.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// The redraw decision: dirty or not, and when the last frame was drawn.
#[derive(Debug, Clone)]
pub struct FramePacer {
    interval: Duration,
    dirty: bool,
    last: Option<Instant>,
}

impl Default for FramePacer {
    fn default() -> Self {
        Self::new(FRAME_INTERVAL)
    }
}

impl FramePacer {
    /// A pacer drawing at most once per `interval`; the first frame is due at once.
    pub fn new(interval: Duration) -> Self {
        Self { interval, dirty: true, last: None }
    }

    /// Something changed on screen.
    pub fn request(&mut self) {
        self.dirty = true;
    }

    /// Whether a frame is wanted at all.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// When the next frame may be drawn, if one is wanted (`None` when clean; a time in the past
    /// means now).
    pub fn deadline(&self) -> Option<Instant> {
        if !self.dirty {
            return None;
        }
        Some(match self.last {
            Some(last) => last + self.interval,
            None => Instant::now(),
        })
    }

    /// Whether to draw at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.dirty && self.last.is_none_or(|last| now >= last + self.interval)
    }

    /// A frame was drawn at `now`.
    pub fn drawn(&mut self, now: Instant) {
        self.dirty = false;
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_is_due_at_once_and_a_clean_screen_is_never_drawn() {
        let now = Instant::now();
        let mut pacer = FramePacer::default();
        assert!(pacer.due(now));
        pacer.drawn(now);
        assert!(!pacer.due(now + Duration::from_secs(5)));
        assert_eq!(pacer.deadline(), None);
    }

    #[test]
    fn a_burst_of_two_hundred_changes_a_second_costs_at_most_one_frame_per_interval() {
        let start = Instant::now();
        let mut pacer = FramePacer::default();
        pacer.drawn(start);
        let mut frames = 0;
        // A change every 5 ms for a second; the loop checks after each one.
        for i in 1..=200u64 {
            let now = start + Duration::from_millis(5 * i);
            pacer.request();
            if pacer.due(now) {
                pacer.drawn(now);
                frames += 1;
            }
        }
        assert!((50..=63).contains(&frames), "{frames} frames");
    }

    #[test]
    fn a_change_right_after_a_frame_is_drawn_within_one_interval() {
        let start = Instant::now();
        let mut pacer = FramePacer::default();
        pacer.drawn(start);
        let key_at = start + Duration::from_millis(1);
        pacer.request();
        assert!(!pacer.due(key_at));
        let deadline = pacer.deadline().unwrap();
        assert!(deadline - key_at <= FRAME_INTERVAL);
        assert!(pacer.due(deadline));
    }

    #[test]
    fn a_change_long_after_the_last_frame_is_drawn_at_once() {
        let start = Instant::now();
        let mut pacer = FramePacer::default();
        pacer.drawn(start);
        let later = start + Duration::from_secs(3);
        pacer.request();
        assert!(pacer.due(later));
        assert!(pacer.deadline().unwrap() <= later);
    }
}
