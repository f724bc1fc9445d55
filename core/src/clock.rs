//! The clock trait every HAL implements, its error and its self-description.

use core::fmt;
use core::time::Duration;

use crate::Instant;

/// A monotonic clock that a lease can be timed against.
///
/// Implementations live in the HAL crates; the core never reads a clock on
/// its own. A read that fails must be an `Err`: no implementation may turn a
/// failure into zero, a cached value or any other `Instant` (invariant 1).
///
/// ```
/// use leasehold_core::{Clock, ClockError, ManualClock, Instant};
///
/// fn elapsed_ns(clock: &impl Clock, since: Instant) -> Result<u64, ClockError> {
///     Ok(clock.now()?.saturating_duration_since(since).as_nanos() as u64)
/// }
///
/// let clock = ManualClock::new(Instant::from_nanos(100).unwrap());
/// clock.fail_with(ClockError::Os(22));
/// assert_eq!(elapsed_ns(&clock, Instant::from_nanos(1).unwrap()), Err(ClockError::Os(22)));
/// ```
pub trait Clock {
    /// Reads the clock.
    fn now(&self) -> Result<Instant, ClockError>;

    /// Describes what this clock measures; see [`ClockInfo`].
    fn info(&self) -> ClockInfo;
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now(&self) -> Result<Instant, ClockError> {
        (**self).now()
    }

    fn info(&self) -> ClockInfo {
        (**self).info()
    }
}

/// Why a clock read produced no [`Instant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ClockError {
    /// The operating system refused the read; the payload is its error code
    /// (`errno` on Unix, for example `EINVAL` for a clock the kernel lacks).
    Os(i32),
    /// The clock source is not running yet (for example a hardware timer that
    /// has not been started).
    NotStarted,
    /// The reading cannot be represented as an [`Instant`]: it is zero,
    /// negative, or beyond `u64::MAX` nanoseconds.
    OutOfRange,
    /// A failure requested by a test clock such as [`ManualClock`](crate::ManualClock).
    Injected,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClockError::Os(code) => write!(f, "clock read failed with OS error {code}"),
            ClockError::NotStarted => f.write_str("clock source not started"),
            ClockError::OutOfRange => f.write_str("clock reading out of range for an Instant"),
            ClockError::Injected => f.write_str("injected clock failure"),
        }
    }
}

impl core::error::Error for ClockError {}

/// What a clock measures, so that a lease can be sized for it.
///
/// Every HAL fills this in honestly for the platform it runs on; `None`
/// means "not known", and a careful user treats it as the unsafe answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClockInfo {
    /// The clock's name, for example `"CLOCK_MONOTONIC_RAW"`.
    pub name: &'static str,
    /// The smallest step the clock can advance by.
    pub resolution: Duration,
    /// Upper bound on the rate error against real time, in parts per million,
    /// that the HAL assumes for this clock (oscillator error plus any slew).
    pub max_drift_ppm: u32,
    /// Whether the clock keeps counting while the system is suspended.
    /// A clock that stops during suspend lets a resumed leader believe its
    /// lease is still fresh.
    pub counts_suspend: Option<bool>,
    /// Whether NTP (or similar) adjusts the clock's rate.
    pub slewed: Option<bool>,
}

#[cfg(feature = "defmt")]
impl defmt::Format for ClockInfo {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ClockInfo {{ name: {=str}, resolution: {=u64}ns, max_drift_ppm: {=u32}, counts_suspend: {}, slewed: {} }}",
            self.name,
            crate::instant::defmt_nanos(self.resolution),
            self.max_drift_ppm,
            self.counts_suspend,
            self.slewed
        )
    }
}
