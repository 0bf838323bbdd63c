//! The certificate clock: the one source of "now" for everything judged on certificate time
//! (expiry status and its filter, `timestamp` of new rows, the refusal to bind an expired
//! certificate, and what later builds on them). Credentials keep real time ([`now_ms`]), since
//! clients hold them with real clocks.
//!
//! In production it is real time. Test controls (`--test-controls`) move it by an offset and can
//! freeze it; every reading of certificate time goes through [`Clock::now_ms`], so moving it
//! moves them all at once. The setting ([`ClockSetting`]) is stored in the database so replicas
//! share it; each replica applies what it reads with [`Clock::apply`].

use std::sync::atomic::{AtomicI64, Ordering};

use super::time::{Millis, now_ms};

/// `frozen_at` value meaning "not frozen" (no real instant is this far in the past).
const NOT_FROZEN: i64 = i64::MIN;

/// Where the certificate clock stands, as stored and shared between replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockSetting {
    /// Simulated minus real time, in milliseconds, while the clock runs.
    pub offset_ms: i64,
    /// The simulated instant the clock stands still at, when frozen.
    pub frozen_at: Option<Millis>,
}

/// One requested move of the clock; [`ClockSetting::moved`] applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMove {
    /// Back to real time: offset 0, running.
    Reset,
    /// Jump to this instant (staying frozen, or running on from it).
    Set(Millis),
    /// Move by this many milliseconds (negative: back).
    Advance(i64),
    /// Stand still at the current simulated instant (`true`) or run on from it (`false`).
    Freeze(bool),
}

impl ClockSetting {
    /// Simulated time at real time `real`.
    pub fn now_at(self, real: Millis) -> Millis {
        self.frozen_at
            .unwrap_or_else(|| real.saturating_add(self.offset_ms))
    }

    /// The setting after `step`, taken at real time `real`.
    #[must_use]
    pub fn moved(self, step: ClockMove, real: Millis) -> Self {
        let now = self.now_at(real);
        let at = |instant: Millis, frozen: bool| Self {
            offset_ms: instant.saturating_sub(real),
            frozen_at: frozen.then_some(instant),
        };
        let frozen = self.frozen_at.is_some();
        match step {
            ClockMove::Reset => Self::default(),
            ClockMove::Set(instant) => at(instant, frozen),
            ClockMove::Advance(by) => at(now.saturating_add(by), frozen),
            ClockMove::Freeze(freeze) => at(now, freeze),
        }
    }
}

/// The certificate clock shared by every handler of one server.
#[derive(Debug)]
pub struct Clock {
    /// Simulated minus real time, in milliseconds (0: real time).
    offset_ms: AtomicI64,
    /// The simulated instant the clock stands still at, or [`NOT_FROZEN`].
    frozen_at: AtomicI64,
    /// Bumped each time the clock is moved, so time-driven work (expiry events) can run at
    /// once instead of waiting for its next tick.
    moves: tokio::sync::watch::Sender<u64>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            frozen_at: AtomicI64::new(NOT_FROZEN),
            moves: tokio::sync::watch::Sender::default(),
        }
    }
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

    /// Certificate time now, in epoch milliseconds.
    pub fn now_ms(&self) -> Millis {
        let frozen_at = self.frozen_at.load(Ordering::Acquire);
        if frozen_at == NOT_FROZEN {
            now_ms().saturating_add(self.offset_ms.load(Ordering::Acquire))
        } else {
            frozen_at
        }
    }

    /// The current setting.
    pub fn setting(&self) -> ClockSetting {
        let frozen_at = self.frozen_at.load(Ordering::Acquire);
        ClockSetting {
            offset_ms: self.offset_ms.load(Ordering::Acquire),
            frozen_at: (frozen_at != NOT_FROZEN).then_some(frozen_at),
        }
    }

    /// Takes `setting` (set here, or read from the database another replica wrote) and, when
    /// it differs from the current one, announces the move. Returns whether it moved.
    pub fn apply(&self, setting: ClockSetting) -> bool {
        if self.setting() == setting {
            return false;
        }
        // The offset first: a reader seeing "not frozen" then sees the new offset.
        self.offset_ms.store(setting.offset_ms, Ordering::Release);
        self.frozen_at
            .store(setting.frozen_at.unwrap_or(NOT_FROZEN), Ordering::Release);
        self.announce_move();
        true
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

    #[test]
    fn moves_compose() {
        let real = 1_000_000;
        let s = ClockSetting::default().moved(ClockMove::Advance(500), real);
        assert_eq!(
            s,
            ClockSetting {
                offset_ms: 500,
                frozen_at: None
            }
        );
        let s = s.moved(ClockMove::Freeze(true), real + 10);
        assert_eq!(s.frozen_at, Some(real + 510));
        assert_eq!(
            s.now_at(real + 99_999),
            real + 510,
            "frozen time stands still"
        );
        let s = s.moved(ClockMove::Advance(90), real + 99_999);
        assert_eq!(
            s.now_at(0),
            real + 600,
            "advancing a frozen clock keeps it frozen"
        );
        let s = s.moved(ClockMove::Freeze(false), real + 1000);
        assert_eq!(
            s,
            ClockSetting {
                offset_ms: -400,
                frozen_at: None
            }
        );
        assert_eq!(
            s.now_at(real + 2000),
            real + 1600,
            "runs on from where it stood"
        );
        let s = s.moved(ClockMove::Set(42), real);
        assert_eq!(s.now_at(real + 8), 50);
        assert_eq!(s.moved(ClockMove::Reset, real), ClockSetting::default());
    }

    #[test]
    fn applying_a_new_setting_moves_the_clock_and_tells_subscribers() {
        let clock = Clock::real();
        let moves = clock.subscribe();
        assert!(!clock.apply(ClockSetting::default()), "no change, no move");
        assert!(!moves.has_changed().unwrap());
        let frozen = ClockSetting {
            offset_ms: 0,
            frozen_at: Some(7),
        };
        assert!(clock.apply(frozen));
        assert!(moves.has_changed().unwrap());
        assert_eq!(clock.now_ms(), 7);
        assert_eq!(clock.setting(), frozen);
        let ahead = ClockSetting {
            offset_ms: 86_400_000,
            frozen_at: None,
        };
        clock.apply(ahead);
        assert!(clock.now_ms() >= now_ms() + 86_399_000);
    }
}
