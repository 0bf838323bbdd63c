//! The certificate clock: the one source of "now" for everything judged on certificate time
//! (expiry status and its filter, `timestamp` of new rows, the refusal to bind an expired
//! certificate, and what later builds on them). Credentials keep real time ([`now_ms`]), since
//! clients hold them with real clocks.
//!
//! In production it is real time. Test controls (`--test-controls`) move it by an offset and can
//! freeze it; every reading of certificate time goes through [`Clock::now_ms`], so moving it
//! moves them all at once.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use super::time::{Millis, now_ms};

/// The certificate clock shared by every handler of one server.
#[derive(Debug, Default)]
pub struct Clock {
    /// Simulated minus real time, in milliseconds (0: real time).
    offset_ms: AtomicI64,
    /// When frozen, `now_ms` answers `frozen_at` whatever the real time.
    frozen: AtomicBool,
    /// The simulated instant the clock stands still at while frozen.
    frozen_at: AtomicI64,
    /// Bumped each time the clock is moved, so time-driven work (expiry events) can run at
    /// once instead of waiting for its next tick.
    moves: tokio::sync::watch::Sender<u64>,
}

impl Clock {
    /// A clock on real time.
    pub fn real() -> Self {
        Self::default()
    }

    /// A receiver that changes each time the clock is moved.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.moves.subscribe()
    }

    /// Tells every subscriber that the clock moved.
    pub fn announce_move(&self) {
        self.moves.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Moves certificate time to real time plus `offset_ms` and tells the subscribers. The
    /// test controls (`--test-controls`) move the clock through this.
    pub fn set_offset(&self, offset_ms: Millis) {
        self.offset_ms.store(offset_ms, Ordering::Release);
        self.announce_move();
    }

    /// Certificate time now, in epoch milliseconds.
    pub fn now_ms(&self) -> Millis {
        if self.frozen.load(Ordering::Acquire) {
            self.frozen_at.load(Ordering::Acquire)
        } else {
            now_ms().saturating_add(self.offset_ms.load(Ordering::Acquire))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_clock_follows_real_time() {
        let clock = Clock::real();
        let (before, read, after) = (now_ms(), clock.now_ms(), now_ms());
        assert!(before <= read && read <= after);
    }
}
