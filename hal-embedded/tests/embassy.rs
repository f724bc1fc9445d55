//! `EmbassyClock` over embassy-time's mock time driver: `NotStarted` until
//! started, then exactly `1 ns + floor(ticks * 10^9 / TICK_HZ)`, and a lease
//! timed by it expires exactly when the driver says its duration has passed.
//!
//! Run with `--features embassy`. The mock driver fixes `TICK_HZ` at 1 MHz;
//! the expected values are computed from `TICK_HZ` in `u128` all the same,
//! and `tests/convert.rs` checks the conversion at other rates, up to
//! embassy's 5.24 GHz.
#![cfg(feature = "embassy")]

use core::time::Duration;

use embassy_time::MockDriver;
use embassy_time_driver::TICK_HZ;
use leasehold_core::{Clock, ClockError, Extension, Lease};
use leasehold_hal_embedded::EmbassyClock;

fn expected_nanos(ticks: u64) -> u64 {
    1 + u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(TICK_HZ)).unwrap()
}

fn now(clock: &EmbassyClock) -> u64 {
    clock.now().expect("started").as_nanos()
}

// One test: the mock driver is a global, so nothing may advance it in
// parallel.
#[test]
fn embassy_clock_over_the_mock_driver() {
    let driver = MockDriver::get();
    driver.reset();
    static CLOCK: EmbassyClock = EmbassyClock::new(20);

    // Not started: an error, not the driver's (frozen) zero.
    assert_eq!(CLOCK.now(), Err(ClockError::NotStarted));
    assert!(!CLOCK.is_started());
    CLOCK.start();
    assert_eq!(now(&CLOCK), 1, "tick 0 is 1 ns, never zero");

    // Exact conversion at awkward tick counts (odd, prime, a second minus one).
    let mut ticks = 0u64;
    for step in [1, 2, 3, 7, 997, 32_767, TICK_HZ - 1, 1, TICK_HZ * 3 + 11] {
        driver.advance(embassy_time::Duration::from_ticks(step));
        ticks += step;
        assert_eq!(now(&CLOCK), expected_nanos(ticks), "at {ticks} ticks");
    }
    assert_eq!(embassy_time::Instant::now().as_ticks(), ticks);

    let info = CLOCK.info();
    let tick_ns = 1_000_000_000u64.div_ceil(TICK_HZ).max(1);
    assert_eq!(info.resolution, Duration::from_nanos(tick_ns));
    assert_eq!(info.max_drift_ppm, 20);
    assert_eq!(info.name, "embassy-time-driver");
    assert_eq!(EmbassyClock::tick_hz().get(), TICK_HZ);

    // A lease of a whole number of ticks: valid one tick before its end,
    // expired at it (strict), in the driver's own time.
    let lease = Lease::new();
    let d_ticks = TICK_HZ / 100 + 3; // about 10 ms
    let d = Duration::from_nanos(expected_nanos(ticks + d_ticks) - expected_nanos(ticks));
    let stamp = lease.stamp(CLOCK.now().unwrap());
    assert_eq!(lease.extend(stamp, d), Extension::Extended);
    driver.advance(embassy_time::Duration::from_ticks(d_ticks - 1));
    assert!(
        lease.is_valid(CLOCK.now().unwrap()),
        "one tick before the end"
    );
    driver.advance(embassy_time::Duration::from_ticks(1));
    assert!(!lease.is_valid(CLOCK.now().unwrap()), "at the end");

    // The end of the driver's range: nanoseconds past u64::MAX are an
    // error, never a wrapped instant (at rates below 1 GHz they do not fit).
    let at = embassy_time::Instant::now().as_ticks();
    driver.advance(embassy_time::Duration::from_ticks(u64::MAX - at));
    let ns = u128::from(u64::MAX) * 1_000_000_000 / u128::from(TICK_HZ) + 1;
    match u64::try_from(ns) {
        Ok(ns) => assert_eq!(CLOCK.now().map(|t| t.as_nanos()), Ok(ns)),
        Err(_) => assert_eq!(CLOCK.now(), Err(ClockError::OutOfRange)),
    }
}
