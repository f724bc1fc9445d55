//! `CLOCK_MONOTONIC_RAW` plus the kernel's accumulated suspend time.

use core::time::Duration;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};
use portable_atomic::{AtomicU64, Ordering};

use crate::combine::combine;
use crate::sys::{self, clockid_t, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW};
use crate::MAX_DRIFT_PPM;

/// A clock that runs at `CLOCK_MONOTONIC_RAW`'s unslewed rate and also counts
/// the time the system spent suspended, so that a lease taken before a suspend
/// has expired after it.
///
/// Each [`now`](Clock::now) reads RAW, then MONOTONIC, then BOOTTIME, and
/// returns `RAW + max(BOOTTIME − MONOTONIC over all readings so far)`; the
/// reasoning, and the bound on how far ahead that can run, is in
/// [`combine`](crate::combine). The result never runs backwards and never
/// slower than RAW, also across threads sharing one `SuspendAwareClock`.
///
/// # Across threads
///
/// The running maximum is one `AtomicU64`, only ever raised with `fetch_max`,
/// so its modification order is non-decreasing. If a reading R1 returned by
/// one thread happens-before a reading R2 starts on another (through whatever
/// synchronisation passed R1 along), then R2's load of the maximum is ordered
/// after R1's load or `fetch_max` of it, and by read-read and write-read
/// coherence sees the same or a later, hence not smaller, value. RAW read for
/// R2 is not below RAW read for R1 (the kernel keeps RAW monotonic across
/// CPUs). So R2 ≥ R1. That argument needs only coherence of the one atomic,
/// which is why the accesses are `Relaxed`. The common path is a single load;
/// the store happens only when an estimate exceeds the maximum, i.e. after a
/// resume or a preempted read.
///
/// # What it does not fix
///
/// * The suspend offset is only as exact as the kernel's measurement of the
///   suspend. With a clocksource that keeps running through suspend it is
///   exact; otherwise the kernel takes it from the persistent clock or RTC,
///   often with whole-second granularity, so a single suspend can be counted
///   about a second short (or long). If that matters, drop the lease when
///   [`suspend_offset`](Self::suspend_offset) grows, or keep at least a second
///   of margin.
/// * The offset itself is the difference of two NTP-slewed clocks, but it
///   only changes at resume (BOOTTIME and MONOTONIC are slewed together), so
///   the rate between suspends is RAW's: `ClockInfo::slewed` is `Some(false)`.
/// * A long preemption (or a `SIGSTOP`) between the MONOTONIC and BOOTTIME
///   reads would step the clock forward for good by its length. So whenever
///   an estimate exceeds the maximum (the rare path), the pair is read again
///   and the smaller estimate is kept: both are over-estimates taken after
///   RAW, so this stays safe, and only two preemptions in a row still step
///   the clock. Leases outstanding at such a step expire early; later ones
///   are unaffected.
/// * A hypervisor pausing the virtual machine is not a kernel suspend; whether
///   the guest's clocks advance across such a pause is up to the hypervisor.
///
/// ```
/// use leasehold_core::Clock;
/// use leasehold_hal_linux::{RawClock, SuspendAwareClock};
///
/// let raw = RawClock::new()?;
/// let clock = SuspendAwareClock::new()?;
/// let before = raw.now()?;
/// let t = clock.now()?;
/// // RAW plus a non-negative suspend offset.
/// assert!(t >= before);
/// assert_eq!(clock.info().counts_suspend, Some(true));
/// # Ok::<(), leasehold_core::ClockError>(())
/// ```
#[derive(Debug)]
pub struct SuspendAwareClock {
    /// Running maximum of `BOOTTIME − MONOTONIC` estimates, in nanoseconds.
    max_offset_ns: AtomicU64,
    resolution: Duration,
}

/// The three readings one `now()` takes, named so that tests can fail or
/// record any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Raw,
    Monotonic,
    Boottime,
}

impl Source {
    #[inline]
    fn clock_id(self) -> clockid_t {
        match self {
            Source::Raw => CLOCK_MONOTONIC_RAW,
            Source::Monotonic => CLOCK_MONOTONIC,
            Source::Boottime => CLOCK_BOOTTIME,
        }
    }
}

impl SuspendAwareClock {
    /// Opens the clock: reads the resolutions of the three clocks it uses and
    /// takes one reading, which both checks that the kernel has them
    /// (BOOTTIME needs Linux 2.6.39) and seeds the suspend offset.
    pub fn new() -> Result<SuspendAwareClock, ClockError> {
        let mut resolution = Duration::from_nanos(1);
        for source in [Source::Raw, Source::Monotonic, Source::Boottime] {
            resolution = resolution.max(sys::resolution(source.clock_id())?);
        }
        let clock = SuspendAwareClock {
            max_offset_ns: AtomicU64::new(0),
            resolution,
        };
        clock.now()?;
        Ok(clock)
    }

