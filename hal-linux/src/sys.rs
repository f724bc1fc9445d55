//! The only place this crate calls into the OS: `clock_gettime` and
//! `clock_getres`, with every failure turned into a [`ClockError`].

use core::mem::MaybeUninit;
use core::time::Duration;

use leasehold_core::ClockError;

pub(crate) use libc::{clockid_t, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Reads clock `id` as nanoseconds since its origin; never zero.
///
/// A failed call is `Err(ClockError::Os(errno))`. There is deliberately no
/// fallback value: a failure that became a number could keep a lease valid
/// (invariant 1).
#[inline]
pub(crate) fn now_ns(id: clockid_t) -> Result<u64, ClockError> {
    let mut ts = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `ts` is valid for a write of one `timespec` for the whole call,
    // and `clock_gettime` writes nothing beyond it.
    let rc = unsafe { libc::clock_gettime(id, ts.as_mut_ptr()) };
    if rc != 0 {
        return Err(last_os_error());
    }
    // SAFETY: `clock_gettime` returned 0, which means it filled in `ts`.
    let ts = unsafe { ts.assume_init() };
    timespec_to_nanos(widen(ts.tv_sec), widen(ts.tv_nsec))
}

/// The resolution `clock_getres` reports for clock `id`.
pub(crate) fn resolution(id: clockid_t) -> Result<Duration, ClockError> {
    let mut ts = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: as in `now_ns`: `ts` is valid for a write of one `timespec`.
    let rc = unsafe { libc::clock_getres(id, ts.as_mut_ptr()) };
    if rc != 0 {
        return Err(last_os_error());
    }
    // SAFETY: `clock_getres` returned 0, which means it filled in `ts`.
    let ts = unsafe { ts.assume_init() };
    timespec_to_resolution(widen(ts.tv_sec), widen(ts.tv_nsec))
}

/// `time_t` and `c_long` are `i32` on some 32-bit targets and `i64` elsewhere;
/// a generic widening says so once without a same-type `From` that clippy
/// flags on 64-bit targets.
#[inline]
fn widen<T: Into<i64>>(x: T) -> i64 {
    x.into()
}

/// Kept out of line: it is only reached when the kernel refused a read.
#[cold]
#[inline(never)]
fn last_os_error() -> ClockError {
    // std builds this error from errno, so `raw_os_error` is always `Some`;
    // 0 ("no error code") would still be an `Err`, which is what matters.
    ClockError::Os(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// A `timespec` reading as nanoseconds, or `OutOfRange` if it is negative,
/// zero, has `tv_nsec` outside `0..1e9`, or does not fit in `u64`.
#[inline]
pub(crate) fn timespec_to_nanos(sec: i64, nsec: i64) -> Result<u64, ClockError> {
    let sec = u64::try_from(sec).map_err(|_| ClockError::OutOfRange)?;
    let nsec = match u64::try_from(nsec) {
        Ok(n) if n < NANOS_PER_SEC => n,
        _ => return Err(ClockError::OutOfRange),
    };
    match sec
        .checked_mul(NANOS_PER_SEC)
        .and_then(|s| s.checked_add(nsec))
    {
        // Zero is not an Instant; a monotonic clock never reads zero after boot.
        Some(0) | None => Err(ClockError::OutOfRange),
        Some(ns) => Ok(ns),
    }
}

/// A `clock_getres` result as a `Duration`, at least one nanosecond (the
/// finest step a `timespec` can express).
fn timespec_to_resolution(sec: i64, nsec: i64) -> Result<Duration, ClockError> {
    let sec = u64::try_from(sec).map_err(|_| ClockError::OutOfRange)?;
    let nsec = match u32::try_from(nsec) {
        Ok(n) if u64::from(n) < NANOS_PER_SEC => n,
        _ => return Err(ClockError::OutOfRange),
    };
    Ok(Duration::new(sec, nsec).max(Duration::from_nanos(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not a clock the kernel knows: dynamic (negative) ids encode CPU clocks
    /// and file descriptors, small positive ids are the fixed clocks, and
    /// anything past `MAX_CLOCKS` (16) is rejected with EINVAL.
    const NO_SUCH_CLOCK: clockid_t = 1000;

    #[test]
    fn failed_read_is_os_error() {
        assert_eq!(now_ns(NO_SUCH_CLOCK), Err(ClockError::Os(libc::EINVAL)));
        assert_eq!(resolution(NO_SUCH_CLOCK), Err(ClockError::Os(libc::EINVAL)));
    }

    #[test]
    fn real_clocks_read_nonzero() {
        for id in [CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC, CLOCK_BOOTTIME] {
            assert!(now_ns(id).unwrap() > 0);
            let res = resolution(id).unwrap();
            assert!(res >= Duration::from_nanos(1) && res <= Duration::from_millis(10));
        }
    }

    #[test]
    fn timespec_conversion_edges() {
        assert_eq!(timespec_to_nanos(0, 1), Ok(1));
        assert_eq!(timespec_to_nanos(1, 0), Ok(NANOS_PER_SEC));
        assert_eq!(timespec_to_nanos(2, 999_999_999), Ok(2_999_999_999));
        assert_eq!(timespec_to_nanos(0, 0), Err(ClockError::OutOfRange));
        assert_eq!(timespec_to_nanos(-1, 5), Err(ClockError::OutOfRange));
        assert_eq!(timespec_to_nanos(5, -1), Err(ClockError::OutOfRange));
        assert_eq!(
            timespec_to_nanos(5, 1_000_000_000),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(timespec_to_nanos(i64::MIN, 0), Err(ClockError::OutOfRange));
        assert_eq!(timespec_to_nanos(i64::MAX, 0), Err(ClockError::OutOfRange));
        // The last representable second, then one nanosecond past u64::MAX.
        let max_sec = (u64::MAX / NANOS_PER_SEC) as i64;
        let max_nsec = (u64::MAX % NANOS_PER_SEC) as i64;
        assert_eq!(timespec_to_nanos(max_sec, max_nsec), Ok(u64::MAX));
        assert_eq!(
            timespec_to_nanos(max_sec, max_nsec + 1),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(
            timespec_to_nanos(max_sec + 1, 0),
            Err(ClockError::OutOfRange)
        );
    }

    #[test]
    fn resolution_conversion_edges() {
        assert_eq!(timespec_to_resolution(0, 1), Ok(Duration::from_nanos(1)));
        assert_eq!(timespec_to_resolution(0, 0), Ok(Duration::from_nanos(1)));
        assert_eq!(
            timespec_to_resolution(0, 4_000_000),
            Ok(Duration::from_millis(4))
        );
        assert_eq!(timespec_to_resolution(1, 0), Ok(Duration::from_secs(1)));
        assert_eq!(timespec_to_resolution(-1, 0), Err(ClockError::OutOfRange));
        assert_eq!(timespec_to_resolution(0, -1), Err(ClockError::OutOfRange));
        assert_eq!(
            timespec_to_resolution(0, 1_000_000_000),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(
            timespec_to_resolution(0, i64::MAX),
            Err(ClockError::OutOfRange)
        );
    }
}
