//! Conformance checks shared by the clock HALs' tests, so that every clock is
//! held to the same definition of "monotonic".
//!
//! ```
//! use leasehold_core::{Instant, ManualClock};
//!
//! // A clock that never moves is (weakly) monotonic.
//! let clock = ManualClock::new(Instant::from_nanos(1).unwrap());
//! clockcheck::monotonic_across_threads(&clock, 2, 1_000);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

use leasehold_core::Clock;

/// Reads `clock` `reads` times on each of `threads` threads and panics if a
/// thread sees its own clock go backwards, or if a reading is below one that
/// another thread published before it started (the cross-thread half of
/// monotonicity). Also panics on a failed read.
///
/// Returns how many readings were checked against a newer value published by
/// another thread, so a caller can tell the threads really interleaved.
pub fn monotonic_across_threads(clock: &(impl Clock + Sync), threads: usize, reads: u64) -> u64 {
    let published = AtomicU64::new(0);
    let start = Barrier::new(threads);
    thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let mut own_last = 0;
                    let mut foreign = 0;
                    for i in 0..reads {
                        // Acquire: the publishing thread's read happened
                        // before ours starts, so ours must not be smaller.
                        let seen = published.load(Ordering::Acquire);
                        let t = match clock.now() {
                            Ok(t) => t.as_nanos(),
                            Err(e) => panic!("read {i} failed: {e}"),
                        };
                        assert!(t >= own_last, "read {i}: {t} < own previous {own_last}");
                        assert!(t >= seen, "read {i}: {t} < published {seen}");
                        if seen > own_last {
                            foreign += 1;
                        }
                        own_last = t;
                        published.fetch_max(t, Ordering::AcqRel);
                    }
                    foreign
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| match w.join() {
                Ok(n) => n,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;
    use leasehold_core::{Instant, ManualClock};

    #[test]
    #[should_panic(expected = "own previous")]
    fn a_clock_stepping_back_fails() {
        struct Back(ManualClock);
        impl Clock for Back {
            fn now(&self) -> Result<Instant, leasehold_core::ClockError> {
                let t = self.0.now();
                self.0.step_back(Duration::from_nanos(1));
                t
            }
            fn info(&self) -> leasehold_core::ClockInfo {
                self.0.info()
            }
        }
        let clock = Back(ManualClock::new(Instant::from_nanos(1_000_000).unwrap()));
        monotonic_across_threads(&clock, 1, 10);
    }

    #[test]
    #[should_panic(expected = "failed")]
    fn a_failing_clock_fails() {
        let clock = ManualClock::new(Instant::from_nanos(1).unwrap());
        clock.fail_with(leasehold_core::ClockError::Injected);
        monotonic_across_threads(&clock, 1, 1);
    }
}
