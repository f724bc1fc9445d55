//! A million reads on each of two threads per clock: no thread ever sees its
//! own clock go backwards, and no read is below a reading another thread
//! published before it (the cross-thread half of the monotonicity claim).
#![cfg(any(target_os = "linux", target_os = "android"))]

use leasehold_hal_linux::{RawClock, SuspendAwareClock};

const READS_PER_THREAD: u64 = 1_000_000;
const THREADS: usize = 2;

#[test]
fn raw_clock_is_monotonic_across_two_threads() {
    let clock = RawClock::new().unwrap();
    let foreign = clockcheck::monotonic_across_threads(&clock, THREADS, READS_PER_THREAD);
    eprintln!("RawClock: {foreign} reads checked against the other thread's");
}

#[test]
fn suspend_aware_clock_is_monotonic_across_two_threads() {
    let clock = SuspendAwareClock::new().unwrap();
    let foreign = clockcheck::monotonic_across_threads(&clock, THREADS, READS_PER_THREAD);
    eprintln!("SuspendAwareClock: {foreign} reads checked against the other thread's");
}