    /// The suspend time this clock currently adds to RAW: the largest
    /// `BOOTTIME − MONOTONIC` it has seen. It grows at each resume (and by a
    /// few nanoseconds to microseconds when a read was preempted), so a caller
    /// can compare it across reads to notice that the system was suspended.
    pub fn suspend_offset(&self) -> Duration {
        Duration::from_nanos(self.max_offset_ns.load(Ordering::Relaxed))
    }

    /// One reading with the three clocks read through `read`, in the order
    /// RAW, MONOTONIC, BOOTTIME; a failure of any read is returned as is and
    /// leaves the running maximum untouched.
    #[inline]
    fn now_from(
        &self,
        mut read: impl FnMut(Source) -> Result<u64, ClockError>,
    ) -> Result<Instant, ClockError> {
        let raw = read(Source::Raw)?;
        let mono = read(Source::Monotonic)?;
        let boot = read(Source::Boottime)?;
        let prev = self.max_offset_ns.load(Ordering::Relaxed);
        let mut c = combine(raw, mono, boot, prev)?;
        if c.max_offset_ns > prev {
            // Rare path: a resume, or a preemption between the two reads
            // inflated the estimate, which would step the clock forward for
            // good. A second pair, also read after RAW, is another
            // over-estimate of the offset at that moment, so the smaller of
            // the two is still safe and drops a one-off gap.
            let mono = read(Source::Monotonic)?;
            let boot = read(Source::Boottime)?;
            let second = combine(raw, mono, boot, prev)?;
            if second.max_offset_ns < c.max_offset_ns {
                c = second;
            }
        }
        if c.max_offset_ns > prev {
            self.max_offset_ns
                .fetch_max(c.max_offset_ns, Ordering::Relaxed);
        }
        Ok(c.instant)
    }
}

impl Clock for SuspendAwareClock {
    /// Reads RAW, MONOTONIC and BOOTTIME and combines them. A refused read is
    /// `ClockError::Os(errno)`; a reading that is zero or overflows `u64`
    /// nanoseconds, alone or with the offset added, is `ClockError::OutOfRange`.
    #[inline]
    fn now(&self) -> Result<Instant, ClockError> {
        self.now_from(|source| sys::now_ns(source.clock_id()))
    }

    /// `counts_suspend: Some(true)`, `slewed: Some(false)` (see the type's
    /// documentation for the offset), the coarsest resolution of the three
    /// clocks, and [`MAX_DRIFT_PPM`].
    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "CLOCK_MONOTONIC_RAW + (CLOCK_BOOTTIME - CLOCK_MONOTONIC)",
            resolution: self.resolution,
            max_drift_ppm: MAX_DRIFT_PPM,
            counts_suspend: Some(true),
            slewed: Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fabricated(offset: u64) -> SuspendAwareClock {
        SuspendAwareClock {
            max_offset_ns: AtomicU64::new(offset),
            resolution: Duration::from_nanos(1),
        }
    }

    #[test]
    fn reads_raw_then_monotonic_then_boottime() {
        let clock = fabricated(0);
        let mut order = Vec::new();
        let t = clock
            .now_from(|s| {
                order.push(s);
                Ok(match s {
                    Source::Raw => 100,
                    Source::Monotonic => 1_000,
                    Source::Boottime => 1_250,
                })
            })
            .unwrap();
        // The estimate rose above the maximum, so the pair is read twice.
        assert_eq!(
            order,
            [
                Source::Raw,
                Source::Monotonic,
                Source::Boottime,
                Source::Monotonic,
                Source::Boottime
            ]
        );
        assert_eq!(t.as_nanos(), 350);
        // Without a rise, one pair is enough.
        order.clear();
        clock
            .now_from(|s| {
                order.push(s);
                Ok(match s {
                    Source::Raw => 200,
                    Source::Monotonic => 2_000,
                    Source::Boottime => 2_100,
                })
            })
            .unwrap();
        assert_eq!(order, [Source::Raw, Source::Monotonic, Source::Boottime]);
        assert_eq!(clock.suspend_offset(), Duration::from_nanos(250));
    }

    /// Invariant 1: whichever of the three reads fails, `now` is that error,
    /// and the running maximum is not moved by a partial reading.
    #[test]
    fn any_failed_read_is_an_error() {
        for failing in [Source::Raw, Source::Monotonic, Source::Boottime] {
            for err in [ClockError::Os(libc::EINVAL), ClockError::OutOfRange] {
                let clock = fabricated(7);
                let got = clock.now_from(|s| {
                    if s == failing {
                        Err(err)
                    } else {
                        Ok(1_000_000 + 10 * s as u64)
                    }
                });
                assert_eq!(got, Err(err), "{failing:?}");
                assert_eq!(clock.suspend_offset(), Duration::from_nanos(7));
            }
        }
    }

