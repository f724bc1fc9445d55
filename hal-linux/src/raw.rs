//! `CLOCK_MONOTONIC_RAW` as a [`Clock`].

use core::time::Duration;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::sys::{self, CLOCK_MONOTONIC_RAW};
use crate::MAX_DRIFT_PPM;

/// `CLOCK_MONOTONIC_RAW`: the hardware clocksource at its calibrated rate,
/// never slewed or stepped by NTP, but **stopped while the system is
/// suspended**.
///
/// Use it where suspend cannot happen (servers without suspend, or where a
/// resume is handled by dropping the lease); otherwise prefer
/// [`SuspendAwareClock`](crate::SuspendAwareClock), which adds the time spent
/// suspended.
///
/// Reads go through `clock_gettime`, which the vDSO serves without a system
/// call on current kernels (for `CLOCK_MONOTONIC_RAW` since Linux 5.3 on
/// x86; older kernels make a system call, which is correct but slower).
///
/// ```
/// use leasehold_core::Clock;
/// use leasehold_hal_linux::RawClock;
///
/// let clock = RawClock::new()?;
/// let a = clock.now()?;
/// let b = clock.now()?;
/// assert!(b >= a);
/// assert_eq!(clock.info().counts_suspend, Some(false));
/// # Ok::<(), leasehold_core::ClockError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RawClock {
    resolution: Duration,
}

impl RawClock {
    /// Opens the clock: reads its resolution with `clock_getres` and takes one
    /// reading, so that a kernel without `CLOCK_MONOTONIC_RAW` fails here
    /// (typically `ClockError::Os(EINVAL)`) rather than at the first lease.
    pub fn new() -> Result<RawClock, ClockError> {
        let resolution = sys::resolution(CLOCK_MONOTONIC_RAW)?;
        sys::now_ns(CLOCK_MONOTONIC_RAW)?;
        Ok(RawClock { resolution })
    }
}

impl Clock for RawClock {
    /// Reads `CLOCK_MONOTONIC_RAW`. A refused read is `ClockError::Os(errno)`,
    /// a reading that is zero or does not fit in `u64` nanoseconds is
    /// `ClockError::OutOfRange`.
    #[inline]
    fn now(&self) -> Result<Instant, ClockError> {
        let ns = sys::now_ns(CLOCK_MONOTONIC_RAW)?;
        Instant::from_nanos(ns).ok_or(ClockError::OutOfRange)
    }

    /// `counts_suspend: Some(false)`, `slewed: Some(false)`, the resolution
    /// `clock_getres` reported, and [`MAX_DRIFT_PPM`].
    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "CLOCK_MONOTONIC_RAW",
            resolution: self.resolution,
            max_drift_ppm: MAX_DRIFT_PPM,
            counts_suspend: Some(false),
            slewed: Some(false),
        }
    }
}
