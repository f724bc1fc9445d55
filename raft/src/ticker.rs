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
/// lease the leader holds on that very ack. `Ticker` fires a late tick once
/// and schedules the next a whole tick after that (dropped or postponed
/// ticks only delay this node's elections). So any tick is at least a tick
/// after the previous one, and the `k`-th tick after a message stepped at
/// any moment spans at least `k - 1` ticks of time since it: the first may
/// be overdue and fire at once, which the lease derivation allows for
/// (`LeaseConfig`: `election_ticks - 1`). Keeping the cadence instead (the
/// next tick due one tick after the *scheduled* time of a late one) would
/// let two ticks follow a message within a moment: found by review, a
/// stale read with a tick 9 ms overdue.
///
/// The ticks are timed by `std::time::Instant` (`CLOCK_MONOTONIC` on
/// Linux, slewed by the time daemon): the followers' tick timer whose rate
/// error `Timing::tick_drift_ppm` bounds, slew included.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use leasehold_core::{Clock, Lease};
/// use leasehold_hal_fallback::FallbackClock;
/// use leasehold_raft::{RaftLease, Timing};
///
/// let tick = Duration::from_millis(10);
/// let timing = Timing {
///     tick,
///     lease_clock: FallbackClock::new().info(),
///     tick_drift_ppm: 1_000,
///     margin: Duration::from_millis(1),
///     machine_never_suspends: true,
/// };
/// let cfg = raft::Config { id: 1, check_quorum: true, ..Default::default() };
/// let lease = RaftLease::new(&cfg, &timing, Arc::new(Lease::new()))?;
/// let start = Instant::now();
/// let mut ticker = lease.ticker(start);
/// assert!(!ticker.poll(start));
/// assert!(ticker.poll(start + tick));
/// // Late by 4 ms: the next tick is a whole tick after this one.
/// assert!(ticker.poll(start + 2 * tick + Duration::from_millis(4)));
/// assert_eq!(ticker.next(), start + 3 * tick + Duration::from_millis(4));
/// // A stall of 20 ticks: one tick, not twenty.
/// let late = start + 24 * tick;
/// assert!(ticker.poll(late));
/// assert!(!ticker.poll(late));
/// assert_eq!(ticker.next(), late + tick);
/// # Ok::<(), leasehold_raft::SetupError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Ticker {
    tick: Duration,
    next: Instant,
}

impl Ticker {
    /// A ticker whose first tick falls due one `tick` after `now`. Only
    /// [`RaftLease::ticker`](crate::RaftLease::ticker) builds one, with the
    /// validated tick the lease was derived from (a zero tick would fire at
    /// every poll).
    pub(crate) fn new(tick: Duration, now: Instant) -> Ticker {
        Ticker {
            tick,
            next: now + tick,
        }
    }

    /// Whether to fire a tick at `now`. A tick that fires falls due the
    /// next one a whole tick after `now`: late ticks postpone the schedule
    /// (missed ones are dropped) instead of catching up.
    pub fn poll(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.tick;
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
        // 19_000 then 1_000: late by 9 ms, then exactly at the old cadence.
        let gaps_us = [
            3_000u64, 9_000, 14_000, 250_000, 1, 1, 10_000, 19_999, 500, 95_000, 19_000, 1_000,
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

    /// Found by review: a loop that wakes less than a tick late (stepping a
    /// message first) and then polls on time. A ticker that kept the cadence
    /// fired the next tick about a millisecond after the late one, so the
    /// tenth tick after the message came 81 ms after it: only
    /// `election_ticks - 2` ticks of time, against the lease's
    /// `election_ticks - 1`.
    #[test]
    fn a_late_tick_and_the_next_are_a_tick_apart() {
        let start = Instant::now();
        let mut t = Ticker::new(TICK, start);
        let late = start + TICK + Duration::from_millis(9);
        let mut fired = Vec::new();
        let mut now = late;
        while fired.len() < 10 {
            if t.poll(now) {
                fired.push(now);
            }
            now += Duration::from_millis(1);
        }
        assert!(fired.windows(2).all(|w| w[1] - w[0] >= TICK));
        let tenth = fired[9] - late;
        assert!(tenth >= 9 * TICK, "10 ticks within {tenth:?} of a message");
    }
}
