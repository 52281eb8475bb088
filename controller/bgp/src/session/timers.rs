//! Deadlines of a neighbor's timers, kept by the transport (the state machine only says
//! start and stop). `tokio::time::Instant` so tests can run on paused time.

use std::time::Duration;

use tokio::time::Instant;

use super::fsm::Timer;

/// One optional deadline per [`Timer`].
#[derive(Clone, Debug, Default)]
pub struct TimerSet {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerSet {
    pub fn start(&mut self, timer: Timer, now: Instant, after: Duration) {
        self.deadlines[timer.index()] = Some(now + after);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    pub fn is_running(&self, timer: Timer) -> bool {
        self.deadlines[timer.index()].is_some()
    }

    /// The earliest deadline, for the transport to sleep until.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest timer due at `now`, stopped as it is returned (timers are one-shot; the
    /// state machine restarts the ones that repeat).
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.filter(|d| *d <= now).map(|d| (i, d)))
            .min_by_key(|(_, d)| *d)?;
        self.deadlines[i] = None;
        Timer::ALL.get(i).copied()
    }
}

/// RFC 4271 §10 jitter: ConnectRetry, Keepalive (and our idle hold) run for 75–100 % of
/// their value, so two speakers started together do not keep retrying in lockstep.
#[derive(Clone, Debug)]
pub struct Jitter {
    state: u64,
}

impl Default for Jitter {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS per process and varies per instance.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Jitter { state: seed | 1 }
    }
}

impl Jitter {
    pub fn apply(&mut self, timer: Timer, after: Duration) -> Duration {
        match timer {
            Timer::ConnectRetry | Timer::Keepalive | Timer::IdleHold => {
                // xorshift64: plenty for spreading timers.
                let mut x = self.state;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                self.state = x;
                let permille = 750 + (x % 251) as u32;
                after * permille / 1000
            }
            _ => after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter_and_spares_the_hold_timer() {
        let mut j = Jitter::default();
        let base = Duration::from_secs(30);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = j.apply(Timer::ConnectRetry, base);
            assert!(d >= base * 3 / 4 && d <= base, "{d:?}");
            seen.insert(d);
        }
        assert!(seen.len() > 20, "spread out");
        assert_eq!(j.apply(Timer::Hold, base), base);
    }

    #[test]
    fn earliest_first_and_one_shot() {
        let t0 = Instant::now();
        let mut t = TimerSet::default();
        assert_eq!(t.next_deadline(), None);
        t.start(Timer::Hold, t0, Duration::from_secs(9));
        t.start(Timer::Keepalive, t0, Duration::from_secs(3));
        t.start(Timer::ConnectRetry, t0, Duration::from_secs(30));
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(t.pop_expired(t0 + Duration::from_secs(2)), None);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(t.pop_expired(later), Some(Timer::Keepalive));
        assert_eq!(t.pop_expired(later), Some(Timer::Hold));
        assert_eq!(t.pop_expired(later), None);
        assert!(t.is_running(Timer::ConnectRetry));
        t.stop(Timer::ConnectRetry);
        assert_eq!(t.next_deadline(), None);
    }
}
