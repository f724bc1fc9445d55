//! Turning what `clock_gettime`, `clock_getres` and `errno` report into
//! leasehold values. Pure, so it is compiled and tested on every host even
//! though only Apple targets call it.

use core::time::Duration;

use leasehold_core::{ClockError, Instant};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A `timespec` as whole nanoseconds, or `None` if it is negative, not
/// normalised (`tv_nsec` outside `0..10^9`) or beyond `u64::MAX` ns.
#[inline]
fn timespec_nanos(sec: i64, nsec: i64) -> Option<u64> {
    let sec = u64::try_from(sec).ok()?;
    let nsec = u64::try_from(nsec).ok().filter(|&n| n < NANOS_PER_SEC)?;
    sec.checked_mul(NANOS_PER_SEC)?.checked_add(nsec)
}

/// The reading `clock_gettime` returned as an [`Instant`].
///
/// A zero, negative, malformed or unrepresentable reading is
/// `ClockError::OutOfRange`, never an instant: zero in particular is what a
/// failed read would look like if it were let through (invariant 1).
#[inline]
pub(crate) fn instant_from_timespec(sec: i64, nsec: i64) -> Result<Instant, ClockError> {
    timespec_nanos(sec, nsec)
        .and_then(Instant::from_nanos)
        .ok_or(ClockError::OutOfRange)
}

/// The step `clock_getres` reported. Zero is refused like a malformed value:
/// no clock advances in steps of nothing, and a lease sized with a zero
/// resolution would silently drop that term.
pub(crate) fn resolution_from_timespec(sec: i64, nsec: i64) -> Result<Duration, ClockError> {
    match timespec_nanos(sec, nsec) {
        Some(0) | None => Err(ClockError::OutOfRange),
        Some(_) => {
            // Both parts were checked by `timespec_nanos` (non-negative,
            // nsec < 10^9), so these conversions cannot fail.
            let sec = u64::try_from(sec).map_err(|_| ClockError::OutOfRange)?;
            let nsec = u32::try_from(nsec).map_err(|_| ClockError::OutOfRange)?;
            Ok(Duration::new(sec, nsec))
        }
    }
}

/// The error for a call that returned -1, given `errno` as it was after the
/// call, having been cleared to 0 before it.
///
/// Apple's `clock_gettime` for the raw clocks fails without setting `errno`
/// when the nanosecond value it computed is 0 or when `mach_timebase_info`
/// fails (Libc `gen/clock_gettime.c`). A failure with `errno` still 0 is
/// therefore reported as `OutOfRange`, not as a made-up OS error.
pub(crate) fn error_from_errno(errno: i32) -> ClockError {
    match errno {
        0 => ClockError::OutOfRange,
        code => ClockError::Os(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(n: u64) -> Result<Instant, ClockError> {
        Instant::from_nanos(n).ok_or(ClockError::Injected)
    }

    #[test]
    fn readings_convert_exactly() {
        assert_eq!(instant_from_timespec(0, 1), ns(1));
        assert_eq!(instant_from_timespec(1, 0), ns(1_000_000_000));
        assert_eq!(instant_from_timespec(0, 999_999_999), ns(999_999_999));
        assert_eq!(instant_from_timespec(12, 345), ns(12_000_000_345));
    }

    #[test]
    fn zero_reading_is_an_error_not_an_instant() {
        assert_eq!(instant_from_timespec(0, 0), Err(ClockError::OutOfRange));
    }

    #[test]
    fn malformed_readings_are_errors() {
        for (sec, nsec) in [
            (-1, 0),
            (0, -1),
            (-1, 999_999_999),
            (0, 1_000_000_000),
            (1, i64::MAX),
            (i64::MIN, 0),
            (0, i64::MIN),
        ] {
            assert_eq!(
                instant_from_timespec(sec, nsec),
                Err(ClockError::OutOfRange),
                "{sec}, {nsec}"
            );
        }
    }

    #[test]
    fn u64_nanosecond_edge() {
        // u64::MAX ns = 18_446_744_073 s + 709_551_615 ns.
        assert_eq!(
            instant_from_timespec(18_446_744_073, 709_551_615),
            ns(u64::MAX)
        );
        assert_eq!(
            instant_from_timespec(18_446_744_073, 709_551_616),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(
            instant_from_timespec(18_446_744_074, 0),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(
            instant_from_timespec(i64::MAX, 999_999_999),
            Err(ClockError::OutOfRange)
        );
    }

    #[test]
    fn resolutions() {
        // Apple silicon's 24 MHz timebase (numer/denom = 125/3) reports
        // ceil(125/3) = 42 ns; Intel Macs report 1 ns.
        assert_eq!(
            resolution_from_timespec(0, 42),
            Ok(Duration::from_nanos(42))
        );
        assert_eq!(resolution_from_timespec(0, 1), Ok(Duration::from_nanos(1)));
        assert_eq!(resolution_from_timespec(2, 5), Ok(Duration::new(2, 5)));
        for (sec, nsec) in [(0, 0), (-1, 0), (0, -1), (0, 1_000_000_000), (i64::MAX, 0)] {
            assert_eq!(
                resolution_from_timespec(sec, nsec),
                Err(ClockError::OutOfRange),
                "{sec}, {nsec}"
            );
        }
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(error_from_errno(0), ClockError::OutOfRange);
        assert_eq!(error_from_errno(22), ClockError::Os(22));
        assert_eq!(error_from_errno(-5), ClockError::Os(-5));
    }
}
