//! `leasehold-hal-fallback`: a [`Clock`] on top of [`std::time::Instant`],
//! for every platform without a dedicated leasehold HAL and for host tests.
//!
//! [`FallbackClock`] reads whatever monotonic clock the standard library
//! picked for the target, and its [`ClockInfo`] says which clock that is and
//! what it is known to do. Where a dedicated HAL exists it is the better
//! choice: on Linux `leasehold-hal-linux` offers clocks that are not slewed and
//! that count suspend, on macOS and iOS `leasehold-hal-darwin` reads
//! `CLOCK_MONOTONIC_RAW`, which counts sleep. std's clock does neither there.
//!
//! ```
//! use leasehold_core::Clock;
//! use leasehold_hal_fallback::FallbackClock;
//!
//! let clock = FallbackClock::new();
//! let start = clock.now()?;
//! std::thread::sleep(std::time::Duration::from_millis(2));
//! let elapsed = clock.now()?.checked_duration_since(start);
//! assert!(elapsed >= Some(std::time::Duration::from_millis(2)));
//!
//! // Every clock object in the process reads the same timeline.
//! assert!(FallbackClock::new().now()? >= start);
//!
//! // What the clock is, for sizing a lease on this platform.
//! let info = clock.info();
//! assert!(info.max_drift_ppm > 0 && !info.resolution.is_zero());
//! # Ok::<(), leasehold_core::ClockError>(())
//! ```
//!
//! # What std's `Instant` is on each OS
//!
//! Which clock std reads comes from the standard library's source: for Rust
//! 1.95.0, the toolchain this crate is built with, `library/std/src/time.rs`
//! (table "Underlying System calls") and `library/std/src/sys/time/unix.rs`
//! (`Instant::CLOCK_ID`: `CLOCK_UPTIME_RAW` on `target_vendor = "apple"`,
//! `CLOCK_MONOTONIC` on every other Unix); for Windows,
//! `library/std/src/sys/time/windows.rs` in rust-lang/rust. What those clocks
//! do comes from the sources named below the table.
//!
//! | OS | std reads | slewed | counts suspend | max drift assumed | resolution assumed |
//! |---|---|---|---|---|---|
//! | Linux, Android | `clock_gettime(CLOCK_MONOTONIC)` | yes | no | 226 500 ppm | 1 µs |
//! | macOS, iOS and other Apple OSes | `clock_gettime(CLOCK_UPTIME_RAW)` (= `mach_absolute_time`) | no | no | 500 ppm | 1 µs |
//! | Windows | `QueryPerformanceCounter` | no | yes | 500 ppm | 1 µs |
//! | FreeBSD | `clock_gettime(CLOCK_MONOTONIC)` | yes | no | 37 250 ppm | 1 µs |
//! | anything else | unknown to this crate | unknown | unknown | 250 000 ppm | 20 ms |
//!
//! * **Linux, Android.** `CLOCK_MONOTONIC` stops while the system is
//!   suspended (`clock_gettime(2)`; `CLOCK_BOOTTIME` is the variant that does
//!   not) and runs at the rate NTP steers it to. The kernel lets a
//!   `CAP_SYS_TIME` process move that rate a long way (`kernel/time/ntp.c`,
//!   `include/linux/timex.h`): `ADJ_TICK` by ±10 % (`tick` must lie in
//!   `900000/USER_HZ ..= 1100000/USER_HZ`), `ADJ_FREQUENCY` by ±500 ppm
//!   (`MAXFREQ`), the PLL's phase correction by up to
//!   `MAXPHASE >> SHIFT_PLL` = 0.5 s / 4 per second (125 000 ppm, with time
//!   constant 0), and `adjtime(3)` by 500 µs/s (`MAX_TICKADJ`). These add up;
//!   with 500 ppm of oscillator error that is 226 500 ppm. This is not a
//!   theoretical rate: chrony slews at up to 83 333 ppm by default and its
//!   Linux driver allows 100 000 ppm (`chrony.conf(5)`, `maxslewrate`). The
//!   sum leaves out one configuration: with `CONFIG_NTP_PPS` and a PPS signal
//!   disciplining time, the kernel may apply a whole phase error (< 0.5 s)
//!   within one second. A lease sized for 226 500 ppm is about 37 % shorter
//!   than one for an unslewed clock; on Linux use `leasehold-hal-linux`.
//! * **Apple.** std reads `CLOCK_UPTIME_RAW` because deadlines inside the
//!   kernel are measured on it. Apple's `clock_gettime(3)`: it "increments
//!   monotonically, in the same manner as `CLOCK_MONOTONIC_RAW`" (which is
//!   "unaffected by frequency or time adjustments"), "but ... does not
//!   increment while the system is asleep". Not slewed, so the drift is the
//!   oscillator's alone; 500 ppm is the bound the other leasehold HALs assume
//!   (NTP's kernel discipline cannot correct a frequency error beyond
//!   `MAXFREQ` = 500 ppm, so a machine worse than that does not stay
//!   synchronised and is treated as broken).
//! * **Windows.** QueryPerformanceCounter counts "including the time when the
//!   machine was in a sleep state such as standby, hibernate, or connected
//!   standby" (Microsoft's QPC documentation, quoted in rust-lang/rust#79462),
//!   and "is independent of and isn't synchronized to any external time
//!   reference" ("Acquiring high-resolution time stamps"): not slewed. std
//!   converts ticks to nanoseconds with `ticks * 10^9 / QueryPerformanceFrequency`,
//!   so one tick is `1 / frequency`, commonly 100 ns but not guaranteed;
//!   Microsoft describes QPC as a "high resolution (<1us) time stamp", hence
//!   1 µs. Readings on different threads may be out of order by one tick
//!   (std's `Instant` itself treats a difference of up to one tick as zero).
//! * **FreeBSD.** std reads `CLOCK_MONOTONIC`. It does not count suspend: the
//!   FreeBSD developers wrote in 2023 "Right now, we do not have a monotonic
//!   clock that counts suspended time" (commit 108de784513d, D39270; also
//!   FreeBSD bug 236702). It is slewed: `kern_tc.c` folds the NTP PLL and
//!   `adjtime(2)` adjustment (`th_adjustment`) into the scale used for uptime.
//!   `kern_ntptime.c` (Mills' nanokernel code; the copy read dates from 2012)
//!   bounds that by `MAXFREQ` (500 ppm), the `adjtime` slew
//!   (5 000 ppm while more than a second off) and the PLL phase step
//!   `MAXPHASE >> SHIFT_PLL` = 0.5 s / 16 per second (31 250 ppm); with
//!   500 ppm of oscillator error, 37 250 ppm (PPS-disciplined time again
//!   excepted). The FreeBSD developers have said `CLOCK_MONOTONIC` may count
//!   suspend in the future; that would only make this table conservative.
//! * **Anything else** (other BSDs, illumos, WASI, Hermit, UEFI, ...): this
//!   crate does not know the clock, so both flags are `None` and the numbers
//!   are assumptions, not measurements: a drift above any rate found for the
//!   kernels above, and a resolution covering a 50 Hz scheduler tick.
//!
//! The resolution column is an upper bound on one step of the counter behind
//! the clock, not the unit of the reading (std hands out nanoseconds
//! everywhere). 1 µs covers the counters these systems use in practice: the
//! TSC, the HPET (~70 ns), the ACPI PM timer (~279 ns), Arm's generic timer
//! (typically 1 to 50 MHz, 1 GHz from Armv8.6), Apple's 24 MHz timebase
//! (~42 ns) and QPC. It does not cover a Linux kernel timing with the
//! `jiffies` clocksource, or a slower Arm system counter.
//!
//! # Readings
//!
//! All clock objects in a process share one base, the `std::time::Instant`
//! read on the first call to [`Clock::now`]; a reading is the time elapsed
//! since that base plus [`ORIGIN_NANOS`]. Instants from different
//! `FallbackClock`s can therefore be compared, and an early reading minus any
//! realistic duration is still an instant (std made the same choice for its
//! Windows clock). Instants are process-local and mean nothing in another
//! process (invariant 13).
//!
//! # Panics
//!
//! Nothing in this crate panics. `std::time::Instant::now` itself panics if
//! the operating system refuses to read its monotonic clock (std unwraps the
//! result of `clock_gettime` and `QueryPerformanceCounter`), which no clock
//! object can turn into an error. On targets where std has no clock at all
//! (`wasm32-unknown-unknown` and other targets using std's `unsupported` time
//! module, whose `Instant::now` always panics) [`FallbackClock`] does not
//! exist, so using it there fails at compile time instead.
// `FallbackClock` is missing where std has no clock; link there to the
// section that says so, so the crate docs build for every target.
#![cfg_attr(
    not(any(all(target_family = "wasm", target_os = "unknown"), target_os = "zkvm")),
    doc = "\n\n[`FallbackClock`]: crate::FallbackClock"
)]
#![cfg_attr(
    any(all(target_family = "wasm", target_os = "unknown"), target_os = "zkvm"),
    doc = "\n\n[`FallbackClock`]: #panics"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Where std has no clock there is no `FallbackClock`, and nothing reads the
