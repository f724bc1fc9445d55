//! A million reads on each of two threads per clock: no thread ever sees its
//! own clock go backwards, and no read is below a reading another thread
//! published before it (the cross-thread half of the monotonicity claim).
#![cfg(any(target_os = "linux", target_os = "android"))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

use leasehold_core::Clock;
use leasehold_hal_linux::{RawClock, SuspendAwareClock};

const READS_PER_THREAD: u64 = 1_000_000;
const THREADS: usize = 2;

/// Returns how many reads were checked against a value the other thread had
/// published (that is, one newer than the reader's own previous reading).
fn hammer(clock: &(impl Clock + Sync)) -> u64 {
    let published = AtomicU64::new(0);
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let mut own_last = 0;
                    let mut foreign = 0;
                    for i in 0..READS_PER_THREAD {
                        // Acquire: the publishing thread's read happened
                        // before ours starts, so ours must not be smaller.
                        let seen = published.load(Ordering::Acquire);
                        let t = clock.now().expect("clock read failed").as_nanos();
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
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

#[test]
fn raw_clock_is_monotonic_across_two_threads() {
    let foreign = hammer(&RawClock::new().unwrap());
    eprintln!("RawClock: {foreign} reads checked against the other thread's");
}

#[test]
fn suspend_aware_clock_is_monotonic_across_two_threads() {
    let foreign = hammer(&SuspendAwareClock::new().unwrap());
    eprintln!("SuspendAwareClock: {foreign} reads checked against the other thread's");
}
