//! A hand-driven clock for tests, usable in `no_std`.

use core::time::Duration;

use crate::sync::{Cell64, Ordering};

use crate::{Clock, ClockError, ClockInfo, Instant};

/// A clock that only moves when told to, and fails on demand.
///
/// It is `Sync` (its state is atomic), so one instance can be shared by the
/// threads of a test. Moving it past `u64::MAX` nanoseconds or back to zero
/// is refused and leaves it unchanged.
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::{Clock, ClockError, Instant, ManualClock};
///
/// let clock = ManualClock::new(Instant::from_nanos(1_000).unwrap());
/// assert!(clock.advance(Duration::from_nanos(500)));
/// assert!(clock.step_back(Duration::from_nanos(200)));
/// assert_eq!(clock.now()?.as_nanos(), 1_300);
///
/// clock.fail_with(ClockError::NotStarted);
/// assert_eq!(clock.now(), Err(ClockError::NotStarted));
/// clock.recover();
/// assert_eq!(clock.now()?.as_nanos(), 1_300);
/// # Ok::<(), ClockError>(())
/// ```
#[derive(Debug)]
pub struct ManualClock {
    nanos: Cell64,
    /// 0 = healthy, otherwise an encoded [`ClockError`].
    fault: Cell64,
    info: ClockInfo,
}

/// What a `ManualClock` reports about itself unless told otherwise: a perfect
/// 1 ns clock that counts suspend and is not slewed.
const MANUAL_INFO: ClockInfo = ClockInfo {
    name: "manual",
    resolution: Duration::from_nanos(1),
    max_drift_ppm: 0,
    counts_suspend: Some(true),
    slewed: Some(false),
};

impl ManualClock {
    /// A clock that reads `start` until moved.
    pub const fn new(start: Instant) -> ManualClock {
        ManualClock::with_info(start, MANUAL_INFO)
    }

    /// A clock that reads `start` and reports `info` from [`Clock::info`].
    pub const fn with_info(start: Instant, info: ClockInfo) -> ManualClock {
        ManualClock {
            nanos: Cell64::new(start.as_nanos()),
            fault: Cell64::new(0),
            info,
        }
    }

    /// Moves the clock forward by `d`. Returns `false`, leaving the clock
    /// unchanged, if that would pass `u64::MAX` nanoseconds.
    pub fn advance(&self, d: Duration) -> bool {
        self.update(|t| t.checked_add(d))
    }

    /// Moves the clock backwards by `d`, as a broken or stepped clock would.
    /// Returns `false`, leaving the clock unchanged, if that would reach zero.
    pub fn step_back(&self, d: Duration) -> bool {
        self.update(|t| t.checked_sub(d))
    }

    /// Sets the clock to `t`, forwards or backwards.
    pub fn set(&self, t: Instant) {
        self.nanos.store(t.as_nanos(), Ordering::SeqCst);
    }

    /// Makes every read fail with `err` until [`recover`](Self::recover).
    pub fn fail_with(&self, err: ClockError) {
        self.fault.store(encode(err), Ordering::SeqCst);
    }

    /// Makes reads succeed again.
    pub fn recover(&self) {
        self.fault.store(0, Ordering::SeqCst);
    }

    fn update(&self, f: impl Fn(Instant) -> Option<Instant>) -> bool {
        self.nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Instant::from_nanos(n).and_then(&f).map(Instant::as_nanos)
            })
            .is_ok()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Result<Instant, ClockError> {
        match decode(self.fault.load(Ordering::SeqCst)) {
            Some(err) => Err(err),
            // `nanos` only ever holds values that came from an Instant.
            None => {
                Instant::from_nanos(self.nanos.load(Ordering::SeqCst)).ok_or(ClockError::OutOfRange)
            }
        }
    }

    fn info(&self) -> ClockInfo {
        self.info
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ManualClock {
    /// Formats the current reading (or injected failure).
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ManualClock({})", self.now())
    }
}

// A ClockError packed into a u64 so the fault can live in an atomic.
// Tag in the high 32 bits, payload (the OS code) in the low 32; 0 is "no fault".
const TAG_OS: u64 = 1 << 32;
const TAG_NOT_STARTED: u64 = 2 << 32;
const TAG_OUT_OF_RANGE: u64 = 3 << 32;
const TAG_INJECTED: u64 = 4 << 32;