    /// A preemption between the first MONOTONIC and BOOTTIME reads inflates
    /// that estimate; the second pair's smaller estimate is the one kept.
    #[test]
    fn a_one_off_gap_between_the_reads_is_dropped() {
        let clock = fabricated(250);
        let mut pair = 0;
        let t = clock
            .now_from(|s| {
                Ok(match s {
                    Source::Raw => 10_000,
                    Source::Monotonic => {
                        pair += 1;
                        if pair == 1 {
                            1_000
                        } else {
                            6_000_000
                        }
                    }
                    // 5 ms passed between the first MONOTONIC and BOOTTIME.
                    Source::Boottime if pair == 1 => 5_001_250,
                    Source::Boottime => 6_000_260,
                })
            })
            .unwrap();
        assert_eq!(clock.suspend_offset(), Duration::from_nanos(260));
        assert_eq!(t.as_nanos(), 10_260);
    }

    /// Two readers raising the maximum at once: the smaller raise must not
    /// overwrite the larger one, or a later reading could step back. The
    /// second reader runs to completion inside the first one's re-read, after
    /// the first has loaded the old maximum.
    #[test]
    fn a_smaller_concurrent_raise_never_lowers_the_maximum() {
        let clock = fabricated(0);
        let mut reads = 0;
        let first = clock
            .now_from(|s| {
                reads += 1;
                if reads == 4 {
                    // Another thread's reading with a larger offset.
                    let other = clock
                        .now_from(|s| {
                            Ok(match s {
                                Source::Raw => 2_000,
                                Source::Monotonic => 9_000,
                                Source::Boottime => 10_000,
                            })
                        })
                        .unwrap();
                    assert_eq!(other.as_nanos(), 3_000);
                }
                Ok(match s {
                    Source::Raw => 1_000,
                    Source::Monotonic => 5_000,
                    Source::Boottime => 5_500,
                })
            })
            .unwrap();
        assert_eq!(first.as_nanos(), 1_500);
        assert_eq!(clock.suspend_offset(), Duration::from_nanos(1_000));
    }

    #[test]
    fn overflow_is_an_error_and_keeps_the_maximum() {
        let clock = fabricated(5);
        let got = clock.now_from(|s| {
            Ok(match s {
                Source::Raw => u64::MAX - 3,
                Source::Monotonic => 10,
                Source::Boottime => 20,
            })
        });
        assert_eq!(got, Err(ClockError::OutOfRange));
        assert_eq!(clock.suspend_offset(), Duration::from_nanos(5));
    }

    #[test]
    fn the_maximum_only_rises() {
        let clock = fabricated(0);
        let mut offset = 0;
        let read_with = |boot_minus_mono: u64| {
            clock
                .now_from(|s| {
                    Ok(match s {
                        Source::Raw => 1_000,
                        Source::Monotonic => 5_000,
                        Source::Boottime => 5_000 + boot_minus_mono,
                    })
                })
                .unwrap()
                .as_nanos()
        };
        for (estimate, expect) in [(10, 10), (4, 10), (10_000, 10_000), (0, 10_000)] {
            offset = offset.max(estimate);
            assert_eq!(read_with(estimate), 1_000 + expect);
        }
        assert_eq!(clock.suspend_offset(), Duration::from_nanos(offset));
    }

    #[test]
    fn real_readings_are_raw_plus_kernel_suspend_time() {
        let clock = SuspendAwareClock::new().unwrap();
        let info = clock.info();
        assert_eq!(
            (info.counts_suspend, info.slewed),
            (Some(true), Some(false))
        );
        assert!(info.resolution >= Duration::from_nanos(1));
        let raw_before = sys::now_ns(CLOCK_MONOTONIC_RAW).unwrap();
        let t = clock.now().unwrap().as_nanos();
        let raw_after = sys::now_ns(CLOCK_MONOTONIC_RAW).unwrap();
        let offset = clock.suspend_offset().as_nanos() as u64;
        assert!(raw_before + offset <= t && t <= raw_after + offset);
        // The offset is the kernel's suspend time, up to read gaps.
        let mono = sys::now_ns(CLOCK_MONOTONIC).unwrap();
        let boot = sys::now_ns(CLOCK_BOOTTIME).unwrap();
        assert!(boot >= mono);
        assert!(offset.abs_diff(boot - mono) < 1_000_000_000);
    }
}
