//! `Ticker`: when a node loop may fire a Raft tick.

use core::time::Duration;

use leasehold_core::{ClockError, Instant};

/// Paces a node loop's Raft ticks so that a stall never turns into a burst.
///
/// The vote guard, and raft-rs's own election timer, count ticks as time
/// that passed *after* the messages stepped before them (invariant 15). A
/// loop that stalls (descheduled, a long fsync, a GC pause) and then fires
/// every tick it missed, after stepping a heartbeat that waited in its
/// socket, counts time from before that heartbeat against the promise made
/// when it was accepted: the guard opens with no time passed, inside the
/// lease the leader holds on that very ack. A `Ticker` fires a late tick
/// once and schedules the next a whole tick after that (dropped or
/// postponed ticks only delay this node's elections). So any tick is at
/// least a tick after the previous one, and the `k`-th tick after a message
/// stepped at any moment spans at least `k - 1` ticks of time since it: the
/// first may be overdue and fire at once, which the lease derivation allows
/// for (`LeaseConfig`: `election_ticks - 1`). Keeping the cadence instead
/// (the next tick due one tick after the *scheduled* time of a late one)
/// would let two ticks follow a message within a moment: found by review,
/// a stale read with a tick 9 ms overdue.
///
/// That holds only for a reading taken when the tick fires, after
/// everything stepped before it: a reading from the top of a loop
/// iteration, before a slow Ready and the messages stepped after it,
/// schedules the next tick a tick after a moment that is already past
/// (found by review: the guard opened 82 ms after a heartbeat, inside an
/// 89 ms lease). So a `Ticker` is never polled with a reading the caller
/// took: [`RaftLease::tick_if_due`](crate::RaftLease::tick_if_due) reads
/// the clock itself and ticks at once.
///
/// The ticks are timed by the lease clock (the one passed to
/// `tick_if_due`), so their rate error is that clock's: for
/// `SuspendAwareClock` an unslewed one, within `Timing::tick_drift_ppm`
/// whatever the time daemon does to `CLOCK_MONOTONIC`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use leasehold_core::{Clock, Instant, Lease, ManualClock};
/// use leasehold_raft::{RaftLease, Timing};
/// use raft::{storage::MemStorage, Config, RawNode};
///
/// let tick = Duration::from_millis(10);
/// let clock = ManualClock::new(Instant::from_nanos(1_000_000).unwrap());
/// let timing = Timing {
///     tick,
///     lease_clock: clock.info(),
///     tick_drift_ppm: 1_000,
///     margin: Duration::from_millis(1),
///     machine_never_suspends: true,
/// };
/// let cfg = Config { id: 1, check_quorum: true, ..Default::default() };
/// let storage = MemStorage::new_with_conf_state((vec![1], vec![]));
/// let mut node = RawNode::new(&cfg, storage, &slog::Logger::root(slog::Discard, slog::o!()))?;
/// let mut lease = RaftLease::new(&cfg, &timing, Arc::new(Lease::new()))?;
/// let mut ticker = lease.ticker(&clock)?;
/// assert!(!lease.tick_if_due(&mut ticker, &mut node, &clock));
/// clock.advance(tick);
/// assert!(lease.tick_if_due(&mut ticker, &mut node, &clock));
/// // Late by 4 ms: the next tick is a whole tick after this one.
/// clock.advance(tick + Duration::from_millis(4));
/// assert!(lease.tick_if_due(&mut ticker, &mut node, &clock));
/// assert_eq!(ticker.wait(clock.now()), tick);
/// // A stall of 20 ticks: one tick, not twenty.
/// clock.advance(20 * tick);
/// assert!(lease.tick_if_due(&mut ticker, &mut node, &clock));
/// assert!(!lease.tick_if_due(&mut ticker, &mut node, &clock));
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
            next: later(now, tick),
        }
    }

    /// Whether to fire a tick at `now`, a reading taken at this moment. A
    /// tick that fires falls due the next one a whole tick after `now`: late
    /// ticks postpone the schedule (missed ones are dropped) instead of
    /// catching up.
    pub(crate) fn poll(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = later(now, self.tick);
        true
    }

    /// How long to wait for the next tick from a reading taken now (a
    /// receive timeout): zero once it is due; a whole tick if the clock
    /// failed (`tick_if_due` ticks nothing then, so the loop retries a tick
    /// later instead of spinning).
    pub fn wait(&self, now: Result<Instant, ClockError>) -> Duration {
        now.map_or(self.tick, |now| self.next.saturating_duration_since(now))
    }
}

/// `now + tick`; at the end of time, never.
fn later(now: Instant, tick: Duration) -> Instant {
    now.checked_add(tick)
        .or(Instant::from_nanos(u64::MAX))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(10);

    fn plus(t: Instant, d: Duration) -> Instant {
        t.checked_add(d).unwrap()
    }

    /// After a message stepped at `m`, the `k`-th tick fired spans at least
    /// `k - 1` ticks of time since `m`, whatever the loop's stalls: what the
    /// lease derivation assumes.
    #[test]
    fn ticks_after_any_moment_never_outrun_the_time_since_it() {
        let start = Instant::from_nanos(1_000_000).unwrap();
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
            now = plus(now, Duration::from_micros(gaps_us[round % gaps_us.len()]));
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
                    f.saturating_duration_since(m) >= TICK * (k - 1),
                    "tick {k} after {:?} fired {:?} later",
                    m.saturating_duration_since(start),
                    f.saturating_duration_since(m)
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
        let start = Instant::from_nanos(1_000_000).unwrap();
        let mut t = Ticker::new(TICK, start);
        let late = plus(start, TICK + Duration::from_millis(9));
        let mut fired = Vec::new();
        let mut now = late;
        while fired.len() < 10 {
            if t.poll(now) {
                fired.push(now);
            }
            now = plus(now, Duration::from_millis(1));
        }
        assert!(fired
            .windows(2)
            .all(|w| w[1].saturating_duration_since(w[0]) >= TICK));
        let tenth = fired[9].saturating_duration_since(late);
        assert!(tenth >= 9 * TICK, "10 ticks within {tenth:?} of a message");
    }
}
