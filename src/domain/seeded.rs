//! Randomness that a test can make repeatable: system randomness by default, a deterministic
//! stream (SplitMix64) once seeded. Ids of new certificates and hosts come from one of these,
//! so "reset, seed 42, the same creates" yields the same ids on any backend; the fault dice
//! use another, seeded from the same number, so rolling them does not shift the ids.

use std::sync::Mutex;

/// A source of 64-bit random numbers, deterministic while seeded.
#[derive(Debug, Default)]
pub struct SeededRandom {
    /// The SplitMix64 state and the seed it started from; `None` draws system randomness.
    state: Mutex<Option<(u64, u64)>>,
}

impl SeededRandom {
    /// Starts the deterministic stream of `seed`, or returns to system randomness (`None`).
    pub fn reseed(&self, seed: Option<u64>) {
        *self.lock() = seed.map(|s| (s, s));
    }

    /// The seed the stream started from, if seeded.
    pub fn seed(&self) -> Option<u64> {
        self.lock().map(|(seed, _)| seed)
    }

    /// The next number.
    pub fn next_u64(&self) -> u64 {
        match self.lock().as_mut() {
            Some((_, state)) => splitmix64(state),
            None => system_u64(),
        }
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_unit(&self) -> f64 {
        // The top 53 bits fill a double's mantissa exactly.
        #[allow(clippy::cast_precision_loss)]
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    /// 16 bytes as 32 lowercase hex characters (the shape of every resource id).
    pub fn next_id_hex(&self) -> String {
        let (a, b) = {
            let mut guard = self.lock();
            match guard.as_mut() {
                Some((_, state)) => (splitmix64(state), splitmix64(state)),
                None => (system_u64(), system_u64()),
            }
        };
        format!("{a:016x}{b:016x}")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, u64)>> {
        // A poisoned lock only means another thread panicked mid-draw; the state is a number.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One step of SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast and well mixed.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn system_u64() -> u64 {
    u64::from_le_bytes(super::random_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_its_stream_and_unseeding_returns_to_random() {
        let r = SeededRandom::default();
        assert_eq!(r.seed(), None);
        r.reseed(Some(42));
        let first: Vec<String> = (0..3).map(|_| r.next_id_hex()).collect();
        r.reseed(Some(42));
        let again: Vec<String> = (0..3).map(|_| r.next_id_hex()).collect();
        assert_eq!(first, again);
        assert_eq!(r.seed(), Some(42));
        assert!(first.iter().all(|id| id.len() == 32));
        r.reseed(Some(43));
        assert_ne!(r.next_id_hex(), first[0]);
        r.reseed(None);
        assert_ne!(r.next_id_hex(), r.next_id_hex());
        assert!((0.0..1.0).contains(&r.next_unit()));
    }
}
