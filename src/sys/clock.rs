//! The clocks the edge reads for the core: a monotonic [`Instant`] (microseconds since the
//! daemon's start, never wall-clock) and wall-clock seconds (the informational `ts` field, the
//! generation's start value), plus the conversion of the core's next deadline into a poll
//! timeout that never wakes early (so an idle daemon sleeps until its next keepalive instead
//! of spinning through sub-millisecond remainders).

use crate::time::Instant;

/// A monotonic clock whose origin is its creation.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    #[allow(clippy::disallowed_methods)] // the edge reads the clock for the core
    pub fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// Microseconds since the clock was created.
    #[allow(clippy::disallowed_methods)] // the edge reads the clock for the core
    pub fn now(&self) -> Instant {
        let us = self.origin.elapsed().as_micros();
        Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }
}

/// Wall-clock seconds since the Unix epoch (0 if the clock is before 1970).
#[allow(clippy::disallowed_methods)] // the edge reads the clock for the core
pub fn wall_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long to sleep in `poll` until `deadline`: `None` (forever) without a deadline, zero
/// when it has passed, otherwise the remaining time rounded **up** to a whole millisecond
/// (epoll's resolution), so the wake-up is never before the deadline.
pub fn poll_timeout(now: Instant, deadline: Option<Instant>) -> Option<std::time::Duration> {
    let deadline = deadline?;
    let us = deadline.saturating_since(now).as_micros();
    Some(std::time::Duration::from_millis(us.div_ceil(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeout_rounds_up_and_never_negative() {
        let t = |us| Instant::from_micros(us);
        assert_eq!(poll_timeout(t(0), None), None);
        assert_eq!(
            poll_timeout(t(1_000), Some(t(500))),
            Some(std::time::Duration::ZERO)
        );
        assert_eq!(
            poll_timeout(t(0), Some(t(1))),
            Some(std::time::Duration::from_millis(1))
        );
        assert_eq!(
            poll_timeout(t(0), Some(t(1_000_000))),
            Some(std::time::Duration::from_millis(1000))
        );
        assert_eq!(
            poll_timeout(t(0), Some(t(1_000_001))),
            Some(std::time::Duration::from_millis(1001))
        );
    }

    #[test]
    fn clock_is_monotonic_from_zero() {
        let c = Clock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
        assert!(a.as_micros() < 60_000_000, "origin is the clock's creation");
        assert!(wall_secs() > 1_600_000_000);
    }
}