fn encode(err: ClockError) -> u64 {
    match err {
        ClockError::Os(code) => TAG_OS | u64::from(code as u32),
        ClockError::NotStarted => TAG_NOT_STARTED,
        ClockError::OutOfRange => TAG_OUT_OF_RANGE,
        ClockError::Injected => TAG_INJECTED,
    }
}

fn decode(v: u64) -> Option<ClockError> {
    match v & !0xFFFF_FFFF {
        0 => None,
        TAG_OS => Some(ClockError::Os(v as u32 as i32)),
        TAG_NOT_STARTED => Some(ClockError::NotStarted),
        TAG_OUT_OF_RANGE => Some(ClockError::OutOfRange),
        // Only `encode` writes the fault word, so anything else is Injected.
        _ => Some(ClockError::Injected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(n: u64) -> Instant {
        Instant::from_nanos(n).unwrap()
    }

    #[test]
    fn reads_start_and_moves_only_when_told() {
        let c = ManualClock::new(i(10));
        assert_eq!(c.now(), Ok(i(10)));
        assert_eq!(c.now(), Ok(i(10)));
        assert!(c.advance(Duration::from_nanos(1)));
        assert_eq!(c.now(), Ok(i(11)));
        assert!(c.advance(Duration::ZERO));
        assert_eq!(c.now(), Ok(i(11)));
    }

    #[test]
    fn step_back_and_set() {
        let c = ManualClock::new(i(10));
        assert!(c.step_back(Duration::from_nanos(9)));
        assert_eq!(c.now(), Ok(i(1)));
        c.set(i(500));
        assert_eq!(c.now(), Ok(i(500)));
        c.set(i(7));
        assert_eq!(c.now(), Ok(i(7)));
    }

    #[test]
    fn refuses_to_reach_zero_or_overflow() {
        let c = ManualClock::new(i(10));
        assert!(!c.step_back(Duration::from_nanos(10)));
        assert!(!c.step_back(Duration::from_nanos(11)));
        assert_eq!(c.now(), Ok(i(10)));
        c.set(i(u64::MAX - 1));
        assert!(!c.advance(Duration::from_nanos(2)));
        assert!(!c.advance(Duration::MAX));
        assert_eq!(c.now(), Ok(i(u64::MAX - 1)));
        assert!(c.advance(Duration::from_nanos(1)));
        assert_eq!(c.now(), Ok(i(u64::MAX)));
    }

    #[test]
    fn fails_on_demand_with_each_error_and_recovers() {
        let c = ManualClock::new(i(10));
        for err in [
            ClockError::Os(0),
            ClockError::Os(22),
            ClockError::Os(-1),
            ClockError::Os(i32::MAX),
            ClockError::Os(i32::MIN),
            ClockError::NotStarted,
            ClockError::OutOfRange,
            ClockError::Injected,
        ] {
            c.fail_with(err);
            assert_eq!(c.now(), Err(err));
            // Time keeps moving underneath a failing clock.
            assert!(c.advance(Duration::from_nanos(1)));
            assert_eq!(c.now(), Err(err));
        }
        c.recover();
        assert_eq!(c.now(), Ok(i(18)));
    }

    #[test]
    fn info_is_what_it_was_given() {
        assert_eq!(ManualClock::new(i(1)).info(), MANUAL_INFO);
        let info = ClockInfo {
            name: "test",
            resolution: Duration::from_micros(30),
            max_drift_ppm: 50,
            counts_suspend: None,
            slewed: Some(true),
        };
        let c = ManualClock::with_info(i(1), info);
        assert_eq!(c.info(), info);
        // The blanket impl for references forwards both methods.
        let r = &c;
        assert_eq!(Clock::info(&r), info);
        assert_eq!(Clock::now(&r), Ok(i(1)));
    }

    #[test]
    fn manual_clock_is_sync() {
        fn assert_sync<T: Sync + Send>() {}
        assert_sync::<ManualClock>();
    }
}
