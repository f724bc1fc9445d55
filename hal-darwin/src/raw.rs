//! `CLOCK_MONOTONIC_RAW` through `libc::clock_gettime` (Apple targets only).

use core::time::Duration;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::convert::{error_from_errno, instant_from_timespec, resolution_from_timespec};

/// Assumed bound on the oscillator's rate error; see the crate docs.
const MAX_DRIFT_PPM: u32 = 500;

/// Apple's `CLOCK_MONOTONIC_RAW`: keeps counting while the machine sleeps and
/// is not steered by NTP.
///
/// Built with [`RawClock::new`], which reads the clock's resolution and the
/// clock itself once, so a machine on which the clock does not work fails at
/// start-up rather than at the first lease check.
///
/// ```
/// # #[cfg(target_vendor = "apple")]
/// # fn main() -> Result<(), leasehold_core::ClockError> {
/// use leasehold_core::Clock;
/// use leasehold_hal_darwin::RawClock;
///
/// let clock = RawClock::new()?;
/// let t0 = clock.now()?;
/// assert!(clock.now()? >= t0);
/// assert_eq!(clock.info().counts_suspend, Some(true));
/// assert_eq!(clock.info().slewed, Some(false));
/// # Ok(())
/// # }
/// # #[cfg(not(target_vendor = "apple"))]
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawClock {
    resolution: Duration,
}

impl RawClock {
    /// Checks that the clock can be read and records its resolution.
    ///
    /// Fails with the error `clock_getres` or `clock_gettime` reported:
    /// [`ClockError::Os`] with `errno`, or [`ClockError::OutOfRange`] if the
    /// system returned a malformed value or failed without setting `errno`.
    pub fn new() -> Result<RawClock, ClockError> {
        let resolution = read_resolution()?;
        read()?;
        Ok(RawClock { resolution })
    }
}

impl Clock for RawClock {
    /// Reads `CLOCK_MONOTONIC_RAW`. A failed or zero reading is an `Err`,
    /// never an instant.
    #[inline]
    fn now(&self) -> Result<Instant, ClockError> {
        read()
    }

    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "CLOCK_MONOTONIC_RAW",
            resolution: self.resolution,
            max_drift_ppm: MAX_DRIFT_PPM,
            counts_suspend: Some(true),
            slewed: Some(false),
        }
    }
}

#[inline]
fn read() -> Result<Instant, ClockError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    clear_errno();
    // SAFETY: `ts` is a live, writable `timespec` for the whole call, and
    // `clock_gettime` writes nothing else. `CLOCK_MONOTONIC_RAW` exists since
    // macOS 10.12 / iOS 10, below every deployment target Rust supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    if rc != 0 {
        return Err(error_from_errno(errno()));
    }
    let (sec, nsec) = timespec_parts(&ts);
    instant_from_timespec(sec, nsec)
}

fn read_resolution() -> Result<Duration, ClockError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    clear_errno();
    // SAFETY: as in `read`: `ts` is a live, writable `timespec`.
    let rc = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_RAW, &mut ts) };
    if rc != 0 {
        return Err(error_from_errno(errno()));
    }
    let (sec, nsec) = timespec_parts(&ts);
    resolution_from_timespec(sec, nsec)
}

// `time_t` and `c_long` are 64-bit on most Apple targets, where these
// conversions do nothing, but 32-bit on arm64_32 watchOS.
#[allow(clippy::useless_conversion)]
#[inline]
fn timespec_parts(ts: &libc::timespec) -> (i64, i64) {
    (i64::from(ts.tv_sec), i64::from(ts.tv_nsec))
}

// Apple's libc does not set `errno` on every failure path of the raw clocks
// (see `convert::error_from_errno`), so it is cleared before each call to
// tell a fresh error from a stale one.
#[inline]
fn clear_errno() {
    // SAFETY: `__error` returns the calling thread's `errno` slot, which is
    // valid, aligned and owned by this thread for as long as it runs.
    unsafe { *libc::__error() = 0 };
}

#[inline]
fn errno() -> i32 {
    // SAFETY: as in `clear_errno`.
    unsafe { *libc::__error() }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn new_reads_the_resolution_and_the_clock() {
        let clock = RawClock::new().unwrap();
        let info = clock.info();
        assert_eq!(info.name, "CLOCK_MONOTONIC_RAW");
        assert!(!info.resolution.is_zero());
        // Apple documents steps of the mach timebase: 1 ns (Intel) or
        // ~42 ns (24 MHz Apple silicon); anything near a microsecond would
        // mean this is not the clock we think it is.
        assert!(info.resolution < Duration::from_micros(1), "{info:?}");
        assert_eq!(info.max_drift_ppm, 500);
        assert_eq!(info.counts_suspend, Some(true));
        assert_eq!(info.slewed, Some(false));
    }

    #[test]
    fn readings_are_never_zero_and_advance() {
        let clock = RawClock::new().unwrap();
        let t0 = clock.now().unwrap();
        assert!(t0.as_nanos() > 0);
        std::thread::sleep(Duration::from_millis(20));
        let t1 = clock.now().unwrap();
        assert!(t1.checked_duration_since(t0) >= Some(Duration::from_millis(20)));
    }

    #[test]
    fn monotonic_on_two_threads() {
        clockcheck::monotonic_across_threads(&RawClock::new().unwrap(), 2, 1_000_000);
    }

    #[test]
    fn errno_is_cleared_before_a_read() {
        // SAFETY: as in `clear_errno`.
        unsafe { *libc::__error() = libc::EINTR };
        assert!(RawClock::new().unwrap().now().is_ok());
        assert_eq!(errno(), 0);
    }
}
