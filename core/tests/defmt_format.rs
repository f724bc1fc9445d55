//! With the `defmt` feature (`cargo test -p leasehold-core --features defmt`):
//! every public type's `defmt::Format` runs on the host, through a test-only
//! global logger that keeps the bytes each thread logs. A type's output is
//! the same for equal values and changes with its state, so a Format impl
//! that drops a field or never writes is caught.
#![cfg(feature = "defmt")]

use core::cell::RefCell;
use core::time::Duration;

use leasehold_core::{
    plan_read, Clock, ClockError, Extension, Instant, Lease, LeaseConfig, ManualClock,
    QuorumTracker, Stamp,
};

std::thread_local! {
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// defmt's global logger for this test binary: no framing, no locking (each
/// thread writes to its own buffer, so no two log calls interleave).
#[defmt::global_logger]
struct Capture;

// SAFETY: every method is sound from any thread: `write` only touches the
// calling thread's buffer, the others do nothing.
unsafe impl defmt::Logger for Capture {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(bytes: &[u8]) {
        OUT.with(|o| o.borrow_mut().extend_from_slice(bytes));
    }
}

// On the target, defmt.x provides a default; on the host there is none.
defmt::timestamp!("");

/// The bytes one `defmt::println!("{}", value)` sends.
fn logged<T: defmt::Format>(value: &T) -> Vec<u8> {
    OUT.with(|o| o.borrow_mut().clear());
    defmt::println!("{}", value);
    OUT.with(|o| o.borrow().clone())
}

/// Equal values log the same bytes, different ones different bytes.
fn distinguishes<T: defmt::Format>(a: &T, a_again: &T, b: &T) {
    let (x, y, z) = (logged(a), logged(a_again), logged(b));
    assert!(!x.is_empty(), "nothing logged");
    assert_eq!(x, y, "equal values logged differently");
    assert_ne!(x, z, "different values logged the same");
}

fn t(ns: u64) -> Instant {
    Instant::from_nanos(ns).unwrap()
}

#[test]
fn every_public_type_formats_its_state() {
    distinguishes(&t(5), &t(5), &t(6));
    distinguishes(
        &Stamp::new(t(5), 1),
        &Stamp::new(t(5), 1),
        &Stamp::new(t(5), 2),
    );
    distinguishes(&Extension::Extended, &Extension::Extended, &Extension::Busy);
    distinguishes(
        &ClockError::Os(22),
        &ClockError::Os(22),
        &ClockError::Os(23),
    );

    // Lease: formats generation and expiry as read at that moment.
    let (a, b) = (Lease::new(), Lease::new());
    let fresh = logged(&a);
    assert_eq!(fresh, logged(&b));
    assert_eq!(
        a.extend(a.stamp(t(10)), Duration::from_nanos(5)),
        Extension::Extended
    );
    let extended = logged(&a);
    assert_ne!(fresh, extended, "expiry not shown");
    a.invalidate();
    let invalidated = logged(&a);
    assert_ne!(invalidated, fresh, "generation not shown");
    assert_ne!(invalidated, extended);

    let clock = ManualClock::new(t(100));
    let before = logged(&clock);
    clock.fail_with(ClockError::Injected);
    assert_ne!(logged(&clock), before);
    clock.recover();
    assert_eq!(logged(&clock), before);

    let info = clock.info();
    let mut coarser = info;
    coarser.resolution = Duration::from_nanos(2);
    distinguishes(&info, &clock.info(), &coarser);

    let config = LeaseConfig::new(Duration::from_millis(10), 10).check_quorum(true);
    distinguishes(&config, &config.clone(), &config.check_quorum(false));
    let (e1, e2) = (
        LeaseConfig::new(Duration::ZERO, 10)
            .lease_duration()
            .unwrap_err(),
        LeaseConfig::new(Duration::from_millis(10), 1)
            .max_drift_ppm(0)
            .lease_duration()
            .unwrap_err(),
    );
    distinguishes(&e1, &e1.clone(), &e2);

    let mut tracker = QuorumTracker::<3>::new(1);
    let empty = logged(&tracker);
    tracker.set_membership(&[1, 2, 3], &[]).unwrap();
    assert_ne!(logged(&tracker), empty);
    let err = tracker.record_ack(9, Stamp::new(t(1), 0)).unwrap_err();
    let err2 = tracker.record_ack(8, Stamp::new(t(1), 0)).unwrap_err();
    distinguishes(&err, &err.clone(), &err2);

    let lease = Lease::new();
    let quorum = plan_read(&lease, Ok(t(1)));
    let again = plan_read(&lease, Ok(t(1)));
    // (A failed reading also ends the lease: plan it last.)
    let failed = plan_read(&lease, Err(ClockError::NotStarted));
    distinguishes(&quorum, &again, &failed);
}
