//! The clock object and the process-wide base it reads against.

use core::time::Duration;
use std::sync::OnceLock;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::{HOST_INFO, ORIGIN_NANOS};

/// The `std::time::Instant` every reading in this process is measured from.
///
/// One base for the whole process, not one per clock object, so that
/// instants from any two `FallbackClock`s are comparable.
static BASE: OnceLock<std::time::Instant> = OnceLock::new();

/// std's monotonic clock as a leasehold [`Clock`].
///
/// Zero-sized and `Copy`; every instance reads the same process-wide
/// timeline (see the [crate docs](crate#readings)). [`Clock::info`] returns
/// [`FallbackClock::INFO`], the description of std's clock on the target this
/// was compiled for.
///
/// ```
/// use leasehold_core::Clock;
/// use leasehold_hal_fallback::{FallbackClock, ORIGIN_NANOS};
///
/// static CLOCK: FallbackClock = FallbackClock::new();
///
/// let t = CLOCK.now()?;
/// assert!(t.as_nanos() >= ORIGIN_NANOS);
/// assert_eq!(CLOCK.info(), FallbackClock::INFO);
/// # Ok::<(), leasehold_core::ClockError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FallbackClock {
    _private: (),
}

impl FallbackClock {
    /// What std's clock is on this target; the table in the
    /// [crate docs](crate#what-stds-instant-is-on-each-os) gives every OS.
    pub const INFO: ClockInfo = HOST_INFO;

    /// A handle on the process-wide clock. Costs nothing; the shared base is
    /// read on the first [`now`](Clock::now) of any instance.
    pub const fn new() -> FallbackClock {
        FallbackClock { _private: () }
    }
}

impl Clock for FallbackClock {
    /// Reads std's monotonic clock; see the [crate docs](crate#readings).
    ///
    /// `Err(ClockError::OutOfRange)` if the reading lies before the shared
    /// base (std's clock went backwards, a platform bug) or more than
    /// `u64::MAX - ORIGIN_NANOS` ns after it.
    #[inline]
    fn now(&self) -> Result<Instant, ClockError> {
        // The base is read (and, on the first call, set) before the current
        // time, so the call that sets it reads no earlier than the base.
        let base = *BASE.get_or_init(std::time::Instant::now);
        std::time::Instant::now()
            .checked_duration_since(base)
            .ok_or(ClockError::OutOfRange)
            .and_then(instant_from_elapsed)
    }

    fn info(&self) -> ClockInfo {
        Self::INFO
    }
}

