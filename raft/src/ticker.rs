//! `Ticker`: when a node loop may fire a Raft tick.

use std::time::{Duration, Instant};

/// Paces a node loop's Raft ticks so that a stall never turns into a burst.
///
/// The vote guard, and raft-rs's own election timer, count ticks as time
/// that passed *after* the messages stepped before them (invariant 15). A
/// loop that stalls (descheduled, a long fsync, a GC pause) and then fires
/// every tick it missed, after stepping a heartbeat that waited in its
/// socket, counts time from before that heartbeat against the promise made
/// when it was accepted: the guard opens with no time passed, inside the
/// lease the leader holds on that very ack. `Ticker` lets at most one tick
/// fall due unfired: after a stall it fires once and drops the rest (a
/// dropped tick only delays this node's elections). The lease derivation
/// already allows for that one tick (`LeaseConfig`: `election_ticks - 1`).
///
/// The ticks are timed by `std::time::Instant` (`CLOCK_MONOTONIC` on
/// Linux): the followers' tick timer whose rate error `Timing::tick_drift_ppm`
/// bounds.
///
/// ```
/// use std::time::{Duration, Instant};
/// use leasehold_raft::Ticker;
///
/// let tick = Duration::from_millis(10);
/// let start = Instant::now();
/// let mut ticker = Ticker::new(tick, start);
/// assert!(!ticker.poll(start));
/// assert!(ticker.poll(start + tick));
/// // A stall of 20 ticks: one tick, not twenty.
/// let late = start + 21 * tick;
/// assert!(ticker.poll(late));
/// assert!(!ticker.poll(late));
/// assert_eq!(ticker.next(), late + tick);
/// ```
#[derive(Debug, Clone)]
pub struct Ticker {
    tick: Duration,
    next: Instant,
}

impl Ticker {
    /// A ticker whose first tick falls due one `tick` after `now`.
    pub fn new(tick: Duration, now: Instant) -> Ticker {
        Ticker {
            tick,
            next: now + tick,
        }
    }

    /// Whether to fire a tick at `now`. On time, ticks keep their cadence;
    /// more than one tick late, this one fires and the missed ones are
    /// dropped, so the next falls due a whole tick after `now`.
    pub fn poll(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        let cadence = self.next + self.tick;
        self.next = if now >= cadence {
            now + self.tick
        } else {
            cadence
        };
        true
    }

    /// When the next tick falls due (for a receive timeout).
    pub fn next(&self) -> Instant {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(10);

    /// After a message stepped at `m`, the `k`-th tick fired spans at least
    /// `k - 1` ticks of time since `m`, whatever the loop's stalls: what the
    /// lease derivation assumes.
    #[test]
    fn ticks_after_any_moment_never_outrun_the_time_since_it() {
        let start = Instant::now();
        let mut t = Ticker::new(TICK, start);
        // A loop polling at irregular moments: on time, a little late,
        // stalled for many ticks.
        let mut now = start;
        let mut fired = Vec::new();
        let gaps_us = [
            3_000u64, 9_000, 14_000, 250_000, 1, 1, 10_000, 19_999, 500, 95_000,
        ];
        for round in 0..400 {
            now += Duration::from_micros(gaps_us[round % gaps_us.len()]);
            while t.poll(now) {
                fired.push(now);
            }
        }
        assert!(fired.len() > 100);
        for (i, &m) in fired.iter().enumerate() {
            // Ticks fired at or after moment m (a message stepped just
            // before the i-th tick fired).
            for (k, &f) in fired[i..].iter().enumerate() {
                let k = k as u32 + 1;
                assert!(
                    f - m >= TICK * (k - 1),
                    "tick {k} after {:?} fired {:?} later",
                    m - start,
                    f - m
                );
            }
        }
    }

    #[test]
    fn on_time_ticks_keep_their_cadence() {
        let start = Instant::now();
        let mut t = Ticker::new(TICK, start);
        // Late by less than a tick: the schedule does not slip.
        assert!(t.poll(start + TICK + Duration::from_millis(4)));
        assert_eq!(t.next(), start + 2 * TICK);
        assert!(!t.poll(start + 2 * TICK - Duration::from_nanos(1)));
        assert!(t.poll(start + 2 * TICK));
    }
}