// per-OS description.
#![cfg_attr(
    any(all(target_family = "wasm", target_os = "unknown"), target_os = "zkvm"),
    allow(dead_code)
)]

use core::time::Duration;

use leasehold_core::ClockInfo;
#[cfg(doc)]
use leasehold_core::{Clock, Instant};

/// The nanosecond value of the earliest reading a process can get: the
/// reading taken at the moment the shared base was read.
///
/// It is `2^62` ns (about 146 years), so that subtracting any realistic
/// duration from an early reading still yields an [`Instant`], and readings
/// stay representable for the next ~438 years of process uptime.
pub const ORIGIN_NANOS: u64 = 1 << 62;

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        const HOST_INFO: ClockInfo = ClockInfo {
            name: "std::time::Instant (CLOCK_MONOTONIC)",
            resolution: Duration::from_micros(1),
            // ADJ_TICK 100 000 + PLL phase 125 000 + MAXFREQ 500
            // + adjtime 500 + oscillator 500; see the crate docs.
            max_drift_ppm: 226_500,
            counts_suspend: Some(false),
            slewed: Some(true),
        };
    } else if #[cfg(target_vendor = "apple")] {
        const HOST_INFO: ClockInfo = ClockInfo {
            name: "std::time::Instant (CLOCK_UPTIME_RAW)",
            resolution: Duration::from_micros(1),
            max_drift_ppm: 500,
            counts_suspend: Some(false),
            slewed: Some(false),
        };
    } else if #[cfg(windows)] {
        const HOST_INFO: ClockInfo = ClockInfo {
            name: "std::time::Instant (QueryPerformanceCounter)",
            resolution: Duration::from_micros(1),
            max_drift_ppm: 500,
            counts_suspend: Some(true),
            slewed: Some(false),
        };
    } else if #[cfg(target_os = "freebsd")] {
        const HOST_INFO: ClockInfo = ClockInfo {
            name: "std::time::Instant (CLOCK_MONOTONIC)",
            resolution: Duration::from_micros(1),
            // MAXFREQ 500 + adjtime 5 000 + PLL phase 31 250
            // + oscillator 500; see the crate docs.
            max_drift_ppm: 37_250,
            counts_suspend: Some(false),
            slewed: Some(true),
        };
    } else {
        const HOST_INFO: ClockInfo = ClockInfo {
            name: "std::time::Instant",
            resolution: Duration::from_millis(20),
            max_drift_ppm: 250_000,
            counts_suspend: None,
            slewed: None,
        };
    }
}

cfg_if::cfg_if! {
    // std's `unsupported` time module: `Instant::now` always panics there
    // (see `library/std/src/sys/time/mod.rs`), so no clock is offered.
    if #[cfg(not(any(all(target_family = "wasm", target_os = "unknown"), target_os = "zkvm")))] {
        mod clock;
        pub use clock::FallbackClock;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_info_is_self_consistent() {
        let info = HOST_INFO;
        assert!(!info.resolution.is_zero());
        assert!(info.max_drift_ppm >= 500, "below the oscillator bound");
        // A clock that is (or may be) slewed must assume more than the
        // oscillator's error.
        if info.slewed != Some(false) {
            assert!(info.max_drift_ppm > 500);
        }
        assert!(info.name.starts_with("std::time::Instant"));
    }
}