/// The reading for a process that has been running for `elapsed` since the
/// shared base: `ORIGIN_NANOS + elapsed`, or `OutOfRange` past `u64::MAX` ns.
#[inline]
fn instant_from_elapsed(elapsed: Duration) -> Result<Instant, ClockError> {
    u64::try_from(elapsed.as_nanos())
        .ok()
        .and_then(|nanos| nanos.checked_add(ORIGIN_NANOS))
        .and_then(Instant::from_nanos)
        .ok_or(ClockError::OutOfRange)
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn elapsed_is_offset_by_the_origin() {
        assert_eq!(
            instant_from_elapsed(Duration::ZERO).map(Instant::as_nanos),
            Ok(ORIGIN_NANOS)
        );
        assert_eq!(
            instant_from_elapsed(Duration::from_nanos(1)).map(Instant::as_nanos),
            Ok(ORIGIN_NANOS + 1)
        );
        assert_eq!(
            instant_from_elapsed(Duration::new(3, 7)).map(Instant::as_nanos),
            Ok(ORIGIN_NANOS + 3_000_000_007)
        );
    }

    #[test]
    fn elapsed_beyond_u64_nanos_is_out_of_range() {
        let last = Duration::from_nanos(u64::MAX - ORIGIN_NANOS);
        assert_eq!(
            instant_from_elapsed(last).map(Instant::as_nanos),
            Ok(u64::MAX)
        );
        let one_more = last + Duration::from_nanos(1);
        assert_eq!(instant_from_elapsed(one_more), Err(ClockError::OutOfRange));
        // Fits in u64 nanoseconds, but not once the origin is added.
        assert_eq!(
            instant_from_elapsed(Duration::from_nanos(u64::MAX)),
            Err(ClockError::OutOfRange)
        );
        // Does not fit in u64 nanoseconds at all: no truncation.
        assert_eq!(
            instant_from_elapsed(Duration::from_secs(u64::MAX)),
            Err(ClockError::OutOfRange)
        );
        assert_eq!(
            instant_from_elapsed(Duration::MAX),
            Err(ClockError::OutOfRange)
        );
    }

    #[test]
    fn readings_are_never_zero_and_start_at_the_origin() {
        let t = FallbackClock::new().now().unwrap();
        assert!(t.as_nanos() >= ORIGIN_NANOS);
    }

    #[test]
    fn two_clock_objects_read_one_timeline() {
        let a = FallbackClock::new();
        let b = FallbackClock::default();
        let t1 = a.now().unwrap();
        let t2 = b.now().unwrap();
        let t3 = a.now().unwrap();
        assert!(t1 <= t2 && t2 <= t3, "{t1:?} {t2:?} {t3:?}");

        // A clock made on another thread, later, reads later than `t3` by at
        // least the time that passed in between.
        std::thread::sleep(Duration::from_millis(20));
        let t4 = std::thread::spawn(|| FallbackClock::new().now().unwrap())
            .join()
            .unwrap();
        assert!(t4.checked_duration_since(t3) >= Some(Duration::from_millis(20)));
    }

    #[test]
    fn elapsed_matches_std() {
        let clock = FallbackClock::new();
        let outer = std::time::Instant::now();
        let t0 = clock.now().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let t1 = clock.now().unwrap();
        let outer_elapsed = outer.elapsed();
        let elapsed = t1.checked_duration_since(t0).unwrap();
        assert!(elapsed >= Duration::from_millis(30), "{elapsed:?}");
        // Both readings lie inside the std interval measured around them.
        assert!(elapsed <= outer_elapsed, "{elapsed:?} > {outer_elapsed:?}");
    }

    #[test]
    fn monotonic_on_two_threads() {
        // FallbackClock is a handle on the process-wide timeline, so one
        // instance shared by both threads reads what any instance would.
        let clock = FallbackClock::new();
        clockcheck::monotonic_across_threads(&clock, 2, 1_000_000);
        assert!(clock.now().unwrap().as_nanos() >= ORIGIN_NANOS);
    }

    #[test]
    fn works_through_a_reference_and_is_shareable() {
        fn assert_traits<T: Send + Sync + Copy + 'static>() {}
        assert_traits::<FallbackClock>();
        assert_eq!(core::mem::size_of::<FallbackClock>(), 0);
        let clock = FallbackClock::new();
        let r = &clock;
        assert!(Clock::now(&r).is_ok());
        assert_eq!(Clock::info(&r), FallbackClock::INFO);
    }

    // The expected values are written out again here, from the table in the
    // crate docs, rather than taken from `HOST_INFO`.
    #[test]
    fn info_describes_the_host_os() {
        let info = FallbackClock::new().info();
        cfg_if::cfg_if! {
            if #[cfg(any(target_os = "linux", target_os = "android"))] {
                assert_eq!(info.name, "std::time::Instant (CLOCK_MONOTONIC)");
                assert_eq!(info.counts_suspend, Some(false));
                assert_eq!(info.slewed, Some(true));
                assert_eq!(info.max_drift_ppm, 226_500);
                assert_eq!(info.resolution, Duration::from_micros(1));
            } else if #[cfg(target_vendor = "apple")] {
                assert_eq!(info.name, "std::time::Instant (CLOCK_UPTIME_RAW)");
                assert_eq!(info.counts_suspend, Some(false));
                assert_eq!(info.slewed, Some(false));
                assert_eq!(info.max_drift_ppm, 500);
                assert_eq!(info.resolution, Duration::from_micros(1));
            } else if #[cfg(windows)] {
                assert_eq!(info.name, "std::time::Instant (QueryPerformanceCounter)");
                assert_eq!(info.counts_suspend, Some(true));
                assert_eq!(info.slewed, Some(false));
                assert_eq!(info.max_drift_ppm, 500);
                assert_eq!(info.resolution, Duration::from_micros(1));
            } else if #[cfg(target_os = "freebsd")] {
                assert_eq!(info.name, "std::time::Instant (CLOCK_MONOTONIC)");
                assert_eq!(info.counts_suspend, Some(false));
                assert_eq!(info.slewed, Some(true));
                assert_eq!(info.max_drift_ppm, 37_250);
                assert_eq!(info.resolution, Duration::from_micros(1));
            } else {
                assert_eq!(info.name, "std::time::Instant");
                assert_eq!(info.counts_suspend, None);
                assert_eq!(info.slewed, None);
                assert_eq!(info.max_drift_ppm, 250_000);
                assert_eq!(info.resolution, Duration::from_millis(20));
            }
        }
    }
}
