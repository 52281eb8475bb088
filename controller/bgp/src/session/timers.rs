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

#[cfg(test)]
mod tests {
    use super::*;

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
