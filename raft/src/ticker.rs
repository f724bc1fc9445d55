//! `Ticker`: when a node loop may fire a Raft tick (inside `RaftLease`).

use core::time::Duration;

use leasehold_core::{ClockError, Instant};

/// Paces a node's Raft ticks so that a stall never turns into a burst.
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
/// That holds only for readings taken as the tick fires, after everything
/// stepped before it (a reading from the top of a loop iteration, before a
/// slow Ready and the heartbeat stepped after it, opened the guard 82 ms
/// after that heartbeat inside its 89 ms lease: found by review), and only
/// for one ticker per node, at the tick its lease was derived from (two, or
/// one at another lease's tick, outrun it). So the only `Ticker` is the one
/// inside each `RaftLease`, polled by `RaftLease::tick_if_due` with a
/// reading it takes itself.
#[derive(Debug, Clone)]
pub(crate) struct Ticker {
    tick: Duration,
    next: Next,
}

/// When the next tick falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Not polled yet: the first poll starts the schedule.
    Unstarted,
    At(Instant),
    /// A tick after the end of the clock's range: never again.
    Never,
}

impl Ticker {
    /// A ticker whose first tick falls due one `tick` after its first poll
    /// (`tick` is the validated one the lease was derived from: a zero tick
    /// would fire at every poll).
    pub(crate) fn new(tick: Duration) -> Ticker {
        Ticker {
            tick,
            next: Next::Unstarted,
        }
    }

    fn after(&self, now: Instant) -> Next {
        now.checked_add(self.tick).map_or(Next::Never, Next::At)
    }

    /// Whether to fire a tick at `now`, a reading taken at this moment. A
    /// tick that fires falls due the next one a whole tick after `now`: late
    /// ticks postpone the schedule (missed ones are dropped) instead of
    /// catching up.
    pub(crate) fn poll(&mut self, now: Instant) -> bool {
        match self.next {
            Next::Unstarted => {
                self.next = self.after(now);
                false
            }
            Next::At(due) if now >= due => {
                self.next = self.after(now);
                true
            }
            Next::At(_) | Next::Never => false,
        }
    }

    /// How long to wait for the next tick from a reading taken now: zero
    /// once it is due (or before the first poll, which starts the
    /// schedule); a whole tick if the clock failed or no tick will come
    /// again, so that a loop retries instead of spinning.
    pub(crate) fn wait(&self, now: Result<Instant, ClockError>) -> Duration {
        match (self.next, now) {
            (Next::Unstarted, _) => Duration::ZERO,
            (Next::At(due), Ok(now)) => due.saturating_duration_since(now),
            (Next::At(_), Err(_)) | (Next::Never, _) => self.tick,
        }
    }
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
        let mut t = Ticker::new(TICK);
        assert!(!t.poll(start), "the first poll starts the schedule");
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
        let mut t = Ticker::new(TICK);
        assert!(!t.poll(start), "the first poll starts the schedule");
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

    /// At the end of the clock's range the ticks stop; they never fire at
    /// every poll.
    #[test]
    fn at_the_end_of_time_ticks_stop() {
        let end = Instant::from_nanos(u64::MAX - 5).unwrap();
        let mut t = Ticker::new(TICK);
        assert!(!t.poll(end));
        assert!(!t.poll(Instant::from_nanos(u64::MAX).unwrap()));
        assert_eq!(t.wait(Ok(end)), TICK);
    }

    #[test]
    fn wait_is_the_receive_timeout() {
        let start = Instant::from_nanos(1_000_000).unwrap();
        let mut t = Ticker::new(TICK);
        assert_eq!(t.wait(Ok(start)), Duration::ZERO, "poll to start");
        assert!(!t.poll(start));
        assert_eq!(
            t.wait(Ok(plus(start, Duration::from_millis(3)))),
            Duration::from_millis(7)
        );
        assert_eq!(t.wait(Err(ClockError::NotStarted)), TICK, "no spinning");
    }
}
